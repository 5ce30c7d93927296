/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Opening an image file or block device the way a disk's configuration asks, for every driver
 * that works on a descriptor (file, blockdev, and image formats for their files). O_DIRECT
 * keeps guest data out of dom0's page cache, so it is the default; a file system that refuses
 * it (EINVAL at open) gets buffered I/O, with a log line, and then a flush must fdatasync.
 * When the disk offers no flush, O_DSYNC makes each write durable by the time it completes.
 * The driver spec may say so too: "raw:direct=off,flush=off,lock=off".
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "driver.h"
#include "xenblkd/log.h"

/* A writable block device is also claimed with O_EXCL, which the kernel grants only while the
 * device is not mounted or claimed by another exclusive opener (LVM, md, another backend). */
static int open_flags(const struct xbd_disk *d, const char *path, bool readonly, bool direct)
{
	int flags = (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
	struct stat st;

	if (!readonly && stat(path, &st) == 0 && S_ISBLK(st.st_mode))
		flags |= O_EXCL;

	if (direct)
		flags |= O_DIRECT;
	if (d->cfg.no_flush && !readonly)
		flags |= O_DSYNC;
	return flags;
}

/* O_NONBLOCK only keeps a FIFO or a device from blocking the open; take it off again. */
static int clear_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

static int open_direct_or_buffered(struct xbd_disk *d, const char *path, bool readonly,
				   bool *direct)
{
	int fd;

	*direct = !d->cfg.no_direct;
	fd = open(path, open_flags(d, path, readonly, *direct));
	if (fd < 0 && errno == EINVAL && *direct) {
		xbd_info(d->log_prefix, "%s: the file system refuses O_DIRECT; serving it through "
			 "the page cache, with fdatasync for flushes", path);
		*direct = false;
		fd = open(path, open_flags(d, path, readonly, false));
	}
	if (fd < 0) {
		int r = -errno;

		xbd_err(d->log_prefix, "cannot open %s%s: %s%s", path,
			readonly ? " read-only" : "", strerror(-r),
			r == -EBUSY ? " (mounted, or claimed by another exclusive user)" : "");
		return r;
	}
	if (!*direct && d->cfg.no_direct)
		xbd_info(d->log_prefix, "%s: served through the page cache, as configured", path);
	return fd;
}

/* Only files and block devices hold images; anything else is refused before it is locked. */
static int check_type(struct xbd_disk *d, int fd, const char *path)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))
		return 0;
	xbd_err(d->log_prefix, "%s is neither a regular file nor a block device", path);
	return -EINVAL;
}

int xbd_image_open(struct xbd_disk *d, const char *path, bool readonly, int *fd, bool *direct)
{
	int r, f = open_direct_or_buffered(d, path, readonly, direct);

	if (f < 0)
		return f;
	r = clear_nonblock(f);
	if (!r)
		r = check_type(d, f, path);
	if (!r && !d->cfg.no_lock)
		r = xbd_image_lock(f, readonly, path, d->log_prefix);
	if (r) {
		close(f);
		return r;
	}
	*fd = f;
	return 0;
}

int xbd_image_apply_opts(struct xbd_disk *d)
{
	static const char *const known[] = { "direct", "flush", "lock", NULL };
	static const char *const keys[] = { "direct", "flush", "lock" };
	bool *no[] = { &d->cfg.no_direct, &d->cfg.no_flush, &d->cfg.no_lock };
	int r = xbd_opts_check(d->opts, known, d->log_prefix);

	for (unsigned int i = 0; i < 3 && !r; i++) {
		bool on;

		r = xbd_opts_get_bool(d->opts, keys[i], &on);
		if (r == 0 && !on)
			*no[i] = true;
		if (r == -ENOENT)
			r = 0;
		else if (r)
			xbd_err(d->log_prefix, "driver option %s: say on or off", keys[i]);
	}
	return r;
}
