/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The block device driver: a raw disk on a dom0 block device (a partition, an LV, a loop
 * device), opened with O_DIRECT and, when writable, O_EXCL (image_fd.c). Size and sector sizes
 * come from BLKGETSIZE64/BLKSSZGET/BLKPBSZGET, discard limits from the queue's sysfs
 * attributes, and secure erase from a harmless BLKSECDISCARD probe, because sysfs does not say.
 * Reads, writes and flushes go to the engine; discard, secure erase and write-zeroes are the
 * synchronous ioctls BLKDISCARD, BLKSECDISCARD and BLKZEROOUT on the data thread, one bounded
 * chunk per call (range_step), which the storage queue sizes from how long the last calls
 * took. The bounds are smaller than a file's: a device does this work itself, and BLKZEROOUT
 * without write-zeroes offload writes real zeros, so its ceiling is 16 MiB (under a second
 * even at 20 MB/s); discard starts at 16 MiB and may grow to 256 MiB, secure erase to 64 MiB.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "driver.h"
#include "xenblkd/log.h"

#ifndef STATX_DIOALIGN
#define STATX_DIOALIGN 0x00002000U
#endif

#define MIB (1ull << 20)

/* A number from the device's sysfs queue directory (a partition's is its disk's). */
static uint64_t queue_attr(dev_t dev, const char *name)
{
	static const char *const fmts[] = { "/sys/dev/block/%u:%u/queue/%s",
					     "/sys/dev/block/%u:%u/../queue/%s",
					     "/sys/dev/block/%u:%u/%s" };
	unsigned long long v = 0;
	char path[128];

	for (unsigned int i = 0; i < 3; i++) {
		FILE *f;

		snprintf(path, sizeof(path), fmts[i], major(dev), minor(dev), name);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (fscanf(f, "%llu", &v) != 1)
			v = 0;
		fclose(f);
		break;
	}
	return v;
}

/* A range the kernel refuses for its alignment (EINVAL) only after it has checked that the
 * device can secure-erase at all (EOPNOTSUPP); Linux 6.1's order. Nothing is erased. */
static bool probe_secure_erase(int fd)
{
	uint64_t range[2] = { 1, 512 };

	return ioctl(fd, BLKSECDISCARD, range) < 0 && errno == EINVAL;
}

