/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * How the qcow2 driver reaches its image file for metadata and synchronous data: through a
 * small ops table, POSIX pread/pwrite/fdatasync on a buffered descriptor by default, so that a
 * test can put a power-cut simulator underneath and check the crash-safe ordering. Also the
 * big-endian accessors: every number in a qcow2 file is big-endian.
 */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <string.h>
#include <unistd.h>

#include "xenblkd/log.h"
#include "qcow2.h"

static ssize_t posix_pread(void *ctx, void *buf, size_t len, uint64_t off)
{
	return pread((int)(intptr_t)ctx, buf, len, (off_t)off);
}

static ssize_t posix_pwrite(void *ctx, const void *buf, size_t len, uint64_t off)
{
	return pwrite((int)(intptr_t)ctx, buf, len, (off_t)off);
}

static int posix_sync(void *ctx)
{
	return fdatasync((int)(intptr_t)ctx) < 0 ? -errno : 0;
}

static int posix_punch(void *ctx, uint64_t off, uint64_t len)
{
	int mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;

	return fallocate((int)(intptr_t)ctx, mode, (off_t)off, (off_t)len) < 0 ? -errno : 0;
}

const struct qcow2_file_ops qcow2_posix_ops = {
	.pread = posix_pread,
	.pwrite = posix_pwrite,
	.sync = posix_sync,
	.punch = posix_punch,
};

/* Read len bytes at off through ops; what lies past the end of the file reads as zeros. */
static int read_all(const struct qcow2_file_ops *ops, void *ctx, void *buf, size_t len,
		    uint64_t off)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = ops->pread(ctx, p, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0) {
			memset(p, 0, len);
			return 0;
		}
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* Write len bytes at off through ops, and note how far the file now reaches. */
static int write_all(struct qcow2 *s, const struct qcow2_file_ops *ops, void *ctx,
		     const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;
	uint64_t end = off + len;

	if (!s->writable)
		return -EROFS;
	while (len > 0) {
		ssize_t n = ops->pwrite(ctx, p, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	if (end > s->file_size)
		s->file_size = end;
	return 0;
}

int qcow2_pread(struct qcow2 *s, void *buf, size_t len, uint64_t off)
{
	return read_all(s->fops, s->fops_ctx, buf, len, off);
}

/*
 * Report an inconsistency the image contains and return -EIO for the I/O that met it. A guest
 * can make us meet it again and again, so the messages go through a rate limiter (every
 * caller holds s->lock, which also serialises the limiter).
 */
int qcow2_corrupt(struct qcow2 *s, const char *what, uint64_t value)
{
	xbd_log_guest(&s->corrupt_rl, XBD_LOG_ERR, s->prefix, "qcow2 image corrupt: %s (0x%"
		      PRIx64 ")", what, value);
	return -EIO;
}

/* Read metadata that must lie wholly inside the file: past the end is -EIO, not zeros. */
int qcow2_pread_meta(struct qcow2 *s, void *buf, size_t len, uint64_t off)
{
	if (off > s->file_size || len > s->file_size - off)
		return qcow2_corrupt(s, "metadata past the end of the file", off);
	return qcow2_pread(s, buf, len, off);
}

int qcow2_pwrite(struct qcow2 *s, const void *buf, size_t len, uint64_t off)
{
	return write_all(s, s->fops, s->fops_ctx, buf, len, off);
}

/*
 * Guest data goes through the engine's descriptor, which may be O_DIRECT. Mixing buffered and
 * direct I/O on the same pages makes the kernel fail direct writes (seen as -EIO with
 * io_uring and libaio), so data clusters are only ever touched through that descriptor, with
 * sector-aligned offsets, lengths and buffers, and metadata only through the buffered one; the
 * driver keeps O_DIRECT only when clusters are at least a page, so no page holds both.
 */
int qcow2_data_pread(struct qcow2 *s, void *buf, size_t len, uint64_t off)
{
	if (s->data_fd < 0)
		return qcow2_pread(s, buf, len, off);
	return read_all(&qcow2_posix_ops, (void *)(intptr_t)s->data_fd, buf, len, off);
}

int qcow2_data_pwrite(struct qcow2 *s, const void *buf, size_t len, uint64_t off)
{
	if (s->data_fd < 0)
		return qcow2_pwrite(s, buf, len, off);
	return write_all(s, &qcow2_posix_ops, (void *)(intptr_t)s->data_fd, buf, len, off);
}

int qcow2_sync(struct qcow2 *s)
{
	if (!s->writable)
		return 0;
	return s->fops->sync(s->fops_ctx);
}

/* Give a freed cluster's space back to the filesystem; a failure only costs space. */
void qcow2_punch(struct qcow2 *s, uint64_t off, uint64_t len)
{
	if (s->writable && s->fops->punch && off < s->file_size)
		(void)s->fops->punch(s->fops_ctx, off, len);
}

uint64_t qcow2_be64(const void *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return be64toh(v);
}

uint32_t qcow2_be32(const void *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return be32toh(v);
}

uint16_t qcow2_be16(const void *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return be16toh(v);
}

void qcow2_put_be64(void *p, uint64_t v)
{
	v = htobe64(v);
	memcpy(p, &v, sizeof(v));
}

void qcow2_put_be32(void *p, uint32_t v)
{
	v = htobe32(v);
	memcpy(p, &v, sizeof(v));
}
