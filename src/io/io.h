/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * I/O engines: how a storage queue submits reads, writes and flushes on a file descriptor and
 * waits for them. An engine instance belongs to one data thread and is never shared, so no
 * member takes a lock (the threads engine locks only against its own workers). Each engine is
 * one file behind this small table. Engines handle READ (readv), WRITE (writev, FUA as
 * RWF_DSYNC) and FLUSH (fdatasync) of a struct xbd_io; the driver above handles everything
 * else. Filters (fault injection, power cut) are engines stacked on another engine, for tests.
 * Conventions: 0 / -errno; each completion goes to the `complete` callback given at init, on
 * the owning thread, from wait() and never from inside queue() or submit().
 */
#ifndef XENBLKD_IO_H
#define XENBLKD_IO_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "xenblkd/storage.h"

/* Completion callback an engine calls for each I/O: `res` is bytes transferred or -errno. It
 * may queue new I/Os on the same engine. */
typedef void (*xbd_engine_complete_fn)(void *ctx, struct xbd_io *io, int64_t res);

struct xbd_engine;

#define XBD_ENGINE_MAX_WAKE_FDS 4

struct xbd_engine_config {
	int fd;                         /* the backing file; the engine never closes it */
	unsigned int depth;             /* the most I/Os queued or in flight at once */
	xbd_engine_complete_fn complete;
	void *ctx;
	bool sqpoll;                    /* io_uring: ask for a submission-queue polling thread */
	unsigned int threads;           /* threads: workers; 0: the default */
	const char *log_prefix;
	/* Filters only: the engine they stack on and their disk-wide state. */
	const struct xbd_engine_ops *inner;
	void *filter_state;
};

struct xbd_engine_stats {
	uint64_t ios;              /* completions delivered */
	uint64_t syscalls;         /* system calls made to submit and to wait */
	uint64_t fixed_buffer_ios; /* I/Os from registered buffers */
	uint64_t poll_arms;        /* wake-up fd polls armed (io_uring: multishot, so rarely) */
	char features[80];         /* what is in use, for logs and benchmarks */
};

