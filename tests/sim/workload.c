/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The simulated blkfront's workload (workload.h). Requests come from a plan stream that
 * depends on the seed only, and are issued strictly in that order: a request that would
 * overlap a write in flight (or, for a write, any request in flight) waits until it no longer
 * does, so every read has one well-defined expected content and the same seed gives the same
 * requests and data on every run. Only page placement and how requests are batched into ring
 * pushes come from a second stream that also depends on timing.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "front_data.h"
#include "sim_guest.h"
#include "workload.h"

#define WL_MAX_SPAN (1ull << 22) /* 2 GiB of 512-byte sectors: 28 MiB of tables */
#define WL_HOT_SECTORS 2048u /* half of all requests go to the first 1 MiB */
#define WL_CHUNK (FRING_MAX_SEGS * FDATA_SECTORS_PER_PAGE) /* 88 sectors, 44 KiB */
#define WL_WAIT_SLICE_MS 2000
#define WL_REPORT_MAX 20

struct wl_rng {
	uint64_t s[4];
};

/* One request as the plan stream decided it, before it has pages. */
struct wl_plan {
	uint8_t op;
	uint8_t nr_segs;
	bool sweep;
	uint32_t gen; /* of a request that writes data */
	uint64_t sector;
	unsigned int nsect;
	uint8_t first[FRING_MAX_SEGS];
	uint8_t last[FRING_MAX_SEGS];
};

/* One request in flight. */
struct wl_io {
	bool busy;
	struct wl_plan plan;
	uint64_t t_submit;
};

struct workload {
	struct wl_config cfg;
	struct wl_disk disk;
	struct sim_domain *dom;
	struct fstats *stats;
	struct wl_rng plan_rng; /* the request stream: the seed alone decides it */
	struct wl_rng aux_rng; /* page placement and batching */
	unsigned int unit; /* sector-size in 512-byte sectors */
	uint64_t span; /* sectors in use: a multiple of a page */
	uint64_t hot;
	uint32_t *shadow; /* per sector: the generation of the last completed write */
	uint8_t *writing; /* per sector: a write over it is in flight */
	uint16_t *reading; /* per sector: reads over it in flight */
	uint32_t next_gen;
	uint32_t *free_frames;
	unsigned int nr_free_frames;
	struct wl_io io[FRING_SLOTS];
	unsigned int inflight;
	/* The current source of plans. */
	unsigned long random_left;
	uint64_t sweep_cursor;
	bool pend_valid;
	bool source_done;
	struct wl_plan pend;
	uint64_t last_progress;
};

typedef int wl_next_fn(struct workload *wl, struct wl_plan *p);

static uint64_t wl_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* xoshiro256**, seeded through splitmix64. */
static uint64_t wl_rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t wl_next64(struct wl_rng *g)
{
	uint64_t result = wl_rotl(g->s[1] * 5, 7) * 9, t = g->s[1] << 17;

	g->s[2] ^= g->s[0];
	g->s[3] ^= g->s[1];
	g->s[1] ^= g->s[2];
	g->s[0] ^= g->s[3];
	g->s[2] ^= t;
	g->s[3] = wl_rotl(g->s[3], 45);
	return result;
}

static void wl_seed(struct wl_rng *g, uint64_t seed)
{
	int i;

	for (i = 0; i < 4; i++) {
		uint64_t z = (seed += 0x9e3779b97f4a7c15ull);

		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
		g->s[i] = z ^ (z >> 31);
	}
}

/* Uniform in [0, n), n > 0; the modulo bias is irrelevant at these sizes. */
static uint64_t wl_rand(struct wl_rng *g, uint64_t n)
{
	return wl_next64(g) % n;
}

static bool wl_is_write(const struct wl_plan *p)
{
	return fring_op_writes_disk(p->op) && p->nr_segs > 0;
}

/* ---- planning ---- */

