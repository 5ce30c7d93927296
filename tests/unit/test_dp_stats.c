/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The data plane's lock-free statistics (dp_stats.c): a reader racing the publishing data
 * thread always gets one whole published copy, never words from two, and never an older copy
 * after a newer one; sums over queues add counters, add gauges only when asked, and take the
 * largest mapped-grant peak and bound instead of adding them.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "backend/dp_internal.h"

/* The reader stops after this many copies changed under it, or after READ_FOR_NS (the two
 * threads may seldom run at once on a loaded machine). */
#define CHANGES_WANTED 2000u
#define READ_FOR_NS (3ull * 1000000000ull)

static atomic_bool stop_writer;
static uint64_t last_published;

/* Every counter of the copy `k` holds is k (the gauges dp_stats_publish takes too). */
static void *writer(void *arg)
{
	struct xbd_dataplane *dp = arg;
	uint64_t *words = (uint64_t *)&dp->stats;
	uint64_t *grant = (uint64_t *)&dp->grant.stats;

	uint64_t k;

	for (k = 1; !atomic_load_explicit(&stop_writer, memory_order_relaxed); k++) {
		for (size_t i = 0; i < DP_STATS_WORDS; i++)
			words[i] = k;
		for (size_t i = 0; i < sizeof(dp->grant.stats) / sizeof(uint64_t); i++)
			grant[i] = k;
		dp->pool.held = k;
		dp->busy = (unsigned int)k;
		dp_stats_publish(dp);
	}
	last_published = k - 1;
	return NULL;
}

/* One copy: the value k all its words hold (persistent_cached is 0: there is no cache). */
static uint64_t whole_copy(const struct xbd_dataplane_stats *st)
{
	const uint64_t *w = (const uint64_t *)st;
	uint64_t k = st->reads;

	for (size_t i = 0; i < DP_STATS_WORDS; i++) {
		if (&w[i] == &st->persistent_cached) {
			assert_int_equal(w[i], 0);
			continue;
		}
		if (w[i] != k)
			fail_msg("torn copy: word %zu is %llu, reads is %llu", i,
				 (unsigned long long)w[i], (unsigned long long)k);
	}
	return k;
}

static void test_reader_never_sees_a_torn_copy(void **state)
{
	struct xbd_dataplane *dp = calloc(1, sizeof(*dp));
	struct xbd_dataplane_stats st;
	uint64_t last = 0, reads = 0, changes = 0, start = dp_now_ns();
	pthread_t t;

	(void)state;
	assert_non_null(dp);
	atomic_store(&stop_writer, false);
	assert_int_equal(pthread_create(&t, NULL, writer, dp), 0);
	while (changes < CHANGES_WANTED && dp_now_ns() - start < READ_FOR_NS) {
		uint64_t k;

		xbd_dataplane_get_stats(dp, &st);
		k = whole_copy(&st);
		assert_true(k >= last); /* never an older copy after a newer one */
		changes += k != last;
		last = k;
		reads++;
	}
	atomic_store(&stop_writer, true);
	assert_int_equal(pthread_join(t, NULL), 0);
	xbd_dataplane_get_stats(dp, &st);
	assert_int_equal(whole_copy(&st), last_published);
	print_message("%llu reads saw %llu different copies\n", (unsigned long long)reads,
		      (unsigned long long)changes);
	free(dp);
}

static void test_sum_over_queues(void **state)
{
	struct xbd_dataplane_stats sum = { 0 }, a = { 0 }, b = { 0 };

	(void)state;
	a.reads = 3;
	a.inflight = 2;
	a.grant.mapped = 10;
	a.grant.mapped_peak = 40;
	a.grant.mapped_bound = 64;
	a.grant.bound_copied = 5;
	b.reads = 4;
	b.inflight = 1;
	b.grant.mapped = 7;
	b.grant.mapped_peak = 60;
	b.grant.mapped_bound = 64;
	b.grant.bound_copied = 1;
	xbd_dataplane_stats_add(&sum, &a, true);
	xbd_dataplane_stats_add(&sum, &b, true);
	assert_int_equal(sum.reads, 7);
	assert_int_equal(sum.inflight, 3);
	assert_int_equal(sum.grant.mapped, 17);
	assert_int_equal(sum.grant.mapped_peak, 60);
	assert_int_equal(sum.grant.mapped_bound, 64);
	assert_int_equal(sum.grant.bound_copied, 6);
	memset(&sum, 0, sizeof(sum));
	xbd_dataplane_stats_add(&sum, &a, false); /* past connections: no gauges */
	xbd_dataplane_stats_add(&sum, &b, false);
	assert_int_equal(sum.inflight, 0);
	assert_int_equal(sum.grant.mapped, 0);
	assert_int_equal(sum.grant.mapped_peak, 60);
	assert_int_equal(sum.grant.bound_copied, 6);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reader_never_sees_a_torn_copy),
		cmocka_unit_test(test_sum_over_queues),
	};

	return cmocka_run_group_tests_name("dp_stats", tests, NULL, NULL);
}
