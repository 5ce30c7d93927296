/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The io_uring engine through a storage queue on the raw driver: a batch of writes, reads and a
 * flush completes with the right results and data, discard punches a hole that reads back as
 * zeros, a wake fd is reported, and a blocking wait with nothing to do times out.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <cmocka.h>

#include "xenblkd/io.h"
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

static void test_find(void **state)
{
	(void)state;
	assert_ptr_equal(xbd_engine_find("io_uring"), &xbd_engine_uring);
	assert_null(xbd_engine_find("nope"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_read_flush_discard),
		cmocka_unit_test(test_wake_fd_and_timeout),
		cmocka_unit_test(test_find),
	};

	return cmocka_run_group_tests_name("engine_uring", tests, NULL, NULL);
}
