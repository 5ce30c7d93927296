/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The file driver: a raw disk image in a regular file, opened with O_DIRECT (image_fd.c). Its
 * size and alignment come from the kernel (fstat, statx DIOALIGN, or a probing read), never
 * from the image's contents, which the guest controls. Reads, writes and flushes go to the
 * engine; discard punches a hole, and write-zeroes uses FALLOC_FL_ZERO_RANGE where the file
 * system has it, else writes zeros. Those two are synchronous on the data thread, one bounded
 * chunk per call (range_step): the storage queue sizes fallocate chunks from how long the
 * last ones took, between 1 MiB and 1 GiB (a punch-hole of 1 GiB is file system metadata
 * work, milliseconds on ext4 and XFS even when fully allocated), and zeros written by hand are
 * at most ZERO_WRITE_MAX per call, a fraction of a second even at 10 MB/s.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "driver.h"
#include "xenblkd/log.h"

#ifndef STATX_DIOALIGN
#define STATX_DIOALIGN 0x00002000U
#endif

#define ZERO_CHUNK (64u * 1024u)
#define ZERO_WRITE_MAX (4u << 20)
#define MIB (1ull << 20)

struct file {
	void *zeros;              /* ZERO_CHUNK bytes of zeros, aligned for O_DIRECT */
	bool no_zero_range;       /* the file system refused FALLOC_FL_ZERO_RANGE once */
};

static bool is_pow2_in(uint32_t v, uint32_t lo, uint32_t hi)
{
	return v >= lo && v <= hi && (v & (v - 1)) == 0;
}

/* Try one O_DIRECT read of `len` bytes at offset 0 into a buffer aligned to `align` (and not
 * to more). 0 if it worked, -EINVAL if the alignment is refused. */
static int try_read(int fd, uint32_t len, uint32_t align)
{
	char *buf = NULL;
	ssize_t n;

	if (posix_memalign((void **)&buf, 8192, 8192 + len))
		return -ENOMEM;
	n = pread(fd, buf + align, len, 0);
	free(buf);
	return n < 0 ? -errno : 0;
}

/* Without statx DIOALIGN: find the smallest of 512 and 4096 that a real read accepts. Only a
 * file of at least 4 KiB can tell, since a read past the end checks nothing. */
static void probe_alignment(struct xbd_disk *d, uint32_t *offset_align, uint32_t *mem_align)
{
	*offset_align = 4096;
	*mem_align = 4096;
	if (d->info.size < 4096)
		return;
	if (try_read(d->fd, 512, 4096) == 0)
		*offset_align = 512;
	if (try_read(d->fd, *offset_align, 512) == 0)
		*mem_align = 512;
}

