/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Batched grant copy (grant_batch.c) over a fake gnt_copy that copies between guest "pages"
 * held here and counts its calls: several requests' segments go in one call, in both
 * directions, with the data where each request expects it; a batch never holds more than
 * XBD_GNT_COPY_BATCH segments (-ENOSPC asks for a flush, -E2BIG for a request no batch can
 * hold); a bad grant fails only the request that named it; and a call that fails as a whole
 * (EFAULT) is retried one call per request, so only the request that causes it fails.
 * Indirect descriptor pages (xbd_copy_batch_add_pages) batch the same way: whole pages of
 * several requests in one call, each request's pages in its own buffer.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <xen/grant_table.h>
#include <cmocka.h>

#include "xenblkd/grant.h"

#define NR_PAGES 64
#define BAD_REF 1000   /* the hypervisor refuses this grant (per segment) */
#define FAULT_REF 2000 /* the whole call fails with EFAULT when it holds this grant */

static unsigned char guest[NR_PAGES][4096];
static unsigned int calls;
static unsigned int segs_per_call[16];

static int fake_copy(struct xbd_gnt *gnt, struct xbd_gnt_copy_seg *segs, unsigned int n)
{
	(void)gnt;
	if (calls < 16)
		segs_per_call[calls] = n;
	calls++;
	for (unsigned int i = 0; i < n; i++)
		if (segs[i].ref == FAULT_REF)
			return -EFAULT;
	for (unsigned int i = 0; i < n; i++) {
		struct xbd_gnt_copy_seg *s = &segs[i];
		unsigned char *page;

		if (s->ref >= NR_PAGES) {
			s->status = GNTST_bad_gntref;
			continue;
		}
		page = guest[s->ref] + s->offset;
		memcpy(s->to_guest ? page : s->buf, s->to_guest ? s->buf : page, s->len);
		s->status = GNTST_okay;
	}
	return 0;
}

static const struct xbd_xen_ops fake_ops = { .name = "fake", .gnt_copy = fake_copy };

/* A request of `n` whole-page segments of refs ref0, ref0 + 1, ... and its bounce buffer. */
struct rq {
	struct xbd_req req;
	struct xbd_seg segs[XBD_GNT_COPY_BATCH + 1];
	struct xbd_grant_io io;
	unsigned char *bounce;
	int result; /* from done(); 1 until then */
};

static void rq_init(struct rq *q, uint32_t ref0, unsigned int n)
{
	memset(q, 0, offsetof(struct rq, bounce));
	for (unsigned int i = 0; i < n; i++)
		q->segs[i] = (struct xbd_seg){ .gref = ref0 + i, .first_sect = 0, .last_sect = 7 };
	q->req.nr_segs = (uint16_t)n;
	q->req.segs = q->segs;
	q->req.nr_sectors = n * 8u;
	q->bounce = calloc(n ? n : 1, 4096);
	q->io = (struct xbd_grant_io){ .req = &q->req, .bounce = q->bounce };
	q->result = 1;
}

static void done(void *owner, int err)
{
	struct rq *q = owner;

	assert_int_equal(q->result, 1); /* once per request */
	q->result = err;
}

static void ctx_init(struct xbd_grant_ctx *g)
{
	assert_int_equal(xbd_grant_ctx_init(g, &fake_ops, NULL, 1, XBD_GNT_COPY_BATCH + 1,
					    XBD_GRANT_COPY, 0), 0);
}

static int setup(void **state)
{
	(void)state;
	calls = 0;
	memset(segs_per_call, 0, sizeof(segs_per_call));
	for (unsigned int p = 0; p < NR_PAGES; p++)
		memset(guest[p], (int)p + 1, sizeof(guest[p]));
	return 0;
}

