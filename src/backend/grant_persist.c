/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The persistent strategy (see grant.h): with feature-persistent on both sides the frontend
 * reuses a set of granted pages, so the backend keeps each mapped after use, keyed by grant
 * reference. The cache is bounded: when full, the least recently used idle entry is unmapped;
 * an entry with I/O in flight is never unmapped. When every entry is busy, the segment is
 * mapped just for this request. A frontend may re-grant a reference for another page only
 * after we unmapped it, i.e. after it left the cache, so a hit always names the same page.
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
	/* Admission (see the top): this window's counts, and how long admission stays closed. */
	unsigned int win_lookups, win_hits, win_evictions;
	unsigned int closed_windows; /* 0: admitting */
};

#define ADMIT_WINDOW 1024 /* segment lookups per window: 4 requests of 256 segments */
#define CLOSED_FOR 8      /* windows without admission before a probe */

/* A segment mapped for one request only, when the cache is full of busy entries. */
#define TRANSIENT_TAG ((uintptr_t)1)

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

/* Unmap the least recently used idle entry. False if every entry is busy. */
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
	c->e[i] = (struct pentry){ .next = c->free_head, .lru_prev = NONE, .lru_next = NONE };
	c->free_head = i;
	c->count--;
	return true;
}

/* Map one page: writable if the grant allows it, since later requests may read into it. */
static int map_page(struct xbd_grant_ctx *g, uint32_t gref, bool need_write, void **addr,
		    bool *writable)
{
	g->stats.map_calls++;
	if (g->xen->gnt_map(g->gnt, g->domid, &gref, 1, true, addr) == 0) {
		*writable = true;
		return 0;
	}
	if (need_write)
		return -EACCES;
	g->stats.map_calls++;
	*writable = false;
	return g->xen->gnt_map(g->gnt, g->domid, &gref, 1, false, addr);
}

static int insert(struct xbd_grant_ctx *g, uint32_t gref, bool need_write, uint32_t *out)
{
	struct xbd_persist_cache *c = g->cache;
	uint32_t i = c->free_head;
	struct pentry *e = &c->e[i];
	int r;

	r = map_page(g, gref, need_write, &e->addr, &e->writable);
	if (r)
		return r;
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

/* Take a page for one segment: a cached entry (index << 1) or a transient mapping (tagged). */
static int get_page(struct xbd_grant_ctx *g, uint32_t gref, bool need_write, void **held,
		    void **addr)
{
	struct xbd_persist_cache *c = g->cache;
	uint32_t i = lookup(c, gref);
	bool w;
	int r;

	if (i != NONE) {
		if (need_write && !c->e[i].writable)
			return -EACCES;
		g->stats.persistent_hits++;
	} else {
		g->stats.persistent_misses++;
		if (c->count == c->max && !purge_one(g)) {
			r = map_page(g, gref, need_write, addr, &w);
			*held = (void *)((uintptr_t)*addr | TRANSIENT_TAG);
			return r;
		}
		r = insert(g, gref, need_write, &i);
		if (r)
			return r;
	}
	if (c->e[i].inflight++ == 0 && (c->e[i].lru_prev != NONE || c->lru_head == i))
		lru_unlink(c, i);
	*held = (void *)((uintptr_t)i << 1);
	*addr = c->e[i].addr;
	return 0;
}

static void put_page(struct xbd_grant_ctx *g, void *held)
{
	struct xbd_persist_cache *c = g->cache;
	uintptr_t h = (uintptr_t)held;
	uint32_t i;

	if (h & TRANSIENT_TAG) {
		g->stats.unmap_calls++;
		g->xen->gnt_unmap(g->gnt, (void *)(h & ~TRANSIENT_TAG), 1);
		return;
	}
	i = (uint32_t)(h >> 1);
	if (--c->e[i].inflight == 0)
		lru_append(c, i);
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

bool xbd_persist_admit(struct xbd_grant_ctx *g, const struct xbd_req *req)
{
	struct xbd_persist_cache *c = g->cache;
	unsigned int misses = 0;

	for (unsigned int i = 0; i < req->nr_segs; i++)
		if (lookup(c, req->segs[i].gref) == NONE)
			misses++;
	c->win_lookups += req->nr_segs;
	c->win_hits += req->nr_segs - misses;
	if (c->win_lookups >= ADMIT_WINDOW)
		window_end(c);
	/* Pages that are all cached, or fit in free entries, evict nothing. */
	if (misses <= c->max - c->count || c->closed_windows == 0)
		return true;
	g->stats.persistent_copied++;
	return false;
}

static int persist_prepare(struct xbd_grant_ctx *g, struct xbd_grant_io *io)
{
	const struct xbd_req *req = io->req;

	for (unsigned int i = 0; i < req->nr_segs; i++) {
		void *page;
		int r = get_page(g, req->segs[i].gref, !io->to_disk, &io->held[i], &page);

		if (r) {
			while (i-- > 0)
				put_page(g, io->held[i]);
			return r;
		}
		io->iov[i] = xbd_seg_iov(&req->segs[i], page);
	}
	io->niov = req->nr_segs;
	return 0;
}

static int persist_finish(struct xbd_grant_ctx *g, struct xbd_grant_io *io, bool copy_out)
{
	(void)copy_out;
	for (unsigned int i = 0; i < io->req->nr_segs; i++)
		put_page(g, io->held[i]);
	return 0;
}

void xbd_persist_cache_free(struct xbd_grant_ctx *g)
{
	struct xbd_persist_cache *c = g->cache;

	for (unsigned int i = 0; i < c->max; i++)
		if (c->e[i].used) {
			g->stats.unmap_calls++;
			g->xen->gnt_unmap(g->gnt, c->e[i].addr, 1);
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
