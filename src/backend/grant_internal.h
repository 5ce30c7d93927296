/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Helpers shared by the grant strategies.
 */
#ifndef XENBLKD_GRANT_INTERNAL_H
#define XENBLKD_GRANT_INTERNAL_H

#include "xenblkd/grant.h"
#include "util/trace.h"

/* The first arguments of the grant trace points (util/trace.h): domid, devid, queue. */
#define GRANT_TRACE_VBD(g) (g)->domid, (g)->devid, (g)->queue

/* The iovec of one validated segment inside its guest page mapped at `page`. */
static inline struct iovec xbd_seg_iov(const struct xbd_seg *s, void *page)
{
	return (struct iovec){
		.iov_base = (unsigned char *)page + s->first_sect * 512u,
		.iov_len = (size_t)(s->last_sect - s->first_sect + 1u) * 512u,
	};
}

/* grant_copy.c: req's copy segments over `buf`, one after the other, into out[0, nr_segs). */
void xbd_grant_copy_fill(const struct xbd_grant_ctx *g, const struct xbd_req *req, void *buf,
			 bool to_guest, struct xbd_gnt_copy_seg *out);

#endif
