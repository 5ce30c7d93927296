/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The request streams of the simulated blkfront's workload: each wl_next_*() function plans
 * the next request of one stream (random mix, read-back sweep, misaligned probes, sequential
 * fill, trim, benchmark) or says the stream is over. Plans come from the plan generator only,
 * which the seed alone decides, so a seed gives the same requests and data on every run;
 * pages and queues are chosen later, in workload.c.
 */
#include <string.h>
#include <unistd.h>
#include <time.h>

#include "wl_internal.h"

#define WL_DISCARD_MAX_SECTORS 2048u /* a random discard covers at most 1 MiB */

uint64_t wl_now_ns(void)
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

void wl_seed(struct wl_rng *g, uint64_t seed)
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
uint64_t wl_rand(struct wl_rng *g, uint64_t n)
{
	return wl_next64(g) % n;
}

bool wl_plan_writes_data(const struct wl_plan *p)
{
	return p->nr_segs > 0 && (p->op == BLKIF_OP_WRITE || p->op == BLKIF_OP_WRITE_BARRIER ||
				  p->op == BLKIF_OP_FLUSH_DISKCACHE);
}

bool wl_plan_changes_disk(const struct wl_plan *p)
{
	return wl_plan_writes_data(p) || p->op == BLKIF_OP_DISCARD;
}

static void wl_plan_clear(struct wl_plan *p)
{
	struct wl_seg *seg = p->seg;

	memset(p, 0, sizeof(*p));
	p->seg = seg;
}

/* Segment i covers sectors [first, first + n) of its page. */
static void wl_plan_seg(struct wl_plan *p, unsigned int i, unsigned int first, unsigned int n)
{
	p->seg[i].first = (uint8_t)first;
	p->seg[i].last = (uint8_t)(first + n - 1);
	p->nsect += n;
}

/* Whole pages from the start of each, the last one possibly partial: `nsect` sectors. */
static void wl_plan_pages(struct wl_plan *p, uint64_t nsect)
{
	unsigned int i = 0;

	p->nsect = 0;
	while (p->nsect < nsect) {
		uint64_t left = nsect - p->nsect;

		wl_plan_seg(p, i++, 0, left < FDATA_SECTORS_PER_PAGE ? (unsigned int)left :
								      FDATA_SECTORS_PER_PAGE);
	}
	p->nr_segs = (uint16_t)i;
}

/* ---- the random mix ---- */

uint64_t wl_discard_gran(const struct workload *wl)
{
	uint64_t g = wl->disk.discard_granularity / FDATA_SECTOR;

	/* Whole sectors of the disk, at least one; blkif.h says a power of two. */
	return g > wl->unit ? (g + wl->unit - 1) / wl->unit * wl->unit : wl->unit;
}

uint64_t wl_discard_align(const struct workload *wl)
{
	uint64_t g = wl_discard_gran(wl), a = (wl->disk.discard_alignment / FDATA_SECTOR) % g;

	return (a + wl->unit - 1) / wl->unit * wl->unit % g;
}

static bool wl_can_discard(const struct workload *wl)
{
	return wl->cfg.discard && wl->disk.discard &&
	       wl->span >= wl_discard_align(wl) + 4 * wl_discard_gran(wl);
}

/* The operation: 40% reads, 35% writes, 10% flushes (half with data), 8% barriers, 7%
 * discards; whatever the backend does not offer becomes a write. On a disk expected to be
 * read-only, all but flushes are sent anyway and must fail. */
static void wl_plan_kind(struct workload *wl, struct wl_plan *p)
{
	unsigned int r = (unsigned int)wl_rand(&wl->plan_rng, 100);
	const struct wl_disk *d = &wl->disk;
	bool ro = wl->cfg.expect_readonly;

	p->op = BLKIF_OP_WRITE;
	p->nr_segs = 1; /* 0 for a flush or barrier without data, and a discard */
	if (r < 40 || (d->readonly && !ro)) {
		p->op = BLKIF_OP_READ;
	} else if (r >= 75 && r < 85 && d->flush && !ro) {
		p->op = BLKIF_OP_FLUSH_DISKCACHE;
		p->nr_segs = r < 80 ? 0 : 1;
	} else if (r >= 85 && r < 93 && (d->barrier || ro)) {
		p->op = BLKIF_OP_WRITE_BARRIER;
		p->nr_segs = (wl->cfg.barrier || ro) && r >= 90 ? 0 : 1;
	} else if (r >= 93 && (wl_can_discard(wl) || (ro && wl->cfg.discard))) {
		p->op = BLKIF_OP_DISCARD;
		p->nr_segs = 0;
	}
	if (ro && p->op != BLKIF_OP_READ)
		p->expect = WL_EXPECT_ERROR;
}

