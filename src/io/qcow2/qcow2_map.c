/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Guest-to-host mapping: the L1 table (in memory), L2 tables (through the bounded L2 cache),
 * classification and validation of L2 entries, making an L2 table writable (allocating it, or
 * copying one shared with a snapshot), and the metadata flush that writes L2 and L1 changes
 * back in crash-safe order:
 *   1. sync: guest data in new clusters, raised refcounts and new tables' clusters are durable;
 *   2. write the dirty L2 tables;
 *   3. if the L1 changed: sync (a new L2 table is durable before the L1 names it), write L1;
 *   4. sync if frees wait or the caller wants durability, then lower the refcounts of
 *      clusters that nothing durable points at any more.
 * L2 tables are written back, not through: one sync covers many allocations. An image opened
 * with write_through (a VBD that resumes after a crash, docs/restart.md) runs the same flush,
 * not asking for durability, at the end of every request that left L2 or L1 dirty
 * (qcow2_request_done): the kernel then holds all a completed request depends on, and the
 * power-loss order above is unchanged.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "xenblkd/log.h"
#include "qcow2.h"

int qcow2_l1_load(struct qcow2 *s)
{
	uint64_t bytes = (uint64_t)s->h.l1_size * 8;
	int r;

	s->l1_size = s->h.l1_size;
	s->l1 = malloc(bytes ? bytes : 8);
	if (!s->l1)
		return -ENOMEM;
	r = qcow2_pread_meta(s, s->l1, bytes, s->h.l1_table_offset);
	for (uint32_t i = 0; i < s->l1_size && !r; i++) {
		uint64_t off;

		s->l1[i] = qcow2_be64(&s->l1[i]);
		off = s->l1[i] & QCOW2_OFFSET_MASK;
		if (off && !(off & (s->cluster_size - 1)))
			r = qcow2_meta_add(&s->meta, off >> s->cluster_bits, QCOW2_META_L2);
	}
	return r;
}

/* The L2 table offset L1 entry i names (0: none), validated. */
static int l1_entry(struct qcow2 *s, uint64_t i, uint64_t *l2off)
{
	uint64_t e = s->l1[i], off = e & QCOW2_OFFSET_MASK;
	enum qcow2_meta_kind k;

	*l2off = 0;
	if (e & QCOW2_L1E_RESERVED)
		return qcow2_corrupt(s, "L1 entry has reserved bits set", e);
	if (!off)
		return 0;
	k = qcow2_meta_kind_of(&s->meta, off >> s->cluster_bits);
	if ((off & (s->cluster_size - 1)) || off + s->cluster_size > s->file_size)
		return qcow2_corrupt(s, "L1 entry unaligned or past the end of the file", e);
	if (k == QCOW2_META_FIXED || k == QCOW2_META_REFBLOCK)
		return qcow2_corrupt(s, "L1 entry points at other metadata", e);
	*l2off = off;
	return 0;
}

/* Make room in a cache of written-back tables: a dirty victim forces a metadata flush. */
static int take_l2_slot(struct qcow2 *s, int *slot)
{
	int r;

	*slot = qcow2_cache_victim(&s->l2_cache);
	if (s->l2_cache.dirty[*slot]) {
		r = qcow2_meta_flush(s, false);
		if (r)
			return r;
	}
	qcow2_cache_assign(&s->l2_cache, *slot, 0);
	return 0;
}

static int get_l2(struct qcow2 *s, uint64_t l2off, int *slot)
{
	int r;

	*slot = qcow2_cache_find(&s->l2_cache, l2off);
	if (*slot >= 0)
		return 0;
	r = take_l2_slot(s, slot);
	if (!r)
		r = qcow2_pread_meta(s, qcow2_cache_data(&s->l2_cache, *slot), s->cluster_size,
				     l2off);
	if (r)
		return r;
	qcow2_cache_assign(&s->l2_cache, *slot, l2off);
	return 0;
}

/* A data cluster [host, host + len) may be used: inside the file, not metadata. */
bool qcow2_data_offset_ok(const struct qcow2 *s, uint64_t host, uint64_t len)
{
	return host < s->file_size && host < QCOW2_MAX_HOST_OFFSET &&
	       !qcow2_is_metadata(s, host, len);
}

