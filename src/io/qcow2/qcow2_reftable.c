/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Growing the refcount structure: a new refcount block when a cluster's range has none, and a
 * new, larger refcount table when a cluster lies past what the table covers. Both follow one
 * crash-safety rule: the new structure is written and made durable before anything points at
 * it (block, then sync, then its table entry; new table and its blocks, then sync, then the
 * header, then sync), so a crash leaves either the old structure or the complete new one.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "xenblkd/log.h"
#include "qcow2.h"

/* A free cluster for the block of range i: inside that range, so it describes itself. */
static int pick_self_cluster(struct qcow2 *s, uint64_t i, uint64_t *cluster)
{
	uint64_t first = i << s->rb_bits, n = 1ull << s->rb_bits;

	for (uint64_t c = first; c < first + n; c++) {
		if (c >= QCOW2_MAX_HOST_OFFSET >> s->cluster_bits)
			break;
		if (qcow2_meta_kind_of(&s->meta, c) == QCOW2_META_NONE) {
			*cluster = c;
			return 0;
		}
	}
	return qcow2_corrupt(s, "no room for a refcount block", i);
}

static void set_entry_in(struct qcow2 *s, uint8_t *blk, uint64_t idx)
{
	uint64_t bit = idx * s->refcount_bits;

	/* Refcount 1 in a zeroed block: the lowest bit of the (big-endian) entry. */
	if (s->refcount_bits < 8)
		blk[bit / 8] |= (uint8_t)(1u << (bit % 8));
	else
		blk[(bit + s->refcount_bits) / 8 - 1] = 1;
}

int qcow2_refblock_create(struct qcow2 *s, uint64_t i)
{
	uint64_t c = 0, off, mask = (1ull << s->rb_bits) - 1;
	uint8_t be[8];
	int r = pick_self_cluster(s, i, &c);

	if (r)
		return r;
	memset(s->mscratch, 0, s->cluster_size);
	set_entry_in(s, s->mscratch, c & mask);
	off = c << s->cluster_bits;
	r = qcow2_pwrite(s, s->mscratch, s->cluster_size, off);
	if (!r)
		r = qcow2_sync(s);
	qcow2_put_be64(be, off);
	if (!r)
		r = qcow2_pwrite(s, be, 8, s->h.refcount_table_offset + i * 8);
	if (r)
		return r;
	s->reftable[i] = off;
	return qcow2_meta_add(&s->meta, c, QCOW2_META_REFBLOCK);
}

struct grow_plan {
	uint64_t entries;   /* of the new table */
	uint64_t table;     /* first cluster of the new table */
	uint64_t tclusters;
	uint64_t nblocks;   /* new blocks, right after the table */
};

static uint64_t round_entries(const struct qcow2 *s, uint64_t n)
{
	uint64_t per = s->cluster_size / 8;

	return (n + per - 1) / per * per;
}

/* Lay the new table and the blocks covering it (and themselves) out past everything in use. */
static int plan_growth(struct qcow2 *s, uint64_t min_entries, uint64_t avoid_end,
		       struct grow_plan *p)
{
	uint64_t covered = s->reftable_entries << s->rb_bits;
	uint64_t fclusters = (s->file_size + s->cluster_size - 1) >> s->cluster_bits;

	p->table = covered > fclusters ? covered : fclusters;
	if (avoid_end > p->table)
		p->table = avoid_end;
	p->entries = round_entries(s, min_entries > s->reftable_entries * 2 ?
					      min_entries : s->reftable_entries * 2);
	p->nblocks = 0;
	for (int iter = 0; iter < 64; iter++) {
		uint64_t end, nb, need;

		p->tclusters = p->entries * 8 >> s->cluster_bits;
		end = p->table + p->tclusters + p->nblocks;
		nb = ((end - 1) >> s->rb_bits) - (p->table >> s->rb_bits) + 1;
		need = round_entries(s, ((end - 1) >> s->rb_bits) + 1);
		if (nb == p->nblocks && need <= p->entries)
			break;
		p->nblocks = nb;
		if (need > p->entries)
			p->entries = need;
	}
	if (p->entries * 8 > QCOW2_MAX_REFTABLE_BYTES ||
	    (p->table + p->tclusters + p->nblocks) << s->cluster_bits >= QCOW2_MAX_HOST_OFFSET) {
		xbd_err(s->prefix, "qcow2 refcount table cannot grow further");
		return -ENOSPC;
	}
	return 0;
}