static void wl_plan_kind(struct workload *wl, struct wl_plan *p)
{
	unsigned int r = (unsigned int)wl_rand(&wl->plan_rng, 100);

	/* 45% reads, 40% writes, 5% flushes without data, 5% with, 5% barriers; whatever the
	 * backend does not offer becomes a plain write. */
	p->op = BLKIF_OP_WRITE;
	p->nr_segs = 1; /* 0 only for a flush without data */
	if (wl->disk.readonly || r < 45) {
		p->op = BLKIF_OP_READ;
	} else if (r >= 85 && r < 95 && wl->disk.flush) {
		p->op = BLKIF_OP_FLUSH_DISKCACHE;
		p->nr_segs = r < 90 ? 0 : 1;
	} else if (r >= 95 && wl->disk.barrier) {
		p->op = BLKIF_OP_WRITE_BARRIER;
	}
}

/* Segment i covers units [a, b] of its page (a unit is one sector-size). */
static void wl_plan_seg(struct workload *wl, struct wl_plan *p, unsigned int i, unsigned int a,
			unsigned int b)
{
	p->first[i] = (uint8_t)(a * wl->unit);
	p->last[i] = (uint8_t)((b + 1) * wl->unit - 1);
	p->nsect += (b - a + 1) * wl->unit;
}

static void wl_plan_segments(struct workload *wl, struct wl_plan *p)
{
	unsigned int units = FDATA_SECTORS_PER_PAGE / wl->unit; /* per page */
	unsigned int shape = (unsigned int)wl_rand(&wl->plan_rng, 100);
	unsigned int i, a, b;

	p->nsect = 0;
	if (shape < 15) {
		/* One sector-size: a 512-byte request on a 512-byte disk. */
		p->nr_segs = 1;
		a = (unsigned int)wl_rand(&wl->plan_rng, units);
		wl_plan_seg(wl, p, 0, a, a);
		return;
	}
	p->nr_segs = (uint8_t)(1 + wl_rand(&wl->plan_rng, FRING_MAX_SEGS));
	for (i = 0; i < p->nr_segs; i++) {
		if (shape < 40) {
			wl_plan_seg(wl, p, i, 0, units - 1); /* whole pages */
			continue;
		}
		/* Part of a page: first_sect > 0 and last_sect < 7 happen often. */
		a = (unsigned int)wl_rand(&wl->plan_rng, units);
		b = (unsigned int)wl_rand(&wl->plan_rng, units);
		wl_plan_seg(wl, p, i, a < b ? a : b, a < b ? b : a);
	}
}

static void wl_plan_random(struct workload *wl, struct wl_plan *p)
{
	uint64_t region, slots;

	memset(p, 0, sizeof(*p));
	wl_plan_kind(wl, p);
	if (p->nr_segs == 0)
		return; /* a flush without data: sector 0, no segments */
	wl_plan_segments(wl, p);
	/* Half of the requests go to a small hot region, so reads often meet written data. */
	region = wl_rand(&wl->plan_rng, 2) ? wl->hot : wl->span;
	slots = (region - p->nsect) / wl->unit + 1; /* region >= WL_CHUNK >= nsect */
	p->sector = wl_rand(&wl->plan_rng, slots) * wl->unit;
	if (wl_is_write(p))
		p->gen = wl->next_gen++;
}

static int wl_next_random(struct workload *wl, struct wl_plan *p)
{
	if (wl->random_left == 0)
		return 0;
	wl->random_left--;
	wl_plan_random(wl, p);
	return 1;
}

static bool wl_range_written(const struct workload *wl, uint64_t start, uint64_t n)
{
	uint64_t i;

	for (i = start; i < start + n; i++) {
		if (wl->shadow[i] != FDATA_GEN_ZERO)
			return true;
	}
	return false;
}

/* The sweep reads, in whole-page chunks, every chunk that holds written data. */
static int wl_next_sweep(struct workload *wl, struct wl_plan *p)
{
	uint64_t start, n;
	unsigned int i;

	while (wl->sweep_cursor < wl->span) {
		start = wl->sweep_cursor;
		n = wl->span - start < WL_CHUNK ? wl->span - start : WL_CHUNK;
		wl->sweep_cursor += n;
		if (!wl_range_written(wl, start, n))
			continue;
		memset(p, 0, sizeof(*p));
		p->op = BLKIF_OP_READ;
		p->sweep = true;
		p->sector = start;
		p->nsect = (unsigned int)n;
		p->nr_segs = (uint8_t)(n / FDATA_SECTORS_PER_PAGE);
		for (i = 0; i < p->nr_segs; i++)
			p->last[i] = FDATA_SECTORS_PER_PAGE - 1;
		return 1;
	}
	return 0;
}

