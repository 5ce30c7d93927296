/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Double fetch, end to end (XSA-155): a second thread rewrites a request's fields while the
 * backend reads it, and every answer must be consistent with one single version of the
 * request: an error that touched nothing, or success with exactly the sectors that version
 * names in exactly the places it names. A racing thread only finds what luck lets it find;
 * the proof that each slot is read once is tests/unit/test_double_fetch.c. Only fields the
 * response does not overlap are flipped (sector and segments; the response is written into
 * the same slot and covers its first 12 or 16 bytes), so the flipping never garbles what we
 * read back. The same is done to an indirect page, whose segment list is copied out once.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>

#include "front_hostile_int.h"

#define HDF_ROUNDS 2000u
#define HIR_ROUNDS 1000u
#define HIR_SEGS 16u
#define HPG_DF 16u /* two data pages */
#define HPG_IR 20u /* HIR_SEGS data pages, then the indirect page */

struct hflipper {
	pthread_t thread;
	uint8_t *_Atomic target; /* the bytes to rewrite, NULL: stay away */
	_Atomic unsigned int epoch, ack;
	_Atomic bool stop;
	void (*flip)(uint8_t *target, unsigned long k, const void *arg);
	const void *arg;
	unsigned long flips;
};

static void *hflip_main(void *p)
{
	struct hflipper *fl = p;
	unsigned long k = 0;

	while (!atomic_load(&fl->stop)) {
		unsigned int epoch = atomic_load(&fl->epoch);
		uint8_t *t = atomic_load(&fl->target);

		if (!t) {
			atomic_store(&fl->ack, epoch);
			sched_yield();
			continue;
		}
		fl->flip(t, k++, fl->arg);
	}
	fl->flips = k;
	return NULL;
}

static void hflip_aim(struct hflipper *fl, uint8_t *target)
{
	atomic_store(&fl->target, target);
}

/* Stop touching the target; wait until the thread has seen it. */
static void hflip_hold(struct hflipper *fl)
{
	unsigned int epoch = atomic_fetch_add(&fl->epoch, 1) + 1;

	atomic_store(&fl->target, NULL);
	while (atomic_load(&fl->ack) != epoch)
		sched_yield();
}

/* ---- the direct request ---- */

struct hdf_arg {
	size_t sector_off, seg_off; /* in the slot, for this ABI */
	uint32_t sector[3]; /* X, Y, past the end: all below 2^32, the high half stays 0 */
};

static const uint8_t hdf_seg0[3][2] = { { 0, 7 }, { 0, 3 }, { 6, 2 } };
static const uint8_t hdf_seg1[2][2] = { { 0, 7 }, { 4, 7 } };

static void hdf_flip(uint8_t *slot, unsigned long k, const void *p)
{
	const struct hdf_arg *a = p;
	uint16_t s0 = (uint16_t)(hdf_seg0[k / 3 % 3][0] | hdf_seg0[k / 3 % 3][1] << 8);
	uint16_t s1 = (uint16_t)(hdf_seg1[k / 9 % 2][0] | hdf_seg1[k / 9 % 2][1] << 8);

	/* Whole-field stores: the backend may copy any mix of fields, never half a field. */
	__atomic_store_n((uint32_t *)(void *)(slot + a->sector_off), a->sector[k % 3],
			 __ATOMIC_RELAXED);
	__atomic_store_n((uint16_t *)(void *)(slot + a->seg_off + 4), s0, __ATOMIC_RELAXED);
	__atomic_store_n((uint16_t *)(void *)(slot + a->seg_off + 12), s1, __ATOMIC_RELAXED);
}

/* Sectors [first, last] of `page` hold lba, lba + 1, ...; the rest is untouched. */
static bool hpage_holds(const uint8_t *page, unsigned int first, unsigned int last, uint64_t lba)
{
	unsigned int s;

	for (s = 0; s < 8; s++) {
		const uint8_t *b = page + s * HSECT;

		if (s >= first && s <= last ? !hpat_check(b, lba + s - first)
					    : !hcanary_intact(b, HSECT))
			return false;
	}
	return true;
}

/* Which version of the request does this answer match? -1: none. */
static int hdf_match(struct hctx *h, const struct hrsp *rsp, const struct hdf_arg *a)
{
	const uint8_t *p0 = hpage(h, HPG_DF), *p1 = hpage(h, HPG_DF + 1);
	unsigned int s, i, j, n0;

	if (rsp->status == BLKIF_RSP_ERROR)
		return hcanary_intact(p0, HPAGE) && hcanary_intact(p1, HPAGE) ? 12 : -1;
	if (rsp->status != BLKIF_RSP_OKAY)
		return -1;
	for (s = 0; s < 2; s++)
		for (i = 0; i < 2; i++)
			for (j = 0; j < 2; j++) {
				n0 = hdf_seg0[i][1] - hdf_seg0[i][0] + 1u;
				if (hpage_holds(p0, hdf_seg0[i][0], hdf_seg0[i][1], a->sector[s]) &&
				    hpage_holds(p1, hdf_seg1[j][0], hdf_seg1[j][1],
						a->sector[s] + n0))
					return (int)(s * 4 + i * 2 + j);
			}
	return -1;
}

