/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The qcow2 header: parsing and validating the fixed fields and the header extensions of the
 * first cluster, refusing what we do not implement with an error that names the feature
 * (encryption, external data files, extended L2 entries, unknown incompatible bits, which
 * "an implementation must fail to open"), and rewriting single header fields later (autoclear
 * bits, refcount table, size and L1 table) as one small write inside the first sector.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "xenblkd/log.h"
#include "qcow2.h"

static int bad(struct qcow2 *s, const char *what)
{
	xbd_err(s->prefix, "not a valid qcow2 image: %s", what);
	return -EINVAL;
}

static void parse_fixed(struct qcow2_header *h, const uint8_t *b)
{
	h->version = qcow2_be32(b + 4);
	h->backing_file_offset = qcow2_be64(b + 8);
	h->backing_file_size = qcow2_be32(b + 16);
	h->cluster_bits = qcow2_be32(b + 20);
	h->size = qcow2_be64(b + 24);
	h->crypt_method = qcow2_be32(b + 32);
	h->l1_size = qcow2_be32(b + 36);
	h->l1_table_offset = qcow2_be64(b + 40);
	h->refcount_table_offset = qcow2_be64(b + 48);
	h->refcount_table_clusters = qcow2_be32(b + 56);
	h->nb_snapshots = qcow2_be32(b + 60);
	h->snapshots_offset = qcow2_be64(b + 64);
	h->refcount_order = 4;
	h->header_length = QCOW2_HDR_V2_LEN;
	if (h->version >= 3) {
		h->incompatible = qcow2_be64(b + 72);
		h->compatible = qcow2_be64(b + 80);
		h->autoclear = qcow2_be64(b + 88);
		h->refcount_order = qcow2_be32(b + 96);
		h->header_length = qcow2_be32(b + 100);
	}
}

static bool aligned(const struct qcow2 *s, uint64_t off)
{
	return (off & (s->cluster_size - 1)) == 0;
}

/* Offsets and sizes of the tables the header names: aligned, bounded, inside the file. */
static int check_tables(struct qcow2 *s, const struct qcow2_header *h)
{
	uint64_t l1_bytes = (uint64_t)h->l1_size * 8;
	uint64_t rt_bytes = (uint64_t)h->refcount_table_clusters << h->cluster_bits;
	uint64_t per_l1 = 1ull << (s->l2_bits + s->cluster_bits);

	if (h->size > QCOW2_MAX_VIRTUAL_SIZE)
		return bad(s, "virtual size too large");
	if (l1_bytes > QCOW2_MAX_L1_BYTES)
		return bad(s, "L1 table too large");
	if ((h->size + per_l1 - 1) / per_l1 > h->l1_size)
		return bad(s, "L1 table too small for the virtual size");
	if (h->l1_size && (!h->l1_table_offset || !aligned(s, h->l1_table_offset) ||
			   h->l1_table_offset >= QCOW2_MAX_HOST_OFFSET ||
			   h->l1_table_offset + l1_bytes > s->file_size))
		return bad(s, "L1 table offset invalid or past the end of the file");
	if (!h->refcount_table_clusters || rt_bytes > QCOW2_MAX_REFTABLE_BYTES)
		return bad(s, "refcount table size invalid");
	if (!h->refcount_table_offset || !aligned(s, h->refcount_table_offset) ||
	    h->refcount_table_offset >= QCOW2_MAX_HOST_OFFSET ||
	    h->refcount_table_offset + rt_bytes > s->file_size)
		return bad(s, "refcount table offset invalid or past the end of the file");
	if (h->nb_snapshots > QCOW2_MAX_SNAPSHOTS)
		return bad(s, "too many snapshots");
	if (h->nb_snapshots && (!aligned(s, h->snapshots_offset) || !h->snapshots_offset ||
				h->snapshots_offset >= s->file_size))
		return bad(s, "snapshot table offset invalid or past the end of the file");
	return 0;
}

