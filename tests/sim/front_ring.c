/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The simulated blkfront's transport (front_ring.h): a front ring of 1 << order pages built
 * with the index macros of <xen/io/ring.h>, the event channel that signals it, and the grants
 * of each request's pages. Requests are laid out by the ABI layer (front_abi.h) in private
 * memory and copied into their slot whole; responses are copied out of shared memory once and
 * checked (id, echoed operation, status, producer index) before anything else looks at them,
 * as a frontend that does not trust its backend must.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "front_hostile.h"
#include "front_match.h"
#include "front_ring.h"
#include "sim_guest.h"

const char *fring_op_name(uint8_t op)
{
	switch (op) {
	case BLKIF_OP_READ:
		return "read";
	case BLKIF_OP_WRITE:
		return "write";
	case BLKIF_OP_WRITE_BARRIER:
		return "barrier";
	case BLKIF_OP_FLUSH_DISKCACHE:
		return "flush";
	case BLKIF_OP_DISCARD:
		return "discard";
	case BLKIF_OP_INDIRECT:
		return "indirect";
	default:
		return "unknown";
	}
}

static void fring_complain(const struct fring *r, const char *what, uint64_t id, unsigned long a,
			   unsigned long b)
{
	/* Rate-limited by the caller's counters: print the first few of each run. */
	if (!r->conf.quiet && r->conf.stats->protocol_errors <= 10)
		fprintf(stderr, "sim-blkfront: queue %u: %s (id %#" PRIx64 ", %lu, %lu)\n",
			r->conf.queue, what, id, a, b);
}

static void fring_protocol_error(struct fring *r, const char *what, uint64_t id,
				 unsigned long a, unsigned long b)
{
	r->conf.stats->protocol_errors++;
	fring_complain(r, what, id, a, b);
}

static void *fring_entry(const struct fring *r, RING_IDX idx)
{
	return (uint8_t *)r->front.sring->ring + (size_t)(idx & (r->front.nr_ents - 1)) * r->ent_size;
}

static int fring_alloc_slots(struct fring *r)
{
	unsigned int i;

	r->nr_slots = r->front.nr_ents;
	r->slot = calloc(r->nr_slots, sizeof(*r->slot));
	r->free_slot = calloc(r->nr_slots, sizeof(*r->free_slot));
	if (!r->slot || !r->free_slot)
		return -ENOMEM;
	for (i = 0; i < r->nr_slots; i++)
		r->free_slot[i] = r->nr_slots - 1 - i;
	r->nr_free = r->nr_slots;
	return 0;
}

static int fring_grant_ring(struct fring *r)
{
	unsigned int i, pages = 1u << r->conf.order;
	int rc;

	for (i = 0; i < pages; i++) {
		rc = sim_grant_access(r->conf.dom, r->conf.be_domid, r->conf.ring_frame + i, false,
				      &r->ring_ref[i]);
		if (rc)
			return rc;
		r->nr_ring_refs++;
	}
	return 0;
}

static int fring_init_sring(struct fring *r)
{
	size_t bytes = (size_t)FRING_PAGE_SIZE << r->conf.order;
	unsigned int i, pages = 1u << r->conf.order;
	blkif_sring_t *sring;

	if (r->conf.order > FRING_MAX_ORDER)
		return -EINVAL;
	/* The ring pages are consecutive frames, so consecutive in our mapping of them. */
	for (i = 0; i < pages; i++) {
		if (!sim_frame(r->conf.dom, r->conf.ring_frame + i))
			return -EINVAL;
	}
	sring = sim_frame(r->conf.dom, r->conf.ring_frame);
	/* Fresh pages, as Linux allocates zeroed ones for every connection. */
	memset(sring, 0, bytes);
	SHARED_RING_INIT(sring);
	FRONT_RING_INIT(&r->front, sring, bytes);
	/* __RING_SIZE used blkif.h's native entry; the ABI's own entry size decides. */
	r->ent_size = fabi_entry_size(r->conf.abi);
	r->front.nr_ents = fabi_ring_slots(r->conf.abi, bytes);
	return 0;
}

