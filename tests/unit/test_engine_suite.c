/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The tests every I/O engine must pass (test_engine_suite.h). They run on /var/tmp, an ext4
 * file system that really enforces O_DIRECT alignment here, unlike tmpfs.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "test_engine_suite.h"
#include "test_storage_util.h"
#include "io/io.h"

#define FILE_SIZE (4u << 20)

const char *suite_engine;
int suite_engine_buffered_ok;

struct fixture {
	char path[64];
	struct xbd_disk *d;
	struct xbd_sq *q;
};

static struct fixture *fx_open(const char *driver, const struct xbd_disk_config *base,
			       unsigned int depth)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	t_make_image(NULL, FILE_SIZE, f->path);
	f->d = t_open(f->path, suite_engine, driver, base);
	assert_string_equal(xbd_disk_get_info(f->d)->engine_name, suite_engine);
	assert_int_equal(xbd_sq_open(f->d, depth, &f->q), 0);
	return f;
}

static void fx_close(struct fixture *f)
{
	assert_int_equal(xbd_sq_inflight(f->q), 0);
	xbd_sq_close(f->q);
	xbd_disk_close(f->d);
	unlink(f->path);
	free(f);
}

/* Two batches of writes (some FUA), a flush, reads of everything, the data checked. */
static void test_batch_rw_flush(void **state)
{
	struct fixture *f = fx_open(NULL, NULL, 16);
	struct tio w[16], r[16];
	unsigned char *buf = t_buf(32 * TBLK);
	struct xbd_sq_stats st;

	(void)state;
	for (unsigned int i = 0; i < 16; i++) {
		t_fill(buf + i * TBLK, TBLK, i);
		t_io(&w[i], XBD_IO_WRITE, (uint64_t)(15 - i) * 2 * TBLK, buf + i * TBLK, TBLK);
		w[i].io.flags = i % 3 == 0 ? XBD_IO_FUA : 0;
	}
	for (unsigned int b = 0; b < 2; b++) {
		for (unsigned int i = 0; i < 8; i++)
			assert_int_equal(t_queue(f->q, &w[b * 8 + i]), 0);
		t_run(f->q, &w[b * 8], 8);
	}
	assert_int_equal(t_sync(f->q, XBD_IO_FLUSH, 0, NULL, 0), 0);
	for (unsigned int i = 0; i < 16; i++) {
		assert_int_equal(w[i].res, 0);
		t_io(&r[i], XBD_IO_READ, (uint64_t)(15 - i) * 2 * TBLK, buf + (16 + i) * TBLK, TBLK);
		assert_int_equal(t_queue(f->q, &r[i]), 0);
	}
	t_run(f->q, r, 16);
	for (unsigned int i = 0; i < 16; i++) {
		assert_int_equal(r[i].res, 0);
		assert_true(t_check(buf + (16 + i) * TBLK, TBLK, i));
	}
	xbd_sq_get_stats(f->q, &st);
	assert_true(st.ios >= 33);
	assert_true(st.syscalls > 0);
	assert_non_null(strstr(st.engine_features, suite_engine));
	free(buf);
	fx_close(f);
}

/* Several iovecs per I/O, read back with a different split. */
static void test_vectored(void **state)
{
	struct fixture *f = fx_open(NULL, NULL, 4);
	unsigned char *a = t_buf(TBLK), *b = t_buf(2 * TBLK), *c = t_buf(TBLK);
	unsigned char *x = t_buf(3 * TBLK), *y = t_buf(TBLK);
	struct tio t;

	(void)state;
	t_fill(a, TBLK, 1);
	t_fill(b, 2 * TBLK, 2);
	t_fill(c, TBLK, 3);
	t_io(&t, XBD_IO_WRITE, 8 * TBLK, a, 4 * TBLK);
	t.iov[0].iov_len = TBLK;
	t.iov[1] = (struct iovec){ b, 2 * TBLK };
	t.iov[2] = (struct iovec){ c, TBLK };
	t.io.niov = 3;
	assert_int_equal(t_queue(f->q, &t), 0);
	t_run(f->q, &t, 1);
	assert_int_equal(t.res, 0);
	t_io(&t, XBD_IO_READ, 8 * TBLK, x, 4 * TBLK);
	t.iov[0].iov_len = 3 * TBLK;
	t.iov[1] = (struct iovec){ y, TBLK };
	t.io.niov = 2;
	assert_int_equal(t_queue(f->q, &t), 0);
	t_run(f->q, &t, 1);
	assert_int_equal(t.res, 0);
	assert_memory_equal(x, a, TBLK);
	assert_memory_equal(x + TBLK, b, 2 * TBLK);
	assert_memory_equal(y, c, TBLK);
	free(a), free(b), free(c), free(x), free(y);
	fx_close(f);
}

