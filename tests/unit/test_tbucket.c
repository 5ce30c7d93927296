/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The token bucket: unlimited by default, a burst then a steady rate, debt from one big
 * request paid off before the next, and the wait it reports.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unlimited),
		cmocka_unit_test(test_rate),
		cmocka_unit_test(test_debt),
	};

	return cmocka_run_group_tests_name("tbucket", tests, NULL, NULL);
}