int fring_connect(struct fring *r, const struct fring_conf *conf)
{
	int rc;

	memset(r, 0, sizeof(*r));
	r->conf = *conf;
	r->next_seq = FRING_FIRST_SEQ; /* ids never look like small slot numbers */
	/* Port, grants, then the pages' contents: on real Xen a ring's pages exist only once
	 * granted, and a one-page ring's unmap notification names the port (guest_xen.h). */
	if (conf->order > FRING_MAX_ORDER)
		return -EINVAL;
	rc = sim_evtchn_alloc_unbound(conf->dom, conf->be_domid, &r->port);
	if (rc)
		return rc;
	r->port_open = true;
	rc = fring_grant_ring(r);
	if (!rc)
		rc = fring_init_sring(r);
	if (!rc)
		rc = fring_alloc_slots(r);
	if (!rc)
		rc = fgnt_init(&r->gnt, conf->dom, &conf->stats->pgnt, conf->be_domid,
			       conf->persistent, conf->pool_first, conf->pool_frames);
	return rc;
}

/* ---- grants of one request ---- */

static void fring_leak(struct fring *r, uint32_t frame)
{
	if (r->conf.frame_leaked && frame < sim_nr_frames(r->conf.dom))
		r->conf.frame_leaked[frame] = 1;
}

/* Put back the first n data grants and the first n_ind indirect grants of a slot; the
 * number that could not be ended. */
static unsigned int fring_put_grants(struct fring *r, struct fring_slot *s, unsigned int n,
				     unsigned int n_ind)
{
	unsigned int i, leaked = 0;

	for (i = 0; i < n; i++) {
		if (fgnt_put(&r->gnt, s->req.seg[i].frame, s->gref[i])) {
			fring_leak(r, s->req.seg[i].frame);
			leaked++;
		}
	}
	for (i = 0; i < n_ind; i++) {
		if (fgnt_put(&r->gnt, s->req.ind_frame[i], s->ind_gref[i])) {
			fring_leak(r, s->req.ind_frame[i]);
			leaked++;
		}
	}
	return leaked;
}

static int fring_slot_reserve(struct fring_slot *s, unsigned int nr_segs)
{
	uint32_t *p;

	if (nr_segs <= s->gref_cap)
		return 0;
	p = realloc(s->gref, (size_t)nr_segs * sizeof(*p));
	if (!p)
		return -ENOMEM;
	s->gref = p;
	s->gref_cap = nr_segs;
	return 0;
}

/* The segment list of an indirect request, FABI_SEGS_PER_INDIRECT_PAGE per page. */
static void fring_fill_indirect(struct fring *r, struct fring_slot *s, unsigned int page)
{
	struct fabi_seg *list = sim_frame(r->conf.dom, s->req.ind_frame[page]);
	unsigned int i, first = page * FABI_SEGS_PER_INDIRECT_PAGE, n;

	n = s->req.nr_segs - first;
	if (n > FABI_SEGS_PER_INDIRECT_PAGE)
		n = FABI_SEGS_PER_INDIRECT_PAGE;
	memset(list, 0, FRING_PAGE_SIZE);
	for (i = 0; i < n; i++) {
		list[i].gref = s->gref[first + i];
		list[i].first_sect = s->req.seg[first + i].first_sect;
		list[i].last_sect = s->req.seg[first + i].last_sect;
	}
}