/* The file shrinks under the disk: a read of the lost tail gets nothing, which must be an
 * error, not zeros, and the next I/O still works. */
static void short_read_at_eof(const struct xbd_disk_config *base)
{
	struct fixture *f = fx_open(NULL, base, 4);
	unsigned char *buf = t_buf(2 * TBLK);

	assert_int_equal(truncate(f->path, FILE_SIZE - TBLK), 0);
	assert_int_equal(t_sync(f->q, XBD_IO_READ, FILE_SIZE - 2 * TBLK, buf, 2 * TBLK), -EIO);
	assert_int_equal(t_sync(f->q, XBD_IO_READ, 0, buf, TBLK), 0);
	free(buf);
	fx_close(f);
}

static void test_short_read_eof(void **state)
{
	struct xbd_disk_config buffered = { .format = XBD_FORMAT_RAW, .no_direct = true };

	(void)state;
	short_read_at_eof(NULL);
	if (suite_engine_buffered_ok)
		short_read_at_eof(&buffered);
}

/* Every transfer reported short (fault filter): with O_DIRECT that is -EIO... */
static void test_short_direct_is_eio(void **state)
{
	struct fixture *f = fx_open("fault:error=short,op=write,count=1", NULL, 4);
	unsigned char *buf = t_buf(16 * TBLK);

	(void)state;
	t_fill(buf, 16 * TBLK, 7);
	assert_int_equal(t_sync(f->q, XBD_IO_WRITE, 0, buf, 16 * TBLK), -EIO);
	assert_int_equal(t_sync(f->q, XBD_IO_WRITE, 0, buf, 16 * TBLK), 0);
	free(buf);
	fx_close(f);
}

/* ... and on a buffered file the rest is done and the I/O succeeds with the right data. */
static void test_short_buffered_continues(void **state)
{
	struct xbd_disk_config buffered = { .format = XBD_FORMAT_RAW, .no_direct = true };
	struct fixture *f;
	unsigned char *buf, *back;

	(void)state;
	if (!suite_engine_buffered_ok)
		skip();
	f = fx_open("fault:error=short", &buffered, 4);
	assert_true(xbd_disk_get_info(f->d)->buffered);
	buf = t_buf(16 * TBLK);
	back = t_buf(16 * TBLK);
	t_fill(buf, 16 * TBLK, 8);
	assert_int_equal(t_sync(f->q, XBD_IO_WRITE, 4 * TBLK, buf, 16 * TBLK), 0);
	assert_int_equal(t_sync(f->q, XBD_IO_READ, 4 * TBLK, back, 16 * TBLK), 0);
	assert_memory_equal(buf, back, 16 * TBLK);
	free(buf);
	free(back);
	fx_close(f);
}

/* A real kernel error (a buffer the kernel cannot write: EFAULT) fails that I/O and nothing
 * else. (An unaligned offset is no test: ext4 then quietly does buffered I/O.) */
