/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Grant strategies over a fake grant table that counts maps and unmaps and remembers what is
 * mapped: persistent grants stay mapped and are reused (no map call on a hit), the cache never
 * exceeds its bound, the least recently used idle entry is purged first, an entry with I/O in
 * flight is never unmapped, a full cache of busy entries falls back to a transient mapping, a
 * read into a read-only grant is refused, and fini unmaps everything; a cache that thrashes
 * stops admitting (requests are copied) and probes again later. Map mode maps once per
 * request and unmaps after. The mapped-grant bounds: a queue and a daemon never have more
 * pages mapped than their bounds, a request over them is copied, reserved pages come back,
 * a persistent request's transient pages are mapped in one call, and its misses never evict
 * its own hits.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "xenblkd/grant.h"

#define MAX_MAPS 64

/* The fake: each map returns a distinct address; refs >= 1000 are read-only grants. */
struct fake_map {
	void *addr;
	unsigned int n;
	uint32_t ref0;
};
static struct fake_map maps[MAX_MAPS];
static unsigned int nr_maps, map_calls, unmap_calls;
static char pages[MAX_MAPS][16][4096];

static int fake_map(struct xbd_gnt *g, uint16_t domid, const uint32_t *refs, unsigned int n,
		    bool writable, void **addr)
{
	(void)g;
	(void)domid;
	map_calls++;
	for (unsigned int i = 0; i < n; i++)
		if (writable && refs[i] >= 1000)
			return -EINVAL;
	for (unsigned int i = 0; i < MAX_MAPS; i++)
		if (!maps[i].addr) {
			maps[i] = (struct fake_map){ pages[i], n, refs[0] };
			nr_maps++;
			*addr = pages[i];
			return 0;
		}
	return -ENOMEM;
}

static int fake_unmap(struct xbd_gnt *g, void *addr, unsigned int n)
{
	(void)g;
	unmap_calls++;
	for (unsigned int i = 0; i < MAX_MAPS; i++)
		if (maps[i].addr == addr) {
			assert_int_equal(maps[i].n, n);
			maps[i].addr = NULL;
			nr_maps--;
			return 0;
		}
	fail_msg("unmap of an address that is not mapped");
	return -EINVAL;
}

static const struct xbd_xen_ops fake_ops = { .name = "fake", .gnt_map = fake_map,
					     .gnt_unmap = fake_unmap };

static int setup(void **state)
{
	(void)state;
	memset(maps, 0, sizeof(maps));
	nr_maps = map_calls = unmap_calls = 0;
	return 0;
}

/* A one-segment read (into the guest) or write of grant `ref`. */
struct one {
	struct xbd_req req;
	struct xbd_grant_io io;
	struct iovec iov[1];
	void *held[1];
};

static int prepare(struct xbd_grant_ctx *g, const struct xbd_grant_ops *ops, struct one *o,
		   uint32_t ref, bool write)
{
	memset(o, 0, sizeof(*o));
	o->req.nr_segs = 1;
	o->req.seg[0] = (struct xbd_seg){ .gref = ref, .first_sect = 1, .last_sect = 3 };
	o->req.segs = o->req.seg;
	o->req.nr_sectors = 3;
	o->io = (struct xbd_grant_io){ .req = &o->req, .to_disk = write, .iov = o->iov,
				       .held = o->held };
	return ops->prepare(g, &o->io);
}

static void test_persistent_reuse_and_bound(void **state)
{
	const struct xbd_grant_ops *ops = &xbd_grant_persistent_ops;
	struct xbd_grant_ctx g;
	struct one o;

	(void)state;
	assert_int_equal(xbd_grant_ctx_init(&g, &fake_ops, NULL, 1, 11, XBD_GRANT_PERSISTENT, 4), 0);
	for (int round = 0; round < 10; round++)
		for (uint32_t ref = 1; ref <= 4; ref++) {
			assert_int_equal(prepare(&g, ops, &o, ref, round & 1), 0);
			assert_int_equal(o.io.niov, 1);
			assert_int_equal(o.iov[0].iov_len, 3 * 512);
			assert_int_equal(ops->finish(&g, &o.io, true), 0);
		}
	assert_int_equal(map_calls, 4); /* a working set under the cap: one map each, ever */
	assert_int_equal(g.stats.persistent_hits, 36);
	assert_int_equal(xbd_persist_cache_size(&g), 4);
	/* A fifth grant purges the least recently used one (ref 1). */
	assert_int_equal(prepare(&g, ops, &o, 5, false), 0);
	assert_int_equal(ops->finish(&g, &o.io, true), 0);
	assert_int_equal(xbd_persist_cache_size(&g), 4);
	assert_int_equal(unmap_calls, 1);
	map_calls = 0;
	assert_int_equal(prepare(&g, ops, &o, 2, false), 0); /* still cached */
	assert_int_equal(ops->finish(&g, &o.io, true), 0);
	assert_int_equal(map_calls, 0);
	assert_int_equal(prepare(&g, ops, &o, 1, false), 0); /* purged: mapped again */
	assert_int_equal(ops->finish(&g, &o.io, true), 0);
	assert_int_equal(map_calls, 1);
	xbd_grant_ctx_fini(&g);
	assert_int_equal(nr_maps, 0); /* everything unmapped */
}

