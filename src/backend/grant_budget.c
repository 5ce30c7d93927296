/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The bound on mapped grants (see grant.h). A frontend decides how many pages it has in flight
 * (an order-4 ring of 256-segment requests is 131072), and each page the daemon maps takes a
 * VMA slot in this process (65530 by default) and, on Xen, a maptrack entry in dom0 that every
 * backend shares. So a queue may hold at most `max_mapped` pages mapped, and the daemon's
 * queues together at most the budget's `max`, cached and transient pages alike. A request
 * reserves what it may map at admission, before it waits for memory or a barrier, so that
 * pages another queue maps meanwhile cannot make its prepare fail; prepare turns reserved pages
 * into mapped ones and gives back what it did not need. A page stays reserved while mapped; the
 * strategy gives it back after unmapping, or keeps it to map another page in its place (a
 * cache eviction), so that no other queue can take it in between. A
 * request that cannot reserve is served by grant copy. The daemon's counters are atomics
 * (several data threads), the queue's are the data thread's own: no lock anywhere.
 */
#include <limits.h>

#include "grant_internal.h"

void xbd_grant_budget_init(struct xbd_grant_budget *b, unsigned int max)
{
	b->max = max;
	atomic_init(&b->used, 0);
	atomic_init(&b->mapped, 0);
	atomic_init(&b->peak, 0);
}

void xbd_grant_set_bound(struct xbd_grant_ctx *g, unsigned int max_mapped,
			 struct xbd_grant_budget *budget)
{
	g->max_mapped = max_mapped;
	g->budget = budget;
	g->stats.mapped_bound = max_mapped;
}

/* The daemon's share: a compare-and-swap loop, so `used` never exceeds `max`, not even for a
 * moment another thread could observe. */
static bool budget_take(struct xbd_grant_budget *b, unsigned int n)
{
	unsigned int cur = atomic_load_explicit(&b->used, memory_order_relaxed);

	do {
		if (cur > b->max || n > b->max - cur)
			return false;
	} while (!atomic_compare_exchange_weak_explicit(&b->used, &cur, cur + n,
						       memory_order_relaxed, memory_order_relaxed));
	return true;
}

bool xbd_grant_reserve(struct xbd_grant_ctx *g, unsigned int n)
{
	if (n == 0)
		return true;
	if (g->used > g->max_mapped || n > g->max_mapped - g->used)
		return false;
	if (g->budget && !budget_take(g->budget, n))
		return false;
	g->used += n;
	return true;
}

void xbd_grant_unreserve(struct xbd_grant_ctx *g, unsigned int n)
{
	if (n == 0)
		return;
	g->used -= n;
	if (g->budget)
		atomic_fetch_sub_explicit(&g->budget->used, n, memory_order_relaxed);
}

static void peak_raise(_Atomic unsigned int *peak, unsigned int now)
{
	unsigned int p = atomic_load_explicit(peak, memory_order_relaxed);

	while (now > p && !atomic_compare_exchange_weak_explicit(peak, &p, now,
								 memory_order_relaxed,
								 memory_order_relaxed))
		;
}

void xbd_grant_mapped(struct xbd_grant_ctx *g, unsigned int n)
{
	g->stats.mapped += n;
	if (g->stats.mapped > g->stats.mapped_peak)
		g->stats.mapped_peak = g->stats.mapped;
	if (g->budget)
		peak_raise(&g->budget->peak,
			   atomic_fetch_add_explicit(&g->budget->mapped, n, memory_order_relaxed) + n);
}

void xbd_grant_unmapped(struct xbd_grant_ctx *g, unsigned int n)
{
	g->stats.mapped -= n;
	if (g->budget)
		atomic_fetch_sub_explicit(&g->budget->mapped, n, memory_order_relaxed);
}

const struct xbd_grant_ops *xbd_grant_choose(struct xbd_grant_ctx *g,
					     const struct xbd_grant_ops *ops,
					     const struct xbd_req *req, unsigned int *credits)
{
	*credits = 0;
	switch (ops->mode) {
	case XBD_GRANT_MAP:
		if (xbd_grant_reserve(g, req->nr_segs)) {
			*credits = req->nr_segs;
			return ops;
		}
		g->stats.bound_copied++;
		return &xbd_grant_copy_ops;
	case XBD_GRANT_PERSISTENT:
		return xbd_persist_admit(g, req, credits) ? ops : &xbd_grant_copy_ops;
	default:
		return ops;
	}
}
