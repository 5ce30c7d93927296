/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Validation of one blkif request (see req.h). The input is already a private copy, so each
 * field is simply read and checked; every rule is one small function that names the rule and
 * sets the reason logged for a refused request. Order: the device limits, then whether the
 * operation is offered (-EOPNOTSUPP), then the shape of the request (-EINVAL), and last whether
 * a read-only disk would be modified (-EROFS). Sectors are 512-byte units throughout (the 2024
 * rule of blkif.h; docs/design.md, Protocol facts); the logical sector size only constrains
 * alignment.
 *
 * Decisions where blkif.h leaves room:
 * - FLUSH_DISKCACHE and WRITE_BARRIER with segments are a write of that data followed by the
 *   flush or barrier; without segments their sector_number means nothing and is ignored.
 * - On a read-only disk, FLUSH_DISKCACHE without data is accepted (it writes nothing);
 *   WRITE_BARRIER is refused with or without data, as Linux blkback refuses it.
 * - A response echoes `operation`, except for INDIRECT, whose response carries indirect_op
 *   (Linux blkback does so, and Linux blkfront rejects anything else): see data_op.
 * - BLKIF_DISCARD_SECURE is honoured only when discard-secure is offered and otherwise ignored,
 *   as blkif.h says ("ignored if discard-secure=0"). Other flag bits are ignored.
 * - A discard of zero sectors is malformed (no frontend sends one; fallocate refuses it).
 * - BLKIF_OP_INDIRECT is offered when max_indirect_segs > 0; its indirect_op must be READ or
 *   WRITE (blkif.h) and its segment count 1..max_indirect_segs. Its segments live in indirect
 *   pages that the caller copies out, then validates with xbd_req_parse_indirect().
 * - BLKIF_OP_RESERVED_1 and unknown codes are -EOPNOTSUPP.
 */
#include <errno.h>
#include <string.h>

#include "xenblkd/req.h"

/* Largest sector count whose byte offset still fits in off_t. */
#define MAX_SECTORS ((uint64_t)INT64_MAX >> XBD_BLKIF_SECTOR_SHIFT)

#define CHECK(expr)                                                                              \
	do {                                                                                     \
		int err_ = (expr);                                                               \
		if (err_)                                                                        \
			return err_;                                                             \
	} while (0)

static int refuse(const char **why, const char *reason, int err)
{
	*why = reason;
	return err;
}

/* Our own configuration, checked so that a bad one fails requests instead of corrupting data. */
static int check_sector_size(const struct xbd_limits *lim, const char **why)
{
	uint32_t ss = lim->sector_size;

	if (ss < XBD_BLKIF_SECTOR_SIZE || ss > XBD_BLKIF_PAGE_SIZE || (ss & (ss - 1)))
		return refuse(why, "device sector size not a power of two in 512..4096", -EINVAL);
	return 0;
}

static int check_capacity(const struct xbd_limits *lim, const char **why)
{
	if (lim->capacity > MAX_SECTORS)
		return refuse(why, "device capacity exceeds the largest byte offset", -EINVAL);
	return 0;
}

/* Logical sector size in 512-byte sectors: 1, 2, 4 or 8. */
static uint64_t sector_granularity(const struct xbd_limits *lim)
{
	return lim->sector_size >> XBD_BLKIF_SECTOR_SHIFT;
}

static bool op_is_offered(uint8_t op, const struct xbd_limits *lim)
{
	switch (op) {
	case BLKIF_OP_READ:
	case BLKIF_OP_WRITE:
		return true;
	case BLKIF_OP_FLUSH_DISKCACHE:
		return lim->flush;
	case BLKIF_OP_WRITE_BARRIER:
		return lim->barrier;
	case BLKIF_OP_DISCARD:
		return lim->discard;
	case BLKIF_OP_INDIRECT:
		return lim->max_indirect_segs > 0;
	default: /* RESERVED_1, unknown */
		return false;
	}
}

/* feature-flush-cache, feature-barrier, feature-discard: an op not offered is EOPNOTSUPP. */
static int check_op_offered(uint8_t op, const struct xbd_limits *lim, const char **why)
{
	if (!op_is_offered(op, lim))
		return refuse(why, "operation not offered", -EOPNOTSUPP);
	return 0;
}

/* Only FLUSH_DISKCACHE and WRITE_BARRIER may carry no data (docs/design.md, Protocol facts). */
static bool op_may_be_empty(uint8_t op)
{
	return op == BLKIF_OP_FLUSH_DISKCACHE || op == BLKIF_OP_WRITE_BARRIER;
}

static int check_nr_segments(uint8_t op, uint8_t nr, const char **why)
{
	if (nr > BLKIF_MAX_SEGMENTS_PER_REQUEST)
		return refuse(why, "more than 11 segments", -EINVAL);
	if (nr == 0 && !op_may_be_empty(op))
		return refuse(why, "read or write without segments", -EINVAL);
	return 0;
}