static void test_persistent_busy_entries_stay(void **state)
{
	const struct xbd_grant_ops *ops = &xbd_grant_persistent_ops;
	struct xbd_grant_ctx g;
	struct one busy[2], extra;

	(void)state;
	assert_int_equal(xbd_grant_ctx_init(&g, &fake_ops, NULL, 1, 11, XBD_GRANT_PERSISTENT, 2), 0);
	assert_int_equal(prepare(&g, ops, &busy[0], 1, false), 0);
	assert_int_equal(prepare(&g, ops, &busy[1], 2, false), 0);
	/* Both entries have I/O in flight: the third grant gets a transient mapping. */
	assert_int_equal(prepare(&g, ops, &extra, 3, false), 0);
	assert_int_equal(unmap_calls, 0);
	assert_int_equal(xbd_persist_cache_size(&g), 2);
	assert_int_equal(ops->finish(&g, &extra.io, true), 0);
	assert_int_equal(unmap_calls, 1); /* the transient one, at once */
	assert_int_equal(ops->finish(&g, &busy[0].io, true), 0);
	assert_int_equal(ops->finish(&g, &busy[1].io, true), 0);
	xbd_grant_ctx_fini(&g);
	assert_int_equal(nr_maps, 0);
}

static void test_persistent_readonly_grant(void **state)
{
	const struct xbd_grant_ops *ops = &xbd_grant_persistent_ops;
	struct xbd_grant_ctx g;
	struct one o;

	(void)state;
	assert_int_equal(xbd_grant_ctx_init(&g, &fake_ops, NULL, 1, 11, XBD_GRANT_PERSISTENT, 4), 0);
	/* A write to disk may use a read-only grant... */
	assert_int_equal(prepare(&g, ops, &o, 1000, true), 0);
	assert_int_equal(ops->finish(&g, &o.io, false), 0);
	/* ...but a read may not put data into it, cached or not. */
	assert_int_equal(prepare(&g, ops, &o, 1000, false), -EACCES);
	assert_int_equal(prepare(&g, ops, &o, 1001, false), -EACCES);
	xbd_grant_ctx_fini(&g);
	assert_int_equal(nr_maps, 0);
}

static void test_map_mode(void **state)
{
	const struct xbd_grant_ops *ops = &xbd_grant_map_ops;
	struct xbd_grant_ctx g;
	struct one o;

	(void)state;
	assert_int_equal(xbd_grant_ctx_init(&g, &fake_ops, NULL, 1, 11, XBD_GRANT_MAP, 0), 0);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(prepare(&g, ops, &o, 7, false), 0);
		assert_int_equal(nr_maps, 1);
		assert_ptr_equal(o.iov[0].iov_base, (char *)o.io.map_addr + 512);
		assert_int_equal(ops->finish(&g, &o.io, true), 0);
		assert_int_equal(nr_maps, 0);
	}
	assert_int_equal(map_calls, 5);
	assert_int_equal(prepare(&g, ops, &o, 1000, false), -EINVAL); /* read into ro grant */
	assert_int_equal(nr_maps, 0);
	xbd_grant_ctx_fini(&g);
}

/* One request on grant `ref` in persistent mode: through the cache when admitted. */
static bool admitted_request(struct xbd_grant_ctx *g, uint32_t ref)
{
	struct one o;
	unsigned int credits;
	bool in;

	memset(&o, 0, sizeof(o));
	o.req.nr_segs = 1;
	o.req.seg[0] = (struct xbd_seg){ .gref = ref, .first_sect = 0, .last_sect = 7 };
	o.req.segs = o.req.seg;
	in = xbd_persist_admit(g, &o.req, &credits);
	xbd_grant_unreserve(g, credits); /* unbounded here: prepare reserves again */
	if (in) {
		assert_int_equal(prepare(g, &xbd_grant_persistent_ops, &o, ref, false), 0);
		assert_int_equal(xbd_grant_persistent_ops.finish(g, &o.io, false), 0);
	}
	return in;
}