static int check_fixed(struct qcow2 *s, const struct qcow2_header *h)
{
	if (h->version != 2 && h->version != 3)
		return bad(s, "unsupported version (only 2 and 3 exist)");
	if (h->cluster_bits < QCOW2_MIN_CLUSTER_BITS || h->cluster_bits > QCOW2_MAX_CLUSTER_BITS)
		return bad(s, "cluster size out of range 512 B..2 MiB");
	if (h->version == 3 && (h->header_length < QCOW2_HDR_V3_LEN || h->header_length % 8 ||
				h->header_length > (1u << h->cluster_bits)))
		return bad(s, "header_length invalid");
	if (h->refcount_order > 6)
		return bad(s, "refcount_order above 6");
	if (h->backing_file_offset &&
	    (h->backing_file_size == 0 || h->backing_file_size > 1023 ||
	     h->backing_file_offset > (1u << h->cluster_bits) ||
	     h->backing_file_size > (1u << h->cluster_bits) - h->backing_file_offset))
		return bad(s, "backing file name outside the first cluster or too long");
	s->cluster_bits = h->cluster_bits;
	s->cluster_size = 1ull << h->cluster_bits;
	s->l2_bits = h->cluster_bits - 3;
	s->refcount_bits = 1u << h->refcount_order;
	s->rb_bits = h->cluster_bits + 3 - h->refcount_order;
	s->refcount_max = s->refcount_bits == 64 ? UINT64_MAX : (1ull << s->refcount_bits) - 1;
	s->csize_shift = 62 - (h->cluster_bits - 8);
	return check_tables(s, h);
}

static void copy_string(char *dst, size_t cap, const uint8_t *src, size_t len)
{
	if (len >= cap)
		len = cap - 1;
	memcpy(dst, src, len);
	dst[len] = '\0';
}

/* Walk the header extensions: [type, length, data padded to 8] until type 0. */
static int parse_extensions(struct qcow2 *s, const uint8_t *b, size_t len)
{
	struct qcow2_header *h = &s->h;
	size_t pos = h->version >= 3 ? h->header_length : QCOW2_HDR_V2_LEN;
	size_t end = len;

	if (h->backing_file_offset && h->backing_file_offset < end)
		end = (size_t)h->backing_file_offset;
	while (pos + 8 <= end) {
		uint32_t type = qcow2_be32(b + pos), elen = qcow2_be32(b + pos + 4);

		if (type == QCOW2_EXT_END)
			return 0;
		if (elen > end - pos - 8)
			return bad(s, "header extension runs past the end of the header area");
		if (type == QCOW2_EXT_BACKING_FMT) {
			if (elen == 0 || elen >= sizeof(h->backing_fmt) ||
			    memchr(b + pos + 8, 0, elen))
				return bad(s, "backing format extension invalid");
			copy_string(h->backing_fmt, sizeof(h->backing_fmt), b + pos + 8, elen);
			h->has_backing_fmt = true;
		}
		pos += 8 + (((size_t)elen + 7) & ~(size_t)7);
	}
	return 0;
}

static int parse_backing_name(struct qcow2 *s, const uint8_t *b, size_t len)
{
	struct qcow2_header *h = &s->h;

	if (!h->backing_file_offset)
		return 0;
	if (h->backing_file_offset + h->backing_file_size > len)
		return bad(s, "backing file name past the end of the file");
	if (memchr(b + h->backing_file_offset, 0, h->backing_file_size))
		return bad(s, "backing file name contains a NUL byte");
	copy_string(h->backing_file, sizeof(h->backing_file), b + h->backing_file_offset,
		    h->backing_file_size);
	return 0;
}

/* The fixed fields, then the extensions and the backing file name, from the first cluster. */
int qcow2_header_parse(struct qcow2 *s, const uint8_t *buf, size_t len)
{
	struct qcow2_header *h = &s->h;
	int r;

	memset(h, 0, sizeof(*h));
	if (len < QCOW2_HDR_V2_LEN || qcow2_be32(buf) != QCOW2_MAGIC)
		return bad(s, "no qcow2 magic");
	/* The version says how long the fixed header is: check before reading it. */
	if (qcow2_be32(buf + 4) >= 3 && len < QCOW2_HDR_V3_LEN)
		return bad(s, "file shorter than a version 3 header");
	parse_fixed(h, buf);
	r = check_fixed(s, h);
	if (r)
		return r;
	if (len > s->cluster_size)
		len = (size_t)s->cluster_size;
	if (h->version >= 3 && h->header_length > len)
		return bad(s, "header past the end of the file");
	if (h->version >= 3 && h->header_length > 104)
		h->compression_type = buf[104];
	r = parse_extensions(s, buf, len);
	return r ? r : parse_backing_name(s, buf, len);
}

