/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * I/O engines: how a storage queue submits reads, writes and flushes on a file descriptor and
 * waits for them. An engine instance belongs to one data thread and is never shared, so no
 * member takes a lock. Each engine is one file behind this small table. Engines handle READ
 * (readv), WRITE (writev, FUA as RWF_DSYNC) and FLUSH (fdatasync) of a struct xbd_io; the
 * driver above handles everything else. Conventions: 0 / -errno; each completion goes to the
 * `complete` callback given at init, on the owning thread, from wait().
 */
#ifndef XENBLKD_IO_H
#define XENBLKD_IO_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "xenblkd/storage.h"

/* Completion callback an engine calls for each I/O: `res` is bytes transferred or -errno. */
typedef void (*xbd_engine_complete_fn)(void *ctx, struct xbd_io *io, int64_t res);

struct xbd_engine;

#define XBD_ENGINE_MAX_WAKE_FDS 4

struct xbd_engine_ops {
	const char *name;
	/* Required. `depth`: the most I/Os in flight at once; `fd`: the backing file. */
	int (*init)(struct xbd_engine **out, unsigned int depth, int fd,
		    xbd_engine_complete_fn complete, void *ctx);
	/* Required. Only once nothing is in flight. */
	void (*fini)(struct xbd_engine *e);
	/* Required. Queue one I/O without a syscall; -EBUSY if the queue is full (submit first). */
	int (*queue)(struct xbd_engine *e, struct xbd_io *io);
	/* Required. Submit everything queued: one syscall for the batch. */
	int (*submit)(struct xbd_engine *e);
	/*
	 * Required. Reap completions (calling `complete` for each) and, if `block`, first wait up to
	 * timeout_ms until a completion arrives or one of `fds` becomes readable. Bit i of *ready
	 * is set when fds[i] was seen readable. Returns the number of completions, or -errno.
	 */
	int (*wait)(struct xbd_engine *e, const int *fds, unsigned int nfds, unsigned int *ready,
		    bool block, int timeout_ms);
	/* Required. I/Os queued or in flight. */
	unsigned int (*inflight)(const struct xbd_engine *e);
};

extern const struct xbd_engine_ops xbd_engine_uring;

/* Engine by name ("io_uring"); NULL if unknown. */
const struct xbd_engine_ops *xbd_engine_find(const char *name);

#endif
