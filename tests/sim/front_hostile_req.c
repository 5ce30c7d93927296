/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Hostile requests and ring indices. Each malformed request is sent once and its response
 * reported, then sent again many times (a flood of fresh ids), so the test can see that every
 * one is refused the same way and that the backend's log stays rate-limited. The index attacks
 * rewrite what only the frontend may write (req_prod) beyond what an honest frontend could, or
 * what only the backend may write (rsp_prod); all are stores to the guest's own ring page.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "front_hostile_int.h"
#include "sim_guest.h"

#define HFLOOD 199u /* copies sent after the reported request */
#define HPG_DATA 16u /* the page these attacks read into or write from */

/* One direct request with one segment on a page granted for it, `nr_field` written as the
 * segment count (a lie when it is not 1), reported and flooded. */
static int hbad_rw(struct hctx *h, uint8_t op, uint64_t sector, unsigned int nr_field,
		   uint8_t first, uint8_t last)
{
	struct fabi_req q;
	uint32_t ref;
	unsigned int i;
	int rc = hgrant(h, HPG_DATA, op != BLKIF_OP_READ, &ref);

	if (rc)
		return rc;
	hcanary(hpage(h, HPG_DATA));
	hreq_init(h, &q, op, sector);
	hreq_seg(&q, 0, ref, first, last);
	/* Beyond one segment, the others are valid: only the count is wrong. */
	for (i = 1; i < nr_field && i < FABI_MAX_DIRECT_SEGS; i++)
		hreq_seg(&q, i, ref, 0, 7);
	q.nr_segments = (uint16_t)nr_field;
	rc = hsend_report(h, &q, HFLOOD);
	if (op == BLKIF_OP_READ && !hcanary_intact(hpage(h, HPG_DATA), HPAGE))
		hfail(h, "a refused read wrote into our page");
	hungrant(h, ref);
	return rc;
}

int hatk_nr_segs_zero_read(struct hctx *h)
{
	return hbad_rw(h, BLKIF_OP_READ, h->area + 256, 0, 0, 7);
}

int hatk_nr_segs_zero_write(struct hctx *h)
{
	return hbad_rw(h, BLKIF_OP_WRITE, h->area + 256, 0, 0, 7);
}

int hatk_nr_segs_12(struct hctx *h)
{
	return hbad_rw(h, BLKIF_OP_READ, h->area + 256, 12, 0, 7);
}

int hatk_nr_segs_255(struct hctx *h)
{
	return hbad_rw(h, BLKIF_OP_READ, h->area + 256, 255, 0, 7);
}

int hatk_first_after_last(struct hctx *h)
{
	return hbad_rw(h, BLKIF_OP_READ, h->area + 256, 1, 5, 2);
}

int hatk_last_sect_8(struct hctx *h)
{
	return hbad_rw(h, BLKIF_OP_READ, h->area + 256, 1, 0, 8);
}

/* sector + 8 and sector + 1 both wrap past 2^64. */
int hatk_sector_overflow(struct hctx *h)
{
	int rc = hbad_rw(h, BLKIF_OP_READ, UINT64_MAX - 3, 1, 0, 7);

	if (!rc)
		rc = hbad_rw(h, BLKIF_OP_WRITE, UINT64_MAX, 1, 0, 0);
	return rc;
}

/* Four sectors past the end, one sector just past it, and the last 8 sectors (valid). */
int hatk_range_past_end(struct hctx *h)
{
	struct fabi_req q;
	struct hrsp rsp;
	uint32_t ref;
	int rc = hbad_rw(h, BLKIF_OP_READ, h->cap - 4, 1, 0, 7);

	if (!rc)
		rc = hbad_rw(h, BLKIF_OP_WRITE, h->cap, 1, 0, 0);
	if (rc || (rc = hgrant(h, HPG_DATA, false, &ref)))
		return rc;
	hreq_init(h, &q, BLKIF_OP_READ, h->cap - 8);
	hreq_seg(&q, 0, ref, 0, 7);
	rc = hraw_do(h, &q, &rsp);
	if (!rc)
		hout_rsp(h, &rsp);
	hungrant(h, ref);
	return rc;
}

/* RESERVED_1, a code after INDIRECT, and one far off: all "not supported". */
int hatk_unknown_op(struct hctx *h)
{
	static const uint8_t ops[] = { 4, 7, 200 };
	unsigned int i;
	int rc = 0;

	for (i = 0; i < 3 && !rc; i++)
		rc = hbad_rw(h, ops[i], h->area + 256, 1, 0, 7);
	return rc;
}

/* A write and a barrier with data are refused; a flush without data changes nothing and is
 * served. */
int hatk_write_readonly(struct hctx *h)
{
	struct fabi_req q;
	int rc;

	if (!h->f->disk.readonly) {
		hfail(h, "the disk is not read-only: attach it with mode r");
		return -EINVAL;
	}
	rc = hbad_rw(h, BLKIF_OP_WRITE, h->area + 256, 1, 0, 7);
	if (!rc)
		rc = hbad_rw(h, BLKIF_OP_WRITE_BARRIER, h->area + 256, 1, 0, 7);
	if (rc)
		return rc;
	hreq_init(h, &q, BLKIF_OP_FLUSH_DISKCACHE, 0);
	return hsend_report(h, &q, 0);
}

static int hdiscard(struct hctx *h, uint64_t sector, uint64_t nr, unsigned int more)
{
	struct fabi_req q;

	hreq_init(h, &q, BLKIF_OP_DISCARD, sector);
	q.nr_sectors = nr;
	return hsend_report(h, &q, more);
}

