/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Hostile events and exhaustion (XSA-332 and friends): an event storm of kicks that bring no
 * request; a ring kept full forever while its responses are never read; and a guest that dies
 * with requests in flight, leaving its pages, grants and ports behind. With --watch-pid the
 * backend's CPU time is measured over each phase (from /proc, user + system, all threads).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "front_hostile_int.h"
#include "sim_guest.h"

#define HSTORM_KICKS 1000000ul
#define HSTORM_MIN_MS 3000u /* kick on until then, so a test can measure during the storm */
#define HFULL_MS 2000u
#define HPG 16u
#define HSTORM_MAX_REAL_MS 10000u

int hatk_event_storm(struct hctx *h)
{
	uint64_t cpu0 = hcpu_ms(h), t0 = hnow_ms(), t1, cpu1, lat;
	unsigned long kicks = 0;
	struct fabi_req q;
	struct hrsp rsp;
	uint32_t ref;
	int rc;

	fprintf(stderr, "sim-blkfront: storm begins\n");
	/* On a real Xen each kick is a hypercall (slow under emulation): 10 s at most there. */
	while ((kicks < HSTORM_KICKS || hnow_ms() - t0 < HSTORM_MIN_MS) &&
	       !(sim_domain_xen(h->dom) && hnow_ms() - t0 >= HSTORM_MAX_REAL_MS)) {
		sim_evtchn_notify(h->dom, h->r->port);
		kicks++;
	}
	t1 = hnow_ms();
	cpu1 = hcpu_ms(h);
	rc = hgrant(h, HPG, false, &ref);
	if (rc)
		return rc;
	/* Right after the storm, an honest request must still be served (backed off at most
	 * 100 ms). */
	hreq_init(h, &q, BLKIF_OP_READ, h->area);
	hreq_seg(&q, 0, ref, 0, 7);
	lat = hnow_ms();
	rc = hraw_do(h, &q, &rsp);
	lat = hnow_ms() - lat;
	hungrant(h, ref);
	if (rc)
		return rc;
	printf("storm: kicks=%lu ms=%llu daemon_cpu_ms=%llu first_request_ms=%llu\n", kicks,
	       (unsigned long long)(t1 - t0), (unsigned long long)(cpu1 - cpu0),
	       (unsigned long long)lat);
	hout(h, "step=%u outcome=%s", ++h->step,
	     rsp.status == BLKIF_RSP_OKAY ? "served-after-storm" : "refused-after-storm");
	return 0;
}

/* ---- a ring kept full ---- */

/* Wait until the backend answered everything we published (without consuming). */
static int hfull_wait_answered(struct hctx *h)
{
	uint64_t deadline = hnow_ms() + HTIMEOUT_MS;

	while (__atomic_load_n(&h->r->front.sring->rsp_prod, __ATOMIC_ACQUIRE) !=
	       h->r->front.req_prod_pvt) {
		if (hnow_ms() > deadline)
			return -ETIMEDOUT;
		usleep(1000);
	}
	return 0;
}

/* Phase one: fill the ring, read nothing back, and keep kicking: the backend has answered
 * all it can and must idle, not spin. */
static int hfull_hold(struct hctx *h, const uint32_t *ref, unsigned int n)
{
	struct fabi_req q;
	uint64_t cpu0, t0;
	unsigned int i;
	int rc;

	for (i = 0; i < n; i++) {
		hreq_init(h, &q, BLKIF_OP_READ, h->area + 8 * (i % 64));
		hreq_seg(&q, 0, ref[i], 0, 7);
		hraw_put(h, &q);
	}
	hraw_kick(h);
	rc = hfull_wait_answered(h);
	if (rc)
		return rc;
	cpu0 = hcpu_ms(h);
	t0 = hnow_ms();
	while (hnow_ms() - t0 < HFULL_MS) {
		sim_evtchn_notify(h->dom, h->r->port);
		usleep(10000);
	}
	printf("ring-full: phase=hold ms=%u daemon_cpu_ms=%llu\n", HFULL_MS,
	       (unsigned long long)(hcpu_ms(h) - cpu0));
	return 0;
}

