/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The in-flight journal (src/ring/journal.c, journal_plan.c; docs/restart.md): layout, the
 * data path's records, every start-up check, and the replay rule's cases (torn push, opposite
 * tear, a torn record release, an uncommitted record), each as its own test.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "xenblkd/journal.h"

#define NE 32u

struct fx {
	struct xbd_journal_geom g;
	size_t size;
	void *mem;
	struct xbd_jq j;
	struct xbd_jq_plan plan;
	const char *why;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	f->g = (struct xbd_journal_geom){ .nr_queues = 2, .ring_pages = 1, .proto = 0,
					  .nr_ents = NE, .max_segs = 16, .fe_domid = 3,
					  .devid = 51712 };
	f->g.ring_ref0[0] = 8;
	f->g.ring_ref0[1] = 9;
	f->g.port[0] = 5;
	f->g.port[1] = 6;
	f->size = xbd_journal_size(&f->g);
	f->mem = calloc(1, f->size);
	assert_int_equal(xbd_journal_format(f->mem, f->size, &f->g), 0);
	xbd_journal_queue(f->mem, 0, &f->j);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	free(f->mem);
	free(f);
	return 0;
}

static blkif_request_t req(uint64_t id)
{
	blkif_request_t r;

	memset(&r, 0, sizeof(r));
	r.operation = BLKIF_OP_WRITE;
	r.id = id;
	return r;
}

static int check(struct fx *f)
{
	f->why = NULL;
	return xbd_journal_check(f->mem, f->size, &f->g, &f->why);
}

static int plan(struct fx *f, uint32_t rsp_prod, uint32_t req_prod)
{
	f->why = NULL;
	return xbd_jq_plan(&f->j, rsp_prod, req_prod, &f->plan, &f->why);
}

static void test_size_bounds(void **state)
{
	struct fx *f = *state;
	struct xbd_journal_geom g = f->g;

	assert_true(f->size == 64 + 2 * (64 + NE * 32 + NE * (128 + 16 * 8)));
	g.nr_ents = 24;
	assert_int_equal(xbd_journal_size(&g), 0);
	g = f->g;
	g.nr_queues = 0;
	assert_int_equal(xbd_journal_size(&g), 0);
	g = f->g;
	g.ring_pages = 32;
	assert_int_equal(xbd_journal_size(&g), 0);
	g = f->g;
	g.proto = 3;
	assert_int_equal(xbd_journal_size(&g), 0);
	g = f->g;
	g.max_segs = 4097;
	assert_int_equal(xbd_journal_size(&g), 0);
	assert_int_equal(xbd_journal_format(f->mem, f->size - 1, &f->g), -EINVAL);
}

static void test_check_ok(void **state)
{
	assert_int_equal(check(*state), 0);
}

static void test_check_magic(void **state)
{
	struct fx *f = *state;

	xbd_journal_invalidate(f->mem);
	assert_int_equal(check(f), -EUCLEAN);
	assert_non_null(strstr(f->why, "magic"));
}

static void test_check_short(void **state)
{
	struct fx *f = *state;

	f->why = NULL;
	assert_int_equal(xbd_journal_check(f->mem, 10, &f->g, &f->why), -EUCLEAN);
	assert_int_equal(xbd_journal_check(f->mem, f->size - 1, &f->g, &f->why), -EUCLEAN);
	assert_non_null(strstr(f->why, "sizes"));
}

static void test_check_version(void **state)
{
	struct fx *f = *state;

	((struct xbd_journal_hdr *)f->mem)->version = 2;
	assert_int_equal(check(f), -EUCLEAN);
	assert_non_null(strstr(f->why, "version"));
	((struct xbd_journal_hdr *)f->mem)->version = 1;
	((struct xbd_journal_hdr *)f->mem)->header_size = 72;
	assert_int_equal(check(f), -EUCLEAN);
	assert_non_null(strstr(f->why, "header size"));
}

