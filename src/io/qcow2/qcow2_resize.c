/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Growing the virtual disk. If the L1 table still covers the new size only the header's size
 * changes; otherwise a larger L1 table is written elsewhere first, made durable, and the header
 * is switched to it (size, l1_size and l1_table_offset are one write inside the first sector,
 * so a crash leaves the old disk or the new one, never a mix), and only then is the old L1
 * table freed. Shrinking is refused: it would drop guest data.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "xenblkd/log.h"
#include "qcow2.h"

static int write_new_l1(struct qcow2 *s, uint32_t entries, uint64_t *off)
{
	uint64_t bytes = (uint64_t)entries * 8;
	uint64_t nclusters = (bytes + s->cluster_size - 1) >> s->cluster_bits;
	uint64_t *be = calloc(nclusters, s->cluster_size);
	int r;

	if (!be)
		return -ENOMEM;
	for (uint32_t i = 0; i < s->l1_size; i++)
		qcow2_put_be64(&be[i], s->l1[i]);
	r = qcow2_alloc_clusters(s, nclusters, off);
	if (!r)
		r = qcow2_pwrite(s, be, nclusters << s->cluster_bits, *off);
	free(be);
	return r;
}

static int switch_l1(struct qcow2 *s, uint64_t new_size, uint32_t entries, uint64_t l1_off)
{
	uint8_t f[24];
	uint64_t *l1 = realloc(s->l1, (size_t)entries * 8);
	int r;

	if (!l1)
		return -ENOMEM;
	s->l1 = l1;
	qcow2_put_be64(f, new_size);
	qcow2_put_be32(f + 8, s->h.crypt_method);
	qcow2_put_be32(f + 12, entries);
	qcow2_put_be64(f + 16, l1_off);
	r = qcow2_sync(s);
	if (!r)
		r = qcow2_header_write(s, QCOW2_HDR_SIZE_OFF, f, sizeof(f));
	if (!r)
		r = qcow2_sync(s);
	if (r)
		return r;
	memset(s->l1 + s->l1_size, 0, (size_t)(entries - s->l1_size) * 8);
	return 0;
}

static int grow_l1(struct qcow2 *s, uint64_t new_size, uint32_t entries)
{
	uint64_t old_off = s->h.l1_table_offset, l1_off;
	uint64_t old_clusters = ((uint64_t)s->l1_size * 8 + s->cluster_size - 1) >> s->cluster_bits;
	int r = write_new_l1(s, entries, &l1_off);

	if (!r)
		r = switch_l1(s, new_size, entries, l1_off);
	if (r)
		return r;
	s->l1_size = entries;
	s->h.l1_size = entries;
	s->h.l1_table_offset = l1_off;
	r = qcow2_rebuild_fixed(s);
	if (!r && old_off && old_clusters)
		r = qcow2_free_later(s, old_off, old_clusters);
	return r ? r : qcow2_meta_flush(s, true);
}

int qcow2_grow(struct qcow2 *s, uint64_t new_size)
{
	uint64_t per_l1 = 1ull << (s->l2_bits + s->cluster_bits), needed;
	uint8_t f[8];
	int r;

	if (!s->writable)
		return -EROFS;
	if (new_size < s->size || new_size > QCOW2_MAX_VIRTUAL_SIZE || new_size % 512) {
		xbd_err(s->prefix, "qcow2: cannot resize to %" PRIu64 " bytes (grow only, "
			"in 512-byte units)", new_size);
		return -EINVAL;
	}
	needed = (new_size + per_l1 - 1) / per_l1;
	if (needed * 8 > QCOW2_MAX_L1_BYTES)
		return -EFBIG;
	/* Everything the old L1 names must be durable before a copy of it is. */
	r = qcow2_meta_flush(s, true);
	if (!r && needed > s->l1_size)
		r = grow_l1(s, new_size, (uint32_t)needed);
	else if (!r) {
		qcow2_put_be64(f, new_size);
		r = qcow2_header_write(s, QCOW2_HDR_SIZE_OFF, f, sizeof(f));
		if (!r)
			r = qcow2_sync(s);
	}
	if (!r) {
		s->size = new_size;
		s->h.size = new_size;
	}
	return r;
}
