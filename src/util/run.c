/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Lock files and run-directory names (see run.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "escape.h"
#include "run.h"

const char *xbd_run_dir_default(bool sim)
{
	static char buf[4096];
	const char *dir = getenv("XENBLKD_SIM_DIR");

	if (!sim || !dir || !*dir ||
	    (size_t)snprintf(buf, sizeof(buf), "%s/run", dir) >= sizeof(buf))
		return XBD_RUN_DIR_DEFAULT;
	return buf;
}

int xbd_run_file(char *buf, size_t len, const char *run_dir, const char *backend,
		 const char *suffix)
{
	char esc[256];
	int r = xbd_escape_path(backend, esc, sizeof(esc));

	if (r)
		return r;
	if ((size_t)snprintf(buf, len, "%s/%s%s", run_dir, esc, suffix) >= len)
		return -ENAMETOOLONG;
	return 0;
}

int xbd_run_mkdir(const char *dir)
{
	char tmp[4096];

	if (snprintf(tmp, sizeof(tmp), "%s", dir) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

static int ofd_lock(int fd, short type, int cmd, struct flock *fl)
{
	*fl = (struct flock){ .l_type = type, .l_whence = SEEK_SET };
	return fcntl(fd, cmd, fl) ? -errno : 0;
}

/* One attempt: 1 when the file we locked was replaced or removed meanwhile (try again). */
static int lock_once(const char *path, int *out)
{
	struct stat a, b;
	struct flock fl;
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	int r;

	if (fd < 0)
		return -errno;
	r = ofd_lock(fd, F_WRLCK, F_OFD_SETLK, &fl);
	if (r) {
		close(fd);
		return r == -EAGAIN || r == -EACCES ? -EBUSY : r;
	}
	if (fstat(fd, &a) || stat(path, &b) || a.st_ino != b.st_ino || a.st_dev != b.st_dev) {
		close(fd);
		return 1;
	}
	*out = fd;
	return 0;
}

int xbd_run_lock(const char *path, int *fd)
{
	char pid[24];
	int n, r = 1;

	for (int tries = 0; r == 1 && tries < 10; tries++)
		r = lock_once(path, fd);
	if (r)
		return r > 0 ? -EAGAIN : r;
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(*fd, 0) || pwrite(*fd, pid, (size_t)n, 0) != n) {
		r = -errno;
		close(*fd);
		return r;
	}
	return 0;
}

void xbd_run_unlock(int fd, const char *path)
{
	if (fd < 0)
		return;
	unlink(path);
	close(fd);
}

int xbd_run_lock_holder(const char *path, pid_t *pid)
{
	char buf[24] = "";
	struct flock fl;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	int r;

	if (fd < 0)
		return errno == ENOENT ? -ENOENT : -errno;
	/* F_OFD_GETLK wants a lock type we could take: a write lock conflicts with any holder. */
	r = ofd_lock(fd, F_WRLCK, F_OFD_GETLK, &fl);
	if (!r && fl.l_type == F_UNLCK)
		r = -ENOENT;
	if (!r) {
		ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

		buf[n > 0 ? n : 0] = '\0';
		*pid = (pid_t)strtol(buf, NULL, 10);
	}
	close(fd);
	return r;
}
