/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Durability, proved with the power-cut filter: random batches of writes (some FUA), flushes
 * (some racing with writes they must not cover), and reads, then a simulated power cut that
 * drops and reorders every write not yet durable. Reopened without the filter, every block
 * must hold, sector by sector (a sector is all a disk writes atomically), what a flush or FUA
 * made durable or something written after it: never older data. Runs through every engine,
 * many seeds, and checks that cuts really lost writes (else the test proves nothing). Without
 * flush (O_DSYNC) nothing may be lost at all.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "test_storage_util.h"
#include "io/io.h"

#define NBLK 128
#define MAX_CAND 64

struct model {
	uint64_t durable[NBLK];          /* tag made durable; 0: zeros */
	uint64_t cand[NBLK][MAX_CAND];   /* tags written since, in order */
	unsigned int ncand[NBLK];
	uint64_t next_tag;
};

struct run {
	char path[64];
	struct xbd_disk *d;
	struct xbd_sq *q;
	struct model m;
	unsigned int seed;
	bool dsync;
	unsigned char *buf;              /* NBLK blocks */
};

static unsigned int rnd(struct run *r, unsigned int n)
{
	return (unsigned int)rand_r(&r->seed) % n;
}

static void add_cand(struct model *m, unsigned int b, uint64_t tag)
{
	if (m->ncand[b] == MAX_CAND) {
		memmove(m->cand[b], m->cand[b] + 1, (MAX_CAND - 1) * sizeof(uint64_t));
		m->ncand[b]--;
	}
	m->cand[b][m->ncand[b]++] = tag;
}

static uint64_t latest(const struct model *m, unsigned int b)
{
	return m->ncand[b] ? m->cand[b][m->ncand[b] - 1] : m->durable[b];
}

/* Everything written so far is durable (a completed flush after it). */
static void all_durable(struct model *m)
{
	for (unsigned int b = 0; b < NBLK; b++) {
		m->durable[b] = latest(m, b);
		m->ncand[b] = 0;
	}
}

/* The model learns of a completed write of `len` blocks from `b` with tags from `tag`. */
static void written(struct run *r, unsigned int b, unsigned int len, uint64_t tag, bool fua)
{
	for (unsigned int j = 0; j < len; j++) {
		if (fua || r->dsync) {
			r->m.durable[b + j] = tag + j;
			r->m.ncand[b + j] = 0;
		} else {
			add_cand(&r->m, b + j, tag + j);
		}
	}
}

/* Up to 8 writes of 1 to 4 blocks, on distinct blocks; with a flush queued alongside when
 * `racing_flush` (it covers none of them, only what completed before it was queued). */
static void write_batch(struct run *r, bool racing_flush)
{
	struct tio t[9];
	unsigned int start[8], len[8], n = 1 + rnd(r, 8), k = 0;
	uint64_t tag[8];
	bool used[NBLK] = { false }, fua[8];

	for (unsigned int i = 0; i < n; i++) {
		unsigned int b = rnd(r, NBLK - 4), l = 1 + rnd(r, 4), j;

		for (j = 0; j < l && !used[b + j]; j++)
			;
		if (j < l)
			continue;
		for (j = 0; j < l; j++) {
			used[b + j] = true;
			t_fill(r->buf + (b + j) * TBLK, TBLK, r->m.next_tag + j);
		}
		start[k] = b;
		len[k] = l;
		tag[k] = r->m.next_tag;
		fua[k] = rnd(r, 8) == 0;
		t_io(&t[k], XBD_IO_WRITE, (uint64_t)b * TBLK, r->buf + b * TBLK, l * TBLK);
		t[k].io.flags = fua[k] ? XBD_IO_FUA : 0;
		assert_int_equal(t_queue(r->q, &t[k]), 0);
		r->m.next_tag += l;
		k++;
	}
	if (racing_flush) {
		t_io(&t[k], XBD_IO_FLUSH, 0, NULL, 0);
		assert_int_equal(t_queue(r->q, &t[k]), 0);
		all_durable(&r->m); /* what completed before it was queued */
	}
	t_run(r->q, t, k + racing_flush);
	for (unsigned int i = 0; i < k + racing_flush; i++)
		assert_int_equal(t[i].res, 0);
	for (unsigned int i = 0; i < k; i++)
		written(r, start[i], len[i], tag[i], fua[i]);
}

static void flush(struct run *r)
{
	assert_int_equal(t_sync(r->q, XBD_IO_FLUSH, 0, NULL, 0), 0);
	all_durable(&r->m);
}

static bool holds(const unsigned char *blk, uint64_t tag)
{
	return tag ? t_check(blk, TBLK, tag) : t_is_zero(blk, TBLK);
}

/* Before the cut every block reads as its latest write. */
static void read_check(struct run *r)
{
	unsigned char *blk = t_buf(TBLK);

	for (unsigned int i = 0; i < 4; i++) {
		unsigned int b = rnd(r, NBLK);

		assert_int_equal(t_sync(r->q, XBD_IO_READ, (uint64_t)b * TBLK, blk, TBLK), 0);
		assert_true(holds(blk, latest(&r->m, b)));
	}
	free(blk);
}

/* Sector `sec` of blk as a block holding `tag` would have it. */
static bool sector_holds(const unsigned char *blk, unsigned int sec, uint64_t tag)
{
	unsigned char want[TBLK];

	if (tag)
		t_fill(want, TBLK, tag);
	else
		memset(want, 0, TBLK);
	return memcmp(blk + sec * 512, want + sec * 512, 512) == 0;
}

/* After the cut, each 512-byte sector on its own (all a disk writes atomically): its latest
 * write (0 returned), or the durable data or a later write (1: legitimately lost). */
