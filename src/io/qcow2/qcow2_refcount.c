/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Refcounts: reading and writing entries of any width (1..64 bits), cluster allocation, and the
 * deferred frees. Crash-safety rules this file keeps:
 *  - raising a refcount is written through at once (a raised refcount nobody points to is only
 *    a leak, so it may reach the disk in any order, and it is on disk before the flush that
 *    precedes any L2 write that uses the cluster);
 *  - lowering one waits (qcow2_free_later) until the L2/L1 change that dropped the reference
 *    is durable (qcow2_meta_flush), or a crash could leave an L2 entry pointing at a cluster
 *    that was freed and handed out again.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "xenblkd/log.h"
#include "qcow2.h"

static uint64_t entry_get(const struct qcow2 *s, const uint8_t *blk, uint64_t i)
{
	uint64_t bit;

	switch (s->refcount_bits) {
	case 64:
		return qcow2_be64(blk + i * 8);
	case 32:
		return qcow2_be32(blk + i * 4);
	case 16:
		return qcow2_be16(blk + i * 2);
	case 8:
		return blk[i];
	default:
		bit = i * s->refcount_bits;
		return (blk[bit / 8] >> (bit % 8)) & s->refcount_max;
	}
}

/* Store entry i; *byte and *len get the bytes of the block that changed. */
static void entry_put(const struct qcow2 *s, uint8_t *blk, uint64_t i, uint64_t v,
		      uint64_t *byte, uint64_t *len)
{
	uint64_t bit = i * s->refcount_bits;
	uint8_t tmp[8];

	*byte = bit / 8;
	*len = s->refcount_bits < 8 ? 1 : s->refcount_bits / 8;
	if (s->refcount_bits < 8) {
		uint8_t mask = (uint8_t)(s->refcount_max << (bit % 8));

		blk[*byte] = (uint8_t)((blk[*byte] & ~mask) | ((v << (bit % 8)) & mask));
		return;
	}
	qcow2_put_be64(tmp, v);
	memcpy(blk + *byte, tmp + 8 - *len, *len);
}

/* Load refcount table entry i's block into the cache: slot, or 1 if there is no block. */
static int load_block(struct qcow2 *s, uint64_t i, int *slot)
{
	uint64_t e = s->reftable[i], off = e & ~QCOW2_REFT_RESERVED;
	int r;

	if (!e)
		return 1;
	if ((e & QCOW2_REFT_RESERVED) || (off & (s->cluster_size - 1)) ||
	    off >= QCOW2_MAX_HOST_OFFSET || off + s->cluster_size > s->file_size ||
	    qcow2_meta_kind_of(&s->meta, off >> s->cluster_bits) == QCOW2_META_FIXED)
		return qcow2_corrupt(s, "refcount table entry invalid", e);
	*slot = qcow2_cache_find(&s->rb_cache, off);
	if (*slot >= 0)
		return 0;
	/* Refcount blocks are written through, so every slot is clean and can be reused. */
	*slot = qcow2_cache_victim(&s->rb_cache);
	qcow2_cache_assign(&s->rb_cache, *slot, 0);
	r = qcow2_pread_meta(s, qcow2_cache_data(&s->rb_cache, *slot), s->cluster_size, off);
	if (r)
		return r;
	qcow2_cache_assign(&s->rb_cache, *slot, off);
	return 0;
}

int qcow2_refcount_get(struct qcow2 *s, uint64_t cluster, uint64_t *ref)
{
	uint64_t i = cluster >> s->rb_bits;
	int slot = -1, r;

	*ref = 0;
	if (i >= s->reftable_entries)
		return 0;
	r = load_block(s, i, &slot);
	if (r)
		return r > 0 ? 0 : r;
	*ref = entry_get(s, qcow2_cache_data(&s->rb_cache, slot),
			 cluster & ((1ull << s->rb_bits) - 1));
	return 0;
}

/* Write through: the entry's bytes go to the file at once. The block must exist. */
static int store(struct qcow2 *s, uint64_t cluster, uint64_t ref)
{
	uint64_t i = cluster >> s->rb_bits, byte, len;
	int slot = -1, r = load_block(s, i, &slot);
	uint8_t *blk;

	if (r)
		return r > 0 ? qcow2_corrupt(s, "refcount block vanished", cluster) : r;
	blk = qcow2_cache_data(&s->rb_cache, slot);
	entry_put(s, blk, cluster & ((1ull << s->rb_bits) - 1), ref, &byte, &len);
	r = qcow2_pwrite(s, blk + byte, len, (s->reftable[i] & ~QCOW2_REFT_RESERVED) + byte);
	if (r)
		qcow2_cache_drop(&s->rb_cache, s->reftable[i] & ~QCOW2_REFT_RESERVED);
	return r;
}

/* Make sure a refcount block covers `cluster`, growing the table or creating the block. */
static int ensure_block(struct qcow2 *s, uint64_t cluster, uint64_t avoid_end, bool *created)
{
	uint64_t i = cluster >> s->rb_bits;
	int r;

	if (i >= s->reftable_entries) {
		r = qcow2_reftable_grow(s, i + 1, avoid_end);
		if (r)
			return r;
		*created = true;
	}
	if (s->reftable[i])
		return 0;
	*created = true;
	return qcow2_refblock_create(s, i);
}

