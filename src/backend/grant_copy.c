/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The copy strategy (see grant.h), the per-thread grant context, and copying indirect pages.
 * A request's segments are copied in one batched hypervisor call between the guest's pages and
 * one contiguous bounce buffer (segment i starts where segment i-1 ended). Segment geometry
 * comes from the validated private copy of the request, so every offset and length is known to
 * lie within one 4 KiB guest page. The data plane batches the copies of several requests
 * (grant_batch.c) through the helpers here.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <xen/grant_table.h>

#include "grant_internal.h"

const struct xbd_grant_ops *xbd_grant_ops_for(enum xbd_grant_mode m)
{
	if (m == XBD_GRANT_MAP)
		return &xbd_grant_map_ops;
	if (m == XBD_GRANT_PERSISTENT)
		return &xbd_grant_persistent_ops;
	return &xbd_grant_copy_ops;
}

int xbd_grant_ctx_init(struct xbd_grant_ctx *g, const struct xbd_xen_ops *xen,
		       struct xbd_gnt *gnt, uint16_t domid, unsigned int max_segs,
		       enum xbd_grant_mode mode, unsigned int persist_max)
{
	*g = (struct xbd_grant_ctx){ .xen = xen, .gnt = gnt, .domid = domid,
				     .max_segs = max_segs, .max_mapped = UINT_MAX };
	g->copy_segs = calloc(max_segs, sizeof(*g->copy_segs));
	g->refs = calloc(max_segs, sizeof(*g->refs));
	if (!g->copy_segs || !g->refs) {
		xbd_grant_ctx_fini(g);
		return -ENOMEM;
	}
	if (mode == XBD_GRANT_PERSISTENT)
		return xbd_persist_cache_new(persist_max, &g->cache);
	return 0;
}

void xbd_grant_ctx_fini(struct xbd_grant_ctx *g)
{
	if (g->cache)
		xbd_persist_cache_free(g);
	xbd_copy_batch_free(&g->copy_in);
	xbd_copy_batch_free(&g->copy_out);
	xbd_copy_batch_free(&g->indirect_in);
	free(g->copy_segs);
	free(g->refs);
	g->copy_segs = NULL;
	g->refs = NULL;
}

/* One batched copy; 0 only if the hypervisor accepted every segment. */
static int copy_batch(struct xbd_grant_ctx *g, unsigned int n)
{
	int r;

	g->stats.copy_calls++;
	r = g->xen->gnt_copy(g->gnt, g->copy_segs, n);
	XBD_TRACE(xen_block_grant_copy, GRANT_TRACE_VBD(g), n, n && g->copy_segs[0].to_guest, r);
	if (r < 0)
		return r;
	for (unsigned int i = 0; i < n; i++)
		if (g->copy_segs[i].status != GNTST_okay)
			return -EIO;
	return 0;
}

/* Fill out[0, nr_segs) with the copy segments of req's data in `buf`, segment after segment. */
void xbd_grant_copy_fill(const struct xbd_grant_ctx *g, const struct xbd_req *req, void *buf,
			 bool to_guest, struct xbd_gnt_copy_seg *out)
{
	unsigned char *p = buf;

	for (unsigned int i = 0; i < req->nr_segs; i++) {
		const struct xbd_seg *s = &req->segs[i];
		uint16_t len =
			(uint16_t)((s->last_sect - s->first_sect + 1u) * XBD_BLKIF_SECTOR_SIZE);

		out[i] = (struct xbd_gnt_copy_seg){
			.buf = p, .ref = s->gref, .domid = g->domid,
			.offset = (uint16_t)(s->first_sect * XBD_BLKIF_SECTOR_SIZE), .len = len,
			.to_guest = to_guest,
		};
		p += len;
	}
}

static int copy_segments(struct xbd_grant_ctx *g, const struct xbd_req *req, void *buf,
			 bool to_guest)
{
	if (req->nr_segs > g->max_segs)
		return -EINVAL;
	xbd_grant_copy_fill(g, req, buf, to_guest, g->copy_segs);
	return copy_batch(g, req->nr_segs);
}

int xbd_grant_copy_now(struct xbd_grant_ctx *g, const struct xbd_grant_io *io, bool to_guest)
{
	return copy_segments(g, io->req, io->bounce, to_guest);
}

int xbd_grant_copy_pages(struct xbd_grant_ctx *g, const uint32_t *refs, unsigned int n,
			 void *buf)
{
	if (n > g->max_segs)
		return -EINVAL;
	for (unsigned int i = 0; i < n; i++)
		g->copy_segs[i] = (struct xbd_gnt_copy_seg){
			.buf = (unsigned char *)buf + (size_t)i * XBD_BLKIF_PAGE_SIZE,
			.ref = refs[i], .domid = g->domid, .len = XBD_BLKIF_PAGE_SIZE,
		};
	return copy_batch(g, n);
}

void xbd_grant_copy_layout(struct xbd_grant_io *io)
{
	io->iov[0] = (struct iovec){ .iov_base = io->bounce,
				     .iov_len = io->req->nr_sectors * XBD_BLKIF_SECTOR_SIZE };
	io->niov = 1;
}

static int copy_prepare(struct xbd_grant_ctx *g, struct xbd_grant_io *io)
{
	xbd_grant_copy_layout(io);
	return io->to_disk ? copy_segments(g, io->req, io->bounce, false) : 0;
}

static int copy_finish(struct xbd_grant_ctx *g, struct xbd_grant_io *io, bool copy_out)
{
	return copy_out ? copy_segments(g, io->req, io->bounce, true) : 0;
}

const struct xbd_grant_ops xbd_grant_copy_ops = {
	.mode = XBD_GRANT_COPY,
	.needs_bounce = true,
	.prepare = copy_prepare,
	.finish = copy_finish,
};
