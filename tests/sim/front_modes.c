/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * sim-blkfront's other run modes and its summary: the matrix (one connection per
 * configuration of ring order, queues, ABI, indirect and persistent grants, reconnecting
 * through Closed and Initialising in between, with the data checked all along), and the
 * benchmark (one pattern at one block size for a while, IOPS and latency percentiles).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <xen/io/xenbus.h>

#include "blkfront.h"

static const unsigned int front_matrix_queues[] = { 1, 2, 4 };
static const enum fabi front_matrix_abis[] = { FABI_NATIVE, FABI_X86_32, FABI_X86_64 };

#define FRONT_MATRIX_INDIRECT 256u


/* Did the backend give less than the configuration asked for? */
static void front_matrix_check(struct front *f, const struct front_ask *ask)
{
	const struct front_ask *got = &f->agreed.got;

	if (got->order == ask->order && got->queues == ask->queues &&
	    (got->indirect != 0) == (ask->indirect != 0))
		return;
	f->matrix_clamped++;
	LOG(f, "matrix: asked order %u, %u queues, indirect %u; got %u, %u, %u\n", ask->order,
	    ask->queues, ask->indirect, got->order, got->queues, got->indirect);
}

static int front_matrix_one(struct front *f, const struct front_ask *ask)
{
	int rc;

	f->ask = *ask;
	LOG(f, "matrix configuration %lu: order %u, %u queues, %s, indirect %u, %spersistent\n",
	    f->matrix_configs + 1, ask->order, ask->queues, fabi_name(ask->abi), ask->indirect,
	    ask->persistent ? "" : "not ");
	if (f->connections > 0) {
		/* Reconnect: Closed -> Initialising, and the backend returns to InitWait. */
		rc = front_set_state(f, XenbusStateInitialising);
		if (rc)
			return rc;
	}
	rc = front_session(f);
	if (rc)
		ERR("matrix configuration %lu failed: order %u, %u queues, %s, indirect %u, "
		    "persistent %d\n", f->matrix_configs + 1, ask->order, ask->queues,
		    fabi_name(ask->abi), ask->indirect, ask->persistent);
	else
		front_matrix_check(f, ask);
	f->matrix_configs++;
	return rc;
}

/* Indirect and persistent, on and off, for one ring order, queue count and ABI. */
static int front_matrix_cell(struct front *f, struct front_ask *ask)
{
	unsigned int ind, pers;
	int rc;

	for (ind = 0; ind < 2; ind++) {
		for (pers = 0; pers < 2; pers++) {
			ask->indirect = ind ? (f->opt.indirect ? f->opt.indirect :
						FRONT_MATRIX_INDIRECT) : 0;
			ask->persistent = pers;
			rc = front_matrix_one(f, ask);
			if (rc)
				return rc;
		}
	}
	return 0;
}

int front_matrix(struct front *f)
{
	struct front_ask ask = { .protocol = true };
	unsigned int q, a;
	int rc;

	f->opt.wl.requests = f->opt.matrix_requests;
	for (ask.order = 0; ask.order <= FRING_MAX_ORDER; ask.order++) {
		for (q = 0; q < sizeof(front_matrix_queues) / sizeof(front_matrix_queues[0]); q++) {
			for (a = 0; a < sizeof(front_matrix_abis) / sizeof(front_matrix_abis[0]);
			     a++) {
				ask.queues = front_matrix_queues[q];
				ask.abi = front_matrix_abis[a];
				rc = front_matrix_cell(f, &ask);
				if (rc)
					return rc;
			}
		}
	}
	return 0;
}

int front_bench(struct front *f)
{
	uint64_t busy, area;
	size_t done;
	unsigned int q;
	int rc, rc_close;

	rc = front_connect(f);
	if (rc) {
		front_abandon(f);
		return rc;
	}
	f->bench_depth = f->opt.wl.depth;
	for (q = 0; !f->bench_depth && q < f->conn.nr_rings; q++)
		f->bench_depth += f->conn.ring[q].nr_slots;
	busy = f->stats.busy_ns;
	done = f->stats.nr_lat;
	area = f->stats.inflight_area;
	rc = front_run(f, "benchmark", workload_bench);
	f->bench_inflight_area = f->stats.inflight_area - area;
	f->bench_ns = f->stats.busy_ns - busy;
	f->bench_requests = f->stats.nr_lat - done;
	rc_close = front_close(f);
	return rc ? rc : rc_close;
}

