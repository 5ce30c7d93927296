/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target for the guest-facing pure code: the ring (xbd_ring_*) and request parsing
 * (xbd_req_parse). The input is a hostile frontend: it chooses the ABI, ring size, start
 * index, device limits, the shared ring's contents and a script of frontend and backend steps.
 * The harness keeps its own model of the indices and checks every result against it, decodes
 * each popped request again from the raw slot bytes at the ABI's literal offsets, and judges
 * each request with an independent reference validator written with 128-bit byte arithmetic.
 * The ring buffer is allocated at exactly its mapped size, so the sanitizers catch any access
 * outside it. Built with -fsanitize=fuzzer (clang, -Dfuzzing=true) or linked with replay.c.
 *
 * Input layout (little endian; missing bytes read as zero):
 *   0      proto (mod 3)                  1      ring-page-order (mod 5)
 *   2      sector size code (mod 8)       3      feature bits: ro flush barrier discard secure,
 *                                                 then 3 bits choosing max_indirect_segs (INDIRECT
 *                                                 offered unless 0): 0 1 11 12 256 512 4096 65535
 *   4..7   start index                    8..15  capacity in 512-byte sectors
 *   16..19 initial req_prod - start       20     script length L
 *   21..   L script bytes, then the slot bytes, laid into the slots from slot (start & mask)
 * Script byte b: step b % 8 with argument a = b / 8 (0..31):
 *   0 pop up to a+1    1 answer up to a+1    2 push responses    3 final check
 *   4 req_prod += a    5 req_prod -= a+1     6 rsp_event = rsp_prod_pvt + a - 4
 *   7 req_prod = next 4 script bytes (any value)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xenblkd/req.h"
#include "xenblkd/ring.h"
#include "xenblkd/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                              \
	do {                                                                                     \
		if (!(cond)) {                                                                   \
			fprintf(stderr, "fuzz_ring: invariant failed: %s (%s:%d)\n", #cond,      \
				__FILE__, __LINE__);                                             \
			abort();                                                                 \
		}                                                                                \
	} while (0)

/* Wire offsets per ABI, from the ABI definition (as in test_ring.c), not from our structs. */
struct wire {
	size_t slot, id, sector, seg, nr_sectors, ind_handle, ind_grefs, rsp_size;
};

static const struct wire wire_x86_32 = { 108, 4, 12, 20, 20, 20, 24, 12 };
static const struct wire wire_x86_64 = { 112, 8, 16, 24, 24, 24, 28, 16 };

static const struct wire *wire_of(enum xbd_proto proto)
{
	if (proto == XBD_PROTO_X86_32)
		return &wire_x86_32;
	if (proto == XBD_PROTO_X86_64)
		return &wire_x86_64;
	return sizeof(blkif_request_t) == 108 ? &wire_x86_32 : &wire_x86_64;
}

/* Input reader: past the end, everything reads as zero. */
struct input {
	const uint8_t *p;
	size_t len;
	size_t pos;
};

static uint8_t in_u8(struct input *in)
{
	return in->pos < in->len ? in->p[in->pos++] : 0;
}

static uint64_t in_le(struct input *in, unsigned int bytes)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < bytes; i++)
		v |= (uint64_t)in_u8(in) << (8 * i);
	return v;
}