#define WINDOW 1024 /* grant_persist.c's ADMIT_WINDOW */

/* A frontend cycling through twice the cache's pages: after one window of evicting for no hit,
 * requests that would evict are copied (no map, no unmap), pages already cached are still used,
 * and a probe window later tries caching again. */
static void test_persistent_thrash_closes_admission(void **state)
{
	struct xbd_grant_ctx g;
	unsigned int n = 0, maps_after_first;

	(void)state;
	assert_int_equal(xbd_grant_ctx_init(&g, &fake_ops, NULL, 1, 11, XBD_GRANT_PERSISTENT, 4), 0);
	for (; n < WINDOW; n++)
		admitted_request(&g, 1 + n % 8);
	/* LRU over 8 pages in 4: every one missed; the window's last request was refused. */
	maps_after_first = map_calls;
	assert_int_equal(maps_after_first, WINDOW - 1);
	for (; n < 9 * WINDOW - 1; n++) /* 8 windows closed */
		admitted_request(&g, 1 + n % 8);
	assert_int_equal(map_calls, maps_after_first);       /* closed: nothing mapped */
	assert_int_equal(unmap_calls, maps_after_first - 4); /* nor unmapped */
	assert_int_equal(g.stats.persistent_copied, 8 * WINDOW / 2);
	assert_true(g.stats.persistent_hits >= 8 * WINDOW / 2); /* the cached half still served */
	assert_int_equal(xbd_persist_cache_size(&g), 4);
	for (; n < 10 * WINDOW; n++)
		admitted_request(&g, 1 + n % 8);
	assert_true(map_calls > maps_after_first); /* the probe window cached again */
	xbd_grant_ctx_fini(&g);
	assert_int_equal(nr_maps, 0);
}

/* A working set that fits is never refused; one that moves to new pages gets cached again. */
static void test_persistent_admission_follows_working_set(void **state)
{
	struct xbd_grant_ctx g;
	unsigned int n, copied;

	(void)state;
	assert_int_equal(xbd_grant_ctx_init(&g, &fake_ops, NULL, 1, 11, XBD_GRANT_PERSISTENT, 4), 0);
	for (n = 0; n < 3 * WINDOW; n++)
		assert_true(admitted_request(&g, 1 + n % 4));
	assert_int_equal(map_calls, 4);
	assert_int_equal(g.stats.persistent_copied, 0);
	for (n = 0; n < WINDOW; n++) /* thrash: admission closes */
		admitted_request(&g, 100 + n % 8);
	assert_true(g.stats.persistent_copied > 0);
	for (n = 0; n < 10 * WINDOW; n++) /* a new set of 4 pages */
		admitted_request(&g, 200 + n % 4);
	copied = (unsigned int)g.stats.persistent_copied;
	for (n = 0; n < WINDOW; n++)
		assert_true(admitted_request(&g, 200 + n % 4));
	assert_int_equal(g.stats.persistent_copied, copied);
	xbd_grant_ctx_fini(&g);
}

/* ---- mapped-grant bounds ---- */

#define MANY 16

/* A request of n one-page segments on grants refs[0..n-1]. */
struct many {
	struct xbd_req req;
	struct xbd_seg segs[MANY];
	struct xbd_grant_io io;
	struct iovec iov[MANY];
	void *held[MANY];
	const struct xbd_grant_ops *ops;
};

static void many_init(struct many *m, const uint32_t *refs, unsigned int n, bool write)
{
	memset(m, 0, sizeof(*m));
	for (unsigned int i = 0; i < n; i++)
		m->segs[i] = (struct xbd_seg){ .gref = refs[i], .first_sect = 0, .last_sect = 7 };
	m->req.nr_segs = (uint16_t)n;
	m->req.segs = m->segs;
	m->req.nr_sectors = 8u * n;
	m->io = (struct xbd_grant_io){ .req = &m->req, .to_disk = write, .iov = m->iov,
				       .held = m->held };
}

