/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target for the qcow2 driver's parsing of hostile images: the header and its
 * extensions, the snapshot table, L1/L2 and refcount tables, compressed clusters, and the
 * allocation, copy-on-write, zeroing, flush and resize paths that follow table entries. The
 * image lives in memory behind the driver's file-ops hook (no backing files are followed from
 * it), so every read past its end and every write is seen by the sanitizers; writes may grow
 * it up to a cap. Built with -fsanitize=fuzzer (clang, -Dfuzzing=true) or linked with replay.c.
 *
 * Input: byte 0 flags (bit 0 writable, bit 1 a 4-table L2 cache, else 256 KiB), byte 1 number of operations,
 * bytes 2..3 a seed for them; the rest is the image file.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct memfile m = { 0 };
	struct qcow2_config cfg = { .path = "fuzz.qcow2", .fops = &mem_ops, .fops_ctx = &m,
				    .log_prefix = "fuzz" };
	struct qcow2 *s = NULL;
	static uint8_t *buf;
	uint32_t x;

	if (size < 4)
		return 0;
	if (!buf) {
		xbd_log_set_level((enum xbd_log_level)0); /* hostile images log a lot: quiet */
		buf = malloc(READ_CAP);
		if (!buf)
			return 0;
	}
	cfg.readonly = !(data[0] & 1);
	cfg.l2_cache_bytes = data[0] & 2 ? 1 : 256 << 10; /* small: many inputs a second */
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