static unsigned int check_sector(const struct model *m, unsigned int b, unsigned int sec,
				 const unsigned char *blk)
{
	if (sector_holds(blk, sec, latest(m, b)))
		return 0;
	if (sector_holds(blk, sec, m->durable[b]))
		return 1;
	for (unsigned int i = 0; i < m->ncand[b]; i++)
		if (sector_holds(blk, sec, m->cand[b][i]))
			return 1;
	fail_msg("block %u sector %u holds data neither durable nor written after", b, sec);
	return 0;
}

static unsigned int check_block(const struct model *m, unsigned int b, const unsigned char *blk)
{
	unsigned int lost = 0;

	for (unsigned int sec = 0; sec < TBLK / 512; sec++)
		lost += check_sector(m, b, sec, blk);
	return lost;
}

static unsigned int verify_after_cut(struct run *r, const char *engine)
{
	struct xbd_disk *d = t_open(r->path, engine, NULL, NULL);
	unsigned char *all = t_buf(NBLK * TBLK);
	unsigned int lost = 0;
	struct xbd_sq *q;

	assert_int_equal(xbd_sq_open(d, 4, &q), 0);
	assert_int_equal(t_sync(q, XBD_IO_READ, 0, all, NBLK * TBLK), 0);
	for (unsigned int b = 0; b < NBLK; b++)
		lost += check_block(&r->m, b, all + b * TBLK);
	xbd_sq_close(q);
	xbd_disk_close(d);
	free(all);
	return lost;
}

/* One run: a random history, a cut, the check. Returns the sectors that lost their latest. */
static unsigned int one_run(const char *engine, unsigned int seed, bool dsync)
{
	struct xbd_disk_config cfg = { .format = XBD_FORMAT_RAW, .no_flush = dsync };
	struct run *r = calloc(1, sizeof(*r));
	struct xbd_powercut_result res;
	unsigned char *blk = t_buf(TBLK);
	unsigned int lost;

	assert_non_null(r);
	r->seed = seed;
	r->dsync = dsync;
	r->m.next_tag = 1;
	r->buf = t_buf(NBLK * TBLK);
	t_make_image(NULL, NBLK * TBLK, r->path);
	r->d = t_open(r->path, engine, "powercut", &cfg);
	assert_int_equal(xbd_sq_open(r->d, 16, &r->q), 0);
	for (unsigned int step = 0; step < 40; step++) {
		unsigned int what = rnd(r, 10);

		if (what < 6)
			write_batch(r, false);
		else if (what < 7 && !dsync)
			write_batch(r, true);
		else if (what < 8 && !dsync)
			flush(r);
		else
			read_check(r);
	}
	assert_int_equal(xbd_powercut(r->d, seed, &res), 0);
	assert_int_equal(t_sync(r->q, XBD_IO_READ, 0, blk, TBLK), -EIO); /* the disk is gone */
	assert_int_equal(xbd_powercut(r->d, seed, &res), 0); /* nothing left to lose */
	assert_int_equal(res.pending_writes, 0);
	xbd_sq_close(r->q);
	xbd_disk_close(r->d);
	lost = verify_after_cut(r, engine);
	unlink(r->path);
	free(r->buf);
	free(r);
	free(blk);
	return lost;
}

static void run_engine(const char *engine)
{
	unsigned int lost = 0;

	if (!xbd_engine_find(engine))
		return;
	for (unsigned int seed = 1; seed <= 15; seed++)
		lost += one_run(engine, seed, false);
	print_message("%s: %u sectors lost their latest write over 15 cuts\n", engine, lost);
	assert_true(lost > 0); /* the cuts really dropped writes: the check above means something */
	for (unsigned int seed = 1; seed <= 3; seed++)
		assert_int_equal(one_run(engine, seed, true), 0);
}

static void test_powercut_uring(void **state)
{
	(void)state;
	run_engine("io_uring");
}

static void test_powercut_libaio(void **state)
{
	(void)state;
	run_engine("libaio");
}

static void test_powercut_threads(void **state)
{
	(void)state;
	run_engine("threads");
}

/* The cut refuses to run with I/O in flight, and only exists on a powercut disk. */
static void test_preconditions(void **state)
{
	char path[64];
	struct xbd_disk *d;
	struct xbd_sq *q;
	struct tio t;
	unsigned char *buf = t_buf(TBLK);

	(void)state;
	t_make_image(NULL, 1 << 20, path);
	d = t_open(path, NULL, NULL, NULL);
	assert_int_equal(xbd_powercut(d, 1, NULL), -EINVAL);
	xbd_disk_close(d);
	d = t_open(path, "threads", "powercut:max-bytes=64K", NULL);
	assert_int_equal(xbd_sq_open(d, 4, &q), 0);
	assert_int_equal(t_sync(q, XBD_IO_WRITE, 0, buf, TBLK), 0);
	t_io(&t, XBD_IO_READ, 0, buf, TBLK);
	assert_int_equal(t_queue(q, &t), 0);
	assert_int_equal(xbd_powercut(d, 1, NULL), -EBUSY);
	t_run(q, &t, 1);
	{
		unsigned char *big = t_buf(64 * 1024);

		/* Over max-bytes of remembered data: refused rather than forgotten. */
		assert_int_equal(t_sync(q, XBD_IO_WRITE, 0, big, 64 * 1024), -ENOMEM);
		free(big);
	}
	assert_int_equal(xbd_powercut(d, 1, NULL), 0);
	xbd_sq_close(q);
	xbd_disk_close(d);
	unlink(path);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_powercut_uring),
		cmocka_unit_test(test_powercut_libaio),
		cmocka_unit_test(test_powercut_threads),
		cmocka_unit_test(test_preconditions),
	};

	return cmocka_run_group_tests_name("storage_powercut", tests, NULL, NULL);
}
