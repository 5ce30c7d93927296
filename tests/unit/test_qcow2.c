/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unit tests of the qcow2 driver's internals, on images built byte by byte in memory (through
 * the driver's file-ops hook, so no qemu-img is needed): reading a fresh image, writes across
 * clusters that allocate L2 tables and refcount blocks and grow the refcount table, for every
 * refcount width, checked by an independent refcount walk (a small `qemu-img check`); zeroing
 * and discard, and the bound on the work of one of their steps; refusals of features by their
 * header bits; corrupt entries giving -EIO; the building blocks (metadata set, table cache,
 * iovec helpers); and the pure rules of the backing-file policy (joining names, allowed
 * directories, chain entries, escaping).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "qcow2.h"

struct mem {
	uint8_t *b;
	uint64_t size;
};

static ssize_t m_pread(void *ctx, void *buf, size_t len, uint64_t off)
{
	struct mem *m = ctx;

	if (off >= m->size)
		return 0;
	if (len > m->size - off)
		len = m->size - off;
	memcpy(buf, m->b + off, len);
	return (ssize_t)len;
}

static ssize_t m_pwrite(void *ctx, const void *buf, size_t len, uint64_t off)
{
	struct mem *m = ctx;

	if (off + len > m->size) {
		m->b = realloc(m->b, off + len);
		memset(m->b + m->size, 0, off + len - m->size);
		m->size = off + len;
	}
	memcpy(m->b + off, buf, len);
	return (ssize_t)len;
}

static int m_sync(void *ctx)
{
	(void)ctx;
	return 0;
}

static uint64_t m_size(void *ctx)
{
	return ((struct mem *)ctx)->size;
}

static const struct qcow2_file_ops mem_ops = {
	.pread = m_pread, .pwrite = m_pwrite, .sync = m_sync, .size = m_size,
};

static void put64(struct mem *m, uint64_t off, uint64_t v)
{
	qcow2_put_be64(m->b + off, v);
}

static void put32(struct mem *m, uint64_t off, uint32_t v)
{
	qcow2_put_be32(m->b + off, v);
}

/* A fresh v3 image: header, refcount table, one refcount block, L1 (clusters 0..3). */
static void build(struct mem *m, uint32_t cluster_bits, uint32_t order, uint64_t size)
{
	uint64_t cs = 1ull << cluster_bits, l2_span = cs / 8 * cs;
	uint32_t l1 = (uint32_t)((size + l2_span - 1) / l2_span);
	uint32_t bits = 1u << order;

	m->size = 4 * cs + (l1 * 8 > cs ? l1 * 8 - cs : 0);
	m->size = (m->size + cs - 1) / cs * cs;
	m->b = calloc(1, m->size);
	put32(m, 0, QCOW2_MAGIC);
	put32(m, 4, 3);
	put32(m, 20, cluster_bits);
	put64(m, 24, size);
	put32(m, 36, l1);
	put64(m, 40, 3 * cs);
	put64(m, 48, cs);
	put32(m, 56, 1);
	put32(m, 96, order);
	put32(m, 100, 104);
	put64(m, cs, 2 * cs);
	for (uint64_t c = 0; c < m->size / cs; c++) {
		uint64_t bit = c * bits;

		if (bits < 8)
			m->b[2 * cs + bit / 8] |= (uint8_t)(1u << (bit % 8));
		else
			m->b[2 * cs + (bit + bits) / 8 - 1] = 1;
	}
}

static struct qcow2 *open_mem(struct mem *m, bool rw, int expect)
{
	struct qcow2_config cfg = { .path = "mem", .readonly = !rw, .fops = &mem_ops,
				    .fops_ctx = m, .log_prefix = "test", .l2_cache_bytes = 1 };
	struct qcow2 *s = NULL;

	assert_int_equal(qcow2_open(&cfg, &s), expect);
	return s;
}

static uint64_t be_at(const struct mem *m, uint64_t off)
{
	return qcow2_be64(m->b + off);
}

