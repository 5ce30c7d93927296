/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The live mirror's dirty map (src/backend/mirror_map.c): everything starts dirty, the copier
 * takes each region once, a guest write in flight keeps the copier off its region, a write
 * that starts while its region is copied makes it dirty again, a failed copy leaves it
 * dirty, ranges cover the right regions (a partial last region too), and a discard's mark.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "backend/mirror_map.h"

#define R 65536ull

static struct xbd_mirror_map m;

static int setup_4(void **state)
{
	(void)state;
	return xbd_mirror_map_init(&m, 4 * R, 16);
}

static int teardown(void **state)
{
	(void)state;
	xbd_mirror_map_fini(&m);
	return 0;
}

/* Take every region the copier can take now, marking each copied. */
static unsigned int drain(void)
{
	unsigned int n = 0;
	int64_t r;

	while ((r = xbd_mirror_map_claim(&m)) >= 0) {
		xbd_mirror_map_release(&m, (uint64_t)r, true);
		n++;
	}
	return n;
}

static void all_dirty_then_clean(void **state)
{
	(void)state;
	assert_int_equal(xbd_mirror_map_dirty(&m), 4);
	assert_false(xbd_mirror_map_clean(&m));
	assert_int_equal(drain(), 4);
	assert_true(xbd_mirror_map_clean(&m));
	assert_int_equal(xbd_mirror_map_claim(&m), -1);
}

static void writer_keeps_copier_off(void **state)
{
	(void)state;
	drain();
	xbd_mirror_map_mark(&m, 2 * R, 512);
	xbd_mirror_map_write_begin(&m, 2 * R + 4096, 4096);
	assert_int_equal(xbd_mirror_map_claim(&m), -1);
	assert_int_equal(xbd_mirror_map_dirty(&m), 1);
	xbd_mirror_map_write_end(&m, 2 * R + 4096, 4096);
	assert_int_equal(xbd_mirror_map_claim(&m), 2);
	xbd_mirror_map_release(&m, 2, true);
	assert_true(xbd_mirror_map_clean(&m));
}

static void write_during_copy_redirties(void **state)
{
	(void)state;
	drain();
	xbd_mirror_map_mark(&m, R, R);
	assert_int_equal(xbd_mirror_map_claim(&m), 1);
	assert_int_equal(xbd_mirror_map_dirty(&m), 0);
	assert_false(xbd_mirror_map_clean(&m)); /* being copied */
	xbd_mirror_map_write_begin(&m, R + 512, 512);
	xbd_mirror_map_release(&m, 1, true);
	assert_int_equal(xbd_mirror_map_dirty(&m), 1);
	assert_int_equal(xbd_mirror_map_claim(&m), -1); /* the write is still in flight */
	xbd_mirror_map_write_end(&m, R + 512, 512);
	assert_int_equal(xbd_mirror_map_claim(&m), 1);
	xbd_mirror_map_release(&m, 1, true);
	assert_true(xbd_mirror_map_clean(&m));
}

static void write_elsewhere_during_copy(void **state)
{
	(void)state;
	drain();
	xbd_mirror_map_mark(&m, 0, 512);
	assert_int_equal(xbd_mirror_map_claim(&m), 0);
	xbd_mirror_map_write_begin(&m, 3 * R, 512);
	xbd_mirror_map_release(&m, 0, true);
	xbd_mirror_map_write_end(&m, 3 * R, 512);
	assert_true(xbd_mirror_map_clean(&m));
}

static void failed_copy_stays_dirty(void **state)
{
	(void)state;
	drain();
	xbd_mirror_map_mark(&m, 3 * R, 1);
	assert_int_equal(xbd_mirror_map_claim(&m), 3);
	xbd_mirror_map_release(&m, 3, false);
	assert_int_equal(xbd_mirror_map_dirty(&m), 1);
	assert_int_equal(drain(), 1);
}

static void ranges_and_clipping(void **state)
{
	uint64_t off, len;

	(void)state;
	drain();
	xbd_mirror_map_mark(&m, R - 512, 1024); /* straddles regions 0 and 1 */
	assert_int_equal(xbd_mirror_map_dirty(&m), 2);
	xbd_mirror_map_mark(&m, 3 * R, 100 * R); /* clipped at the end */
	xbd_mirror_map_mark(&m, 10 * R, R);      /* past the end: nothing */
	xbd_mirror_map_mark(&m, 0, 0);           /* empty: nothing */
	assert_int_equal(xbd_mirror_map_dirty(&m), 3);
	assert_int_equal(drain(), 3);
	xbd_mirror_map_fini(&m);
	assert_int_equal(xbd_mirror_map_init(&m, 2 * R + 4096, 16), 0);
	assert_int_equal(xbd_mirror_map_dirty(&m), 3);
	xbd_mirror_map_region(&m, 2, &off, &len);
	assert_int_equal(off, 2 * R);
	assert_int_equal(len, 4096);
	xbd_mirror_map_region(&m, 1, &off, &len);
	assert_int_equal(len, R);
}

static void bad_init(void **state)
{
	struct xbd_mirror_map x;

	(void)state;
	assert_int_equal(xbd_mirror_map_init(&x, 0, 16), -22);
	assert_int_equal(xbd_mirror_map_init(&x, R, 4), -22);
}

/* Many regions, over several bitmap words: the cursor wraps and visits each once. */
static void many_regions(void **state)
{
	(void)state;
	xbd_mirror_map_fini(&m);
	assert_int_equal(xbd_mirror_map_init(&m, 1000 * R, 16), 0);
	assert_int_equal(xbd_mirror_map_dirty(&m), 1000);
	for (int i = 0; i < 10; i++) {
		int64_t r = xbd_mirror_map_claim(&m);

		assert_int_equal(r, i);
		xbd_mirror_map_release(&m, (uint64_t)r, true);
	}
	xbd_mirror_map_mark(&m, 0, R); /* behind the cursor: found after the wrap */
	assert_int_equal(drain(), 991);
	assert_true(xbd_mirror_map_clean(&m));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(all_dirty_then_clean, setup_4, teardown),
		cmocka_unit_test_setup_teardown(writer_keeps_copier_off, setup_4, teardown),
		cmocka_unit_test_setup_teardown(write_during_copy_redirties, setup_4, teardown),
		cmocka_unit_test_setup_teardown(write_elsewhere_during_copy, setup_4, teardown),
		cmocka_unit_test_setup_teardown(failed_copy_stays_dirty, setup_4, teardown),
		cmocka_unit_test_setup_teardown(ranges_and_clipping, setup_4, teardown),
		cmocka_unit_test(bad_init),
		cmocka_unit_test_setup_teardown(many_regions, setup_4, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
