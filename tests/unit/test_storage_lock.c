/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Image locking: a writable disk is exclusive and a read-only one shared, between two opens in
 * one process (OFD locks belong to the open, not the process), against another program's
 * plain whole-file locks, against QEMU's lock bytes set by hand, and, when qemu-io is
 * installed, against QEMU itself in both directions. Also that a lock dies with its disk, that
 * no_lock takes none, and that the daemon's wait takes a lock another process lets go of
 * while it waits (a daemon restarted at once), and only within the wait.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "test_storage_util.h"
#include "xenblkd/storage.h"

static const struct xbd_disk_config rw_cfg = { .format = XBD_FORMAT_RAW };
static const struct xbd_disk_config ro_cfg = { .format = XBD_FORMAT_RAW, .readonly = true };
static char path[64];

static int setup(void **state)
{
	(void)state;
	t_make_image(NULL, 1 << 20, path);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	return 0;
}

static int try_open(const struct xbd_disk_config *cfg, struct xbd_disk **d)
{
	*d = NULL;
	return t_try_open(path, NULL, NULL, cfg, d);
}

static void test_between_disks(void **state)
{
	struct xbd_disk_config nolock = rw_cfg;
	struct xbd_disk *a, *b, *c;

	(void)state;
	assert_int_equal(try_open(&rw_cfg, &a), 0);
	assert_int_equal(try_open(&rw_cfg, &b), -EBUSY);
	assert_int_equal(try_open(&ro_cfg, &b), -EBUSY);
	nolock.no_lock = true;
	assert_int_equal(try_open(&nolock, &c), 0); /* the operator said so */
	xbd_disk_close(c);
	xbd_disk_close(a);
	assert_int_equal(try_open(&ro_cfg, &a), 0);
	assert_int_equal(try_open(&ro_cfg, &b), 0);
	assert_int_equal(try_open(&rw_cfg, &c), -EBUSY);
	xbd_disk_close(a);
	assert_int_equal(try_open(&rw_cfg, &c), -EBUSY);
	xbd_disk_close(b);
	assert_int_equal(try_open(&rw_cfg, &c), 0);
	xbd_disk_close(c);
}

/* Another holder: an open file description with shared locks on `bytes` (ending with -1), or
 * with a whole-file lock of `type` when bytes is NULL. */
static int hold(const int *bytes, short type)
{
	int fd = open(path, O_RDWR);

	assert_true(fd >= 0);
	for (unsigned int i = 0; bytes && bytes[i] >= 0; i++) {
		struct flock fl = { .l_type = F_RDLCK, .l_start = bytes[i], .l_len = 1 };

		assert_int_equal(fcntl(fd, F_OFD_SETLK, &fl), 0);
	}
	if (!bytes) {
		struct flock fl = { .l_type = type };

		assert_int_equal(fcntl(fd, F_OFD_SETLK, &fl), 0);
	}
	return fd;
}

static void expect(int holder_fd, int rw_result, int ro_result)
{
	struct xbd_disk *d;

	assert_int_equal(try_open(&rw_cfg, &d), rw_result);
	xbd_disk_close(d);
	assert_int_equal(try_open(&ro_cfg, &d), ro_result);
	xbd_disk_close(d);
	close(holder_fd);
}

/* Someone holds a lock somewhere on the file. */
static bool byte_held_whole(void)
{
	int fd = open(path, O_RDONLY);
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

	assert_true(fd >= 0);
	assert_int_equal(fcntl(fd, F_OFD_GETLK, &fl), 0);
	close(fd);
	return fl.l_type != F_UNLCK;
}

/* A process holding the whole file until told to go (a byte on `go`), then 10 ms more. */
static pid_t holder_until(int go)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
		struct timespec ten = { .tv_nsec = 10 * 1000000L };
		int fd = open(path, O_RDWR);
		char c;

		if (fd < 0 || fcntl(fd, F_OFD_SETLK, &fl) < 0)
			_exit(1);
		if (read(go, &c, 1) < 0)
			_exit(1);
		nanosleep(&ten, NULL);
		_exit(0);
	}
	return pid;
}

static void test_wait_for_release(void **state)
{
	struct xbd_disk *d;
	int go[2], status;
	pid_t pid;

	(void)state;
	assert_int_equal(pipe(go), 0);
	pid = holder_until(go[0]);
	while (!byte_held_whole())
		usleep(1000);
	xbd_image_lock_set_wait(0);
	assert_int_equal(try_open(&rw_cfg, &d), -EBUSY);
	xbd_image_lock_set_wait(20); /* a wait that ends while the holder still holds */
	assert_int_equal(try_open(&rw_cfg, &d), -EBUSY);
	/* Let go 10 ms from now, while we wait (up to 3 s): the lock is ours once it is free. */
	assert_int_equal(write(go[1], "g", 1), 1);
	xbd_image_lock_set_wait(3000);
	assert_int_equal(try_open(&rw_cfg, &d), 0);
	xbd_image_lock_set_wait(0);
	xbd_disk_close(d);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(go[0]);
	close(go[1]);
}

