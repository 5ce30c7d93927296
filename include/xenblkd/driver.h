/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Backing drivers: what a virtual disk is stored in (a raw file or block device, an image
 * format, or test drivers). A driver is a small vtable in the style of nbdkit's plugins; the
 * storage queue (storage.c) calls it and owns completion delivery. Drivers see the disk and
 * queue structures defined here; the data plane never does (it uses storage.h only).
 */
#ifndef XENBLKD_DRIVER_H
#define XENBLKD_DRIVER_H

#include "xenblkd/io.h"
#include "xenblkd/storage.h"

struct xbd_disk {
	struct xbd_disk_config cfg;   /* strings owned by the disk */
	struct xbd_disk_info info;    /* filled by the driver's open */
	const struct xbd_driver_ops *drv;
	const struct xbd_engine_ops *engine;
	int fd;                       /* for drivers on a file descriptor, else -1 */
	void *priv;                   /* the driver's */
	char log_prefix[48];
};

struct xbd_sq {
	struct xbd_disk *disk;
	struct xbd_engine *eng;       /* on disk->fd; NULL for drivers without a descriptor */
	void *priv;                   /* the driver's per-queue state */
	unsigned int inflight;        /* accepted and not yet completed */
	struct xbd_io *soft_head;     /* completions waiting for the next wait() */
	struct xbd_io **soft_tail;
};

struct xbd_driver_ops {
	const char *name;
	/* Required. Control thread. Open d->cfg.path, fill d->info (and d->fd if any). */
	int (*open)(struct xbd_disk *d);
	/* Required. Control thread, after every queue is closed. */
	void (*close)(struct xbd_disk *d);
	/* Optional. Control thread. Re-read the size into d->info.size. */
	int (*refresh)(struct xbd_disk *d);
	/* Optional. Data thread. Per-queue state in q->priv. */
	int (*queue_open)(struct xbd_sq *q);
	void (*queue_close)(struct xbd_sq *q);
	/*
	 * Required. Data thread. Start one I/O. It completes later through xbd_sq_complete() or
	 * through the engine (xbd_sq_engine_queue()). A negative return means the I/O was not
	 * accepted; the queue then completes it with that error.
	 */
	int (*submit)(struct xbd_sq *q, struct xbd_io *io);
};

extern const struct xbd_driver_ops xbd_driver_raw;
extern const struct xbd_driver_ops xbd_driver_qcow2;

/* Complete `io` with res (0 / -errno) at the next xbd_sq_wait(), never from inside submit. */
void xbd_sq_complete(struct xbd_sq *q, struct xbd_io *io, int res);
/* Hand a READ, WRITE or FLUSH of disk->fd to the queue's engine. */
int xbd_sq_engine_queue(struct xbd_sq *q, struct xbd_io *io);

#endif
