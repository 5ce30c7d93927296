/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A data plane taking over a live ring after a restart (docs/restart.md). The ring's req_prod
 * and rsp_prod are read once and planned against the journal (xenblkd/journal.h); the answers
 * the dead process wrote and did not publish are written again from the journal's log, the
 * requests it left in flight are run again from their journal records, in the order they were
 * consumed, each in its own slot, and never read again from the shared ring. Without a
 * journal a ring resumes only if the guest itself says nothing is outstanding.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dp_internal.h"
#include "xenblkd/journal.h"

static size_t ring_bytes(const struct xbd_dataplane *dp)
{
	return (size_t)dp->cfg.nr_ring_refs * XBD_BLKIF_PAGE_SIZE;
}

static int refuse(struct xbd_dataplane *dp, const char *why)
{
	if (dp->cfg.resume_why)
		*dp->cfg.resume_why = why;
	return -EUCLEAN;
}

/* Nothing outstanding in the guest's own view: attach where it stands. */
static int start_quiet(struct xbd_dataplane *dp)
{
	RING_IDX req_prod, rsp_prod;
	int r = xbd_ring_init(&dp->ring, dp->sring, ring_bytes(dp), dp->cfg.proto);

	if (r)
		return r;
	xbd_ring_read_shared(&dp->ring, &req_prod, &rsp_prod);
	if (req_prod != rsp_prod)
		return refuse(dp, "no journal, and the ring has requests outstanding "
			      "(req_prod != rsp_prod)");
	return xbd_ring_attach(&dp->ring, dp->sring, ring_bytes(dp), dp->cfg.proto, rsp_prod);
}

/* The answers [rsp_from, rsp_pvt) again, from the log: never from the guest-writable slots. */
static void rewrite_answers(struct xbd_dataplane *dp, const struct xbd_jq_plan *p)
{
	for (RING_IDX r = p->rsp_from; r != p->rsp_pvt; r++) {
		struct xbd_jrsp e = dp->jq->log[r & (dp->jq->nr_ents - 1)];

		xbd_ring_put_response(&dp->ring, e.id, e.op, e.status);
		dp->responses_pending = true;
	}
}

static int start_replay(struct xbd_dataplane *dp)
{
	struct xbd_jq_plan *p = calloc(1, sizeof(*p));
	RING_IDX req_prod, rsp_prod;
	const char *why = NULL;
	int r = xbd_ring_init(&dp->ring, dp->sring, ring_bytes(dp), dp->cfg.proto);

	if (!p)
		return -ENOMEM;
	if (!r && xbd_ring_size(&dp->ring) != dp->jq->nr_ents)
		r = refuse(dp, "journal of another ring size");
	if (!r) {
		/* The one read of each guest-written index; the plan checks both. */
		xbd_ring_read_shared(&dp->ring, &req_prod, &rsp_prod);
		r = xbd_jq_plan(dp->jq, rsp_prod, req_prod, p, &why);
		if (r)
			refuse(dp, why);
	}
	if (!r)
		r = xbd_ring_resume(&dp->ring, dp->sring, ring_bytes(dp), dp->cfg.proto,
				    p->req_cons, p->rsp_from);
	if (!r && p->nr_pending) {
		dp->replay = malloc(p->nr_pending * sizeof(*dp->replay));
		r = dp->replay ? 0 : -ENOMEM;
	}
	if (!r) {
		if (p->nr_pending) /* dp->replay is NULL without: memcpy(NULL) is UB */
			memcpy(dp->replay, p->pending, p->nr_pending * sizeof(*dp->replay));
		dp->nr_replay = p->nr_pending;
		rewrite_answers(dp, p);
		if (dp->cfg.replayed)
			*dp->cfg.replayed += p->nr_pending;
	}
	free(p);
	return r;
}

int dp_ring_start(struct xbd_dataplane *dp)
{
	int r;

	dp->jq = dp->cfg.journal;
	switch (dp->cfg.start) {
	case XBD_DP_RESUME:
		if (!dp->jq)
			return refuse(dp, "no journal");
		return start_replay(dp);
	case XBD_DP_RESUME_QUIET:
		r = start_quiet(dp);
		break;
	default:
		r = xbd_ring_init(&dp->ring, dp->sring, ring_bytes(dp), dp->cfg.proto);
		break;
	}
	if (!r && dp->jq)
		xbd_jq_reset(dp->jq, xbd_ring_rsp_prod_pvt(&dp->ring));
	return r;
}

/* The replayed records keep their own slots: out of the free list, counted busy. */
int dp_replay_reserve(struct xbd_dataplane *dp)
{
	bool *reserved;
	unsigned int *link = &dp->free_head;

	if (!dp->nr_replay)
		return 0;
	reserved = calloc(dp->nr_slots, sizeof(*reserved));
	if (!reserved)
		return -ENOMEM;
	for (unsigned int i = 0; i < dp->nr_replay; i++)
		reserved[dp->replay[i]] = true;
	for (unsigned int k = 0; k < dp->nr_slots; k++) {
		if (reserved[k])
			continue;
		*link = k;
		link = &dp->slots[k].next_free;
	}
	*link = dp->nr_slots;
	dp->busy = dp->nr_replay;
	free(reserved);
	return 0;
}

bool dp_replay_next(struct xbd_dataplane *dp)
{
	unsigned int k;
	struct dp_slot *s;
	blkif_request_t copy;
	const struct xbd_jrec *rec;

	if (dp->replay_next >= dp->nr_replay)
		return false;
	k = dp->replay[dp->replay_next++];
	s = &dp->slots[k];
	rec = xbd_jq_rec(dp->jq, k);
	/* One copy out of the record; the parser validates it as it did the first time. */
	copy = rec->copy;
	s->jsegs_n = rec->nr_ind <= dp->jq->max_segs ? rec->nr_ind : 0;
	s->jsegs = rec->segs;
	s->start_ns = dp_now_ns();
	dp_rate_take(dp, dp_start_request(s, &copy));
	if (dp->replay_next == dp->nr_replay) {
		free(dp->replay);
		dp->replay = NULL;
		dp->nr_replay = dp->replay_next = 0;
	}
	return true;
}

void dp_replay_abort(struct xbd_dataplane *dp)
{
	while (dp->replay_next < dp->nr_replay) {
		unsigned int k = dp->replay[dp->replay_next++];
		blkif_request_t copy = xbd_jq_rec(dp->jq, k)->copy;

		dp_answer_now(&dp->slots[k], &copy, -ECANCELED);
	}
	free(dp->replay);
	dp->replay = NULL;
	dp->nr_replay = dp->replay_next = 0;
}
