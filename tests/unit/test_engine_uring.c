/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The io_uring engine through a storage queue on the raw driver: a batch of writes, reads and a
 * flush completes with the right results and data, discard punches a hole that reads back as
 * zeros, a wake fd is reported, and a blocking wait with nothing to do times out; a caller
 * that drains its wake fds gets one multishot poll for all its wake-ups. Then the
 * tests every engine passes (test_engine_suite.c), and io_uring's own: registered buffers
 * (READ_FIXED/WRITE_FIXED), a sparse table of them that grows and shrinks, the quiet fallback
 * when RLIMIT_MEMLOCK refuses them (both ways), and SQPOLL.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "test_engine_suite.h"
#include "test_storage_util.h"
#include "io/io.h"
#include "xenblkd/storage.h"

#define BLK 4096

struct done_rec {
	struct xbd_io io;
	struct iovec iov;
	int res;
	bool done;
};

static char img_path[64];

static void on_done(struct xbd_io *io, int res)
{
	struct done_rec *d = (struct done_rec *)io;

	d->res = res;
	d->done = true;
}

static struct xbd_disk *open_tmp_disk(void)
{
	struct xbd_disk_config cfg = { .format = XBD_FORMAT_RAW, .engine = "io_uring" };
	struct xbd_disk *d = NULL;
	int fd;

	strcpy(img_path, "/var/tmp/xbd-engine-XXXXXX");
	fd = mkstemp(img_path);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 16 * BLK), 0);
	close(fd);
	cfg.path = img_path;
	assert_int_equal(xbd_disk_open(&cfg, &d), 0);
	unlink(img_path);
	return d;
}

static void rw(struct done_rec *r, enum xbd_io_op op, uint64_t off, void *buf, uint64_t len)
{
	r->iov = (struct iovec){ .iov_base = buf, .iov_len = len };
	r->io = (struct xbd_io){ .op = op, .offset = off, .len = len, .iov = &r->iov,
				 .niov = buf ? 1 : 0, .done = on_done };
	r->done = false;
}

static void run_until_done(struct xbd_sq *q, struct done_rec *recs, int n)
{
	unsigned int ready;

	for (int tries = 0; tries < 100; tries++) {
		int all = 1;

		for (int i = 0; i < n; i++)
			all &= recs[i].done;
		if (all)
			return;
		assert_true(xbd_sq_wait(q, NULL, 0, &ready, true, 100) >= 0);
	}
	fail_msg("I/O did not complete");
}