/* The layout's offsets, from the ABI's own definition (front_abi.h). */
static void hdf_offsets(enum fabi abi, size_t *sector_off, size_t *seg_off)
{
	if (abi == FABI_X86_32 || (abi == FABI_NATIVE && sizeof(blkif_response_t) == 12)) {
		*sector_off = offsetof(struct fabi32_request, sector_number);
		*seg_off = offsetof(struct fabi32_request, seg);
	} else {
		*sector_off = offsetof(struct fabi64_request, sector_number);
		*seg_off = offsetof(struct fabi64_request, seg);
	}
}

static int hdf_round(struct hctx *h, struct hflipper *fl, const uint32_t *ref,
		     unsigned int *seen)
{
	const struct hdf_arg *a = fl->arg;
	struct fabi_req q;
	struct hrsp rsp;
	uint8_t *slot;
	int rc, m;

	hcanary(hpage(h, HPG_DF));
	hcanary(hpage(h, HPG_DF + 1));
	hreq_init(h, &q, BLKIF_OP_READ, a->sector[0]);
	hreq_seg(&q, 0, ref[0], 0, 7);
	hreq_seg(&q, 1, ref[1], 0, 7);
	slot = hslot(h, h->r->front.req_prod_pvt);
	hraw_put(h, &q);
	/* Aimed once the slot is written and before it is published: from here on, the
	 * backend may see any mix of versions, each field whole. */
	hflip_aim(fl, slot);
	hraw_kick(h);
	rc = hraw_collect(h, 1, &rsp, HTIMEOUT_MS);
	hflip_hold(fl);
	if (rc)
		return rc;
	m = rsp.id == q.id && rsp.op == BLKIF_OP_READ ? hdf_match(h, &rsp, a) : -1;
	if (m >= 0)
		seen[m]++;
	return m >= 0 ? 0 : 1;
}

static int hflip_start(struct hflipper *fl)
{
	atomic_init(&fl->target, NULL);
	atomic_init(&fl->epoch, 0);
	atomic_init(&fl->ack, 0);
	atomic_init(&fl->stop, false);
	return -pthread_create(&fl->thread, NULL, hflip_main, fl);
}

static void hflip_stop(struct hflipper *fl)
{
	atomic_store(&fl->stop, true);
	pthread_join(fl->thread, NULL);
}

static void hrace_report(struct hctx *h, const char *what, unsigned int rounds,
			 unsigned int bad, const unsigned int *seen, unsigned int nseen,
			 unsigned long flips)
{
	unsigned int i, versions = 0;

	for (i = 0; i < nseen; i++)
		versions += seen[i] != 0;
	hout(h, "step=%u outcome=%s rounds=%u inconsistent=%u", ++h->step,
	     bad ? "inconsistent" : "consistent", rounds, bad);
	printf("%s: flips=%lu versions_seen=%u errors=%u\n", what, flips, versions,
	       seen[nseen - 1]);
}

int hatk_double_fetch(struct hctx *h)
{
	struct hdf_arg a = { .sector = { (uint32_t)h->area + 256, (uint32_t)h->area + 512,
					 (uint32_t)h->cap + 8 } };
	struct hflipper fl = { .flip = hdf_flip, .arg = &a };
	unsigned int seen[13] = { 0 }, bad = 0, i;
	uint32_t ref[2];
	int rc;

	hdf_offsets(h->r->conf.abi, &a.sector_off, &a.seg_off);
	rc = hio_write_pattern(h, a.sector[0], 16);
	if (!rc)
		rc = hio_write_pattern(h, a.sector[1], 16);
	if (!rc)
		rc = hgrant(h, HPG_DF, false, &ref[0]);
	if (!rc)
		rc = hgrant(h, HPG_DF + 1, false, &ref[1]);
	if (!rc)
		rc = hflip_start(&fl);
	if (rc)
		return rc;
	for (i = 0; i < HDF_ROUNDS && rc >= 0; i++) {
		rc = hdf_round(h, &fl, ref, seen);
		bad += rc > 0;
	}
	hflip_stop(&fl);
	hungrant(h, ref[0]);
	hungrant(h, ref[1]);
	if (rc < 0)
		return rc;
	hrace_report(h, "double-fetch", HDF_ROUNDS, bad, seen, 13, fl.flips);
	return 0;
}