static unsigned int wl_pick_nr_segs(struct workload *wl, uint8_t op)
{
	unsigned int max = wl->disk.max_segs;

	/* As Linux: only reads and writes go indirect; half of them do when they may. */
	if ((op != BLKIF_OP_READ && op != BLKIF_OP_WRITE) || max <= FRING_DIRECT_SEGS ||
	    wl_rand(&wl->plan_rng, 2))
		return 1 + (unsigned int)wl_rand(&wl->plan_rng, FRING_DIRECT_SEGS);
	return FRING_DIRECT_SEGS + 1 +
	       (unsigned int)wl_rand(&wl->plan_rng, max - FRING_DIRECT_SEGS);
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
		wl_plan_seg(p, 0, a * wl->unit, wl->unit);
		return;
	}
	p->nr_segs = (uint16_t)wl_pick_nr_segs(wl, p->op);
	for (i = 0; i < p->nr_segs; i++) {
		if (shape < 40) {
			wl_plan_seg(p, i, 0, FDATA_SECTORS_PER_PAGE); /* whole pages */
			continue;
		}
		/* Part of a page: first_sect > 0 and last_sect < 7 happen often. */
		a = (unsigned int)wl_rand(&wl->plan_rng, units);
		b = (unsigned int)wl_rand(&wl->plan_rng, units);
		if (a > b) {
			unsigned int t = a;

			a = b;
			b = t;
		}
		wl_plan_seg(p, i, a * wl->unit, (b - a + 1) * wl->unit);
	}
}

static void wl_plan_discard(struct workload *wl, struct wl_plan *p)
{
	uint64_t g = wl_discard_gran(wl), a = wl_discard_align(wl);
	uint64_t region = wl_rand(&wl->plan_rng, 2) ? wl->hot : wl->span;
	uint64_t slots, n, most = WL_DISCARD_MAX_SECTORS / g ? WL_DISCARD_MAX_SECTORS / g : 1;

	if (region < a + 4 * g)
		region = wl->span;
	slots = (region - a) / g; /* whole granules in the region */
	if (slots == 0) /* only when discards go to a disk that offers none */
		slots = 1;
	n = 1 + wl_rand(&wl->plan_rng, most < slots ? most : slots);
	p->sector = a + wl_rand(&wl->plan_rng, slots - n + 1) * g;
	p->nsect = n * g;
	if (wl->disk.discard_secure && wl_rand(&wl->plan_rng, 2))
		p->flag = BLKIF_DISCARD_SECURE;
}

static void wl_plan_random(struct workload *wl, struct wl_plan *p)
{
	uint64_t region, slots;

	wl_plan_clear(p);
	wl_plan_kind(wl, p);
	if (p->op == BLKIF_OP_DISCARD) {
		wl_plan_discard(wl, p);
		return;
	}
	if (p->nr_segs == 0)
		return; /* a flush or barrier without data: sector 0, no segments */
	wl_plan_segments(wl, p);
	/* Half of the requests go to a small hot region, so reads often meet written data. */
	region = wl_rand(&wl->plan_rng, 2) ? wl->hot : wl->span;
	if (region < p->nsect)
		region = wl->span; /* attach made sure the largest request fits the span */
	slots = (region - p->nsect) / wl->unit + 1;
	p->sector = wl_rand(&wl->plan_rng, slots) * wl->unit;
	if (wl_plan_writes_data(p))
		p->gen = wl->next_gen++;
}

int wl_next_random(struct workload *wl, struct wl_plan *p)
{
	if (wl->random_left == 0)
		return 0;
	/* A run of unknown length (the kill loop) ends when told, by a file: no signal to
	 * interrupt the waits. */
	if (wl->cfg.stop_file && wl->random_left % 64 == 0 && access(wl->cfg.stop_file, F_OK) == 0) {
		wl->random_left = 0;
		return 0;
	}
	wl->random_left--;
	wl_plan_random(wl, p);
	return 1;
}

int wl_next_none(struct workload *wl, struct wl_plan *p)
{
	return 0;
}

/* ---- read-back sweep ---- */

static bool wl_range_written(const struct workload *wl, uint64_t start, uint64_t n)
{
	uint64_t i;

	for (i = start; i < start + n; i++) {
		if (wl->shadow[i] != FDATA_GEN_ZERO)
			return true;
	}
	return false;
}

/* The largest whole-page request of the connection, capped: a multiple of a page. */
static uint64_t wl_chunk(const struct workload *wl, uint64_t cap)
{
	uint64_t n = (uint64_t)wl->disk.max_segs * FDATA_SECTORS_PER_PAGE;

	return n < cap ? n : cap;
}