/* ---- issuing ---- */

/* A write needs its sectors idle; a read needs them free of writes. */
static bool wl_conflicts(const struct workload *wl, const struct wl_plan *p)
{
	bool write = wl_is_write(p);
	uint64_t i;

	for (i = p->sector; i < p->sector + p->nsect; i++) {
		if (wl->writing[i] || (write && wl->reading[i]))
			return true;
	}
	return false;
}

static bool wl_can_issue(const struct workload *wl, const struct wl_plan *p)
{
	return wl->inflight < wl->cfg.depth && wl->nr_free_frames >= p->nr_segs &&
	       !wl_conflicts(wl, p);
}

static void wl_mark(struct workload *wl, const struct wl_plan *p, bool in_flight)
{
	bool write = wl_is_write(p);
	uint64_t i;

	for (i = p->sector; i < p->sector + p->nsect; i++) {
		if (write)
			wl->writing[i] = in_flight;
		else if (in_flight)
			wl->reading[i]++;
		else
			wl->reading[i]--;
	}
}

static uint32_t wl_take_frame(struct workload *wl)
{
	unsigned int i = (unsigned int)wl_rand(&wl->aux_rng, wl->nr_free_frames);
	uint32_t frame = wl->free_frames[i];

	wl->free_frames[i] = wl->free_frames[--wl->nr_free_frames];
	return frame;
}

/* Pages for each segment, filled with the data to write or prepared for a read. */
static void wl_place_segments(struct workload *wl, const struct wl_plan *p,
			      struct fring_req *req)
{
	uint64_t lba = p->sector;
	unsigned int i, s;
	unsigned char *page;

	for (i = 0; i < p->nr_segs; i++) {
		req->seg[i].frame = wl_take_frame(wl);
		req->seg[i].first_sect = p->first[i];
		req->seg[i].last_sect = p->last[i];
		page = sim_frame(wl->dom, req->seg[i].frame);
		/* Canary around the segment for both directions; poison inside for a read. */
		fdata_prepare_read(page, p->first[i], p->last[i]);
		if (!wl_is_write(p))
			continue;
		for (s = p->first[i]; s <= p->last[i]; s++)
			fdata_fill_sector(page + s * FDATA_SECTOR, lba++, p->gen);
	}
}

static void wl_return_frames(struct workload *wl, const struct fring_req *req,
			     unsigned int leaked)
{
	unsigned int i;

	/* A frame whose grant is still live stays out of the pool for good. */
	for (i = 0; i < req->nr_segs; i++) {
		if (!(leaked & (1u << i)))
			wl->free_frames[wl->nr_free_frames++] = req->seg[i].frame;
	}
}

static struct wl_io *wl_io_get(struct workload *wl)
{
	unsigned int i;

	for (i = 0; i < FRING_SLOTS; i++) {
		if (!wl->io[i].busy)
			return &wl->io[i];
	}
	return NULL;
}

static int wl_issue(struct workload *wl, struct fring *r, const struct wl_plan *p)
{
	struct wl_io *io = wl_io_get(wl);
	struct fring_req req;
	int rc;

	if (!io)
		return -EBUSY;
	memset(&req, 0, sizeof(req));
	req.op = p->op;
	req.nr_segs = p->nr_segs;
	req.sector = p->sector;
	req.cookie = io;
	wl_place_segments(wl, p, &req);
	io->plan = *p;
	io->t_submit = wl_now_ns();
	rc = fring_submit(r, &req);
	if (rc) {
		wl_return_frames(wl, &req, 0);
		return rc;
	}
	io->busy = true;
	wl_mark(wl, p, true);
	wl->inflight++;
	return 0;
}

/* ---- completion ---- */