static void direct_alignment(struct xbd_disk *d)
{
	struct statx stx;
	uint32_t off_align, mem_align;

	if (statx(d->fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 &&
	    (stx.stx_mask & STATX_DIOALIGN) && stx.stx_dio_offset_align) {
		off_align = stx.stx_dio_offset_align;
		mem_align = stx.stx_dio_mem_align;
	} else {
		probe_alignment(d, &off_align, &mem_align);
		xbd_debug(d->log_prefix, "no statx DIOALIGN: probed %u/%u", off_align, mem_align);
	}
	if (off_align > d->info.sector_size)
		d->info.sector_size = off_align;
	if (mem_align > d->info.mem_align)
		d->info.mem_align = mem_align;
}

static int file_geometry(struct xbd_disk *d, const struct stat *st, bool direct)
{
	d->info.size = (uint64_t)st->st_size;
	d->info.sector_size = 512;
	d->info.mem_align = 512;
	if (direct)
		direct_alignment(d);
	if (d->cfg.sector_size > d->info.sector_size)
		d->info.sector_size = d->cfg.sector_size;
	if (!is_pow2_in(d->info.sector_size, 512, 4096) || !is_pow2_in(d->info.mem_align, 1, 4096)) {
		xbd_err(d->log_prefix, "%s: unusable alignment %u/%u", d->cfg.path,
			d->info.sector_size, d->info.mem_align);
		return -EINVAL;
	}
	d->info.physical_sector_size = d->info.sector_size;
	d->info.discard_granularity = st->st_blksize > (blksize_t)d->info.sector_size ?
				      (uint32_t)st->st_blksize : d->info.sector_size;
	return 0;
}

static void fill_features(struct xbd_disk *d, bool direct)
{
	d->info.readonly = d->cfg.readonly;
	d->info.buffered = !direct;
	d->info.can_flush = !d->cfg.no_flush;
	d->info.can_discard = !d->cfg.readonly;
	d->info.can_write_zeroes = !d->cfg.readonly;
	d->info.can_secure_erase = false; /* a file system may keep the old blocks anywhere */
	d->range_chunk[xbd_range_kind(XBD_IO_DISCARD)] =
		(struct xbd_range_chunk){ .min = MIB, .max = 1024 * MIB, .cur = 64 * MIB };
	d->range_chunk[xbd_range_kind(XBD_IO_WRITE_ZEROES)] =
		(struct xbd_range_chunk){ .min = MIB, .max = 1024 * MIB, .cur = 64 * MIB };
}

static void file_close(struct xbd_disk *d)
{
	struct file *f = d->priv;

	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
	if (f)
		free(f->zeros);
	free(f);
	d->priv = NULL;
}

static int file_open(struct xbd_disk *d)
{
	struct file *f = calloc(1, sizeof(*f));
	struct stat st;
	bool direct;
	int r;

	if (!f || posix_memalign(&f->zeros, 4096, ZERO_CHUNK)) {
		free(f);
		return -ENOMEM;
	}
	memset(f->zeros, 0, ZERO_CHUNK);
	d->priv = f;
	r = xbd_image_apply_opts(d);
	if (!r)
		r = xbd_image_open(d, d->cfg.path, d->cfg.readonly, &d->fd, &direct);
	if (!r && fstat(d->fd, &st) < 0)
		r = -errno;
	if (!r && !S_ISREG(st.st_mode)) {
		xbd_err(d->log_prefix, "%s is not a regular file", d->cfg.path);
		r = -EINVAL;
	}
	if (!r)
		r = file_geometry(d, &st, direct);
	if (r) {
		file_close(d);
		return r;
	}
	fill_features(d, direct);
	return 0;
}

static int file_refresh(struct xbd_disk *d)
{
	struct stat st;

	if (fstat(d->fd, &st) < 0)
		return -errno;
	__atomic_store_n(&d->info.size, (uint64_t)st.st_size, __ATOMIC_RELAXED);
	return 0;
}

static int write_zeros(struct xbd_disk *d, struct file *f, uint64_t off, uint64_t len)
{
	while (len > 0) {
		size_t n = len < ZERO_CHUNK ? (size_t)len : ZERO_CHUNK;
		ssize_t w = pwrite(d->fd, f->zeros, n, (off_t)off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		if (w == 0)
			return -EIO;
		off += (uint64_t)w;
		len -= (uint64_t)w;
	}
	return 0;
}

/* Zero [off, off + *len); writing zeros by hand does at most ZERO_WRITE_MAX (*len shrinks). */
static int zero_range(struct xbd_disk *d, uint64_t off, uint64_t *len)
{
	struct file *f = d->priv;
	int mode = FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;

	if (!__atomic_load_n(&f->no_zero_range, __ATOMIC_RELAXED)) {
		if (fallocate(d->fd, mode, (off_t)off, (off_t)*len) == 0)
			return 0;
		if (errno != EOPNOTSUPP)
			return -errno;
		__atomic_store_n(&f->no_zero_range, true, __ATOMIC_RELAXED);
	}
	if (*len > ZERO_WRITE_MAX)
		*len = ZERO_WRITE_MAX;
	return write_zeros(d, f, off, *len);
}

/* Discard: punch a hole, which then reads back as zeros. */
static int punch_hole(struct xbd_disk *d, uint64_t off, uint64_t len)
{
	int mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;

	if (fallocate(d->fd, mode, (off_t)off, (off_t)len) < 0)
		return -errno;
	return 0;
}

/* Without a flush to ask for it, an acknowledged discard or write-zeroes must be durable:
 * O_DSYNC covers writes, not fallocate. Once, when the last chunk is done. */
static int durable(struct xbd_disk *d, int r)
{
	if (r == 0 && d->cfg.no_flush && fdatasync(d->fd) < 0)
		return -errno;
	return r;
}

static int file_submit(struct xbd_sq *q, struct xbd_io *io)
{
	switch (io->op) {
	case XBD_IO_READ:
	case XBD_IO_WRITE:
	case XBD_IO_FLUSH:
		return xbd_sq_engine_queue(q, io);
	default:
		return -EOPNOTSUPP;
	}
}

static int64_t file_range_step(struct xbd_sq *q, const struct xbd_io *io, uint64_t off,
			       uint64_t len)
{
	struct xbd_disk *d = q->disk;
	int r;

	if (io->op == XBD_IO_DISCARD)
		r = punch_hole(d, off, len);
	else if (io->op == XBD_IO_WRITE_ZEROES)
		r = zero_range(d, off, &len);
	else
		return -EOPNOTSUPP;
	if (!r && off + len == io->offset + io->len)
		r = durable(d, r);
	return r ? r : (int64_t)len;
}

const struct xbd_driver_ops xbd_driver_file = {
	.name = "file",
	.open = file_open,
	.close = file_close,
	.refresh = file_refresh,
	.submit = file_submit,
	.range_step = file_range_step,
};