/* Admission then, unless the request was sent to copy, prepare. The strategy chosen. */
static const struct xbd_grant_ops *admit_prepare(struct xbd_grant_ctx *g,
						 const struct xbd_grant_ops *ops, struct many *m)
{
	m->ops = xbd_grant_choose(g, ops, &m->req, &m->io.credits);
	if (m->ops != &xbd_grant_copy_ops)
		assert_int_equal(m->ops->prepare(g, &m->io), 0);
	else
		assert_int_equal(m->io.credits, 0);
	return m->ops;
}

static void finish_many(struct xbd_grant_ctx *g, struct many *m)
{
	if (m->ops != &xbd_grant_copy_ops)
		assert_int_equal(m->ops->finish(g, &m->io, false), 0);
}

static unsigned int budget_used(struct xbd_grant_budget *b)
{
	return atomic_load(&b->used);
}

/* Map mode: a request whose pages would pass the queue's bound is copied; the pages come
 * back when the request finishes; the queue's count and peak follow. */
static void test_bound_map_queue(void **state)
{
	static const uint32_t refs[11] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 };
	struct xbd_grant_ctx g;
	struct many a, b;

	(void)state;
	assert_int_equal(xbd_grant_ctx_init(&g, &fake_ops, NULL, 1, MANY, XBD_GRANT_MAP, 0), 0);
	xbd_grant_set_bound(&g, 16, NULL);
	many_init(&a, refs, 11, false);
	assert_ptr_equal(admit_prepare(&g, &xbd_grant_map_ops, &a), &xbd_grant_map_ops);
	assert_int_equal(g.stats.mapped, 11);
	many_init(&b, refs, 6, false); /* 11 + 6 > 16 */
	assert_ptr_equal(admit_prepare(&g, &xbd_grant_map_ops, &b), &xbd_grant_copy_ops);
	assert_int_equal(g.stats.bound_copied, 1);
	many_init(&b, refs, 5, true); /* 11 + 5 = 16: fits exactly */
	assert_ptr_equal(admit_prepare(&g, &xbd_grant_map_ops, &b), &xbd_grant_map_ops);
	assert_int_equal(g.stats.mapped, 16);
	assert_int_equal(g.used, 16);
	finish_many(&g, &a);
	finish_many(&g, &b);
	assert_int_equal(g.stats.mapped, 0);
	assert_int_equal(g.used, 0);
	assert_int_equal(g.stats.mapped_peak, 16);
	assert_int_equal(g.stats.mapped_bound, 16);
	many_init(&b, refs, 6, false); /* room again */
	assert_ptr_equal(admit_prepare(&g, &xbd_grant_map_ops, &b), &xbd_grant_map_ops);
	finish_many(&g, &b);
	xbd_grant_ctx_fini(&g);
	assert_int_equal(nr_maps, 0);
}

/* Two queues share the daemon's bound: what one maps, the other cannot; a reservation given
 * back (a request answered before its prepare) is free again; the daemon's peak is exact. */
static void test_bound_daemon_shared(void **state)
{
	static const uint32_t refs[11] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 };
	struct xbd_grant_budget budget;
	struct xbd_grant_ctx q0, q1;
	struct many a, b;
	unsigned int credits;

	(void)state;
	xbd_grant_budget_init(&budget, 15);
	assert_int_equal(xbd_grant_ctx_init(&q0, &fake_ops, NULL, 1, MANY, XBD_GRANT_MAP, 0), 0);
	assert_int_equal(xbd_grant_ctx_init(&q1, &fake_ops, NULL, 1, MANY, XBD_GRANT_MAP, 0), 0);
	xbd_grant_set_bound(&q0, 12, &budget);
	xbd_grant_set_bound(&q1, 12, &budget);
	many_init(&a, refs, 11, false);
	assert_ptr_equal(admit_prepare(&q0, &xbd_grant_map_ops, &a), &xbd_grant_map_ops);
	many_init(&b, refs, 5, false); /* q1 has room (5 <= 12), the daemon not (16 > 15) */
	assert_ptr_equal(admit_prepare(&q1, &xbd_grant_map_ops, &b), &xbd_grant_copy_ops);
	assert_int_equal(q1.stats.bound_copied, 1);
	/* A reservation taken and given back without mapping. */
	many_init(&b, refs, 4, false);
	assert_ptr_equal(xbd_grant_choose(&q1, &xbd_grant_map_ops, &b.req, &credits),
			 &xbd_grant_map_ops);
	assert_int_equal(credits, 4);
	assert_int_equal(budget_used(&budget), 15);
	xbd_grant_unreserve(&q1, credits);
	assert_int_equal(budget_used(&budget), 11);
	assert_ptr_equal(admit_prepare(&q1, &xbd_grant_map_ops, &b), &xbd_grant_map_ops);
	assert_int_equal(atomic_load(&budget.mapped), 15);
	finish_many(&q0, &a);
	finish_many(&q1, &b);
	assert_int_equal(atomic_load(&budget.mapped), 0);
	assert_int_equal(budget_used(&budget), 0);
	assert_int_equal(atomic_load(&budget.peak), 15);
	xbd_grant_ctx_fini(&q0);
	xbd_grant_ctx_fini(&q1);
	assert_int_equal(nr_maps, 0);
}

