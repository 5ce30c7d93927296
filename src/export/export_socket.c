/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Where the export listens: a directory that only its owner (root) may enter, and Unix
 * sockets in it that only the owner may connect to. The directory's mode is what keeps
 * others out (a socket is 0777 minus the umask from bind() until its chmod), so a directory
 * that exists already must be a real directory of ours, and is set to 0700 if it is not.
 * Sockets are always filesystem paths, never the abstract namespace, whose names anyone on
 * the host may connect to.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "export_internal.h"

static int own_private_dir(const char *dir)
{
	struct stat st;

	if (lstat(dir, &st))
		return -errno;
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid())
		return -EPERM;
	if ((st.st_mode & 07777) != 0700 && chmod(dir, 0700))
		return -errno;
	return 0;
}

int xbd_export_dir(const char *dir)
{
	char tmp[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *slash;

	if (dir[0] != '/' || snprintf(tmp, sizeof(tmp), "%s", dir) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	/* The parent (the run directory) is private too: contract C of docs/admin.md. */
	slash = strrchr(tmp, '/');
	if (slash && slash != tmp) {
		*slash = '\0';
		if (mkdir(tmp, 0700) && errno != EEXIST)
			return -errno;
		if (own_private_dir(tmp))
			return -EPERM;
	}
	if (mkdir(dir, 0700) && errno != EEXIST)
		return -errno;
	return own_private_dir(dir);
}

int xbd_export_listen(const char *path, int *fd)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int s;

	if (!path[0] || strlen(path) >= sizeof(a.sun_path))
		return -ENAMETOOLONG;
	memcpy(a.sun_path, path, strlen(path) + 1);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s < 0)
		return -errno;
	/* A socket left by a daemon that crashed: we hold the VBD's lock, the name is ours. */
	if (unlink(path) && errno != ENOENT)
		goto fail;
	if (bind(s, (struct sockaddr *)&a, sizeof(a)) || chmod(path, 0600) || listen(s, 8))
		goto fail;
	*fd = s;
	return 0;
fail:;
	int r = -errno;

	close(s);
	unlink(path);
	return r;
}
