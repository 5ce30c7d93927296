/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A live mirror of a VBD's disk onto a destination disk (mirror.c): the data threads send
 * every guest write and flush to both disks, and a copier thread of its own copies the regions
 * the dirty map still marks, in 64 KiB steps, until the destination holds the whole disk. The
 * device object (vbd_mirror.c) then switches the VBD to the destination while paused. A
 * failing destination ends the mirror, never the guest's request.
 */
#ifndef XENBLKD_MIRROR_H
#define XENBLKD_MIRROR_H

#include <stdbool.h>
#include <stdint.h>

#include "xenblkd/storage.h"

struct xbd_mirror;

enum xbd_mirror_state {
	XBD_MIRROR_COPYING,   /* the copier has regions left */
	XBD_MIRROR_READY,     /* the destination holds everything; the switch is due */
	XBD_MIRROR_FAILED,    /* stopped: the reason is in the status */
};

struct xbd_mirror_status {
	enum xbd_mirror_state state;
	uint64_t size, dirty_bytes, copied_bytes;
	uint64_t writes_mirrored;
	char why[256]; /* FAILED: why */
};

/* Control thread: start copying src onto dst (both open, same size). `notify_fd` (an eventfd)
 * is written when the mirror becomes ready or fails. 0 or -errno. */
int xbd_mirror_start(struct xbd_disk *src, struct xbd_disk *dst, int notify_fd,
		     const char *log_prefix, struct xbd_mirror **out);
/* Control thread: stop the copier (within one step) and free. The disks stay open. */
void xbd_mirror_free(struct xbd_mirror *m);
void xbd_mirror_get_status(struct xbd_mirror *m, struct xbd_mirror_status *st);
/* Still worth sending writes to the destination: neither failed nor stopping. Any thread. */
bool xbd_mirror_live(struct xbd_mirror *m);
/* Any thread: the mirror failed (the first reason wins); logged, and notify_fd written. */
void xbd_mirror_fail(struct xbd_mirror *m, const char *why, int err);
/* Control thread, with every queue paused: nothing left to copy. */
bool xbd_mirror_clean(struct xbd_mirror *m);

/* Data threads: a guest write, or a discard (which goes to the source only and makes its
 * range dirty), of [off, off + len) starts / has completed on every copy it went to. */
void xbd_mirror_write_begin(struct xbd_mirror *m, uint64_t off, uint64_t len, bool discard);
void xbd_mirror_write_end(struct xbd_mirror *m, uint64_t off, uint64_t len);
/* Data threads: [off, off + len) is to be copied again (its source write failed). */
void xbd_mirror_mark(struct xbd_mirror *m, uint64_t off, uint64_t len);

#endif
