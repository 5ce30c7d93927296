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

#include "front_ring.h"

enum fstats_kind {
	FSTATS_READ,
	FSTATS_WRITE,
	FSTATS_FLUSH, /* FLUSH_DISKCACHE without data */
	FSTATS_FLUSH_DATA, /* FLUSH_DISKCACHE with data segments */
	FSTATS_BARRIER, /* WRITE_BARRIER with data segments */
	FSTATS_NR_KINDS,
};

struct fstats {
	unsigned long ops[FSTATS_NR_KINDS];
	unsigned long sweep_reads; /* reads (also in ops[READ]) that re-check all written data */
	uint64_t bytes_read;
	uint64_t bytes_written;
	unsigned long status_errors; /* responses other than BLKIF_RSP_OKAY */
	unsigned long aborted; /* requests still in flight at a teardown */
	unsigned long timeouts; /* a wait for a response or a state that ran out */
	unsigned long xenbus_errors; /* handshake or close went wrong */
	unsigned long stopped; /* the run could not go on to the end */
	unsigned long verified_sectors;
	unsigned long mismatches; /* sectors read back wrong */
	unsigned long canary_errors; /* pages changed where the backend must not write */
	uint64_t busy_ns; /* time spent running workloads */
	uint32_t *lat_us; /* one latency per completed request, microseconds */
	size_t nr_lat;
	size_t cap_lat;
};

enum fstats_kind fstats_kind_of(uint8_t op, unsigned int nr_segs);
/* Record one request's latency. 0 or -ENOMEM (then it is not recorded). */
int fstats_add_latency(struct fstats *s, uint64_t ns);
/* True when nothing went wrong. */
bool fstats_passed(const struct fstats *s, const struct fring_stats *r);
/* The summary, ending with the RESULT line. Sorts the latencies. */
void fstats_print(struct fstats *s, const struct fring_stats *r, FILE *out);
void fstats_free(struct fstats *s);

#endif