static int classify_compressed(struct qcow2 *s, uint64_t e, struct qcow2_map *m)
{
	uint64_t off = e & ((1ull << s->csize_shift) - 1);
	uint64_t nsec = (e & ~(QCOW2_COPIED | QCOW2_COMPRESSED)) >> s->csize_shift;
	uint64_t size = (nsec + 1) * 512 - (off & 511);

	if (e & QCOW2_COPIED)
		return qcow2_corrupt(s, "compressed L2 entry has the copied flag", e);
	if (off >= s->file_size || off >= QCOW2_MAX_HOST_OFFSET)
		return qcow2_corrupt(s, "compressed cluster past the end of the file", e);
	m->type = QCOW2_COMPRESSED_CLUSTER;
	m->host = off;
	m->csize = size < s->file_size - off ? size : s->file_size - off;
	if (qcow2_is_metadata(s, off, m->csize))
		return qcow2_corrupt(s, "compressed cluster overlaps metadata", e);
	return 0;
}

static int classify(struct qcow2 *s, uint64_t e, struct qcow2_map *m)
{
	uint64_t host = e & QCOW2_OFFSET_MASK;

	memset(m, 0, sizeof(*m));
	m->entry = e;
	if (e & QCOW2_COMPRESSED)
		return classify_compressed(s, e, m);
	if (e & QCOW2_L2E_RESERVED)
		return qcow2_corrupt(s, "L2 entry has reserved bits set", e);
	if (host & (s->cluster_size - 1))
		return qcow2_corrupt(s, "L2 entry offset not cluster-aligned", e);
	if (e & QCOW2_L2E_ZERO) {
		if (s->h.version < 3)
			return qcow2_corrupt(s, "zero flag in a version 2 image", e);
		m->type = QCOW2_ZERO;
		m->host = host;
		return 0;
	}
	if (!host) {
		if (e & QCOW2_COPIED)
			return qcow2_corrupt(s, "L2 entry names host offset 0", e);
		m->type = QCOW2_UNALLOCATED;
		return 0;
	}
	if (!qcow2_data_offset_ok(s, host, s->cluster_size))
		return qcow2_corrupt(s, "data cluster past the end of the file or on metadata", e);
	m->type = QCOW2_NORMAL;
	m->host = host;
	return 0;
}

static uint64_t l1_index(const struct qcow2 *s, uint64_t guest_off)
{
	return guest_off >> (s->l2_bits + s->cluster_bits);
}

static uint64_t l2_index(const struct qcow2 *s, uint64_t guest_off)
{
	return (guest_off >> s->cluster_bits) & ((1ull << s->l2_bits) - 1);
}

int qcow2_lookup(struct qcow2 *s, uint64_t guest_off, struct qcow2_map *m)
{
	uint64_t i = l1_index(s, guest_off), l2off;
	int slot, r;

	memset(m, 0, sizeof(*m));
	if (i >= s->l1_size)
		return 0;
	r = l1_entry(s, i, &l2off);
	if (r || !l2off)
		return r;
	r = get_l2(s, l2off, &slot);
	if (r)
		return r;
	return classify(s, qcow2_be64((uint64_t *)qcow2_cache_data(&s->l2_cache, slot) +
				      l2_index(s, guest_off)), m);
}

static void l1_set(struct qcow2 *s, uint64_t i, uint64_t e)
{
	s->l1[i] = e;
	if (s->l1_dirty_hi <= s->l1_dirty_lo) {
		s->l1_dirty_lo = (uint32_t)i;
		s->l1_dirty_hi = (uint32_t)i + 1;
	} else {
		if (i < s->l1_dirty_lo)
			s->l1_dirty_lo = (uint32_t)i;
		if (i + 1 > s->l1_dirty_hi)
			s->l1_dirty_hi = (uint32_t)i + 1;
	}
}

/* A new L2 table for L1 entry i: empty, or a copy of the shared table at old. */
static int new_l2(struct qcow2 *s, uint64_t i, uint64_t old, uint64_t *l2off)
{
	int slot, r = qcow2_alloc_clusters(s, 1, l2off);

	if (r)
		return r;
	memset(s->mscratch, 0, s->cluster_size);
	if (old) {
		r = get_l2(s, old, &slot);
		if (r)
			return r;
		memcpy(s->mscratch, qcow2_cache_data(&s->l2_cache, slot), s->cluster_size);
	}
	r = take_l2_slot(s, &slot);
	if (r)
		return r;
	memcpy(qcow2_cache_data(&s->l2_cache, slot), s->mscratch, s->cluster_size);
	qcow2_cache_assign(&s->l2_cache, slot, *l2off);
	qcow2_cache_mark_dirty(&s->l2_cache, slot);
	/* The table exists from now on, though its bytes reach the file only at write-back. */
	if (*l2off + s->cluster_size > s->file_size)
		s->file_size = *l2off + s->cluster_size;
	r = qcow2_meta_add(&s->meta, *l2off >> s->cluster_bits, QCOW2_META_L2);
	if (!r && old) {
		qcow2_cache_drop(&s->l2_cache, old);
		qcow2_meta_remove(&s->meta, old >> s->cluster_bits);
		r = qcow2_free_later(s, old, 1);
	}
	if (!r)
		l1_set(s, i, *l2off | QCOW2_COPIED);
	return r;
}