static void test_one_call_for_many_requests(void **state)
{
	struct xbd_grant_ctx g;
	struct rq w[3], r;

	(void)state;
	ctx_init(&g);
	for (unsigned int k = 0; k < 3; k++) {
		rq_init(&w[k], 10 * k, 3);
		assert_int_equal(xbd_copy_batch_add(&g, &g.copy_in, &w[k].io, false, &w[k]), 0);
	}
	xbd_copy_batch_flush(&g, &g.copy_in, done);
	assert_int_equal(calls, 1);
	assert_int_equal(segs_per_call[0], 9);
	assert_int_equal(g.stats.copy_calls, 1);
	for (unsigned int k = 0; k < 3; k++) {
		assert_int_equal(w[k].result, 0);
		/* Segment i of request k is guest page 10k + i, filled with 10k + i + 1. */
		for (unsigned int i = 0; i < 3; i++)
			assert_int_equal(w[k].bounce[i * 4096 + 17], 10 * k + i + 1);
	}
	assert_true(xbd_copy_batch_empty(&g.copy_in));
	/* The other way: a read's bounce buffer goes out to its guest pages. */
	rq_init(&r, 40, 2);
	memset(r.bounce, 0xab, 2 * 4096);
	assert_int_equal(xbd_copy_batch_add(&g, &g.copy_out, &r.io, true, &r), 0);
	xbd_copy_batch_flush(&g, &g.copy_out, done);
	assert_int_equal(r.result, 0);
	assert_int_equal(guest[40][0], 0xab);
	assert_int_equal(guest[41][4095], 0xab);
	assert_int_equal(guest[42][0], 43); /* untouched */
	for (unsigned int k = 0; k < 3; k++)
		free(w[k].bounce);
	free(r.bounce);
	xbd_grant_ctx_fini(&g);
}

static void test_batch_bound(void **state)
{
	unsigned int per = 11, fit = XBD_GNT_COPY_BATCH / 11;
	struct rq *q = calloc(fit + 2, sizeof(*q));
	struct xbd_grant_ctx g;

	(void)state;
	ctx_init(&g);
	for (unsigned int k = 0; k < fit; k++) {
		rq_init(&q[k], k % 4, per);
		assert_int_equal(xbd_copy_batch_add(&g, &g.copy_in, &q[k].io, false, &q[k]), 0);
	}
	/* One more would pass the bound: the caller must flush first. */
	rq_init(&q[fit], 0, per);
	assert_int_equal(xbd_copy_batch_add(&g, &g.copy_in, &q[fit].io, false, &q[fit]), -ENOSPC);
	assert_int_equal(calls, 0);
	xbd_copy_batch_flush(&g, &g.copy_in, done);
	assert_int_equal(calls, 1);
	assert_int_equal(segs_per_call[0], fit * per);
	assert_true(segs_per_call[0] <= XBD_GNT_COPY_BATCH);
	assert_int_equal(xbd_copy_batch_add(&g, &g.copy_in, &q[fit].io, false, &q[fit]), 0);
	/* A request bigger than any batch is refused, for a call of its own. */
	rq_init(&q[fit + 1], 0, XBD_GNT_COPY_BATCH + 1);
	for (unsigned int i = 0; i <= XBD_GNT_COPY_BATCH; i++)
		q[fit + 1].segs[i].gref = i % 4;
	assert_int_equal(xbd_copy_batch_add(&g, &g.copy_in, &q[fit + 1].io, false, &q[fit + 1]),
			 -E2BIG);
	assert_int_equal(xbd_grant_copy_now(&g, &q[fit + 1].io, false), 0);
	assert_int_equal(q[fit + 1].bounce[XBD_GNT_COPY_BATCH * 4096], 1); /* page 0's byte */
	xbd_copy_batch_flush(&g, &g.copy_in, done);
	for (unsigned int k = 0; k <= fit; k++) {
		assert_int_equal(q[k].result, 0);
		free(q[k].bounce);
	}
	free(q[fit + 1].bounce);
	free(q);
	xbd_grant_ctx_fini(&g);
}

static void test_bad_segment_fails_its_request_only(void **state)
{
	struct xbd_grant_ctx g;
	struct rq q[3];

	(void)state;
	ctx_init(&g);
	rq_init(&q[0], 1, 2);
	rq_init(&q[1], 3, 3);
	q[1].segs[1].gref = BAD_REF; /* the middle segment of the middle request */
	rq_init(&q[2], 6, 2);
	for (unsigned int k = 0; k < 3; k++)
		assert_int_equal(xbd_copy_batch_add(&g, &g.copy_out, &q[k].io, true, &q[k]), 0);
	xbd_copy_batch_flush(&g, &g.copy_out, done);
	assert_int_equal(calls, 1);
	assert_int_equal(q[0].result, 0);
	assert_int_equal(q[1].result, -EIO);
	assert_int_equal(q[2].result, 0);
	for (unsigned int k = 0; k < 3; k++)
		free(q[k].bounce);
	xbd_grant_ctx_fini(&g);
}