static void wl_report_mismatch(struct workload *wl, const struct wl_io *io, unsigned int seg,
			       uint64_t lba, uint32_t gen, const void *sector)
{
	char found[96];

	if (wl->cfg.quiet || wl->stats->mismatches > WL_REPORT_MAX)
		return;
	fdata_describe(sector, found, sizeof(found));
	if (gen == FDATA_GEN_ZERO)
		fprintf(stderr, "sim-blkfront: verify: sector %" PRIu64 ": expected zeros, found %s",
			lba, found);
	else
		fprintf(stderr, "sim-blkfront: verify: sector %" PRIu64 ": expected lba %" PRIu64
			" gen %u, found %s", lba, lba, gen, found);
	fprintf(stderr, " (%sread of sector %" PRIu64 " +%u, %u segments, in segment %u "
		"[%u..%u])\n", io->plan.sweep ? "sweep " : "", io->plan.sector, io->plan.nsect,
		io->plan.nr_segs, seg, io->plan.first[seg], io->plan.last[seg]);
}

static void wl_verify_read(struct workload *wl, const struct wl_io *io,
			   const struct fring_req *req)
{
	uint64_t lba = req->sector;
	unsigned int i, s;
	const unsigned char *page;

	for (i = 0; i < req->nr_segs; i++) {
		page = sim_frame(wl->dom, req->seg[i].frame);
		if (!fdata_canary_intact(page, req->seg[i].first_sect, req->seg[i].last_sect)) {
			wl->stats->canary_errors++;
			if (!wl->cfg.quiet && wl->stats->canary_errors <= WL_REPORT_MAX)
				fprintf(stderr, "sim-blkfront: verify: read of sector %" PRIu64
					" wrote outside segment %u [%u..%u]\n", req->sector, i,
					req->seg[i].first_sect, req->seg[i].last_sect);
		}
		for (s = req->seg[i].first_sect; s <= req->seg[i].last_sect; s++, lba++) {
			uint32_t gen = wl->shadow[lba];

			if (gen == FDATA_GEN_UNKNOWN)
				continue;
			wl->stats->verified_sectors++;
			if (fdata_check_sector(page + s * FDATA_SECTOR, lba, gen))
				continue;
			wl->stats->mismatches++;
			wl_report_mismatch(wl, io, i, lba, gen, page + s * FDATA_SECTOR);
		}
	}
}

/* The pages of a write were granted read-only: the backend must have left them alone. */
static void wl_check_write_pages(struct workload *wl, const struct fring_req *req,
				 const struct wl_plan *p)
{
	uint64_t lba = p->sector;
	unsigned int i, s;
	const unsigned char *page;
	bool intact;

	for (i = 0; i < req->nr_segs; i++) {
		page = sim_frame(wl->dom, req->seg[i].frame);
		intact = fdata_canary_intact(page, p->first[i], p->last[i]);
		for (s = p->first[i]; s <= p->last[i]; s++, lba++)
			intact = intact && fdata_check_sector(page + s * FDATA_SECTOR, lba, p->gen);
		if (intact)
			continue;
		wl->stats->canary_errors++;
		if (!wl->cfg.quiet && wl->stats->canary_errors <= WL_REPORT_MAX)
			fprintf(stderr, "sim-blkfront: %s of sector %" PRIu64 ": the backend changed "
				"segment %u's page, granted read-only\n", fring_op_name(p->op),
				p->sector, i);
	}
}

static void wl_commit_write(struct workload *wl, const struct wl_plan *p, bool ok)
{
	uint64_t i;

	/* After a failed write the sectors hold old or new data or a mix: stop checking them. */
	for (i = p->sector; i < p->sector + p->nsect; i++)
		wl->shadow[i] = ok ? p->gen : FDATA_GEN_UNKNOWN;
}

static void wl_account(struct workload *wl, const struct wl_io *io, int16_t status)
{
	const struct wl_plan *p = &io->plan;
	struct fstats *st = wl->stats;

	if (status == FRING_STATUS_ABORTED) {
		st->aborted++;
		return;
	}
	st->ops[fstats_kind_of(p->op, p->nr_segs)]++;
	st->sweep_reads += p->sweep;
	if (p->op == BLKIF_OP_READ)
		st->bytes_read += (uint64_t)p->nsect * FDATA_SECTOR;
	else
		st->bytes_written += (uint64_t)p->nsect * FDATA_SECTOR;
	fstats_add_latency(st, wl_now_ns() - io->t_submit);
	if (status == BLKIF_RSP_OKAY)
		return;
	st->status_errors++;
	if (!wl->cfg.quiet && st->status_errors <= WL_REPORT_MAX)
		fprintf(stderr, "sim-blkfront: %s of sector %" PRIu64 " +%u (%u segments) failed: "
			"status %d\n", fring_op_name(p->op), p->sector, p->nsect, p->nr_segs,
			status);
}

