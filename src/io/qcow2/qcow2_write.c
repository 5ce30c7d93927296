/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Synchronous writes: in place when the cluster belongs to the active image alone (its L2
 * table and the cluster both have refcount 1), otherwise into a new cluster: the whole cluster
 * is built in memory (the guest's bytes over a copy of the old contents: backing file, shared
 * cluster, compressed cluster or zeros), written, and only then named in the L2 table, whose
 * change reaches the disk after a sync (qcow2_meta_flush). The old cluster is freed only once
 * that L2 change is durable. Also zeroing and discard, which turn whole clusters into zero
 * clusters (version 3) or unallocated ones, a bounded number of clusters per step (the
 * driver's range_step): a range may cover a whole disk of any declared size, and stretches
 * with no L2 table that read as zeros are skipped whole, one L1 entry at a time.
 */
#include <errno.h>
#include <string.h>

#include "qcow2.h"

/* Zeros written as data in one zeroing step, at most (and one cluster more): 4 MiB take well
 * under a second even on a slow disk. */
#define QCOW2_ZERO_STEP_WRITE (4ull << 20)

static int refcount_is_one(struct qcow2 *s, uint64_t off, bool *one)
{
	uint64_t ref;
	int r = qcow2_refcount_get(s, off >> s->cluster_bits, &ref);

	if (!r && ref == 0)
		r = qcow2_corrupt(s, "cluster in use has refcount 0", off);
	*one = ref == 1;
	return r;
}

/* 1 and *host if guest_off's cluster may be written in place, 0 if it needs a new one. */
int qcow2_write_inplace_target(struct qcow2 *s, uint64_t guest_off, uint64_t *host)
{
	uint64_t l1i = guest_off >> (s->l2_bits + s->cluster_bits);
	struct qcow2_map m;
	bool one;
	int r = qcow2_lookup(s, guest_off, &m);

	if (r || m.type != QCOW2_NORMAL)
		return r;
	r = refcount_is_one(s, s->l1[l1i] & QCOW2_OFFSET_MASK, &one);
	if (r || !one)
		return r;
	r = refcount_is_one(s, m.host, &one);
	if (r || !one)
		return r;
	*host = m.host + qcow2_in_cluster(s, guest_off);
	return 1;
}

/* The clusters an L2 entry holds a reference to, freed once the new entry is durable. */
static int free_old(struct qcow2 *s, const struct qcow2_map *m, uint64_t keep)
{
	uint64_t first, end;

	if (m->type == QCOW2_NORMAL || (m->type == QCOW2_ZERO && m->host)) {
		return m->host == keep ? 0 : qcow2_free_later(s, m->host, 1);
	}
	if (m->type != QCOW2_COMPRESSED_CLUSTER)
		return 0;
	first = (m->host & ~511ull) >> s->cluster_bits;
	end = ((m->host & ~511ull) + (((m->entry & ~(QCOW2_COPIED | QCOW2_COMPRESSED)) >>
				       s->csize_shift) + 1) * 512 - 1) >> s->cluster_bits;
	return qcow2_free_later(s, first << s->cluster_bits, end - first + 1);
}

/* Where the new contents go: a private preallocated zero cluster, or a new cluster. */
static int pick_target(struct qcow2 *s, const struct qcow2_map *m, uint64_t *target)
{
	bool one = false;
	int r;

	if (m->type == QCOW2_ZERO && m->host && m->host < QCOW2_MAX_HOST_OFFSET &&
	    !qcow2_is_metadata(s, m->host, s->cluster_size)) {
		r = refcount_is_one(s, m->host, &one);
		if (r)
			return r;
		if (one) {
			*target = m->host;
			return 0;
		}
	}
	return qcow2_alloc_clusters(s, 1, target);
}

/* Build the whole cluster in s->cow: old contents, then the guest's bytes (NULL: zeros). */
static int build_cluster(struct qcow2 *s, const struct qcow2_map *m, uint64_t guest_off,
			 uint64_t len, const struct iovec *iov, unsigned int niov,
			 uint64_t iov_off)
{
	uint64_t cstart = guest_off - qcow2_in_cluster(s, guest_off);
	uint64_t in = guest_off - cstart;
	int r = 0;

	if (len < s->cluster_size) {
		uint64_t n = s->cluster_size;

		if (cstart + n > s->size)
			n = s->size - cstart;
		memset(s->cow + n, 0, s->cluster_size - n);
		r = qcow2_read_mapped(s, m, cstart, s->cow, n);
	}
	if (r)
		return r;
	if (iov)
		qcow2_iov_to_buf(iov, niov, iov_off, s->cow + in, len);
	else
		memset(s->cow + in, 0, len);
	return 0;
}

static int maybe_flush_frees(struct qcow2 *s)
{
	return s->npending >= QCOW2_MAX_PENDING_FREES ? qcow2_meta_flush(s, false) : 0;
}

/* Write [guest_off, guest_off + len), inside one cluster, allocating if it must. */
int qcow2_write_cluster(struct qcow2 *s, uint64_t guest_off, uint64_t len,
			const struct iovec *iov, unsigned int niov, uint64_t iov_off)
{
	uint64_t l2off, e, target, host;
	struct qcow2_map m;
	int r = qcow2_write_inplace_target(s, guest_off, &host);

	if (r > 0) {
		if (iov)
			qcow2_iov_to_buf(iov, niov, iov_off, s->cow, len);
		else
			memset(s->cow, 0, len);
		return qcow2_data_pwrite(s, s->cow, len, host);
	}
	if (!r)
		r = qcow2_l2_for_write(s, guest_off, &l2off);
	if (!r)
		r = qcow2_l2_entry(s, l2off, guest_off, &e, false);
	if (!r)
		r = qcow2_classify_entry(s, e, &m);
	if (!r)
		r = pick_target(s, &m, &target);
	if (!r)
		r = build_cluster(s, &m, guest_off, len, iov, niov, iov_off);
	if (!r)
		r = qcow2_data_pwrite(s, s->cow, s->cluster_size, target);
	if (r)
		return r;
	e = target | QCOW2_COPIED;
	r = qcow2_l2_entry(s, l2off, guest_off, &e, true);
	if (!r)
		r = free_old(s, &m, target);
	return r ? r : maybe_flush_frees(s);
}

int qcow2_write_sync(struct qcow2 *s, uint64_t off, uint64_t len, const struct iovec *iov,
		     unsigned int niov)
{
	uint64_t done = 0;

	if (!s->writable)
		return -EROFS;
	if (off > s->size || len > s->size - off)
		return -EINVAL;
	while (done < len) {
		uint64_t n = s->cluster_size - qcow2_in_cluster(s, off + done);
		int r;

		if (n > len - done)
			n = len - done;
		r = qcow2_write_cluster(s, off + done, n, iov, niov, done);
		if (r)
			return r;
		done += n;
	}
	return 0;
}

static bool reads_as_zero(const struct qcow2 *s, const struct qcow2_map *m)
{
	return m->type == QCOW2_ZERO || (m->type == QCOW2_UNALLOCATED && !s->has_backing);
}

/* A whole cluster: make it a zero cluster (v3) or unallocated, freeing what it held. */
static int zero_whole_cluster(struct qcow2 *s, uint64_t off, bool discard)
{
	uint64_t l2off, e, ne;
	struct qcow2_map m;
	int r = qcow2_lookup(s, off, &m);

	if (r)
		return r;
	if ((m.type == QCOW2_ZERO && !m.host) || (m.type == QCOW2_UNALLOCATED && !s->has_backing))
		return 0;
	ne = s->h.version >= 3 ? QCOW2_L2E_ZERO : 0;
	r = qcow2_l2_for_write(s, off, &l2off);
	if (!r)
		r = qcow2_l2_entry(s, l2off, off, &e, false);
	if (!r)
		r = qcow2_classify_entry(s, e, &m);
	if (!r)
		r = qcow2_l2_entry(s, l2off, off, &ne, true);
	if (!r)
		r = free_old(s, &m, 0);
	return r ? r : maybe_flush_frees(s);
}

/*
 * Bytes from off (at most len) that need nothing: no L2 table maps them and there is no
 * backing file, so they read as zeros whatever a discard or write-zeroes does. Such a run
 * reaches to the end of its L1 entry's range; 0 when off's L1 entry has a table (or is bad:
 * the lookup then reports it).
 */
static uint64_t unmapped_run(const struct qcow2 *s, uint64_t off, uint64_t len)
{
	uint32_t shift = s->l2_bits + s->cluster_bits;
	uint64_t i = off >> shift, end, n;

	if (s->has_backing)
		return 0;
	if (i < s->l1_size && (s->l1[i] & (QCOW2_OFFSET_MASK | QCOW2_L1E_RESERVED)))
		return 0;
	if (i >= s->l1_size)
		return len; /* past every L1 entry: nothing can be mapped there */
	end = (i + 1) << shift;
	n = end - off;
	return n < len ? n : len;
}

/*
 * Zero or discard the piece [off, off + n) inside one cluster: a whole cluster by its L2 entry,
 * except that zeros over a backing file in a version 2 image (no zero flag) and partial
 * clusters are written as data; *written counts the clusters so written, in bytes.
 */
static int zero_piece(struct qcow2 *s, uint64_t off, uint64_t n, bool discard,
		      uint64_t *written)
{
	bool whole = qcow2_in_cluster(s, off) == 0 && (n == s->cluster_size || off + n == s->size);
	struct qcow2_map m;
	int r;

	if (whole && (s->h.version >= 3 || !s->has_backing || discard))
		return zero_whole_cluster(s, off, discard);
	r = qcow2_lookup(s, off, &m);
	if (r || reads_as_zero(s, &m))
		return r;
	*written += s->cluster_size;
	return qcow2_write_cluster(s, off, n, NULL, 0, 0);
}

int qcow2_zero_step(struct qcow2 *s, uint64_t off, uint64_t len, bool discard, uint32_t budget,
		    uint64_t *done)
{
	uint64_t written = 0;

	*done = 0;
	if (!s->writable)
		return -EROFS;
	if (off > s->size || len > s->size - off)
		return -EINVAL;
	for (; len > 0 && budget > 0 && written < QCOW2_ZERO_STEP_WRITE; budget--) {
		uint64_t n = unmapped_run(s, off, len);
		int r = 0;

		if (!n) {
			n = s->cluster_size - qcow2_in_cluster(s, off);
			if (n > len)
				n = len;
			r = zero_piece(s, off, n, discard, &written);
		}
		if (r)
			return r;
		off += n;
		len -= n;
		*done += n;
	}
	return 0;
}

int qcow2_zero_range(struct qcow2 *s, uint64_t off, uint64_t len, bool discard)
{
	uint64_t done;
	int r;

	do {
		r = qcow2_zero_step(s, off, len, discard, UINT32_MAX, &done);
		off += done;
		len -= done;
	} while (!r && len > 0);
	return r;
}
