/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The token bucket: unlimited by default, a burst then a steady rate, debt from one big
 * request paid off before the next, and the wait it reports; and the arithmetic at the edges
 * (a long idle time at a high rate, the highest rate, a huge debt at the lowest rate), where
 * 64-bit products used to wrap.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <limits.h>
#include <stdint.h>
#include <cmocka.h>

#include "backend/tbucket.h"

#define MS 1000000ull

static void test_unlimited(void **state)
{
	struct xbd_tbucket tb;

	(void)state;
	xbd_tb_init(&tb, 0, 0);
	for (int i = 0; i < 1000; i++) {
		assert_true(xbd_tb_ready(&tb, 0));
		xbd_tb_take(&tb, 1u << 20);
	}
	assert_int_equal(xbd_tb_wait_ms(&tb), 0);
}

static void test_rate(void **state)
{
	struct xbd_tbucket tb;
	unsigned int started = 0;

	(void)state;
	xbd_tb_init(&tb, 1000, 0); /* 1000/s, burst 100 */
	/* Over one simulated second at 1 ms steps, about 1000 + the burst start. */
	for (uint64_t t = 0; t <= 1000 * MS; t += MS)
		while (xbd_tb_ready(&tb, t)) {
			xbd_tb_take(&tb, 1);
			started++;
		}
	assert_in_range(started, 1095, 1105);
}

static void test_debt(void **state)
{
	struct xbd_tbucket tb;

	(void)state;
	xbd_tb_init(&tb, 1000, 0); /* bytes/s, burst 100 */
	assert_true(xbd_tb_ready(&tb, 0));
	xbd_tb_take(&tb, 1100); /* one big request: 1000 in debt */
	assert_false(xbd_tb_ready(&tb, 0));
	assert_int_equal(xbd_tb_wait_ms(&tb), 1001);
	assert_false(xbd_tb_ready(&tb, 900 * MS));
	assert_true(xbd_tb_ready(&tb, 1001 * MS));
}

/* An hour idle at 10 GB/s: (now - last) * rate is 3.6e22, past 2^64. The bucket must be
 * exactly full, and the steady rate right after it exact. */
static void test_long_idle_high_rate(void **state)
{
	const uint64_t rate = 10000000000ull, hour = 3600ull * 1000 * MS;
	struct xbd_tbucket tb;

	(void)state;
	xbd_tb_init(&tb, rate, 0);
	assert_true(xbd_tb_ready(&tb, 0));
	xbd_tb_take(&tb, rate / 10 + (4u << 20)); /* the burst and a 4 MiB request's debt */
	assert_false(xbd_tb_ready(&tb, 0));
	assert_true(xbd_tb_ready(&tb, hour));
	assert_int_equal(tb.tokens, rate / 10);
	assert_int_equal(xbd_tb_wait_ms(&tb), 0);
	xbd_tb_take(&tb, rate / 10);
	assert_false(xbd_tb_ready(&tb, hour));
	assert_true(xbd_tb_ready(&tb, hour + MS));
	assert_int_equal(tb.tokens, rate / 1000);
}

/* The highest rate there is, after the longest gap there is: no wrap, a full bucket. */
static void test_max_rate_max_gap(void **state)
{
	struct xbd_tbucket tb;

	(void)state;
	xbd_tb_init(&tb, UINT64_MAX, 0);
	xbd_tb_take(&tb, UINT64_MAX / 10 + 1000);
	assert_false(xbd_tb_ready(&tb, 0));
	/* 1 ns at 1.8e19 per second is 1.8e10 tokens: more than the debt. */
	assert_true(xbd_tb_ready(&tb, 1));
	assert_int_equal(tb.tokens, (int64_t)(18446744073ull - 1000));
	xbd_tb_take(&tb, UINT64_MAX / 10);
	assert_true(xbd_tb_ready(&tb, UINT64_MAX));
	assert_int_equal(tb.tokens, (int64_t)(UINT64_MAX / 10));
	assert_int_equal(tb.last_ns, UINT64_MAX);
}

/* The wait: at the highest rate any debt is paid within a millisecond (need * 1000 + rate
 * used to wrap to 0: "ready" while in debt); at 1 byte/s a 16 MiB debt is more milliseconds
 * than an int holds. */
static void test_wait_extremes(void **state)
{
	struct xbd_tbucket tb;

	(void)state;
	xbd_tb_init(&tb, UINT64_MAX, 0);
	xbd_tb_take(&tb, UINT64_MAX / 10 + 5);
	assert_int_equal(xbd_tb_wait_ms(&tb), 1);
	xbd_tb_init(&tb, 1, 0);
	xbd_tb_take(&tb, 16u << 20);
	assert_int_equal(xbd_tb_wait_ms(&tb), INT_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unlimited),
		cmocka_unit_test(test_rate),
		cmocka_unit_test(test_debt),
		cmocka_unit_test(test_long_idle_high_rate),
		cmocka_unit_test(test_max_rate_max_gap),
		cmocka_unit_test(test_wait_extremes),
	};

	return cmocka_run_group_tests_name("tbucket", tests, NULL, NULL);
}
