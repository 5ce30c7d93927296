/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The persistent strategy (see grant.h): with feature-persistent on both sides the frontend
 * reuses a set of granted pages, so the backend keeps each mapped after use, keyed by grant
 * reference. The cache is bounded: when full, the least recently used idle entry is unmapped;
 * an entry with I/O in flight is never unmapped. When every entry is busy, the segment is
 * mapped just for this request: a request's transient pages are mapped together in one call
 * and unmapped together once its I/O is done. A frontend may re-grant a reference for another
 * page only after we unmapped it, i.e. after it left the cache, so a hit always names the same
 * page.
 *
 * Bound (grant_budget.c): cached and transient pages both count against the queue's and the
 * daemon's mapped-grant bounds. Admission reserves what the request may map: a miss that goes
 * into a free entry or a transient mapping needs a page of the bound, one that replaces an
 * idle entry does not. Prepare pins the request's hits first, so that its own misses cannot
 * evict them, and that count stays true. A request the bounds cannot take is copied.
 *
 * Admission: a frontend can keep more pages granted than the cache holds (Linux blkfront keeps
 * ring slots x (segments + indirect pages): 512 x 257 with an order-4 ring and 256 indirect
 * segments, against 1056 here, as in blkback). Cycling through them, every miss would unmap a
 * page to map another (a map and an unmap hypercall per segment, the unmap with a TLB flush),
 * seconds per request under TCG. So hits and misses are counted in windows of lookups; a window
 * that had to evict and hit less than half the time closes admission: for the next windows, a
 * request that would evict is served by grant copy instead (one batched hypercall), while
 * requests on cached pages still use them. Admission reopens as a probe after a few windows,
 * so a frontend whose working set moved gets it cached again.
 */
#include <errno.h>
#include <stdlib.h>

#include "grant_internal.h"

#define NONE UINT32_MAX

struct pentry {
	uint32_t gref;
	uint32_t next;       /* hash chain */
	uint32_t lru_prev;   /* idle list: entries with nothing in flight, oldest first */
	uint32_t lru_next;
	void *addr;
	unsigned int inflight;
	bool writable;
	bool used;
};

struct xbd_persist_cache {
	unsigned int max, count, nbuckets;
	uint32_t *bucket;
	struct pentry *e;
	uint32_t free_head;
	uint32_t lru_head, lru_tail;
	unsigned int idle;   /* entries on the idle list */
	/* Admission (see the top): this window's counts, and how long admission stays closed. */
	unsigned int win_lookups, win_hits, win_evictions;
	unsigned int closed_windows; /* 0: admitting */
};

#define ADMIT_WINDOW 1024 /* segment lookups per window: 4 requests of 256 segments */
#define CLOSED_FOR 8      /* windows without admission before a probe */

/* held[i] of a segment mapped for this request only (when the cache is full of busy
 * entries), and of one not looked at yet; a cached entry is its index << 1. */
#define TRANSIENT_TAG ((uintptr_t)1)
#define MISS_TAG ((uintptr_t)3)

int xbd_persist_cache_new(unsigned int max, struct xbd_persist_cache **out)
{
	struct xbd_persist_cache *c = calloc(1, sizeof(*c));

	if (!c || max == 0 || max > (1u << 20)) {
		free(c);
		return max ? -ENOMEM : -EINVAL;
	}
	c->max = max;
	c->nbuckets = 1;
	while (c->nbuckets < 2 * max)
		c->nbuckets <<= 1;
	c->bucket = malloc(c->nbuckets * sizeof(*c->bucket));
	c->e = calloc(max, sizeof(*c->e));
	if (!c->bucket || !c->e) {
		free(c->bucket);
		free(c->e);
		free(c);
		return -ENOMEM;
	}
	for (unsigned int i = 0; i < c->nbuckets; i++)
		c->bucket[i] = NONE;
	for (unsigned int i = 0; i < max; i++)
		c->e[i].next = i + 1 < max ? i + 1 : NONE;
	c->free_head = 0;
	c->lru_head = c->lru_tail = NONE;
	*out = c;
	return 0;
}

static uint32_t hash(const struct xbd_persist_cache *c, uint32_t gref)
{
	return (gref * 2654435761u) & (c->nbuckets - 1);
}

static void lru_unlink(struct xbd_persist_cache *c, uint32_t i)
{
	struct pentry *e = &c->e[i];

	if (e->lru_prev != NONE)
		c->e[e->lru_prev].lru_next = e->lru_next;
	else
		c->lru_head = e->lru_next;
	if (e->lru_next != NONE)
		c->e[e->lru_next].lru_prev = e->lru_prev;
	else
		c->lru_tail = e->lru_prev;
	e->lru_prev = e->lru_next = NONE;
	c->idle--;
}

