/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The simulated blkfront's workload (workload.h): issuing planned requests over the queues of
 * a connection, and checking each completion. Requests are issued strictly in plan order: a
 * request that would overlap a write or discard in flight (or, for a write or discard, any
 * request in flight) waits until it no longer does, so every read has one well-defined
 * expected content. Only page placement, the queue and how requests are batched into ring
 * pushes come from a second generator that also depends on timing.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim_guest.h"
#include "wl_internal.h"

#define WL_WAIT_SLICE_MS 2000

/* ---- set-up ---- */

int workload_create(const struct wl_config *cfg, struct sim_domain *dom, struct fstats *stats,
		    struct workload **out)
{
	struct workload *wl;

	if (cfg->timeout_ms == 0 || cfg->max_segs < FRING_DIRECT_SEGS ||
	    cfg->max_segs > FRING_MAX_SEGS)
		return -EINVAL;
	wl = calloc(1, sizeof(*wl));
	if (!wl)
		return -ENOMEM;
	wl->cfg = *cfg;
	wl->dump_fd = -1;
	wl->dom = dom;
	wl->stats = stats;
	wl->next_gen = 1;
	wl->pend.seg = calloc(cfg->max_segs, sizeof(*wl->pend.seg));
	if (!wl->pend.seg) {
		free(wl);
		return -ENOMEM;
	}
	wl_seed(&wl->plan_rng, cfg->seed);
	wl_seed(&wl->aux_rng, cfg->seed ^ 0xa5a5a5a5deadbeefull);
	wl->ack_fd = cfg->ack_log ? open(cfg->ack_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
					  0644) : -1;
	if (cfg->ack_log && wl->ack_fd < 0) {
		int e = errno;

		free(wl->pend.seg);
		free(wl);
		return -e;
	}
	*out = wl;
	return 0;
}

static void wl_free_pools(struct workload *wl)
{
	unsigned int q;

	for (q = 0; q < FCONN_MAX_QUEUES; q++) {
		free(wl->pool[q].free);
		wl->pool[q] = (struct wl_pool){ 0 };
	}
}

void workload_destroy(struct workload *wl)
{
	unsigned int i;

	if (!wl)
		return;
	if (wl->ack_fd >= 0)
		close(wl->ack_fd);
	for (i = 0; i < wl->nr_io; i++) {
		free(wl->io[i].plan.seg);
		free(wl->io[i].fseg);
	}
	free(wl->io);
	wl_free_pools(wl);
	free(wl->pend.seg);
	free(wl->shadow);
	free(wl->writing);
	free(wl->reading);
	free(wl);
}

/* Grow the per-sector tables to n sectors; the new ones were never written (zeros). */
static int wl_grow_tables(struct workload *wl, uint64_t n)
{
	uint32_t *shadow;
	uint8_t *writing;
	uint16_t *reading;

	if (n <= wl->tables)
		return 0;
	shadow = realloc(wl->shadow, n * sizeof(*shadow));
	if (shadow)
		wl->shadow = shadow;
	writing = realloc(wl->writing, n * sizeof(*writing));
	if (writing)
		wl->writing = writing;
	reading = realloc(wl->reading, n * sizeof(*reading));
	if (reading)
		wl->reading = reading;
	if (!shadow || !writing || !reading)
		return -ENOMEM;
	memset(wl->shadow + wl->tables, 0, (n - wl->tables) * sizeof(*shadow));
	memset(wl->writing + wl->tables, 0, (n - wl->tables) * sizeof(*writing));
	memset(wl->reading + wl->tables, 0, (n - wl->tables) * sizeof(*reading));
	wl->tables = n;
	return 0;
}

static uint64_t wl_span_of(const struct workload *wl, uint64_t sectors)
{
	uint64_t span = wl->cfg.span && wl->cfg.span < sectors ? wl->cfg.span : sectors;

	span = span < WL_MAX_SPAN ? span : WL_MAX_SPAN;
	return span - span % FDATA_SECTORS_PER_PAGE;
}

static int wl_set_span(struct workload *wl, uint64_t sectors)
{
	uint64_t span = wl_span_of(wl, sectors);
	int rc;

	if (span < wl->span || span < 4 * FDATA_SECTORS_PER_PAGE)
		return -EINVAL; /* the disk shrank, or is too small to test */
	rc = wl_grow_tables(wl, span);
	if (rc)
		return rc;
	wl->span = span;
	wl->hot = span < WL_HOT_SECTORS ? span : WL_HOT_SECTORS;
	return 0;
}