/* Count every reference the image holds and compare with its refcounts. */
static void check_refcounts(struct qcow2 *s, const struct mem *m)
{
	uint64_t cs = s->cluster_size, n = (m->size + cs - 1) / cs + 1, ref;
	uint32_t *refs = calloc(n, sizeof(*refs));

	refs[0]++;
	for (uint64_t i = 0; i < s->h.refcount_table_clusters; i++)
		refs[s->h.refcount_table_offset / cs + i]++;
	for (uint64_t i = 0; i < (s->h.l1_size * 8ull + cs - 1) / cs; i++)
		refs[s->h.l1_table_offset / cs + i]++;
	for (uint64_t i = 0; i < s->reftable_entries; i++)
		if (be_at(m, s->h.refcount_table_offset + i * 8))
			refs[be_at(m, s->h.refcount_table_offset + i * 8) / cs]++;
	for (uint32_t i = 0; i < s->h.l1_size; i++) {
		uint64_t l2 = be_at(m, s->h.l1_table_offset + i * 8) & QCOW2_OFFSET_MASK;

		if (!l2)
			continue;
		refs[l2 / cs]++;
		for (uint64_t j = 0; j < cs / 8; j++) {
			uint64_t d = be_at(m, l2 + j * 8) & QCOW2_OFFSET_MASK;

			if (d)
				refs[d / cs]++;
		}
	}
	for (uint64_t c = 0; c + 1 < n; c++) {
		assert_int_equal(qcow2_refcount_get(s, c, &ref), 0);
		if (ref != refs[c])
			fail_msg("cluster %llu: refcount %llu, %u references", (unsigned long long)c,
				 (unsigned long long)ref, refs[c]);
	}
	free(refs);
}

static void fill(uint8_t *p, uint64_t len, uint32_t seed)
{
	for (uint64_t i = 0; i < len; i++)
		p[i] = (uint8_t)((i * 31 + seed) ^ (i >> 9));
}

static void write_read_cycle(uint32_t cluster_bits, uint32_t order)
{
	const uint64_t size = 4 << 20;
	uint8_t *want = calloc(1, size), *got = malloc(size);
	struct mem m;
	struct qcow2 *s;
	uint32_t seed = 1;

	build(&m, cluster_bits, order, size);
	s = open_mem(&m, true, 0);
	assert_int_equal(qcow2_read_sync(s, got, 0, size), 0);
	assert_memory_equal(got, want, size);
	for (uint64_t off = 512; off + 70000 < size; off += 3 * 70000 + 1536) {
		struct iovec iov = { want + off, 70000 / 512 * 512 };

		fill(want + off, iov.iov_len, seed++);
		assert_int_equal(qcow2_write_sync(s, off, iov.iov_len, &iov, 1), 0);
	}
	assert_int_equal(qcow2_zero_range(s, 1 << 20, 300 * 512, true), 0);
	memset(want + (1 << 20), 0, 300 * 512);
	assert_int_equal(qcow2_zero_range(s, (2 << 20) + 1024, 5120, false), 0);
	memset(want + (2 << 20) + 1024, 0, 5120);
	assert_int_equal(qcow2_meta_flush(s, true), 0);
	assert_int_equal(qcow2_read_sync(s, got, 0, size), 0);
	assert_memory_equal(got, want, size);
	check_refcounts(s, &m);
	qcow2_close(s);
	s = open_mem(&m, false, 0);
	assert_int_equal(qcow2_read_sync(s, got, 0, size), 0);
	assert_memory_equal(got, want, size);
	qcow2_close(s);
	free(m.b);
	free(want);
	free(got);
}

static void test_fresh_image_every_refcount_width(void **state)
{
	(void)state;
	for (uint32_t order = 0; order <= 6; order++)
		write_read_cycle(9, order); /* 512-byte clusters: the table must grow */
	write_read_cycle(12, 4);
	write_read_cycle(16, 0);
}

/* Whole-disk discards of `size` in the driver's steps of 8192 clusters: how many steps. */
static uint64_t discard_all_in_steps(struct qcow2 *s, uint64_t size)
{
	uint64_t off, done, steps = 0;

	for (off = 0; off < size; off += done, steps++) {
		assert_int_equal(qcow2_zero_step(s, off, size - off, true, 8192, &done), 0);
		assert_true(done > 0);
	}
	assert_int_equal(off, size);
	return steps;
}

/*
 * Discard and write-zeroes in bounded steps: a step visits at most `budget` clusters, and a
 * stretch without an L2 table (and no backing file) counts as one, however big, so a discard
 * of a whole 16 TiB disk takes a handful of steps, and one of an image declaring 1 PiB takes
 * a number of steps bounded by its L1 table, not by its virtual size.
 */
