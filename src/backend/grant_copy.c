/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Grant copy of one request's segments, in one batched call to the hypervisor (see grant.h).
 * The segment geometry comes from the validated private copy of the request, so every offset
 * and length is already known to lie within one 4 KiB guest page.
 */
#include <errno.h>
#include <stdint.h>
#include <xen/grant_table.h>

#include "xenblkd/grant.h"

#define SECTOR 512u

int xbd_grant_copy_req(const struct xbd_xen_ops *xen, struct xbd_gnt *gnt, uint16_t domid,
		       const struct xbd_req *req, void *buf, bool to_guest)
{
	struct xbd_gnt_copy_seg segs[BLKIF_MAX_SEGMENTS_PER_REQUEST];
	unsigned char *p = buf;
	int r;

	for (unsigned int i = 0; i < req->nr_segs; i++) {
		const struct xbd_seg *s = &req->seg[i];
		uint16_t len = (uint16_t)((s->last_sect - s->first_sect + 1u) * SECTOR);

		segs[i] = (struct xbd_gnt_copy_seg){
			.buf = p,
			.ref = s->gref,
			.domid = domid,
			.offset = (uint16_t)(s->first_sect * SECTOR),
			.len = len,
			.to_guest = to_guest,
		};
		p += len;
	}
	r = xen->gnt_copy(gnt, segs, req->nr_segs);
	if (r < 0)
		return r;
	for (unsigned int i = 0; i < req->nr_segs; i++)
		if (segs[i].status != GNTST_okay)
			return -EIO;
	return 0;
}
