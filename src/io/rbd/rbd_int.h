/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The rbd driver's internals, shared by its files: the daemon's shared rados connection
 * (rbd_cluster.c), the keyring check (rbd_keyring.c), the image (drv_rbd.c) and the data path
 * (rbd_queue.c). docs/storage.md describes the driver for administrators.
 */
#ifndef XENBLKD_RBD_INT_H
#define XENBLKD_RBD_INT_H

#include <rados/librados.h>
#include <rbd/librbd.h>
#include <stdint.h>

#include "io/driver.h"
#include "rbd_target.h"

/* The I/O timeout when the conf file sets none (rados_osd_op_timeout 0 = wait forever). */
#define XBD_RBD_DEFAULT_TIMEOUT_S 60

struct xbd_rbd_cluster;

/* One rados connection per identity (id, conf, mon_host, keyring), shared by every disk that
 * uses it and shut down with its last user. Control thread. 0 or -errno, logged. */
/* rbd_lib.c: load librados and librbd (once; the driver's functions call them through
 * it): 0, or -ELIBACC with *why (dlerror's words) when they cannot be loaded. */
int xbd_rbd_lib_load(const char **why);

int xbd_rbd_cluster_get(const struct xbd_rbd_target *t, const char *keyring,
			const char *log_prefix, struct xbd_rbd_cluster **out);
void xbd_rbd_cluster_put(struct xbd_rbd_cluster *c);
rados_t xbd_rbd_cluster_handle(const struct xbd_rbd_cluster *c);
/* The I/O timeout in ms the connection was configured with. */
unsigned int xbd_rbd_cluster_timeout_ms(const struct xbd_rbd_cluster *c);

/*
 * The keyring to use: the target's keyring=, else $CREDENTIALS_DIRECTORY/ceph-keyring (the
 * unit's LoadCredential=), else /etc/ceph/ceph.client.ID.keyring. It must be a regular file
 * owned by root with no permission for group or others (0600 or 0400). 0 with the path in
 * out, or -errno with the reason logged.
 */
int xbd_rbd_keyring_find(const struct xbd_rbd_target *t, char *out, size_t len,
			 const char *log_prefix);
/* The check alone, on an open descriptor's stat. 0, -EPERM (owner or mode), -EINVAL (type). */
int xbd_rbd_keyring_check_stat(const struct stat *st);

/* The disk's state (d->priv). */
struct xbd_rbd_disk {
	struct xbd_rbd_target t;
	struct xbd_rbd_cluster *cluster;
	rados_ioctx_t ioctx;
	rbd_image_t image;
	uint64_t timeout_ns;          /* a request not done by then completes with -ETIMEDOUT */
	/* Both atomic, kept by rbd_queue.c: librbd operations not called back yet, and whether
	 * the latest request was given up on (no success since). Either at close means the
	 * cluster is unreachable, where rbd_close() would wait for the I/O timeout or longer. */
	unsigned int outstanding;
	bool gave_up;
	struct xbd_rbd_disk *next_left_open; /* on drv_rbd.c's list of images left open */
	rbd_completion_t close_comp;         /* a close librbd did not finish in time */
};

/* lock=exclusive (rbd_lock.c): take the image's exclusive lock, breaking it only when its
 * owner is this VBD's own dead predecessor. 0, or -errno logged (-EBUSY: a foreign owner). */
int xbd_rbd_lock_take(struct xbd_disk *d, struct xbd_rbd_disk *rd);
/* At a clean close, after the image closed (which released the lock): drop the record. */
void xbd_rbd_lock_forget(const struct xbd_disk *d);

/* The data path's driver ops (rbd_queue.c). */
int xbd_rbd_queue_open(struct xbd_sq *q);
void xbd_rbd_queue_close(struct xbd_sq *q);
int xbd_rbd_submit(struct xbd_sq *q, struct xbd_io *io);
int xbd_rbd_wait_fd(struct xbd_sq *q, short *events);
void xbd_rbd_fd_ready(struct xbd_sq *q, short revents);

#endif
