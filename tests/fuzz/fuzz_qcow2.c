/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target for the qcow2 driver's parsing of hostile images: the header and its
 * extensions, the snapshot table, L1/L2 and refcount tables, compressed clusters, and the
 * allocation, copy-on-write, zeroing, flush and resize paths that follow table entries; and
 * the backing-file policy on the name and format the header gives. The image lives in memory
 * behind the driver's file-ops hook, so every read past its end and every write is seen by
 * the sanitizers; writes may grow it up to a cap. Its backing file is resolved against a
 * fixture directory made once per process (a valid qcow2 image, a raw file, a FIFO, a symlink
 * inside and one out to /etc/passwd): the policy lets nothing outside it be opened, which is
 * part of what is fuzzed. Built with -fsanitize=fuzzer (clang, -Dfuzzing=true) or linked
 * with replay.c.
 *
 * Input: byte 0 flags (bit 0 writable, bit 1 a 4-table L2 cache, else 256 KiB; bits 2..3 the
 * backing policy: 0 none (refused), 1 the fixture directory allowed with the header's format
 * trusted and raw allowed, 2 the directory allowed with format qcow2, 3 the exact chain
 * qcow2:<fixture>/base.qcow2), byte 1 number of operations, bytes 2..3 a seed for them; the
 * rest is the image file.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xenblkd/log.h"
#include "qcow2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FILE_CAP (32u << 20)
#define READ_CAP (1u << 20)

struct memfile {
	uint8_t *buf;
	uint64_t size;
};

static ssize_t mem_pread(void *ctx, void *buf, size_t len, uint64_t off)
{
	struct memfile *m = ctx;

	if (off >= m->size)
		return 0;
	if (len > m->size - off)
		len = m->size - off;
	memcpy(buf, m->buf + off, len);
	return (ssize_t)len;
}

static ssize_t mem_pwrite(void *ctx, const void *buf, size_t len, uint64_t off)
{
	struct memfile *m = ctx;

	if (off > FILE_CAP || len > FILE_CAP - off) {
		errno = ENOSPC;
		return -1;
	}
	if (off + len > m->size) {
		uint8_t *n = realloc(m->buf, off + len);

		if (!n) {
			errno = ENOMEM;
			return -1;
		}
		memset(n + m->size, 0, off + len - m->size);
		m->buf = n;
		m->size = off + len;
	}
	memcpy(m->buf + off, buf, len);
	return (ssize_t)len;
}

static int mem_sync(void *ctx)
{
	(void)ctx;
	return 0;
}

static uint64_t mem_size(void *ctx)
{
	return ((struct memfile *)ctx)->size;
}

static const struct qcow2_file_ops mem_ops = {
	.pread = mem_pread, .pwrite = mem_pwrite, .sync = mem_sync, .size = mem_size,
};

static uint32_t next(uint32_t *x)
{
	*x = *x * 1103515245u + 12345u;
	return *x >> 8;
}

/* Read the start, the end and a few places between: a huge virtual size is cheap. */
static void read_some(struct qcow2 *s, uint8_t *buf, uint32_t *x)
{
	uint64_t size = s->size, len = size < READ_CAP ? size : READ_CAP;

	if (!size)
		return;
	(void)qcow2_read_sync(s, buf, 0, len / 512 * 512);
	for (int i = 0; i < 8; i++) {
		uint64_t off = ((uint64_t)next(x) << 32 | next(x)) % size / 512 * 512;
		uint64_t n = size - off < 65536 ? size - off : 65536;

		(void)qcow2_read_sync(s, buf, off, n);
	}
}

static void write_some(struct qcow2 *s, uint8_t *buf, unsigned int ops, uint32_t *x)
{
	for (unsigned int i = 0; i < ops && s->size >= 512; i++) {
		uint64_t nsec = s->size / 512, n = 1 + next(x) % 256, off;
		struct iovec iov = { buf, 0 };

		if (n > nsec)
			n = nsec;
		off = ((uint64_t)next(x) << 24 | next(x)) % (nsec - n + 1) * 512;
		iov.iov_len = n * 512;
		memset(buf, (int)i, n * 512);
		switch (next(x) % 8) {
		case 0: (void)qcow2_zero_range(s, off, n * 512, true); break;
		case 1: (void)qcow2_zero_range(s, off, n * 512, false); break;
		case 2: (void)qcow2_meta_flush(s, next(x) % 2); break;
		case 3: (void)qcow2_grow(s, s->size + (uint64_t)(next(x) % 64) * 65536); break;
		default: (void)qcow2_write_sync(s, off, n * 512, &iov, 1); break;
		}
		(void)qcow2_request_done(s, false); /* writes metadata back with write_through */
	}
}

static char fixture[64];
static const char *const fixture_files[] = { "base.qcow2", "base.raw", "fifo", "link-in",
					     "link-out" };

static void fixture_path(char *out, size_t cap, const char *name)
{
	snprintf(out, cap, "%s/%s", fixture, name);
}