int workload_resize(struct workload *wl, uint64_t sectors)
{
	int rc = wl_set_span(wl, sectors);

	if (!rc)
		wl->disk.sectors = sectors;
	return rc;
}

uint64_t workload_span(const struct workload *wl)
{
	return wl->span;
}

static int wl_check_disk(const struct workload *wl, const struct wl_disk *d)
{
	unsigned int ss = d->sector_size;

	/* blkif.h (Xen 4.20): sector-size is a power of two >= 512; segments live in a page. */
	if (ss < FDATA_SECTOR || ss > FDATA_SECTORS_PER_PAGE * FDATA_SECTOR || (ss & (ss - 1)))
		return -EINVAL;
	if (wl->unit && wl->unit != ss / FDATA_SECTOR)
		return -EINVAL; /* the sector size changed across a reconnection */
	if (d->max_segs < 1)
		return -EINVAL;
	return 0;
}

static int wl_fill_pools(struct workload *wl, const struct fconn_conf *cc)
{
	unsigned int q;
	uint32_t i;

	wl_free_pools(wl);
	for (q = 0; q < cc->queues; q++) {
		struct wl_pool *pool = &wl->pool[q];

		pool->free = calloc(cc->pool_frames[q] ? cc->pool_frames[q] : 1, sizeof(uint32_t));
		if (!pool->free)
			return -ENOMEM;
		/* A frame whose grant leaked stays out of every pool for good. */
		for (i = 0; i < cc->pool_frames[q]; i++) {
			uint32_t frame = cc->pool_first[q] + i;

			if (!cc->frame_leaked || !cc->frame_leaked[frame])
				pool->free[pool->nr_free++] = frame;
		}
	}
	wl->nr_queues = cc->queues;
	return 0;
}

static int wl_grow_io(struct workload *wl, unsigned int n)
{
	struct wl_io *io;

	if (n <= wl->nr_io)
		return 0;
	io = realloc(wl->io, n * sizeof(*io));
	if (!io)
		return -ENOMEM;
	memset(io + wl->nr_io, 0, (n - wl->nr_io) * sizeof(*io));
	wl->io = io;
	wl->nr_io = n;
	return 0;
}

static unsigned int wl_ring_slots(const struct fconn *c)
{
	unsigned int q, n = 0;

	for (q = 0; q < c->nr_rings; q++)
		n += c->ring[q].nr_slots;
	return n;
}

int workload_attach(struct workload *wl, struct fconn *c, const struct wl_disk *disk)
{
	int rc;

	if (wl->inflight)
		return -EBUSY;
	rc = wl_check_disk(wl, disk);
	if (!rc) {
		wl->unit = disk->sector_size / FDATA_SECTOR;
		rc = wl_set_span(wl, disk->sectors);
	}
	if (!rc)
		rc = wl_fill_pools(wl, &c->conf);
	if (rc)
		return rc;
	wl->disk = *disk;
	/* No request larger than the configuration allows or the span holds. */
	if (wl->disk.max_segs > wl->cfg.max_segs)
		wl->disk.max_segs = wl->cfg.max_segs;
	if (wl->disk.max_segs > wl->span / FDATA_SECTORS_PER_PAGE)
		wl->disk.max_segs = (unsigned int)(wl->span / FDATA_SECTORS_PER_PAGE);
	wl->depth = wl->cfg.depth ? wl->cfg.depth : wl_ring_slots(c);
	wl->conn = c;
	wl->next_queue = 0;
	return wl_grow_io(wl, wl->depth);
}

unsigned int workload_eopnotsupp(const struct workload *wl)
{
	return wl->eopnotsupp;
}

/* ---- issuing ---- */

/* A write or discard needs its sectors idle; a read needs them free of writes. */
static bool wl_conflicts(const struct workload *wl, const struct wl_plan *p)
{
	bool changes = wl_plan_changes_disk(p);
	uint64_t i;

	if (wl->cfg.no_verify)
		return false;
	for (i = p->sector; i < p->sector + p->nsect; i++) {
		if (wl->writing[i] || (changes && wl->reading[i]))
			return true;
	}
	return false;
}