static void test_write_read_flush_discard(void **state)
{
	struct xbd_disk *d = open_tmp_disk();
	struct xbd_sq *q;
	struct done_rec w[4], r[4], f, dc, z;
	unsigned char *wbuf = NULL, *rbuf = NULL;

	(void)state;
	assert_int_equal(posix_memalign((void **)&wbuf, BLK, 4 * BLK), 0);
	assert_int_equal(posix_memalign((void **)&rbuf, BLK, 4 * BLK), 0);
	for (int i = 0; i < 4 * BLK; i++)
		wbuf[i] = (unsigned char)(i * 7 + 3);
	memset(rbuf, 0, 4 * BLK);
	assert_int_equal(xbd_sq_open(d, 8, &q), 0);
	for (int i = 0; i < 4; i++) {
		rw(&w[i], XBD_IO_WRITE, (uint64_t)(3 - i) * BLK, wbuf + i * BLK, BLK);
		assert_int_equal(xbd_sq_queue(q, &w[i].io), 0);
	}
	assert_int_equal(xbd_sq_inflight(q), 4);
	assert_int_equal(xbd_sq_submit(q), 0);
	run_until_done(q, w, 4);
	rw(&f, XBD_IO_FLUSH, 0, NULL, 0);
	assert_int_equal(xbd_sq_queue(q, &f.io), 0);
	for (int i = 0; i < 4; i++) {
		rw(&r[i], XBD_IO_READ, (uint64_t)(3 - i) * BLK, rbuf + i * BLK, BLK);
		assert_int_equal(xbd_sq_queue(q, &r[i].io), 0);
	}
	assert_int_equal(xbd_sq_submit(q), 0);
	run_until_done(q, r, 4);
	run_until_done(q, &f, 1);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(w[i].res, 0);
		assert_int_equal(r[i].res, 0);
	}
	assert_int_equal(f.res, 0);
	assert_memory_equal(wbuf, rbuf, 4 * BLK);
	/* Discard block 1, then it reads back as zeros. */
	rw(&dc, XBD_IO_DISCARD, BLK, NULL, BLK);
	assert_int_equal(xbd_sq_queue(q, &dc.io), 0);
	run_until_done(q, &dc, 1);
	assert_int_equal(dc.res, 0);
	rw(&z, XBD_IO_READ, BLK, rbuf, BLK);
	assert_int_equal(xbd_sq_queue(q, &z.io), 0);
	assert_int_equal(xbd_sq_submit(q), 0);
	run_until_done(q, &z, 1);
	for (int i = 0; i < BLK; i++)
		assert_int_equal(rbuf[i], 0);
	/* A read past the end of the file is short: an error, not silent zeros. */
	rw(&z, XBD_IO_READ, 16 * BLK, rbuf, BLK);
	assert_int_equal(xbd_sq_queue(q, &z.io), 0);
	assert_int_equal(xbd_sq_submit(q), 0);
	run_until_done(q, &z, 1);
	assert_int_equal(z.res, -EIO);
	assert_int_equal(xbd_sq_inflight(q), 0);
	xbd_sq_close(q);
	xbd_disk_close(d);
	free(wbuf);
	free(rbuf);
}

static void test_wake_fd_and_timeout(void **state)
{
	struct xbd_disk *d = open_tmp_disk();
	int efd = eventfd(0, EFD_NONBLOCK);
	struct xbd_sq *q;
	unsigned int ready = 0;
	uint64_t one = 1;

	(void)state;
	assert_int_equal(xbd_sq_open(d, 4, &q), 0);
	/* Nothing to do: a blocking wait times out with nothing ready. */
	assert_int_equal(xbd_sq_wait(q, &efd, 1, &ready, true, 50), 0);
	assert_int_equal(ready, 0);
	assert_int_equal(write(efd, &one, sizeof(one)), sizeof(one));
	for (int i = 0; i < 20 && !ready; i++)
		assert_true(xbd_sq_wait(q, &efd, 1, &ready, true, 100) >= 0);
	assert_int_equal(ready, 1);
	/* Still readable (not consumed): the re-armed poll reports it again. */
	ready = 0;
	for (int i = 0; i < 20 && !ready; i++)
		assert_true(xbd_sq_wait(q, &efd, 1, &ready, true, 100) >= 0);
	assert_int_equal(ready, 1);
	xbd_sq_close(q);
	xbd_disk_close(d);
	close(efd);
}

/* A caller that drains its fds (xbd_sq_wake_edge): one multishot poll serves every kick, and
 * each kick is still reported once. */