/* blkif_request_segment: first_sect is the first sector, last_sect the last, inclusive. */
static int check_segment_order(const struct blkif_request_segment *seg, const char **why)
{
	if (seg->first_sect > seg->last_sect)
		return refuse(why, "segment first_sect after last_sect", -EINVAL);
	return 0;
}

/* A segment stays within its 4 KiB page: sectors 0..7. */
static int check_segment_in_page(const struct blkif_request_segment *seg, const char **why)
{
	if (seg->last_sect >= XBD_BLKIF_SECTORS_PER_PAGE)
		return refuse(why, "segment last_sect beyond its page", -EINVAL);
	return 0;
}

/* sector-size constrains every segment's length (blkback's "Misaligned I/O request"). */
static int check_segment_aligned(unsigned int nsec, const struct xbd_limits *lim,
				 const char **why)
{
	if (nsec % sector_granularity(lim))
		return refuse(why, "segment length not a multiple of the sector size", -EINVAL);
	return 0;
}

static int parse_segment(const struct blkif_request_segment *in, const struct xbd_limits *lim,
			 struct xbd_seg *out, const char **why)
{
	CHECK(check_segment_order(in, why));
	CHECK(check_segment_in_page(in, why));
	CHECK(check_segment_aligned(in->last_sect - in->first_sect + 1u, lim, why));
	out->gref = in->gref;
	out->first_sect = in->first_sect;
	out->last_sect = in->last_sect;
	return 0;
}

/* sector-size constrains the start sector too. */
static int check_start_aligned(uint64_t sector, const struct xbd_limits *lim, const char **why)
{
	if (sector % sector_granularity(lim))
		return refuse(why, "start sector not a multiple of the sector size", -EINVAL);
	return 0;
}

static int check_length_aligned(uint64_t nr_sectors, const struct xbd_limits *lim,
				const char **why)
{
	if (nr_sectors % sector_granularity(lim))
		return refuse(why, "length not a multiple of the sector size", -EINVAL);
	return 0;
}

static int check_no_overflow(uint64_t sector, uint64_t nr_sectors, const char **why)
{
	if (sector > UINT64_MAX - nr_sectors)
		return refuse(why, "sector + length overflows", -EINVAL);
	return 0;
}

/* `sectors` is the disk size in 512-byte units; the range must end at or before it. */
static int check_in_capacity(uint64_t sector, uint64_t nr_sectors, const struct xbd_limits *lim,
			     const char **why)
{
	if (sector + nr_sectors > lim->capacity)
		return refuse(why, "range beyond the end of the disk", -EINVAL);
	return 0;
}

static int check_range(uint64_t sector, uint64_t nr_sectors, const struct xbd_limits *lim,
		       const char **why)
{
	CHECK(check_start_aligned(sector, lim, why));
	CHECK(check_no_overflow(sector, nr_sectors, why));
	CHECK(check_in_capacity(sector, nr_sectors, lim, why));
	return 0;
}

static int check_discard_not_empty(uint64_t nr_sectors, const char **why)
{
	if (nr_sectors == 0)
		return refuse(why, "discard of zero sectors", -EINVAL);
	return 0;
}

/* INDIRECT: what the indirect pages describe (blkif.h: indirect_op is READ or WRITE). */
static int check_indirect_op(uint8_t op, const char **why)
{
	if (op != BLKIF_OP_READ && op != BLKIF_OP_WRITE)
		return refuse(why, "indirect_op not READ or WRITE", -EINVAL);
	return 0;
}

static int check_indirect_count(uint16_t nr, const struct xbd_limits *lim, const char **why)
{
	if (nr == 0)
		return refuse(why, "indirect request without segments", -EINVAL);
	if (nr > lim->max_indirect_segs || nr > XBD_MAX_INDIRECT_SEGS)
		return refuse(why, "more indirect segments than advertised", -EINVAL);
	return 0;
}

/* A barrier orders writes even without data, so a read-only disk refuses it (as blkback
 * refuses every non-read operation there); a flush without data changes nothing. */
static bool req_modifies_disk(const struct xbd_req *req)
{
	return xbd_req_writes_data(req) || req->operation == BLKIF_OP_DISCARD ||
	       req->operation == BLKIF_OP_WRITE_BARRIER;
}

/* info VDISK_READONLY / mode "r": nothing may change the disk. */
static int check_writable(const struct xbd_req *req, const struct xbd_limits *lim,
			  const char **why)
{
	if (lim->readonly && req_modifies_disk(req))
		return refuse(why, "write to a read-only disk", -EROFS);
	return 0;
}

/* READ, WRITE, FLUSH_DISKCACHE, WRITE_BARRIER: the blkif_request layout. */
static int parse_rw(const blkif_request_t *in, const struct xbd_limits *lim, struct xbd_req *req,
		    const char **why)
{
	CHECK(check_nr_segments(in->operation, in->nr_segments, why));
	req->nr_segs = in->nr_segments;
	for (unsigned int i = 0; i < req->nr_segs; i++) {
		CHECK(parse_segment(&in->seg[i], lim, &req->seg[i], why));
		req->nr_sectors += req->seg[i].last_sect - req->seg[i].first_sect + 1u;
	}
	if (req->nr_segs) {
		req->sector = in->sector_number;
		CHECK(check_range(req->sector, req->nr_sectors, lim, why));
	}
	return check_writable(req, lim, why);
}