int qcow2_refcount_set(struct qcow2 *s, uint64_t cluster, uint64_t ref)
{
	bool created = false;
	int r;

	if (ref > s->refcount_max)
		return qcow2_corrupt(s, "refcount would overflow", cluster);
	if (!ref && (cluster >> s->rb_bits) >= s->reftable_entries)
		return 0;
	r = ensure_block(s, cluster, cluster + 1, &created);
	return r ? r : store(s, cluster, ref);
}

/*
 * Free: refcount 0 and not metadata. Past the end of the file nothing can be stored, so a
 * refcount there is ignored (and overwritten when the cluster is taken): a hostile refcount
 * table that claims every cluster in use cannot make the search run for ever.
 */
static int cluster_free(struct qcow2 *s, uint64_t c, bool *is_free)
{
	uint64_t ref = 0;
	int r = 0;

	if (c < (s->file_size + s->cluster_size - 1) >> s->cluster_bits)
		r = qcow2_refcount_get(s, c, &ref);

	*is_free = !r && ref == 0 && qcow2_meta_kind_of(&s->meta, c) == QCOW2_META_NONE;
	return r;
}

/* The first run of n free clusters at or after *start. */
static int find_run(struct qcow2 *s, uint64_t n, uint64_t *start)
{
	uint64_t limit = QCOW2_MAX_HOST_OFFSET >> s->cluster_bits, run = 0;

	for (uint64_t c = *start; c < limit; c++) {
		bool is_free;
		int r = cluster_free(s, c, &is_free);

		if (r)
			return r;
		run = is_free ? run + 1 : 0;
		if (run == n) {
			*start = c + 1 - n;
			return 0;
		}
	}
	xbd_err(s->prefix, "qcow2 image full: no free host cluster below 64 PiB");
	return -ENOSPC;
}

/*
 * Allocate n contiguous clusters (refcount 0 -> 1) and return the first one's offset. The
 * refcount blocks that will hold their refcounts are made first: making one takes a cluster
 * (maybe one of ours), in which case the search goes on.
 */
int qcow2_alloc_clusters(struct qcow2 *s, uint64_t n, uint64_t *host_off)
{
	uint64_t start = s->free_hint;
	int r;

	for (int tries = 0; tries < 1000; tries++) {
		bool created = false, is_free = true;

		r = find_run(s, n, &start);
		for (uint64_t c = start; !r && c < start + n; c++)
			r = ensure_block(s, c, start + n, &created);
		for (uint64_t c = start; !r && created && is_free && c < start + n; c++)
			r = cluster_free(s, c, &is_free);
		if (r)
			return r;
		if (!is_free)
			continue;
		for (uint64_t c = start; c < start + n; c++) {
			r = store(s, c, 1);
			if (r)
				return r;
		}
		/* For one cluster, everything between the hint and it is in use. */
		if (n == 1 || start == s->free_hint)
			s->free_hint = start + n;
		*host_off = start << s->cluster_bits;
		return 0;
	}
	return -ENOSPC;
}

/* Remember that these clusters lose one reference once the current L2 state is durable. */
int qcow2_free_later(struct qcow2 *s, uint64_t host_off, uint64_t nclusters)
{
	for (uint64_t i = 0; i < nclusters; i++) {
		if (s->npending == s->pending_cap) {
			uint32_t cap = s->pending_cap ? s->pending_cap * 2 : 64;
			uint64_t *p = realloc(s->pending_free, cap * sizeof(*p));

			if (!p)
				return -ENOMEM;
			s->pending_free = p;
			s->pending_cap = cap;
		}
		s->pending_free[s->npending++] = (host_off >> s->cluster_bits) + i;
	}
	return 0;
}

/* Called by qcow2_meta_flush once nothing durable points at these clusters any more. */
int qcow2_apply_pending_frees(struct qcow2 *s)
{
	int r = 0;

	for (uint32_t i = 0; i < s->npending && !r; i++) {
		uint64_t c = s->pending_free[i], ref;

		r = qcow2_refcount_get(s, c, &ref);
		if (r)
			break;
		if (ref == 0) {
			qcow2_corrupt(s, "freeing a cluster whose refcount is already 0", c);
			continue;
		}
		r = store(s, c, ref - 1);
		if (!r && ref == 1) {
			if (c < s->free_hint)
				s->free_hint = c;
			qcow2_punch(s, c << s->cluster_bits, s->cluster_size);
		}
	}
	s->npending = 0;
	s->dkey = 0; /* freed bytes may be reused: forget the decompressed cluster */
	return r;
}

/* Read the refcount table into memory; its blocks join the metadata set. */
int qcow2_refcount_load_table(struct qcow2 *s)
{
	uint64_t bytes = (uint64_t)s->h.refcount_table_clusters << s->cluster_bits;
	int r;

	s->reftable_entries = bytes / 8;
	s->reftable = malloc(bytes);
	if (!s->reftable)
		return -ENOMEM;
	r = qcow2_pread_meta(s, s->reftable, bytes, s->h.refcount_table_offset);
	if (r)
		return r;
	for (uint64_t i = 0; i < s->reftable_entries && !r; i++) {
		uint64_t off;

		s->reftable[i] = qcow2_be64(&s->reftable[i]);
		off = s->reftable[i] & ~QCOW2_REFT_RESERVED;
		if (off && !(off & (s->cluster_size - 1)) && off < QCOW2_MAX_HOST_OFFSET)
			r = qcow2_meta_add(&s->meta, off >> s->cluster_bits, QCOW2_META_REFBLOCK);
	}
	return r;
}