static void test_wake_edge_multishot(void **state)
{
	struct xbd_disk *d = open_tmp_disk();
	int efd = eventfd(0, EFD_NONBLOCK);
	struct xbd_sq_stats st;
	struct xbd_sq *q;
	unsigned int ready = 0;
	uint64_t v = 1;

	(void)state;
	assert_int_equal(xbd_sq_open(d, 4, &q), 0);
	xbd_sq_wake_edge(q);
	for (int kick = 0; kick < 10; kick++) {
		assert_int_equal(write(efd, &v, sizeof(v)), sizeof(v));
		ready = 0;
		for (int i = 0; i < 20 && !ready; i++)
			assert_true(xbd_sq_wait(q, &efd, 1, &ready, true, 100) >= 0);
		assert_int_equal(ready, 1);
		assert_int_equal(read(efd, &v, sizeof(v)), sizeof(v)); /* drained */
		/* Nothing new: a wait reports nothing. */
		assert_int_equal(xbd_sq_wait(q, &efd, 1, &ready, true, 20), 0);
		assert_int_equal(ready, 0);
	}
	/* A kick seen by a wait that does not watch the fd is reported by the next one that does. */
	assert_int_equal(write(efd, &v, sizeof(v)), sizeof(v));
	for (int i = 0; i < 20 && !xbd_sq_ready(q); i++)
		assert_int_equal(xbd_sq_wait(q, NULL, 0, &ready, true, 50), 0);
	assert_int_equal(xbd_sq_wait(q, NULL, 0, &ready, false, 0), 0);
	assert_int_equal(ready, 0);
	assert_int_equal(xbd_sq_wait(q, &efd, 1, &ready, true, 20), 0);
	assert_int_equal(ready, 1);
	xbd_sq_get_stats(q, &st);
	assert_int_equal(st.poll_arms, 1); /* kernel >= 5.13: armed once, for all eleven */
	xbd_sq_close(q);
	xbd_disk_close(d);
	close(efd);
}

static void test_find(void **state)
{
	(void)state;
	assert_ptr_equal(xbd_engine_find("io_uring"), &xbd_engine_uring);
	assert_null(xbd_engine_find("nope"));
}

/* I/O from registered buffers is done with the _FIXED ops; other buffers still work. */
static void test_registered_buffers(void **state)
{
	char path[64];
	struct xbd_disk *d;
	struct xbd_sq *q;
	unsigned char *pool = t_buf(4 * 16 * TBLK), *other = t_buf(TBLK);
	struct iovec bufs[4];
	struct xbd_sq_stats st;

	(void)state;
	t_make_image(NULL, 1 << 20, path);
	d = t_open(path, "io_uring", NULL, NULL);
	assert_int_equal(xbd_sq_open(d, 8, &q), 0);
	for (int i = 0; i < 4; i++)
		bufs[i] = (struct iovec){ pool + i * 16 * TBLK, 16 * TBLK };
	assert_int_equal(xbd_sq_register_buffers(q, bufs, 4), 0);
	t_fill(pool + 16 * TBLK + TBLK, 2 * TBLK, 9);
	assert_int_equal(t_sync(q, XBD_IO_WRITE, 0, pool + 16 * TBLK + TBLK, 2 * TBLK), 0);
	assert_int_equal(t_sync(q, XBD_IO_READ, 0, pool + 3 * 16 * TBLK, 2 * TBLK), 0);
	assert_true(t_check(pool + 3 * 16 * TBLK, 2 * TBLK, 9));
	xbd_sq_get_stats(q, &st);
	assert_int_equal(st.fixed_buffer_ios, 2);
	assert_non_null(strstr(st.engine_features, "fixed-buffers"));
	/* Outside the pool, and straddling its end: plain readv. */
	assert_int_equal(t_sync(q, XBD_IO_READ, 0, other, TBLK), 0);
	assert_true(t_check(other, TBLK, 9));
	assert_int_equal(t_sync(q, XBD_IO_READ, 0, pool + 4 * 16 * TBLK - TBLK, TBLK), 0);
	xbd_sq_get_stats(q, &st);
	assert_int_equal(st.fixed_buffer_ios, 3);
	xbd_sq_close(q);
	xbd_disk_close(d);
	unlink(path);
	free(pool);
	free(other);
}

/* A sparse table (the data plane's pool): buffers added and dropped one by one; I/O in an added
 * one is READ_FIXED/WRITE_FIXED, in a dropped one plain again; a full table refuses more. */