/* ---- the indirect page ---- */

struct hir_arg {
	uint32_t ref[HIR_SEGS];
};

/* A: whole pages; B: half pages (both valid); C: first > last (invalid), one time in five. */
static void hir_entry(struct fabi_seg *e, uint32_t ref, unsigned int version)
{
	static const uint8_t fl[3][2] = { { 0, 7 }, { 0, 3 }, { 6, 2 } };

	*e = (struct fabi_seg){ .gref = ref, .first_sect = fl[version][0],
				.last_sect = fl[version][1] };
}

static void hir_flip(uint8_t *page, unsigned long k, const void *p)
{
	const struct hir_arg *a = p;
	static const unsigned int cycle[5] = { 0, 1, 0, 1, 2 };
	unsigned int i, v = cycle[k % 5];
	struct fabi_seg e;
	uint64_t w;

	for (i = 0; i < HIR_SEGS; i++) {
		hir_entry(&e, a->ref[i], v);
		memcpy(&w, &e, sizeof(w));
		__atomic_store_n((uint64_t *)(void *)(page + 8 * i), w, __ATOMIC_RELAXED);
	}
}

/* Each page holds a whole or a half page of consecutive sectors, in segment order. */
static bool hir_consistent(struct hctx *h, const struct hrsp *rsp, uint64_t lba)
{
	unsigned int i, n;

	if (rsp->status == BLKIF_RSP_ERROR) {
		for (i = 0; i < HIR_SEGS; i++) {
			if (!hcanary_intact(hpage(h, HPG_IR + i), HPAGE))
				return false;
		}
		return true;
	}
	if (rsp->status != BLKIF_RSP_OKAY)
		return false;
	for (i = 0; i < HIR_SEGS; i++) {
		const uint8_t *page = hpage(h, HPG_IR + i);

		n = hcanary_intact(page + 4 * HSECT, 4 * HSECT) ? 4 : 8;
		if (!hpage_holds(page, 0, n - 1, lba))
			return false;
		lba += n;
	}
	return true;
}

static int hir_round(struct hctx *h, struct hflipper *fl, uint32_t ind_ref, uint64_t lba,
		     unsigned int *seen)
{
	const struct hir_arg *a = fl->arg;
	uint8_t *ind = hpage(h, HPG_IR + HIR_SEGS);
	struct fabi_req q;
	struct hrsp rsp;
	unsigned int i;
	int rc;

	for (i = 0; i < HIR_SEGS; i++) {
		hcanary(hpage(h, HPG_IR + i));
		hir_entry((struct fabi_seg *)(void *)ind + i, a->ref[i], 0);
	}
	hreq_init(h, &q, BLKIF_OP_INDIRECT, lba);
	q.indirect_op = BLKIF_OP_READ;
	q.nr_segments = HIR_SEGS;
	q.indirect_grefs[0] = ind_ref;
	hflip_aim(fl, ind);
	hraw_put(h, &q);
	hraw_kick(h);
	rc = hraw_collect(h, 1, &rsp, HTIMEOUT_MS);
	hflip_hold(fl);
	if (rc)
		return rc;
	if (rsp.id != q.id || rsp.op != BLKIF_OP_READ || !hir_consistent(h, &rsp, lba))
		return 1;
	seen[rsp.status == BLKIF_RSP_OKAY ? 0 : 1]++;
	return 0;
}

int hatk_indirect_rewrite(struct hctx *h)
{
	struct hir_arg a;
	struct hflipper fl = { .flip = hir_flip, .arg = &a };
	uint64_t lba = h->area + 1024;
	unsigned int seen[2] = { 0 }, bad = 0, i;
	uint32_t ind_ref;
	int rc = hio_write_pattern(h, lba, 8 * HIR_SEGS);

	for (i = 0; i < HIR_SEGS && !rc; i++)
		rc = hgrant(h, HPG_IR + i, false, &a.ref[i]);
	if (!rc)
		rc = hgrant(h, HPG_IR + HIR_SEGS, true, &ind_ref);
	if (!rc)
		rc = hflip_start(&fl);
	if (rc)
		return rc;
	for (i = 0; i < HIR_ROUNDS && rc >= 0; i++) {
		rc = hir_round(h, &fl, ind_ref, lba, seen);
		bad += rc > 0;
	}
	hflip_stop(&fl);
	for (i = 0; i < HIR_SEGS; i++)
		hungrant(h, a.ref[i]);
	hungrant(h, ind_ref);
	if (rc < 0)
		return rc;
	hrace_report(h, "indirect-rewrite", HIR_ROUNDS, bad, seen, 2, fl.flips);
	return 0;
}