static void lru_append(struct xbd_persist_cache *c, uint32_t i)
{
	c->e[i].lru_prev = c->lru_tail;
	c->e[i].lru_next = NONE;
	if (c->lru_tail != NONE)
		c->e[c->lru_tail].lru_next = i;
	else
		c->lru_head = i;
	c->lru_tail = i;
	c->idle++;
}

static uint32_t lookup(const struct xbd_persist_cache *c, uint32_t gref)
{
	for (uint32_t i = c->bucket[hash(c, gref)]; i != NONE; i = c->e[i].next)
		if (c->e[i].gref == gref)
			return i;
	return NONE;
}

static void chain_remove(struct xbd_persist_cache *c, uint32_t i)
{
	uint32_t *p = &c->bucket[hash(c, c->e[i].gref)];

	while (*p != i)
		p = &c->e[*p].next;
	*p = c->e[i].next;
}

/* Unmap the least recently used idle entry; its page of the bound stays with the caller, who
 * maps another in its place. False if every entry is busy. */
static bool purge_one(struct xbd_grant_ctx *g)
{
	struct xbd_persist_cache *c = g->cache;
	uint32_t i = c->lru_head;

	if (i == NONE)
		return false;
	lru_unlink(c, i);
	chain_remove(c, i);
	c->win_evictions++;
	g->stats.unmap_calls++;
	g->xen->gnt_unmap(g->gnt, c->e[i].addr, 1);
	XBD_TRACE(xen_block_grant_unmap, GRANT_TRACE_VBD(g), 1u);
	xbd_grant_unmapped(g, 1);
	c->e[i] = (struct pentry){ .next = c->free_head, .lru_prev = NONE, .lru_next = NONE };
	c->free_head = i;
	c->count--;
	return true;
}

/* Map one page: writable if the grant allows it, since later requests may read into it. */
static int map_page(struct xbd_grant_ctx *g, uint32_t gref, bool need_write, void **addr,
		    bool *writable)
{
	int r;

	g->stats.map_calls++;
	r = g->xen->gnt_map(g->gnt, g->domid, &gref, 1, true, addr);
	XBD_TRACE(xen_block_grant_map, GRANT_TRACE_VBD(g), 1u, true, r);
	if (r == 0) {
		*writable = true;
		return 0;
	}
	if (need_write)
		return -EACCES;
	g->stats.map_calls++;
	*writable = false;
	r = g->xen->gnt_map(g->gnt, g->domid, &gref, 1, false, addr);
	XBD_TRACE(xen_block_grant_map, GRANT_TRACE_VBD(g), 1u, false, r);
	return r;
}

/* Map `gref` into a free entry and take it for this request; the caller holds the page of the
 * bound it needs. */
static int insert(struct xbd_grant_ctx *g, uint32_t gref, bool need_write, uint32_t *out)
{
	struct xbd_persist_cache *c = g->cache;
	uint32_t i = c->free_head;
	struct pentry *e = &c->e[i];
	int r;

	r = map_page(g, gref, need_write, &e->addr, &e->writable);
	if (r)
		return r;
	xbd_grant_mapped(g, 1);
	c->free_head = e->next;
	e->gref = gref;
	e->used = true;
	e->inflight = 0;
	e->lru_prev = e->lru_next = NONE;
	e->next = c->bucket[hash(c, gref)];
	c->bucket[hash(c, gref)] = i;
	c->count++;
	*out = i;
	return 0;
}

/* Take a cached entry for one segment: it leaves the idle list while I/O is in flight. */
static int pin(struct xbd_grant_ctx *g, uint32_t i, bool need_write, void **held)
{
	struct xbd_persist_cache *c = g->cache;

	if (need_write && !c->e[i].writable)
		return -EACCES;
	if (c->e[i].inflight++ == 0 && (c->e[i].lru_prev != NONE || c->lru_head == i))
		lru_unlink(c, i);
	*held = (void *)((uintptr_t)i << 1);
	return 0;
}

/* Make sure `need` pages of the bound are reserved for this request. Admission did it; a
 * caller that skipped admission (unit tests) reserves here. */
static bool have_credits(struct xbd_grant_ctx *g, struct xbd_grant_io *io, unsigned int need)
{
	if (io->credits >= need)
		return true;
	if (!xbd_grant_reserve(g, need - io->credits))
		return false;
	io->credits = need;
	return true;
}

/* A segment not in the cache: into a free entry while this request has pages of the bound, else
 * in place of the least recently used idle entry, else transient (mapped later, in one call:
 * *held is TRANSIENT_TAG). */
