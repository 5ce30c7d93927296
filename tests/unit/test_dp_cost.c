/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What a request costs against a VBD's --limit-iops and --limit-bps (dp_request_cost in
 * src/backend/dp_control.c): reads and writes one request and their bytes (an indirect one its
 * segments as full pages); a discard one request per started GiB and 1/1024 of its length in
 * bytes (at least a sector), so that discards cannot bypass either limit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "backend/dp_internal.h"

#define GIB (1ull << 30)

static struct dp_cost cost_of(uint8_t op, uint64_t nr_sectors, uint16_t nr_segs,
			      uint8_t nr_indirect)
{
	struct xbd_req req = { .operation = op, .data_op = op, .nr_sectors = nr_sectors,
			       .nr_segs = nr_segs, .nr_indirect = nr_indirect };

	if (nr_indirect)
		req.operation = BLKIF_OP_INDIRECT;
	return dp_request_cost(&req);
}

static void test_reads_and_writes(void **state)
{
	struct dp_cost c;

	(void)state;
	c = cost_of(BLKIF_OP_READ, 8, 1, 0);
	assert_int_equal(c.ops, 1);
	assert_int_equal(c.bytes, 4096);
	c = cost_of(BLKIF_OP_WRITE, 88, 11, 0);
	assert_int_equal(c.ops, 1);
	assert_int_equal(c.bytes, 88 * 512);
	/* Indirect: full pages, whatever the sectors. */
	c = cost_of(BLKIF_OP_WRITE, 0, 256, 1);
	assert_int_equal(c.ops, 1);
	assert_int_equal(c.bytes, 256 * 4096);
	c = cost_of(BLKIF_OP_FLUSH_DISKCACHE, 0, 0, 0);
	assert_int_equal(c.ops, 1);
	assert_int_equal(c.bytes, 0);
}

static void test_discards_scale_with_their_range(void **state)
{
	struct dp_cost c;

	(void)state;
	/* Small: one request and one sector's worth of bytes. */
	c = cost_of(BLKIF_OP_DISCARD, 8, 0, 0);
	assert_int_equal(c.ops, 1);
	assert_int_equal(c.bytes, 512);
	/* Exactly a GiB, and one sector more. */
	c = cost_of(BLKIF_OP_DISCARD, GIB / 512, 0, 0);
	assert_int_equal(c.ops, 1);
	assert_int_equal(c.bytes, 1 << 20);
	c = cost_of(BLKIF_OP_DISCARD, GIB / 512 + 1, 0, 0);
	assert_int_equal(c.ops, 2);
	/* What Linux sends at most (4 GiB - 512) and a whole 16 TiB disk. */
	c = cost_of(BLKIF_OP_DISCARD, (4 * GIB - 512) / 512, 0, 0);
	assert_int_equal(c.ops, 4);
	assert_int_equal(c.bytes, (4 * GIB - 512) / 1024);
	c = cost_of(BLKIF_OP_DISCARD, (16ull << 40) / 512, 0, 0);
	assert_int_equal(c.ops, 16384);
	assert_int_equal(c.bytes, 16 * GIB);
	/* The largest a 2^64-byte disk could name: no overflow. */
	c = cost_of(BLKIF_OP_DISCARD, UINT64_MAX / 512, 0, 0);
	assert_int_equal(c.ops, (UINT64_MAX / 512 * 512 - 1) / GIB + 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reads_and_writes),
		cmocka_unit_test(test_discards_scale_with_their_range),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
