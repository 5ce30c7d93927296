/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A data plane's counters, and how the control thread reads them without a lock. The data
 * thread counts in its own struct (dp->stats), which nothing else touches, so a count is a
 * plain increment. It publishes a copy with a sequence counter, a seqlock with one writer: the
 * sequence is odd while the copy is written. A reader copies it, then checks that the sequence
 * was even and has not moved, and otherwise copies again. The copy's words are relaxed atomics,
 * so a reader that races the writer gets old or new words, never torn ones (and C11 sees no
 * data race); the fences below order those words against the sequence. The storage queue's
 * counters, whose reading formats strings, are refreshed only when the queue goes idle and when
 * it stops.
 */
#include <sched.h>

#include "dp_internal.h"

/* The gauges: what is held now. */
static void take_gauges(struct xbd_dataplane *dp)
{
	dp->stats.grant = dp->grant.stats;
	dp->stats.pool_held = dp->pool.held;
	dp->stats.persistent_cached = xbd_persist_cache_size(&dp->grant);
	dp->stats.inflight = dp->busy;
}

void dp_stats_publish(struct xbd_dataplane *dp)
{
	const uint64_t *src = (const uint64_t *)&dp->stats;
	unsigned int seq = atomic_load_explicit(&dp->pub_seq, memory_order_relaxed); /* ours */

	take_gauges(dp);
	atomic_store_explicit(&dp->pub_seq, seq + 1, memory_order_relaxed);
	/* Release fence: a reader that reads any word stored below, and then the sequence
	 * after its acquire fence, reads seq + 1 or later, so it sees that it raced us. */
	atomic_thread_fence(memory_order_release);
	for (size_t i = 0; i < DP_STATS_WORDS; i++)
		atomic_store_explicit(&dp->pub[i], src[i], memory_order_relaxed);
	/* Release: a reader whose acquire load reads seq + 2 reads every word stored above. */
	atomic_store_explicit(&dp->pub_seq, seq + 2, memory_order_release);
}

void dp_stats_refresh_storage(struct xbd_dataplane *dp)
{
	struct xbd_sq_stats sq;

	if (!dp->sq)
		return;
	xbd_sq_get_stats(dp->sq, &sq);
	dp->stats.storage_ios = sq.ios;
	dp->stats.storage_syscalls = sq.syscalls;
	dp->stats.storage_fixed_ios = sq.fixed_buffer_ios;
}

void xbd_dataplane_get_stats(struct xbd_dataplane *dp, struct xbd_dataplane_stats *out)
{
	uint64_t *dst = (uint64_t *)out;

	for (unsigned int tries = 0;; tries++) {
		/* Acquire: the words read below are at least as new as this sequence. */
		unsigned int seq = atomic_load_explicit(&dp->pub_seq, memory_order_acquire);

		if (!(seq & 1)) {
			for (size_t i = 0; i < DP_STATS_WORDS; i++)
				dst[i] = atomic_load_explicit(&dp->pub[i], memory_order_relaxed);
			/* Acquire fence: the words above were read before the sequence below. */
			atomic_thread_fence(memory_order_acquire);
			if (atomic_load_explicit(&dp->pub_seq, memory_order_relaxed) == seq)
				return;
		}
		/* The writer is mid-copy; it takes well under a microsecond unless preempted. */
		if (tries >= 64)
			sched_yield();
	}
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

void xbd_dataplane_stats_add(struct xbd_dataplane_stats *sum,
			     const struct xbd_dataplane_stats *a, bool gauges)
{
	uint64_t inflight = sum->inflight, pool = sum->pool_held;
	uint64_t cached = sum->persistent_cached, mapped = sum->grant.mapped;
	uint64_t peak = max_u64(sum->grant.mapped_peak, a->grant.mapped_peak);
	uint64_t bound = max_u64(sum->grant.mapped_bound, a->grant.mapped_bound);
	const uint64_t *src = (const uint64_t *)a;
	uint64_t *dst = (uint64_t *)sum;

	/* Every member is a uint64_t (the grant stats and the histogram included). */
	for (size_t i = 0; i < DP_STATS_WORDS; i++)
		dst[i] += src[i];
	/* A peak or a bound does not add up over queues: the largest one (the caller that
	 * knows the daemon's own figures sets them instead). */
	sum->grant.mapped_peak = peak;
	sum->grant.mapped_bound = bound;
	if (!gauges) {
		sum->inflight = inflight;
		sum->pool_held = pool;
		sum->persistent_cached = cached;
		sum->grant.mapped = mapped;
	}
}