static int cache_miss(struct xbd_grant_ctx *g, struct xbd_grant_io *io, uint32_t gref,
		      bool need_write, void **held)
{
	struct xbd_persist_cache *c = g->cache;
	bool room = c->count < c->max;
	uint32_t i;
	int r;

	g->stats.persistent_misses++;
	if (room && have_credits(g, io, 1)) {
		r = insert(g, gref, need_write, &i);
		if (r)
			return r;
		io->credits--;
	} else if (purge_one(g)) {
		r = insert(g, gref, need_write, &i);
		if (r) {
			xbd_grant_unreserve(g, 1); /* the evicted entry's page */
			return r;
		}
	} else if (room) {
		return -ENOSPC; /* no page of the bound and nothing to evict: admission said so */
	} else {
		*held = (void *)TRANSIENT_TAG;
		return 0;
	}
	return pin(g, i, need_write, held);
}

static void put_entry(struct xbd_persist_cache *c, void *held)
{
	uint32_t i = (uint32_t)((uintptr_t)held >> 1);

	if (--c->e[i].inflight == 0)
		lru_append(c, i);
}

/* Undo a prepare that failed, or finish one: cached entries go back, transient pages are
 * unmapped in one call. */
static void release(struct xbd_grant_ctx *g, struct xbd_grant_io *io)
{
	for (unsigned int i = 0; i < io->req->nr_segs; i++)
		if (!((uintptr_t)io->held[i] & 1))
			put_entry(g->cache, io->held[i]);
	if (io->map_pages) {
		g->stats.unmap_calls++;
		g->xen->gnt_unmap(g->gnt, io->map_addr, io->map_pages);
		XBD_TRACE(xen_block_grant_unmap, GRANT_TRACE_VBD(g), io->map_pages);
		xbd_grant_unmapped(g, io->map_pages);
		xbd_grant_unreserve(g, io->map_pages);
	}
	io->map_addr = NULL;
	io->map_pages = 0;
	xbd_grant_unreserve(g, io->credits);
	io->credits = 0;
}

/* Pass 1: pin every segment already cached, before any miss may evict. */
static int pin_hits(struct xbd_grant_ctx *g, struct xbd_grant_io *io, bool need_write)
{
	const struct xbd_req *req = io->req;

	for (unsigned int i = 0; i < req->nr_segs; i++)
		io->held[i] = (void *)MISS_TAG;
	for (unsigned int i = 0; i < req->nr_segs; i++) {
		uint32_t e = lookup(g->cache, req->segs[i].gref);

		if (e == NONE)
			continue;
		g->stats.persistent_hits++;
		if (pin(g, e, need_write, &io->held[i]))
			return -EACCES;
	}
	return 0;
}

/* Pass 2: the misses, cached or marked transient; the transient refs go to g->refs. */
static int place_misses(struct xbd_grant_ctx *g, struct xbd_grant_io *io, bool need_write,
			unsigned int *nt)
{
	const struct xbd_req *req = io->req;

	*nt = 0;
	for (unsigned int i = 0; i < req->nr_segs; i++) {
		uint32_t gref = req->segs[i].gref, e;
		int r;

		if ((uintptr_t)io->held[i] != MISS_TAG)
			continue;
		e = lookup(g->cache, gref); /* an earlier segment may have cached it */
		g->stats.persistent_hits += e != NONE;
		r = e != NONE ? pin(g, e, need_write, &io->held[i])
			      : cache_miss(g, io, gref, need_write, &io->held[i]);
		if (r) {
			io->held[i] = (void *)MISS_TAG;
			return r;
		}
		if ((uintptr_t)io->held[i] == TRANSIENT_TAG)
			g->refs[(*nt)++] = gref;
	}
	return 0;
}

/* Pass 3: the transient pages, all in one map call. */
static int map_transient(struct xbd_grant_ctx *g, struct xbd_grant_io *io, bool need_write,
			 unsigned int nt)
{
	int r;

	if (nt == 0)
		return 0;
	if (!have_credits(g, io, nt))
		return -ENOSPC;
	g->stats.map_calls++;
	r = g->xen->gnt_map(g->gnt, g->domid, g->refs, nt, need_write, &io->map_addr);
	XBD_TRACE(xen_block_grant_map, GRANT_TRACE_VBD(g), nt, need_write, r);
	if (r)
		return r;
	io->map_pages = nt;
	io->credits -= nt;
	xbd_grant_mapped(g, nt);
	return 0;
}

/* End of a window: close admission when evicting did not pay, reopen it after a while. */
static void window_end(struct xbd_persist_cache *c)
{
	if (c->closed_windows > 0)
		c->closed_windows--;
	else if (c->win_evictions > 0 && c->win_hits * 2 < c->win_lookups)
		c->closed_windows = CLOSED_FOR;
	c->win_lookups = c->win_hits = c->win_evictions = 0;
}