static void test_sparse_buffers(void **state)
{
	char path[64];
	struct xbd_disk *d;
	struct xbd_sq *q;
	unsigned char *a = t_buf(4 * TBLK), *b = t_buf(4 * TBLK), *c = t_buf(TBLK);
	struct xbd_sq_stats st;

	(void)state;
	t_make_image(NULL, 1 << 20, path);
	d = t_open(path, "io_uring", NULL, NULL);
	assert_int_equal(xbd_sq_open(d, 8, &q), 0);
	assert_int_equal(xbd_sq_buffers_open(q, 2), 0);
	assert_int_equal(xbd_sq_buffer_add(q, b, 4 * TBLK), 0);
	assert_int_equal(xbd_sq_buffer_add(q, a, 4 * TBLK), 0);
	assert_int_equal(xbd_sq_buffer_add(q, c, TBLK), -ENOSPC); /* two slots */
	t_fill(a + TBLK, 2 * TBLK, 5);
	assert_int_equal(t_sync(q, XBD_IO_WRITE, 0, a + TBLK, 2 * TBLK), 0);
	assert_int_equal(t_sync(q, XBD_IO_READ, 0, b, 2 * TBLK), 0);
	assert_true(t_check(b, 2 * TBLK, 5));
	xbd_sq_get_stats(q, &st);
	assert_int_equal(st.fixed_buffer_ios, 2);
	assert_non_null(strstr(st.engine_features, "fixed-buffers"));
	/* Dropped: plain I/O; its slot serves another buffer. */
	xbd_sq_buffer_drop(q, a);
	memset(a, 0, 4 * TBLK);
	assert_int_equal(t_sync(q, XBD_IO_READ, 0, a, 2 * TBLK), 0);
	assert_true(t_check(a, 2 * TBLK, 5));
	xbd_sq_get_stats(q, &st);
	assert_int_equal(st.fixed_buffer_ios, 2);
	assert_int_equal(xbd_sq_buffer_add(q, c, TBLK), 0);
	assert_int_equal(t_sync(q, XBD_IO_READ, 0, c, TBLK), 0);
	assert_true(t_check(c, TBLK, 5));
	xbd_sq_get_stats(q, &st);
	assert_int_equal(st.fixed_buffer_ios, 3);
	xbd_sq_close(q);
	xbd_disk_close(d);
	unlink(path);
	free(a);
	free(b);
	free(c);
}

/* Without CAP_IPC_LOCK, pinned buffers count against RLIMIT_MEMLOCK. */
static int drop_ipc_lock(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct c[2];
	struct rlimit rl = { 64 * 1024, 64 * 1024 };

	if (syscall(SYS_capget, &h, c))
		return -1;
	c[CAP_IPC_LOCK / 32].effective &= ~(1u << (CAP_IPC_LOCK % 32));
	c[CAP_IPC_LOCK / 32].permitted &= ~(1u << (CAP_IPC_LOCK % 32));
	if (syscall(SYS_capset, &h, c))
		return -1;
	return setrlimit(RLIMIT_MEMLOCK, &rl);
}

/* In a child without CAP_IPC_LOCK: 0 if registration failed quietly and I/O still works. */
static int memlock_child(const char *path)
{
	struct xbd_disk *d;
	struct xbd_sq *q;
	unsigned char *pool = NULL;
	struct iovec buf;
	unsigned int ready;
	struct tio t;

	if (drop_ipc_lock() || posix_memalign((void **)&pool, 4096, 4 << 20))
		return 10;
	if (t_try_open(path, "io_uring", NULL, NULL, &d) || xbd_sq_open(d, 4, &q))
		return 11;
	buf = (struct iovec){ pool, 4 << 20 };
	if (xbd_sq_register_buffers(q, &buf, 1) != -EOPNOTSUPP)
		return 12;
	t_io(&t, XBD_IO_READ, 0, pool, TBLK);
	xbd_sq_queue(q, &t.io);
	xbd_sq_submit(q);
	for (int i = 0; i < 100 && !t.done; i++)
		xbd_sq_wait(q, NULL, 0, &ready, true, 50);
	if (!t.done || t.res)
		return 13;
	xbd_sq_close(q);
	xbd_disk_close(d);
	return 0;
}

/* In a child without CAP_IPC_LOCK: 0 if a sparse table's buffer was refused once, the next one
 * without asking the kernel, and verified I/O from both still works. */
