/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Opening and closing one qcow2 image (the top image or a backing file): the header, the
 * snapshot table (only to know where its L1 tables lie, so nothing overwrites them), the L1
 * and refcount tables, the caches and scratch buffers, the backing chain. A read-only open
 * never writes a byte; a writable one clears autoclear bits we do not maintain (as the
 * specification requires before writing) and nothing else until the guest writes.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/driver.h"
#include "xenblkd/log.h"
#include "qcow2.h"

static int bad(struct qcow2 *s, const char *what)
{
	xbd_err(s->prefix, "not a valid qcow2 image: %s", what);
	return -EINVAL;
}

static uint64_t clusters_for(const struct qcow2 *s, uint64_t bytes)
{
	return (bytes + s->cluster_size - 1) >> s->cluster_bits;
}

static int add_snapshot_l1(struct qcow2 *s, uint64_t off, uint32_t entries)
{
	struct qcow2_range *r;

	if (!entries)
		return 0;
	if ((uint64_t)entries * 8 > QCOW2_MAX_L1_BYTES || (off & (s->cluster_size - 1)) ||
	    off >= QCOW2_MAX_HOST_OFFSET || off + (uint64_t)entries * 8 > s->file_size)
		return bad(s, "snapshot L1 table invalid or past the end of the file");
	r = realloc(s->snap_l1, (s->nsnap_l1 + 1) * sizeof(*r));
	if (!r)
		return -ENOMEM;
	s->snap_l1 = r;
	r[s->nsnap_l1].start = off >> s->cluster_bits;
	r[s->nsnap_l1].end = r[s->nsnap_l1].start + clusters_for(s, (uint64_t)entries * 8);
	s->nsnap_l1++;
	return 0;
}

/* Walk the snapshot table: each entry is 40 bytes, extra data, id and name, padded to 8. */
static int load_snapshots(struct qcow2 *s)
{
	uint64_t off = s->h.snapshots_offset, total = 0;
	uint8_t e[40];

	for (uint32_t i = 0; i < s->h.nb_snapshots; i++) {
		uint64_t len;
		int r = qcow2_pread_meta(s, e, sizeof(e), off);

		if (r)
			return bad(s, "snapshot table past the end of the file");
		/* The last entry's padding need not be in the file. */
		len = 40 + (uint64_t)qcow2_be32(e + 36) + qcow2_be16(e + 12) + qcow2_be16(e + 14);
		if (qcow2_be32(e + 36) > 65536 || off + len > s->file_size)
			return bad(s, "snapshot table entry invalid");
		len = (len + 7) & ~7ull;
		total += len;
		if (total > QCOW2_MAX_SNAPSHOT_TABLE)
			return bad(s, "snapshot table too large");
		r = add_snapshot_l1(s, qcow2_be64(e), qcow2_be32(e + 8));
		if (r)
			return r;
		off += len;
	}
	s->snap_table_bytes = total;
	return 0;
}

/* The contiguous metadata: header cluster, L1 table, refcount table, snapshot tables. */
int qcow2_rebuild_fixed(struct qcow2 *s)
{
	struct qcow2_metaset *m = &s->meta;
	int r;

	qcow2_meta_clear_fixed(m);
	r = qcow2_meta_add_fixed(m, 0, 1);
	if (!r)
		r = qcow2_meta_add_fixed(m, s->h.l1_table_offset >> s->cluster_bits,
					 clusters_for(s, (uint64_t)s->l1_size * 8));
	if (!r)
		r = qcow2_meta_add_fixed(m, s->h.refcount_table_offset >> s->cluster_bits,
					 s->h.refcount_table_clusters);
	if (!r && s->h.nb_snapshots)
		r = qcow2_meta_add_fixed(m, s->h.snapshots_offset >> s->cluster_bits,
					 clusters_for(s, s->snap_table_bytes));
	for (uint32_t i = 0; !r && i < s->nsnap_l1; i++)
		r = qcow2_meta_add_fixed(m, s->snap_l1[i].start,
					 s->snap_l1[i].end - s->snap_l1[i].start);
	return r;
}

static bool overlap(uint64_t a, uint64_t an, uint64_t b, uint64_t bn)
{
	return an && bn && a < b + bn && b < a + an;
}

/* The tables we rewrite must not overlap each other or the header. */
static int check_overlaps(struct qcow2 *s)
{
	uint64_t l1 = s->h.l1_table_offset >> s->cluster_bits;
	uint64_t l1n = clusters_for(s, (uint64_t)s->l1_size * 8);
	uint64_t rt = s->h.refcount_table_offset >> s->cluster_bits;
	uint64_t rtn = s->h.refcount_table_clusters;

	if (overlap(l1, l1n, 0, 1) || overlap(rt, rtn, 0, 1) || overlap(l1, l1n, rt, rtn))
		return bad(s, "L1 table, refcount table and header overlap");
	return 0;
}

