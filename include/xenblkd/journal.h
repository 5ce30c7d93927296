/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The in-flight journal of a VBD's rings (docs/restart.md), in pure code: its layout, the
 * plain stores the data path makes into it (no system call, no lock), the validation of a
 * journal found at start-up, and the replay plan computed from it and the live ring's indices.
 * The bytes come from a file or memfd that outlived a process and hold copies of guest
 * requests, so every field is read once and checked as strictly as the ring is.
 */
#ifndef XENBLKD_JOURNAL_H
#define XENBLKD_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xenblkd/blkif_abi.h"

#define XBD_JOURNAL_MAGIC 0x314c4e524a444258ull /* "XBDJRNL1" */
#define XBD_JOURNAL_VERSION 1u
#define XBD_JOURNAL_MAX_QUEUES 64u
#define XBD_JOURNAL_MAX_PAGES 16u
#define XBD_JOURNAL_MAX_ENTS 2048u

struct xbd_journal_hdr {
	uint64_t magic;
	uint32_t version;
	uint32_t header_size;
	uint64_t size;
	uint32_t nr_queues;
	uint32_t ring_pages;
	uint32_t proto;
	uint32_t nr_ents;
	uint32_t max_segs;
	uint32_t record_size;
	uint32_t queue_size;
	uint16_t fe_domid;
	uint16_t pad;
	uint32_t devid;
	uint32_t reserved;
};
_Static_assert(sizeof(struct xbd_journal_hdr) == 64, "v1 header is 64 bytes");

struct xbd_jq_hdr {
	uint32_t ring_ref0;
	uint32_t port;
	uint32_t req_cons;  /* commit point of consumption */
	uint32_t rsp_pvt;   /* commit point of answers */
	uint32_t published; /* rsp_prod we published last */
	uint32_t reserved[11];
};
_Static_assert(sizeof(struct xbd_jq_hdr) == 64, "v1 queue header is 64 bytes");

/* One answer, at rsp_idx % nr_ents of the response log. */
struct xbd_jrsp {
	uint32_t rsp_idx;
	uint16_t record; /* the request record (data-plane slot) it answers */
	uint8_t op;
	uint8_t pad;
	uint32_t seq;    /* that request's consumer index */
	int16_t status;
	uint16_t pad2;
	uint64_t id;
	uint64_t reserved;
};
_Static_assert(sizeof(struct xbd_jrsp) == 32, "v1 log entry is 32 bytes");

#define XBD_JREC_FREE 0u
#define XBD_JREC_PENDING 1u

/* One consumed request: the private copy, and an indirect request's segments. */
struct xbd_jrec {
	uint32_t state;
	uint32_t seq;
	uint16_t nr_ind; /* segments stored in segs[] (0: none, or not fetched yet) */
	uint16_t flags;
	uint32_t pad;
	blkif_request_t copy;
	struct blkif_request_segment segs[];
};

/* What the journal must match: the connection as negotiated (or as the frontend shows it). */
struct xbd_journal_geom {
	uint32_t nr_queues;
	uint32_t ring_pages;
	uint32_t proto;
	uint32_t nr_ents;
	uint32_t max_segs;
	uint16_t fe_domid;
	uint32_t devid;
	uint32_t ring_ref0[XBD_JOURNAL_MAX_QUEUES];
	uint32_t port[XBD_JOURNAL_MAX_QUEUES];
};

/* One queue's section, as the data path writes it. */
struct xbd_jq {
	struct xbd_jq_hdr *hdr;
	struct xbd_jrsp *log;
	unsigned char *recs;
	uint32_t nr_ents;
	uint32_t max_segs;
	size_t record_size;
};

/* Bytes of a journal for g, or 0 if g is out of bounds. */
size_t xbd_journal_size(const struct xbd_journal_geom *g);
/* Write an empty journal for g into mem (xbd_journal_size(g) bytes): header last. */
int xbd_journal_format(void *mem, size_t size, const struct xbd_journal_geom *g);
/* Check a journal found at start-up against g. 0, or -EUCLEAN with *why set. */
int xbd_journal_check(const void *mem, size_t size, const struct xbd_journal_geom *g,
		      const char **why);
/* Queue q's section of a journal that passed check or format. */
void xbd_journal_queue(void *mem, unsigned int q, struct xbd_jq *out);
/* Remove the magic (a journal being discarded). */
void xbd_journal_invalidate(void *mem);

/* The data path (docs/restart.md, Record order). */
static inline struct xbd_jrec *xbd_jq_rec(const struct xbd_jq *j, unsigned int k)
{
	return (struct xbd_jrec *)(j->recs + (size_t)k * j->record_size);
}
/* A fresh ring at index `start`: every index there, every record free. */
void xbd_jq_reset(struct xbd_jq *j, uint32_t start);
void xbd_jq_consume(struct xbd_jq *j, unsigned int k, uint32_t seq, const blkif_request_t *copy);
void xbd_jq_segs(struct xbd_jq *j, unsigned int k, const struct blkif_request_segment *segs,
		 unsigned int n);
void xbd_jq_answer(struct xbd_jq *j, unsigned int k, uint32_t rsp_idx, uint64_t id, uint8_t op,
		   int16_t status);
void xbd_jq_published(struct xbd_jq *j, uint32_t rsp_prod);

/* The replay plan of one queue. */
struct xbd_jq_plan {
	uint32_t req_cons;       /* attach the ring's req_cons here */
	uint32_t rsp_from;       /* ... and its rsp_prod_pvt here: the published rsp_prod */
	uint32_t rsp_pvt;        /* responses [rsp_from, rsp_pvt) are rewritten from the log */
	unsigned int nr_pending; /* records to replay, in pending[0..n) in consumer order */
	uint16_t pending[XBD_JOURNAL_MAX_ENTS];
};

/* Plan queue j's replay from the live ring's rsp_prod and req_prod, each read once by the
 * caller. 0, or -EUCLEAN with *why set. */
int xbd_jq_plan(const struct xbd_jq *j, uint32_t rsp_prod, uint32_t req_prod,
		struct xbd_jq_plan *out, const char **why);

#endif