/* The name the image's feature name table gives an incompatible bit, or "". */
static void feature_name(const struct qcow2 *s, const uint8_t *b, size_t len, unsigned int bit,
			 char *out, size_t cap)
{
	size_t pos = s->h.version >= 3 ? s->h.header_length : QCOW2_HDR_V2_LEN;

	out[0] = '\0';
	while (pos + 8 <= len) {
		uint32_t type = qcow2_be32(b + pos), elen = qcow2_be32(b + pos + 4);

		if (type == QCOW2_EXT_END || elen > len - pos - 8)
			return;
		if (type == QCOW2_EXT_FEATURE_NAMES) {
			for (size_t e = 0; e + 48 <= elen; e += 48) {
				const uint8_t *f = b + pos + 8 + e;

				if (f[0] == 0 && f[1] == bit) {
					copy_string(out, cap, f + 2, strnlen((const char *)f + 2, 46));
					return;
				}
			}
		}
		pos += 8 + (((size_t)elen + 7) & ~(size_t)7);
	}
}

static int refuse(struct qcow2 *s, const char *feature)
{
	xbd_err(s->prefix, "qcow2 image uses %s, which xenblkd does not support", feature);
	return -EOPNOTSUPP;
}

static int check_unknown_bits(struct qcow2 *s, const uint8_t *buf, size_t len)
{
	uint64_t unknown = s->h.incompatible & ~QCOW2_INCOMPAT_KNOWN;
	char name[48];

	if (!unknown)
		return 0;
	for (unsigned int bit = 0; bit < 64; bit++) {
		if (!(unknown & (1ull << bit)))
			continue;
		feature_name(s, buf, len > s->cluster_size ? (size_t)s->cluster_size : len, bit,
			     name, sizeof(name));
		xbd_err(s->prefix, "qcow2 image has unknown incompatible feature bit %u%s%s%s",
			bit, name[0] ? " (\"" : "", name, name[0] ? "\")" : "");
	}
	return -EOPNOTSUPP;
}

/* Refuse what we cannot serve correctly; for a writable open, also what we cannot write. */
int qcow2_header_check_features(struct qcow2 *s, const uint8_t *buf, size_t len)
{
	const struct qcow2_header *h = &s->h;
	int r = check_unknown_bits(s, buf, len);

	if (r)
		return r;
	if (h->crypt_method)
		return refuse(s, "encryption");
	if (h->incompatible & QCOW2_INCOMPAT_DATA_FILE)
		return refuse(s, "an external data file");
	if (h->incompatible & QCOW2_INCOMPAT_EXTL2)
		return refuse(s, "extended L2 entries (subclusters)");
	if ((h->incompatible & QCOW2_INCOMPAT_COMPRESSION) && h->compression_type != 1)
		return refuse(s, "an unknown compression type");
	if (!(h->incompatible & QCOW2_INCOMPAT_COMPRESSION) && h->compression_type != 0)
		return bad(s, "compression type set without its incompatible bit");
	if (!s->writable)
		return 0;
	if (h->incompatible & QCOW2_INCOMPAT_DIRTY) {
		xbd_err(s->prefix, "qcow2 image is dirty (lazy refcounts or an unclean shutdown); "
			"repair it with 'qemu-img check -r all' before opening it read-write");
		return -EUCLEAN;
	}
	if (h->incompatible & QCOW2_INCOMPAT_CORRUPT) {
		xbd_err(s->prefix, "qcow2 image is marked corrupt; it may only be opened read-only");
		return -EUCLEAN;
	}
	return 0;
}

/* Rewrite `len` bytes of the header at `off` (one sector, so the write is atomic). */
int qcow2_header_write(struct qcow2 *s, uint32_t off, const void *field, size_t len)
{
	return qcow2_pwrite(s, field, len, off);
}