static int read_first_cluster(struct qcow2 *s, uint8_t **buf, size_t *len)
{
	uint8_t probe[4096];
	size_t n = s->file_size < sizeof(probe) ? (size_t)s->file_size : sizeof(probe);
	uint32_t bits;
	int r = qcow2_pread(s, probe, n, 0);

	if (r)
		return r;
	if (n < QCOW2_HDR_V2_LEN || qcow2_be32(probe) != QCOW2_MAGIC)
		return bad(s, "no qcow2 magic");
	bits = qcow2_be32(probe + 20);
	if (bits < QCOW2_MIN_CLUSTER_BITS || bits > QCOW2_MAX_CLUSTER_BITS)
		return bad(s, "cluster size out of range 512 B..2 MiB");
	*len = s->file_size < (1ull << bits) ? (size_t)s->file_size : (size_t)1 << bits;
	*buf = malloc(*len);
	if (!*buf)
		return -ENOMEM;
	return qcow2_pread(s, *buf, *len, 0);
}

static int parse_header(struct qcow2 *s)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int r = read_first_cluster(s, &buf, &len);

	if (!r)
		r = qcow2_header_parse(s, buf, len);
	if (!r)
		r = qcow2_header_check_features(s, buf, len);
	free(buf);
	if (!r)
		s->size = s->h.size;
	return r;
}

static void *alloc_buf(size_t n)
{
	void *p = NULL;

	return posix_memalign(&p, 4096, n) ? NULL : p;
}

static int alloc_caches(struct qcow2 *s, const struct qcow2_config *cfg)
{
	uint64_t bytes = cfg->l2_cache_bytes, slots;

	if (!bytes) {
		/* Enough to map the whole disk, up to the default cap. */
		bytes = (uint64_t)s->l1_size << s->cluster_bits;
		if (bytes > QCOW2_DEFAULT_L2_CACHE)
			bytes = QCOW2_DEFAULT_L2_CACHE;
	}
	if (bytes > (1ull << 30))
		bytes = 1ull << 30;
	slots = bytes >> s->cluster_bits;
	if (slots < QCOW2_MIN_CACHE_TABLES)
		slots = QCOW2_MIN_CACHE_TABLES;
	if (slots > 65536)
		slots = 65536;
	s->buf = alloc_buf(s->cluster_size);
	s->cow = alloc_buf(s->cluster_size);
	s->dbuf = alloc_buf(s->cluster_size);
	s->mscratch = alloc_buf(s->cluster_size);
	s->zbuf = alloc_buf(2 * s->cluster_size);
	if (!s->buf || !s->cow || !s->dbuf || !s->mscratch || !s->zbuf)
		return -ENOMEM;
	if (qcow2_cache_init(&s->l2_cache, (uint32_t)slots, (uint32_t)s->cluster_size))
		return -ENOMEM;
	slots = QCOW2_REFBLOCK_CACHE >> s->cluster_bits;
	if (slots < QCOW2_MIN_CACHE_TABLES)
		slots = QCOW2_MIN_CACHE_TABLES;
	return qcow2_cache_init(&s->rb_cache, (uint32_t)slots, (uint32_t)s->cluster_size);
}

/* Identify the file, refuse a loop in the chain, learn its size. */
static int stat_file(struct qcow2 *s, struct qcow2_chain *chain, const char *path)
{
	struct stat st;

	if (fstat(s->fd, &st) < 0)
		return -errno;
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(s->fd, BLKGETSIZE64, &s->file_size) < 0)
			return -errno;
	} else if (S_ISREG(st.st_mode)) {
		s->file_size = (uint64_t)st.st_size;
	} else {
		return bad(s, "neither a regular file nor a block device");
	}
	for (unsigned int i = 0; i < chain->depth; i++) {
		if (chain->dev[i] == st.st_dev && chain->ino[i] == st.st_ino) {
			xbd_err(s->prefix, "loop in the backing chain at %s", path);
			return -ELOOP;
		}
	}
	chain->dev[chain->depth] = st.st_dev;
	chain->ino[chain->depth] = st.st_ino;
	chain->depth++;
	return 0;
}