/* Phase two: keep req_prod exactly a ring ahead of the backend's responses, which we never
 * read: slots already answered are overwritten with new requests. */
static int hfull_refill(struct hctx *h, const uint32_t *ref, unsigned long *sent)
{
	RING_IDX size = h->r->front.nr_ents, rsp, i;
	uint64_t cpu0 = hcpu_ms(h), t0 = hnow_ms();
	struct fabi_req q;

	*sent = 0;
	while (hnow_ms() - t0 < HFULL_MS) {
		rsp = __atomic_load_n(&h->r->front.sring->rsp_prod, __ATOMIC_ACQUIRE);
		for (i = h->r->front.req_prod_pvt; i != rsp + size; i++) {
			hreq_init(h, &q, BLKIF_OP_READ, h->area + 8 * (i % 64));
			hreq_seg(&q, 0, ref[i % size], 0, 7);
			hraw_put(h, &q);
			(*sent)++;
		}
		hraw_kick(h);
		usleep(200);
	}
	printf("ring-full: phase=refill ms=%u requests=%lu daemon_cpu_ms=%llu\n", HFULL_MS,
	       *sent, (unsigned long long)(hcpu_ms(h) - cpu0));
	return hfull_wait_answered(h);
}

/* The last ring's worth of responses, read at last (padding checked), all served. */
static unsigned int hfull_read_last(struct hctx *h)
{
	unsigned int size = h->r->front.nr_ents, ok = 0;
	struct hrsp rsp;

	h->r->front.rsp_cons = h->r->front.req_prod_pvt - size;
	while (h->r->front.rsp_cons != h->r->front.req_prod_pvt) {
		if (hraw_collect(h, 1, &rsp, HTIMEOUT_MS))
			break;
		ok += rsp.status == BLKIF_RSP_OKAY;
	}
	return ok;
}

int hatk_ring_full_forever(struct hctx *h)
{
	unsigned int n = h->r->front.nr_ents, i, ok;
	unsigned long sent = 0;
	uint32_t *ref = calloc(n, sizeof(*ref));
	int rc = ref ? 0 : -ENOMEM;

	for (i = 0; i < n && !rc; i++)
		rc = hgrant(h, HPG + i, false, &ref[i]);
	if (!rc)
		rc = hfull_hold(h, ref, n);
	if (!rc)
		rc = hfull_refill(h, ref, &sent);
	ok = rc ? 0 : hfull_read_last(h);
	while (i-- > 0)
		hungrant(h, ref[i]);
	free(ref);
	if (rc)
		return rc;
	hout(h, "step=%u outcome=%s last_ring_ok=%u/%u", ++h->step,
	     sent > (unsigned long)h->f->opt.full_min_rings * n ? "served-never-halted" : "stalled",
	     ok, n);
	return 0;
}

/* ---- death ---- */

/* Fill the ring with reads and writes of 8 pages each, kick, and die at once: no close, no
 * end of access, nothing. The test then destroys the domain, as the toolstack would. */
int hatk_frontend_death(struct hctx *h)
{
	unsigned int n = h->r->front.nr_ents, i, s, pages = 8;
	struct fabi_req q;
	uint32_t ref;
	RING_IDX answered;

	if (n * pages > FHOSTILE_FRAMES - HPG)
		n = (FHOSTILE_FRAMES - HPG) / pages;
	for (i = 0; i < n; i++) {
		hreq_init(h, &q, i % 2 ? BLKIF_OP_WRITE : BLKIF_OP_READ, h->area + 64 * (i % 32));
		for (s = 0; s < pages; s++) {
			if (hgrant(h, HPG + i * pages + s, i % 2, &ref))
				return -ENOSPC;
			hreq_seg(&q, s, ref, 0, 7);
		}
		hraw_put(h, &q);
	}
	hraw_kick(h);
	answered = __atomic_load_n(&h->r->front.sring->rsp_prod, __ATOMIC_ACQUIRE);
	hout(h, "step=%u outcome=died published=%u", ++h->step, n);
	printf("death: answered_before_exit=%u\n", answered - h->r->front.rsp_cons);
	fflush(stdout);
	fflush(stderr);
	_exit(0);
}