static int memlock_sparse_child(const char *path)
{
	struct xbd_disk *d;
	struct xbd_sq *q;
	unsigned char *pool = NULL;
	struct xbd_sq_stats st;

	if (drop_ipc_lock() || posix_memalign((void **)&pool, 4096, 4 << 20))
		return 10;
	if (t_try_open(path, "io_uring", NULL, NULL, &d) || xbd_sq_open(d, 4, &q))
		return 11;
	if (xbd_sq_buffers_open(q, 8) != 0)
		return 12; /* the table itself pins nothing */
	if (xbd_sq_buffer_add(q, pool, 2 << 20) != -EOPNOTSUPP ||
	    xbd_sq_buffer_add(q, pool + (2 << 20), 4096) != -EOPNOTSUPP)
		return 13;
	t_fill(pool, 2 * TBLK, 3);
	if (t_sync(q, XBD_IO_WRITE, 0, pool, 2 * TBLK))
		return 14;
	memset(pool, 0, 2 * TBLK);
	if (t_sync(q, XBD_IO_READ, 0, pool, 2 * TBLK) || !t_check(pool, 2 * TBLK, 3))
		return 15;
	xbd_sq_get_stats(q, &st);
	if (st.fixed_buffer_ios != 0)
		return 16;
	xbd_sq_close(q);
	xbd_disk_close(d);
	return 0;
}

static void test_memlock_sparse_fallback(void **state)
{
	char path[64];
	int status;
	pid_t pid;

	(void)state;
	t_make_image(NULL, 1 << 20, path);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(memlock_sparse_child(path));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	unlink(path);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_memlock_fallback(void **state)
{
	char path[64];
	int status;
	pid_t pid;

	(void)state;
	t_make_image(NULL, 1 << 20, path);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(memlock_child(path));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	unlink(path);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* SQPOLL where the kernel grants it: the same results, fewer system calls to submit. */
static void test_sqpoll(void **state)
{
	struct xbd_disk_config cfg = { .format = XBD_FORMAT_RAW, .sqpoll = true };
	char path[64];
	struct xbd_disk *d;
	struct xbd_sq *q;
	unsigned char *buf = t_buf(8 * TBLK);
	struct xbd_sq_stats st;
	struct tio t[8];

	(void)state;
	t_make_image(NULL, 1 << 20, path);
	d = t_open(path, "io_uring", NULL, &cfg);
	assert_int_equal(xbd_sq_open(d, 8, &q), 0);
	for (int i = 0; i < 8; i++) {
		t_fill(buf + i * TBLK, TBLK, 100 + (unsigned int)i);
		t_io(&t[i], XBD_IO_WRITE, (uint64_t)i * TBLK, buf + i * TBLK, TBLK);
		assert_int_equal(t_queue(q, &t[i]), 0);
	}
	t_run(q, t, 8);
	memset(buf, 0, 8 * TBLK);
	assert_int_equal(t_sync(q, XBD_IO_READ, 0, buf, 8 * TBLK), 0);
	for (int i = 0; i < 8; i++) {
		assert_int_equal(t[i].res, 0);
		assert_true(t_check(buf + i * TBLK, TBLK, 100 + (unsigned int)i));
	}
	xbd_sq_get_stats(q, &st);
	print_message("features: %s\n", st.engine_features);
	xbd_sq_close(q);
	xbd_disk_close(d);
	unlink(path);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_read_flush_discard),
		cmocka_unit_test(test_wake_fd_and_timeout),
		cmocka_unit_test(test_wake_edge_multishot),
		cmocka_unit_test(test_find),
		cmocka_unit_test(test_registered_buffers),
		cmocka_unit_test(test_memlock_fallback),
		cmocka_unit_test(test_sparse_buffers),
		cmocka_unit_test(test_memlock_sparse_fallback),
		cmocka_unit_test(test_sqpoll),
	};

	return engine_suite_run("io_uring", 1, tests, sizeof(tests) / sizeof(tests[0]));
}
