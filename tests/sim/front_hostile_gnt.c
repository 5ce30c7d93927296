/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Hostile grants and indirect requests: references never granted or past the table, a page
 * granted read-only to be written by a read, access ended before the request is sent, pages
 * granted to another domain, and (valid, to be served) one page granted twice in a request.
 * Then indirect requests with more segments than offered, indirect pages that are bad grants,
 * and an indirect_op that is neither READ nor WRITE. A refused read must leave our pages
 * untouched; a refused write must leave the disk untouched; both are checked.
 */
#include <errno.h>
#include <string.h>

#include "front_hostile_int.h"
#include "sim_guest.h"

#define HPG 16u /* first page these attacks use */
#define HREF_NEVER 5u /* reserved, never granted (Linux keeps refs 0..7) */
#define HREF_PAST 0x7fffff00u /* beyond any grant table */
#define HFLOOD 199u

/* The sectors a refused write aims at, holding their pattern beforehand. */
static uint64_t hw_sector(struct hctx *h)
{
	return h->area + 2048;
}

/* A one-page read into `ref` (our page HPG) or write from it, reported (and flooded). */
static int hgnt_request(struct hctx *h, uint8_t op, uint32_t ref, unsigned int more)
{
	struct fabi_req q;

	hreq_init(h, &q, op, op == BLKIF_OP_READ ? h->area + 2560 : hw_sector(h));
	hreq_seg(&q, 0, ref, 0, 7);
	return hsend_report(h, &q, more);
}

/* After refused requests: our page unread-into, the disk unwritten. */
static void hgnt_check_untouched(struct hctx *h)
{
	bool page = hcanary_intact(hpage(h, HPG), HPAGE);
	int disk = hio_read_check(h, hw_sector(h), 8);

	hout(h, "page=%s disk=%s", page ? "untouched" : "written",
	     disk == 0 ? "unchanged" : "changed");
}

/* Fill our page with junk the disk must never see, and the target sectors with patterns. */
static int hgnt_prepare(struct hctx *h)
{
	int rc = hio_write_pattern(h, hw_sector(h), 8);

	if (!rc)
		rc = hio_write_pattern(h, h->area + 2560, 16);
	hcanary(hpage(h, HPG));
	return rc;
}

int hatk_grant_unknown_ref(struct hctx *h)
{
	int rc = hgnt_prepare(h);

	if (!rc)
		rc = hgnt_request(h, BLKIF_OP_READ, HREF_NEVER, HFLOOD);
	if (!rc)
		rc = hgnt_request(h, BLKIF_OP_WRITE, HREF_NEVER, 0);
	if (!rc)
		rc = hgnt_request(h, BLKIF_OP_READ, HREF_PAST, 0);
	if (!rc)
		rc = hgnt_request(h, BLKIF_OP_WRITE, HREF_PAST, 0);
	if (!rc)
		hgnt_check_untouched(h);
	return rc;
}

/* A read must write into the page: a read-only grant cannot take it. */
int hatk_grant_readonly_read(struct hctx *h)
{
	uint32_t ref;
	int rc = hgnt_prepare(h);

	if (!rc)
		rc = hgrant(h, HPG, true, &ref);
	if (rc)
		return rc;
	rc = hgnt_request(h, BLKIF_OP_READ, ref, HFLOOD);
	hungrant(h, ref);
	if (!rc)
		hgnt_check_untouched(h);
	return rc;
}

/* Granted, then ended before the request even goes out: the ref is dead when used. */
int hatk_grant_ended_early(struct hctx *h)
{
	uint32_t ref;
	int rc = hgnt_prepare(h);

	if (!rc)
		rc = hgrant(h, HPG, false, &ref);
	if (!rc)
		rc = sim_end_access(h->dom, ref);
	if (!rc)
		rc = hgnt_request(h, BLKIF_OP_READ, ref, HFLOOD);
	if (!rc)
		rc = hgrant(h, HPG, true, &ref);
	if (!rc)
		rc = sim_end_access(h->dom, ref);
	if (!rc)
		rc = hgnt_request(h, BLKIF_OP_WRITE, ref, 0);
	if (!rc)
		hgnt_check_untouched(h);
	return rc;
}

