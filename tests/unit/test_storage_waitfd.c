/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Drivers that wait on a descriptor of their own (network storage: wait_fd / fd_ready in
 * driver.h): a queue without an engine watches the driver's fd beside the caller's wake-up
 * fds, for the events the driver asks for at that moment. A blocking wait wakes when the
 * driver's fd becomes ready, calls fd_ready with what poll saw, and delivers the completions
 * the driver queued there in the same wait; it does not call fd_ready when the fd is not ready
 * or the driver names none; and a caller's wake-up fd still wakes it alone.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "io/io_internal.h"
#include "test_storage_util.h"

/* A driver whose "server" is the far end of a pipe: each byte written there completes the
 * oldest submitted I/O. */
struct fdrv {
	int pipe_r, pipe_w;
	short want;                 /* what wait_fd asks for (0: it names no fd) */
	unsigned int ready_calls;
	short last_revents;
	struct xbd_io *pending[8];
	unsigned int npending;
};

static struct fdrv fdrv;

static int fdrv_open(struct xbd_disk *d)
{
	(void)d;
	return 0;
}

static void fdrv_close(struct xbd_disk *d)
{
	(void)d;
}

static int fdrv_submit(struct xbd_sq *q, struct xbd_io *io)
{
	(void)q;
	assert_true(fdrv.npending < 8);
	fdrv.pending[fdrv.npending++] = io;
	return 0;
}

static int fdrv_wait_fd(struct xbd_sq *q, short *events)
{
	(void)q;
	if (!fdrv.want)
		return -1;
	*events = fdrv.want;
	return fdrv.want == POLLOUT ? fdrv.pipe_w : fdrv.pipe_r;
}

static void fdrv_fd_ready(struct xbd_sq *q, short revents)
{
	char c;

	fdrv.ready_calls++;
	fdrv.last_revents = revents;
	if (!(revents & POLLIN))
		return;
	while (fdrv.npending && read(fdrv.pipe_r, &c, 1) == 1) {
		xbd_sq_complete(q, fdrv.pending[0], c == 'e' ? -EIO : 0);
		memmove(fdrv.pending, fdrv.pending + 1, --fdrv.npending * sizeof(fdrv.pending[0]));
	}
}

static const struct xbd_driver_ops fd_driver = {
	.name = "fdrv", .open = fdrv_open, .close = fdrv_close, .submit = fdrv_submit,
	.wait_fd = fdrv_wait_fd, .fd_ready = fdrv_fd_ready,
};

static struct xbd_disk fd_disk;

static struct xbd_sq *fd_queue(short want)
{
	struct xbd_sq *q = NULL;
	int p[2];

	memset(&fdrv, 0, sizeof(fdrv));
	assert_int_equal(pipe(p), 0);
	fdrv.pipe_r = p[0];
	fdrv.pipe_w = p[1];
	fdrv.want = want;
	memset(&fd_disk, 0, sizeof(fd_disk));
	fd_disk.fd = -1;
	fd_disk.drv = &fd_driver;
	fd_disk.info = (struct xbd_disk_info){ .size = 1ull << 30, .sector_size = 512 };
	assert_int_equal(xbd_sq_open(&fd_disk, 8, &q), 0);
	return q;
}

static void fd_queue_close(struct xbd_sq *q)
{
	xbd_sq_close(q);
	close(fdrv.pipe_r);
	close(fdrv.pipe_w);
}

static void test_wakes_on_the_drivers_fd(void **state)
{
	struct xbd_sq *q = fd_queue(POLLIN);
	struct tio t[2];
	unsigned int ready = 0;

	(void)state;
	t_io(&t[0], XBD_IO_FLUSH, 0, NULL, 0);
	t_io(&t[1], XBD_IO_FLUSH, 0, NULL, 0);
	assert_int_equal(t_queue(q, &t[0]), 0);
	assert_int_equal(t_queue(q, &t[1]), 0);
	/* Nothing ready: a bounded wait times out without calling the driver. */
	assert_int_equal(xbd_sq_wait(q, NULL, 0, &ready, true, 50), 0);
	assert_int_equal(fdrv.ready_calls, 0);
	assert_false(t[0].done);
	/* The "server" answers both, the second with an error: one wait delivers both. */
	assert_int_equal(write(fdrv.pipe_w, "oe", 2), 2);
	assert_int_equal(xbd_sq_wait(q, NULL, 0, &ready, true, 5000), 2);
	assert_int_equal(fdrv.ready_calls, 1);
	assert_true(fdrv.last_revents & POLLIN);
	assert_true(t[0].done && t[1].done);
	assert_int_equal(t[0].res, 0);
	assert_int_equal(t[1].res, -EIO);
	assert_int_equal(xbd_sq_inflight(q), 0);
	fd_queue_close(q);
}

static void test_asks_for_the_events_it_wants(void **state)
{
	struct xbd_sq *q = fd_queue(POLLOUT);
	unsigned int ready = 0;

	(void)state;
	/* An empty pipe is writable: the driver asking for POLLOUT is told so at once. */
	assert_int_equal(xbd_sq_wait(q, NULL, 0, &ready, true, 5000), 0);
	assert_int_equal(fdrv.ready_calls, 1);
	assert_true(fdrv.last_revents & POLLOUT);
	fd_queue_close(q);
}

static void test_no_fd_and_caller_fds(void **state)
{
	struct xbd_sq *q = fd_queue(0);
	unsigned int ready = 0;
	int wake[2];

	(void)state;
	assert_int_equal(pipe(wake), 0);
	/* The driver names no fd: its pipe being readable must not matter. */
	assert_int_equal(write(fdrv.pipe_w, "o", 1), 1);
	assert_int_equal(xbd_sq_wait(q, &wake[0], 1, &ready, true, 50), 0);
	assert_int_equal(fdrv.ready_calls, 0);
	assert_int_equal(ready, 0);
	/* The caller's wake-up fd still wakes the wait, with the driver watching its own. */
	fdrv.want = POLLIN;
	assert_int_equal(read(fdrv.pipe_r, &(char){ 0 }, 1), 1);
	assert_int_equal(write(wake[1], "w", 1), 1);
	assert_int_equal(xbd_sq_wait(q, &wake[0], 1, &ready, true, 5000), 0);
	assert_int_equal(ready, 1u);
	assert_int_equal(fdrv.ready_calls, 0);
	close(wake[0]);
	close(wake[1]);
	fd_queue_close(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wakes_on_the_drivers_fd),
		cmocka_unit_test(test_asks_for_the_events_it_wants),
		cmocka_unit_test(test_no_fd_and_caller_fds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