void wl_mark(struct workload *wl, const struct wl_plan *p, bool in_flight)
{
	bool changes = wl_plan_changes_disk(p);
	uint64_t i;

	if (wl->cfg.no_verify)
		return;
	for (i = p->sector; i < p->sector + p->nsect; i++) {
		if (changes)
			wl->writing[i] = in_flight;
		else if (in_flight)
			wl->reading[i]++;
		else
			wl->reading[i]--;
	}
}

static unsigned int wl_frames_needed(const struct wl_plan *p)
{
	return p->nr_segs + fring_indirect_pages(p->nr_segs);
}

/* The next queue, round robin, whose ring and pages can take the request; -1 if none. */
static int wl_pick_queue(struct workload *wl, const struct wl_plan *p)
{
	unsigned int i, q;

	for (i = 0; i < wl->nr_queues; i++) {
		q = (wl->next_queue + i) % wl->nr_queues;
		if (fring_free_slots(&wl->conn->ring[q]) &&
		    wl->pool[q].nr_free >= wl_frames_needed(p))
			return (int)q;
	}
	return -1;
}

static uint32_t wl_take_frame(struct workload *wl, unsigned int q)
{
	struct wl_pool *pool = &wl->pool[q];
	unsigned int i = (unsigned int)wl_rand(&wl->aux_rng, pool->nr_free);
	uint32_t frame = pool->free[i];

	pool->free[i] = pool->free[--pool->nr_free];
	return frame;
}

static void wl_return_frame(struct workload *wl, unsigned int q, uint32_t frame)
{
	const uint8_t *leaked = wl->conn ? wl->conn->conf.frame_leaked : NULL;

	if (!leaked || !leaked[frame])
		wl->pool[q].free[wl->pool[q].nr_free++] = frame;
}

void wl_return_frames(struct workload *wl, unsigned int q, const struct fring_req *req)
{
	unsigned int i;

	for (i = 0; i < req->nr_segs; i++)
		wl_return_frame(wl, q, req->seg[i].frame);
	for (i = 0; i < fring_indirect_pages(req->nr_segs); i++)
		wl_return_frame(wl, q, req->ind_frame[i]);
}

/* Pages for each segment, filled with the data to write or prepared for a read. */
static void wl_place_segments(struct workload *wl, struct wl_io *io, struct fring_req *req)
{
	const struct wl_plan *p = &io->plan;
	uint64_t lba = p->sector;
	unsigned int i, s;
	unsigned char *page;

	for (i = 0; i < p->nr_segs; i++) {
		io->fseg[i].frame = wl_take_frame(wl, io->queue);
		io->fseg[i].first_sect = p->seg[i].first;
		io->fseg[i].last_sect = p->seg[i].last;
		if (wl->cfg.no_verify)
			continue;
		page = sim_frame(wl->dom, io->fseg[i].frame);
		/* Canary around the segment for both directions; poison inside for a read. */
		fdata_prepare_read(page, p->seg[i].first, p->seg[i].last);
		if (!wl_plan_writes_data(p))
			continue;
		for (s = p->seg[i].first; s <= p->seg[i].last; s++)
			fdata_fill_sector(page + s * FDATA_SECTOR, lba++, p->gen);
	}
	for (i = 0; i < fring_indirect_pages(p->nr_segs); i++)
		req->ind_frame[i] = wl_take_frame(wl, io->queue);
	req->seg = io->fseg;
}

static int wl_io_reserve(struct wl_io *io, unsigned int nr_segs)
{
	struct wl_seg *seg;
	struct fring_seg *fseg;

	if (nr_segs <= io->seg_cap)
		return 0;
	seg = realloc(io->plan.seg, nr_segs * sizeof(*seg));
	if (seg)
		io->plan.seg = seg;
	fseg = realloc(io->fseg, nr_segs * sizeof(*fseg));
	if (fseg)
		io->fseg = fseg;
	if (!seg || !fseg)
		return -ENOMEM;
	io->seg_cap = nr_segs;
	return 0;
}

static struct wl_io *wl_io_get(struct workload *wl, const struct wl_plan *p)
{
	unsigned int i;

