/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The simulated blkfront's counters and end-of-run summary (front_stats.h). Latencies are kept
 * one per request and sorted once at the end: runs are tens of thousands of requests, so exact
 * percentiles cost less than getting a histogram's rounding right.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include "front_stats.h"

enum fstats_kind fstats_kind_of(uint8_t op, unsigned int nr_segs)
{
	switch (op) {
	case BLKIF_OP_READ:
		return FSTATS_READ;
	case BLKIF_OP_WRITE_BARRIER:
		return nr_segs ? FSTATS_BARRIER : FSTATS_BARRIER_NODATA;
	case BLKIF_OP_FLUSH_DISKCACHE:
		return nr_segs ? FSTATS_FLUSH_DATA : FSTATS_FLUSH;
	case BLKIF_OP_DISCARD:
		return FSTATS_DISCARD;
	default:
		return FSTATS_WRITE;
	}
}

int fstats_add_latency(struct fstats *s, uint64_t ns)
{
	uint64_t us = ns / 1000;

	if (s->nr_lat == s->cap_lat) {
		size_t cap = s->cap_lat ? s->cap_lat * 2 : 4096;
		uint32_t *p = realloc(s->lat_us, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		s->lat_us = p;
		s->cap_lat = cap;
	}
	s->lat_us[s->nr_lat++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
	return 0;
}

static unsigned long fstats_errors(const struct fstats *s, const struct fring_stats *r)
{
	return s->status_errors + s->unexpected_ok + s->aborted + s->timeouts + s->xenbus_errors +
	       s->stopped + r->protocol_errors + r->grant_errors + r->lost_notifications;
}

unsigned long fstats_total(const struct fstats *s)
{
	unsigned long total = 0;
	int k;

	for (k = 0; k < FSTATS_NR_KINDS; k++)
		total += s->ops[k];
	return total;
}

bool fstats_passed(const struct fstats *s, const struct fring_stats *r)
{
	return fstats_errors(s, r) == 0 && s->mismatches == 0 && s->canary_errors == 0;
}

static int fstats_cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

void fstats_sort(struct fstats *s)
{
	if (s->nr_lat)
		qsort(s->lat_us, s->nr_lat, sizeof(*s->lat_us), fstats_cmp_u32);
}

/* Nearest rank. */
uint32_t fstats_permille(const struct fstats *s, unsigned int permille)
{
	size_t rank;

	if (!s->nr_lat)
		return 0;
	rank = (s->nr_lat * permille + 999) / 1000;
	return s->lat_us[rank ? rank - 1 : 0];
}

static void fstats_print_result(const struct fstats *s, const struct fring_stats *r, FILE *out)
{
	if (fstats_passed(s, r)) {
		fprintf(out, "RESULT: PASS\n");
		return;
	}
	fprintf(out, "RESULT: FAIL errors=%lu mismatches=%lu canary=%lu\n", fstats_errors(s, r),
		s->mismatches, s->canary_errors);
}

static void fstats_print_queues(const struct fstats *s, const struct fring_stats *r, FILE *out)
{
	unsigned int q, last = 0;

	for (q = 0; q < FCONN_MAX_QUEUES; q++) {
		if (s->per_queue[q])
			last = q;
	}
	fprintf(out, "queues: max_inflight=%u per_queue=", r->max_inflight);
	for (q = 0; q <= last; q++)
		fprintf(out, "%s%lu", q ? "," : "", s->per_queue[q]);
	fprintf(out, "\n");
}

static void fstats_print_requests(const struct fstats *s, const struct fring_stats *r,
				  FILE *out)
{
	fprintf(out, "requests: total=%lu read=%lu write=%lu flush=%lu flush_data=%lu "
		"barrier=%lu barrier_nodata=%lu discard=%lu discard_secure=%lu indirect=%lu "
		"max_segs=%u sweep_reads=%lu\n", fstats_total(s), s->ops[FSTATS_READ],
		s->ops[FSTATS_WRITE], s->ops[FSTATS_FLUSH], s->ops[FSTATS_FLUSH_DATA],
		s->ops[FSTATS_BARRIER], s->ops[FSTATS_BARRIER_NODATA], s->ops[FSTATS_DISCARD],
		s->discard_secure, r->indirect_requests, r->max_segs, s->sweep_reads);
}

void fstats_print(struct fstats *s, const struct fring_stats *r, FILE *out)
{
	double secs = (double)s->busy_ns / 1e9;
	const struct fgnt_stats *g = &r->pgnt;

	fstats_sort(s);
	fstats_print_requests(s, r, out);
	fstats_print_queues(s, r, out);
	fprintf(out, "bytes: read=%" PRIu64 " written=%" PRIu64 "\n", s->bytes_read,
		s->bytes_written);
	fprintf(out, "persistent: new=%lu reused=%lu kept=%lu released=%lu distinct=%lu "
		"mapped_connected=%lu\n", g->new_grants, g->reused, g->kept, g->released,
		g->distinct_refs, g->mapped_connected);
	fprintf(out, "expect: refused=%lu unexpected_ok=%lu eopnotsupp=%lu\n", s->refused,
		s->unexpected_ok, s->eopnotsupp);
	fprintf(out, "errors: status=%lu aborted=%lu timeouts=%lu xenbus=%lu stopped=%lu "
		"protocol=%lu grant=%lu lost_notify=%lu\n", s->status_errors, s->aborted,
		s->timeouts, s->xenbus_errors, s->stopped, r->protocol_errors, r->grant_errors,
		r->lost_notifications);
	/* The restart tests' three counts: never answered, answered twice, never sent. */
	fprintf(out, "responses: lost=%lu twice=%lu unknown_id=%lu\n", s->lost,
		r->answered_twice, r->unknown_ids);
	fprintf(out, "verify: sectors=%lu mismatches=%lu canary=%lu\n", s->verified_sectors,
		s->mismatches, s->canary_errors);
	fprintf(out, "events: notifies_sent=%lu events_received=%lu\n", r->notifies_sent,
		r->events_received);
	fprintf(out, "time: elapsed_s=%.3f iops=%.0f lat_p50_us=%u lat_p99_us=%u "
		"lat_p999_us=%u lat_max_us=%u\n", secs,
		secs > 0 ? (double)fstats_total(s) / secs : 0.0, fstats_permille(s, 500),
		fstats_permille(s, 990), fstats_permille(s, 999),
		s->nr_lat ? s->lat_us[s->nr_lat - 1] : 0);
	fstats_print_result(s, r, out);
}

void fstats_free(struct fstats *s)
{
	free(s->lat_us);
	s->lat_us = NULL;
	s->nr_lat = s->cap_lat = 0;
}