/* Write the new blocks (each counting the new clusters in its range) and the new table. */
static int write_growth(struct qcow2 *s, const struct grow_plan *p, uint64_t *table)
{
	uint64_t first = p->table, end = p->table + p->tclusters + p->nblocks;
	uint64_t mask = (1ull << s->rb_bits) - 1;
	int r = 0;

	for (uint64_t b = 0; b < p->nblocks && !r; b++) {
		uint64_t idx = (first >> s->rb_bits) + b;
		uint64_t bc = first + p->tclusters + b;

		memset(s->mscratch, 0, s->cluster_size);
		for (uint64_t c = first; c < end; c++)
			if ((c >> s->rb_bits) == idx)
				set_entry_in(s, s->mscratch, c & mask);
		table[idx] = bc << s->cluster_bits;
		r = qcow2_pwrite(s, s->mscratch, s->cluster_size, bc << s->cluster_bits);
	}
	for (uint64_t i = 0; i < p->entries; i++)
		qcow2_put_be64(&table[i], table[i]);
	if (!r)
		r = qcow2_pwrite(s, table, p->entries * 8, first << s->cluster_bits);
	for (uint64_t i = 0; i < p->entries; i++)
		table[i] = qcow2_be64(&table[i]);
	return r;
}

static int switch_header(struct qcow2 *s, const struct grow_plan *p)
{
	uint8_t f[12];
	int r;

	qcow2_put_be64(f, p->table << s->cluster_bits);
	qcow2_put_be32(f + 8, (uint32_t)p->tclusters);
	r = qcow2_sync(s);
	if (!r)
		r = qcow2_header_write(s, QCOW2_HDR_REFTABLE_OFF, f, sizeof(f));
	return r ? r : qcow2_sync(s);
}

/* Drop one reference from each cluster of the old table; the header no longer names it. */
static void free_old_table(struct qcow2 *s, uint64_t off, uint64_t nclusters)
{
	for (uint64_t c = off >> s->cluster_bits; c < (off >> s->cluster_bits) + nclusters; c++) {
		uint64_t ref;

		if (qcow2_refcount_get(s, c, &ref) || ref == 0 || qcow2_refcount_set(s, c, ref - 1))
			xbd_warn(s->prefix, "qcow2: could not free old refcount table cluster");
		else if (ref == 1 && c < s->free_hint)
			s->free_hint = c;
	}
}

int qcow2_reftable_grow(struct qcow2 *s, uint64_t min_entries, uint64_t avoid_end)
{
	uint64_t old_off = s->h.refcount_table_offset, old_clusters = s->h.refcount_table_clusters;
	struct grow_plan p;
	uint64_t *table;
	int r = plan_growth(s, min_entries, avoid_end, &p);

	if (r)
		return r;
	table = calloc(p.entries, 8);
	if (!table)
		return -ENOMEM;
	memcpy(table, s->reftable, s->reftable_entries * 8);
	r = write_growth(s, &p, table);
	if (!r)
		r = switch_header(s, &p);
	if (r) {
		free(table);
		return r;
	}
	free(s->reftable);
	s->reftable = table;
	s->reftable_entries = p.entries;
	s->h.refcount_table_offset = p.table << s->cluster_bits;
	s->h.refcount_table_clusters = (uint32_t)p.tclusters;
	for (uint64_t b = 0; b < p.nblocks && !r; b++)
		r = qcow2_meta_add(&s->meta, p.table + p.tclusters + b, QCOW2_META_REFBLOCK);
	if (!r)
		r = qcow2_rebuild_fixed(s);
	if (!r)
		free_old_table(s, old_off, old_clusters);
	return r;
}
