/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Raw access to queue 0's ring for the hostile mode (front_hostile_int.h): requests laid out
 * by the ABI layer straight into slots, published and kicked whatever req_event says;
 * responses read out of their slots exactly once, padding checked; the attacker's own pages
 * and grants; data patterns that name their sector, so a read shows exactly which sectors it
 * got; and a small write/read-back that proves the ring still serves correctly.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "front_hostile_int.h"
#include "sim_guest.h"

#define HIO_ID_BASE 0x494f000000000000ull /* "IO": ids of the helpers' own requests */
#define HIO_PAGES 11u /* pages 0..10 are the helpers'; attacks use 16 and up */
#define HPAT_MAGIC 0x4854504154000000ull
#define HCANARY 0xc5

static uint64_t hio_next_id = HIO_ID_BASE + 1;

/* ---- requests ---- */

void hreq_init(struct hctx *h, struct fabi_req *q, uint8_t op, uint64_t sector)
{
	memset(q, 0, sizeof(*q));
	q->operation = op;
	q->handle = h->f->devid;
	q->id = h->next_id++;
	q->sector_number = sector;
}

void hreq_seg(struct fabi_req *q, unsigned int i, uint32_t ref, uint8_t first, uint8_t last)
{
	q->seg[i] = (struct fabi_seg){ .gref = ref, .first_sect = first, .last_sect = last };
	if (q->nr_segments < i + 1)
		q->nr_segments = (uint16_t)(i + 1);
}

void *hslot(struct hctx *h, RING_IDX idx)
{
	return (uint8_t *)h->r->front.sring->ring +
	       (size_t)(idx & (h->r->front.nr_ents - 1)) * h->r->ent_size;
}

void hraw_put(struct hctx *h, const struct fabi_req *q)
{
	fabi_put_request(h->r->conf.abi, q, hslot(h, h->r->front.req_prod_pvt));
	h->r->front.req_prod_pvt++;
}

