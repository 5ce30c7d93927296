/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Validation of one blkif request, in pure code. The input is the private copy made by
 * xbd_ring_pop(), never shared memory. Every rule of <xen/io/blkif.h> that a backend must
 * enforce is checked here, one function per rule, and each has a unit test. All sector numbers
 * are 512-byte units, whatever the disk's logical sector size (the 2024 rule in blkif.h; see
 * docs/design.md, Protocol facts); the logical sector size only constrains alignment.
 */
#ifndef XENBLKD_REQ_H
#define XENBLKD_REQ_H

#include <stdbool.h>
#include <stdint.h>

#include "xenblkd/blkif_abi.h"

struct xbd_seg {
	uint32_t gref;
	uint8_t first_sect; /* 512-byte units within the 4 KiB page, first <= last <= 7 */
	uint8_t last_sect;
};

struct xbd_req {
	uint64_t id;        /* echoed in the response; always set, even when parsing fails */
	uint8_t operation;  /* BLKIF_OP_* as sent; always set */
	uint8_t data_op;    /* what it does and what the response echoes: `operation`, or
			     * indirect_op for BLKIF_OP_INDIRECT; always set */
	uint16_t nr_segs;
	bool discard_secure;
	uint8_t nr_indirect; /* INDIRECT: pages of segments still to fetch and parse */
	uint64_t sector;     /* first 512-byte sector */
	uint64_t nr_sectors; /* 512-byte sectors: the segments' total, or the discard length */
	const struct xbd_seg *segs; /* the validated segments: `seg`, or the indirect array */
	uint32_t indirect_grefs[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
	struct xbd_seg seg[BLKIF_MAX_SEGMENTS_PER_REQUEST];
};

/* Segments per indirect page: a 4 KiB page of 8-byte blkif_request_segment entries. */
#define XBD_SEGS_PER_INDIRECT_PAGE (XBD_BLKIF_PAGE_SIZE / sizeof(struct blkif_request_segment))
/* The ABI ceiling: 8 indirect pages of 512 segments. */
#define XBD_MAX_INDIRECT_SEGS (BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST * XBD_SEGS_PER_INDIRECT_PAGE)

/* What the device offers; requests are checked against it. */
struct xbd_limits {
	uint64_t capacity;    /* disk size in 512-byte sectors */
	uint32_t sector_size; /* logical sector size in bytes: a power of two, 512..4096 */
	bool readonly;
	bool flush;          /* feature-flush-cache offered */
	bool barrier;        /* feature-barrier offered */
	bool discard;        /* feature-discard offered */
	bool discard_secure; /* discard-secure offered */
	uint32_t max_indirect_segs; /* feature-max-indirect-segments; 0: INDIRECT not offered */
};

/*
 * Validate *in and fill *out. Returns 0 for a valid request, -EOPNOTSUPP for an operation the
 * device does not offer, -EROFS for a write to a read-only disk, -EINVAL for anything malformed
 * (then *why, if not NULL, points to a static reason for the rate-limited log).
 */
int xbd_req_parse(const blkif_request_t *in, const struct xbd_limits *lim, struct xbd_req *out,
		  const char **why);

/*
 * Second stage of an INDIRECT request (req->nr_indirect > 0 after xbd_req_parse): validate the
 * segments the caller copied out of the indirect pages (`in`, req->nr_segs entries, a private
 * copy) into `out` (room for req->nr_segs), then the range and the read-only rule, exactly as
 * for a direct request. On success req->segs = out. Same returns as xbd_req_parse. On a
 * refused segment, neither its slot of `out` nor any after it is read or written.
 */
int xbd_req_parse_indirect(struct xbd_req *req, const struct blkif_request_segment *in,
			   const struct xbd_limits *lim, struct xbd_seg *out, const char **why);

/* The operation a response to this request carries: indirect_op for INDIRECT, else operation. */
uint8_t xbd_req_response_op(const blkif_request_t *in);

/* True for operations that carry data to the disk (WRITE, and BARRIER/FLUSH with segments). */
bool xbd_req_writes_data(const struct xbd_req *req);

#endif