static void test_check_geometry(void **state)
{
	struct fx *f = *state;
	struct xbd_journal_geom g = f->g;

	f->g.ring_pages = 2;
	assert_int_equal(check(f), -EUCLEAN);
	assert_non_null(strstr(f->why, "geometry"));
	f->g = g;
	f->g.proto = 1;
	assert_int_equal(check(f), -EUCLEAN);
	f->g = g;
	f->g.nr_queues = 1;
	assert_int_equal(check(f), -EUCLEAN);
	f->g = g;
	f->g.devid = 1;
	assert_int_equal(check(f), -EUCLEAN);
	assert_non_null(strstr(f->why, "another device"));
	f->g = g;
	f->g.fe_domid = 4;
	assert_int_equal(check(f), -EUCLEAN);
}

static void test_check_sizes(void **state)
{
	struct fx *f = *state;
	struct xbd_journal_hdr *h = f->mem;

	h->record_size += 8;
	assert_int_equal(check(f), -EUCLEAN);
	h->record_size -= 8;
	h->queue_size += 8;
	assert_int_equal(check(f), -EUCLEAN);
	h->queue_size -= 8;
	h->size += 8;
	assert_int_equal(check(f), -EUCLEAN);
	assert_non_null(strstr(f->why, "sizes"));
}

static void test_check_ring_identity(void **state)
{
	struct fx *f = *state;

	f->g.ring_ref0[1] = 10;
	assert_int_equal(check(f), -EUCLEAN);
	assert_non_null(strstr(f->why, "reconnected"));
	f->g.ring_ref0[1] = 9;
	f->g.port[0] = 7;
	assert_int_equal(check(f), -EUCLEAN);
}

static void test_plan_empty(void **state)
{
	struct fx *f = *state;

	assert_int_equal(plan(f, 0, 0), 0);
	assert_int_equal(f->plan.nr_pending, 0);
	assert_int_equal(f->plan.req_cons, 0);
	assert_int_equal(f->plan.rsp_from, 0);
	/* New requests waiting are the ring's business, not the journal's. */
	assert_int_equal(plan(f, 0, 5), 0);
}

/* Consume ids 0..n-1 at seq start.., into records 0..n-1. */
static void consume(struct fx *f, uint32_t start, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		blkif_request_t r = req(100 + i);

		xbd_jq_consume(&f->j, i, start + i, &r);
	}
}

static void test_plan_pending_in_order(void **state)
{
	struct fx *f = *state;

	xbd_jq_reset(&f->j, 0xfffffffe); /* across the wrap of the indices */
	/* Records filled out of order: record 0 holds the newest request. */
	for (unsigned int i = 0; i < 4; i++) {
		blkif_request_t r = req(i);

		xbd_jq_consume(&f->j, 3 - i, 0xfffffffe + i, &r);
	}
	assert_int_equal(plan(f, 0xfffffffe, 2), 0);
	assert_int_equal(f->plan.nr_pending, 4);
	for (unsigned int i = 0; i < 4; i++)
		assert_int_equal(xbd_jq_rec(&f->j, f->plan.pending[i])->copy.id, i);
	assert_int_equal(f->plan.req_cons, 2);
	assert_int_equal(f->plan.rsp_pvt, 0xfffffffe);
}

static void test_plan_answered_published(void **state)
{
	struct fx *f = *state;

	consume(f, 0, 3);
	xbd_jq_answer(&f->j, 1, 0, 101, BLKIF_OP_WRITE, 0);
	xbd_jq_published(&f->j, 1);
	assert_int_equal(plan(f, 1, 3), 0);
	assert_int_equal(f->plan.nr_pending, 2);
	assert_int_equal(f->plan.pending[0], 0);
	assert_int_equal(f->plan.pending[1], 2);
	assert_int_equal(f->plan.rsp_from, 1);
	assert_int_equal(f->plan.rsp_pvt, 1);
}

/* Answers written, rsp_prod not published: they are written again from the log. */
static void test_plan_torn_push(void **state)
{
	struct fx *f = *state;

	consume(f, 0, 3);
	xbd_jq_answer(&f->j, 2, 0, 102, BLKIF_OP_WRITE, 0);
	xbd_jq_answer(&f->j, 0, 1, 100, BLKIF_OP_WRITE, 0);
	assert_int_equal(plan(f, 0, 3), 0);
	assert_int_equal(f->plan.rsp_from, 0);
	assert_int_equal(f->plan.rsp_pvt, 2);
	assert_int_equal(f->plan.nr_pending, 1);
	assert_int_equal(f->plan.pending[0], 1);
	assert_int_equal(f->j.log[0].id, 102);
	assert_int_equal(f->j.log[1].id, 100);
}

