/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The replay rule of docs/restart.md, as a pure function: from one queue's journal and the
 * live ring's rsp_prod and req_prod (guest-writable, each read once by the caller), decide
 * where the ring resumes, which answers are written again and which requests run again, or
 * refuse the journal with a reason. Every index is compared by wrapping differences, as the
 * ring compares its own; every field is copied once out of the journal before it is used.
 */
#include <errno.h>
#include <string.h>

#include "xenblkd/journal.h"

#define HALF_RANGE 0x80000000u

struct plan_ctx {
	uint32_t n, rc, rp, pub;
	bool answered[XBD_JOURNAL_MAX_ENTS];    /* the latest answer of record k ... */
	uint32_t answered_seq[XBD_JOURNAL_MAX_ENTS]; /* ... was for this consumer index */
	uint32_t pending_seq[XBD_JOURNAL_MAX_ENTS];  /* parallel to the plan's pending[] */
};

static int refuse(const char **why, const char *reason)
{
	*why = reason;
	return -EUCLEAN;
}

/* The journal's own indices, and the ring's two against them. */
static int check_indices(struct plan_ctx *c, uint32_t rsp_prod, uint32_t req_prod,
			 const char **why)
{
	if (c->rc - c->rp > c->n)
		return refuse(why, "journal: more requests outstanding than the ring holds");
	if (c->rp - c->pub > c->n)
		return refuse(why, "journal: more answers unpublished than the ring holds");
	if (rsp_prod - c->pub > c->rp - c->pub)
		return refuse(why, "ring's rsp_prod outside [journal's published, answers written]");
	if (req_prod - c->rp > c->n)
		return refuse(why, "ring's req_prod more than a ring ahead of the answers");
	if (req_prod - c->rp < c->rc - c->rp)
		return refuse(why, "ring's req_prod behind the journal's consumer index");
	return 0;
}

/* The answers to write again, [rsp_prod, rp), must each be in the log at their own index. */
static int check_republish(const struct xbd_jq *j, struct plan_ctx *c, uint32_t from,
			   const char **why)
{
	for (uint32_t r = from; r != c->rp; r++) {
		struct xbd_jrsp e;

		memcpy(&e, &j->log[r & (c->n - 1)], sizeof(e));
		if (e.rsp_idx != r || e.record >= c->n)
			return refuse(why, "journal: an unpublished answer is missing from its log");
	}
	return 0;
}

/* Which records the last ring's worth of answers names, with the request it answered. */
static void note_answers(const struct xbd_jq *j, struct plan_ctx *c)
{
	memset(c->answered, 0, c->n * sizeof(c->answered[0]));
	for (uint32_t i = 0; i < c->n; i++) {
		uint32_t r = c->rp - c->n + i;
		struct xbd_jrsp e;

		memcpy(&e, &j->log[r & (c->n - 1)], sizeof(e));
		if (e.rsp_idx != r || e.record >= c->n)
			continue; /* older than the log keeps, or never written */
		c->answered[e.record] = true;
		c->answered_seq[e.record] = e.seq;
	}
}

/* Insert record k, consumed at seq, into out->pending in consumer order (oldest first). */
static int insert_pending(struct xbd_jq_plan *out, struct plan_ctx *c, uint16_t k, uint32_t seq,
			  const char **why)
{
	uint32_t age = c->rc - seq;
	unsigned int i = out->nr_pending;

	for (; i > 0; i--) {
		uint32_t other = c->rc - c->pending_seq[i - 1];

		if (other == age)
			return refuse(why, "journal: two pending records of one request");
		if (other > age)
			break;
		out->pending[i] = out->pending[i - 1];
		c->pending_seq[i] = c->pending_seq[i - 1];
	}
	out->pending[i] = k;
	c->pending_seq[i] = seq;
	out->nr_pending++;
	return 0;
}

static int collect_pending(const struct xbd_jq *j, struct plan_ctx *c, struct xbd_jq_plan *out,
			   const char **why)
{
	out->nr_pending = 0;
	for (uint32_t k = 0; k < c->n; k++) {
		const struct xbd_jrec *rec = xbd_jq_rec(j, k);
		uint32_t state = rec->state, seq = rec->seq;
		uint16_t nr_ind = rec->nr_ind;
		int r;

		if (state == XBD_JREC_FREE)
			continue;
		if (state != XBD_JREC_PENDING)
			return refuse(why, "journal: a request record in an unknown state");
		if (c->rc - seq == 0 || c->rc - seq >= HALF_RANGE)
			continue; /* recorded, not committed by req_cons: never consumed */
		if (c->answered[k] && c->answered_seq[k] == seq)
			continue; /* answered; only the record's release was lost */
		if (nr_ind > j->max_segs)
			return refuse(why, "journal: more stored segments than the journal holds");
		if (out->nr_pending >= c->rc - c->rp)
			return refuse(why, "journal: more pending requests than outstanding");
		r = insert_pending(out, c, (uint16_t)k, seq, why);
		if (r)
			return r;
	}
	if (out->nr_pending != c->rc - c->rp)
		return refuse(why, "journal: fewer pending requests than outstanding");
	return 0;
}

int xbd_jq_plan(const struct xbd_jq *j, uint32_t rsp_prod, uint32_t req_prod,
		struct xbd_jq_plan *out, const char **why)
{
	static __thread struct plan_ctx c;
	int r;

	c.n = j->nr_ents;
	if (!c.n || c.n > XBD_JOURNAL_MAX_ENTS || (c.n & (c.n - 1)))
		return refuse(why, "journal: ring size not a power of two within bounds");
	c.rc = __atomic_load_n(&j->hdr->req_cons, __ATOMIC_RELAXED);
	c.rp = __atomic_load_n(&j->hdr->rsp_pvt, __ATOMIC_RELAXED);
	c.pub = __atomic_load_n(&j->hdr->published, __ATOMIC_RELAXED);
	r = check_indices(&c, rsp_prod, req_prod, why);
	if (!r)
		r = check_republish(j, &c, rsp_prod, why);
	if (r)
		return r;
	note_answers(j, &c);
	r = collect_pending(j, &c, out, why);
	if (r)
		return r;
	out->req_cons = c.rc;
	out->rsp_from = rsp_prod;
	out->rsp_pvt = c.rp;
	return 0;
}