/* Persistent: with every cached entry busy, a request's misses are mapped for it alone, all
 * in one call, and unmapped in one call; cached pages count against the bound too, so a
 * request whose transient pages would pass it is copied. */
static void test_bound_persistent_transient_batch(void **state)
{
	static const uint32_t cached[2] = { 1, 2 }, fresh[5] = { 10, 11, 12, 13, 14 };
	struct xbd_grant_ctx g;
	struct many busy, t, over;
	unsigned int calls;

	(void)state;
	assert_int_equal(xbd_grant_ctx_init(&g, &fake_ops, NULL, 1, MANY, XBD_GRANT_PERSISTENT, 2),
			 0);
	xbd_grant_set_bound(&g, 7, NULL);
	many_init(&busy, cached, 2, false);
	assert_ptr_equal(admit_prepare(&g, &xbd_grant_persistent_ops, &busy),
			 &xbd_grant_persistent_ops);
	assert_int_equal(xbd_persist_cache_size(&g), 2);
	calls = map_calls;
	many_init(&t, fresh, 5, false); /* 2 cached + 5 transient = 7 */
	assert_ptr_equal(admit_prepare(&g, &xbd_grant_persistent_ops, &t),
			 &xbd_grant_persistent_ops);
	assert_int_equal(map_calls, calls + 1);        /* one call for the five */
	assert_int_equal(t.io.map_pages, 5);
	for (unsigned int i = 0; i < 5; i++)
		assert_ptr_equal(t.iov[i].iov_base, (char *)t.io.map_addr + i * 4096u);
	assert_int_equal(g.stats.mapped, 7);
	many_init(&over, fresh, 1, false); /* one more page would be 8 > 7 */
	assert_ptr_equal(admit_prepare(&g, &xbd_grant_persistent_ops, &over), &xbd_grant_copy_ops);
	assert_int_equal(g.stats.bound_copied, 1);
	calls = unmap_calls;
	finish_many(&g, &t);
	assert_int_equal(unmap_calls, calls + 1);      /* one call for the five */
	assert_int_equal(g.stats.mapped, 2);
	assert_int_equal(g.used, 2);
	finish_many(&g, &busy);
	assert_int_equal(g.stats.mapped_peak, 7);
	xbd_grant_ctx_fini(&g);
	assert_int_equal(g.stats.mapped, 0);
	assert_int_equal(g.used, 0);
	assert_int_equal(nr_maps, 0);
}

/* Persistent at its bound: misses replace idle entries (no new page of the bound), but never an
 * entry the same request hits, which stays mapped at the same address. */
static void test_bound_persistent_evicts_not_own_hits(void **state)
{
	static const uint32_t warm[4] = { 1, 2, 3, 4 }, mixed[5] = { 1, 20, 21, 22, 23 };
	struct xbd_grant_ctx g;
	struct many m;
	void *page1;

	(void)state;
	assert_int_equal(xbd_grant_ctx_init(&g, &fake_ops, NULL, 1, MANY, XBD_GRANT_PERSISTENT, 4),
			 0);
	xbd_grant_set_bound(&g, 5, NULL);
	many_init(&m, warm, 4, false);
	assert_ptr_equal(admit_prepare(&g, &xbd_grant_persistent_ops, &m),
			 &xbd_grant_persistent_ops);
	page1 = m.iov[0].iov_base;
	finish_many(&g, &m);
	/* Ref 1 is a hit; 20..22 replace 2..4 (idle); 23 finds nothing idle it may take: it is
	 * transient, the one new page (4 + 1 <= 5). */
	many_init(&m, mixed, 5, false);
	assert_ptr_equal(admit_prepare(&g, &xbd_grant_persistent_ops, &m),
			 &xbd_grant_persistent_ops);
	assert_ptr_equal(m.iov[0].iov_base, page1);
	assert_int_equal(m.io.map_pages, 1);
	assert_int_equal(g.stats.mapped, 5);
	assert_int_equal(g.used, 5);
	finish_many(&g, &m);
	assert_int_equal(g.stats.mapped, 4);
	assert_int_equal(xbd_persist_cache_size(&g), 4);
	assert_int_equal(g.stats.mapped_peak, 5);
	xbd_grant_ctx_fini(&g);
	assert_int_equal(nr_maps, 0);
	assert_int_equal(g.used, 0);
}