int hatk_discard_overflow(struct hctx *h)
{
	int rc = hdiscard(h, UINT64_MAX - 7, 16, HFLOOD);

	if (!rc)
		rc = hdiscard(h, 8, UINT64_MAX, 0);
	if (!rc)
		rc = hdiscard(h, h->area, UINT64_MAX - h->area + 1, 0);
	return rc;
}

/* ---- ids ---- */

/* Two reads of different sectors in flight under one id: both must be served. */
int hatk_id_reuse(struct hctx *h)
{
	uint64_t x = h->area + 256, y = h->area + 512;
	struct fabi_req q[2];
	struct hrsp rsp[2];
	uint32_t ref[2];
	unsigned int i;
	int rc = hio_write_pattern(h, x, 8);

	if (!rc)
		rc = hio_write_pattern(h, y, 8);
	for (i = 0; i < 2 && !rc; i++) {
		hcanary(hpage(h, HPG_DATA + i));
		rc = hgrant(h, HPG_DATA + i, false, &ref[i]);
		hreq_init(h, &q[i], BLKIF_OP_READ, i ? y : x);
		hreq_seg(&q[i], 0, ref[i], 0, 7);
	}
	if (rc)
		return rc;
	q[1].id = q[0].id;
	hraw_put(h, &q[0]);
	hraw_put(h, &q[1]);
	hraw_kick(h);
	rc = hraw_collect(h, 2, rsp, HTIMEOUT_MS);
	for (i = 0; i < 2 && !rc; i++)
		hout_rsp(h, &rsp[i]);
	for (i = 0; i < 8 && !rc; i++) {
		if (!hpat_check((uint8_t *)hpage(h, HPG_DATA) + i * HSECT, x + i) ||
		    !hpat_check((uint8_t *)hpage(h, HPG_DATA + 1) + i * HSECT, y + i))
			rc = -EIO;
	}
	hout(h, "data=%s", rc ? "wrong" : "both-reads-right");
	hungrant(h, ref[0]);
	hungrant(h, ref[1]);
	return 0;
}

/* ---- indices ---- */

int hatk_req_prod_ahead(struct hctx *h)
{
	struct blkif_sring *s = h->r->front.sring;

	/* An honest frontend is never more than a ring ahead of the responses. */
	__atomic_store_n(&s->req_prod, h->r->front.req_prod_pvt + 0x40000000u, __ATOMIC_RELEASE);
	sim_evtchn_notify(h->dom, h->r->port);
	return hexpect_backend_close(h, "ring-halted");
}

int hatk_req_prod_backwards(struct hctx *h)
{
	struct blkif_sring *s = h->r->front.sring;
	struct fabi_req q;
	struct hrsp rsp[4];
	uint32_t ref;
	unsigned int i;
	int rc = hgrant(h, HPG_DATA, false, &ref);

	if (rc)
		return rc;
	for (i = 0; i < 4; i++) {
		hreq_init(h, &q, BLKIF_OP_READ, h->area + 8 * i);
		hreq_seg(&q, 0, ref, 0, 7);
		hraw_put(h, &q);
	}
	hraw_kick(h);
	rc = hraw_collect(h, 4, rsp, HTIMEOUT_MS);
	hungrant(h, ref);
	if (rc)
		return rc;
	/* Two of the requests the backend already answered, "unpublished". */
	__atomic_store_n(&s->req_prod, h->r->front.req_prod_pvt - 2, __ATOMIC_RELEASE);
	sim_evtchn_notify(h->dom, h->r->port);
	return hexpect_backend_close(h, "ring-halted");
}

static int hrsp_by_id(const void *a, const void *b)
{
	uint64_t x = ((const struct hrsp *)a)->id, y = ((const struct hrsp *)b)->id;

	return x < y ? -1 : x > y;
}

/* Three reads with rsp_prod pushed ahead of the responses, three with it pushed back: the
 * backend must keep its own count and serve all six. */
static int hrsp_prod_round(struct hctx *h, RING_IDX bogus)
{
	struct fabi_req q;
	struct hrsp rsp[3];
	uint32_t ref;
	unsigned int i;
	int rc = hgrant(h, HPG_DATA, false, &ref);

	if (rc)
		return rc;
	__atomic_store_n(&h->r->front.sring->rsp_prod, bogus, __ATOMIC_RELEASE);
	for (i = 0; i < 3; i++) {
		hreq_init(h, &q, BLKIF_OP_READ, h->area + 8 * i);
		hreq_seg(&q, 0, ref, 0, 7);
		hraw_put(h, &q);
	}
	hraw_kick(h);
	rc = hraw_collect(h, 3, rsp, HTIMEOUT_MS);
	/* Responses come in completion order; they are reported in request order. */
	if (!rc)
		qsort(rsp, 3, sizeof(rsp[0]), hrsp_by_id);
	for (i = 0; i < 3 && !rc; i++)
		hout_rsp(h, &rsp[i]);
	hungrant(h, ref);
	return rc;
}

int hatk_rsp_prod_tampered(struct hctx *h)
{
	RING_IDX cons = h->r->front.rsp_cons;
	int rc = hrsp_prod_round(h, cons + 7);

	if (!rc)
		rc = hrsp_prod_round(h, h->r->front.rsp_cons - 5);
	if (!rc)
		rc = hrsp_prod_round(h, 0xdeadbeefu);
	return rc;
}