static void test_zero_step_is_bounded(void **state)
{
	const uint64_t cs = 65536, span = cs / 8 * cs, size = 16ull << 40;
	uint8_t *buf = malloc(cs), *got = malloc(cs);
	struct iovec iov = { buf, cs };
	const uint64_t data[] = { 0, 10 * span + 3 * cs, size - cs };
	uint64_t done;
	struct mem m;
	struct qcow2 *s;

	(void)state;
	build(&m, 16, 4, size);
	s = open_mem(&m, true, 0);
	fill(buf, cs, 5);
	for (int i = 0; i < 3; i++)
		assert_int_equal(qcow2_write_sync(s, data[i], cs, &iov, 1), 0);
	/* Where an L2 table exists, one cluster per unit of the budget. */
	assert_int_equal(qcow2_zero_step(s, 0, size, true, 100, &done), 0);
	assert_int_equal(done, 100 * cs);
	/* Without one, one L1 entry's span per unit, from wherever the range starts in it. */
	assert_int_equal(qcow2_zero_step(s, span + 512, size - span - 512, true, 5, &done), 0);
	assert_int_equal(done, 5 * span - 512);
	/* Entry 9 has no table (one unit), entry 10 has one (a cluster per unit). */
	assert_int_equal(qcow2_zero_step(s, 9 * span, size - 9 * span, false, 2, &done), 0);
	assert_int_equal(done, span + cs);
	/* The whole disk: three tables of 8192 clusters and 32765 empty spans. */
	assert_true(discard_all_in_steps(s, size) <= 8);
	assert_int_equal(qcow2_meta_flush(s, true), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(qcow2_read_sync(s, got, data[i], cs), 0);
		assert_true(got[0] == 0 && !memcmp(got, got + 1, cs - 1));
	}
	check_refcounts(s, &m);
	/* Bad arguments are refused before any work. */
	assert_int_equal(qcow2_zero_step(s, size, 512, true, 1, &done), -EINVAL);
	assert_int_equal(done, 0);
	qcow2_close(s);
	free(m.b);
	/* An image that declares 1 PiB, empty: the steps follow its 2 Mi L1 entries. */
	build(&m, 16, 4, 1ull << 50);
	s = open_mem(&m, true, 0);
	assert_true(discard_all_in_steps(s, 1ull << 50) <= (2ull << 20) / 8192 + 1);
	qcow2_close(s);
	free(m.b);
	free(buf);
	free(got);
}

static void test_refusals_by_header_bits(void **state)
{
	static const struct { uint32_t off; uint64_t v; bool rw; int err; } cases[] = {
		{ 72, 1ull << 5, false, -EOPNOTSUPP }, /* unknown incompatible bit */
		{ 72, 1ull << 4, false, -EOPNOTSUPP }, /* extended L2 entries */
		{ 72, 1ull << 2, false, -EOPNOTSUPP }, /* external data file */
		{ 72, 1ull << 0, true, -EUCLEAN },     /* dirty, read-write */
		{ 72, 1ull << 1, true, -EUCLEAN },     /* corrupt, read-write */
		{ 72, 1ull << 0, false, 0 },           /* dirty, read-only: fine */
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mem m;

		build(&m, 16, 4, 1 << 20);
		put64(&m, cases[i].off, cases[i].v);
		qcow2_close(open_mem(&m, cases[i].rw, cases[i].err));
		free(m.b);
	}
}

static void test_encryption_and_bad_fields_refused(void **state)
{
	struct mem m;

	(void)state;
	build(&m, 16, 4, 1 << 20);
	put32(&m, 32, 2);
	open_mem(&m, false, -EOPNOTSUPP);
	put32(&m, 32, 0);
	put32(&m, 96, 7);
	open_mem(&m, false, -EINVAL);
	put32(&m, 96, 4);
	put32(&m, 36, 0); /* L1 too small for the disk */
	open_mem(&m, false, -EINVAL);
	free(m.b);
}

