/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Percentiles of the data plane's latency histogram (dataplane.h: bucket i counts requests
 * that took 2^i to 2^(i+1) microseconds, bucket 0 those under 2 us, the last bucket
 * everything above its lower bound). The histogram keeps no finer detail, so a percentile is
 * an estimate at bucket resolution: the bucket that holds it is exact, its place inside the
 * bucket assumes the requests there are spread evenly (linear interpolation). The last bucket
 * is taken as one as wide as its lower bound, like the others. The daemon's `stats` reply and
 * xenblkctl's `top` (over an interval's histogram) both use this.
 */
#ifndef XENBLKD_UTIL_LATENCY_H
#define XENBLKD_UTIL_LATENCY_H

#include <stdint.h>

/* The latency in microseconds under which `ppm` millionths of the n buckets' requests
 * finished (XBD_P50, XBD_P99, XBD_P999; 1..10^6): the request of that rank is placed in its
 * bucket by linear interpolation. 0 and *us, or -ENODATA when the histogram is empty, -EINVAL
 * for ppm out of range or n > 63. Non-decreasing in `ppm`. */
#define XBD_P50 500000u
#define XBD_P99 990000u
#define XBD_P999 999000u
int xbd_latency_percentile(const uint64_t *hist, unsigned int n, uint32_t ppm, double *us);

/* The difference of two samples of one histogram (now - before, per bucket; 0 where a bucket
 * went backwards, which only a restarted counter does). */
void xbd_latency_delta(const uint64_t *now, const uint64_t *before, uint64_t *out,
		       unsigned int n);

#endif