	for (i = 0; i < wl->depth && i < wl->nr_io; i++) {
		struct wl_io *io = &wl->io[(wl->submitted + i) % wl->depth];

		if (!io->busy)
			return wl_io_reserve(io, p->nr_segs) ? NULL : io;
	}
	return NULL;
}

/* The plan, with its segments, becomes the in-flight request's own copy. */
static void wl_io_set_plan(struct wl_io *io, const struct wl_plan *p)
{
	struct wl_seg *seg = io->plan.seg;

	io->plan = *p;
	io->plan.seg = seg;
	if (p->nr_segs)
		memcpy(seg, p->seg, p->nr_segs * sizeof(*seg));
}

/* Before wl->inflight changes at `now`: the area under the in-flight curve so far. */
void wl_inflight_changes(struct workload *wl, uint64_t now)
{
	if (wl->stats->inflight_since && now > wl->stats->inflight_since)
		wl->stats->inflight_area += (uint64_t)wl->inflight *
					    (now - wl->stats->inflight_since);
	wl->stats->inflight_since = now;
}

static int wl_issue(struct workload *wl, const struct wl_plan *p, unsigned int q)
{
	struct wl_io *io = wl_io_get(wl, p);
	struct fring_req req;
	int rc;

	if (!io)
		return -EBUSY;
	wl_io_set_plan(io, p);
	io->queue = q;
	memset(&req, 0, sizeof(req));
	req.op = p->op;
	req.discard_flag = p->flag;
	req.nr_segs = p->nr_segs;
	req.sector = p->sector;
	req.nr_sectors = p->op == BLKIF_OP_DISCARD ? p->nsect : 0;
	req.cookie = io;
	wl_place_segments(wl, io, &req);
	io->t_submit = wl_now_ns();
	wl_inflight_changes(wl, io->t_submit);
	rc = fring_submit(&wl->conn->ring[q], &req);
	if (rc) {
		wl_return_frames(wl, q, &req);
		return rc;
	}
	io->busy = true;
	wl_mark(wl, p, true);
	wl->inflight++;
	wl->submitted++;
	wl->stats->per_queue[q]++;
	wl->next_queue = (q + 1) % wl->nr_queues;
	return 0;
}

/* ---- the loop ---- */

/* How many requests go into one push: one at a time, a few, or as many as allowed. */
static unsigned int wl_batch_limit(struct workload *wl)
{
	unsigned int r = (unsigned int)wl_rand(&wl->aux_rng, 10);

	return r < 3 ? 1 : r < 5 ? 4 : UINT32_MAX;
}

/* The pending plan can go now: 1 and *q; 0 if it must wait. */
static int wl_can_issue(struct workload *wl, unsigned int *q)
{
	int picked;

	if (wl->inflight >= wl->depth || wl_conflicts(wl, &wl->pend))
		return 0;
	picked = wl_pick_queue(wl, &wl->pend);
	if (picked < 0)
		return 0;
	*q = (unsigned int)picked;
	return 1;
}

static bool wl_next_pending(struct workload *wl)
{
	if (!wl->pend_valid && !wl->source_done) {
		if (wl->next(wl, &wl->pend))
			wl->pend_valid = true;
		else
			wl->source_done = true;
	}
	return wl->pend_valid;
}

static int wl_fill(struct workload *wl)
{
	unsigned int batch = 0, limit = wl_batch_limit(wl), q;
	int rc;

	while (wl_next_pending(wl) && wl_can_issue(wl, &q)) {
		rc = wl_issue(wl, &wl->pend, q);
		if (rc)
			return rc;
		wl->pend_valid = false;
		if (wl->cfg.die_after && wl->submitted >= wl->cfg.die_after) {
			fconn_kick(wl->conn);
			return -ECANCELED; /* the caller dies with all this in flight */
		}
		if (++batch == limit) {
			rc = fconn_kick(wl->conn);
			if (rc)
				return rc;
			batch = 0;
		}
	}
	return batch ? fconn_kick(wl->conn) : 0;
}