static int clear_autoclear(struct qcow2 *s)
{
	uint8_t zero[8] = { 0 };
	int r;

	if (!s->writable || s->h.version < 3 || !s->h.autoclear)
		return 0;
	/* We maintain neither bitmaps nor a raw external data file: say so before writing. */
	r = qcow2_header_write(s, QCOW2_HDR_AUTOCLEAR_OFF, zero, sizeof(zero));
	if (!r)
		r = qcow2_sync(s);
	if (!r)
		s->h.autoclear = 0;
	return r;
}

static int load(struct qcow2 *s, const struct qcow2_config *cfg, struct qcow2_chain *chain)
{
	int r = 0;

	if (cfg->fops)
		s->file_size = cfg->fops->size(cfg->fops_ctx);
	else
		r = stat_file(s, chain, cfg->path);

	if (!r)
		r = parse_header(s);
	if (!r)
		r = load_snapshots(s);
	if (!r)
		r = qcow2_l1_load(s);
	if (!r)
		r = check_overlaps(s);
	if (!r)
		r = qcow2_rebuild_fixed(s);
	if (!r)
		r = qcow2_refcount_load_table(s);
	if (!r)
		r = alloc_caches(s, cfg);
	if (!r)
		r = qcow2_backing_open(s, cfg, chain);
	return r ? r : clear_autoclear(s);
}

/* Open cfg->path through the descriptor fd (which this then owns; -1 with cfg->fops) as one
 * link of a chain. */
int qcow2_open_chain(const struct qcow2_config *cfg, struct qcow2_chain *chain, int fd,
		     struct qcow2 **out)
{
	struct qcow2 *s = calloc(1, sizeof(*s));
	int r;

	if (!s) {
		if (fd >= 0)
			close(fd);
		return -ENOMEM;
	}
	pthread_mutex_init(&s->lock, NULL);
	snprintf(s->prefix, sizeof(s->prefix), "%s", cfg->log_prefix ? cfg->log_prefix : "-");
	s->writable = !cfg->readonly;
	s->write_through = cfg->write_through;
	s->backing.fd = -1;
	s->data_fd = -1;
	s->corrupt_rl = (struct xbd_ratelimit)XBD_RATELIMIT_INIT(10, 10);
	s->fd = cfg->fops ? -1 : fd;
	s->fops = cfg->fops ? cfg->fops : &qcow2_posix_ops;
	s->fops_ctx = cfg->fops ? cfg->fops_ctx : (void *)(intptr_t)s->fd;
	r = load(s, cfg, chain);
	if (r) {
		s->writable = false; /* nothing to flush from a failed open */
		qcow2_close(s);
		return r;
	}
	*out = s;
	return 0;
}

/*
 * The top image's descriptor for metadata: the driver's own descriptor reopened (the same
 * inode, never the name again), or the path opened without side effects (image_path.c).
 */
static int open_top(const struct qcow2_config *cfg)
{
	int flags = cfg->readonly ? O_RDONLY : O_RDWR, pathfd, fd;
	struct stat st;

	if (cfg->reopen_fd)
		return xbd_path_reopen(cfg->fd, flags);
	pathfd = xbd_path_open(AT_FDCWD, cfg->path, false);
	if (pathfd < 0)
		return pathfd;
	fd = xbd_path_check_type(pathfd, true, &st);
	if (fd == -EINVAL || fd == -EISDIR)
		xbd_err(cfg->log_prefix, "%s is %s, neither a regular file nor a block device",
			cfg->path, xbd_file_type_name(st.st_mode));
	if (!fd)
		fd = xbd_path_reopen(pathfd, flags);
	close(pathfd);
	return fd;
}

int qcow2_open(const struct qcow2_config *cfg, struct qcow2 **out)
{
	struct qcow2_chain chain = { 0 };
	int fd = -1;

	if (!cfg->fops) {
		fd = open_top(cfg);
		if (fd < 0) {
			xbd_err(cfg->log_prefix, "cannot open %s: %s", cfg->path, strerror(-fd));
			return fd;
		}
	}
	return qcow2_open_chain(cfg, &chain, fd, out);
}

void qcow2_close(struct qcow2 *s)
{
	if (!s)
		return;
	if (s->writable && qcow2_meta_flush(s, true))
		xbd_err(s->prefix, "qcow2: metadata could not be written back at close");
	qcow2_backing_close(s);
	qcow2_compress_fini(s);
	qcow2_cache_fini(&s->l2_cache);
	qcow2_cache_fini(&s->rb_cache);
	qcow2_meta_fini(&s->meta);
	free(s->l1);
	free(s->reftable);
	free(s->pending_free);
	free(s->snap_l1);
	free(s->buf);
	free(s->cow);
	free(s->dbuf);
	free(s->mscratch);
	free(s->zbuf);
	if (s->fd >= 0)
		close(s->fd);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
