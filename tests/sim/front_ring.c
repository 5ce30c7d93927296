/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The simulated blkfront's transport: a one-page front ring built with the macros of
 * <xen/io/ring.h>, the event channel that signals it, and the grants of each request's data
 * pages, all on the simulated guest kernel of sim_guest.h. Responses are copied out of shared
 * memory once and checked (id, echoed operation, status, producer index) before anything else
 * looks at them, as a frontend that does not trust its backend must.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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
		fprintf(stderr, "sim-blkfront: ring: %s (id %#" PRIx64 ", %lu, %lu)\n", what, id,
			a, b);
}

static void fring_protocol_error(struct fring *r, const char *what, uint64_t id,
				 unsigned long a, unsigned long b)
{
	r->conf.stats->protocol_errors++;
	fring_complain(r, what, id, a, b);
}

int fring_connect(struct fring *r, const struct fring_conf *conf)
{
	blkif_sring_t *sring;
	unsigned int i;
	int rc;

	memset(r, 0, sizeof(*r));
	r->conf = *conf;
	r->next_seq = 0x5b100000u; /* ids never look like small slot numbers */
	sring = sim_frame(conf->dom, conf->ring_frame);
	if (!sring)
		return -EINVAL;
	/* A fresh page, as Linux allocates a zeroed one for every connection. */
	memset(sring, 0, FRING_PAGE_SIZE);
	SHARED_RING_INIT(sring);
	FRONT_RING_INIT(&r->front, sring, FRING_PAGE_SIZE);
	for (i = 0; i < FRING_SLOTS; i++)
		r->free_slot[i] = FRING_SLOTS - 1 - i;
	r->nr_free = FRING_SLOTS;

	rc = sim_grant_access(conf->dom, conf->be_domid, conf->ring_frame, false, &r->ring_ref);
	if (rc)
		return rc;
	r->ring_granted = true;
	rc = sim_evtchn_alloc_unbound(conf->dom, conf->be_domid, &r->port);
	if (rc) {
		if (sim_end_access(conf->dom, r->ring_ref) == 0)
			r->ring_granted = false;
		return rc;
	}
	r->port_open = true;
	return 0;
}

/* End the grants of one request's pages; returns the mask of those still in use. */
static unsigned int fring_end_grants(struct fring *r, struct fring_slot *s, unsigned int nr)
{
	unsigned int i, leaked = 0;

	for (i = 0; i < nr; i++) {
		if (sim_end_access(r->conf.dom, s->gref[i]) != 0)
			leaked |= 1u << i;
	}
	return leaked;
}

static int fring_grant_segs(struct fring *r, struct fring_slot *s, const struct fring_req *req)
{
	/* The backend only reads the pages of an operation that writes the disk. */
	bool readonly = fring_op_writes_disk(req->op);
	unsigned int i;
	int rc;

	for (i = 0; i < req->nr_segs; i++) {
		rc = sim_grant_access(r->conf.dom, r->conf.be_domid, req->seg[i].frame, readonly,
				      &s->gref[i]);
		if (rc) {
			if (fring_end_grants(r, s, i))
				r->conf.stats->grant_errors++;
			return rc;
		}
	}
	return 0;
}

static void fring_build_request(const struct fring *r, const struct fring_slot *s,
				blkif_request_t *out)
{
	unsigned int i;

	/* Built whole in private memory, unused segments zeroed, then copied to the ring once. */
	memset(out, 0, sizeof(*out));
	out->operation = s->req.op;
	out->nr_segments = s->req.nr_segs;
	out->handle = r->conf.handle;
	out->id = s->id;
	out->sector_number = s->req.sector;
	for (i = 0; i < s->req.nr_segs; i++) {
		out->seg[i].gref = s->gref[i];
		out->seg[i].first_sect = s->req.seg[i].first_sect;
		out->seg[i].last_sect = s->req.seg[i].last_sect;
	}
}

