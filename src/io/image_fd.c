/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Opening an image file or block device the way a disk's configuration asks, for every driver
 * that works on a descriptor (file, blockdev, and image formats for their files). O_DIRECT
 * keeps guest data out of dom0's page cache, so it is the default; a file system that refuses
 * it (EINVAL at open) gets buffered I/O, with a log line, and then a flush must fdatasync.
 * When the disk offers no flush, O_DSYNC makes each write durable by the time it completes.
 * The driver spec may say so too: "raw:direct=off,flush=off,lock=off". The path is resolved
 * without side effects first (image_path.c): nothing but a file or block device is opened.
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
static int open_flags(const struct xbd_disk *d, const struct stat *st, bool readonly,
		      bool direct)
{
	int flags = readonly ? O_RDONLY : O_RDWR;

	if (!readonly && S_ISBLK(st->st_mode))
		flags |= O_EXCL;
	if (direct)
		flags |= O_DIRECT;
	if (d->cfg.no_flush && !readonly)
		flags |= O_DSYNC;
	return flags;
}

static int open_failed(struct xbd_disk *d, const char *path, bool readonly, int r)
{
	xbd_err(d->log_prefix, "cannot open %s%s: %s%s", path, readonly ? " read-only" : "",
		strerror(-r), r == -EBUSY ? " (mounted, or claimed by another exclusive user)" :
		r == -ENOENT ? " (is /proc mounted?)" : "");
	return r;
}

static int open_direct_or_buffered(struct xbd_disk *d, int pathfd, const struct stat *st,
				   const char *path, bool readonly, bool *direct)
{
	int fd;

	*direct = !d->cfg.no_direct;
	fd = xbd_path_reopen(pathfd, open_flags(d, st, readonly, *direct));
	if (fd == -EINVAL && *direct) {
		xbd_info(d->log_prefix, "%s: the file system refuses O_DIRECT; serving it through "
			 "the page cache, with fdatasync for flushes", path);
		*direct = false;
		fd = xbd_path_reopen(pathfd, open_flags(d, st, readonly, false));
	}
	if (fd < 0)
		return open_failed(d, path, readonly, fd);
	if (!*direct && d->cfg.no_direct)
		xbd_info(d->log_prefix, "%s: served through the page cache, as configured", path);
	return fd;
}

/*
 * Only files and block devices hold images. The name is resolved with O_PATH, which opens
 * nothing, so a FIFO or a character device is refused before anything could block on it or
 * run its driver (image_path.c); the descriptor for I/O is then opened on that same inode.
 */
static int open_checked(struct xbd_disk *d, const char *path, bool readonly, bool *direct)
{
	struct stat st;
	int fd, pathfd = xbd_path_open(AT_FDCWD, path, false);

	if (pathfd < 0) {
		xbd_err(d->log_prefix, "cannot open %s: %s", path, strerror(-pathfd));
		return pathfd;
	}
	fd = xbd_path_check_type(pathfd, true, &st);
	if (fd == -EINVAL || fd == -EISDIR)
		xbd_err(d->log_prefix, "%s is %s, neither a regular file nor a block device",
			path, xbd_file_type_name(st.st_mode));
	else if (fd < 0)
		xbd_err(d->log_prefix, "cannot stat %s: %s", path, strerror(-fd));
	else
		fd = open_direct_or_buffered(d, pathfd, &st, path, readonly, direct);
	close(pathfd);
	return fd;
}

int xbd_image_open(struct xbd_disk *d, const char *path, bool readonly, int *fd, bool *direct)
{
	int r = 0, f = open_checked(d, path, readonly, direct);

	if (f < 0)
		return f;
	if (!d->cfg.no_lock)
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