static const char *front_pattern_name(enum wl_pattern p)
{
	switch (p) {
	case WL_PATTERN_RANDREAD:
		return "randread";
	case WL_PATTERN_RANDWRITE:
		return "randwrite";
	case WL_PATTERN_SEQREAD:
		return "seqread";
	default:
		return "mixed";
	}
}

static void front_print_bench(struct front *f, FILE *out)
{
	double secs = (double)f->bench_ns / 1e9;
	double iops = secs > 0 ? (double)f->bench_requests / secs : 0;

	fstats_sort(&f->stats);
	/* mean_inflight: the depth really kept (time-weighted), to compare with depth. */
	fprintf(out, "bench: pattern=%s bs=%u depth=%u verify=%d requests=%lu elapsed_s=%.3f "
		"iops=%.0f mib_s=%.1f lat_p50_us=%u lat_p99_us=%u lat_p999_us=%u "
		"mean_inflight=%.2f max_inflight=%u\n",
		front_pattern_name(f->opt.wl.pattern), f->opt.wl.bs, f->bench_depth,
		!f->opt.wl.no_verify, f->bench_requests, secs, iops,
		iops * f->opt.wl.bs / (1024.0 * 1024.0), fstats_permille(&f->stats, 500),
		fstats_permille(&f->stats, 990), fstats_permille(&f->stats, 999),
		f->bench_ns ? (double)f->bench_inflight_area / (double)f->bench_ns : 0.0,
		f->rstats.max_inflight);
}

static void front_print_features(struct front *f, FILE *out)
{
	const struct front_ask *got = &f->agreed.got;
	const struct wl_disk *d = &f->disk;

	fprintf(out, "features: protocol=%s abi=%s ring_order=%u queues=%u indirect=%u "
		"persistent=%d flush=%d barrier=%d discard=%d discard_secure=%d "
		"discard_granularity=%u discard_alignment=%u sector_size=%u "
		"physical_sector_size=%llu info=%#llx sectors=%" PRIu64 "\n",
		got->protocol ? fabi_protocol(got->abi) : "absent", fabi_name(got->abi),
		got->order, got->queues, got->indirect, got->persistent, d->flush, d->barrier,
		d->discard, d->discard_secure, d->discard_granularity, d->discard_alignment,
		d->sector_size, f->agreed.physical_sector_size, f->agreed.info, d->sectors);
	fprintf(out, "offered: max_ring_page_order=%llu multi_queue_max_queues=%llu "
		"max_indirect_segments=%llu persistent=%d\n", f->offer.max_order,
		f->offer.max_queues, f->offer.max_indirect, f->offer.persistent);
}

void front_print_summary(struct front *f, FILE *out)
{
	front_print_features(f, out);
	fprintf(out, "connections: count=%u state_events=%lu\n", f->connections,
		f->state_events);
	if (f->opt.expect_resize)
		fprintf(out, "resize: from_sectors=%" PRIu64 " to_sectors=%" PRIu64 "\n",
			f->resize_from, f->resize_to);
	if (f->opt.stay_closing || f->opt.hang)
		fprintf(out, "closing: backend_closed_after_ms=%" PRIu64 "\n", f->closing_ms);
	if (f->opt.expect_unplug)
		fprintf(out, "unplug: seen=%d\n", f->unplugged);
	if (f->opt.matrix)
		fprintf(out, "matrix: configs=%lu clamped=%lu\n", f->matrix_configs,
			f->matrix_clamped);
	if (f->opt.bench)
		front_print_bench(f, out);
	fstats_print(&f->stats, &f->rstats, out);
}