static int fring_grant_request(struct fring *r, struct fring_slot *s)
{
	/* The backend only reads the pages of an operation that writes the disk. */
	bool readonly = fring_op_writes_disk(s->req.op);
	unsigned int i, n_ind = fring_indirect_pages(s->req.nr_segs);
	int rc = 0;

	for (i = 0; i < s->req.nr_segs && !rc; i++)
		rc = fgnt_get(&r->gnt, s->req.seg[i].frame, readonly, &s->gref[i]);
	if (rc) {
		if (fring_put_grants(r, s, i - 1, 0))
			r->conf.stats->grant_errors++;
		return rc;
	}
	for (i = 0; i < n_ind && !rc; i++) {
		fring_fill_indirect(r, s, i);
		/* The segment lists are only read by the backend. */
		rc = fgnt_get(&r->gnt, s->req.ind_frame[i], true, &s->ind_gref[i]);
	}
	if (rc) {
		if (fring_put_grants(r, s, s->req.nr_segs, i - 1))
			r->conf.stats->grant_errors++;
	}
	return rc;
}

/* ---- requests ---- */

static void fring_build_request(const struct fring *r, const struct fring_slot *s,
				struct fabi_req *out)
{
	const struct fring_req *q = &s->req;
	unsigned int i;

	memset(out, 0, sizeof(*out));
	out->operation = q->op;
	out->handle = r->conf.handle;
	out->id = s->id;
	out->sector_number = q->sector;
	out->nr_segments = q->nr_segs;
	if (q->op == BLKIF_OP_DISCARD) {
		out->discard_flag = q->discard_flag;
		out->nr_sectors = q->nr_sectors;
	} else if (q->nr_segs > FRING_DIRECT_SEGS) {
		out->operation = BLKIF_OP_INDIRECT;
		out->indirect_op = q->op;
		for (i = 0; i < fring_indirect_pages(q->nr_segs); i++)
			out->indirect_grefs[i] = s->ind_gref[i];
	} else {
		for (i = 0; i < q->nr_segs; i++) {
			out->seg[i].gref = s->gref[i];
			out->seg[i].first_sect = q->seg[i].first_sect;
			out->seg[i].last_sect = q->seg[i].last_sect;
		}
	}
}

static int fring_check_request(const struct fring_req *req)
{
	if (req->nr_segs > FRING_MAX_SEGS)
		return -EINVAL;
	if (req->op == BLKIF_OP_DISCARD && req->nr_segs)
		return -EINVAL;
	/* As Linux: only plain reads and writes go indirect. */
	if (req->nr_segs > FRING_DIRECT_SEGS && req->op != BLKIF_OP_READ &&
	    req->op != BLKIF_OP_WRITE)
		return -EINVAL;
	return 0;
}

static void fring_count_submit(struct fring *r, const struct fring_req *req)
{
	struct fring_stats *st = r->conf.stats;

	r->submitted++;
	r->inflight++;
	if (r->inflight > st->max_inflight)
		st->max_inflight = r->inflight;
	if (req->nr_segs > st->max_segs)
		st->max_segs = req->nr_segs;
	if (req->nr_segs > FRING_DIRECT_SEGS)
		st->indirect_requests++;
}

int fring_submit(struct fring *r, const struct fring_req *req)
{
	struct fring_slot *s;
	struct fabi_req local;
	unsigned int idx;
	int rc;

	if (r->broken)
		return -EPIPE;
	rc = fring_check_request(req);
	if (rc)
		return rc;
	if (r->nr_free == 0 || RING_FULL(&r->front))
		return -EBUSY;
	idx = r->free_slot[r->nr_free - 1];
	s = &r->slot[idx];
	rc = fring_slot_reserve(s, req->nr_segs);
	if (rc)
		return rc;
	s->req = *req;
	rc = fring_grant_request(r, s);
	if (rc)
		return rc;
	r->nr_free--;
	s->busy = true;
	s->id = ((uint64_t)r->next_seq++ << 32) | idx;
	fring_build_request(r, s, &local);
	/* Invisible to the backend until fring_kick() moves req_prod past it (after a wmb). */
	fabi_put_request(r->conf.abi, &local, fring_entry(r, r->front.req_prod_pvt));
	r->front.req_prod_pvt++;
	fring_count_submit(r, req);
	return 0;
}

