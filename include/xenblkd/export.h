/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The NBD export (src/export/) as the device object sees it: the disk a VBD serves, exported
 * on two Unix sockets in `dir` (mode 0700, created if missing), `<name>.sock` for the device
 * model (read-write unless the disk is read-only; one client at a time) and `<name>-ro.sock`
 * for an administrator (read-only; a few readers at a time). Each client is served on a
 * thread of its own through a storage queue of its own on the same open disk, so it sees what
 * the guest sees (qcow2 metadata included) and never runs on a guest's data thread. Control
 * thread only; 0 / -errno.
 */
#ifndef XENBLKD_EXPORT_H
#define XENBLKD_EXPORT_H

#include <stdbool.h>

#include "xenblkd/storage.h"

#define XBD_EXPORT_MAX_READERS 4 /* clients of the read-only socket at once */

struct xbd_export_config {
	const char *dir;        /* e.g. /run/xenblkd/nbd */
	const char *name;       /* <kind>-<frontend-domid>-<devid> */
	struct xbd_disk *disk;
	bool readonly;          /* the VBD is read-only: the device model's socket is too */
	const char *log_prefix;
};

struct xbd_export;

/* Listen on both sockets (replacing stale ones of a crashed daemon) and start serving. */
int xbd_export_start(const struct xbd_export_config *cfg, struct xbd_export **out);
/* Disconnect every client (requests in flight are answered first), remove the sockets. */
void xbd_export_stop(struct xbd_export *e);
/* Quiesce for a snapshot or an image switch: wait up to timeout_ms (negative: no limit) until
 * no request is in flight; none starts until xbd_export_resume(). Pauses
 * do not nest: one resume ends them. 0, or -ETIMEDOUT (paused
 * all the same: the late requests finish and no new one starts). */
int xbd_export_pause(struct xbd_export *e, int timeout_ms);
/* Paused only: serve `disk` (the one the guest was switched to) from now on; the clients'
 * queues on the old disk are closed before this returns, so the caller may close it. */
void xbd_export_set_disk(struct xbd_export *e, struct xbd_disk *disk);
void xbd_export_resume(struct xbd_export *e);
/* The two socket paths (for logs and tests). */
const char *xbd_export_rw_path(const struct xbd_export *e);
const char *xbd_export_ro_path(const struct xbd_export *e);

#endif