/* rsp_prod published, the journal's mark not: those answers are never written again. */
static void test_plan_opposite_tear(void **state)
{
	struct fx *f = *state;

	consume(f, 0, 3);
	xbd_jq_answer(&f->j, 2, 0, 102, BLKIF_OP_WRITE, 0);
	xbd_jq_answer(&f->j, 0, 1, 100, BLKIF_OP_WRITE, 0);
	assert_int_equal(plan(f, 2, 3), 0);
	assert_int_equal(f->plan.rsp_from, 2);
	assert_int_equal(f->plan.rsp_pvt, 2);
	assert_int_equal(f->plan.nr_pending, 1);
	assert_int_equal(plan(f, 1, 3), 0);
	assert_int_equal(f->plan.rsp_from, 1);
}

static void test_plan_rsp_prod_out_of_range(void **state)
{
	struct fx *f = *state;

	consume(f, 0, 3);
	xbd_jq_answer(&f->j, 0, 0, 100, BLKIF_OP_WRITE, 0);
	xbd_jq_published(&f->j, 1);
	assert_int_equal(plan(f, 0, 3), -EUCLEAN); /* below what we published */
	assert_non_null(strstr(f->why, "rsp_prod"));
	assert_int_equal(plan(f, 2, 3), -EUCLEAN); /* beyond what we wrote */
	assert_int_equal(plan(f, 0x80000001u, 3), -EUCLEAN);
}

static void test_plan_req_prod_checks(void **state)
{
	struct fx *f = *state;

	consume(f, 0, 3);
	assert_int_equal(plan(f, 0, NE + 1), -EUCLEAN);
	assert_non_null(strstr(f->why, "more than a ring"));
	assert_int_equal(plan(f, 0, 2), -EUCLEAN);
	assert_non_null(strstr(f->why, "behind"));
	assert_int_equal(plan(f, 0, NE), 0);
}

/* A record written, req_cons not yet bumped: never consumed, so the slot is read again. */
static void test_plan_uncommitted_record(void **state)
{
	struct fx *f = *state;
	struct xbd_jrec *rec = xbd_jq_rec(&f->j, 5);

	consume(f, 0, 2);
	rec->copy = req(7);
	rec->seq = 2;
	rec->state = XBD_JREC_PENDING;
	assert_int_equal(plan(f, 0, 3), 0);
	assert_int_equal(f->plan.nr_pending, 2);
	assert_int_equal(f->plan.req_cons, 2);
}

/* The answer committed, its record's release lost: answered, not pending. */
static void test_plan_torn_release(void **state)
{
	struct fx *f = *state;

	consume(f, 0, 2);
	xbd_jq_answer(&f->j, 1, 0, 101, BLKIF_OP_WRITE, 0);
	xbd_jq_rec(&f->j, 1)->state = XBD_JREC_PENDING;
	assert_int_equal(plan(f, 0, 2), 0);
	assert_int_equal(f->plan.nr_pending, 1);
	assert_int_equal(f->plan.pending[0], 0);
}

/* A record reused after its old answer: the old answer does not cancel the new request. */
static void test_plan_record_reused(void **state)
{
	struct fx *f = *state;
	blkif_request_t r = req(9);

	consume(f, 0, 1);
	xbd_jq_answer(&f->j, 0, 0, 100, BLKIF_OP_WRITE, 0);
	xbd_jq_published(&f->j, 1);
	xbd_jq_consume(&f->j, 0, 1, &r);
	assert_int_equal(plan(f, 1, 2), 0);
	assert_int_equal(f->plan.nr_pending, 1);
}

static void test_plan_unknown_state(void **state)
{
	struct fx *f = *state;

	consume(f, 0, 1);
	xbd_jq_rec(&f->j, 0)->state = 7;
	assert_int_equal(plan(f, 0, 1), -EUCLEAN);
	assert_non_null(strstr(f->why, "unknown state"));
}

static void test_plan_duplicate(void **state)
{
	struct fx *f = *state;

	consume(f, 0, 2);
	xbd_jq_rec(&f->j, 1)->seq = 0;
	assert_int_equal(plan(f, 0, 2), -EUCLEAN);
	assert_non_null(strstr(f->why, "two pending"));
}

