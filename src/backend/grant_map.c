/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The map strategy (see grant.h): all of a request's data pages are mapped in one batched call
 * (writable only when the disk's data goes into them, i.e. for a read), the I/O runs directly
 * on the guest's pages, and the mapping is undone once the I/O has completed, never before.
 * A page granted twice in one request is simply mapped twice, as Xen allows. The pages count
 * against the mapped-grant bounds from admission (xbd_grant_choose reserved them) until unmap.
 */
#include <errno.h>

#include "grant_internal.h"

static int map_prepare(struct xbd_grant_ctx *g, struct xbd_grant_io *io)
{
	const struct xbd_req *req = io->req;
	unsigned char *base;
	int r;

	if (req->nr_segs > g->max_segs)
		return -EINVAL;
	/* Admission reserved the pages; a caller that skipped it (unit tests) reserves here. */
	if (io->credits < req->nr_segs) {
		if (!xbd_grant_reserve(g, req->nr_segs - io->credits))
			return -ENOSPC;
		io->credits = req->nr_segs;
	}
	for (unsigned int i = 0; i < req->nr_segs; i++)
		g->refs[i] = req->segs[i].gref;
	g->stats.map_calls++;
	r = g->xen->gnt_map(g->gnt, g->domid, g->refs, req->nr_segs, !io->to_disk, &io->map_addr);
	XBD_TRACE(xen_block_grant_map, GRANT_TRACE_VBD(g), req->nr_segs, !io->to_disk, r);
	if (r) {
		xbd_grant_unreserve(g, io->credits);
		io->credits = 0;
		return r;
	}
	xbd_grant_mapped(g, req->nr_segs);
	io->credits -= req->nr_segs;
	io->map_pages = req->nr_segs;
	base = io->map_addr;
	for (unsigned int i = 0; i < req->nr_segs; i++)
		io->iov[i] = xbd_seg_iov(&req->segs[i], base + (size_t)i * XBD_BLKIF_PAGE_SIZE);
	io->niov = req->nr_segs;
	return 0;
}

static int map_finish(struct xbd_grant_ctx *g, struct xbd_grant_io *io, bool copy_out)
{
	int r;

	(void)copy_out; /* the data is already in the guest's pages */
	g->stats.unmap_calls++;
	r = g->xen->gnt_unmap(g->gnt, io->map_addr, io->map_pages);
	XBD_TRACE(xen_block_grant_unmap, GRANT_TRACE_VBD(g), io->map_pages);
	xbd_grant_unmapped(g, io->map_pages);
	xbd_grant_unreserve(g, io->map_pages);
	io->map_addr = NULL;
	io->map_pages = 0;
	return r;
}

const struct xbd_grant_ops xbd_grant_map_ops = {
	.mode = XBD_GRANT_MAP,
	.needs_bounce = false,
	.prepare = map_prepare,
	.finish = map_finish,
};
