/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The in-flight journal (see journal.h and docs/restart.md): layout, the data path's stores,
 * and the start-up checks and replay plan. The stores order themselves with release fences
 * only: a process that dies leaves every store it executed in the shared mapping, and what
 * matters is that a later store (a commit point) never becomes visible before the earlier
 * ones it commits. On x86 a release fence is only a compiler barrier, so the per-request cost
 * is the plain stores of one 128-byte record and two 32-byte log halves.
 */
#include <errno.h>
#include <string.h>

#include "xenblkd/journal.h"

/* Stores before it are visible before stores after it, to any later observer (the next
 * process included). */
static inline void journal_wmb(void)
{
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

/* Single 32-bit accesses for the commit points: never torn, never repeated. */
static inline void put32(uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELAXED);
}

static inline uint32_t get32(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static size_t record_size(uint32_t max_segs)
{
	size_t n = sizeof(struct xbd_jrec) + (size_t)max_segs * sizeof(struct blkif_request_segment);

	return (n + 7) & ~(size_t)7;
}

static size_t queue_size(uint32_t nr_ents, uint32_t max_segs)
{
	return sizeof(struct xbd_jq_hdr) + (size_t)nr_ents * sizeof(struct xbd_jrsp) +
	       (size_t)nr_ents * record_size(max_segs);
}

static bool pow2(uint32_t n)
{
	return n && !(n & (n - 1));
}

static bool geom_ok(const struct xbd_journal_geom *g)
{
	return g->nr_queues >= 1 && g->nr_queues <= XBD_JOURNAL_MAX_QUEUES &&
	       pow2(g->ring_pages) && g->ring_pages <= XBD_JOURNAL_MAX_PAGES && g->proto <= 2 &&
	       pow2(g->nr_ents) && g->nr_ents <= XBD_JOURNAL_MAX_ENTS &&
	       g->max_segs <= BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST * 512u;
}

size_t xbd_journal_size(const struct xbd_journal_geom *g)
{
	if (!geom_ok(g))
		return 0;
	return sizeof(struct xbd_journal_hdr) + g->nr_queues * queue_size(g->nr_ents, g->max_segs);
}

void xbd_journal_queue(void *mem, unsigned int q, struct xbd_jq *out)
{
	const struct xbd_journal_hdr *h = mem;
	unsigned char *base = (unsigned char *)mem + sizeof(*h) + (size_t)q * h->queue_size;

	out->hdr = (struct xbd_jq_hdr *)base;
	out->log = (struct xbd_jrsp *)(base + sizeof(struct xbd_jq_hdr));
	out->recs = (unsigned char *)(out->log + h->nr_ents);
	out->nr_ents = h->nr_ents;
	out->max_segs = h->max_segs;
	out->record_size = h->record_size;
}

int xbd_journal_format(void *mem, size_t size, const struct xbd_journal_geom *g)
{
	struct xbd_journal_hdr *h = mem;
	size_t need = xbd_journal_size(g);

	if (!need || size < need)
		return -EINVAL;
	memset(mem, 0, need);
	*h = (struct xbd_journal_hdr){
		.version = XBD_JOURNAL_VERSION, .header_size = sizeof(*h), .size = need,
		.nr_queues = g->nr_queues, .ring_pages = g->ring_pages, .proto = g->proto,
		.nr_ents = g->nr_ents, .max_segs = g->max_segs,
		.record_size = (uint32_t)record_size(g->max_segs),
		.queue_size = (uint32_t)queue_size(g->nr_ents, g->max_segs),
		.fe_domid = g->fe_domid, .devid = g->devid,
	};
	for (unsigned int q = 0; q < g->nr_queues; q++) {
		struct xbd_jq j;

		xbd_journal_queue(mem, q, &j);
		j.hdr->ring_ref0 = g->ring_ref0[q];
		j.hdr->port = g->port[q];
	}
	/* Everything above is visible before the magic that makes the journal valid. */
	journal_wmb();
	__atomic_store_n(&h->magic, XBD_JOURNAL_MAGIC, __ATOMIC_RELAXED);
	return 0;
}

void xbd_journal_invalidate(void *mem)
{
	__atomic_store_n(&((struct xbd_journal_hdr *)mem)->magic, 0, __ATOMIC_RELAXED);
}

static int refuse(const char **why, const char *reason)
{
	*why = reason;
	return -EUCLEAN;
}

/* The header, copied once, against itself, the file's size and the connection. */
static int check_header(const struct xbd_journal_hdr *h, size_t size,
			const struct xbd_journal_geom *g, const char **why)
{
	if (h->magic != XBD_JOURNAL_MAGIC)
		return refuse(why, "no journal magic (never completed, or discarded)");
	if (h->version != XBD_JOURNAL_VERSION)
		return refuse(why, "journal version not supported (this binary reads version 1)");
	if (h->header_size != sizeof(*h))
		return refuse(why, "journal header size is not version 1's");
	if (h->nr_queues != g->nr_queues || h->ring_pages != g->ring_pages ||
	    h->proto != g->proto || h->nr_ents != g->nr_ents || h->max_segs != g->max_segs)
		return refuse(why, "journal of another ring geometry (queues, ring size, protocol "
			      "or indirect segments)");
	if (h->fe_domid != g->fe_domid || h->devid != g->devid)
		return refuse(why, "journal of another device");
	if (!geom_ok(g) || h->record_size != record_size(g->max_segs) ||
	    h->queue_size != queue_size(g->nr_ents, g->max_segs) ||
	    h->size != xbd_journal_size(g) || h->size > size)
		return refuse(why, "journal sizes inconsistent with its geometry or its file");
	return 0;
}

int xbd_journal_check(const void *mem, size_t size, const struct xbd_journal_geom *g,
		      const char **why)
{
	struct xbd_journal_hdr h;
	int r;

	if (!mem || size < sizeof(h))
		return refuse(why, "journal shorter than its header");
	memcpy(&h, mem, sizeof(h));
	r = check_header(&h, size, g, why);
	for (unsigned int q = 0; !r && q < g->nr_queues; q++) {
		struct xbd_jq j;

		xbd_journal_queue((void *)mem, q, &j);
		if (get32(&j.hdr->ring_ref0) != g->ring_ref0[q] || get32(&j.hdr->port) != g->port[q])
			r = refuse(why, "journal of another ring (ring-ref or event channel differ: "
				   "the frontend reconnected)");
	}
	return r;
}

void xbd_jq_reset(struct xbd_jq *j, uint32_t start)
{
	for (unsigned int k = 0; k < j->nr_ents; k++)
		put32(&xbd_jq_rec(j, k)->state, XBD_JREC_FREE);
	put32(&j->hdr->req_cons, start);
	put32(&j->hdr->rsp_pvt, start);
	put32(&j->hdr->published, start);
}

void xbd_jq_consume(struct xbd_jq *j, unsigned int k, uint32_t seq, const blkif_request_t *copy)
{
	struct xbd_jrec *rec = xbd_jq_rec(j, k);

	rec->copy = *copy;
	rec->nr_ind = 0;
	rec->seq = seq;
	rec->state = XBD_JREC_PENDING;
	/* The record is complete before req_cons commits it: a record at or past req_cons is
	 * ignored at replay, so a death in between re-reads the slot as never consumed. */
	journal_wmb();
	put32(&j->hdr->req_cons, seq + 1);
}

void xbd_jq_segs(struct xbd_jq *j, unsigned int k, const struct blkif_request_segment *segs,
		 unsigned int n)
{
	struct xbd_jrec *rec = xbd_jq_rec(j, k);

	if (n > j->max_segs)
		return; /* never: the parser bounds n by max_segs first; then they are fetched again */
	memcpy(rec->segs, segs, (size_t)n * sizeof(*segs));
	/* The segments are visible before the count that says they are there. */
	journal_wmb();
	rec->nr_ind = (uint16_t)n;
}

void xbd_jq_answer(struct xbd_jq *j, unsigned int k, uint32_t rsp_idx, uint64_t id, uint8_t op,
		   int16_t status)
{
	struct xbd_jrsp *e = &j->log[rsp_idx & (j->nr_ents - 1)];

	*e = (struct xbd_jrsp){ .rsp_idx = rsp_idx, .record = (uint16_t)k, .op = op,
				.seq = xbd_jq_rec(j, k)->seq, .status = status, .id = id };
	/* The log entry is complete before rsp_pvt commits the answer. */
	journal_wmb();
	put32(&j->hdr->rsp_pvt, rsp_idx + 1);
	/* The answer is committed before its record is freed: a death in between leaves a
	 * pending record that the log names, which replay counts as answered. */
	journal_wmb();
	put32(&xbd_jq_rec(j, k)->state, XBD_JREC_FREE);
}

void xbd_jq_published(struct xbd_jq *j, uint32_t rsp_prod)
{
	/* After the ring's rsp_prod store (the caller published first): a death in between is
	 * the opposite tear, which replay reads from the ring's rsp_prod. */
	journal_wmb();
	put32(&j->hdr->published, rsp_prod);
}
