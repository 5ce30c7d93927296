/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Batched grant copy: the copy segments of every request a loop pass takes in (writes) or
 * completes (reads) go to the hypervisor in one gnt_copy call, which on real Xen is one gntdev
 * ioctl, instead of one call per request. Each request keeps its own segments' statuses, so a
 * bad grant fails only the request that named it. A call that fails as a whole (EFAULT on a
 * local buffer, say) says nothing about any one request: the batch is then retried one call
 * per request, so the failure lands on the request that causes it. The batch is bounded
 * (XBD_GNT_COPY_BATCH segments) so a guest cannot make one call, or our memory, unbounded.
 * Indirect requests' descriptor pages go through a batch of their own the same way, so a pass
 * of indirect requests costs one call for their descriptors rather than one call each.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <xen/grant_table.h>

#include "grant_internal.h"

static int batch_alloc(struct xbd_copy_batch *b)
{
	if (b->segs)
		return 0;
	b->segs = calloc(XBD_GNT_COPY_BATCH, sizeof(*b->segs));
	/* Every owner has at least one segment: as many owners as segments, at most. */
	b->owners = calloc(XBD_GNT_COPY_BATCH, sizeof(*b->owners));
	if (b->segs && b->owners)
		return 0;
	xbd_copy_batch_free(b);
	return -ENOMEM;
}

void xbd_copy_batch_free(struct xbd_copy_batch *b)
{
	free(b->segs);
	free(b->owners);
	*b = (struct xbd_copy_batch){ 0 };
}

/* Room for an owner of n segments in b, or -E2BIG (no batch holds them), -ENOSPC (flush b
 * first), -ENOMEM; on success the owner's segments are b->segs[b->nr_segs, + n). */
static int batch_room(struct xbd_grant_ctx *g, struct xbd_copy_batch *b, unsigned int n)
{
	if (n == 0 || n > XBD_GNT_COPY_BATCH || n > g->max_segs)
		return -E2BIG;
	if (b->nr_segs + n > XBD_GNT_COPY_BATCH)
		return -ENOSPC;
	return batch_alloc(b);
}

static void batch_own(struct xbd_copy_batch *b, unsigned int n, void *owner)
{
	b->owners[b->nr_owners++] = (struct xbd_copy_owner){ owner, b->nr_segs, n };
	b->nr_segs += n;
}

int xbd_copy_batch_add(struct xbd_grant_ctx *g, struct xbd_copy_batch *b,
		       const struct xbd_grant_io *io, bool to_guest, void *owner)
{
	unsigned int n = io->req->nr_segs;
	int r = batch_room(g, b, n);

	if (r)
		return r;
	xbd_grant_copy_fill(g, io->req, io->bounce, to_guest, &b->segs[b->nr_segs]);
	batch_own(b, n, owner);
	return 0;
}

int xbd_copy_batch_add_pages(struct xbd_grant_ctx *g, struct xbd_copy_batch *b,
			     const uint32_t *refs, unsigned int n, void *buf, void *owner)
{
	int r = batch_room(g, b, n);

	if (r)
		return r;
	for (unsigned int i = 0; i < n; i++)
		b->segs[b->nr_segs + i] = (struct xbd_gnt_copy_seg){
			.buf = (unsigned char *)buf + (size_t)i * XBD_BLKIF_PAGE_SIZE,
			.ref = refs[i], .domid = g->domid, .len = XBD_BLKIF_PAGE_SIZE,
		};
	batch_own(b, n, owner);
	return 0;
}

static int copy_call(struct xbd_grant_ctx *g, struct xbd_gnt_copy_seg *segs, unsigned int n)
{
	int r;

	g->stats.copy_calls++;
	r = g->xen->gnt_copy(g->gnt, segs, n);
	XBD_TRACE(xen_block_grant_copy, GRANT_TRACE_VBD(g), n, segs[0].to_guest, r);
	return r;
}

/* An owner's result from its segments' statuses. */
static int owner_result(const struct xbd_copy_batch *b, const struct xbd_copy_owner *o)
{
	for (unsigned int i = 0; i < o->n; i++)
		if (b->segs[o->first + i].status != GNTST_okay)
			return -EIO;
	return 0;
}

void xbd_copy_batch_flush(struct xbd_grant_ctx *g, struct xbd_copy_batch *b,
			  void (*done)(void *owner, int err))
{
	unsigned int nr_owners = b->nr_owners;
	bool whole_failed;

	if (nr_owners == 0)
		return;
	whole_failed = copy_call(g, b->segs, b->nr_segs) < 0;
	for (unsigned int k = 0; k < nr_owners; k++) {
		const struct xbd_copy_owner *o = &b->owners[k];
		int r = 0;

		if (whole_failed)
			r = copy_call(g, &b->segs[o->first], o->n);
		done(o->owner, r < 0 ? r : owner_result(b, o));
	}
	b->nr_owners = 0;
	b->nr_segs = 0;
}