static void test_whole_call_failure_falls_back(void **state)
{
	struct xbd_grant_ctx g;
	struct rq q[4];

	(void)state;
	ctx_init(&g);
	for (unsigned int k = 0; k < 4; k++)
		rq_init(&q[k], 4 * k, 2);
	q[2].segs[0].gref = FAULT_REF;
	for (unsigned int k = 0; k < 4; k++)
		assert_int_equal(xbd_copy_batch_add(&g, &g.copy_in, &q[k].io, false, &q[k]), 0);
	xbd_copy_batch_flush(&g, &g.copy_in, done);
	/* The batch's call, then one per request. */
	assert_int_equal(calls, 5);
	assert_int_equal(segs_per_call[0], 8);
	for (unsigned int k = 1; k < 5; k++)
		assert_int_equal(segs_per_call[k], 2);
	assert_int_equal(g.stats.copy_calls, 5);
	assert_int_equal(q[0].result, 0);
	assert_int_equal(q[1].result, 0);
	assert_int_equal(q[2].result, -EFAULT);
	assert_int_equal(q[3].result, 0);
	assert_int_equal(q[3].bounce[4096], 4 * 3 + 1 + 1); /* its data came in after all */
	/* The batch is usable again. */
	assert_true(xbd_copy_batch_empty(&g.copy_in));
	q[2].result = 1;
	q[2].segs[0].gref = 9;
	assert_int_equal(xbd_copy_batch_add(&g, &g.copy_in, &q[2].io, false, &q[2]), 0);
	xbd_copy_batch_flush(&g, &g.copy_in, done);
	assert_int_equal(q[2].result, 0);
	for (unsigned int k = 0; k < 4; k++)
		free(q[k].bounce);
	xbd_grant_ctx_fini(&g);
}

/* Whole pages of several owners in one call; a bad page fails its owner only. */
static void test_pages_batch(void **state)
{
	uint32_t refs[3][2] = { { 5, 6 }, { 7, BAD_REF }, { 9, 10 } };
	unsigned char *buf[3];
	struct xbd_grant_ctx g;
	struct rq owner[3];

	(void)state;
	ctx_init(&g);
	for (unsigned int k = 0; k < 3; k++) {
		buf[k] = calloc(2, 4096);
		owner[k].result = 1;
		assert_int_equal(xbd_copy_batch_add_pages(&g, &g.indirect_in, refs[k], 2, buf[k],
							  &owner[k]), 0);
	}
	xbd_copy_batch_flush(&g, &g.indirect_in, done);
	assert_int_equal(calls, 1);
	assert_int_equal(segs_per_call[0], 6);
	assert_int_equal(owner[0].result, 0);
	assert_int_equal(owner[1].result, -EIO);
	assert_int_equal(owner[2].result, 0);
	/* Owner k's page i is guest page refs[k][i], filled with ref + 1, at buf + i * 4096. */
	assert_int_equal(buf[0][0], 6);
	assert_int_equal(buf[0][4096 + 4095], 7);
	assert_int_equal(buf[2][0], 10);
	assert_int_equal(buf[2][4096], 11);
	/* No batch takes more pages than it holds, nor none. */
	assert_int_equal(xbd_copy_batch_add_pages(&g, &g.indirect_in, refs[0],
						  XBD_GNT_COPY_BATCH + 1, buf[0], &owner[0]), -E2BIG);
	assert_int_equal(xbd_copy_batch_add_pages(&g, &g.indirect_in, refs[0], 0, buf[0],
						  &owner[0]), -E2BIG);
	assert_true(xbd_copy_batch_empty(&g.indirect_in));
	for (unsigned int k = 0; k < 3; k++)
		free(buf[k]);
	xbd_grant_ctx_fini(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_one_call_for_many_requests, setup),
		cmocka_unit_test_setup(test_batch_bound, setup),
		cmocka_unit_test_setup(test_bad_segment_fails_its_request_only, setup),
		cmocka_unit_test_setup(test_whole_call_failure_falls_back, setup),
		cmocka_unit_test_setup(test_pages_batch, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