static int sizes(struct xbd_disk *d)
{
	int lss = 0;
	unsigned int pss = 0;
	struct statx stx;

	if (ioctl(d->fd, BLKGETSIZE64, &d->info.size) < 0 || ioctl(d->fd, BLKSSZGET, &lss) < 0)
		return -errno;
	if (ioctl(d->fd, BLKPBSZGET, &pss) < 0 || pss < (unsigned int)lss)
		pss = (unsigned int)lss;
	d->info.sector_size = (uint32_t)lss;
	d->info.physical_sector_size = pss;
	d->info.mem_align = (uint32_t)lss;
	if (statx(d->fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 &&
	    (stx.stx_mask & STATX_DIOALIGN) && stx.stx_dio_mem_align >= 1 &&
	    stx.stx_dio_mem_align <= (uint32_t)lss)
		d->info.mem_align = stx.stx_dio_mem_align;
	if (d->cfg.sector_size > d->info.sector_size && d->cfg.sector_size <= 4096)
		d->info.sector_size = d->cfg.sector_size;
	if (d->info.physical_sector_size < d->info.sector_size)
		d->info.physical_sector_size = d->info.sector_size;
	return 0;
}

static void features(struct xbd_disk *d, dev_t dev, bool direct)
{
	bool rw = !d->cfg.readonly;
	uint64_t gran = queue_attr(dev, "discard_granularity");

	d->info.readonly = d->cfg.readonly;
	d->info.buffered = !direct;
	d->info.can_flush = !d->cfg.no_flush;
	d->info.can_discard = rw && queue_attr(dev, "discard_max_bytes") > 0;
	d->info.discard_granularity = gran && gran <= UINT32_MAX ? (uint32_t)gran :
				      d->info.physical_sector_size;
	d->info.discard_alignment = (uint32_t)queue_attr(dev, "discard_alignment");
	d->info.can_secure_erase = rw && probe_secure_erase(d->fd);
	/* BLKZEROOUT always works: without write_zeroes_max_bytes the kernel writes zeros. */
	d->info.can_write_zeroes = rw;
	d->range_chunk[xbd_range_kind(XBD_IO_DISCARD)] =
		(struct xbd_range_chunk){ .min = MIB, .max = 256 * MIB, .cur = 16 * MIB };
	d->range_chunk[xbd_range_kind(XBD_IO_SECURE_ERASE)] =
		(struct xbd_range_chunk){ .min = MIB, .max = 64 * MIB, .cur = 4 * MIB };
	d->range_chunk[xbd_range_kind(XBD_IO_WRITE_ZEROES)] =
		(struct xbd_range_chunk){ .min = MIB, .max = 16 * MIB, .cur = 4 * MIB };
}

/* A writable open of a read-only device fails (EROFS, EACCES, EPERM): say why. */
static void explain_readonly(struct xbd_disk *d)
{
	int fd = open(d->cfg.path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	int ro = 0;

	if (fd >= 0 && ioctl(fd, BLKROGET, &ro) == 0 && ro)
		xbd_err(d->log_prefix, "%s is a read-only device; it can only be served "
			"read-only (mode r)", d->cfg.path);
	if (fd >= 0)
		close(fd);
}

static int check_device(struct xbd_disk *d, struct stat *st)
{
	int ro = 0;

	if (fstat(d->fd, st) < 0)
		return -errno;
	if (!S_ISBLK(st->st_mode)) {
		xbd_err(d->log_prefix, "%s is not a block device", d->cfg.path);
		return -EINVAL;
	}
	if (!d->cfg.readonly && ioctl(d->fd, BLKROGET, &ro) == 0 && ro) {
		xbd_err(d->log_prefix, "%s is a read-only device; it can only be served "
			"read-only (mode r)", d->cfg.path);
		return -EROFS;
	}
	return 0;
}

static void blockdev_close(struct xbd_disk *d)
{
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
}

static int blockdev_open(struct xbd_disk *d)
{
	struct stat st;
	bool direct;
	int r = xbd_image_apply_opts(d);

	if (!r)
		r = xbd_image_open(d, d->cfg.path, d->cfg.readonly, &d->fd, &direct);
	if (r) {
		if (!d->cfg.readonly && (r == -EROFS || r == -EACCES || r == -EPERM))
			explain_readonly(d);
		return r;
	}
	r = check_device(d, &st);
	if (!r)
		r = sizes(d);
	if (r) {
		blockdev_close(d);
		return r;
	}
	features(d, st.st_rdev, direct);
	return 0;
}

static int blockdev_refresh(struct xbd_disk *d)
{
	uint64_t size;

	if (ioctl(d->fd, BLKGETSIZE64, &size) < 0)
		return -errno;
	__atomic_store_n(&d->info.size, size, __ATOMIC_RELAXED);
	return 0;
}

static int range_ioctl(struct xbd_disk *d, unsigned long req, uint64_t off, uint64_t len,
		       bool last)
{
	uint64_t range[2] = { off, len };

	if (ioctl(d->fd, req, range) < 0)
		return -errno;
	/* Without a flush to ask for it, what is acknowledged must already be durable. */
	if (last && d->cfg.no_flush && fdatasync(d->fd) < 0)
		return -errno;
	return 0;
}

static int blockdev_submit(struct xbd_sq *q, struct xbd_io *io)
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

static int64_t blockdev_range_step(struct xbd_sq *q, const struct xbd_io *io, uint64_t off,
				   uint64_t len)
{
	struct xbd_disk *d = q->disk;
	bool last = off + len == io->offset + io->len;
	unsigned long req;
	int r;

	if (io->op == XBD_IO_DISCARD && d->info.can_discard)
		req = BLKDISCARD;
	else if (io->op == XBD_IO_SECURE_ERASE && d->info.can_secure_erase)
		req = BLKSECDISCARD;
	else if (io->op == XBD_IO_WRITE_ZEROES)
		req = BLKZEROOUT;
	else
		return -EOPNOTSUPP;
	r = range_ioctl(d, req, off, len, last);
	return r ? r : (int64_t)len;
}

const struct xbd_driver_ops xbd_driver_blockdev = {
	.name = "blockdev",
	.open = blockdev_open,
	.close = blockdev_close,
	.refresh = blockdev_refresh,
	.submit = blockdev_submit,
	.range_step = blockdev_range_step,
};