/* DISCARD: the blkif_request_discard layout, sharing the slot with blkif_request. */
static int parse_discard(const blkif_request_t *in, const struct xbd_limits *lim,
			 struct xbd_req *req, const char **why)
{
	blkif_request_discard_t d;

	memcpy(&d, in, sizeof(d));
	req->sector = d.sector_number;
	req->nr_sectors = d.nr_sectors;
	req->discard_secure = (d.flag & BLKIF_DISCARD_SECURE) && lim->discard_secure;
	CHECK(check_discard_not_empty(req->nr_sectors, why));
	CHECK(check_length_aligned(req->nr_sectors, lim, why));
	CHECK(check_range(req->sector, req->nr_sectors, lim, why));
	return check_writable(req, lim, why);
}

/* INDIRECT, first stage: the header. Segments come later (xbd_req_parse_indirect). */
static int parse_indirect_header(const blkif_request_t *in, const struct xbd_limits *lim,
				 struct xbd_req *req, const char **why)
{
	blkif_request_indirect_t ind;

	memcpy(&ind, in, sizeof(ind));
	CHECK(check_indirect_op(ind.indirect_op, why));
	CHECK(check_indirect_count(ind.nr_segments, lim, why));
	req->data_op = ind.indirect_op;
	req->nr_segs = ind.nr_segments;
	req->sector = ind.sector_number;
	req->nr_indirect = (uint8_t)((ind.nr_segments + XBD_SEGS_PER_INDIRECT_PAGE - 1) /
				     XBD_SEGS_PER_INDIRECT_PAGE);
	for (unsigned int i = 0; i < req->nr_indirect; i++)
		req->indirect_grefs[i] = ind.indirect_grefs[i];
	/* Refuse a write to a read-only disk before fetching anything. */
	return check_writable(req, lim, why);
}

static int parse(const blkif_request_t *in, const struct xbd_limits *lim, struct xbd_req *req,
		 const char **why)
{
	CHECK(check_sector_size(lim, why));
	CHECK(check_capacity(lim, why));
	CHECK(check_op_offered(in->operation, lim, why));
	if (in->operation == BLKIF_OP_DISCARD)
		return parse_discard(in, lim, req, why);
	if (in->operation == BLKIF_OP_INDIRECT)
		return parse_indirect_header(in, lim, req, why);
	return parse_rw(in, lim, req, why);
}

int xbd_req_parse(const blkif_request_t *in, const struct xbd_limits *lim, struct xbd_req *out,
		  const char **why)
{
	struct xbd_req req;
	const char *reason = NULL;
	int err;

	memset(&req, 0, sizeof(req));
	req.id = in->id;
	req.operation = in->operation;
	req.data_op = xbd_req_response_op(in);
	err = parse(in, lim, &req, &reason);
	if (err) {
		/* A refused request leaves only what the response needs. */
		memset(&req, 0, sizeof(req));
		req.id = in->id;
		req.operation = in->operation;
		req.data_op = xbd_req_response_op(in);
	}
	*out = req;
	out->segs = out->seg; /* into *out, not the local copy */
	if (why)
		*why = reason;
	return err;
}

uint8_t xbd_req_response_op(const blkif_request_t *in)
{
	blkif_request_indirect_t ind;

	if (in->operation != BLKIF_OP_INDIRECT)
		return in->operation;
	memcpy(&ind, in, sizeof(ind));
	return ind.indirect_op;
}

int xbd_req_parse_indirect(struct xbd_req *req, const struct blkif_request_segment *in,
			   const struct xbd_limits *lim, struct xbd_seg *out, const char **why)
{
	const char *reason = NULL;
	uint64_t total = 0;
	int err = 0;

	/* Summed only once parsed: a refused segment's slot of `out` was never written. */
	for (unsigned int i = 0; i < req->nr_segs && !err; i++) {
		err = parse_segment(&in[i], lim, &out[i], &reason);
		if (!err)
			total += out[i].last_sect - out[i].first_sect + 1u;
	}
	if (!err)
		err = check_range(req->sector, total, lim, &reason);
	if (!err) {
		req->nr_sectors = total;
		req->nr_indirect = 0;
		req->segs = out;
	}
	if (why)
		*why = reason;
	return err;
}

bool xbd_req_writes_data(const struct xbd_req *req)
{
	switch (req->data_op) {
	case BLKIF_OP_WRITE:
		return true;
	case BLKIF_OP_FLUSH_DISKCACHE:
	case BLKIF_OP_WRITE_BARRIER:
		return req->nr_segs > 0;
	default:
		return false;
	}
}
