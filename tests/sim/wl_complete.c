/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Completion of the simulated blkfront's requests (workload.h): the status checked against
 * what the request had to get, read data checked sector by sector against the shadow table,
 * the pages of writes checked untouched, and the shadow table brought up to date. Mismatches
 * are reported with what was found instead, so a failure can be explained from its log.
 */
#include <inttypes.h>
#include <stdio.h>
#include <unistd.h>

#include "sim_guest.h"
#include "wl_internal.h"

#define WL_REPORT_MAX 20

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
	fprintf(stderr, " (%sread of sector %" PRIu64 " +%" PRIu64 ", %u segments, in segment %u "
		"[%u..%u])\n", io->plan.sweep ? "sweep " : "", io->plan.sector, io->plan.nsect,
		io->plan.nr_segs, seg, io->plan.seg[seg].first, io->plan.seg[seg].last);
}

static void wl_canary_error(struct workload *wl, const char *what, uint64_t sector,
			    unsigned int seg)
{
	wl->stats->canary_errors++;
	if (!wl->cfg.quiet && wl->stats->canary_errors <= WL_REPORT_MAX)
		fprintf(stderr, "sim-blkfront: verify: %s of sector %" PRIu64 ": the backend "
			"changed segment %u's page outside what it may write\n", what, sector, seg);
}