static void test_plan_count_mismatch(void **state)
{
	struct fx *f = *state;

	consume(f, 0, 3);
	xbd_jq_rec(&f->j, 1)->state = XBD_JREC_FREE;
	assert_int_equal(plan(f, 0, 3), -EUCLEAN);
	assert_non_null(strstr(f->why, "fewer"));
	xbd_jq_rec(&f->j, 1)->state = XBD_JREC_PENDING;
	f->j.hdr->rsp_pvt = 1; /* claims one answer that no record lost */
	f->j.log[0] = (struct xbd_jrsp){ .rsp_idx = 0, .record = 9 };
	assert_int_equal(plan(f, 0, 3), -EUCLEAN);
	assert_non_null(strstr(f->why, "more pending"));
}

static void test_plan_index_bounds(void **state)
{
	struct fx *f = *state;

	f->j.hdr->req_cons = NE + 1;
	assert_int_equal(plan(f, 0, NE + 1), -EUCLEAN);
	assert_non_null(strstr(f->why, "outstanding than"));
	f->j.hdr->req_cons = 0;
	f->j.hdr->rsp_pvt = NE + 1;
	f->j.hdr->req_cons = NE + 1;
	assert_int_equal(plan(f, 0, NE + 1), -EUCLEAN);
	assert_non_null(strstr(f->why, "unpublished"));
}

static void test_plan_republish_log_checked(void **state)
{
	struct fx *f = *state;

	consume(f, 0, 2);
	xbd_jq_answer(&f->j, 0, 0, 100, BLKIF_OP_WRITE, 0);
	f->j.log[0].rsp_idx = 5;
	assert_int_equal(plan(f, 0, 2), -EUCLEAN);
	assert_non_null(strstr(f->why, "missing"));
	f->j.log[0].rsp_idx = 0;
	f->j.log[0].record = NE;
	assert_int_equal(plan(f, 0, 2), -EUCLEAN);
	/* Published already (the opposite tear): not written again, so its entry is not needed. */
	assert_int_equal(plan(f, 1, 2), 0);
	assert_int_equal(f->plan.nr_pending, 1);
}

static void test_segs(void **state)
{
	struct fx *f = *state;
	struct blkif_request_segment s[3] = { { .gref = 1 }, { .gref = 2 }, { .gref = 3 } };

	consume(f, 0, 1);
	xbd_jq_segs(&f->j, 0, s, 3);
	assert_int_equal(xbd_jq_rec(&f->j, 0)->nr_ind, 3);
	assert_int_equal(xbd_jq_rec(&f->j, 0)->segs[2].gref, 3);
	xbd_jq_rec(&f->j, 0)->nr_ind = 17;
	assert_int_equal(plan(f, 0, 1), -EUCLEAN);
	assert_non_null(strstr(f->why, "segments"));
	/* More than the record holds is not stored. */
	xbd_jq_rec(&f->j, 0)->nr_ind = 0;
	xbd_jq_segs(&f->j, 0, s, 17);
	assert_int_equal(xbd_jq_rec(&f->j, 0)->nr_ind, 0);
}

static void test_plan_bad_ring_size(void **state)
{
	struct fx *f = *state;

	f->j.nr_ents = 24;
	assert_int_equal(plan(f, 0, 0), -EUCLEAN);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_size_bounds), T(test_check_ok), T(test_check_magic), T(test_check_short),
		T(test_check_version), T(test_check_geometry), T(test_check_sizes),
		T(test_check_ring_identity), T(test_plan_empty), T(test_plan_pending_in_order),
		T(test_plan_answered_published), T(test_plan_torn_push),
		T(test_plan_opposite_tear), T(test_plan_rsp_prod_out_of_range),
		T(test_plan_req_prod_checks), T(test_plan_uncommitted_record),
		T(test_plan_torn_release), T(test_plan_record_reused),
		T(test_plan_unknown_state), T(test_plan_duplicate), T(test_plan_count_mismatch),
		T(test_plan_index_bounds), T(test_plan_republish_log_checked), T(test_segs),
		T(test_plan_bad_ring_size),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