int fring_submit(struct fring *r, const struct fring_req *req)
{
	struct fring_slot *s;
	blkif_request_t local;
	unsigned int idx;
	int rc;

	if (r->broken)
		return -EPIPE;
	if (req->nr_segs > FRING_MAX_SEGS)
		return -EINVAL;
	if (r->nr_free == 0 || RING_FULL(&r->front))
		return -EBUSY;
	idx = r->free_slot[r->nr_free - 1];
	s = &r->slot[idx];
	rc = fring_grant_segs(r, s, req);
	if (rc)
		return rc;
	r->nr_free--;
	s->busy = true;
	s->req = *req;
	s->id = ((uint64_t)r->next_seq++ << 32) | idx;
	fring_build_request(r, s, &local);
	/* Invisible to the backend until fring_kick() moves req_prod past it (after a wmb). */
	memcpy(RING_GET_REQUEST(&r->front, r->front.req_prod_pvt), &local, sizeof(local));
	r->front.req_prod_pvt++;
	r->inflight++;
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

static void fring_complete(struct fring *r, const blkif_response_t *rsp, fring_done_fn *done,
			   void *ctx)
{
	uint32_t idx = (uint32_t)rsp->id;
	struct fring_slot *s;
	unsigned int leaked;

	if (idx >= FRING_SLOTS || !r->slot[idx].busy || r->slot[idx].id != rsp->id) {
		fring_protocol_error(r, "response matches no request in flight", rsp->id, 0, 0);
		return;
	}
	s = &r->slot[idx];
	/* blkif.h: the response's operation echoes the request's. */
	if (rsp->operation != s->req.op)
		fring_protocol_error(r, "response does not echo the operation", rsp->id,
				     s->req.op, rsp->operation);
	if (rsp->status != BLKIF_RSP_OKAY && rsp->status != BLKIF_RSP_ERROR &&
	    rsp->status != BLKIF_RSP_EOPNOTSUPP)
		fring_protocol_error(r, "response status is not a BLKIF_RSP_* value", rsp->id,
				     (unsigned long)(long)rsp->status, 0);
	/* The backend answered, so it must be done with the pages: ending access must work. */
	leaked = fring_end_grants(r, s, s->req.nr_segs);
	if (leaked) {
		r->conf.stats->grant_errors++;
		fring_complain(r, "grant still in use after the response", rsp->id, leaked, 0);
	}
	s->busy = false;
	r->free_slot[r->nr_free++] = idx;
	r->inflight--;
	done(ctx, &s->req, rsp->status, leaked);
}

/* A response producer index that runs past the requests we published is impossible. */
static bool fring_rsp_prod_impossible(const struct fring *r, RING_IDX prod)
{
	RING_IDX published = r->front.sring->req_prod; /* written only by us */

	return (RING_IDX)(prod - r->front.rsp_cons) > (RING_IDX)(published - r->front.rsp_cons);
}

int fring_reap(struct fring *r, fring_done_fn *done, void *ctx)
{
	blkif_response_t rsp;
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
			RING_COPY_RESPONSE(&r->front, cons, &rsp);
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

static int fring_drain_events(struct fring *r)
{
	uint32_t port;
	int rc;

	/* Unmask before the caller reads the ring, so an event sent meanwhile is not lost. */
	while ((rc = sim_evtchn_pending(r->conf.dom, &port)) == 0) {
		if (port == r->port)
			r->conf.stats->events_received++;
		rc = sim_evtchn_unmask(r->conf.dom, port);
		if (rc)
			return rc;
	}
	return rc == -EAGAIN ? 0 : rc;
}

/* Nothing arrived in time. If responses are waiting anyway, fring_reap() armed rsp_event for
 * them and the backend published them without notifying: a lost wake-up in a real guest. */
static int fring_check_lost_event(struct fring *r)
{
	if (!RING_HAS_UNCONSUMED_RESPONSES(&r->front))
		return -ETIMEDOUT;
	r->conf.stats->lost_notifications++;
	if (!r->conf.quiet && r->conf.stats->lost_notifications <= 10)
		fprintf(stderr,
			"sim-blkfront: ring: responses up to %u published without an event "
			"(rsp_event %u)\n",
			r->front.sring->rsp_prod, r->front.sring->rsp_event);
	return 0;
}

int fring_wait(struct fring *r, int timeout_ms)
{
	struct pollfd pfd[2];
	nfds_t n = 1;
	int rc;

	pfd[0] = (struct pollfd){ .fd = sim_evtchn_fd(r->conf.dom), .events = POLLIN };
	if (r->conf.aux_fd >= 0 && r->conf.aux_cb)
		pfd[n++] = (struct pollfd){ .fd = r->conf.aux_fd, .events = POLLIN };
	rc = poll(pfd, n, timeout_ms);
	if (rc < 0)
		return errno == EINTR ? 0 : -errno;
	if (rc == 0)
		return fring_check_lost_event(r);
	if (n > 1 && pfd[1].revents) {
		rc = r->conf.aux_cb(r->conf.aux_ctx);
		if (rc < 0)
			return rc;
	}
	if (pfd[0].revents & (POLLERR | POLLNVAL))
		return -EIO;
	return pfd[0].revents ? fring_drain_events(r) : 0;
}

static void fring_abort_all(struct fring *r, fring_done_fn *done, void *ctx)
{
	unsigned int i, leaked;

	for (i = 0; i < FRING_SLOTS; i++) {
		struct fring_slot *s = &r->slot[i];

		if (!s->busy)
			continue;
		leaked = fring_end_grants(r, s, s->req.nr_segs);
		if (leaked)
			r->conf.stats->grant_errors++;
		s->busy = false;
		r->free_slot[r->nr_free++] = i;
		r->inflight--;
		done(ctx, &s->req, FRING_STATUS_ABORTED, leaked);
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
	int rc;

	if (!r->ring_granted)
		return 0;
	rc = sim_end_access(r->conf.dom, r->ring_ref);
	if (rc == 0)
		r->ring_granted = false;
	return rc;
}

static int fring_release_ring(struct fring *r, unsigned int timeout_ms)
{
	uint64_t deadline = fring_now_ms() + timeout_ms;
	int rc;

	/* -EBUSY while the backend still maps the ring page; it must unmap it while closing. */
	while ((rc = fring_retry_ring_release(r)) == -EBUSY && fring_now_ms() < deadline)
		usleep(1000);
	return rc;
}

int fring_disconnect(struct fring *r, unsigned int timeout_ms, fring_done_fn *done, void *ctx)
{
	int rc;

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
