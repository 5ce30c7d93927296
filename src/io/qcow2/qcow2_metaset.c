/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Which host clusters hold metadata. A hostile image can point an L2 entry at its own L1 table
 * or at a refcount block; a guest write there would rewrite the metadata and from then on the
 * image could say anything. So every data cluster is checked against this set before use, and
 * the allocator skips its members even when their refcount claims they are free. L2 tables and
 * refcount blocks are single clusters in a hash set (linear probing, deletion by backward
 * shift); the contiguous tables (header, L1 tables, refcount table, snapshot table) are sorted
 * ranges.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "qcow2.h"

static uint64_t slot_of(const struct qcow2_metaset *m, uint64_t key)
{
	key ^= key >> 31;
	key *= 0x94d049bb133111ebull;
	key ^= key >> 29;
	return key & (m->cap - 1);
}

static int grow(struct qcow2_metaset *m)
{
	struct qcow2_metaset n = { .cap = m->cap ? m->cap * 2 : 64 };

	n.keys = calloc(n.cap, sizeof(*n.keys));
	n.kinds = calloc(n.cap, sizeof(*n.kinds));
	if (!n.keys || !n.kinds) {
		free(n.keys);
		free(n.kinds);
		return -ENOMEM;
	}
	for (uint64_t i = 0; i < m->cap; i++) {
		uint64_t j;

		if (!m->keys[i])
			continue;
		for (j = slot_of(&n, m->keys[i]); n.keys[j]; j = (j + 1) & (n.cap - 1))
			;
		n.keys[j] = m->keys[i];
		n.kinds[j] = m->kinds[i];
	}
	free(m->keys);
	free(m->kinds);
	m->keys = n.keys;
	m->kinds = n.kinds;
	m->cap = n.cap;
	return 0;
}

int qcow2_meta_add(struct qcow2_metaset *m, uint64_t cluster, enum qcow2_meta_kind kind)
{
	uint64_t key = cluster + 1, j;

	if ((m->count + 1) * 2 > m->cap) {
		int r = grow(m);

		if (r)
			return r;
	}
	for (j = slot_of(m, key); m->keys[j]; j = (j + 1) & (m->cap - 1)) {
		if (m->keys[j] == key) {
			m->kinds[j] = (uint8_t)kind;
			return 0;
		}
	}
	m->keys[j] = key;
	m->kinds[j] = (uint8_t)kind;
	m->count++;
	return 0;
}

void qcow2_meta_remove(struct qcow2_metaset *m, uint64_t cluster)
{
	uint64_t key = cluster + 1, i, j, mask = m->cap - 1;

	if (!m->cap)
		return;
	for (i = slot_of(m, key); m->keys[i] != key; i = (i + 1) & mask)
		if (!m->keys[i])
			return;
	/* Backward shift: pull later members of the probe run into the hole. */
	for (j = (i + 1) & mask; m->keys[j]; j = (j + 1) & mask) {
		uint64_t home = slot_of(m, m->keys[j]);
		bool movable = i <= j ? (home <= i || home > j) : (home <= i && home > j);

		if (movable) {
			m->keys[i] = m->keys[j];
			m->kinds[i] = m->kinds[j];
			i = j;
		}
	}
	m->keys[i] = 0;
	m->kinds[i] = 0;
	m->count--;
}

static bool in_fixed(const struct qcow2_metaset *m, uint64_t cluster)
{
	uint32_t lo = 0, hi = m->nfixed;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (cluster < m->fixed[mid].start)
			hi = mid;
		else if (cluster >= m->fixed[mid].end)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

enum qcow2_meta_kind qcow2_meta_kind_of(const struct qcow2_metaset *m, uint64_t cluster)
{
	uint64_t key = cluster + 1;

	if (in_fixed(m, cluster))
		return QCOW2_META_FIXED;
	if (!m->cap)
		return QCOW2_META_NONE;
	for (uint64_t j = slot_of(m, key); m->keys[j]; j = (j + 1) & (m->cap - 1))
		if (m->keys[j] == key)
			return (enum qcow2_meta_kind)m->kinds[j];
	return QCOW2_META_NONE;
}

static int cmp_range(const void *a, const void *b)
{
	const struct qcow2_range *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* Add [start, start + n) clusters to the fixed ranges, keeping them sorted and merged. */
int qcow2_meta_add_fixed(struct qcow2_metaset *m, uint64_t start, uint64_t n)
{
	struct qcow2_range *r;
	uint32_t out = 0;

	if (!n)
		return 0;
	r = realloc(m->fixed, (m->nfixed + 1) * sizeof(*r));
	if (!r)
		return -ENOMEM;
	m->fixed = r;
	r[m->nfixed++] = (struct qcow2_range){ start, start + n };
	qsort(r, m->nfixed, sizeof(*r), cmp_range);
	for (uint32_t i = 1; i < m->nfixed; i++) {
		if (r[i].start <= r[out].end) {
			if (r[i].end > r[out].end)
				r[out].end = r[i].end;
		} else {
			r[++out] = r[i];
		}
	}
	m->nfixed = out + 1;
	return 0;
}

void qcow2_meta_clear_fixed(struct qcow2_metaset *m)
{
	free(m->fixed);
	m->fixed = NULL;
	m->nfixed = 0;
}

void qcow2_meta_fini(struct qcow2_metaset *m)
{
	free(m->keys);
	free(m->kinds);
	qcow2_meta_clear_fixed(m);
	memset(m, 0, sizeof(*m));
}

/* True if any cluster of [host_off, host_off + len) holds metadata. */
bool qcow2_is_metadata(const struct qcow2 *s, uint64_t host_off, uint64_t len)
{
	uint64_t first = host_off >> s->cluster_bits;
	uint64_t last = (host_off + (len ? len : 1) - 1) >> s->cluster_bits;

	for (uint64_t c = first; c <= last; c++)
		if (qcow2_meta_kind_of(&s->meta, c) != QCOW2_META_NONE)
			return true;
	return false;
}