void hraw_kick(struct hctx *h)
{
	/* Release: the slots are written before the index that publishes them. */
	__atomic_store_n(&h->r->front.sring->req_prod, h->r->front.req_prod_pvt, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	sim_evtchn_notify(h->dom, h->r->port);
}

void hdrain_events(struct hctx *h)
{
	uint32_t port;

	while (sim_evtchn_pending(h->dom, &port) == 0)
		sim_evtchn_unmask(h->dom, port);
}

/* The one read of a response slot: padding checked on the raw bytes, then decoded. */
static void hraw_take(struct hctx *h, struct hrsp *out)
{
	const void *slot = hslot(h, h->r->front.rsp_cons);
	struct fabi_rsp rsp;

	if (!fhostile_rsp_padding_zero(h->r->conf.abi, slot))
		h->padding_bad++;
	fabi_get_response(h->r->conf.abi, slot, &rsp);
	*out = (struct hrsp){ .id = rsp.id, .op = rsp.operation, .status = rsp.status };
	h->responses++;
	h->r->front.rsp_cons++;
}

/* Responses published and plausible: none past what we published (we may have rewritten
 * rsp_prod ourselves: then wait until the backend writes it again). */
static unsigned int hraw_ready(struct hctx *h)
{
	RING_IDX prod = __atomic_load_n(&h->r->front.sring->rsp_prod, __ATOMIC_ACQUIRE);
	RING_IDX cons = h->r->front.rsp_cons;

	if ((RING_IDX)(prod - cons) > (RING_IDX)(h->r->front.req_prod_pvt - cons))
		return 0;
	return prod - cons;
}

static void hraw_wait_event(struct hctx *h, int ms)
{
	struct pollfd p = { .fd = sim_evtchn_fd(h->dom), .events = POLLIN };

	if (poll(&p, 1, ms) > 0)
		hdrain_events(h);
}

int hraw_collect(struct hctx *h, unsigned int n, struct hrsp *out, unsigned int timeout_ms)
{
	uint64_t deadline = hnow_ms() + timeout_ms;
	unsigned int got = 0, ready;

	while (got < n) {
		for (ready = hraw_ready(h); ready && got < n; ready--)
			hraw_take(h, &out[got++]);
		if (got == n)
			break;
		/* RING_FINAL_CHECK_FOR_RESPONSES: ask for an event, then look once more. */
		h->r->front.sring->rsp_event = h->r->front.rsp_cons + 1;
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (hraw_ready(h))
			continue;
		if (hnow_ms() >= deadline)
			return -ETIMEDOUT;
		/* A short poll: a backend that skipped a notification still gets read. */
		hraw_wait_event(h, 10);
	}
	return 0;
}

int hraw_do(struct hctx *h, const struct fabi_req *q, struct hrsp *rsp)
{
	hraw_put(h, q);
	hraw_kick(h);
	return hraw_collect(h, 1, rsp, HTIMEOUT_MS);
}

/* What a response must echo: indirect_op for an indirect request (as Linux expects). */
static uint8_t hrsp_op(const struct fabi_req *q)
{
	return q->operation == BLKIF_OP_INDIRECT ? q->indirect_op : q->operation;
}

int hflood(struct hctx *h, const struct fabi_req *q, unsigned int count)
{
	unsigned int sent = 0, uniform = 1, i, batch;
	struct hrsp *rsp = calloc(h->r->front.nr_ents, sizeof(*rsp));
	int16_t first = 0;
	int rc = 0;

	if (!rsp)
		return -ENOMEM;
	while (sent < count && !rc) {
		batch = count - sent < h->r->front.nr_ents ? count - sent : h->r->front.nr_ents;
		for (i = 0; i < batch; i++) {
			struct fabi_req copy = *q;

			copy.id = h->next_id++;
			hraw_put(h, &copy);
		}
		hraw_kick(h);
		rc = hraw_collect(h, batch, rsp, HTIMEOUT_MS);
		for (i = 0; i < batch && !rc; i++) {
			if (!sent && !i)
				first = rsp[0].status;
			uniform &= rsp[i].status == first && rsp[i].op == hrsp_op(q);
		}
		sent += batch;
	}
	free(rsp);
	if (rc)
		return rc;
	hout(h, "flood=%u status=%d uniform=%s", count, first, uniform ? "yes" : "no");
	return 0;
}

int hsend_report(struct hctx *h, const struct fabi_req *q, unsigned int more)
{
	struct hrsp rsp;
	int rc = hraw_do(h, q, &rsp);

	if (rc)
		return rc;
	hout_rsp(h, &rsp);
	return more ? hflood(h, q, more) : 0;
}

/* ---- pages and grants ---- */

void *hpage(struct hctx *h, unsigned int i)
{
	return sim_frame(h->dom, h->frame0 + i);
}

uint32_t hframe(struct hctx *h, unsigned int i)
{
	return h->frame0 + i;
}

int hgrant_to(struct hctx *h, uint16_t domid, unsigned int page, bool readonly, uint32_t *ref)
{
	int rc;

	if (page >= FHOSTILE_FRAMES)
		return -EINVAL;
	rc = sim_grant_access(h->dom, domid, hframe(h, page), readonly, ref);
	if (rc)
		hfail(h, "cannot grant page %u: %s", page, strerror(-rc));
	return rc;
}

int hgrant(struct hctx *h, unsigned int page, bool readonly, uint32_t *ref)
{
	return hgrant_to(h, h->f->be_domid, page, readonly, ref);
}

static int hdefer(struct hctx *h, uint32_t ref)
{
	uint32_t *p;

	if (h->nr_deferred == h->cap_deferred) {
		h->cap_deferred = h->cap_deferred ? 2 * h->cap_deferred : 64;
		p = realloc(h->deferred, h->cap_deferred * sizeof(*p));
		if (!p)
			return -ENOMEM;
		h->deferred = p;
	}
	h->deferred[h->nr_deferred++] = ref;
	return 0;
}

static int hend_retry(struct hctx *h, uint32_t ref, unsigned int timeout_ms)
{
	uint64_t deadline = hnow_ms() + timeout_ms;
	int rc;

	while ((rc = sim_end_access(h->dom, ref)) == -EBUSY && hnow_ms() < deadline)
		usleep(1000);
	return rc;
}

int hungrant(struct hctx *h, uint32_t ref)
{
	/* Copying takes a pin for the copy only, and a mapping is undone before the response:
	 * only a persistent mapping may outlive it. */
	int rc = hend_retry(h, ref, h->persistent ? 0 : 2000);

	if (rc == -EBUSY && !h->persistent)
		hfail(h, "grant %u still in use after its response", ref);
	if (rc == -EBUSY)
		return hdefer(h, ref);
	return rc;
}

unsigned int hungrant_deferred(struct hctx *h)
{
	unsigned int i, stuck = 0;

	for (i = 0; i < h->nr_deferred; i++)
		stuck += hend_retry(h, h->deferred[i], 5000) != 0;
	h->nr_deferred = 0;
	return stuck;
}

/* ---- data ---- */

void hpat_fill(void *sector_buf, uint64_t lba)
{
	uint64_t w[HSECT / 8];
	unsigned int i;

	w[0] = HPAT_MAGIC;
	w[1] = lba;
	for (i = 2; i < HSECT / 8; i++)
		w[i] = lba * 0x9e3779b97f4a7c15ull + i;
	memcpy(sector_buf, w, HSECT);
}

bool hpat_check(const void *sector_buf, uint64_t lba)
{
	uint8_t want[HSECT];

	hpat_fill(want, lba);
	return !memcmp(want, sector_buf, HSECT);
}

void hcanary(void *page)
{
	memset(page, HCANARY, HPAGE);
}

bool hcanary_intact(const void *buf, size_t len)
{
	const uint8_t *b = buf;
	size_t i;

	for (i = 0; i < len; i++) {
		if (b[i] != HCANARY)
			return false;
	}
	return true;
}

/* One direct request over helper pages 0..n-1 (n <= 11), whole pages. */
static int hio_one(struct hctx *h, uint8_t op, uint64_t lba, unsigned int n)
{
	struct fabi_req q;
	struct hrsp rsp;
	uint32_t ref[HIO_PAGES];
	unsigned int i, granted = 0;
	int rc = 0;

	memset(&q, 0, sizeof(q));
	q.operation = op;
	q.handle = h->f->devid;
	q.id = hio_next_id++;
	q.sector_number = lba;
	for (i = 0; i < n && !rc; i++) {
		rc = hgrant(h, i, op == BLKIF_OP_WRITE, &ref[i]);
		if (!rc)
			hreq_seg(&q, granted++, ref[i], 0, 7);
	}
	if (!rc)
		rc = hraw_do(h, &q, &rsp);
	for (i = 0; i < granted; i++)
		hungrant(h, ref[i]);
	if (!rc && (rsp.status != BLKIF_RSP_OKAY || rsp.id != q.id))
		rc = -EIO;
	return rc;
}

int hio_write_pattern(struct hctx *h, uint64_t lba, unsigned int nsect)
{
	unsigned int done = 0, n, i;
	int rc = 0;

	while (done < nsect && !rc) {
		n = (nsect - done) / 8 < HIO_PAGES ? (nsect - done) / 8 : HIO_PAGES;
		for (i = 0; i < n * 8; i++)
			hpat_fill((uint8_t *)hpage(h, i / 8) + i % 8 * HSECT, lba + done + i);
		rc = n ? hio_one(h, BLKIF_OP_WRITE, lba + done, n) : -EINVAL;
		done += n * 8;
	}
	return rc;
}

int hio_read_check(struct hctx *h, uint64_t lba, unsigned int nsect)
{
	unsigned int done = 0, n, i, s, bad = 0;
	int rc = 0;

	while (done < nsect && !rc) {
		n = (nsect - done) / 8 < HIO_PAGES ? (nsect - done) / 8 : HIO_PAGES;
		for (i = 0; i < n; i++)
			hcanary(hpage(h, i));
		rc = n ? hio_one(h, BLKIF_OP_READ, lba + done, n) : -EINVAL;
		for (i = 0; i < n && !rc; i++)
			for (s = 0; s < 8; s++)
				bad += !hpat_check((uint8_t *)hpage(h, i) + s * HSECT,
						   lba + done + i * 8 + s);
		done += n * 8;
	}
	return rc ? rc : (int)bad;
}

int hsanity(struct hctx *h)
{
	int rc;

	/* A read-only disk can only show that reads still work. */
	if (h->f->disk.readonly)
		return hio_read_check(h, h->area, 64) < 0 ? -EIO : 0;
	rc = hio_write_pattern(h, h->area, 64);
	if (!rc)
		rc = hio_read_check(h, h->area, 64);
	return rc ? -EIO : 0;
}