void workload_complete(void *ctx, const struct fring_req *req, int16_t status,
		       unsigned int leaked)
{
	struct workload *wl = ctx;
	struct wl_io *io = req->cookie;

	wl_account(wl, io, status);
	if (wl_is_write(&io->plan)) {
		wl_check_write_pages(wl, req, &io->plan);
		wl_commit_write(wl, &io->plan, status == BLKIF_RSP_OKAY);
	}
	else if (io->plan.op == BLKIF_OP_READ && status == BLKIF_RSP_OKAY)
		wl_verify_read(wl, io, req);
	wl_mark(wl, &io->plan, false);
	wl_return_frames(wl, req, leaked);
	io->busy = false;
	wl->inflight--;
	wl->last_progress = wl_now_ns();
}

/* ---- the loop ---- */

/* How many requests go into one push: one at a time, a few, or as many as allowed. */
static unsigned int wl_batch_limit(struct workload *wl)
{
	unsigned int r = (unsigned int)wl_rand(&wl->aux_rng, 10);

	return r < 3 ? 1 : r < 5 ? 4 : FRING_SLOTS;
}

static int wl_fill(struct workload *wl, struct fring *r, wl_next_fn *next)
{
	unsigned int batch = 0, limit = wl_batch_limit(wl);
	int rc;

	for (;;) {
		if (!wl->pend_valid && !wl->source_done) {
			if (next(wl, &wl->pend))
				wl->pend_valid = true;
			else
				wl->source_done = true;
		}
		if (!wl->pend_valid || !wl_can_issue(wl, &wl->pend))
			break;
		rc = wl_issue(wl, r, &wl->pend);
		if (rc)
			return rc;
		wl->pend_valid = false;
		if (++batch == limit) {
			rc = fring_kick(r);
			if (rc)
				return rc;
			batch = 0;
		}
	}
	return batch ? fring_kick(r) : 0;
}

static int wl_timed_out(struct workload *wl)
{
	unsigned int i, shown = 0;

	wl->stats->timeouts++;
	fprintf(stderr, "sim-blkfront: no response for %u ms; %u requests in flight\n",
		wl->cfg.timeout_ms, wl->inflight);
	for (i = 0; i < FRING_SLOTS && shown < 5; i++) {
		const struct wl_plan *p = &wl->io[i].plan;

		if (!wl->io[i].busy)
			continue;
		shown++;
		fprintf(stderr, "sim-blkfront:   waiting: %s of sector %" PRIu64 " +%u, %u segments\n",
			fring_op_name(p->op), p->sector, p->nsect, p->nr_segs);
	}
	return -ETIMEDOUT;
}

static int wl_wait(struct workload *wl, struct fring *r)
{
	uint64_t waited = wl_now_ns() - wl->last_progress;
	uint64_t limit = (uint64_t)wl->cfg.timeout_ms * 1000000ull;
	uint64_t left_ms;
	int rc;

	if (waited >= limit)
		return wl_timed_out(wl);
	left_ms = (limit - waited) / 1000000ull + 1;
	rc = fring_wait(r, left_ms < WL_WAIT_SLICE_MS ? (int)left_ms : WL_WAIT_SLICE_MS);
	return rc == -ETIMEDOUT ? 0 : rc;
}

static int wl_drive(struct workload *wl, struct fring *r, wl_next_fn *next)
{
	uint64_t start = wl_now_ns();
	int rc;

	wl->pend_valid = false;
	wl->source_done = false;
	wl->last_progress = start;
	for (;;) {
		rc = wl_fill(wl, r, next);
		if (rc < 0)
			break;
		if (wl->source_done && !wl->pend_valid && wl->inflight == 0)
			break;
		if (wl->inflight == 0) {
			/* Nothing in flight yet the next request cannot go: pages leaked. */
			fprintf(stderr, "sim-blkfront: out of data pages (%u left)\n",
				wl->nr_free_frames);
			rc = -ENOSPC;
			break;
		}
		rc = fring_reap(r, workload_complete, wl);
		if (rc == 0)
			rc = wl_wait(wl, r);
		if (rc < 0)
			break;
	}
	wl->stats->busy_ns += wl_now_ns() - start;
	return rc < 0 ? rc : 0;
}