struct xbd_engine_ops {
	const char *name;
	/*
	 * Required. The thread that will own the instance (the data thread; the control thread
	 * too, when the storage layer probes an engine at disk open). Fails with -errno when the
	 * engine cannot serve cfg->fd: libaio refuses a descriptor without O_DIRECT (-EINVAL).
	 */
	int (*init)(struct xbd_engine **out, const struct xbd_engine_config *cfg);
	/* Required. Owning thread, only once nothing is in flight. */
	void (*fini)(struct xbd_engine *e);
	/* Required. Owning thread. Queue one I/O without a syscall; -EBUSY if full (submit
	 * first), -EINVAL for an op the engine does not do. */
	int (*queue)(struct xbd_engine *e, struct xbd_io *io);
	/* Required. Owning thread. Submit everything queued: one syscall for the batch (none
	 * when nothing is queued). 0 or -errno; I/Os the kernel refused complete with an error. */
	int (*submit)(struct xbd_engine *e);
	/*
	 * Required. Owning thread. Submit anything queued, reap completions (calling `complete`
	 * for each) and, if `block` and none were ready, first wait up to timeout_ms (negative:
	 * no limit) until a completion arrives or one of `fds` becomes readable. Bit i of *ready
	 * is set when fds[i] was seen readable (the fd is not read). Returns the number of
	 * completions, or -errno.
	 */
	int (*wait)(struct xbd_engine *e, const int *fds, unsigned int nfds, unsigned int *ready,
		    bool block, int timeout_ms);
	/* Required. Any thread that owns it. I/Os queued or in flight. */
	unsigned int (*inflight)(const struct xbd_engine *e);
	/* Optional. Owning thread, nothing in flight. Buffers later I/Os will use; 0, or
	 * -EOPNOTSUPP when not used (the engine has no use for them, or the kernel refused). */
	int (*register_buffers)(struct xbd_engine *e, const struct iovec *bufs, unsigned int n);
	/* Optional, all three. Owning thread. Registered buffers that come and go: a table of
	 * n slots (0, or -EOPNOTSUPP: the kernel refused, logged), then buffers added (0, or
	 * -errno: that one is not registered) and dropped one at a time. I/O in one buffer
	 * uses it; add and drop cost a system call each. */
	int (*buffers_open)(struct xbd_engine *e, unsigned int n);
	int (*buffer_add)(struct xbd_engine *e, void *base, size_t len);
	void (*buffer_drop)(struct xbd_engine *e, void *base);
	/* Optional, both. Owning thread, nothing in flight. Drop the engine's own reference to
	 * the backing file (io_uring's registered file), so that closing the fd, as an exec
	 * does, releases the file's locks and a block device's O_EXCL claim at once instead of
	 * after the kernel's asynchronous teardown of the ring; and take it back. No I/O may be
	 * queued in between. 0 or -errno. */
	int (*release_file)(struct xbd_engine *e);
	int (*restore_file)(struct xbd_engine *e);
	/* Optional. Owning thread. Counters and the features in use. */
	void (*get_stats)(const struct xbd_engine *e, struct xbd_engine_stats *st);
	/* Optional. Owning thread. The caller drains each wake fd it is told is readable before
	 * it waits again, so wait may report an fd only when it becomes readable (edge), which
	 * lets io_uring keep one multishot poll armed instead of re-arming one per wait. */
	void (*wake_edge)(struct xbd_engine *e);
	/* Optional. Owning thread. Without a system call: would wait find something now (a
	 * completion, or a wake fd's report)? For a caller that polls before it sleeps. */
	bool (*ready)(const struct xbd_engine *e);
};

extern const struct xbd_engine_ops xbd_engine_uring;
extern const struct xbd_engine_ops xbd_engine_libaio;
extern const struct xbd_engine_ops xbd_engine_threads;

/* Engine by name ("io_uring", "libaio", "threads"); NULL if unknown or not built. */
const struct xbd_engine_ops *xbd_engine_find(const char *name);

/*
 * Filters: an engine stacked on the disk's real engine, selected with the driver spec
 * "fault:..." or "powercut:..." over an image driver with a descriptor (docs/storage.md).
 */
struct xbd_filter_ops {
	const char *name;
	/* Required. Control thread, after the driver's open. Parse `opts` (may be ""), create
	 * the disk-wide state. 0 or -errno, logged. */
	int (*open)(struct xbd_disk *d, const char *opts, void **state);
	/* Required. Control thread, after every queue is closed. */
	void (*close)(void *state);
	/* Per-queue instances: init gets cfg->inner (the real engine) and cfg->filter_state. */
	const struct xbd_engine_ops *engine;
};

extern const struct xbd_filter_ops xbd_filter_fault;
extern const struct xbd_filter_ops xbd_filter_powercut;

/* Filter by name; NULL if unknown. */
const struct xbd_filter_ops *xbd_filter_find(const char *name);

struct xbd_powercut_result {
	uint64_t pending_writes; /* writes not yet made durable by a flush or FUA */
	uint64_t chunks_kept;    /* sector-sized pieces of them that survived the cut */
	uint64_t chunks_lost;    /* ... and that were dropped */
};

/*
 * Simulate a power cut on a disk opened with the "powercut" driver spec: every write not yet
 * durable (not covered by a completed flush, not FUA) is undone, then a random subset of its
 * sectors is written again in a random order, from `seed`. Afterwards every I/O on the disk
 * fails with -EIO. Control thread; nothing may be in flight (-EBUSY). -EINVAL on a disk
 * without the powercut filter.
 */
int xbd_powercut(struct xbd_disk *d, uint64_t seed, struct xbd_powercut_result *out);

#endif