static void test_against_others(void **state)
{
	static const int qemu_vm[] = { 100, 101, 103, 201, 203, -1 }; /* a running VM's disk */
	static const int qemu_reader[] = { 100, 201, 203, -1 };       /* read-only, unsharing */
	static const int libvirt[] = { 0, -1 };                        /* virtlockd's byte */

	(void)state;
	expect(hold(qemu_vm, 0), -EBUSY, -EBUSY);
	expect(hold(qemu_reader, 0), -EBUSY, 0);
	expect(hold(libvirt, 0), -EBUSY, 0);
	expect(hold(NULL, F_WRLCK), -EBUSY, -EBUSY);
	/* A whole-file lock covers QEMU's "unshare" bytes too, so even a shared one reads as
	 * "nobody else may read": refused, as QEMU would. */
	expect(hold(NULL, F_RDLCK), -EBUSY, -EBUSY);
}

/* What QEMU sees while we hold the image: its exclusive test of a byte conflicts. */
static bool byte_held(int byte)
{
	int fd = open(path, O_RDONLY);
	struct flock fl = { .l_type = F_WRLCK, .l_start = byte, .l_len = 1 };

	assert_true(fd >= 0);
	assert_int_equal(fcntl(fd, F_OFD_GETLK, &fl), 0);
	close(fd);
	return fl.l_type != F_UNLCK;
}

static void test_what_we_hold(void **state)
{
	struct xbd_disk *d;

	(void)state;
	assert_int_equal(try_open(&rw_cfg, &d), 0);
	assert_true(byte_held(100) && byte_held(101) && byte_held(103));
	assert_true(byte_held(201) && byte_held(203));
	assert_false(byte_held(200) || byte_held(102) || byte_held(0));
	xbd_disk_close(d);
	assert_int_equal(try_open(&ro_cfg, &d), 0);
	assert_true(byte_held(100) && byte_held(201) && byte_held(203));
	assert_false(byte_held(101) || byte_held(103));
	xbd_disk_close(d);
	assert_false(byte_held(100) || byte_held(201));
}

static bool have_qemu_io(void)
{
	return access("/usr/bin/qemu-io", X_OK) == 0;
}

/* Run qemu-io once on the image; its exit status. */
static int qemu_io(const char *flags)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "/usr/bin/qemu-io %s -f raw -c 'read 0 512' %s >/dev/null 2>&1",
		 flags, path);
	return system(cmd);
}

static void test_qemu_sees_us(void **state)
{
	struct xbd_disk *d;

	(void)state;
	if (!have_qemu_io())
		skip();
	assert_int_equal(qemu_io(""), 0);
	assert_int_equal(try_open(&rw_cfg, &d), 0);
	assert_int_not_equal(qemu_io(""), 0);     /* "Failed to get "write" lock" */
	assert_int_equal(qemu_io("-r"), 0);       /* a QEMU reader shares write: its choice */
	assert_int_equal(qemu_io("-U -r"), 0);    /* force-share is QEMU's explicit opt-out */
	xbd_disk_close(d);
	assert_int_equal(try_open(&ro_cfg, &d), 0);
	assert_int_not_equal(qemu_io(""), 0);
	assert_int_equal(qemu_io("-r"), 0);
	xbd_disk_close(d);
}

/* qemu-io holding the image in the background, until killed. */
static pid_t qemu_holds(bool readonly)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		if (readonly)
			execl("/usr/bin/qemu-io", "qemu-io", "-r", "-f", "raw", "-c", "sleep 20000",
			      path, (char *)NULL);
		else
			execl("/usr/bin/qemu-io", "qemu-io", "-f", "raw", "-c", "sleep 20000",
			      path, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 500 && !byte_held(100); i++)
		usleep(10000);
	assert_true(byte_held(100));
	return pid;
}

static void test_we_see_qemu(void **state)
{
	pid_t pid;
	int status;

	(void)state;
	if (!have_qemu_io())
		skip();
	pid = qemu_holds(false);
	expect(-1, -EBUSY, -EBUSY);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	pid = qemu_holds(true);
	expect(-1, -EBUSY, 0);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	expect(-1, 0, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_between_disks),
		cmocka_unit_test(test_against_others),
		cmocka_unit_test(test_wait_for_release),
		cmocka_unit_test(test_what_we_hold),
		cmocka_unit_test(test_qemu_sees_us),
		cmocka_unit_test(test_we_see_qemu),
	};

	return cmocka_run_group_tests_name("storage_lock", tests, setup, teardown);
}
