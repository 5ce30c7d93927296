/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lock=exclusive (docs/storage.md): the image's exclusive lock taken at open and held until
 * close, never handed over. A daemon killed with the lock leaves it to a dead owner; its
 * successor for the same VBD breaks it (rbd_lock_break, which blocklists the dead client) but
 * only that one: at acquisition the daemon records its pid and its lock owner string (as
 * rbd_lock_get_owners names it, e.g. "client.4123") in <run_dir>/rbd/<escaped backend
 * path>.owner, mode 0600 in a 0700 directory, opened without following links. At start the
 * lock is broken only when its owner equals that record and the recorded pid is gone; the
 * daemon also holds the VBD's run lock (util/run.h), which its predecessor held until it died.
 * Any other owner is refused, by name. Control thread: every call here may block on the
 * cluster (bounded by its I/O timeout, except the race noted at take_lock()).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rbd_int.h"
#include "util/run.h"
#include "xenblkd/log.h"

#define OWNER_MAX 256
#define STATE_SUFFIX ".owner"

/* The image's current lock owner into out ("" when unlocked). 0 or -errno. */
static int current_owner(rbd_image_t image, char *out, size_t len)
{
	char *owners[8];
	size_t n = sizeof(owners) / sizeof(owners[0]);
	rbd_lock_mode_t mode;
	int r = rbd_lock_get_owners(image, &mode, owners, &n);

	out[0] = '\0';
	if (r == -ENOENT)
		return 0;
	if (r)
		return r;
	if (n > 0)
		snprintf(out, len, "%s", owners[0]);
	rbd_lock_get_owners_cleanup(owners, n);
	return 0;
}

/* <run_dir>/rbd opened as a directory (created 0700, never through a link), or -errno. */
static int state_dir(const struct xbd_disk *d)
{
	char dir[4096];
	struct stat st;
	int fd = xbd_run_mkdir(d->cfg.run_dir);

	if (fd)
		return fd;
	if (snprintf(dir, sizeof(dir), "%s/rbd", d->cfg.run_dir) >= (int)sizeof(dir))
		return -ENAMETOOLONG;
	if (mkdir(dir, 0700) && errno != EEXIST)
		return -errno;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || st.st_uid != geteuid() || (st.st_mode & 077)) {
		close(fd);
		return -EPERM;
	}
	return fd;
}

/* The state file's name in that directory. 0 or -ENAMETOOLONG (or -EINVAL: no VBD). */
static int state_name(const struct xbd_disk *d, char *out, size_t len)
{
	if (!d->cfg.run_dir || !d->cfg.backend_path)
		return -EINVAL;
	return xbd_run_file(out, len, ".", d->cfg.backend_path, STATE_SUFFIX);
}

/* The recorded predecessor: its pid and owner string. 0, or -errno (-ENOENT: none). */
static int read_state(const struct xbd_disk *d, pid_t *pid, char *owner, size_t len)
{
	char name[512], buf[OWNER_MAX + 32], *nl;
	int dfd, fd, r = state_name(d, name, sizeof(name));
	ssize_t n;

	if (r)
		return r;
	dfd = state_dir(d);
	if (dfd < 0)
		return dfd;
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	close(dfd);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -ENOENT;
	buf[n] = '\0';
	*pid = (pid_t)strtol(buf, &nl, 10);
	if (*pid <= 0 || *nl != '\n' || !strchr(nl + 1, '\n'))
		return -EINVAL;
	*strchr(nl + 1, '\n') = '\0';
	snprintf(owner, len, "%s", nl + 1);
	return 0;
}

/* Record our pid and lock owner string, replacing the predecessor's record. */
static int write_state(const struct xbd_disk *d, const char *owner)
{
	char name[512], buf[OWNER_MAX + 32];
	int dfd, fd, n, r = state_name(d, name, sizeof(name));

	if (r)
		return r;
	dfd = state_dir(d);
	if (dfd < 0)
		return dfd;
	fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	close(dfd);
	if (fd < 0)
		return -errno;
	n = snprintf(buf, sizeof(buf), "%ld\n%s\n", (long)getpid(), owner);
	r = fchmod(fd, 0600) || write(fd, buf, (size_t)n) != n ? -EIO : 0;
	close(fd);
	return r;
}