static void remove_fixture(void)
{
	char p[96];

	for (size_t i = 0; i < sizeof(fixture_files) / sizeof(fixture_files[0]); i++) {
		fixture_path(p, sizeof(p), fixture_files[i]);
		unlink(p);
	}
	rmdir(fixture);
}

static void be(uint8_t *b, size_t off, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--, v >>= 8)
		b[off + (size_t)i] = (uint8_t)v;
}

static int write_fixture_file(const char *name, const uint8_t *b, size_t len)
{
	char p[96];
	FILE *f;

	fixture_path(p, sizeof(p), name);
	f = fopen(p, "wb");
	if (!f)
		return -1;
	if (fwrite(b, 1, len, f) != len) {
		fclose(f);
		return -1;
	}
	return fclose(f);
}

/* The directory backing names resolve in; base.qcow2 is an empty 1 MiB image with 4 KiB
 * clusters (header, refcount table and block, L1), base.raw 64 KiB of 0xb5. */
static int make_fixture(void)
{
	static uint8_t img[4 * 4096];
	uint8_t raw[65536];
	char p[96];
	const char *tmp = getenv("TMPDIR");

	snprintf(fixture, sizeof(fixture), "%.40s/xbd-fuzz-qcow2.XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(fixture))
		return -1;
	atexit(remove_fixture);
	be(img, 0, QCOW2_MAGIC, 4);
	be(img, 4, 3, 4);
	be(img, 20, 12, 4);
	be(img, 24, 1 << 20, 8);
	be(img, 36, 1, 4);
	be(img, 40, 3 * 4096, 8);
	be(img, 48, 4096, 8);
	be(img, 56, 1, 4);
	be(img, 96, 4, 4);
	be(img, 100, 104, 4);
	be(img, 4096, 2 * 4096, 8);
	for (int c = 0; c < 4; c++)
		be(img, 2 * 4096 + 2 * (size_t)c, 1, 2);
	memset(raw, 0xb5, sizeof(raw));
	fixture_path(p, sizeof(p), "fifo");
	if (write_fixture_file("base.qcow2", img, sizeof(img)) ||
	    write_fixture_file("base.raw", raw, sizeof(raw)) || mkfifo(p, 0600))
		return -1;
	fixture_path(p, sizeof(p), "link-in");
	if (symlink("base.raw", p))
		return -1;
	fixture_path(p, sizeof(p), "link-out");
	return symlink("/etc/passwd", p);
}

/* The backing policy bits 2..3 of byte 0 choose. */
static void backing_policy(struct qcow2_config *cfg, uint8_t flags)
{
	static char base[96];
	static struct xbd_backing_file chain[1];
	static const char *dirs[2];

	fixture_path(base, sizeof(base), "base.qcow2");
	chain[0] = (struct xbd_backing_file){ XBD_FORMAT_QCOW2, base };
	dirs[0] = fixture;
	switch ((flags >> 2) & 3) {
	case 1:
		cfg->backing = (struct qcow2_backing_policy){ .dirs = dirs, .raw_ok = true,
							      .trust_header_format = true };
		break;
	case 2:
		cfg->backing = (struct qcow2_backing_policy){
			.dirs = dirs, .has_dir_format = true, .dir_format = XBD_FORMAT_QCOW2 };
		break;
	case 3:
		cfg->backing = (struct qcow2_backing_policy){ .chain = chain, .chain_len = 1 };
		break;
	default:
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct memfile m = { 0 };
	struct qcow2_config cfg = { .fops = &mem_ops, .fops_ctx = &m, .log_prefix = "fuzz" };
	static char top[96];
	struct qcow2 *s = NULL;
	static uint8_t *buf;
	uint32_t x;

	if (size < 4)
		return 0;
	if (!buf) {
		xbd_log_set_level((enum xbd_log_level)0); /* hostile images log a lot: quiet */
		buf = malloc(READ_CAP);
		if (!buf || make_fixture())
			abort(); /* a fuzzer without its fixture would fuzz less than it says */
		fixture_path(top, sizeof(top), "top.qcow2");
	}
	cfg.path = top;
	backing_policy(&cfg, data[0]);
	cfg.readonly = !(data[0] & 1);
	cfg.l2_cache_bytes = data[0] & 2 ? 1 : 256 << 10; /* small: many inputs a second */
	cfg.write_through = data[0] & 0x10;
	x = (uint32_t)data[2] << 8 | data[3];
	m.size = size - 4;
	m.buf = malloc(m.size ? m.size : 1);
	if (!m.buf)
		return 0;
	memcpy(m.buf, data + 4, m.size);
	if (qcow2_open(&cfg, &s) == 0) {
		read_some(s, buf, &x);
		if (!cfg.readonly) {
			write_some(s, buf, data[1] % 32, &x);
			read_some(s, buf, &x);
		}
		qcow2_close(s);
	}
	free(m.buf);
	return 0;
}