int fring_kick(struct fring *r)
{
	int notify;
	int rc;

	if (r->front.req_prod_pvt == r->front.sring->req_prod)
		return 0;
	/* wmb: the backend sees the requests before the new req_prod; mb: it sees the new
	 * req_prod before we read its req_event (otherwise both sides could sleep). */
	RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&r->front, notify);
	if (!notify)
		return 0;
	rc = sim_evtchn_notify(r->conf.dom, r->port);
	if (rc == 0)
		r->conf.stats->notifies_sent++;
	return rc;
}

/* ---- responses ---- */

/* blkif.h: the response echoes the operation; for an indirect request Linux blkfront
 * expects the indirect operation, and so do we. */
static uint8_t fring_expected_op(const struct fring_req *q)
{
	return q->op;
}

static void fring_release_slot(struct fring *r, uint32_t idx)
{
	r->slot[idx].busy = false;
	r->free_slot[r->nr_free++] = idx;
	r->inflight--;
}

static void fring_complete(struct fring *r, const struct fabi_rsp *rsp, fring_done_fn *done,
			   void *ctx)
{
	uint32_t idx = (uint32_t)rsp->id;
	struct fring_slot *s;

	enum fmatch m = fmatch_response(rsp->id, FRING_FIRST_SEQ, r->next_seq, r->nr_slots,
					idx < r->nr_slots && r->slot[idx].busy,
					idx < r->nr_slots ? r->slot[idx].id : 0);

	if (m != FMATCH_OUTSTANDING) {
		if (m == FMATCH_TWICE)
			r->conf.stats->answered_twice++;
		else
			r->conf.stats->unknown_ids++;
		fring_protocol_error(r, m == FMATCH_TWICE ? "response to a request already answered"
							  : "response matches no request sent",
				     rsp->id, 0, 0);
		return;
	}
	s = &r->slot[idx];
	if (rsp->operation != fring_expected_op(&s->req))
		fring_protocol_error(r, "response does not echo the operation", rsp->id,
				     fring_expected_op(&s->req), rsp->operation);
	if (rsp->status != BLKIF_RSP_OKAY && rsp->status != BLKIF_RSP_ERROR &&
	    rsp->status != BLKIF_RSP_EOPNOTSUPP)
		fring_protocol_error(r, "response status is not a BLKIF_RSP_* value", rsp->id,
				     (unsigned long)(long)rsp->status, 0);
	/* The backend answered, so it must be done with the pages: ending access must work
	 * (unless it keeps a persistent grant, which front_gnt.c allows). */
	if (fring_put_grants(r, s, s->req.nr_segs, fring_indirect_pages(s->req.nr_segs))) {
		r->conf.stats->grant_errors++;
		fring_complain(r, "grant still in use after the response", rsp->id, 0, 0);
	}
	fring_release_slot(r, idx);
	done(ctx, &s->req, rsp->status);
}

/* A response producer index that runs past the requests we published is impossible. */
static bool fring_rsp_prod_impossible(const struct fring *r, RING_IDX prod)
{
	RING_IDX published = r->front.sring->req_prod; /* written only by us */

	return (RING_IDX)(prod - r->front.rsp_cons) > (RING_IDX)(published - r->front.rsp_cons);
}