void xbd_rbd_lock_forget(const struct xbd_disk *d)
{
	char name[512];
	int dfd;

	if (state_name(d, name, sizeof(name)))
		return;
	dfd = state_dir(d);
	if (dfd < 0)
		return;
	unlinkat(dfd, name, 0);
	close(dfd);
}

/* Is `owner` this VBD's dead predecessor? Only on its own record, with its pid gone. */
static bool own_dead_predecessor(const struct xbd_disk *d, const char *owner)
{
	char recorded[OWNER_MAX];
	pid_t pid = 0;

	if (read_state(d, &pid, recorded, sizeof(recorded)) || strcmp(recorded, owner))
		return false;
	return pid != getpid() && kill(pid, 0) && errno == ESRCH;
}

/* Break the lock held by `owner` when it is our own dead predecessor, else refuse. */
static int clear_owner(struct xbd_disk *d, struct xbd_rbd_disk *rd, const char *owner)
{
	int r;

	if (!own_dead_predecessor(d, owner)) {
		xbd_err(d->log_prefix, "rbd: lock=exclusive: image %s/%s is locked by %.*s, "
			"which is not this VBD's own dead predecessor: refused (remove that lock "
			"with `rbd lock rm` only once that client is known dead)", rd->t.pool,
			rd->t.image, OWNER_MAX, owner);
		return -EBUSY;
	}
	xbd_warn(d->log_prefix, "rbd: lock=exclusive: breaking the lock of %.*s, this VBD's "
		 "dead predecessor (it is blocklisted)", OWNER_MAX, owner);
	r = rbd_lock_break(rd->image, RBD_LOCK_MODE_EXCLUSIVE, owner);
	if (r && r != -ENOENT)
		xbd_err(d->log_prefix, "rbd: breaking the lock of %.*s: %s", OWNER_MAX, owner,
			strerror(-r));
	return r == -ENOENT ? 0 : r;
}

/*
 * Take the lock. librbd's rbd_lock_acquire() has no timeout: it is called only when the lock
 * is free (or was just broken), where it takes one round trip. A foreign client that takes
 * the lock in the instants between the check and the call is the one case left where it may
 * wait longer (for that client's answer).
 */
int xbd_rbd_lock_take(struct xbd_disk *d, struct xbd_rbd_disk *rd)
{
	char owner[OWNER_MAX];
	int r = current_owner(rd->image, owner, sizeof(owner));

	if (r)
		xbd_err(d->log_prefix, "rbd: lock=exclusive: cannot read the lock of %s/%s: %s%s",
			rd->t.pool, rd->t.image, strerror(-r), r == -EINVAL ? " (the image lacks "
			"the exclusive-lock feature: rbd feature enable POOL/IMAGE exclusive-lock)" : "");
	if (!r && owner[0])
		r = clear_owner(d, rd, owner);
	if (!r && (r = rbd_lock_acquire(rd->image, RBD_LOCK_MODE_EXCLUSIVE)) != 0)
		xbd_err(d->log_prefix, "rbd: lock=exclusive: cannot take the lock of %s/%s: %s",
			rd->t.pool, rd->t.image, strerror(-r));
	if (!r && (r = current_owner(rd->image, owner, sizeof(owner))) == 0 && owner[0]) {
		r = write_state(d, owner);
		if (r == -EINVAL)
			r = 0; /* no VBD (a test driver): nothing to record, nobody to succeed us */
		else if (r)
			xbd_err(d->log_prefix, "rbd: cannot record the lock's owner under %s/rbd: "
				"%s", d->cfg.run_dir, strerror(-r));
	}
	if (!r)
		xbd_info(d->log_prefix, "rbd: lock=exclusive: holding the lock of %s/%s as %.*s",
			 rd->t.pool, rd->t.image, OWNER_MAX, owner);
	return r;
}
