/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The raw driver: a disk image file or a block device, opened with O_DIRECT so the daemon's
 * writes reach the device rather than dom0's page cache. Its size and sector sizes come from
 * the kernel (BLKGETSIZE64/BLKSSZGET/BLKPBSZGET for devices, statx DIOALIGN for files), never
 * from the image's contents, which the guest controls.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xenblkd/driver.h"
#include "xenblkd/log.h"

#ifndef STATX_DIOALIGN
#define STATX_DIOALIGN 0x00002000U
#endif

static int blockdev_geometry(struct xbd_disk *d)
{
	int lss = 0;
	unsigned int pss = 0;

	if (ioctl(d->fd, BLKGETSIZE64, &d->size) < 0 || ioctl(d->fd, BLKSSZGET, &lss) < 0)
		return -errno;
	if (ioctl(d->fd, BLKPBSZGET, &pss) < 0)
		pss = (unsigned int)lss;
	d->sector_size = (uint32_t)lss;
	d->physical_sector_size = pss;
	d->mem_align = (uint32_t)lss;
	return 0;
}

/* A file's O_DIRECT alignment, from statx where the kernel reports it (6.1 does). */
static void file_geometry(struct xbd_disk *d, const struct stat *st)
{
	struct statx stx;

	d->size = (uint64_t)st->st_size;
	d->sector_size = 512;
	d->mem_align = 512;
	if (statx(d->fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 &&
	    (stx.stx_mask & STATX_DIOALIGN) && stx.stx_dio_offset_align >= 512 &&
	    stx.stx_dio_offset_align <= 4096) {
		d->sector_size = stx.stx_dio_offset_align;
		d->mem_align = stx.stx_dio_mem_align > 512 ? stx.stx_dio_mem_align : 512;
	}
	d->physical_sector_size = d->sector_size;
}

int xbd_disk_open_raw(struct xbd_disk *d, const char *path, bool readonly, const char *log_prefix)
{
	struct stat st;
	int flags = (readonly ? O_RDONLY : O_RDWR) | O_DIRECT | O_CLOEXEC;
	int r;

	memset(d, 0, sizeof(*d));
	d->fd = open(path, flags);
	if (d->fd < 0 && errno == EINVAL) {
		xbd_err(log_prefix, "%s: the filesystem refuses O_DIRECT; a buffered fallback is "
			"not implemented yet", path);
		return -EINVAL;
	}
	if (d->fd < 0 && errno == EROFS && !readonly)
		xbd_err(log_prefix, "%s: read-only filesystem but mode is writable", path);
	if (d->fd < 0)
		return -errno;
	d->readonly = readonly;
	d->direct = true;
	if (fstat(d->fd, &st) < 0) {
		r = -errno;
		goto fail;
	}
	d->is_blockdev = S_ISBLK(st.st_mode);
	if (d->is_blockdev) {
		r = blockdev_geometry(d);
		if (r < 0)
			goto fail;
	} else if (S_ISREG(st.st_mode)) {
		file_geometry(d, &st);
	} else {
		r = -EINVAL;
		goto fail;
	}
	return 0;
fail:
	close(d->fd);
	d->fd = -1;
	return r;
}

void xbd_disk_close(struct xbd_disk *d)
{
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
}