static void wl_verify_read(struct workload *wl, const struct wl_io *io,
			   const struct fring_req *req)
{
	uint64_t lba = req->sector;
	unsigned int i, s;
	const unsigned char *page;

	for (i = 0; i < req->nr_segs; i++) {
		page = sim_frame(wl->dom, req->seg[i].frame);
		if (!fdata_canary_intact(page, req->seg[i].first_sect, req->seg[i].last_sect))
			wl_canary_error(wl, "read", req->sector, i);
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

/* The pages of a write were only for the backend to read: it must have left them alone. */
static void wl_check_write_pages(struct workload *wl, const struct fring_req *req,
				 const struct wl_plan *p)
{
	uint64_t lba = p->sector;
	unsigned int i, s;
	const unsigned char *page;
	bool intact;

	for (i = 0; i < req->nr_segs; i++) {
		page = sim_frame(wl->dom, req->seg[i].frame);
		intact = fdata_canary_intact(page, p->seg[i].first, p->seg[i].last);
		for (s = p->seg[i].first; s <= p->seg[i].last; s++, lba++)
			intact = intact && fdata_check_sector(page + s * FDATA_SECTOR, lba, p->gen);
		if (!intact)
			wl_canary_error(wl, fring_op_name(p->op), p->sector, i);
	}
}

static void wl_commit(struct workload *wl, const struct wl_plan *p, int16_t status)
{
	uint32_t gen;
	uint64_t i;

	if (wl->cfg.no_verify || !wl_plan_changes_disk(p))
		return;
	/* A request refused as expected changed nothing. */
	if (p->expect != WL_EXPECT_OKAY && status != BLKIF_RSP_OKAY)
		return;
	/* After a discard, or a failed write, the sectors hold old or new data or zeros or a
	 * mix: stop checking them. */
	gen = status == BLKIF_RSP_OKAY && wl_plan_writes_data(p) ? p->gen : FDATA_GEN_UNKNOWN;
	for (i = p->sector; i < p->sector + p->nsect; i++)
		wl->shadow[i] = gen;
	if (wl->ack_fd >= 0 && gen != FDATA_GEN_UNKNOWN) {
		char line[64];
		int n = snprintf(line, sizeof(line), "%llu %llu %u\n",
				 (unsigned long long)p->sector, (unsigned long long)p->nsect, gen);

		/* One write(2) per line, at once: the log must survive a crash of the backend. */
		if (write(wl->ack_fd, line, (size_t)n) != n)
			wl->stats->stopped++; /* the log is incomplete: the run cannot pass */
	}
}

static bool wl_feature_offered(const struct workload *wl, uint8_t op)
{
	return (op == BLKIF_OP_FLUSH_DISKCACHE && wl->disk.flush) ||
	       (op == BLKIF_OP_WRITE_BARRIER && wl->disk.barrier) ||
	       (op == BLKIF_OP_DISCARD && wl->disk.discard);
}

/* BLKIF_RSP_EOPNOTSUPP for an optional operation: as Linux, stop sending it. */
static void wl_feature_refused(struct workload *wl, uint8_t op)
{
	wl->stats->eopnotsupp++;
	if (op == BLKIF_OP_FLUSH_DISKCACHE) {
		wl->eopnotsupp |= WL_EOPNOTSUPP_FLUSH;
		wl->disk.flush = false;
	} else if (op == BLKIF_OP_WRITE_BARRIER) {
		wl->eopnotsupp |= WL_EOPNOTSUPP_BARRIER;
		wl->disk.barrier = false;
	} else {
		wl->eopnotsupp |= WL_EOPNOTSUPP_DISCARD;
		wl->disk.discard = false;
	}
}

static void wl_report_status(struct workload *wl, const struct wl_plan *p, int16_t status,
			     const char *what)
{
	if (wl->cfg.quiet || wl->stats->status_errors + wl->stats->unexpected_ok > WL_REPORT_MAX)
		return;
	fprintf(stderr, "sim-blkfront: %s of sector %" PRIu64 " +%" PRIu64 " (%u segments) %s: "
		"status %d\n", fring_op_name(p->op), p->sector, p->nsect, p->nr_segs, what,
		status);
}

static void wl_check_status(struct workload *wl, const struct wl_plan *p, int16_t status)
{
	struct fstats *st = wl->stats;
	bool optional = p->op == BLKIF_OP_FLUSH_DISKCACHE || p->op == BLKIF_OP_WRITE_BARRIER ||
			p->op == BLKIF_OP_DISCARD;

	if (p->expect == WL_EXPECT_ERROR) {
		/* EOPNOTSUPP is a fine refusal of an operation the backend never offered. */
		if (status == BLKIF_RSP_ERROR ||
		    (status == BLKIF_RSP_EOPNOTSUPP && optional && !wl_feature_offered(wl, p->op))) {
			st->refused++;
		} else {
			if (status == BLKIF_RSP_OKAY)
				st->unexpected_ok++;
			else
				st->status_errors++;
			wl_report_status(wl, p, status, "should have failed with BLKIF_RSP_ERROR");
		}
		return;
	}
	if (status == BLKIF_RSP_OKAY)
		return;
	if (status == BLKIF_RSP_EOPNOTSUPP && optional) {
		wl_feature_refused(wl, p->op);
		return;
	}
	st->status_errors++;
	wl_report_status(wl, p, status, "failed");
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
	st->discard_secure += p->op == BLKIF_OP_DISCARD && p->flag;
	st->sweep_reads += p->sweep;
	if (p->op == BLKIF_OP_READ)
		st->bytes_read += p->nsect * FDATA_SECTOR;
	else if (wl_plan_writes_data(p))
		st->bytes_written += p->nsect * FDATA_SECTOR;
	fstats_add_latency(st, wl_now_ns() - io->t_submit);
	wl_check_status(wl, p, status);
}

void workload_complete(void *ctx, const struct fring_req *req, int16_t status)
{
	struct workload *wl = ctx;
	struct wl_io *io = req->cookie;
	const struct wl_plan *p = &io->plan;

	wl_account(wl, io, status);
	if (!wl->cfg.no_verify && wl_plan_writes_data(p))
		wl_check_write_pages(wl, req, p);
	else if (!wl->cfg.no_verify && p->op == BLKIF_OP_READ && status == BLKIF_RSP_OKAY &&
		 p->expect == WL_EXPECT_OKAY)
		wl_verify_read(wl, io, req);
	wl_commit(wl, p, status);
	wl_mark(wl, p, false);
	wl_return_frames(wl, io->queue, req);
	io->busy = false;
	wl->inflight--;
	wl->last_progress = wl_now_ns();
}
