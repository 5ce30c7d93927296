/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Where the rbd driver's cephx key comes from, and the check that it is kept secret: a
 * keyring file owned by root that nobody else may read (0600 or stricter), never a key=
 * in the target (which travels through xenstore). systemd's LoadCredential=ceph-keyring:PATH
 * puts a copy in $CREDENTIALS_DIRECTORY, readable only by the service, which is preferred
 * when the target names no keyring. The file is opened with O_NOFOLLOW and checked on its
 * descriptor, so the checked file is the one whose path librados is then given.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rbd_int.h"
#include "xenblkd/log.h"

int xbd_rbd_keyring_check_stat(const struct stat *st)
{
	if (!S_ISREG(st->st_mode))
		return -EINVAL;
	if (st->st_uid != 0 || (st->st_mode & 077))
		return -EPERM;
	return 0;
}

static int check_file(const char *path, const char *log_prefix)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	int r;

	if (fd < 0) {
		r = -errno;
		xbd_err(log_prefix, "rbd keyring %s: %s", path, strerror(-r));
		return r;
	}
	r = fstat(fd, &st) ? -errno : xbd_rbd_keyring_check_stat(&st);
	close(fd);
	if (r == -EPERM)
		xbd_err(log_prefix, "rbd keyring %s is owned by uid %u with mode %04o: it must be "
			"owned by root with mode 0600 (chown root: %s; chmod 0600 %s)", path,
			(unsigned int)st.st_uid, (unsigned int)(st.st_mode & 07777), path, path);
	else if (r)
		xbd_err(log_prefix, "rbd keyring %s is not a regular file", path);
	return r;
}

int xbd_rbd_keyring_find(const struct xbd_rbd_target *t, char *out, size_t len,
			 const char *log_prefix)
{
	const char *creds = getenv("CREDENTIALS_DIRECTORY");
	int n;

	if (t->keyring[0])
		n = snprintf(out, len, "%s", t->keyring);
	else if (creds && creds[0] == '/' &&
		 (snprintf(out, len, "%s/ceph-keyring", creds), access(out, F_OK) == 0))
		n = (int)strlen(out);
	else
		n = snprintf(out, len, "/etc/ceph/ceph.client.%s.keyring",
			     t->id[0] ? t->id : "admin");
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return check_file(out, log_prefix);
}
