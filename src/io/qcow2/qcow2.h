/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The qcow2 driver's internal interface, shared by the files of src/io/qcow2/ and by its tests.
 * One `struct qcow2` is one open image (the top image or one of its backing files). Everything
 * in the image is hostile: every offset, size, count and table entry is validated before use,
 * and a bad one gives -EINVAL at open or -EIO for the I/O that met it. The layout follows the
 * public specification (QEMU's docs/interop/qcow2.txt); docs/qcow2.md explains the design:
 * metadata I/O is synchronous on a buffered descriptor under one mutex, refcount updates are
 * written through, L2 updates are written back by qcow2_meta_flush() in crash-safe order.
 */
#ifndef XBD_QCOW2_H
#define XBD_QCOW2_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "xenblkd/log.h"
#include "xenblkd/storage.h" /* struct xbd_backing_file */

#define QCOW2_MAGIC 0x514649fbu
#define QCOW2_MIN_CLUSTER_BITS 9
#define QCOW2_MAX_CLUSTER_BITS 21
#define QCOW2_MAX_CHAIN XBD_MAX_BACKING_CHAIN /* backing files below the top image */
#define QCOW2_MAX_L1_BYTES (32ull << 20)
#define QCOW2_MAX_REFTABLE_BYTES (8ull << 20)
#define QCOW2_MAX_SNAPSHOTS 65536u
#define QCOW2_MAX_SNAPSHOT_TABLE (64ull << 20)
#define QCOW2_MAX_HOST_OFFSET (1ull << 56)    /* L1/L2/refcount offsets are bits 9..55 */
#define QCOW2_MAX_VIRTUAL_SIZE (1ull << 61)
#define QCOW2_DEFAULT_L2_CACHE (32ull << 20)  /* or less: just enough to map the whole disk */
#define QCOW2_REFBLOCK_CACHE (1ull << 20)
#define QCOW2_MIN_CACHE_TABLES 4u
#define QCOW2_MAX_PENDING_FREES 65536u        /* then the frees are applied by a meta flush */

/* Incompatible, compatible and autoclear feature bits. */
#define QCOW2_INCOMPAT_DIRTY (1ull << 0)
#define QCOW2_INCOMPAT_CORRUPT (1ull << 1)
#define QCOW2_INCOMPAT_DATA_FILE (1ull << 2)
#define QCOW2_INCOMPAT_COMPRESSION (1ull << 3)
#define QCOW2_INCOMPAT_EXTL2 (1ull << 4)
#define QCOW2_INCOMPAT_KNOWN 0x1full
#define QCOW2_COMPAT_LAZY_REFCOUNTS (1ull << 0)

/* Header field offsets we rewrite. */
#define QCOW2_HDR_SIZE_OFF 24         /* size, crypt_method, l1_size, l1_table_offset: 24..47 */
#define QCOW2_HDR_REFTABLE_OFF 48     /* refcount_table_offset + _clusters: 48..59 */
#define QCOW2_HDR_AUTOCLEAR_OFF 88
#define QCOW2_HDR_V2_LEN 72
#define QCOW2_HDR_V3_LEN 104

/* Header extension types. */
#define QCOW2_EXT_END 0x00000000u
#define QCOW2_EXT_BACKING_FMT 0xe2792acau
#define QCOW2_EXT_FEATURE_NAMES 0x6803f857u
#define QCOW2_EXT_CRYPTO 0x0537be77u
#define QCOW2_EXT_DATA_FILE 0x44415441u

/* Table entries. */
#define QCOW2_OFFSET_MASK 0x00fffffffffffe00ull  /* bits 9..55 */
#define QCOW2_L1E_RESERVED 0x7f000000000001ffull
#define QCOW2_REFT_RESERVED 0x00000000000001ffull
#define QCOW2_COPIED (1ull << 63)
#define QCOW2_COMPRESSED (1ull << 62)
#define QCOW2_L2E_ZERO 1ull
#define QCOW2_L2E_RESERVED 0x3f000000000001feull

enum qcow2_ctype {
	QCOW2_UNALLOCATED, /* reads from the backing file, or zeros */
	QCOW2_ZERO,        /* reads as zeros; host may hold a preallocated cluster */
	QCOW2_NORMAL,      /* data at host */
	QCOW2_COMPRESSED_CLUSTER,
};

/* What one guest cluster maps to, after validation. */
struct qcow2_map {
	enum qcow2_ctype type;
	uint64_t host;  /* NORMAL: cluster offset; ZERO: preallocation or 0; COMPRESSED: byte */
	uint64_t csize; /* COMPRESSED: bytes of compressed data that exist in the file */
	uint64_t entry; /* the raw L2 entry */
};

struct qcow2_header {
	uint32_t version;
	uint64_t backing_file_offset;
	uint32_t backing_file_size;
	uint32_t cluster_bits;
	uint64_t size;
	uint32_t crypt_method;
	uint32_t l1_size;
	uint64_t l1_table_offset;
	uint64_t refcount_table_offset;
	uint32_t refcount_table_clusters;
	uint32_t nb_snapshots;
	uint64_t snapshots_offset;
	uint64_t incompatible;
	uint64_t compatible;
	uint64_t autoclear;
	uint32_t refcount_order;
	uint32_t header_length;
	uint8_t compression_type; /* 0 zlib, 1 zstd */
	bool has_backing_fmt;
	char backing_fmt[32];
	char backing_file[1024];
};

/* How the driver reaches the image file: POSIX by default, a power-cut simulator in tests. */
struct qcow2_file_ops {
	ssize_t (*pread)(void *ctx, void *buf, size_t len, uint64_t off);
	ssize_t (*pwrite)(void *ctx, const void *buf, size_t len, uint64_t off);
	int (*sync)(void *ctx);
	int (*punch)(void *ctx, uint64_t off, uint64_t len); /* optional */
	uint64_t (*size)(void *ctx); /* required when given in a qcow2_config */
};

/* A bounded cache of cluster-sized tables (L2 tables, refcount blocks), LRU, hashed. */
struct qcow2_cache {
	uint32_t nslots;
	uint32_t table_size;
	uint8_t *mem;
	uint64_t *key;   /* host offset of the table in the slot, 0 for an empty slot */
	uint64_t *stamp; /* LRU clock */
	bool *dirty;
	int32_t *bucket;
	int32_t *next;
	uint32_t nbuckets;
	uint64_t tick;
	uint32_t ndirty;
};

enum qcow2_meta_kind {
	QCOW2_META_NONE = 0,
	QCOW2_META_L2 = 1,
	QCOW2_META_REFBLOCK = 2,
	QCOW2_META_FIXED = 3, /* header, L1 tables, refcount table, snapshot table */
};

struct qcow2_range {
	uint64_t start, end; /* clusters, [start, end) */
};

/* Which host clusters hold metadata, so a data cluster never aliases one. */
struct qcow2_metaset {
	uint64_t *keys; /* cluster index + 1; 0 is empty */
	uint8_t *kinds;
	uint64_t cap;   /* a power of two */
	uint64_t count;
	struct qcow2_range *fixed; /* sorted, merged */
	uint32_t nfixed;
};

/* How backing files are followed: only as configured (see struct xbd_disk_config). */
struct qcow2_backing_policy {
	const struct xbd_backing_file *chain; /* the exact chain, top image's backing first */
	unsigned int chain_len;
	const char *const *dirs;              /* NULL-terminated allow-list; NULL: none */
	bool has_dir_format;
	enum xbd_format dir_format;           /* of files found through dirs */
	bool trust_header_format;             /* the header's backing-format extension counts */
	bool raw_ok;                          /* raw files found through dirs */
	bool no_lock;                         /* take no image lock on backing files */
};

struct qcow2_config {
	const char *path;         /* as configured; relative backing names start from its dir */
	bool reopen_fd;           /* the file is fd's: reopened through it, not opened by name */
	int fd;
	bool readonly;
	struct qcow2_backing_policy backing;
	unsigned int level;       /* 0: the top image; n: the n-th backing file below it */
	uint64_t l2_cache_bytes;  /* 0: default */
	const char *log_prefix;
	/* Metadata of a completed request reaches the file (qcow2_request_done) before the
	 * request completes, so it survives the process: for a VBD that resumes after a crash. */
	bool write_through;
	/* Tests and fuzzing: the image through these ops instead of the file at `path`, which is
	 * then not opened; such an image can have no backing file. NULL: POSIX on the file. */
	const struct qcow2_file_ops *fops;
	void *fops_ctx;
};

/* A backing file: raw (pread on a read-only descriptor) or qcow2 (a read-only struct qcow2). */
struct qcow2_backing {
	bool is_qcow2;
	int fd;
	uint64_t size;
	struct qcow2 *q;
};

struct qcow2 {
	pthread_mutex_t lock;
	char prefix[64];
	struct xbd_ratelimit corrupt_rl; /* for messages about the image's inconsistencies */
	int fd;                   /* metadata I/O, buffered */
	int data_fd;              /* guest data, the engine's descriptor (maybe O_DIRECT); -1: fops */
	const struct qcow2_file_ops *fops;
	void *fops_ctx;
	bool writable;
	bool write_through;       /* qcow2_config's: see qcow2_request_done() */
	struct qcow2_header h;
	uint64_t size;            /* virtual */
	uint32_t cluster_bits;
	uint64_t cluster_size;
	uint32_t l2_bits;         /* log2(entries per L2 table) */
	uint32_t rb_bits;         /* log2(entries per refcount block) */
	uint32_t refcount_bits;
	uint64_t refcount_max;
	uint32_t csize_shift;     /* compressed descriptors: where the sector count starts */
	uint64_t *l1;
	uint32_t l1_size;
	uint32_t l1_dirty_lo, l1_dirty_hi; /* entries [lo, hi) differ from the file */
	uint64_t *reftable;
	uint64_t reftable_entries;
	struct qcow2_cache l2_cache;
	struct qcow2_cache rb_cache;
	struct qcow2_metaset meta;
	uint64_t file_size;       /* bytes the file holds (grows as we write) */
	uint64_t free_hint;       /* no free cluster below this one */
	uint64_t *pending_free;   /* clusters whose refcount drops once the L2 change is durable */
	uint32_t npending, pending_cap;
	uint8_t *buf;             /* cluster-sized scratch: reads */
	uint8_t *cow;             /* cluster-sized scratch: allocating writes */
	uint8_t *zbuf;            /* 2 clusters: compressed input */
	uint8_t *dbuf;            /* the last decompressed cluster */
	uint64_t dkey;            /* its compressed data's host offset, 0 if none */
	uint8_t *mscratch;        /* cluster-sized scratch: new refcount blocks and L2 tables */
	struct qcow2_backing backing;
	bool has_backing;
	void *zstd;               /* ZSTD_DCtx, created on first use */
	void *zlib;               /* z_stream, created on first use */
	uint64_t stat_dev, stat_ino;
	struct qcow2_range *snap_l1;  /* snapshot L1 tables, host clusters */
	uint32_t nsnap_l1;
	uint64_t snap_table_bytes;
};

/* Identities of the images in a chain, to refuse a loop. */
struct qcow2_chain {
	unsigned int depth;
	uint64_t dev[QCOW2_MAX_CHAIN + 1];
	uint64_t ino[QCOW2_MAX_CHAIN + 1];
};

/* qcow2_open.c */
int qcow2_open(const struct qcow2_config *cfg, struct qcow2 **out);
int qcow2_open_chain(const struct qcow2_config *cfg, struct qcow2_chain *chain, int fd,
		     struct qcow2 **out);
void qcow2_close(struct qcow2 *s);

/* qcow2_header.c */
int qcow2_header_parse(struct qcow2 *s, const uint8_t *buf, size_t len);
int qcow2_header_check_features(struct qcow2 *s, const uint8_t *buf, size_t len);
int qcow2_header_write(struct qcow2 *s, uint32_t off, const void *field, size_t len);

/* qcow2_file.c */
int qcow2_corrupt(struct qcow2 *s, const char *what, uint64_t value);
extern const struct qcow2_file_ops qcow2_posix_ops;
int qcow2_pread(struct qcow2 *s, void *buf, size_t len, uint64_t off);
int qcow2_pread_meta(struct qcow2 *s, void *buf, size_t len, uint64_t off);
int qcow2_pwrite(struct qcow2 *s, const void *buf, size_t len, uint64_t off);
int qcow2_sync(struct qcow2 *s);
int qcow2_data_pread(struct qcow2 *s, void *buf, size_t len, uint64_t off);
int qcow2_data_pwrite(struct qcow2 *s, const void *buf, size_t len, uint64_t off);
void qcow2_punch(struct qcow2 *s, uint64_t off, uint64_t len);
uint64_t qcow2_be64(const void *p);
uint32_t qcow2_be32(const void *p);
uint16_t qcow2_be16(const void *p);
void qcow2_put_be64(void *p, uint64_t v);
void qcow2_put_be32(void *p, uint32_t v);

/* qcow2_cache.c */
int qcow2_cache_init(struct qcow2_cache *c, uint32_t nslots, uint32_t table_size);
void qcow2_cache_fini(struct qcow2_cache *c);
int qcow2_cache_find(struct qcow2_cache *c, uint64_t key);
int qcow2_cache_victim(const struct qcow2_cache *c);
void qcow2_cache_assign(struct qcow2_cache *c, int slot, uint64_t key);
void qcow2_cache_drop(struct qcow2_cache *c, uint64_t key);
void *qcow2_cache_data(const struct qcow2_cache *c, int slot);
void qcow2_cache_mark_dirty(struct qcow2_cache *c, int slot);
void qcow2_cache_mark_clean(struct qcow2_cache *c, int slot);

/* qcow2_metaset.c */
int qcow2_meta_add(struct qcow2_metaset *m, uint64_t cluster, enum qcow2_meta_kind kind);
void qcow2_meta_remove(struct qcow2_metaset *m, uint64_t cluster);
enum qcow2_meta_kind qcow2_meta_kind_of(const struct qcow2_metaset *m, uint64_t cluster);
int qcow2_meta_add_fixed(struct qcow2_metaset *m, uint64_t start, uint64_t nclusters);
void qcow2_meta_clear_fixed(struct qcow2_metaset *m);
void qcow2_meta_fini(struct qcow2_metaset *m);
bool qcow2_is_metadata(const struct qcow2 *s, uint64_t host_off, uint64_t len);

/* qcow2_refcount.c */
int qcow2_refcount_get(struct qcow2 *s, uint64_t cluster, uint64_t *ref);
int qcow2_refcount_set(struct qcow2 *s, uint64_t cluster, uint64_t ref);
int qcow2_alloc_clusters(struct qcow2 *s, uint64_t n, uint64_t *host_off);
int qcow2_free_later(struct qcow2 *s, uint64_t host_off, uint64_t nclusters);
int qcow2_apply_pending_frees(struct qcow2 *s);
int qcow2_refcount_load_table(struct qcow2 *s);

/* qcow2_reftable.c */
int qcow2_reftable_grow(struct qcow2 *s, uint64_t min_entries, uint64_t avoid_end);
int qcow2_rebuild_fixed(struct qcow2 *s);
int qcow2_refblock_create(struct qcow2 *s, uint64_t rt_index);

/* qcow2_map.c */
int qcow2_lookup(struct qcow2 *s, uint64_t guest_off, struct qcow2_map *m);
int qcow2_l2_for_write(struct qcow2 *s, uint64_t guest_off, uint64_t *l2off);
int qcow2_l2_entry(struct qcow2 *s, uint64_t l2off, uint64_t guest_off, uint64_t *entry,
		   bool set);
int qcow2_classify_entry(struct qcow2 *s, uint64_t e, struct qcow2_map *m);
int qcow2_meta_flush(struct qcow2 *s, bool durable);
/* Whether L2 tables or L1 entries differ from the file (what a crash of the process loses). */
bool qcow2_meta_dirty(const struct qcow2 *s);
/* The end of a guest write, discard or write-zeroes (also a failed one), under the lock:
 * durable (FUA, or no flushes): qcow2_meta_flush(s, true); else with write_through, dirty
 * metadata is written back in crash-safe order (qcow2_meta_flush(s, false)) so that what the
 * request completes survives a crash of the process; else nothing. 0 or -errno. */
int qcow2_request_done(struct qcow2 *s, bool durable);
int qcow2_l1_load(struct qcow2 *s);
bool qcow2_data_offset_ok(const struct qcow2 *s, uint64_t host, uint64_t len);

/* qcow2_read.c */
int qcow2_read_sync(struct qcow2 *s, void *buf, uint64_t off, uint64_t len);
int qcow2_read_mapped(struct qcow2 *s, const struct qcow2_map *m, uint64_t guest_off, void *buf,
		      uint64_t len);

/* qcow2_write.c */
int qcow2_write_inplace_target(struct qcow2 *s, uint64_t guest_off, uint64_t *host);
int qcow2_write_cluster(struct qcow2 *s, uint64_t guest_off, uint64_t len,
			const struct iovec *iov, unsigned int niov, uint64_t iov_off);
int qcow2_write_sync(struct qcow2 *s, uint64_t off, uint64_t len, const struct iovec *iov,
		     unsigned int niov);
/* Zero (discard: or deallocate) [off, off + len), visiting at most `budget` clusters (a run
 * with no L2 table and nothing below it counts as one) and writing at most about 4 MiB of
 * zeros as data (partial clusters, version 2 over a backing file): *done says how far it got,
 * a whole number of clusters unless it reached off + len. 0 or -errno (*done: what was done). */
int qcow2_zero_step(struct qcow2 *s, uint64_t off, uint64_t len, bool discard, uint32_t budget,
		    uint64_t *done);
/* All of [off, off + len), in steps: for tests and tools, not the data path. */
int qcow2_zero_range(struct qcow2 *s, uint64_t off, uint64_t len, bool discard);
int qcow2_grow(struct qcow2 *s, uint64_t new_size);

/* qcow2_compress.c */
int qcow2_decompress(struct qcow2 *s, const uint8_t *in, size_t in_len, uint8_t *out,
		     size_t out_len);
void qcow2_compress_fini(struct qcow2 *s);

/* A backing file found by the policy, not opened yet (qcow2_backing_find.c). */
struct qcow2_found {
	int pathfd;              /* O_PATH */
	char path[4096];         /* for the next level's relative names */
	char shown[1024];        /* path, cut for the log (which escapes it) */
	enum xbd_format format;
	bool block_ok;           /* only a configured chain may name a block device */
};

/* qcow2_backing_find.c */
int qcow2_backing_find(struct qcow2 *s, const struct qcow2_config *cfg, struct qcow2_found *f);

/* qcow2_backing_name.c */
void qcow2_name_shown(const char *name, char *out, size_t cap);
bool qcow2_name_has_protocol(const char *name);
int qcow2_name_join(const char *image, const char *name, char *out, size_t cap);
const char *qcow2_path_beneath(const char *path, const char *dir);
bool qcow2_name_matches_entry(const char *name, const char *entry, const char *real);
bool qcow2_backing_dir_forbidden(const char *resolved);

/* qcow2_backing.c */
int qcow2_backing_open(struct qcow2 *s, const struct qcow2_config *cfg,
		       struct qcow2_chain *chain);
void qcow2_backing_close(struct qcow2 *s);
int qcow2_backing_read(struct qcow2 *s, void *buf, uint64_t off, uint64_t len);

/* qcow2_iov.c */
void qcow2_iov_to_buf(const struct iovec *iov, unsigned int niov, uint64_t off, void *buf,
		      uint64_t len);
void qcow2_iov_from_buf(const struct iovec *iov, unsigned int niov, uint64_t off,
			const void *buf, uint64_t len);
void qcow2_iov_memset(const struct iovec *iov, unsigned int niov, uint64_t off, uint64_t len);
unsigned int qcow2_iov_slice(const struct iovec *iov, unsigned int niov, uint64_t off,
			     uint64_t len, struct iovec *out, unsigned int cap);

/* drv_qcow2.c: grow a qcow2 disk's virtual size (resize), for the daemon's control thread. */
struct xbd_disk;
int xbd_qcow2_resize(struct xbd_disk *d, uint64_t new_size);

static inline uint64_t qcow2_cluster_of(const struct qcow2 *s, uint64_t off)
{
	return off >> s->cluster_bits;
}

static inline uint64_t qcow2_in_cluster(const struct qcow2 *s, uint64_t off)
{
	return off & (s->cluster_size - 1);
}

#endif
