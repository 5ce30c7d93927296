/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Latency percentiles from the log2 histogram (util/latency.h): worked examples (one bucket,
 * two buckets, bucket 0, the open last bucket, a rank on a bucket's edge), an empty histogram
 * and fractions out of range; and over random histograms, that every estimate lies in the
 * bucket that holds its rank (found by counting here) and that they never decrease with the
 * fraction. The interval difference for `top` too.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "util/latency.h"

#define N 24

static double pct(const uint64_t *h, uint32_t ppm)
{
	double us = -1;

	assert_int_equal(xbd_latency_percentile(h, N, ppm, &us), 0);
	return us;
}

static void near(double got, double want)
{
	if (fabs(got - want) > 1e-9)
		fail_msg("got %.12f, expected %.12f", got, want);
}

static void test_one_bucket(void **state)
{
	uint64_t h[N] = { 0 };

	(void)state;
	h[3] = 100; /* [8, 16) us */
	near(pct(h, XBD_P50), 8 + 8 * 0.50);
	near(pct(h, XBD_P99), 8 + 8 * 0.99);
	near(pct(h, XBD_P999), 8 + 8 * 0.999);
	near(pct(h, 1000000), 16);
}

static void test_two_buckets(void **state)
{
	uint64_t h[N] = { 0 };

	(void)state;
	h[1] = 90;  /* [2, 4) */
	h[10] = 10; /* [1024, 2048) */
	near(pct(h, XBD_P50), 2 + 2 * 50.0 / 90);
	near(pct(h, 900000), 4); /* the 90th request is the last of bucket 1 */
	near(pct(h, 900001), 1024 + 1024 * 0.0001 / 10);
	near(pct(h, XBD_P99), 1024 + 1024 * 9.0 / 10);
	near(pct(h, XBD_P999), 1024 + 1024 * 9.9 / 10);
}

static void test_edges(void **state)
{
	uint64_t h[N] = { 0 };
	double us;

	(void)state;
	assert_int_equal(xbd_latency_percentile(h, N, XBD_P50, &us), -ENODATA);
	h[0] = 10; /* under 2 us */
	near(pct(h, XBD_P50), 1);
	assert_int_equal(xbd_latency_percentile(h, N, 0, &us), -EINVAL);
	assert_int_equal(xbd_latency_percentile(h, N, 1000001, &us), -EINVAL);
	assert_int_equal(xbd_latency_percentile(h, 64, XBD_P50, &us), -EINVAL);
	h[0] = 0;
	h[N - 1] = 4; /* the open last bucket, taken as [2^23, 2^24) */
	near(pct(h, XBD_P50), (double)(1u << 23) * 1.5);
	/* Counts near the top of uint64_t: nothing wraps, and the 4 slow requests still own
	 * the top of the distribution. */
	h[0] = UINT64_MAX;
	h[1] = UINT64_MAX;
	near(pct(h, XBD_P50), 2);
	near(pct(h, 1000000), (double)(1u << 24));
	us = pct(h, 999999);
	assert_true(us > 2 && us < 4);
}

/* The bucket the request of rank ceil(total * ppm / 10^6) falls in, by counting. */
static unsigned int bucket_of_rank(const uint64_t *h, uint32_t ppm)
{
	uint64_t total = 0, cum = 0, rank;

	for (unsigned int i = 0; i < N; i++)
		total += h[i];
	rank = (total * ppm + 999999) / 1000000; /* small totals here: no overflow */
	for (unsigned int i = 0; i < N; i++) {
		cum += h[i];
		if (h[i] && cum >= rank)
			return i;
	}
	return N - 1;
}

static void test_random(void **state)
{
	(void)state;
	srand(21);
	for (int round = 0; round < 2000; round++) {
		uint64_t h[N] = { 0 };
		double last = -1;

		for (int k = rand() % 6 + 1; k > 0; k--)
			h[rand() % N] += (uint64_t)(rand() % 1000) + 1;
		for (uint32_t ppm = 1; ppm <= 1000000; ppm += 997) {
			unsigned int b = bucket_of_rank(h, ppm);
			double lo = b ? (double)(1ull << b) : 0, hi = (double)(1ull << (b + 1));
			double us = pct(h, ppm);

			if (us < last)
				fail_msg("round %d: %.6f at %u ppm after %.6f", round, us, ppm, last);
			if (us < lo || us > hi)
				fail_msg("round %d: %.6f at %u ppm is outside bucket %u", round, us,
					 ppm, b);
			last = us;
		}
	}
}

static void test_delta(void **state)
{
	uint64_t now[4] = { 10, 5, 7, 0 }, before[4] = { 4, 5, 9, 0 }, out[4];

	(void)state;
	xbd_latency_delta(now, before, out, 4);
	assert_int_equal(out[0], 6);
	assert_int_equal(out[1], 0);
	assert_int_equal(out[2], 0); /* went backwards: a restarted counter */
	assert_int_equal(out[3], 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_bucket),
		cmocka_unit_test(test_two_buckets),
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_delta),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
