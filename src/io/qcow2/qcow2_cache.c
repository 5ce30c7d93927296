/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A bounded cache of cluster-sized tables (L2 tables, refcount blocks): a fixed number of
 * slots allocated once at open, found through a hash of the table's host offset, evicted least
 * recently used. The cache only holds bytes and a dirty flag; what "dirty" means for crash
 * safety (and that a dirty slot must be written back before it is reused) is the caller's
 * business (qcow2_map.c), so this file does no I/O.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "qcow2.h"

static uint32_t hash_key(const struct qcow2_cache *c, uint64_t key)
{
	key ^= key >> 29;
	key *= 0xbf58476d1ce4e5b9ull;
	key ^= key >> 32;
	return (uint32_t)key & (c->nbuckets - 1);
}

int qcow2_cache_init(struct qcow2_cache *c, uint32_t nslots, uint32_t table_size)
{
	memset(c, 0, sizeof(*c));
	c->nslots = nslots;
	c->table_size = table_size;
	c->nbuckets = 1;
	while (c->nbuckets < 2 * nslots)
		c->nbuckets <<= 1;
	if (posix_memalign((void **)&c->mem, 4096, (size_t)nslots * table_size))
		c->mem = NULL;
	c->key = calloc(nslots, sizeof(*c->key));
	c->stamp = calloc(nslots, sizeof(*c->stamp));
	c->dirty = calloc(nslots, sizeof(*c->dirty));
	c->next = calloc(nslots, sizeof(*c->next));
	c->bucket = malloc(c->nbuckets * sizeof(*c->bucket));
	if (!c->mem || !c->key || !c->stamp || !c->dirty || !c->next || !c->bucket) {
		qcow2_cache_fini(c);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < c->nbuckets; i++)
		c->bucket[i] = -1;
	return 0;
}

void qcow2_cache_fini(struct qcow2_cache *c)
{
	free(c->mem);
	free(c->key);
	free(c->stamp);
	free(c->dirty);
	free(c->next);
	free(c->bucket);
	memset(c, 0, sizeof(*c));
}

/* The slot holding `key` (and it becomes the most recently used), or -1. */
int qcow2_cache_find(struct qcow2_cache *c, uint64_t key)
{
	if (!key || !c->nbuckets)
		return -1;
	for (int32_t i = c->bucket[hash_key(c, key)]; i >= 0; i = c->next[i]) {
		if (c->key[i] == key) {
			c->stamp[i] = ++c->tick;
			return i;
		}
	}
	return -1;
}

/* The slot to reuse: an empty one, else the least recently used. It may be dirty. */
int qcow2_cache_victim(const struct qcow2_cache *c)
{
	int best = 0;

	for (uint32_t i = 0; i < c->nslots; i++) {
		if (!c->key[i])
			return (int)i;
		if (c->stamp[i] < c->stamp[best])
			best = (int)i;
	}
	return best;
}

static void unlink_slot(struct qcow2_cache *c, int slot)
{
	int32_t *pp;

	if (!c->key[slot])
		return;
	for (pp = &c->bucket[hash_key(c, c->key[slot])]; *pp >= 0; pp = &c->next[*pp]) {
		if (*pp == slot) {
			*pp = c->next[slot];
			break;
		}
	}
	c->key[slot] = 0;
	qcow2_cache_mark_clean(c, slot);
}

/* Give `slot` to `key` (0: leave it empty). The caller fills or has filled its bytes. */
void qcow2_cache_assign(struct qcow2_cache *c, int slot, uint64_t key)
{
	uint32_t b;

	unlink_slot(c, slot);
	if (!key)
		return;
	b = hash_key(c, key);
	c->key[slot] = key;
	c->next[slot] = c->bucket[b];
	c->bucket[b] = slot;
	c->stamp[slot] = ++c->tick;
}

void qcow2_cache_drop(struct qcow2_cache *c, uint64_t key)
{
	int slot = qcow2_cache_find(c, key);

	if (slot >= 0)
		unlink_slot(c, slot);
}

void *qcow2_cache_data(const struct qcow2_cache *c, int slot)
{
	return c->mem + (size_t)slot * c->table_size;
}

void qcow2_cache_mark_dirty(struct qcow2_cache *c, int slot)
{
	if (!c->dirty[slot]) {
		c->dirty[slot] = true;
		c->ndirty++;
	}
}

void qcow2_cache_mark_clean(struct qcow2_cache *c, int slot)
{
	if (c->dirty[slot]) {
		c->dirty[slot] = false;
		c->ndirty--;
	}
}