/* Valid grants, but for another domain than the backend's. */
int hatk_grant_wrong_domid(struct hctx *h)
{
	uint16_t other = (uint16_t)(h->f->be_domid + 5);
	uint32_t rw, ro;
	int rc = hgnt_prepare(h);

	if (!rc)
		rc = hgrant_to(h, other, HPG, false, &rw);
	if (!rc)
		rc = hgrant_to(h, other, HPG, true, &ro);
	if (rc)
		return rc;
	rc = hgnt_request(h, BLKIF_OP_READ, rw, HFLOOD);
	if (!rc)
		rc = hgnt_request(h, BLKIF_OP_WRITE, ro, 0);
	hungrant(h, rw);
	hungrant(h, ro);
	if (!rc)
		hgnt_check_untouched(h);
	return rc;
}

/* ---- one page twice (valid) ---- */

static int hread_twice(struct hctx *h, uint32_t r0, uint8_t f0, uint8_t l0, uint32_t r1,
		       uint8_t f1, uint8_t l1, uint64_t lba)
{
	struct fabi_req q;
	struct hrsp rsp;
	int rc;

	hcanary(hpage(h, HPG));
	hreq_init(h, &q, BLKIF_OP_READ, lba);
	hreq_seg(&q, 0, r0, f0, l0);
	hreq_seg(&q, 1, r1, f1, l1);
	rc = hraw_do(h, &q, &rsp);
	if (!rc)
		hout_rsp(h, &rsp);
	return rc;
}

/* The page holds sectors lba.. in slots first..last of the read just done. */
static bool hpage_has(struct hctx *h, unsigned int page, uint64_t lba)
{
	unsigned int s;

	for (s = 0; s < 8; s++) {
		if (!hpat_check((uint8_t *)hpage(h, page) + s * HSECT, lba + s))
			return false;
	}
	return true;
}

/* Two refs for one page, one half each; then one ref twice, whole page each (the later
 * segment's data lands last); then a write of one ref twice. */
static int hsame_reads(struct hctx *h, uint64_t x)
{
	uint32_t g1, g2;
	int rc = hgrant(h, HPG, false, &g1);

	if (!rc)
		rc = hgrant(h, HPG, false, &g2);
	if (rc)
		return rc;
	rc = hread_twice(h, g1, 0, 3, g2, 4, 7, x);
	if (!rc)
		hout(h, "data=%s", hpage_has(h, HPG, x) ? "right" : "wrong");
	if (!rc)
		rc = hread_twice(h, g1, 0, 7, g1, 0, 7, x);
	if (!rc)
		hout(h, "data=%s", hpage_has(h, HPG, x + 8) ? "later-segment" :
				   hpage_has(h, HPG, x) ? "earlier-segment" : "wrong");
	hungrant(h, g1);
	hungrant(h, g2);
	return rc;
}

static int hsame_write(struct hctx *h, uint64_t w)
{
	struct fabi_req q;
	struct hrsp rsp;
	uint32_t g;
	unsigned int s;
	int rc;

	for (s = 0; s < 8; s++)
		hpat_fill((uint8_t *)hpage(h, HPG) + s * HSECT, w + s);
	rc = hgrant(h, HPG, true, &g);
	if (rc)
		return rc;
	hreq_init(h, &q, BLKIF_OP_WRITE, w);
	hreq_seg(&q, 0, g, 0, 7);
	hreq_seg(&q, 1, g, 0, 7);
	rc = hraw_do(h, &q, &rsp);
	hungrant(h, g);
	if (rc)
		return rc;
	hout_rsp(h, &rsp);
	/* Sectors w..w+7 hold their own pattern, and so do w+8..w+15: the same page again.
	 * Reading w+8.. lands in helper page 0, which must then hold w's pattern. */
	rc = hio_read_check(h, w, 8);
	if (!rc)
		rc = hio_read_check(h, w + 8, 8) == 8 && hpage_has(h, 0, w) ? 0 : 1;
	hout(h, "data=%s", rc == 0 ? "page-written-twice" : "wrong");
	return rc < 0 ? rc : 0;
}

