/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The bounded pool: the budget is never exceeded, a full pool says "wait" (NULL) instead of
 * growing, freed buffers are reused, cached buffers are released to make room for another
 * size, a trim gives everything back, and sizes beyond any class are refused outright; the
 * hooks hear of every buffer taken from and given back to the system, and of no reuse.
 */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "backend/pool.h"

static void test_budget_and_wait(void **state)
{
	struct xbd_pool p;
	void *a, *b, *c;

	(void)state;
	xbd_pool_init(&p, 64 * 1024, 4096);
	a = xbd_pool_alloc(&p, 32 * 1024);
	b = xbd_pool_alloc(&p, 20 * 1024); /* rounds up to 32 KiB */
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(p.in_use, 64 * 1024);
	c = xbd_pool_alloc(&p, 4096);
	assert_null(c); /* full: the caller waits */
	assert_int_equal(p.waits, 1);
	assert_true(p.held <= p.cap);
	xbd_pool_free(&p, b, 20 * 1024);
	c = xbd_pool_alloc(&p, 32 * 1024);
	assert_ptr_equal(c, b); /* reused from the cache */
	xbd_pool_free(&p, a, 32 * 1024);
	xbd_pool_free(&p, c, 32 * 1024);
	assert_int_equal(p.in_use, 0);
	xbd_pool_fini(&p);
	assert_int_equal(p.held, 0);
}

static void test_cache_released_for_other_sizes(void **state)
{
	struct xbd_pool p;
	void *small[16], *big;

	(void)state;
	xbd_pool_init(&p, 64 * 1024, 4096);
	for (int i = 0; i < 16; i++)
		assert_non_null(small[i] = xbd_pool_alloc(&p, 4096));
	for (int i = 0; i < 16; i++)
		xbd_pool_free(&p, small[i], 4096);
	assert_int_equal(p.held, 64 * 1024); /* all cached as 4 KiB buffers */
	big = xbd_pool_alloc(&p, 64 * 1024);
	assert_non_null(big); /* the cache was released to make room */
	assert_int_equal(p.held, 64 * 1024);
	xbd_pool_free(&p, big, 64 * 1024);
	xbd_pool_trim(&p);
	assert_int_equal(p.held, 0);
	xbd_pool_fini(&p);
}

static void test_impossible_sizes(void **state)
{
	struct xbd_pool p;

	(void)state;
	xbd_pool_init(&p, 1u << 20, 4096);
	assert_int_equal(xbd_pool_class_size(&p, 1), 4096);
	assert_int_equal(xbd_pool_class_size(&p, 4097), 8192);
	assert_int_equal(xbd_pool_class_size(&p, 1u << 20), 1u << 20);
	assert_int_equal(xbd_pool_class_size(&p, (1u << 20) + 1), 0); /* over budget */
	assert_int_equal(xbd_pool_class_size(&p, (size_t)1 << 40), 0); /* beyond any class */
	assert_null(xbd_pool_alloc(&p, (size_t)1 << 40));
	xbd_pool_fini(&p);
}

static unsigned int hook_adds, hook_drops;
static void *hook_live[8];

static int hook_add(void *ctx, void *buf, size_t len)
{
	(void)ctx;
	assert_int_equal(len % 4096, 0);
	assert_true(hook_adds < 8);
	hook_live[hook_adds++] = buf;
	return 0;
}

static void hook_drop(void *ctx, void *buf)
{
	bool found = false;

	(void)ctx;
	for (unsigned int i = 0; i < hook_adds; i++)
		found |= hook_live[i] == buf;
	assert_true(found); /* only what was added */
	hook_drops++;
}

static void test_hooks(void **state)
{
	static const struct xbd_pool_hooks h = { hook_add, hook_drop, NULL };
	struct xbd_pool p;
	void *a, *b;

	(void)state;
	xbd_pool_init(&p, 64 * 1024, 4096);
	xbd_pool_set_hooks(&p, &h);
	a = xbd_pool_alloc(&p, 4096);
	b = xbd_pool_alloc(&p, 8192);
	assert_int_equal(hook_adds, 2);
	xbd_pool_free(&p, a, 4096);
	a = xbd_pool_alloc(&p, 4096); /* reused from the cache: no new buffer */
	assert_int_equal(hook_adds, 2);
	assert_int_equal(hook_drops, 0);
	xbd_pool_free(&p, a, 4096);
	xbd_pool_free(&p, b, 8192);
	xbd_pool_trim(&p);
	assert_int_equal(hook_drops, 2);
	xbd_pool_fini(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_budget_and_wait),
		cmocka_unit_test(test_cache_released_for_other_sizes),
		cmocka_unit_test(test_impossible_sizes),
		cmocka_unit_test(test_hooks),
	};

	return cmocka_run_group_tests_name("pool", tests, NULL, NULL);
}