/* The sweep reads, in whole-page chunks, every chunk that holds written data. */
int wl_next_sweep(struct workload *wl, struct wl_plan *p)
{
	uint64_t start, n, chunk = wl_chunk(wl, WL_SWEEP_MAX_SECTORS);

	while (wl->cursor < wl->span) {
		start = wl->cursor;
		n = wl->span - start < chunk ? wl->span - start : chunk;
		wl->cursor += n;
		if (!wl_range_written(wl, start, n))
			continue;
		wl_plan_clear(p);
		p->op = BLKIF_OP_READ;
		p->sweep = true;
		p->sector = start;
		wl_plan_pages(p, n);
		return 1;
	}
	return 0;
}

/* The dump reads the whole span in order, written or not. */
int wl_next_dump(struct workload *wl, struct wl_plan *p)
{
	uint64_t start = wl->cursor, chunk = wl_chunk(wl, WL_SWEEP_MAX_SECTORS);
	uint64_t n = wl->span - start < chunk ? wl->span - start : chunk;

	if (start >= wl->span)
		return 0;
	wl->cursor += n;
	wl_plan_clear(p);
	p->op = BLKIF_OP_READ;
	p->sector = start;
	wl_plan_pages(p, n);
	return 1;
}

/* ---- requests not aligned to the sector size ---- */

int wl_next_probe(struct workload *wl, struct wl_plan *p)
{
	unsigned int u = wl->unit;

	if (u == 1 || wl->probe_step >= 4)
		return 0;
	wl_plan_clear(p);
	p->expect = WL_EXPECT_ERROR;
	p->nr_segs = 1;
	switch (wl->probe_step++) {
	case 0: /* a whole sector-size, at an odd 512-byte sector */
		p->op = BLKIF_OP_READ;
		p->sector = 1;
		wl_plan_seg(p, 0, 0, u);
		break;
	case 1: /* 512 bytes where the sector is bigger */
		p->op = BLKIF_OP_READ;
		wl_plan_seg(p, 0, 0, 1);
		break;
	case 2: /* a write at an odd sector: on success it would land off the sector grid */
		p->op = BLKIF_OP_WRITE;
		p->sector = 2 * u + 1;
		wl_plan_seg(p, 0, 0, u);
		break;
	default: /* an aligned write one sector short, starting 512 bytes into its page */
		p->op = BLKIF_OP_WRITE;
		p->sector = 4 * u;
		wl_plan_seg(p, 0, 1, u - 1);
		break;
	}
	if (wl_plan_writes_data(p))
		p->gen = wl->next_gen++;
	return 1;
}

/* ---- sequential writes of a range, and trimming ---- */

int wl_next_fill(struct workload *wl, struct wl_plan *p)
{
	uint64_t n, chunk = wl_chunk(wl, WL_SWEEP_MAX_SECTORS);

	if (wl->cursor >= wl->cursor_end)
		return 0;
	n = wl->cursor_end - wl->cursor < chunk ? wl->cursor_end - wl->cursor : chunk;
	wl_plan_clear(p);
	p->op = BLKIF_OP_WRITE;
	p->sector = wl->cursor;
	wl_plan_pages(p, n);
	p->gen = wl->next_gen++;
	wl->cursor += n;
	return 1;
}

int wl_next_trim(struct workload *wl, struct wl_plan *p)
{
	uint64_t g = wl_discard_gran(wl), chunk = WL_DISCARD_MAX_SECTORS, n;

	chunk = chunk > g ? chunk / g * g : g;
	if (wl->cursor + g > wl->span)
		return 0;
	n = (wl->span - wl->cursor) / g * g;
	wl_plan_clear(p);
	p->op = BLKIF_OP_DISCARD;
	p->sector = wl->cursor;
	p->nsect = n < chunk ? n : chunk;
	wl->cursor += p->nsect;
	return 1;
}

/* ---- the benchmark ---- */

int wl_next_bench(struct workload *wl, struct wl_plan *p)
{
	uint64_t nsect = wl->cfg.bs / FDATA_SECTOR;

	if (wl_now_ns() >= wl->deadline_ns)
		return 0;
	wl_plan_clear(p);
	p->op = wl->cfg.pattern == WL_PATTERN_RANDWRITE ? BLKIF_OP_WRITE : BLKIF_OP_READ;
	if (wl->cfg.pattern == WL_PATTERN_SEQREAD) {
		if (wl->cursor + nsect > wl->span)
			wl->cursor = 0;
		p->sector = wl->cursor;
		wl->cursor += nsect;
	} else {
		p->sector = wl_rand(&wl->plan_rng, wl->span / nsect) * nsect;
	}
	wl_plan_pages(p, nsect);
	if (wl_plan_writes_data(p))
		p->gen = wl->next_gen++;
	return 1;
}
