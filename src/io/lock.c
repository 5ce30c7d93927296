/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The image lock: two daemons, or xenblkd and QEMU, must never write one image at once. We use
 * open-file-description (OFD) locks in QEMU's own layout, so each side sees the other: a user
 * of "permission" i holds a shared lock on byte 100 + i, and a user that forbids others
 * permission i holds a shared lock on byte 200 + i (i: 0 consistent read, 1 write, 3 resize).
 * Before trusting its locks, a user tests, with an exclusive F_OFD_GETLK, that nobody else
 * holds the bytes that conflict with it. A writable disk also requires that nobody else holds
 * any lock on the file at all: writable is exclusive, read-only is shared. docs/storage.md
 * has the table of who excludes whom.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>

#include "driver.h"
#include "xenblkd/log.h"

#define PERM_BYTE(i) (100 + (i))
#define UNSHARE_BYTE(i) (200 + (i))

enum { PERM_CONSISTENT_READ = 0, PERM_WRITE = 1, PERM_RESIZE = 3 };

static int lock_byte(int fd, off_t off)
{
	struct flock fl = { .l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = off, .l_len = 1 };

	return fcntl(fd, F_OFD_SETLK, &fl) < 0 ? -errno : 0;
}

/* 1 if another open file description holds a lock within [off, off + len) (len 0: to the
 * end), 0 if not, or -errno. */
static int others_hold(int fd, off_t off, off_t len)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = off, .l_len = len };

	if (fcntl(fd, F_OFD_GETLK, &fl) < 0)
		return -errno;
	return fl.l_type != F_UNLCK;
}

static void unlock_all(int fd)
{
	struct flock fl = { .l_type = F_UNLCK, .l_whence = SEEK_SET };

	fcntl(fd, F_OFD_SETLK, &fl);
}

/* Take our bytes: what we use, and what we forbid others (write and resize, always). */
static int take(int fd, bool readonly)
{
	int r = lock_byte(fd, PERM_BYTE(PERM_CONSISTENT_READ));

	if (!r && !readonly)
		r = lock_byte(fd, PERM_BYTE(PERM_WRITE));
	if (!r && !readonly)
		r = lock_byte(fd, PERM_BYTE(PERM_RESIZE));
	if (!r)
		r = lock_byte(fd, UNSHARE_BYTE(PERM_WRITE));
	if (!r)
		r = lock_byte(fd, UNSHARE_BYTE(PERM_RESIZE));
	return r;
}

/* 1 if someone else's lock conflicts with ours, 0 if none, or -errno. */
static int conflicts(int fd, bool readonly)
{
	int r = others_hold(fd, UNSHARE_BYTE(PERM_CONSISTENT_READ), 1);

	if (r == 0)
		r = others_hold(fd, PERM_BYTE(PERM_WRITE), 1);
	if (r == 0)
		r = others_hold(fd, PERM_BYTE(PERM_RESIZE), 1);
	if (r == 0 && !readonly)
		r = others_hold(fd, 0, 0);
	return r;
}

static bool locks_unsupported(int err)
{
	return err == -EINVAL || err == -ENOLCK || err == -EOPNOTSUPP || err == -ENOSYS;
}

/* One attempt: 0, 1 for a conflict, or -errno; nothing held unless 0. */
static int try_lock(int fd, bool readonly)
{
	int r = take(fd, readonly);

	if (r == 0)
		r = conflicts(fd, readonly);
	if (r)
		unlock_all(fd);
	return r;
}

/*
 * A conflict is tried again for up to lock_wait_ms (the daemon sets it; tools leave it 0): a
 * daemon killed a moment ago (restarted by its supervisor at once, docs/restart.md) holds its
 * locks until the kernel has released its io_uring's registered files, which happens after
 * the process is gone. That is usually a matter of a millisecond, so the first tries come
 * quickly (1 ms, doubling up to 50 ms between tries): a fixed 50 ms was most of the pause a
 * restart cost the guest. A lock that came only after waiting is logged, with the wait.
 */
static unsigned int lock_wait_ms;

#define LOCK_RETRY_FIRST_MS 1
#define LOCK_RETRY_MAX_MS 50

void xbd_image_lock_set_wait(unsigned int ms)
{
	lock_wait_ms = ms;
}

int xbd_image_lock(int fd, bool readonly, const char *path, const char *log_prefix)
{
	unsigned int ms = 0, step = LOCK_RETRY_FIRST_MS;
	int r = try_lock(fd, readonly);

	while (ms < lock_wait_ms && (r == 1 || r == -EAGAIN || r == -EACCES)) {
		struct timespec pause = { .tv_nsec = (long)step * 1000000L };

		nanosleep(&pause, NULL);
		ms += step;
		step = step * 2 < LOCK_RETRY_MAX_MS ? step * 2 : LOCK_RETRY_MAX_MS;
		r = try_lock(fd, readonly);
	}
	if (r == 0 && ms)
		xbd_info(log_prefix, "%s: its locks were free only after waiting about %u ms "
			 "(a previous holder, e.g. a daemon that just ended, let go of them late)",
			 path, ms);
	if (r == 0)
		return 0;
	if (r == 1 || r == -EAGAIN || r == -EACCES) {
		xbd_err(log_prefix, "%s is in use: another program (a QEMU, another xenblkd) holds "
			"a conflicting lock on it; %s needs it %s", path,
			readonly ? "a read-only disk" : "a writable disk",
			readonly ? "with no writer" : "alone");
		return -EBUSY;
	}
	if (locks_unsupported(r)) {
		xbd_warn(log_prefix, "%s: the file system has no OFD locks (%s); serving it unlocked",
			 path, strerror(-r));
		return 0;
	}
	xbd_err(log_prefix, "%s: cannot lock: %s", path, strerror(-r));
	return r;
}

int xbd_image_relock(int fd, bool readonly, const char *path, const char *log_prefix)
{
	unlock_all(fd);
	return xbd_image_lock(fd, readonly, path, log_prefix);
}