int hatk_grant_same_page_twice(struct hctx *h)
{
	uint64_t x = h->area + 2560;
	int rc = hio_write_pattern(h, x, 16);

	if (!rc)
		rc = hsame_reads(h, x);
	if (!rc)
		rc = hsame_write(h, h->area + 3072);
	return rc;
}

/* ---- indirect ---- */

/* An indirect READ of `nr` segments, each a whole page of our page HPG + 1 (granted here),
 * listed in indirect pages HPG + 2.. (granted here), at sector `lba`. */
static int hindirect(struct hctx *h, uint8_t ind_op, uint16_t nr, uint32_t bad_ind_ref,
		     unsigned int bad_page, unsigned int more)
{
	unsigned int pages = nr ? (nr + FABI_SEGS_PER_INDIRECT_PAGE - 1) / 512 : 1, i, k;
	uint32_t data, ind[FABI_MAX_INDIRECT_PAGES];
	struct fabi_req q;
	int rc;

	if (pages > FABI_MAX_INDIRECT_PAGES)
		pages = FABI_MAX_INDIRECT_PAGES;
	rc = hgrant(h, HPG + 1, false, &data);
	if (rc)
		return rc;
	hreq_init(h, &q, BLKIF_OP_INDIRECT, h->area + 2560);
	q.indirect_op = ind_op;
	q.nr_segments = nr;
	for (i = 0; i < pages; i++) {
		struct fabi_seg *list = hpage(h, HPG + 2 + i);

		for (k = 0; k < FABI_SEGS_PER_INDIRECT_PAGE; k++)
			list[k] = (struct fabi_seg){ .gref = data, .last_sect = 7 };
		rc = hgrant(h, HPG + 2 + i, true, &ind[i]);
		if (rc)
			break;
		q.indirect_grefs[i] = i == bad_page ? bad_ind_ref : ind[i];
	}
	hcanary(hpage(h, HPG + 1));
	if (!rc)
		rc = hsend_report(h, &q, more);
	if (!rc && !hcanary_intact(hpage(h, HPG + 1), HPAGE))
		hfail(h, "a refused indirect read wrote into our page");
	while (i-- > 0)
		hungrant(h, ind[i]);
	hungrant(h, data);
	return rc;
}

#define HNO_BAD UINT32_MAX

int hatk_indirect_too_many(struct hctx *h)
{
	unsigned long long max = h->f->offer.max_indirect;
	int rc;

	if (!max || max >= 4096) {
		hfail(h, "the backend offers %llu indirect segments: need 1..4095", max);
		return -EINVAL;
	}
	rc = hindirect(h, BLKIF_OP_READ, (uint16_t)(max + 1), 0, HNO_BAD, HFLOOD);
	if (!rc)
		rc = hindirect(h, BLKIF_OP_READ, 0, 0, HNO_BAD, 0);
	if (!rc)
		rc = hindirect(h, BLKIF_OP_READ, 4097, 0, HNO_BAD, 0);
	if (!rc)
		rc = hindirect(h, BLKIF_OP_READ, UINT16_MAX, 0, HNO_BAD, 0);
	return rc;
}

int hatk_indirect_bad_page(struct hctx *h)
{
	int rc = hindirect(h, BLKIF_OP_READ, 16, HREF_NEVER, 0, HFLOOD);

	if (!rc)
		rc = hindirect(h, BLKIF_OP_READ, 16, HREF_PAST, 0, 0);
	/* Two pages of segments, the second one a bad grant (when that many are offered). */
	if (!rc && h->f->offer.max_indirect >= 600)
		rc = hindirect(h, BLKIF_OP_READ, 600, HREF_NEVER, 1, 0);
	return rc;
}

int hatk_indirect_bad_op(struct hctx *h)
{
	static const uint8_t ops[] = { BLKIF_OP_FLUSH_DISKCACHE, BLKIF_OP_DISCARD,
				       BLKIF_OP_INDIRECT, 200 };
	unsigned int i;
	int rc = 0;

	for (i = 0; i < 4 && !rc; i++)
		rc = hindirect(h, ops[i], 16, 0, HNO_BAD, i ? 0 : HFLOOD);
	return rc;
}