static void test_corrupt_entries_give_eio(void **state)
{
	uint8_t buf[512];
	struct mem m;
	struct qcow2 *s;
	struct iovec iov = { buf, sizeof(buf) };

	(void)state;
	build(&m, 12, 4, 1 << 20);
	s = open_mem(&m, true, 0);
	assert_int_equal(qcow2_write_sync(s, 0, 512, &iov, 1), 0);
	qcow2_close(s);
	/* Point guest cluster 0 at the L1 table (cluster 3), then past the end of the file. */
	{
		uint64_t l2 = be_at(&m, 3 * 4096) & QCOW2_OFFSET_MASK;

		put64(&m, l2, QCOW2_COPIED | 3 * 4096);
		s = open_mem(&m, true, 0);
		assert_int_equal(qcow2_read_sync(s, buf, 0, 512), -EIO);
		assert_int_equal(qcow2_write_sync(s, 0, 512, &iov, 1), -EIO);
		qcow2_close(s);
		put64(&m, l2, QCOW2_COPIED | (1ull << 40));
		s = open_mem(&m, false, 0);
		assert_int_equal(qcow2_read_sync(s, buf, 0, 512), -EIO);
		qcow2_close(s);
	}
	free(m.b);
}

static void test_metaset(void **state)
{
	struct qcow2_metaset ms = { 0 };

	(void)state;
	for (uint64_t i = 0; i < 1000; i++)
		assert_int_equal(qcow2_meta_add(&ms, i * 7, QCOW2_META_L2), 0);
	for (uint64_t i = 0; i < 1000; i += 2)
		qcow2_meta_remove(&ms, i * 7);
	for (uint64_t i = 0; i < 1000; i++)
		assert_int_equal(qcow2_meta_kind_of(&ms, i * 7),
				 i % 2 ? QCOW2_META_L2 : QCOW2_META_NONE);
	assert_int_equal(qcow2_meta_add_fixed(&ms, 100, 10), 0);
	assert_int_equal(qcow2_meta_add_fixed(&ms, 105, 10), 0);
	assert_int_equal(qcow2_meta_add_fixed(&ms, 5, 1), 0);
	assert_int_equal(ms.nfixed, 2);
	assert_int_equal(qcow2_meta_kind_of(&ms, 114), QCOW2_META_FIXED);
	assert_int_equal(qcow2_meta_kind_of(&ms, 116), QCOW2_META_NONE);
	assert_int_equal(qcow2_meta_kind_of(&ms, 5), QCOW2_META_FIXED);
	qcow2_meta_fini(&ms);
}

static void test_cache_lru(void **state)
{
	struct qcow2_cache c;
	int a, b;

	(void)state;
	assert_int_equal(qcow2_cache_init(&c, 2, 512), 0);
	a = qcow2_cache_victim(&c);
	qcow2_cache_assign(&c, a, 4096);
	b = qcow2_cache_victim(&c);
	assert_int_not_equal(a, b);
	qcow2_cache_assign(&c, b, 8192);
	assert_int_equal(qcow2_cache_find(&c, 4096), a); /* 8192 is now the oldest */
	assert_int_equal(qcow2_cache_victim(&c), b);
	qcow2_cache_mark_dirty(&c, b);
	assert_int_equal(c.ndirty, 1);
	qcow2_cache_assign(&c, b, 12288);
	assert_int_equal(c.ndirty, 0);
	assert_int_equal(qcow2_cache_find(&c, 8192), -1);
	qcow2_cache_fini(&c);
}

static void test_iov_helpers(void **state)
{
	uint8_t a[100], b[50], flat[150];
	struct iovec iov[2] = { { a, 100 }, { b, 50 } }, out[4];

	(void)state;
	fill(flat, sizeof(flat), 3);
	qcow2_iov_from_buf(iov, 2, 0, flat, 150);
	assert_memory_equal(b, flat + 100, 50);
	assert_int_equal(qcow2_iov_slice(iov, 2, 90, 20, out, 4), 2);
	assert_ptr_equal(out[0].iov_base, a + 90);
	assert_int_equal(out[0].iov_len, 10);
	assert_int_equal(out[1].iov_len, 10);
	assert_int_equal(qcow2_iov_slice(iov, 2, 0, 150, out, 1), 2); /* too many: cap + 1 */
	qcow2_iov_memset(iov, 2, 95, 10);
	assert_int_equal(a[99], 0);
	assert_int_equal(b[4], 0);
	assert_int_equal(b[5], flat[105]);
}

static void joined(const char *image, const char *name, const char *want)
{
	char out[64];

	assert_int_equal(qcow2_name_join(image, name, out, sizeof(out)), 0);
	assert_string_equal(out, want);
}