static uint64_t get_le(const unsigned char *p, unsigned int bytes)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < bytes; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static void put_le32(unsigned char *p, uint32_t v)
{
	for (unsigned int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

enum { REQ_PROD = 0, REQ_EVENT = 4, RSP_PROD = 8, RSP_EVENT = 12, HDR = 64 };

/* The harness's model of the back end, updated only from what the API promises. */
struct model {
	struct xbd_ring ring;
	unsigned char *page;
	size_t bytes;
	const struct wire *w;
	RING_IDX size;
	RING_IDX cons;
	RING_IDX rsp;
	struct xbd_limits lim;
	bool halted;
	/* Responses owed, in order: what put_response must write for each. */
	struct {
		uint64_t id;
		uint8_t op;
		int16_t status;
	} owed[XBD_RING_SLOTS_PER_PAGE << XBD_RING_MAX_PAGE_ORDER];
};

static unsigned char *slot_of(const struct model *m, RING_IDX idx)
{
	return m->page + HDR + (size_t)(idx & (m->size - 1)) * m->w->slot;
}

static RING_IDX shared(const struct model *m, size_t off)
{
	return (RING_IDX)get_le(m->page + off, 4);
}

/* Every field of the popped copy against the raw slot bytes at the ABI's wire offsets. */
static void check_decoded(const struct model *m, const unsigned char *s, const blkif_request_t *r)
{
	const struct wire *w = m->w;

	CHECK(r->operation == s[0]);
	CHECK(r->id == get_le(s + w->id, 8));
	CHECK(r->sector_number == get_le(s + w->sector, 8));
	if (s[0] == BLKIF_OP_DISCARD) {
		blkif_request_discard_t d;

		memcpy(&d, r, sizeof(d));
		CHECK(d.flag == s[1] && d.handle == get_le(s + 2, 2));
		CHECK(d.nr_sectors == get_le(s + w->nr_sectors, 8));
	} else if (s[0] == BLKIF_OP_INDIRECT) {
		blkif_request_indirect_t ind;

		memcpy(&ind, r, sizeof(ind));
		CHECK(ind.indirect_op == s[1] && ind.nr_segments == get_le(s + 2, 2));
		CHECK(ind.handle == get_le(s + w->ind_handle, 2));
		for (unsigned int i = 0; i < BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST; i++)
			CHECK(ind.indirect_grefs[i] == get_le(s + w->ind_grefs + 4 * i, 4));
	} else {
		CHECK(r->nr_segments == s[1] && r->handle == get_le(s + 2, 2));
		for (unsigned int i = 0; i < BLKIF_MAX_SEGMENTS_PER_REQUEST; i++) {
			const unsigned char *g = s + w->seg + 8 * i;

			CHECK(r->seg[i].gref == get_le(g, 4));
			CHECK(r->seg[i].first_sect == g[4] && r->seg[i].last_sect == g[5]);
		}
	}
}

__extension__ typedef unsigned __int128 u128;

static bool op_offered(uint8_t op, const struct xbd_limits *lim)
{
	return op == BLKIF_OP_READ || op == BLKIF_OP_WRITE ||
	       (op == BLKIF_OP_FLUSH_DISKCACHE && lim->flush) ||
	       (op == BLKIF_OP_WRITE_BARRIER && lim->barrier) ||
	       (op == BLKIF_OP_DISCARD && lim->discard) ||
	       (op == BLKIF_OP_INDIRECT && lim->max_indirect_segs);
}

/* INDIRECT's header: the segments come from indirect pages later (fuzz_indirect.c). */
static int ref_indirect(const blkif_request_t *in, const struct xbd_limits *lim)
{
	blkif_request_indirect_t ind;

	memcpy(&ind, in, sizeof(ind));
	if (ind.indirect_op != BLKIF_OP_READ && ind.indirect_op != BLKIF_OP_WRITE)
		return -EINVAL;
	if (!ind.nr_segments || ind.nr_segments > lim->max_indirect_segs ||
	    ind.nr_segments > 4096)
		return -EINVAL;
	return lim->readonly && ind.indirect_op == BLKIF_OP_WRITE ? -EROFS : 0;
}

/* A byte range [start, start + len) judged in bytes, where nothing can overflow. */
static int ref_range(u128 start, u128 len, const struct xbd_limits *lim)
{
	if (start % lim->sector_size || len % lim->sector_size)
		return -EINVAL;
	if (start + len > (u128)lim->capacity * 512)
		return -EINVAL;
	return 0;
}

/* The reference verdict, written independently of req.c: EOPNOTSUPP, then EINVAL, then EROFS. */
static int ref_verdict(const blkif_request_t *in, const struct xbd_limits *lim)
{
	uint32_t ss = lim->sector_size;
	u128 total = 0;
	bool writes;

	if (ss < 512 || ss > 4096 || (ss & (ss - 1)) || (u128)lim->capacity * 512 > INT64_MAX)
		return -EINVAL;
	if (!op_offered(in->operation, lim))
		return -EOPNOTSUPP;
	if (in->operation == BLKIF_OP_INDIRECT)
		return ref_indirect(in, lim);
	if (in->operation == BLKIF_OP_DISCARD) {
		blkif_request_discard_t d;

		memcpy(&d, in, sizeof(d));
		if (!d.nr_sectors ||
		    ref_range((u128)d.sector_number * 512, (u128)d.nr_sectors * 512, lim))
			return -EINVAL;
		return lim->readonly ? -EROFS : 0;
	}
	if (in->nr_segments > 11)
		return -EINVAL;
	if (!in->nr_segments &&
	    (in->operation == BLKIF_OP_READ || in->operation == BLKIF_OP_WRITE))
		return -EINVAL;
	for (unsigned int i = 0; i < in->nr_segments; i++) {
		const struct blkif_request_segment *s = &in->seg[i];
		unsigned int len = (unsigned int)(s->last_sect - s->first_sect + 1) * 512;

		if (s->first_sect > s->last_sect || s->last_sect > 7 || len % ss)
			return -EINVAL;
		total += len;
	}
	if (in->nr_segments && ref_range((u128)in->sector_number * 512, total, lim))
		return -EINVAL;
	/* A barrier changes the disk's ordering even without data: refused on a read-only disk,
	 * as blkback refuses it; a flush without data changes nothing. */
	writes = in->operation == BLKIF_OP_WRITE || in->operation == BLKIF_OP_WRITE_BARRIER ||
		 (in->operation != BLKIF_OP_READ && in->nr_segments);
	return lim->readonly && writes ? -EROFS : 0;
}

/* An accepted INDIRECT header: what the second stage needs, nothing guessed yet. */
static void check_accepted_indirect(const blkif_request_t *in, const struct xbd_req *r)
{
	blkif_request_indirect_t ind;

	memcpy(&ind, in, sizeof(ind));
	CHECK(r->data_op == ind.indirect_op && r->nr_segs == ind.nr_segments);
	CHECK(r->nr_indirect == (ind.nr_segments + 511) / 512 && r->nr_indirect <= 8);
	CHECK(r->sector == ind.sector_number && r->nr_sectors == 0 && !r->discard_secure);
	for (unsigned int i = 0; i < r->nr_indirect; i++)
		CHECK(r->indirect_grefs[i] == ind.indirect_grefs[i]);
}

/* What a 0 from the parser promises the data path. */
static void check_accepted(const blkif_request_t *in, const struct xbd_limits *lim,
			   const struct xbd_req *r)
{
	uint64_t g = lim->sector_size / 512;
	uint64_t sum = 0;

	if (in->operation == BLKIF_OP_INDIRECT) {
		check_accepted_indirect(in, r);
		return;
	}

	CHECK(r->nr_segs <= BLKIF_MAX_SEGMENTS_PER_REQUEST);
	for (unsigned int i = 0; i < r->nr_segs; i++) {
		CHECK(r->seg[i].first_sect <= r->seg[i].last_sect && r->seg[i].last_sect <= 7);
		CHECK((r->seg[i].last_sect - r->seg[i].first_sect + 1u) % g == 0);
		CHECK(r->seg[i].gref == in->seg[i].gref);
		sum += r->seg[i].last_sect - r->seg[i].first_sect + 1u;
	}
	if (r->operation == BLKIF_OP_DISCARD) {
		CHECK(r->nr_segs == 0 && r->nr_sectors > 0);
		CHECK(!r->discard_secure || lim->discard_secure);
	} else {
		CHECK(r->nr_sectors == sum && !r->discard_secure);
		CHECK(r->nr_segs > 0 || r->operation == BLKIF_OP_FLUSH_DISKCACHE ||
		      r->operation == BLKIF_OP_WRITE_BARRIER);
	}
	CHECK(r->nr_sectors <= lim->capacity && r->sector <= lim->capacity - r->nr_sectors);
	CHECK(r->sector % g == 0 && r->nr_sectors % g == 0);
	CHECK((u128)(r->sector + r->nr_sectors) * 512 <= INT64_MAX);
	CHECK(!lim->readonly || (!xbd_req_writes_data(r) && r->operation != BLKIF_OP_DISCARD &&
				 r->operation != BLKIF_OP_WRITE_BARRIER));
}

static int16_t parse_and_check(const blkif_request_t *in, const struct xbd_limits *lim)
{
	struct xbd_req r;
	const char *why = NULL;
	int err = xbd_req_parse(in, lim, &r, &why);
	int16_t status = xbd_status_from_errno(err);

	CHECK(err == 0 || err == -EINVAL || err == -EOPNOTSUPP || err == -EROFS);
	CHECK(err == ref_verdict(in, lim));
	CHECK((err != 0) == (why != NULL));
	CHECK(r.id == in->id && r.operation == in->operation);
	CHECK(r.data_op == xbd_req_response_op(in));
	if (err)
		CHECK(!r.nr_segs && !r.sector && !r.nr_sectors && !r.discard_secure);
	else
		check_accepted(in, lim, &r);
	CHECK(status == BLKIF_RSP_OKAY || status == BLKIF_RSP_ERROR ||
	      status == BLKIF_RSP_EOPNOTSUPP);
	CHECK((status == BLKIF_RSP_EOPNOTSUPP) == (err == -EOPNOTSUPP));
	return status;
}

/* What the pop must answer for the req_prod currently in the shared page. */
static int expected_pop(const struct model *m)
{
	RING_IDX prod = shared(m, REQ_PROD);

	if ((RING_IDX)(prod - m->rsp) > m->size || (RING_IDX)(prod - m->rsp) < m->cons - m->rsp)
		return -EPROTO;
	return prod != m->cons && m->cons - m->rsp < m->size;
}

static void step_pop(struct model *m)
{
	blkif_request_t req;
	unsigned char raw[112];
	int want = expected_pop(m);
	int rc;

	memcpy(raw, slot_of(m, m->cons), m->w->slot);
	rc = xbd_ring_pop(&m->ring, &req);
	CHECK(rc == want);
	if (rc == -EPROTO) {
		m->halted = true;
		return;
	}
	if (rc == 0)
		return;
	check_decoded(m, raw, &req);
	m->owed[m->cons & (m->size - 1)].id = req.id;
	m->owed[m->cons & (m->size - 1)].op = xbd_req_response_op(&req);
	m->owed[m->cons & (m->size - 1)].status = parse_and_check(&req, &m->lim);
	m->cons++;
	CHECK(xbd_ring_outstanding(&m->ring) == m->cons - m->rsp);
}

static void step_answer(struct model *m)
{
	unsigned char *s = slot_of(m, m->rsp);
	unsigned char before[112];
	unsigned int k = m->rsp & (m->size - 1);

	if (m->cons == m->rsp)
		return;
	memcpy(before, s, m->w->slot);
	xbd_ring_put_response(&m->ring, m->owed[k].id, m->owed[k].op, m->owed[k].status);
	m->rsp++;
	CHECK(get_le(s, 8) == m->owed[k].id && s[8] == m->owed[k].op);
	CHECK((int16_t)get_le(s + 10, 2) == m->owed[k].status);
	CHECK(s[9] == 0);
	for (size_t b = 12; b < m->w->rsp_size; b++)
		CHECK(s[b] == 0);
	CHECK(!memcmp(s + m->w->rsp_size, before + m->w->rsp_size, m->w->slot - m->w->rsp_size));
	CHECK(xbd_ring_outstanding(&m->ring) == m->cons - m->rsp);
}

static void step_push(struct model *m)
{
	RING_IDX old = shared(m, RSP_PROD);
	RING_IDX event = shared(m, RSP_EVENT);
	bool notify = xbd_ring_push_responses(&m->ring);

	CHECK(shared(m, RSP_PROD) == m->rsp);
	CHECK(notify == ((RING_IDX)(m->rsp - event) < (RING_IDX)(m->rsp - old)));
}

static void step_final_check(struct model *m)
{
	RING_IDX prod = shared(m, REQ_PROD);
	RING_IDX waiting = prod - m->cons;
	RING_IDX room = m->size - (m->cons - m->rsp);
	RING_IDX event = shared(m, REQ_EVENT);
	bool work = xbd_ring_final_check(&m->ring);

	/* Single-threaded, req_prod cannot move between the two looks: work means no re-arm. */
	CHECK(work == ((waiting < room ? waiting : room) != 0));
	CHECK(shared(m, REQ_EVENT) == (work ? event : m->cons + 1));
}

static void set_shared(struct model *m, size_t off, RING_IDX v)
{
	put_le32(m->page + off, v);
}

static void run_step(struct model *m, uint8_t b, struct input *script)
{
	unsigned int a = b / 8;

	switch (b % 8) {
	case 0:
		for (unsigned int i = 0; i <= a && !m->halted; i++)
			step_pop(m);
		break;
	case 1:
		for (unsigned int i = 0; i <= a; i++)
			step_answer(m);
		break;
	case 2:
		step_push(m);
		break;
	case 3:
		step_final_check(m);
		break;
	case 4:
		set_shared(m, REQ_PROD, shared(m, REQ_PROD) + a);
		break;
	case 5:
		set_shared(m, REQ_PROD, shared(m, REQ_PROD) - a - 1);
		break;
	case 6:
		set_shared(m, RSP_EVENT, m->rsp + a - 4);
		break;
	default:
		set_shared(m, REQ_PROD, (RING_IDX)in_le(script, 4));
		break;
	}
}

/* After the script: what a data thread does until the ring is idle or halted. */
static void drain(struct model *m)
{
	for (unsigned int i = 0; i < 4 * m->size && !m->halted; i++) {
		RING_IDX before = m->cons;

		step_pop(m);
		while (m->rsp != m->cons)
			step_answer(m);
		if (m->cons == before)
			break;
	}
	step_push(m);
	if (!m->halted)
		step_final_check(m);
}

static const uint32_t sector_sizes[8] = { 512, 4096, 1024, 2048, 512, 4096, 0, 8192 };
static const uint32_t indirect_maxima[8] = { 0, 1, 11, 12, 256, 512, 4096, 65535 };

static void read_limits(struct input *in, struct xbd_limits *lim)
{
	uint8_t ss = in_u8(in);
	uint8_t f = in_u8(in);

	lim->sector_size = sector_sizes[ss % 8];
	lim->readonly = f & 1;
	lim->flush = f & 2;
	lim->barrier = f & 4;
	lim->discard = f & 8;
	lim->discard_secure = f & 16;
	lim->max_indirect_segs = indirect_maxima[f >> 5];
}

/* Lay the remaining input into the slots, starting at the first one the back end reads. */
static void fill_slots(struct model *m, struct input *in)
{
	size_t area = (size_t)m->size * m->w->slot;
	size_t first = (size_t)(m->cons & (m->size - 1)) * m->w->slot;
	size_t n = in->len - in->pos < area ? in->len - in->pos : area;

	for (size_t i = 0; i < n; i++)
		m->page[HDR + (first + i) % area] = in->p[in->pos + i];
	in->pos += n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size, 0 };
	struct input script;
	static struct model m;
	enum xbd_proto proto = (enum xbd_proto)(in_u8(&in) % 3);
	unsigned int order = in_u8(&in) % (XBD_RING_MAX_PAGE_ORDER + 1);
	RING_IDX start;
	uint8_t script_len;

	memset(&m, 0, sizeof(m));
	read_limits(&in, &m.lim);
	start = (RING_IDX)in_le(&in, 4);
	m.lim.capacity = in_le(&in, 8);
	m.bytes = (size_t)XBD_BLKIF_PAGE_SIZE << order;
	/* Exactly the ring's size: any access beyond it is a sanitizer error. */
	m.page = aligned_alloc(XBD_BLKIF_PAGE_SIZE, m.bytes);
	CHECK(m.page);
	memset(m.page, 0, m.bytes);
	CHECK(xbd_ring_attach(&m.ring, m.page, m.bytes, proto, start) == 0);
	m.w = wire_of(proto);
	m.size = xbd_ring_size(&m.ring);
	CHECK(m.size == XBD_RING_SLOTS_PER_PAGE << order);
	CHECK(HDR + (size_t)m.size * m.w->slot <= m.bytes);
	m.cons = m.rsp = start;
	set_shared(&m, REQ_PROD, start + (RING_IDX)in_le(&in, 4));
	set_shared(&m, RSP_PROD, start);
	set_shared(&m, REQ_EVENT, start + 1);
	set_shared(&m, RSP_EVENT, start + 1);
	script_len = in_u8(&in);
	script = (struct input){ in.p, in.pos + script_len < in.len ? in.pos + script_len : in.len,
				 in.pos };
	in.pos = script.len;
	fill_slots(&m, &in);
	while (script.pos < script.len && !m.halted)
		run_step(&m, in_u8(&script), &script);
	drain(&m);
	free(m.page);
	return 0;
}