/*
 * Pages of the bound the request needs. Its misses go, in prepare's order, into free entries
 * (a page each), in place of idle entries it does not use itself (no page), then transient (a
 * page each): `want`. With fewer pages, evicting more idle entries instead of filling free
 * ones still serves it, down to `least`. Misses are counted per segment, so a page granted
 * twice only makes both figures larger than needed.
 */
static void pages_needed(const struct xbd_persist_cache *c, unsigned int misses,
			 unsigned int idle_hits, unsigned int *want, unsigned int *least)
{
	unsigned int free = c->max - c->count;
	unsigned int evictable = c->idle > idle_hits ? c->idle - idle_hits : 0;

	*least = misses > evictable ? misses - evictable : 0;
	*want = (misses < free ? misses : free) +
		(misses > free + evictable ? misses - free - evictable : 0);
}

bool xbd_persist_admit(struct xbd_grant_ctx *g, const struct xbd_req *req,
		       unsigned int *credits)
{
	struct xbd_persist_cache *c = g->cache;
	unsigned int misses = 0, idle_hits = 0, want, least;

	*credits = 0;
	for (unsigned int i = 0; i < req->nr_segs; i++) {
		uint32_t e = lookup(c, req->segs[i].gref);

		if (e == NONE)
			misses++;
		else
			idle_hits += c->e[e].inflight == 0;
	}
	c->win_lookups += req->nr_segs;
	c->win_hits += req->nr_segs - misses;
	if (c->win_lookups >= ADMIT_WINDOW)
		window_end(c);
	/* Pages that are all cached, or fit in free entries, evict nothing. */
	if (misses > c->max - c->count && c->closed_windows > 0) {
		g->stats.persistent_copied++;
		return false;
	}
	pages_needed(c, misses, idle_hits, &want, &least);
	if (xbd_grant_reserve(g, want)) {
		*credits = want;
		return true;
	}
	if (least < want && xbd_grant_reserve(g, least)) {
		*credits = least;
		return true;
	}
	g->stats.bound_copied++;
	return false;
}

static int persist_prepare(struct xbd_grant_ctx *g, struct xbd_grant_io *io)
{
	const struct xbd_req *req = io->req;
	bool need_write = !io->to_disk;
	unsigned char *transient;
	unsigned int nt = 0;
	int r;

	if (req->nr_segs > g->max_segs)
		return -EINVAL;
	io->map_addr = NULL;
	io->map_pages = 0;
	r = pin_hits(g, io, need_write);
	if (!r)
		r = place_misses(g, io, need_write, &nt);
	if (!r)
		r = map_transient(g, io, need_write, nt);
	if (r) {
		release(g, io);
		return r;
	}
	xbd_grant_unreserve(g, io->credits); /* reserved, not needed: replaced idle entries */
	io->credits = 0;
	transient = io->map_addr;
	for (unsigned int i = 0; i < req->nr_segs; i++) {
		uintptr_t h = (uintptr_t)io->held[i];
		void *page = h == TRANSIENT_TAG ? transient : g->cache->e[h >> 1].addr;

		if (h == TRANSIENT_TAG)
			transient += XBD_BLKIF_PAGE_SIZE;
		io->iov[i] = xbd_seg_iov(&req->segs[i], page);
	}
	io->niov = req->nr_segs;
	return 0;
}

static int persist_finish(struct xbd_grant_ctx *g, struct xbd_grant_io *io, bool copy_out)
{
	(void)copy_out;
	release(g, io);
	return 0;
}

void xbd_persist_cache_free(struct xbd_grant_ctx *g)
{
	struct xbd_persist_cache *c = g->cache;

	for (unsigned int i = 0; i < c->max; i++)
		if (c->e[i].used) {
			g->stats.unmap_calls++;
			g->xen->gnt_unmap(g->gnt, c->e[i].addr, 1);
			XBD_TRACE(xen_block_grant_unmap, GRANT_TRACE_VBD(g), 1u);
			xbd_grant_unmapped(g, 1);
			xbd_grant_unreserve(g, 1);
		}
	free(c->bucket);
	free(c->e);
	free(c);
	g->cache = NULL;
}

unsigned int xbd_persist_cache_size(const struct xbd_grant_ctx *g)
{
	return g->cache ? g->cache->count : 0;
}

const struct xbd_grant_ops xbd_grant_persistent_ops = {
	.mode = XBD_GRANT_PERSISTENT,
	.needs_bounce = false,
	.prepare = persist_prepare,
	.finish = persist_finish,
};