static void test_kernel_error_one_io(void **state)
{
	struct fixture *f = fx_open(NULL, NULL, 4);
	unsigned char *buf = t_buf(3 * TBLK);
	void *hole = mmap(NULL, TBLK, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct tio t[3];

	(void)state;
	assert_true(hole != MAP_FAILED);
	t_io(&t[0], XBD_IO_READ, 0, buf, TBLK);
	t_io(&t[1], XBD_IO_READ, TBLK, hole, TBLK);
	t_io(&t[2], XBD_IO_READ, 2 * TBLK, buf + 2 * TBLK, TBLK);
	for (int i = 0; i < 3; i++)
		assert_int_equal(t_queue(f->q, &t[i]), 0);
	t_run(f->q, t, 3);
	assert_int_equal(t[0].res, 0);
	assert_int_equal(t[1].res, -EFAULT);
	assert_int_equal(t[2].res, 0);
	munmap(hole, TBLK);
	free(buf);
	fx_close(f);
}

/* Injected ENOSPC on every second write, and EIO on one flush: errors for those I/Os only. */
static void test_injected_errors(void **state)
{
	struct fixture *f = fx_open("fault:op=write,error=ENOSPC,every=2", NULL, 8);
	struct fixture *g = fx_open("fault:op=flush,error=EIO,count=1", NULL, 8);
	unsigned char *buf = t_buf(TBLK);

	(void)state;
	for (unsigned int i = 0; i < 6; i++)
		assert_int_equal(t_sync(f->q, XBD_IO_WRITE, i * TBLK, buf, TBLK),
				 i % 2 ? 0 : -ENOSPC);
	assert_int_equal(t_sync(f->q, XBD_IO_READ, 0, buf, TBLK), 0);
	assert_int_equal(t_sync(f->q, XBD_IO_FLUSH, 0, NULL, 0), 0);
	assert_int_equal(t_sync(g->q, XBD_IO_FLUSH, 0, NULL, 0), -EIO);
	assert_int_equal(t_sync(g->q, XBD_IO_FLUSH, 0, NULL, 0), 0);
	free(buf);
	fx_close(f);
	fx_close(g);
}

/* Wake fds: reported when readable, not consumed, and alongside completions. */
static void test_wake_fds(void **state)
{
	struct fixture *f = fx_open(NULL, NULL, 4);
	int fds[2] = { eventfd(0, EFD_NONBLOCK), eventfd(0, EFD_NONBLOCK) };
	unsigned char *buf = t_buf(TBLK);
	unsigned int ready = 0;
	struct tio t;
	int n = 0;

	(void)state;
	assert_int_equal(xbd_sq_wait(f->q, fds, 2, &ready, true, 30), 0);
	assert_int_equal(ready, 0);
	assert_int_equal(eventfd_write(fds[1], 1), 0);
	for (int i = 0; i < 50 && !(ready & 2); i++)
		assert_true(xbd_sq_wait(f->q, fds, 2, &ready, true, 100) >= 0);
	assert_int_equal(ready, 2);
	t_io(&t, XBD_IO_READ, 0, buf, TBLK);
	assert_int_equal(t_queue(f->q, &t), 0);
	assert_int_equal(xbd_sq_submit(f->q), 0);
	/* The readable fd makes every wait return at once; the I/O completes meanwhile. */
	for (int i = 0; i < 5000 && !t.done; i++) {
		int r = xbd_sq_wait(f->q, fds, 2, &ready, true, 100);

		assert_true(r >= 0);
		n += r;
		assert_true(ready & 2); /* still readable: still reported */
		if (!t.done)
			usleep(1000);
	}
	assert_true(t.done);
	assert_int_equal(n, 1);
	assert_int_equal(t.res, 0);
	close(fds[0]);
	close(fds[1]);
	free(buf);
	fx_close(f);
}

static void ignore_completion(void *ctx, struct xbd_io *io, int64_t res)
{
	(void)io;
	(*(int *)ctx)++;
	assert_true(res >= 0);
}

/* The engine itself: never more in flight than its depth. */
static void test_engine_full(void **state)
{
	const struct xbd_engine_ops *ops = xbd_engine_find(suite_engine);
	char path[64];
	int fd, done = 0;
	struct xbd_engine *e;
	struct tio t[3];
	unsigned int ready;
	unsigned char *buf = t_buf(TBLK);

	(void)state;
	t_make_image(NULL, FILE_SIZE, path);
	fd = open(path, O_RDWR | O_DIRECT);
	assert_true(fd >= 0);
	assert_int_equal(ops->init(&e, &(struct xbd_engine_config){ .fd = fd, .depth = 2,
				   .complete = ignore_completion, .ctx = &done }), 0);
	for (int i = 0; i < 3; i++)
		t_io(&t[i], XBD_IO_READ, 0, buf, TBLK);
	assert_int_equal(ops->queue(e, &t[0].io), 0);
	assert_int_equal(ops->queue(e, &t[1].io), 0);
	assert_int_equal(ops->queue(e, &t[2].io), -EBUSY);
	assert_int_equal(ops->inflight(e), 2);
	assert_int_equal(ops->submit(e), 0);
	for (int i = 0; i < 100 && done < 2; i++)
		assert_true(ops->wait(e, NULL, 0, &ready, true, 50) >= 0);
	assert_int_equal(done, 2);
	assert_int_equal(ops->inflight(e), 0);
	ops->fini(e);
	close(fd);
	unlink(path);
	free(buf);
}

struct model_op {
	struct tio t;
	unsigned int block;
	uint64_t tag;
};

/* One round of the random workload: up to 32 I/Os on distinct blocks, checked on completion. */
static void random_round(struct fixture *f, uint64_t *tags, unsigned char *bufs,
			 unsigned int *seed, uint64_t *next_tag)
{
	struct model_op ops[32];
	bool used[FILE_SIZE / TBLK] = { false };
	unsigned int n = 1 + (unsigned int)rand_r(seed) % 32;

	for (unsigned int i = 0; i < n; i++) {
		unsigned int b, kind = (unsigned int)rand_r(seed) % 16;

		do
			b = (unsigned int)rand_r(seed) % (FILE_SIZE / TBLK);
		while (used[b]);
		used[b] = true;
		ops[i].block = b;
		ops[i].tag = kind < 8 ? (*next_tag)++ : tags[b];
		if (kind < 8)
			t_fill(bufs + i * TBLK, TBLK, ops[i].tag);
		t_io(&ops[i].t, kind < 8 ? XBD_IO_WRITE : kind < 15 ? XBD_IO_READ : XBD_IO_FLUSH,
		     (uint64_t)b * TBLK, kind < 15 ? bufs + i * TBLK : NULL, kind < 15 ? TBLK : 0);
		assert_int_equal(t_queue(f->q, &ops[i].t), 0);
	}
	for (unsigned int i = 0; i < n; i++) {
		t_run(f->q, &ops[i].t, 1);
		assert_int_equal(ops[i].t.res, 0);
		if (ops[i].t.io.op == XBD_IO_WRITE)
			tags[ops[i].block] = ops[i].tag;
		else if (ops[i].t.io.op == XBD_IO_READ && tags[ops[i].block] == UINT64_MAX)
			assert_true(t_is_zero(bufs + i * TBLK, TBLK));
		else if (ops[i].t.io.op == XBD_IO_READ)
			assert_true(t_check(bufs + i * TBLK, TBLK, tags[ops[i].block]));
	}
}

static void test_random_verified(void **state)
{
	struct fixture *f = fx_open(NULL, NULL, 32);
	uint64_t *tags = malloc(FILE_SIZE / TBLK * sizeof(*tags));
	unsigned char *bufs = t_buf(32 * TBLK);
	unsigned int seed = 42;
	uint64_t next_tag = 1;

	(void)state;
	for (unsigned int i = 0; i < FILE_SIZE / TBLK; i++)
		tags[i] = UINT64_MAX; /* never written: zeros */
	for (unsigned int round = 0; round < 150; round++)
		random_round(f, tags, bufs, &seed, &next_tag);
	free(tags);
	free(bufs);
	fx_close(f);
}

/* No flush offered: the descriptor is O_DSYNC and writes still work. */
static void test_no_flush_dsync(void **state)
{
	struct xbd_disk_config cfg = { .format = XBD_FORMAT_RAW, .no_flush = true };
	struct fixture *f = fx_open(NULL, &cfg, 4);
	unsigned char *buf = t_buf(TBLK);

	(void)state;
	assert_false(xbd_disk_get_info(f->d)->can_flush);
	t_fill(buf, TBLK, 5);
	assert_int_equal(t_sync(f->q, XBD_IO_WRITE, 0, buf, TBLK), 0);
	memset(buf, 0, TBLK);
	assert_int_equal(t_sync(f->q, XBD_IO_READ, 0, buf, TBLK), 0);
	assert_true(t_check(buf, TBLK, 5));
	free(buf);
	fx_close(f);
}

int engine_suite_run(const char *engine, int buffered_ok, const struct CMUnitTest *extra,
		     size_t n_extra)
{
	static const struct CMUnitTest common[] = {
		cmocka_unit_test(test_batch_rw_flush),
		cmocka_unit_test(test_vectored),
		cmocka_unit_test(test_short_read_eof),
		cmocka_unit_test(test_short_direct_is_eio),
		cmocka_unit_test(test_short_buffered_continues),
		cmocka_unit_test(test_kernel_error_one_io),
		cmocka_unit_test(test_injected_errors),
		cmocka_unit_test(test_wake_fds),
		cmocka_unit_test(test_engine_full),
		cmocka_unit_test(test_random_verified),
		cmocka_unit_test(test_no_flush_dsync),
	};
	size_t n = sizeof(common) / sizeof(common[0]);
	struct CMUnitTest *all = calloc(n + n_extra, sizeof(*all));
	int r;

	if (!xbd_engine_find(engine)) {
		printf("engine %s is not built: skipped\n", engine);
		return 77;
	}
	suite_engine = engine;
	suite_engine_buffered_ok = buffered_ok;
	memcpy(all, common, sizeof(common));
	if (n_extra)
		memcpy(all + n, extra, n_extra * sizeof(*extra));
	r = _cmocka_run_group_tests(engine, all, n + n_extra, NULL, NULL);
	free(all);
	return r;
}