/* A failed prepare (a read into a read-only grant) leaves nothing mapped or reserved. */
static void test_bound_failed_prepare_gives_back(void **state)
{
	static const uint32_t refs[3] = { 1, 2, 1000 };
	struct xbd_grant_ctx g;
	struct many m;
	const struct xbd_grant_ops *ops;

	(void)state;
	assert_int_equal(xbd_grant_ctx_init(&g, &fake_ops, NULL, 1, MANY, XBD_GRANT_PERSISTENT, 1),
			 0);
	xbd_grant_set_bound(&g, 8, NULL);
	many_init(&m, refs, 3, false);
	ops = xbd_grant_choose(&g, &xbd_grant_persistent_ops, &m.req, &m.io.credits);
	assert_ptr_equal(ops, &xbd_grant_persistent_ops);
	assert_int_not_equal(ops->prepare(&g, &m.io), 0);
	assert_int_equal(m.io.credits, 0);
	assert_int_equal(g.used, (unsigned int)g.stats.mapped); /* only the cached entry */
	assert_int_equal(nr_maps, xbd_persist_cache_size(&g));
	xbd_grant_ctx_fini(&g);
	assert_int_equal(nr_maps, 0);
	assert_int_equal(g.used, 0);
}

/* Which strategy runs: local attach forces copy unless allowed; persistent needs the frontend. */
static void test_effective_mode(void **state)
{
	static const struct {
		enum xbd_grant_mode wanted;
		bool fe_persistent, same_domain, allow_local;
		enum xbd_grant_mode got;
		bool why;
	} cases[] = {
		{ XBD_GRANT_COPY, false, false, false, XBD_GRANT_COPY, false },
		{ XBD_GRANT_COPY, true, true, false, XBD_GRANT_COPY, false },
		{ XBD_GRANT_MAP, false, false, false, XBD_GRANT_MAP, false },
		{ XBD_GRANT_MAP, false, true, false, XBD_GRANT_COPY, true },
		{ XBD_GRANT_MAP, false, true, true, XBD_GRANT_MAP, false },
		{ XBD_GRANT_PERSISTENT, true, false, false, XBD_GRANT_PERSISTENT, false },
		{ XBD_GRANT_PERSISTENT, false, false, false, XBD_GRANT_COPY, true },
		{ XBD_GRANT_PERSISTENT, true, true, false, XBD_GRANT_COPY, true },
		{ XBD_GRANT_PERSISTENT, true, true, true, XBD_GRANT_PERSISTENT, false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *why;

		assert_int_equal(xbd_grant_effective_mode(cases[i].wanted, cases[i].fe_persistent,
							  cases[i].same_domain,
							  cases[i].allow_local, &why),
				 cases[i].got);
		assert_int_equal(why != NULL, cases[i].why);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_persistent_reuse_and_bound, setup),
		cmocka_unit_test_setup(test_persistent_busy_entries_stay, setup),
		cmocka_unit_test_setup(test_persistent_readonly_grant, setup),
		cmocka_unit_test_setup(test_map_mode, setup),
		cmocka_unit_test_setup(test_persistent_thrash_closes_admission, setup),
		cmocka_unit_test_setup(test_persistent_admission_follows_working_set, setup),
		cmocka_unit_test_setup(test_bound_map_queue, setup),
		cmocka_unit_test_setup(test_bound_daemon_shared, setup),
		cmocka_unit_test_setup(test_bound_persistent_transient_batch, setup),
		cmocka_unit_test_setup(test_bound_persistent_evicts_not_own_hits, setup),
		cmocka_unit_test_setup(test_bound_failed_prepare_gives_back, setup),
		cmocka_unit_test(test_effective_mode),
	};

	return cmocka_run_group_tests_name("grant_persist", tests, NULL, NULL);
}
