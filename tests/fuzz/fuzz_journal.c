/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target for the in-flight journal read at start-up (src/ring/journal.c,
 * journal_plan.c; docs/restart.md): the header checks against a fixed connection, then the
 * replay plan from the journal and the ring's two guest-written indices. The journal bytes are
 * a private copy of exactly the input's size, so the sanitizers catch any read beyond them.
 * An accepted plan must keep the replay rule's invariants, checked independently here.
 * Built with -fsanitize=fuzzer (clang, -Dfuzzing=true) or linked with replay.c.
 *
 * Input layout (little endian): 0..3 the ring's rsp_prod, 4..7 its req_prod, 8.. the journal
 * (tests/fuzz/gen_corpus_journal.py writes seeds: 1 queue, 1 page, native, 8 entries, 4
 * segments, domid 1, devid 51712, ring-ref 8, port 5).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xenblkd/journal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                              \
	do {                                                                                     \
		if (!(cond)) {                                                                   \
			fprintf(stderr, "fuzz_journal: invariant failed: %s (%s:%d)\n", #cond,   \
				__FILE__, __LINE__);                                             \
			abort();                                                                 \
		}                                                                                \
	} while (0)

static void check_plan(const struct xbd_jq *j, const struct xbd_jq_plan *p, uint32_t rsp_prod,
		       uint32_t req_prod)
{
	bool seen[8] = { false };

	CHECK(p->rsp_from == rsp_prod);
	CHECK(p->rsp_pvt - p->rsp_from <= j->nr_ents);
	CHECK(p->req_cons - p->rsp_pvt <= j->nr_ents);
	CHECK(p->nr_pending == p->req_cons - p->rsp_pvt);
	CHECK(req_prod - p->rsp_pvt <= j->nr_ents);
	for (unsigned int i = 0; i < p->nr_pending; i++) {
		const struct xbd_jrec *rec = xbd_jq_rec(j, p->pending[i]);

		CHECK(p->pending[i] < j->nr_ents && !seen[p->pending[i]]);
		seen[p->pending[i]] = true;
		CHECK(rec->state == XBD_JREC_PENDING && rec->nr_ind <= j->max_segs);
		if (i > 0)
			CHECK(p->req_cons - rec->seq < p->req_cons -
			      xbd_jq_rec(j, p->pending[i - 1])->seq);
	}
	for (uint32_t r = p->rsp_from; r != p->rsp_pvt; r++)
		CHECK(j->log[r & (j->nr_ents - 1)].rsp_idx == r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct xbd_jq_plan plan;
	struct xbd_journal_geom g = { .nr_queues = 1, .ring_pages = 1, .proto = 0, .nr_ents = 8,
				      .max_segs = 4, .fe_domid = 1, .devid = 51712 };
	uint32_t rsp_prod, req_prod;
	const char *why = NULL;
	struct xbd_jq j;
	void *mem;

	if (size < 8)
		return 0;
	g.ring_ref0[0] = 8;
	g.port[0] = 5;
	memcpy(&rsp_prod, data, 4);
	memcpy(&req_prod, data + 4, 4);
	/* Aligned like the mapping it stands for; exactly the input's size. */
	mem = aligned_alloc(8, ((size - 8) + 7) & ~(size_t)7);
	if (!mem)
		return 0;
	memcpy(mem, data + 8, size - 8);
	if (xbd_journal_check(mem, size - 8, &g, &why) == 0) {
		xbd_journal_queue(mem, 0, &j);
		if (xbd_jq_plan(&j, rsp_prod, req_prod, &plan, &why) == 0)
			check_plan(&j, &plan, rsp_prod, req_prod);
		else
			CHECK(why != NULL);
	} else {
		CHECK(why != NULL);
	}
	free(mem);
	return 0;
}
