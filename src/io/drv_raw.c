/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The raw driver: a disk image file or a block device, opened with O_DIRECT so the daemon's
 * writes reach the device rather than dom0's page cache. Its size and sector sizes come from
 * the kernel (BLKGETSIZE64/BLKSSZGET/BLKPBSZGET for devices, statx DIOALIGN for files), never
 * from the image's contents, which the guest controls. Reads, writes and flushes go to the
 * engine; discard on a file is a hole punched with fallocate.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xenblkd/driver.h"
#include "xenblkd/log.h"

#ifndef STATX_DIOALIGN
#define STATX_DIOALIGN 0x00002000U
#endif

struct raw {
	bool is_blockdev;
};

static int blockdev_geometry(struct xbd_disk *d)
{
	int lss = 0;
	unsigned int pss = 0;

	if (ioctl(d->fd, BLKGETSIZE64, &d->info.size) < 0 || ioctl(d->fd, BLKSSZGET, &lss) < 0)
		return -errno;
	if (ioctl(d->fd, BLKPBSZGET, &pss) < 0)
		pss = (unsigned int)lss;
	d->info.sector_size = (uint32_t)lss;
	d->info.physical_sector_size = pss;
	d->info.mem_align = (uint32_t)lss;
	return 0;
}

/* A file's O_DIRECT alignment, from statx where the kernel reports it (6.1 does). */
static void file_geometry(struct xbd_disk *d, const struct stat *st)
{
	struct statx stx;

	d->info.size = (uint64_t)st->st_size;
	d->info.sector_size = 512;
	d->info.mem_align = 512;
	if (statx(d->fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 &&
	    (stx.stx_mask & STATX_DIOALIGN) && stx.stx_dio_offset_align >= 512 &&
	    stx.stx_dio_offset_align <= 4096) {
		d->info.sector_size = stx.stx_dio_offset_align;
		d->info.mem_align = stx.stx_dio_mem_align > 512 ? stx.stx_dio_mem_align : 512;
	}
	if (d->cfg.sector_size > d->info.sector_size)
		d->info.sector_size = d->cfg.sector_size;
	d->info.physical_sector_size = d->info.sector_size;
	d->info.can_discard = true;
	d->info.discard_granularity = st->st_blksize > 0 ? (uint32_t)st->st_blksize : 4096;
}

static int raw_open(struct xbd_disk *d)
{
	struct raw *raw = calloc(1, sizeof(*raw));
	struct stat st;
	int flags = (d->cfg.readonly ? O_RDONLY : O_RDWR) | O_DIRECT | O_CLOEXEC;
	int r;

	if (!raw)
		return -ENOMEM;
	d->priv = raw;
	d->fd = open(d->cfg.path, flags);
	if (d->fd < 0 && errno == EINVAL)
		xbd_err(d->log_prefix, "%s: the filesystem refuses O_DIRECT; a buffered fallback "
			"is not implemented yet", d->cfg.path);
	if (d->fd < 0) {
		r = -errno;
		goto fail;
	}
	d->info.readonly = d->cfg.readonly;
	d->info.can_flush = true;
	if (fstat(d->fd, &st) < 0) {
		r = -errno;
		goto fail;
	}
	raw->is_blockdev = S_ISBLK(st.st_mode);
	if (raw->is_blockdev) {
		r = blockdev_geometry(d);
	} else if (S_ISREG(st.st_mode)) {
		file_geometry(d, &st);
		r = 0;
	} else {
		r = -EINVAL;
	}
	if (!r)
		return 0;
fail:
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
	free(raw);
	d->priv = NULL;
	return r;
}

static void raw_close(struct xbd_disk *d)
{
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
	free(d->priv);
	d->priv = NULL;
}

static int raw_refresh(struct xbd_disk *d)
{
	struct stat st;

	if (((struct raw *)d->priv)->is_blockdev)
		return ioctl(d->fd, BLKGETSIZE64, &d->info.size) < 0 ? -errno : 0;
	if (fstat(d->fd, &st) < 0)
		return -errno;
	d->info.size = (uint64_t)st.st_size;
	return 0;
}

/* Discard on a file: punch a hole, which then reads back as zeros. Synchronous. */
static int punch_hole(struct xbd_disk *d, const struct xbd_io *io)
{
	int mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;

	if (fallocate(d->fd, mode, (off_t)io->offset, (off_t)io->len) < 0)
		return -errno;
	return 0;
}

static int raw_submit(struct xbd_sq *q, struct xbd_io *io)
{
	struct xbd_disk *d = q->disk;

	switch (io->op) {
	case XBD_IO_READ:
	case XBD_IO_WRITE:
	case XBD_IO_FLUSH:
		return xbd_sq_engine_queue(q, io);
	case XBD_IO_DISCARD:
		if (((struct raw *)d->priv)->is_blockdev)
			return -EOPNOTSUPP;
		xbd_sq_complete(q, io, punch_hole(d, io));
		return 0;
	default:
		return -EOPNOTSUPP;
	}
}

const struct xbd_driver_ops xbd_driver_raw = {
	.name = "raw",
	.open = raw_open,
	.close = raw_close,
	.refresh = raw_refresh,
	.submit = raw_submit,
};