/* Backing names are joined to their image's directory as QEMU does, but only lexically. */
static void test_backing_name_join(void **state)
{
	char out[16];

	(void)state;
	joined("/srv/ov/a.qcow2", "base.raw", "/srv/ov/base.raw");
	joined("/srv/ov/a.qcow2", "../golden/b.qcow2", "/srv/golden/b.qcow2");
	joined("/srv/ov/a.qcow2", "/srv/golden//./b", "/srv/golden/b");
	joined("/srv/ov/a.qcow2", "../../../../etc/passwd", "/etc/passwd");
	joined("/a.qcow2", "b", "/b");
	joined("/srv/a.qcow2", "..", "/");
	joined("/srv/a.qcow2", "x/", "/srv/x");
	assert_int_equal(qcow2_name_join("/srv/a", "", out, sizeof(out)), -EINVAL);
	assert_int_equal(qcow2_name_join("rel/a", "b", out, sizeof(out)), -EINVAL);
	assert_int_equal(qcow2_name_join("/srv/a", "a-very-long-name.qcow2", out, sizeof(out)),
			 -ENAMETOOLONG);
}

static void test_backing_name_rules(void **state)
{
	char out[1024], big[400];

	(void)state;
	assert_string_equal(qcow2_path_beneath("/srv/golden/b.qcow2", "/srv/golden"), "b.qcow2");
	assert_string_equal(qcow2_path_beneath("/srv/golden/x/b", "/srv/golden/"), "x/b");
	assert_null(qcow2_path_beneath("/srv/golden2/b", "/srv/golden"));
	assert_null(qcow2_path_beneath("/srv/golden", "/srv/golden"));
	assert_null(qcow2_path_beneath("/etc/passwd", "/srv/golden"));
	assert_true(qcow2_name_has_protocol("nbd:host:10809"));
	assert_true(qcow2_name_has_protocol("json:{\"file\": 1}"));
	assert_false(qcow2_name_has_protocol("./a:b"));
	assert_false(qcow2_name_has_protocol("/srv/a:b"));
	/* A chain entry agrees with the header by file name, as written or as resolved. */
	assert_true(qcow2_name_matches_entry("/old/place/base.qcow2", "/srv/base.qcow2", NULL));
	assert_true(qcow2_name_matches_entry("base-v3.qcow2", "/srv/current",
					     "/srv/base-v3.qcow2"));
	assert_false(qcow2_name_matches_entry("other.raw", "/srv/base.qcow2", "/srv/base.qcow2"));
	assert_false(qcow2_name_matches_entry("/srv/", "/srv/", NULL));
	/* Never allowed: the root, /dev, /run, and anything in /proc or /sys. */
	assert_true(qcow2_backing_dir_forbidden("/"));
	assert_true(qcow2_backing_dir_forbidden("/dev"));
	assert_true(qcow2_backing_dir_forbidden("/run"));
	assert_true(qcow2_backing_dir_forbidden("/proc/1/root"));
	assert_true(qcow2_backing_dir_forbidden("/sys"));
	assert_false(qcow2_backing_dir_forbidden("/srv/golden"));
	assert_false(qcow2_backing_dir_forbidden("/procfs-images"));
	/* The log sees an image's name cut (the logger escapes the whole line). */
	qcow2_name_shown("a\x1b[31m'\\\n\xff", out, sizeof(out));
	assert_string_equal(out, "a\x1b[31m'\\\n\xff");
	memset(big, 'n', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	qcow2_name_shown(big, out, sizeof(out));
	assert_int_equal(strlen(out), 203);
	assert_string_equal(out + 200, "...");
	qcow2_name_shown("\x01\x02\x03\x04\x05\x06\x07", out, 6);
	assert_string_equal(out, "\x01\x02...");
}

/* From an image in memory, a backing file is followed only as configured. */
static void test_backing_refused_unless_configured(void **state)
{
	struct qcow2_config cfg = { .path = "/nonexistent/mem", .readonly = true,
				    .fops = &mem_ops, .log_prefix = "test" };
	const char *dirs[] = { "/nonexistent-xbd-dir", NULL };
	struct qcow2 *s = NULL;
	struct mem m;

	(void)state;
	build(&m, 16, 4, 1 << 20);
	put64(&m, 8, 1024);
	put32(&m, 16, 8);
	memcpy(m.b + 1024, "base.raw", 8);
	cfg.fops_ctx = &m;
	assert_int_equal(qcow2_open(&cfg, &s), -EPERM);
	cfg.backing.dirs = dirs;
	cfg.backing.has_dir_format = true;
	assert_int_equal(qcow2_open(&cfg, &s), -EPERM); /* outside the directory */
	cfg.backing.dirs = NULL;
	memcpy(m.b + 1024, "nbd:a:bc", 8);
	cfg.backing.chain_len = 1;
	cfg.backing.chain = &(struct xbd_backing_file){ XBD_FORMAT_RAW, "/x/nbd:a:bc" };
	assert_int_equal(qcow2_open(&cfg, &s), -EPERM); /* a protocol */
	assert_null(s);
	free(m.b);
}

/* What a crash of the process leaves: the file's bytes now, opened afresh (read-write, as a
 * restarted daemon does) without the old state's flush. `want` NULL: expect zeros. */
static void check_crash_copy(const struct mem *m, uint64_t off, const uint8_t *want)
{
	struct mem copy = { .b = malloc(m->size), .size = m->size };
	uint8_t got[4096], zero[4096] = { 0 };
	struct qcow2 *t;

	memcpy(copy.b, m->b, m->size);
	t = open_mem(&copy, true, 0);
	assert_int_equal(qcow2_read_sync(t, got, off, sizeof(got)), 0);
	assert_memory_equal(got, want ? want : zero, sizeof(got));
	qcow2_close(t);
	free(copy.b);
}

/*
 * Write-through (a VBD that resumes after a crash, docs/restart.md): once qcow2_request_done()
 * returns, an allocating write and a discard are in the file; written back, they are not (the
 * L2 table that maps them is still only in memory).
 */
static void crash_after_requests(bool write_through)
{
	const uint64_t off = 3 * 65536 + 8192;
	struct qcow2_config cfg = { .path = "mem", .fops = &mem_ops, .log_prefix = "test",
				    .write_through = write_through };
	uint8_t data[4096];
	struct iovec iov = { data, sizeof(data) };
	struct qcow2 *s = NULL;
	struct mem m;

	build(&m, 16, 4, 4 << 20);
	cfg.fops_ctx = &m;
	assert_int_equal(qcow2_open(&cfg, &s), 0);
	fill(data, sizeof(data), 7);
	assert_int_equal(qcow2_write_sync(s, off, sizeof(data), &iov, 1), 0);
	assert_true(qcow2_meta_dirty(s));
	assert_int_equal(qcow2_request_done(s, false), 0);
	assert_int_equal(qcow2_meta_dirty(s), !write_through);
	check_crash_copy(&m, off, write_through ? data : NULL);
	/* Durable (FUA, no flushes): in the file either way. */
	assert_int_equal(qcow2_request_done(s, true), 0);
	check_crash_copy(&m, off, data);
	/* A discard of the cluster: the zero entry reaches the file only with write-through. */
	assert_int_equal(qcow2_zero_range(s, off - 8192, 65536, true), 0);
	assert_int_equal(qcow2_request_done(s, false), 0);
	check_crash_copy(&m, off, write_through ? NULL : data);
	assert_int_equal(qcow2_meta_flush(s, true), 0);
	check_refcounts(s, &m);
	qcow2_close(s);
	free(m.b);
}

static void test_write_through_survives_a_crash(void **state)
{
	(void)state;
	crash_after_requests(true);
	crash_after_requests(false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fresh_image_every_refcount_width),
		cmocka_unit_test(test_zero_step_is_bounded),
		cmocka_unit_test(test_refusals_by_header_bits),
		cmocka_unit_test(test_encryption_and_bad_fields_refused),
		cmocka_unit_test(test_corrupt_entries_give_eio),
		cmocka_unit_test(test_metaset),
		cmocka_unit_test(test_cache_lru),
		cmocka_unit_test(test_iov_helpers),
		cmocka_unit_test(test_backing_name_join),
		cmocka_unit_test(test_backing_name_rules),
		cmocka_unit_test(test_backing_refused_unless_configured),
		cmocka_unit_test(test_write_through_survives_a_crash),
	};

	xbd_log_set_level((enum xbd_log_level)0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
