/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Counters of the simulated blkfront for one whole run (all connections), and the summary it
 * prints at the end. The summary's lines are `key: name=value ...` so a test can grep them, and
 * its last line is always `RESULT: PASS` or `RESULT: FAIL <reasons>`.
 */
#ifndef XBD_SIM_FRONT_STATS_H
#define XBD_SIM_FRONT_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "front_conn.h"

enum fstats_kind {
	FSTATS_READ,
	FSTATS_WRITE,
	FSTATS_FLUSH, /* FLUSH_DISKCACHE without data */
	FSTATS_FLUSH_DATA, /* FLUSH_DISKCACHE with data segments */
	FSTATS_BARRIER, /* WRITE_BARRIER with data segments */
	FSTATS_BARRIER_NODATA, /* WRITE_BARRIER without data */
	FSTATS_DISCARD,
	FSTATS_NR_KINDS,
};

struct fstats {
	unsigned long ops[FSTATS_NR_KINDS];
	unsigned long discard_secure; /* discards with BLKIF_DISCARD_SECURE (also in DISCARD) */
	unsigned long sweep_reads; /* reads (also in ops[READ]) that re-check all written data */
	unsigned long per_queue[FCONN_MAX_QUEUES]; /* requests sent on each queue */
	uint64_t bytes_read;
	uint64_t bytes_written;
	unsigned long status_errors; /* responses other than the one expected */
	unsigned long refused; /* requests that had to fail, and did (read-only, misaligned) */
	unsigned long unexpected_ok; /* requests that had to fail, and succeeded */
	unsigned long eopnotsupp; /* optional operations the backend turned off */
	unsigned long aborted; /* requests still in flight at a teardown */
	unsigned long timeouts; /* a wait for a response or a state that ran out */
	unsigned long lost; /* requests never answered: in flight when a wait ran out */
	unsigned long xenbus_errors; /* handshake or close went wrong */
	unsigned long stopped; /* the run could not go on to the end */
	unsigned long verified_sectors;
	unsigned long mismatches; /* sectors read back wrong */
	unsigned long canary_errors; /* pages changed where the backend must not write */
	uint64_t busy_ns; /* time spent running workloads */
	/* Requests in flight integrated over time (request-nanoseconds), and the last change:
	 * divided by the run's time, the depth a benchmark really kept. */
	uint64_t inflight_area;
	uint64_t inflight_since;
	uint32_t *lat_us; /* one latency per completed request, microseconds */
	size_t nr_lat;
	size_t cap_lat;
};

enum fstats_kind fstats_kind_of(uint8_t op, unsigned int nr_segs);
/* Record one request's latency. 0 or -ENOMEM (then it is not recorded). */
int fstats_add_latency(struct fstats *s, uint64_t ns);
/* True when nothing went wrong. */
bool fstats_passed(const struct fstats *s, const struct fring_stats *r);
/* Sort the latencies, then: the latency at `permille` (500 = the median), microseconds. */
void fstats_sort(struct fstats *s);
uint32_t fstats_permille(const struct fstats *s, unsigned int permille);
/* Requests completed (not aborted). */
unsigned long fstats_total(const struct fstats *s);
/* The summary, ending with the RESULT line. Sorts the latencies. */
void fstats_print(struct fstats *s, const struct fring_stats *r, FILE *out);
void fstats_free(struct fstats *s);

#endif