static int wl_timed_out(struct workload *wl)
{
	unsigned int i, shown = 0;

	wl->stats->timeouts++;
	wl->stats->lost += wl->inflight;
	fprintf(stderr, "sim-blkfront: no response for %u ms; %u requests in flight\n",
		wl->cfg.timeout_ms, wl->inflight);
	for (i = 0; i < wl->nr_io && shown < 5; i++) {
		const struct wl_plan *p = &wl->io[i].plan;

		if (!wl->io[i].busy)
			continue;
		shown++;
		fprintf(stderr, "sim-blkfront:   waiting: %s of sector %" PRIu64 " +%" PRIu64
			", %u segments, queue %u\n", fring_op_name(p->op), p->sector, p->nsect,
			p->nr_segs, wl->io[i].queue);
	}
	return -ETIMEDOUT;
}

static int wl_wait(struct workload *wl)
{
	uint64_t waited = wl_now_ns() - wl->last_progress;
	uint64_t limit = (uint64_t)wl->cfg.timeout_ms * 1000000ull;
	uint64_t left_ms;
	int rc;

	if (waited >= limit)
		return wl_timed_out(wl);
	left_ms = (limit - waited) / 1000000ull + 1;
	rc = fconn_wait(wl->conn, left_ms < WL_WAIT_SLICE_MS ? (int)left_ms : WL_WAIT_SLICE_MS);
	return rc == -ETIMEDOUT ? 0 : rc;
}

static int wl_drive(struct workload *wl, wl_next_fn *next)
{
	uint64_t start = wl_now_ns();
	int rc;

	if (!wl->conn)
		return -ENOTCONN;
	wl->next = next;
	wl->pend_valid = false;
	wl->source_done = false;
	wl->last_progress = start;
	for (;;) {
		rc = wl_fill(wl);
		if (rc < 0)
			break;
		if (wl->source_done && !wl->pend_valid && wl->inflight == 0)
			break;
		if (wl->inflight == 0) {
			/* Nothing in flight yet the next request cannot go: pages leaked. */
			fprintf(stderr, "sim-blkfront: out of request pages for a request of %u "
				"segments\n", wl->pend.nr_segs);
			rc = -ENOSPC;
			break;
		}
		rc = fconn_reap(wl->conn, workload_complete, wl);
		if (rc == 0)
			rc = wl_wait(wl);
		if (rc < 0)
			break;
	}
	wl->stats->busy_ns += wl_now_ns() - start;
	return rc < 0 ? rc : 0;
}

int workload_random(struct workload *wl)
{
	wl->random_left = wl->cfg.requests;
	return wl_drive(wl, wl_next_random);
}

int workload_drain(struct workload *wl)
{
	return wl_drive(wl, wl_next_none);
}

int workload_sweep(struct workload *wl)
{
	wl->cursor = 0;
	return wl_drive(wl, wl_next_sweep);
}

int workload_dump(struct workload *wl, int fd)
{
	int rc;

	wl->cursor = 0;
	wl->dump_fd = fd;
	rc = wl_drive(wl, wl_next_dump);
	wl->dump_fd = -1;
	return rc;
}

int workload_probe_misaligned(struct workload *wl)
{
	wl->probe_step = 0;
	return wl_drive(wl, wl_next_probe);
}

int workload_fill(struct workload *wl, uint64_t from)
{
	wl->cursor = (from + FDATA_SECTORS_PER_PAGE - 1) / FDATA_SECTORS_PER_PAGE *
		     FDATA_SECTORS_PER_PAGE;
	if (wl->cursor > wl->span)
		wl->cursor = wl->span;
	wl->cursor_end = wl->span - wl->cursor > WL_FILL_MAX_SECTORS ?
				 wl->cursor + WL_FILL_MAX_SECTORS : wl->span;
	return wl_drive(wl, wl_next_fill);
}

int workload_trim_all(struct workload *wl)
{
	if (!wl->disk.discard)
		return -EOPNOTSUPP;
	wl->cursor = wl_discard_align(wl);
	return wl_drive(wl, wl_next_trim);
}

int workload_bench(struct workload *wl)
{
	uint64_t nsect = wl->cfg.bs / FDATA_SECTOR;

	if (!nsect || wl->cfg.bs % wl->disk.sector_size || nsect > wl->span ||
	    (nsect + FDATA_SECTORS_PER_PAGE - 1) / FDATA_SECTORS_PER_PAGE > wl->disk.max_segs)
		return -EINVAL;
	wl->cursor = 0;
	wl->deadline_ns = wl_now_ns() + (uint64_t)wl->cfg.duration_s * 1000000000ull;
	return wl_drive(wl, wl_next_bench);
}
