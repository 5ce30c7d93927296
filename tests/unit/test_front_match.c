/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The simulated blkfront's reading of a response id (tests/sim/front_match.c): what the
 * restart tests count as answered twice, never sent, or outstanding.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "front_match.h"

#define FIRST 0x5b100000u
#define ID(seq, slot) (((uint64_t)(seq) << 32) | (slot))

static void test_outstanding(void **state)
{
	assert_int_equal(fmatch_response(ID(FIRST + 4, 3), FIRST, FIRST + 5, 32, true,
					 ID(FIRST + 4, 3)), FMATCH_OUTSTANDING);
}

/* Answered, and its slot free or reused by a later request: a second answer is "twice". */
static void test_twice(void **state)
{
	assert_int_equal(fmatch_response(ID(FIRST + 4, 3), FIRST, FIRST + 9, 32, false, 0),
			 FMATCH_TWICE);
	assert_int_equal(fmatch_response(ID(FIRST + 4, 3), FIRST, FIRST + 9, 32, true,
					 ID(FIRST + 8, 3)), FMATCH_TWICE);
	assert_int_equal(fmatch_response(ID(FIRST, 0), FIRST, FIRST + 1, 32, false, 0),
			 FMATCH_TWICE);
}

static void test_unknown(void **state)
{
	/* A sequence not sent yet, one before the first, a slot beyond the ring. */
	assert_int_equal(fmatch_response(ID(FIRST + 9, 3), FIRST, FIRST + 9, 32, false, 0),
			 FMATCH_UNKNOWN);
	assert_int_equal(fmatch_response(ID(FIRST - 1, 3), FIRST, FIRST + 9, 32, false, 0),
			 FMATCH_UNKNOWN);
	assert_int_equal(fmatch_response(ID(FIRST + 1, 32), FIRST, FIRST + 9, 32, true,
					 ID(FIRST + 1, 32)), FMATCH_UNKNOWN);
	assert_int_equal(fmatch_response(0, FIRST, FIRST + 9, 32, false, 0), FMATCH_UNKNOWN);
	/* Nothing sent: nothing can be answered twice. */
	assert_int_equal(fmatch_response(ID(FIRST, 0), FIRST, FIRST, 32, false, 0),
			 FMATCH_UNKNOWN);
}

/* The sequence wraps past 2^32 on a long run: still told apart. */
static void test_wrap(void **state)
{
	uint32_t first = 0xfffffff0u, next = 0x10u;

	assert_int_equal(fmatch_response(ID(0xfffffffeu, 1), first, next, 32, false, 0),
			 FMATCH_TWICE);
	assert_int_equal(fmatch_response(ID(0x5u, 1), first, next, 32, false, 0), FMATCH_TWICE);
	assert_int_equal(fmatch_response(ID(0x10u, 1), first, next, 32, false, 0),
			 FMATCH_UNKNOWN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_outstanding),
		cmocka_unit_test(test_twice),
		cmocka_unit_test(test_unknown),
		cmocka_unit_test(test_wrap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
