/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Percentile estimates from a log2 latency histogram (see latency.h). The rank is kept as an
 * exact fraction, total * ppm / 10^6, compared in 128-bit integers: no rounding can move a
 * rank that sits exactly on a bucket's edge (p90 of 90 + 10 requests) into the next bucket,
 * and no count is too large.
 */
#include <errno.h>

#include "latency.h"

__extension__ typedef unsigned __int128 u128;

#define PPM 1000000u

/* Bucket i spans [lo, hi) microseconds: [0, 2) for bucket 0, [2^i, 2^(i+1)) after. */
static void bucket_bounds(unsigned int i, double *lo, double *hi)
{
	*lo = i ? (double)(1ull << i) : 0.0;
	*hi = (double)(1ull << (i + 1));
}

int xbd_latency_percentile(const uint64_t *hist, unsigned int n, uint32_t ppm, double *us)
{
	u128 total = 0, rank, below = 0; /* in millionths of a request */
	double lo, hi;

	if (!ppm || ppm > PPM || n > 63)
		return -EINVAL;
	for (unsigned int i = 0; i < n; i++)
		total += hist[i];
	if (!total)
		return -ENODATA;
	rank = total * ppm;
	for (unsigned int i = 0; i < n; i++) {
		u128 count = (u128)hist[i] * PPM;

		if (!count || below + count < rank) {
			below += count;
			continue;
		}
		bucket_bounds(i, &lo, &hi);
		*us = lo + (hi - lo) * ((long double)(rank - below) / (long double)count);
		return 0;
	}
	return -ENODATA; /* not reached: rank <= total */
}

void xbd_latency_delta(const uint64_t *now, const uint64_t *before, uint64_t *out,
		       unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		out[i] = now[i] >= before[i] ? now[i] - before[i] : 0;
}