int workload_random(struct workload *wl, struct fring *r)
{
	wl->random_left = wl->cfg.requests;
	return wl_drive(wl, r, wl_next_random);
}

static int wl_next_none(struct workload *wl, struct wl_plan *p)
{
	return 0;
}

int workload_drain(struct workload *wl, struct fring *r)
{
	return wl_drive(wl, r, wl_next_none);
}

int workload_sweep(struct workload *wl, struct fring *r)
{
	wl->sweep_cursor = 0;
	return wl_drive(wl, r, wl_next_sweep);
}

/* ---- set-up ---- */

static int wl_check_disk(const struct wl_disk *disk, const struct wl_config *cfg)
{
	unsigned int ss = disk->sector_size;

	/* blkif.h (Xen 4.20): sector-size is a power of two >= 512; segments live in a page. */
	if (ss < FDATA_SECTOR || ss > FDATA_SECTORS_PER_PAGE * FDATA_SECTOR || (ss & (ss - 1)))
		return -EINVAL;
	if (disk->sectors < WL_CHUNK || (cfg->span && cfg->span < WL_CHUNK))
		return -EINVAL;
	if (cfg->depth < 1 || cfg->depth > FRING_SLOTS || cfg->timeout_ms == 0)
		return -EINVAL;
	return 0;
}

static int wl_alloc_tables(struct workload *wl, uint32_t first_frame, uint32_t nr_frames)
{
	uint32_t i;

	wl->shadow = calloc(wl->span, sizeof(*wl->shadow));
	wl->writing = calloc(wl->span, sizeof(*wl->writing));
	wl->reading = calloc(wl->span, sizeof(*wl->reading));
	wl->free_frames = calloc(nr_frames, sizeof(*wl->free_frames));
	if (!wl->shadow || !wl->writing || !wl->reading || !wl->free_frames)
		return -ENOMEM;
	for (i = 0; i < nr_frames; i++)
		wl->free_frames[i] = first_frame + i;
	wl->nr_free_frames = nr_frames;
	return 0;
}

int workload_create(const struct wl_config *cfg, const struct wl_disk *disk,
		    struct sim_domain *dom, uint32_t first_frame, uint32_t nr_frames,
		    struct fstats *stats, struct workload **out)
{
	struct workload *wl;
	uint64_t span;
	int rc;

	rc = wl_check_disk(disk, cfg);
	if (rc)
		return rc;
	if (nr_frames < FRING_MAX_SEGS * cfg->depth)
		return -EINVAL;
	wl = calloc(1, sizeof(*wl));
	if (!wl)
		return -ENOMEM;
	wl->cfg = *cfg;
	wl->disk = *disk;
	wl->dom = dom;
	wl->stats = stats;
	wl->unit = disk->sector_size / FDATA_SECTOR;
	span = cfg->span && cfg->span < disk->sectors ? cfg->span : disk->sectors;
	span = span < WL_MAX_SPAN ? span : WL_MAX_SPAN;
	wl->span = span - span % FDATA_SECTORS_PER_PAGE;
	wl->hot = wl->span < WL_HOT_SECTORS ? wl->span : WL_HOT_SECTORS;
	wl->next_gen = 1;
	wl_seed(&wl->plan_rng, cfg->seed);
	wl_seed(&wl->aux_rng, cfg->seed ^ 0xa5a5a5a5deadbeefull);
	rc = wl_alloc_tables(wl, first_frame, nr_frames);
	if (rc) {
		workload_destroy(wl);
		return rc;
	}
	*out = wl;
	return 0;
}

void workload_destroy(struct workload *wl)
{
	if (!wl)
		return;
	free(wl->shadow);
	free(wl->writing);
	free(wl->reading);
	free(wl->free_frames);
	free(wl);
}