int fring_reap(struct fring *r, fring_done_fn *done, void *ctx)
{
	struct fabi_rsp rsp;
	RING_IDX prod, cons;
	int more, n = 0;

	if (r->broken)
		return -EPROTO;
	do {
		/* Acquire: read the responses only after the index that publishes them (pairs
		 * with the wmb in the backend's RING_PUSH_RESPONSES). */
		prod = __atomic_load_n(&r->front.sring->rsp_prod, __ATOMIC_ACQUIRE);
		if (fring_rsp_prod_impossible(r, prod)) {
			fring_protocol_error(r, "rsp_prod runs past the requests", 0, prod,
					     r->front.rsp_cons);
			r->broken = true;
			return -EPROTO;
		}
		for (cons = r->front.rsp_cons; cons != prod; cons++) {
			/* XSA-216: padding that is not zero is backend memory leaking to us. */
			if (!fhostile_rsp_padding_zero(r->conf.abi, fring_entry(r, cons)))
				fring_protocol_error(r, "response padding not zero", 0, cons, 0);
			fabi_get_response(r->conf.abi, fring_entry(r, cons), &rsp);
			fring_complete(r, &rsp, done, ctx);
			n++;
		}
		/* The slots are free for new requests only now that the responses are copied. */
		r->front.rsp_cons = cons;
		/* Sets rsp_event = rsp_cons + 1, then mb, then looks again: a response published
		 * after this either is seen here or comes with an event. */
		RING_FINAL_CHECK_FOR_RESPONSES(&r->front, more);
	} while (more);
	return n;
}

bool fring_check_lost_event(struct fring *r)
{
	if (r->broken || !RING_HAS_UNCONSUMED_RESPONSES(&r->front))
		return false;
	r->conf.stats->lost_notifications++;
	if (!r->conf.quiet && r->conf.stats->lost_notifications <= 10)
		fprintf(stderr,
			"sim-blkfront: queue %u: responses up to %u published without an event "
			"(rsp_event %u)\n", r->conf.queue,
			r->front.sring->rsp_prod, r->front.sring->rsp_event);
	return true;
}

/* ---- teardown ---- */

static void fring_abort_all(struct fring *r, fring_done_fn *done, void *ctx)
{
	unsigned int i;

	for (i = 0; i < r->nr_slots; i++) {
		struct fring_slot *s = &r->slot[i];

		if (!s->busy)
			continue;
		if (fring_put_grants(r, s, s->req.nr_segs, fring_indirect_pages(s->req.nr_segs)))
			r->conf.stats->grant_errors++;
		fring_release_slot(r, i);
		done(ctx, &s->req, FRING_STATUS_ABORTED);
	}
}

static uint64_t fring_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int fring_retry_ring_release(struct fring *r)
{
	/* Last page first, so nr_ring_refs always counts the live ones from the start. */
	while (r->nr_ring_refs) {
		if (sim_end_access(r->conf.dom, r->ring_ref[r->nr_ring_refs - 1]))
			return -EBUSY;
		r->nr_ring_refs--;
	}
	return 0;
}

static int fring_release_ring(struct fring *r, unsigned int timeout_ms)
{
	uint64_t deadline = fring_now_ms() + timeout_ms;
	int rc;

	/* -EBUSY while the backend still maps the ring; it must unmap it while closing. */
	while ((rc = fring_retry_ring_release(r)) == -EBUSY && fring_now_ms() < deadline)
		usleep(1000);
	return rc;
}

int fring_disconnect(struct fring *r, unsigned int timeout_ms, fring_done_fn *done, void *ctx)
{
	int rc;

	if (r->slot)
		fring_abort_all(r, done, ctx);
	rc = fring_release_ring(r, timeout_ms);
	if (r->port_open) {
		int rc2 = sim_evtchn_close(r->conf.dom, r->port);

		r->port_open = false;
		if (rc == 0)
			rc = rc2;
	}
	return rc;
}

void fring_release_persistent(struct fring *r, unsigned int timeout_ms)
{
	unsigned int left;

	if (!r->gnt.persistent)
		return;
	left = fgnt_release_all(&r->gnt, timeout_ms);
	if (!left)
		return;
	r->conf.stats->grant_errors++;
	fprintf(stderr, "sim-blkfront: queue %u: the backend never unmapped %u persistent "
		"grants\n", r->conf.queue, left);
}

void fring_free(struct fring *r)
{
	unsigned int i;

	for (i = 0; r->slot && i < r->nr_slots; i++)
		free(r->slot[i].gref);
	free(r->slot);
	free(r->free_slot);
	fgnt_destroy(&r->gnt);
	r->slot = NULL;
	r->free_slot = NULL;
}