/* The L2 table for guest_off, made private to the active L1 (refcount 1) so it can change. */
int qcow2_l2_for_write(struct qcow2 *s, uint64_t guest_off, uint64_t *l2off)
{
	uint64_t i = l1_index(s, guest_off), ref;
	int r;

	if (i >= s->l1_size)
		return qcow2_corrupt(s, "write past the L1 table", guest_off);
	r = l1_entry(s, i, l2off);
	if (r || !*l2off)
		return r ? r : new_l2(s, i, 0, l2off);
	r = qcow2_refcount_get(s, *l2off >> s->cluster_bits, &ref);
	if (r)
		return r;
	if (ref == 0)
		return qcow2_corrupt(s, "L2 table in use has refcount 0", *l2off);
	if (ref > 1)
		return new_l2(s, i, *l2off, l2off);
	if (!(s->l1[i] & QCOW2_COPIED))
		l1_set(s, i, s->l1[i] | QCOW2_COPIED);
	return 0;
}

/* Read or change the entry for guest_off in the (private) L2 table at l2off. */
int qcow2_l2_entry(struct qcow2 *s, uint64_t l2off, uint64_t guest_off, uint64_t *entry,
		   bool set)
{
	uint64_t *t;
	int slot, r = get_l2(s, l2off, &slot);

	if (r)
		return r;
	t = (uint64_t *)qcow2_cache_data(&s->l2_cache, slot) + l2_index(s, guest_off);
	if (!set) {
		*entry = qcow2_be64(t);
		return 0;
	}
	qcow2_put_be64(t, *entry);
	qcow2_cache_mark_dirty(&s->l2_cache, slot);
	return 0;
}

int qcow2_classify_entry(struct qcow2 *s, uint64_t e, struct qcow2_map *m)
{
	return classify(s, e, m);
}

static int write_dirty_l2(struct qcow2 *s)
{
	struct qcow2_cache *c = &s->l2_cache;

	for (uint32_t i = 0; i < c->nslots && c->ndirty; i++) {
		int r;

		if (!c->dirty[i])
			continue;
		r = qcow2_pwrite(s, qcow2_cache_data(c, (int)i), s->cluster_size, c->key[i]);
		if (r)
			return r;
		qcow2_cache_mark_clean(c, (int)i);
	}
	return 0;
}

static int write_l1(struct qcow2 *s)
{
	uint32_t lo = s->l1_dirty_lo, n = s->l1_dirty_hi - lo;
	uint64_t *be = malloc((size_t)n * 8);
	int r;

	if (!be)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++)
		qcow2_put_be64(&be[i], s->l1[lo + i]);
	r = qcow2_pwrite(s, be, (size_t)n * 8, s->h.l1_table_offset + (uint64_t)lo * 8);
	free(be);
	if (!r)
		s->l1_dirty_lo = s->l1_dirty_hi = 0;
	return r;
}

int qcow2_meta_flush(struct qcow2 *s, bool durable)
{
	bool l2d = s->l2_cache.ndirty > 0, l1d = s->l1_dirty_hi > s->l1_dirty_lo;
	bool frees = s->npending > 0;
	int r;

	if (!s->writable)
		return 0;
	if (!l2d && !l1d && !frees)
		return durable ? qcow2_sync(s) : 0;
	r = qcow2_sync(s);
	if (!r && l2d)
		r = write_dirty_l2(s);
	if (!r && l1d) {
		r = qcow2_sync(s);
		if (!r)
			r = write_l1(s);
	}
	if (!r && (frees || durable))
		r = qcow2_sync(s);
	if (!r && frees)
		r = qcow2_apply_pending_frees(s);
	return r;
}

bool qcow2_meta_dirty(const struct qcow2 *s)
{
	return s->l2_cache.ndirty > 0 || s->l1_dirty_hi > s->l1_dirty_lo;
}

/*
 * A crash of the process keeps what reached the kernel, so writing the dirty tables back is
 * enough for it; the syncs inside qcow2_meta_flush() stay, because without the one before the
 * L2 write the page cache could put an L2 entry on the disk before the data it names is
 * durable, which a power loss between two guest flushes would expose. Pending frees alone are
 * not written: losing them only leaks clusters.
 */
int qcow2_request_done(struct qcow2 *s, bool durable)
{
	if (durable)
		return qcow2_meta_flush(s, true);
	if (s->write_through && qcow2_meta_dirty(s))
		return qcow2_meta_flush(s, false);
	return 0;
}
