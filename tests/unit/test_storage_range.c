/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Discard, secure erase and write-zeroes in bounded steps (src/io/range.c): the pure chunk
 * sizing (aligned chunks, halving after a slow call, doubling after a fast full one, within the
 * driver's bounds), and the storage queue driving a recording test driver: a range op goes to
 * range_step in contiguous parts over several waits, each wait does a bounded amount of it,
 * ops complete oldest first, a driver error or a driver that makes no progress ends the op,
 * and a stop makes everything unfinished (and anything queued later) complete with -ECANCELED
 * at the next wait. Then the real drivers: a discard of a large sparse file and a secure erase
 * of an 8 GiB memory disk complete, and zero what they covered.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "io/io_internal.h"
#include "test_storage_util.h"
#include "io/driver.h"

#define MIB (1ull << 20)
#define GIB (1ull << 30)
#define MS (1000ull * 1000)
#define MAX_CALLS 4096

/* ---- the pure chunk sizing ---- */

static void test_chunk_len(void **state)
{
	struct xbd_range_chunk c = { .min = MIB, .max = GIB, .cur = 64 * MIB };
	struct xbd_range_chunk whole = { 0 };

	(void)state;
	/* Chunks end at multiples of their size, and never pass the end of the range. */
	assert_int_equal(xbd_range_chunk_len(&c, 0, 10 * GIB), 64 * MIB);
	assert_int_equal(xbd_range_chunk_len(&c, 10 * MIB, 10 * GIB), 54 * MIB);
	assert_int_equal(xbd_range_chunk_len(&c, 64 * MIB - 512, 10 * GIB), 512);
	assert_int_equal(xbd_range_chunk_len(&c, 128 * MIB, 3 * MIB), 3 * MIB);
	/* A driver that bounds itself gets the whole remainder. */
	assert_int_equal(xbd_range_chunk_len(&whole, 12345 * 512, 1ull << 50), 1ull << 50);
}

static void test_chunk_feedback(void **state)
{
	struct xbd_range_chunk c = { .min = MIB, .max = 256 * MIB, .cur = 64 * MIB };
	struct xbd_range_chunk whole = { 0 };

	(void)state;
	/* 350 ms for 64 MiB: 16 MiB would take about 88 ms, under the 100 ms target. */
	xbd_range_chunk_feedback(&c, 64 * MIB, 350 * MS);
	assert_int_equal(c.cur, 16 * MIB);
	/* Very slow: down to the minimum and no further. */
	xbd_range_chunk_feedback(&c, 16 * MIB, 100000 * MS);
	assert_int_equal(c.cur, MIB);
	/* Fast on a full chunk: doubles, up to the maximum. */
	for (int i = 0; i < 20; i++)
		xbd_range_chunk_feedback(&c, c.cur, 1 * MS);
	assert_int_equal(c.cur, 256 * MIB);
	/* In between (50 ms): stays. A fast short tail says nothing about a full chunk. */
	c.cur = 32 * MIB;
	xbd_range_chunk_feedback(&c, 32 * MIB, 50 * MS);
	assert_int_equal(c.cur, 32 * MIB);
	xbd_range_chunk_feedback(&c, 4 * MIB, 1 * MS);
	assert_int_equal(c.cur, 32 * MIB);
	/* Whole calls: nothing to adapt. */
	xbd_range_chunk_feedback(&whole, GIB, 10000 * MS);
	assert_int_equal(whole.cur, 0);
}

/* ---- the queue, on a recording driver ---- */

struct rec {
	uint64_t off[MAX_CALLS], len[MAX_CALLS];
	unsigned int calls;
	uint64_t step_max;      /* the most one call does (0: all it is given) */
	unsigned int sleep_us;  /* how long each call takes */
	int fail_at;            /* the call that fails with -EIO (-1: none) */
	int64_t force;          /* >= 0: return this instead */
};

static struct rec rec;

static int rec_open(struct xbd_disk *d)
{
	(void)d;
	return 0;
}

static void rec_close(struct xbd_disk *d)
{
	(void)d;
}

static int rec_submit(struct xbd_sq *q, struct xbd_io *io)
{
	xbd_sq_complete(q, io, 0);
	return 0;
}

static int64_t rec_step(struct xbd_sq *q, const struct xbd_io *io, uint64_t off, uint64_t len)
{
	unsigned int i = rec.calls++;

	(void)q;
	(void)io;
	assert_true(i < MAX_CALLS);
	rec.off[i] = off;
	rec.len[i] = len;
	if (rec.sleep_us)
		usleep(rec.sleep_us);
	if (rec.fail_at == (int)i)
		return -EIO;
	if (rec.force >= 0)
		return rec.force;
	return (int64_t)(rec.step_max && len > rec.step_max ? rec.step_max : len);
}

static const struct xbd_driver_ops rec_driver = {
	.name = "rec", .open = rec_open, .close = rec_close, .submit = rec_submit,
	.range_step = rec_step,
};

static struct xbd_disk rec_disk;

static struct xbd_sq *rec_queue(const struct xbd_range_chunk *c)
{
	struct xbd_sq *q = NULL;

	memset(&rec, 0, sizeof(rec));
	rec.fail_at = -1;
	rec.force = -1;
	memset(&rec_disk, 0, sizeof(rec_disk));
	rec_disk.fd = -1;
	rec_disk.drv = &rec_driver;
	rec_disk.info = (struct xbd_disk_info){ .size = 1ull << 50, .sector_size = 512 };
	for (unsigned int k = 0; c && k < XBD_RANGE_KINDS; k++)
		rec_disk.range_chunk[k] = *c;
	assert_int_equal(xbd_sq_open(&rec_disk, 8, &q), 0);
	return q;
}

static int wait_once(struct xbd_sq *q)
{
	unsigned int ready;

	/* A blocking wait must come back at once: range work is pending. */
	return xbd_sq_wait(q, NULL, 0, &ready, true, 60000);
}

static unsigned int waits_until_done(struct xbd_sq *q, struct tio *t, unsigned int n)
{
	unsigned int waits = 0;

	for (;;) {
		bool all = true;

		for (unsigned int i = 0; i < n; i++)
			all &= t[i].done;
		if (all)
			return waits;
		assert_true(wait_once(q) >= 0);
		assert_true(++waits < 100000);
	}
}

static void test_steps_cover_the_range(void **state)
{
	struct xbd_range_chunk c = { .min = MIB, .max = GIB, .cur = 64 * MIB };
	struct xbd_sq *q = rec_queue(&c);
	struct tio t;
	uint64_t pos = 3 * MIB;

	(void)state;
	t_io(&t, XBD_IO_DISCARD, pos, NULL, 20 * GIB);
	assert_int_equal(t_queue(q, &t), 0);
	assert_int_equal(xbd_sq_inflight(q), 1);
	waits_until_done(q, &t, 1);
	assert_int_equal(t.res, 0);
	assert_int_equal(xbd_sq_inflight(q), 0);
	/* Contiguous parts from start to end; none over the driver's maximum; the first ends at
	 * a chunk boundary; fast calls made the chunks grow. */
	for (unsigned int i = 0; i < rec.calls; i++) {
		assert_int_equal(rec.off[i], pos);
		assert_true(rec.len[i] > 0 && rec.len[i] <= GIB);
		pos += rec.len[i];
	}
	assert_int_equal(pos, 3 * MIB + 20 * GIB);
	assert_int_equal(rec.len[0], 61 * MIB);
	assert_int_equal(rec.len[rec.calls / 2], GIB);
	xbd_sq_close(q);
}

static void test_driver_may_stop_short(void **state)
{
	struct xbd_sq *q = rec_queue(NULL); /* no bounds: the driver bounds itself */
	struct tio t;

	(void)state;
	rec.step_max = 1 * GIB;
	t_io(&t, XBD_IO_WRITE_ZEROES, 0, NULL, 10 * GIB + 4096);
	assert_int_equal(t_queue(q, &t), 0);
	waits_until_done(q, &t, 1);
	assert_int_equal(t.res, 0);
	assert_int_equal(rec.calls, 11);
	/* Each call was offered everything left. */
	assert_int_equal(rec.len[0], 10 * GIB + 4096);
	assert_int_equal(rec.len[10], 4096);
	xbd_sq_close(q);
}

/* Every wait does at most XBD_RANGE_PASS_NS of range work plus one call: with calls of 4 ms,
 * at most 3 per wait, so a range of 12 calls takes at least 4 waits. */
static void test_each_wait_is_bounded(void **state)
{
	struct xbd_sq *q = rec_queue(NULL);
	unsigned int before, most = 0, waits = 0;
	struct tio t;

	(void)state;
	rec.step_max = GIB;
	rec.sleep_us = 4000;
	t_io(&t, XBD_IO_DISCARD, 0, NULL, 12 * GIB);
	assert_int_equal(t_queue(q, &t), 0);
	while (!t.done) {
		before = rec.calls;
		assert_true(wait_once(q) >= 0);
		waits++;
		if (rec.calls - before > most)
			most = rec.calls - before;
	}
	assert_int_equal(t.res, 0);
	assert_int_equal(rec.calls, 12);
	assert_true(most >= 1 && most <= 3);
	assert_true(waits >= 4);
	xbd_sq_close(q);
}

static void test_fifo_and_errors(void **state)
{
	struct xbd_sq *q = rec_queue(NULL);
	struct tio t[4];

	(void)state;
	rec.step_max = GIB;
	rec.fail_at = 1; /* the second call: the first op's second part */
	t_io(&t[0], XBD_IO_DISCARD, 0, NULL, 3 * GIB);
	t_io(&t[1], XBD_IO_DISCARD, 0, NULL, 2 * GIB);
	t_io(&t[2], XBD_IO_SECURE_ERASE, 0, NULL, GIB);
	t_io(&t[3], XBD_IO_FLUSH, 0, NULL, 0); /* not a range op: straight to submit */
	for (int i = 0; i < 4; i++)
		assert_int_equal(t_queue(q, &t[i]), 0);
	waits_until_done(q, t, 4);
	assert_int_equal(t[0].res, -EIO);
	assert_int_equal(t[1].res, 0);
	assert_int_equal(t[2].res, 0);
	assert_int_equal(t[3].res, 0);
	/* The failed op was abandoned; the next one started from its own beginning. */
	assert_int_equal(rec.calls, 2 + 2 + 1);
	assert_int_equal(rec.off[2], 0);
	/* A driver that makes no progress, or claims more than it was given: -EIO, no spin. */
	rec.force = 0;
	assert_int_equal(t_sync(q, XBD_IO_DISCARD, 0, NULL, GIB), -EIO);
	rec.force = 2 * (int64_t)GIB;
	assert_int_equal(t_sync(q, XBD_IO_DISCARD, 0, NULL, GIB), -EIO);
	assert_int_equal(xbd_sq_inflight(q), 0);
	xbd_sq_close(q);
}

static void test_stop_abandons_the_rest(void **state)
{
	struct xbd_sq *q = rec_queue(NULL);
	struct tio t[3], late;
	unsigned int calls;

	(void)state;
	rec.step_max = GIB;
	rec.sleep_us = 4000;
	for (int i = 0; i < 3; i++) {
		t_io(&t[i], XBD_IO_DISCARD, 0, NULL, 1000 * GIB);
		assert_int_equal(t_queue(q, &t[i]), 0);
	}
	assert_true(wait_once(q) >= 0);
	assert_false(t[0].done);
	calls = rec.calls;
	assert_true(calls >= 1);
	xbd_sq_stop_ranges(q);
	/* One wait answers all of them, without another driver call. */
	assert_int_equal(wait_once(q), 3);
	for (int i = 0; i < 3; i++) {
		assert_true(t[i].done);
		assert_int_equal(t[i].res, -ECANCELED);
	}
	assert_int_equal(rec.calls, calls);
	/* Queued after the stop: answered the same way. */
	t_io(&late, XBD_IO_WRITE_ZEROES, 0, NULL, GIB);
	assert_int_equal(t_queue(q, &late), 0);
	waits_until_done(q, &late, 1);
	assert_int_equal(late.res, -ECANCELED);
	assert_int_equal(rec.calls, calls);
	assert_int_equal(xbd_sq_inflight(q), 0);
	xbd_sq_close(q);
}

/* ---- the real drivers ---- */

static void test_file_discard_of_a_big_sparse_file(void **state)
{
	const uint64_t size = 64 * GIB;
	unsigned char *buf = t_buf(TBLK);
	struct xbd_disk *d;
	struct xbd_sq *q;
	char path[64];
	struct tio t;

	(void)state;
	t_make_image(NULL, size, path);
	d = t_open(path, NULL, NULL, NULL);
	assert_int_equal(xbd_sq_open(d, 4, &q), 0);
	for (uint64_t off = 0; off < size; off += 7 * GIB + 12 * TBLK) {
		t_fill(buf, TBLK, off);
		assert_int_equal(t_sync(q, XBD_IO_WRITE, off, buf, TBLK), 0);
	}
	t_io(&t, XBD_IO_DISCARD, 0, NULL, size);
	assert_int_equal(t_queue(q, &t), 0);
	waits_until_done(q, &t, 1);
	assert_int_equal(t.res, 0);
	for (uint64_t off = 0; off < size; off += 7 * GIB + 12 * TBLK) {
		memset(buf, 0xff, TBLK);
		assert_int_equal(t_sync(q, XBD_IO_READ, off, buf, TBLK), 0);
		assert_true(t_is_zero(buf, TBLK));
	}
	xbd_sq_close(q);
	xbd_disk_close(d);
	unlink(path);
	free(buf);
}

static void test_memory_erase_of_8_gib(void **state)
{
	struct xbd_disk *d = t_open(NULL, NULL, "memory:size=8G", NULL);
	unsigned char *buf = t_buf(TBLK);
	const uint64_t last = (8ull << 30) - TBLK;
	struct xbd_sq *q;

	(void)state;
	assert_int_equal(xbd_sq_open(d, 4, &q), 0);
	t_fill(buf, TBLK, 9);
	assert_int_equal(t_sync(q, XBD_IO_WRITE, last, buf, TBLK), 0);
	assert_int_equal(t_sync(q, XBD_IO_WRITE, 0, buf, TBLK), 0);
	/* In chunks that grow to a GiB (64 MiB first, aligned), over the waits t_sync makes. */
	assert_int_equal(t_sync(q, XBD_IO_SECURE_ERASE, 0, NULL, 8ull << 30), 0);
	assert_int_equal(t_sync(q, XBD_IO_READ, last, buf, TBLK), 0);
	assert_true(t_is_zero(buf, TBLK));
	assert_int_equal(t_sync(q, XBD_IO_READ, 0, buf, TBLK), 0);
	assert_true(t_is_zero(buf, TBLK));
	xbd_sq_close(q);
	xbd_disk_close(d);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chunk_len),
		cmocka_unit_test(test_chunk_feedback),
		cmocka_unit_test(test_steps_cover_the_range),
		cmocka_unit_test(test_driver_may_stop_short),
		cmocka_unit_test(test_each_wait_is_bounded),
		cmocka_unit_test(test_fifo_and_errors),
		cmocka_unit_test(test_stop_abandons_the_rest),
		cmocka_unit_test(test_file_discard_of_a_big_sparse_file),
		cmocka_unit_test(test_memory_erase_of_8_gib),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
