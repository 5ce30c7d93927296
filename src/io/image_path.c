/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Opening an image file without side effects. open(2) of a character device runs its driver's
 * open (even O_NONBLOCK arms /dev/watchdog), and open of a FIFO without a writer blocks, so a
 * name is first resolved with O_PATH only, which opens nothing; fstat then says what it is,
 * anything but a regular file (or a block device, where the caller allows one) is refused, and
 * only then is the very inode the O_PATH descriptor holds opened for I/O, through
 * /proc/self/fd/N, never by name again. A name an image chose (a qcow2 backing file) is
 * resolved with openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS) from a directory's
 * descriptor, so neither "..", an absolute symlink nor a /proc magic link can leave it.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "driver.h"

#define BENEATH_RETRIES 16 /* openat2 gives EAGAIN when a rename races a ".." walk */

int xbd_path_open(int dirfd, const char *name, bool beneath)
{
	int fd;

	if (!beneath) {
		fd = openat(dirfd, name, O_PATH | O_CLOEXEC);
		return fd < 0 ? -errno : fd;
	}
	for (int i = 0; i < BENEATH_RETRIES; i++) {
		struct open_how how = {
			.flags = O_PATH | O_CLOEXEC,
			.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
		};

		fd = (int)syscall(SYS_openat2, dirfd, name, &how, sizeof(how));
		if (fd >= 0 || errno != EAGAIN)
			break;
	}
	return fd < 0 ? -errno : fd;
}

const char *xbd_file_type_name(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: return "a regular file";
	case S_IFBLK: return "a block device";
	case S_IFCHR: return "a character device";
	case S_IFIFO: return "a FIFO";
	case S_IFSOCK: return "a socket";
	case S_IFDIR: return "a directory";
	case S_IFLNK: return "a symbolic link";
	default: return "of an unknown type";
	}
}

int xbd_path_check_type(int pathfd, bool block_ok, struct stat *st)
{
	if (fstat(pathfd, st) < 0)
		return -errno;
	if (S_ISREG(st->st_mode) || (block_ok && S_ISBLK(st->st_mode)))
		return 0;
	return S_ISDIR(st->st_mode) ? -EISDIR : -EINVAL;
}

int xbd_path_reopen(int pathfd, int flags)
{
	char proc[32];
	int fd;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pathfd);
	/* O_NOFOLLOW would stop at the magic link itself; O_CREAT must never apply here. */
	fd = open(proc, (flags & ~(O_CREAT | O_NOFOLLOW | O_PATH)) | O_CLOEXEC | O_NOCTTY);
	return fd < 0 ? -errno : fd;
}
