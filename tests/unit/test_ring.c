/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unit tests of the ring layer (xbd_ring_*). A minimal frontend written here writes requests
 * into the shared page at the literal byte offsets of each ABI (not through our structs), so
 * the translation is checked against the wire format itself. Covered: init and ring sizes for
 * orders 0..4, empty and full rings, index wrap at 2^32, impossible or backwards req_prod,
 * response padding, notification hold-off and the final check, and every request field of the
 * x86_32 and x86_64 layouts.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "xenblkd/ring.h"

/* Wire offsets of one ABI, from the ABI's definition rather than from our structs. */
struct abi_desc {
	const char *name;
	enum xbd_proto proto;
	size_t slot;      /* request size = slot size */
	size_t id;        /* same offset in every request variant */
	size_t sector;    /* same offset in every request variant */
	size_t seg;       /* rw: first segment */
	size_t nr_sectors; /* discard */
	size_t ind_handle; /* indirect */
	size_t ind_grefs;  /* indirect */
	size_t rsp_size;  /* response: id at 0, operation at 8, status at 10 */
};

#define LAYOUT_X86_32 .slot = 108, .id = 4, .sector = 12, .seg = 20, .nr_sectors = 20,           \
		      .ind_handle = 20, .ind_grefs = 24, .rsp_size = 12
#define LAYOUT_X86_64 .slot = 112, .id = 8, .sector = 16, .seg = 24, .nr_sectors = 24,           \
		      .ind_handle = 24, .ind_grefs = 28, .rsp_size = 16

#if defined(__x86_64__)
#define LAYOUT_NATIVE LAYOUT_X86_64
#elif defined(__i386__)
#define LAYOUT_NATIVE LAYOUT_X86_32
#endif

static const struct abi_desc abis[] = {
	{ "native", XBD_PROTO_NATIVE, LAYOUT_NATIVE },
	{ "x86_32", XBD_PROTO_X86_32, LAYOUT_X86_32 },
	{ "x86_64", XBD_PROTO_X86_64, LAYOUT_X86_64 },
};

#define NR_ABIS (sizeof(abis) / sizeof(abis[0]))
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static void put8(unsigned char *p, size_t off, uint8_t v)
{
	p[off] = v;
}

static void put16(unsigned char *p, size_t off, uint16_t v)
{
	memcpy(p + off, &v, sizeof(v));
}

static void put32(unsigned char *p, size_t off, uint32_t v)
{
	memcpy(p + off, &v, sizeof(v));
}

static void put64(unsigned char *p, size_t off, uint64_t v)
{
	memcpy(p + off, &v, sizeof(v));
}

static uint16_t get16(const unsigned char *p, size_t off)
{
	uint16_t v;

	memcpy(&v, p + off, sizeof(v));
	return v;
}

static uint32_t get32(const unsigned char *p, size_t off)
{
	uint32_t v;

	memcpy(&v, p + off, sizeof(v));
	return v;
}

static uint64_t get64(const unsigned char *p, size_t off)
{
	uint64_t v;

	memcpy(&v, p + off, sizeof(v));
	return v;
}

/* Shared header offsets. */
enum { REQ_PROD = 0, REQ_EVENT = 4, RSP_PROD = 8, RSP_EVENT = 12, HDR = 64 };

/* A shared ring as a frontend sets it up, and our back end attached to it. */
struct fixture {
	const struct abi_desc *abi;
	unsigned char *page;
	size_t bytes;
	RING_IDX start;
	struct xbd_ring ring;
};

static void fx_init(struct fixture *fx, const struct abi_desc *abi, unsigned int order,
		    RING_IDX start)
{
	fx->abi = abi;
	fx->bytes = (size_t)4096 << order;
	fx->start = start;
	/* Exactly the mapped size, so a sanitizer sees any access beyond the ring. */
	fx->page = aligned_alloc(4096, fx->bytes);
	assert_non_null(fx->page);
	memset(fx->page, 0, fx->bytes);
	/* SHARED_RING_INIT, shifted to `start`. */
	put32(fx->page, REQ_PROD, start);
	put32(fx->page, RSP_PROD, start);
	put32(fx->page, REQ_EVENT, start + 1);
	put32(fx->page, RSP_EVENT, start + 1);
	assert_int_equal(xbd_ring_attach(&fx->ring, fx->page, fx->bytes, abi->proto, start), 0);
}

static void fx_free(struct fixture *fx)
{
	free(fx->page);
	fx->page = NULL;
}

static unsigned char *fx_slot(const struct fixture *fx, RING_IDX idx)
{
	RING_IDX size = xbd_ring_size(&fx->ring);

	return fx->page + HDR + (size_t)(idx & (size - 1)) * fx->abi->slot;
}

static void fe_publish(struct fixture *fx, RING_IDX prod)
{
	put32(fx->page, REQ_PROD, prod);
}

/* A READ with one full page, its id and sector both derived from the index. */
static void fe_simple(struct fixture *fx, RING_IDX idx)
{
	unsigned char *s = fx_slot(fx, idx);

	memset(s, 0, fx->abi->slot);
	put8(s, 0, BLKIF_OP_READ);
	put8(s, 1, 1);
	put64(s, fx->abi->id, 0x1d00000000ull + idx);
	put64(s, fx->abi->sector, (uint64_t)idx * 8);
	put32(s, fx->abi->seg, 1000);
	put8(s, fx->abi->seg + 4, 0);
	put8(s, fx->abi->seg + 5, 7);
}

/* Write n simple requests after `from` and publish them. */
static RING_IDX fe_produce(struct fixture *fx, RING_IDX from, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		fe_simple(fx, from + i);
	fe_publish(fx, from + n);
	return from + n;
}

static void pop_expect_simple(struct fixture *fx, RING_IDX idx)
{
	blkif_request_t req;
	int rc = xbd_ring_pop(&fx->ring, &req);

	if (rc != 1)
		fail_msg("%s: pop at %#x returned %d", fx->abi->name, idx, rc);
	assert_int_equal(req.operation, BLKIF_OP_READ);
	assert_int_equal(req.id, 0x1d00000000ull + idx);
	assert_int_equal(req.sector_number, (uint64_t)idx * 8);
}

static void answer(struct fixture *fx, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		xbd_ring_put_response(&fx->ring, i, BLKIF_OP_READ, BLKIF_RSP_OKAY);
}

static void test_init_rejects(void **state)
{
	static const struct {
		size_t bytes;
		int proto;
		size_t misalign;
	} bad[] = {
		{ 0, XBD_PROTO_NATIVE, 0 },
		{ 64, XBD_PROTO_NATIVE, 0 },
		{ 4095, XBD_PROTO_NATIVE, 0 },
		{ 4097, XBD_PROTO_X86_32, 0 },
		{ 3 * 4096, XBD_PROTO_X86_64, 0 },
		{ 4096 << 5, XBD_PROTO_NATIVE, 0 },
		{ 4096, 3, 0 },
		{ 4096, -1, 0 },
		{ 4096, XBD_PROTO_NATIVE, 4 },
		{ 4096, XBD_PROTO_X86_32, 1 },
	};
	unsigned char *page = aligned_alloc(4096, 4096 << 5);
	struct xbd_ring r;

	(void)state;
	assert_non_null(page);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		int rc = xbd_ring_init(&r, page + bad[i].misalign, bad[i].bytes,
				       (enum xbd_proto)bad[i].proto);

		if (rc != -EINVAL)
			fail_msg("case %zu: init returned %d", i, rc);
	}
	assert_int_equal(xbd_ring_init(&r, NULL, 4096, XBD_PROTO_NATIVE), -EINVAL);
	assert_int_equal(xbd_ring_init(NULL, page, 4096, XBD_PROTO_NATIVE), -EINVAL);
	free(page);
}

/* Orders 0..4 hold 32 << order slots in every ABI, each addressed inside the buffer. */
static void test_ring_sizes(void **state)
{
	(void)state;
	for (size_t a = 0; a < NR_ABIS; a++) {
		for (unsigned int order = 0; order <= 4; order++) {
			struct fixture fx;
			RING_IDX size;

			fx_init(&fx, &abis[a], order, 0);
			size = xbd_ring_size(&fx.ring);
			assert_int_equal(size, 32u << order);
			assert_true(HDR + (size_t)size * abis[a].slot <= fx.bytes);
			assert_int_equal(xbd_ring_outstanding(&fx.ring), 0);
			fe_produce(&fx, 0, size);
			for (RING_IDX i = 0; i < size; i++)
				pop_expect_simple(&fx, i);
			assert_int_equal(xbd_ring_outstanding(&fx.ring), size);
			fx_free(&fx);
		}
	}
}

static void test_empty(void **state)
{
	static const RING_IDX starts[] = { 0, 1, 0x7fffffff, UINT32_MAX };

	(void)state;
	for (size_t a = 0; a < NR_ABIS; a++) {
		for (size_t s = 0; s < ARRAY_SIZE(starts); s++) {
			struct fixture fx;
			blkif_request_t req;

			fx_init(&fx, &abis[a], 0, starts[s]);
			put32(fx.page, REQ_EVENT, 0xdead);
			assert_int_equal(xbd_ring_pop(&fx.ring, &req), 0);
			assert_int_equal(xbd_ring_pop(&fx.ring, &req), 0);
			assert_false(xbd_ring_final_check(&fx.ring));
			assert_int_equal(get32(fx.page, REQ_EVENT), starts[s] + 1);
			assert_false(xbd_ring_push_responses(&fx.ring));
			assert_int_equal(get32(fx.page, RSP_PROD), starts[s]);
			assert_int_equal(xbd_ring_outstanding(&fx.ring), 0);
			fx_free(&fx);
		}
	}
}

/* Never more requests consumed than response slots: a full ring stops, then resumes. */
static void test_full(void **state)
{
	(void)state;
	for (size_t a = 0; a < NR_ABIS; a++) {
		struct fixture fx;
		blkif_request_t req;
		RING_IDX prod;
		RING_IDX size;

		fx_init(&fx, &abis[a], 0, UINT32_MAX - 7);
		size = xbd_ring_size(&fx.ring);
		prod = fe_produce(&fx, fx.start, size);
		for (RING_IDX i = 0; i < size; i++)
			pop_expect_simple(&fx, fx.start + i);
		assert_int_equal(xbd_ring_outstanding(&fx.ring), size);
		assert_int_equal(xbd_ring_pop(&fx.ring, &req), 0);
		assert_false(xbd_ring_final_check(&fx.ring));

		/* One more than a ring's worth unanswered is impossible. */
		fe_publish(&fx, prod + 1);
		assert_int_equal(xbd_ring_pop(&fx.ring, &req), -EPROTO);
		assert_int_equal(xbd_ring_outstanding(&fx.ring), size);
		fe_publish(&fx, prod);
		assert_int_equal(xbd_ring_pop(&fx.ring, &req), 0);

		/* Answering one frees one slot, and only one. */
		answer(&fx, 1);
		assert_true(xbd_ring_push_responses(&fx.ring));
		prod = fe_produce(&fx, prod, 1);
		assert_true(xbd_ring_final_check(&fx.ring));
		pop_expect_simple(&fx, prod - 1);
		assert_int_equal(xbd_ring_pop(&fx.ring, &req), 0);
		assert_int_equal(xbd_ring_outstanding(&fx.ring), size);
		fx_free(&fx);
	}
}

/* Free-running indices across 2^32: requests and responses stay in their slots. */
static void test_wrap(void **state)
{
	static const RING_IDX starts[] = { UINT32_MAX - 5, UINT32_MAX, UINT32_MAX - 31,
					   UINT32_MAX - 32, 0x7ffffff0, 0 };

	(void)state;
	for (size_t a = 0; a < NR_ABIS; a++) {
		for (size_t s = 0; s < ARRAY_SIZE(starts); s++) {
			struct fixture fx;
			RING_IDX idx;
			RING_IDX size;

			fx_init(&fx, &abis[a], s % 3, starts[s]);
			size = xbd_ring_size(&fx.ring);
			idx = fx.start;
			for (unsigned int round = 0; round < 3; round++) {
				unsigned int n = round == 1 ? size : size / 2 + 3;
				RING_IDX from = idx;

				fe_produce(&fx, from, n);
				for (unsigned int i = 0; i < n; i++)
					pop_expect_simple(&fx, from + i);
				for (unsigned int i = 0; i < n; i++) {
					unsigned char *slot = fx_slot(&fx, from + i);

					xbd_ring_put_response(&fx.ring, from + i,
							      BLKIF_OP_WRITE, 0);
					assert_int_equal(get64(slot, 0), from + i);
					assert_int_equal(slot[8], BLKIF_OP_WRITE);
				}
				assert_true(xbd_ring_push_responses(&fx.ring));
				idx = from + n;
				assert_int_equal(get32(fx.page, RSP_PROD), idx);
				assert_int_equal(xbd_ring_outstanding(&fx.ring), 0);
				/* The frontend re-arms rsp_event for the next response. */
				put32(fx.page, RSP_EVENT, idx + 1);
			}
			fx_free(&fx);
		}
	}
}

/*
 * req_prod values a frontend cannot honestly write. produce/consume/answer set the state
 * (relative to the start index), then the frontend publishes start + prod.
 */
static const struct prod_case {
	const char *name;
	unsigned int produce, consume, answer;
	RING_IDX prod;
	int expect; /* first pop */
} prod_cases[] = {
	{ "ring's worth ahead", 0, 0, 0, 32, 1 },
	{ "one beyond a ring", 0, 0, 0, 33, -EPROTO },
	{ "far beyond", 0, 0, 0, 0x40000000, -EPROTO },
	{ "half the index space", 0, 0, 0, 0x80000000, -EPROTO },
	{ "one behind the start", 0, 0, 0, UINT32_MAX, -EPROTO },
	{ "ring's worth after answers", 32, 32, 10, 42, 1 },
	{ "one beyond after answers", 32, 32, 10, 43, -EPROTO },
	{ "back below consumed", 5, 3, 0, 2, -EPROTO },
	{ "back to the answered", 5, 3, 0, 0, -EPROTO },
	{ "back to consumed: nothing", 5, 3, 0, 3, 0 },
	{ "back below answered", 5, 3, 3, 2, -EPROTO },
	{ "back well below", 20, 20, 0, 10, -EPROTO },
	{ "steady", 5, 3, 1, 5, 1 },
};

static void test_req_prod_checks(void **state)
{
	static const RING_IDX starts[] = { 0, UINT32_MAX - 2, UINT32_MAX - 40, 0x80000000 };

	(void)state;
	for (size_t a = 0; a < NR_ABIS; a++) {
		for (size_t s = 0; s < ARRAY_SIZE(starts); s++) {
			for (size_t c = 0; c < ARRAY_SIZE(prod_cases); c++) {
				const struct prod_case *pc = &prod_cases[c];
				struct fixture fx;
				blkif_request_t req;
				RING_IDX prod;
				int rc;

				fx_init(&fx, &abis[a], 0, starts[s]);
				fe_produce(&fx, fx.start, pc->produce);
				for (unsigned int i = 0; i < pc->consume; i++)
					pop_expect_simple(&fx, fx.start + i);
				answer(&fx, pc->answer);
				prod = fx.start + pc->prod;
				/* Fill any newly produced slots with valid requests. */
				for (RING_IDX i = fx.start + pc->produce;
				     pc->prod > pc->produce && i != prod && i - fx.start < 64;
				     i++)
					fe_simple(&fx, i);
				fe_publish(&fx, prod);
				rc = xbd_ring_pop(&fx.ring, &req);
				if (rc != pc->expect)
					fail_msg("%s, %s, start %#x: pop %d, want %d", abis[a].name,
						 pc->name, starts[s], rc, pc->expect);
				if (rc == -EPROTO) {
					/* Refused without consuming, and stays refused. */
					assert_int_equal(xbd_ring_outstanding(&fx.ring),
							 pc->consume - pc->answer);
					assert_int_equal(xbd_ring_pop(&fx.ring, &req), -EPROTO);
					/* Final check reports it as work: pop sees it. */
					if (pc->consume - pc->answer < 32)
						assert_true(xbd_ring_final_check(&fx.ring));
				}
				fx_free(&fx);
			}
		}
	}
}

/* XSA-216: every byte of a response that is not a field is zero; nothing beyond it is written. */
static void test_response_padding(void **state)
{
	static const struct {
		uint64_t id;
		uint8_t op;
		int16_t status;
	} rsps[] = {
		{ 0, 0, 0 },
		{ UINT64_MAX, UINT8_MAX, BLKIF_RSP_EOPNOTSUPP },
		{ 0x0123456789abcdefull, BLKIF_OP_DISCARD, BLKIF_RSP_ERROR },
		{ 0x8000000000000001ull, BLKIF_OP_WRITE, BLKIF_RSP_OKAY },
	};

	(void)state;
	for (size_t a = 0; a < NR_ABIS; a++) {
		struct fixture fx;

		fx_init(&fx, &abis[a], 0, UINT32_MAX - 1);
		fe_produce(&fx, fx.start, ARRAY_SIZE(rsps));
		for (size_t i = 0; i < ARRAY_SIZE(rsps); i++)
			pop_expect_simple(&fx, fx.start + (RING_IDX)i);
		for (size_t i = 0; i < ARRAY_SIZE(rsps); i++) {
			unsigned char *slot = fx_slot(&fx, fx.start + (RING_IDX)i);

			memset(slot, 0xaa, abis[a].slot);
			xbd_ring_put_response(&fx.ring, rsps[i].id, rsps[i].op, rsps[i].status);
			assert_int_equal(get64(slot, 0), rsps[i].id);
			assert_int_equal(slot[8], rsps[i].op);
			assert_int_equal(slot[9], 0);
			assert_int_equal((int16_t)get16(slot, 10), rsps[i].status);
			for (size_t b = 12; b < abis[a].rsp_size; b++)
				if (slot[b])
					fail_msg("%s: padding byte %zu is %#x", abis[a].name, b,
						 slot[b]);
			for (size_t b = abis[a].rsp_size; b < abis[a].slot; b++)
				if (slot[b] != 0xaa)
					fail_msg("%s: byte %zu beyond the response written",
						 abis[a].name, b);
		}
		fx_free(&fx);
	}
}

/* RING_PUSH_RESPONSES_AND_CHECK_NOTIFY: notify iff rsp_event is in (old rsp_prod, new]. */
static const struct notify_case {
	unsigned int responses;
	RING_IDX event; /* relative to the old rsp_prod */
	bool notify;
} notify_cases[] = {
	{ 1, 1, true },
	{ 1, 2, false },
	{ 3, 1, true },
	{ 3, 2, true },
	{ 3, 3, true },
	{ 3, 4, false },
	{ 2, 0, false },          /* stale event: the frontend is not waiting */
	{ 2, UINT32_MAX, false }, /* one behind */
	{ 0, 1, false },          /* nothing new */
	{ 32, 32, true },
	{ 32, 33, false },
	{ 32, 17, true },
};

static void test_notify(void **state)
{
	static const RING_IDX starts[] = { 0, UINT32_MAX, UINT32_MAX - 16, 12345 };

	(void)state;
	for (size_t a = 0; a < NR_ABIS; a++) {
		for (size_t s = 0; s < ARRAY_SIZE(starts); s++) {
			for (size_t c = 0; c < ARRAY_SIZE(notify_cases); c++) {
				const struct notify_case *nc = &notify_cases[c];
				struct fixture fx;
				bool notify;

				fx_init(&fx, &abis[a], 0, starts[s]);
				fe_produce(&fx, fx.start, nc->responses);
				for (unsigned int i = 0; i < nc->responses; i++)
					pop_expect_simple(&fx, fx.start + i);
				answer(&fx, nc->responses);
				put32(fx.page, RSP_EVENT, fx.start + nc->event);
				notify = xbd_ring_push_responses(&fx.ring);
				if (notify != nc->notify)
					fail_msg("%s start %#x: %u responses, event +%u: notify %d",
						 abis[a].name, starts[s], nc->responses, nc->event,
						 notify);
				assert_int_equal(get32(fx.page, RSP_PROD),
						 fx.start + nc->responses);
				/* Pushing again with nothing new never notifies. */
				assert_false(xbd_ring_push_responses(&fx.ring));
				fx_free(&fx);
			}
		}
	}
}

/* Responses pushed in two batches: only the batch that crosses rsp_event notifies. */
static void test_notify_batches(void **state)
{
	(void)state;
	for (size_t a = 0; a < NR_ABIS; a++) {
		struct fixture fx;

		fx_init(&fx, &abis[a], 0, UINT32_MAX - 2);
		fe_produce(&fx, fx.start, 6);
		for (unsigned int i = 0; i < 6; i++)
			pop_expect_simple(&fx, fx.start + i);
		put32(fx.page, RSP_EVENT, fx.start + 5);
		answer(&fx, 3);
		assert_false(xbd_ring_push_responses(&fx.ring));
		answer(&fx, 3);
		assert_true(xbd_ring_push_responses(&fx.ring));
		fx_free(&fx);
	}
}

/* RING_FINAL_CHECK_FOR_REQUESTS: work waiting leaves req_event alone; none re-arms it. */
static void test_final_check(void **state)
{
	static const RING_IDX starts[] = { 0, UINT32_MAX, UINT32_MAX - 3 };

	(void)state;
	for (size_t a = 0; a < NR_ABIS; a++) {
		for (size_t s = 0; s < ARRAY_SIZE(starts); s++) {
			struct fixture fx;
			RING_IDX size;

			fx_init(&fx, &abis[a], 0, starts[s]);
			size = xbd_ring_size(&fx.ring);

			/* Requests waiting. */
			fe_produce(&fx, fx.start, 2);
			put32(fx.page, REQ_EVENT, 0xdeadbeef);
			assert_true(xbd_ring_final_check(&fx.ring));
			assert_int_equal(get32(fx.page, REQ_EVENT), 0xdeadbeef);

			/* Drained: re-armed for the very next request. */
			pop_expect_simple(&fx, fx.start);
			pop_expect_simple(&fx, fx.start + 1);
			assert_false(xbd_ring_final_check(&fx.ring));
			assert_int_equal(get32(fx.page, REQ_EVENT), fx.start + 3);

			/* All slots outstanding: nothing can be taken, whatever req_prod says. */
			fe_produce(&fx, fx.start + 2, size - 2);
			for (RING_IDX i = 2; i < size; i++)
				pop_expect_simple(&fx, fx.start + i);
			assert_false(xbd_ring_final_check(&fx.ring));
			assert_int_equal(get32(fx.page, REQ_EVENT), fx.start + size + 1);
			/* Counted up to the free slots (ring.h): pop refuses it. */
			fe_publish(&fx, fx.start + size + 5);
			assert_false(xbd_ring_final_check(&fx.ring));
			assert_int_equal(xbd_ring_pop(&fx.ring, &(blkif_request_t){ 0 }), -EPROTO);

			/* Answered: an impossible req_prod shows as work, and pop refuses it. */
			answer(&fx, size);
			xbd_ring_push_responses(&fx.ring);
			fe_publish(&fx, fx.start + 3 * size);
			assert_true(xbd_ring_final_check(&fx.ring));
			fx_free(&fx);
		}
	}
}

/* Fill a request slot with rw fields at the ABI's wire offsets. */
static void fe_rw_all_fields(struct fixture *fx, RING_IDX idx, uint8_t op, uint8_t nr)
{
	unsigned char *s = fx_slot(fx, idx);

	memset(s, 0xee, fx->abi->slot);
	put8(s, 0, op);
	put8(s, 1, nr);
	put16(s, 2, 0xbeef);
	put64(s, fx->abi->id, 0x0123456789abcdefull);
	put64(s, fx->abi->sector, 0xfedcba9876543210ull);
	for (unsigned int i = 0; i < BLKIF_MAX_SEGMENTS_PER_REQUEST; i++) {
		put32(s, fx->abi->seg + 8 * i, 0x10000u + i * 0x101u);
		put8(s, fx->abi->seg + 8 * i + 4, (uint8_t)(i % 8));
		put8(s, fx->abi->seg + 8 * i + 5, (uint8_t)(7 - i % 8));
	}
}

static void check_rw_all_fields(const blkif_request_t *req, uint8_t op, uint8_t nr)
{
	assert_int_equal(req->operation, op);
	assert_int_equal(req->nr_segments, nr);
	assert_int_equal(req->handle, 0xbeef);
	assert_int_equal(req->id, 0x0123456789abcdefull);
	assert_int_equal(req->sector_number, 0xfedcba9876543210ull);
	for (unsigned int i = 0; i < BLKIF_MAX_SEGMENTS_PER_REQUEST; i++) {
		assert_int_equal(req->seg[i].gref, 0x10000u + i * 0x101u);
		assert_int_equal(req->seg[i].first_sect, i % 8);
		assert_int_equal(req->seg[i].last_sect, 7 - i % 8);
	}
}

/* Every field of the rw layout, for every op that uses it (unknown ops included). */
static void test_translate_rw(void **state)
{
	static const uint8_t ops[] = { BLKIF_OP_READ, BLKIF_OP_WRITE, BLKIF_OP_WRITE_BARRIER,
				       BLKIF_OP_FLUSH_DISKCACHE, BLKIF_OP_RESERVED_1, 0x42, 0xff };
	static const uint8_t nrs[] = { 0, 1, 11, 12, 0xff };

	(void)state;
	for (size_t a = 0; a < NR_ABIS; a++) {
		struct fixture fx;
		RING_IDX idx;

		fx_init(&fx, &abis[a], 1, UINT32_MAX - 20);
		idx = fx.start;
		for (size_t o = 0; o < ARRAY_SIZE(ops); o++) {
			for (size_t n = 0; n < ARRAY_SIZE(nrs); n++) {
				blkif_request_t req;

				fe_rw_all_fields(&fx, idx, ops[o], nrs[n]);
				fe_publish(&fx, idx + 1);
				assert_int_equal(xbd_ring_pop(&fx.ring, &req), 1);
				/* The copy is private: rewriting the slot is harmless. */
				memset(fx_slot(&fx, idx), 0x11, abis[a].slot);
				check_rw_all_fields(&req, ops[o], nrs[n]);
				answer(&fx, 1);
				idx++;
			}
		}
		fx_free(&fx);
	}
}

static void test_translate_discard(void **state)
{
	(void)state;
	for (size_t a = 0; a < NR_ABIS; a++) {
		struct fixture fx;
		blkif_request_t req;
		blkif_request_discard_t d;
		unsigned char *s;

		fx_init(&fx, &abis[a], 0, UINT32_MAX);
		s = fx_slot(&fx, fx.start);
		memset(s, 0xee, abis[a].slot);
		put8(s, 0, BLKIF_OP_DISCARD);
		put8(s, 1, BLKIF_DISCARD_SECURE | 0x80);
		put16(s, 2, 0x7777);
		put64(s, abis[a].id, 0xa1a2a3a4a5a6a7a8ull);
		put64(s, abis[a].sector, 0xb1b2b3b4b5b6b7b8ull);
		put64(s, abis[a].nr_sectors, 0xc1c2c3c4c5c6c7c8ull);
		fe_publish(&fx, fx.start + 1);
		assert_int_equal(xbd_ring_pop(&fx.ring, &req), 1);
		memcpy(&d, &req, sizeof(d));
		assert_int_equal(d.operation, BLKIF_OP_DISCARD);
		assert_int_equal(d.flag, BLKIF_DISCARD_SECURE | 0x80);
		assert_int_equal(d.handle, 0x7777);
		assert_int_equal(d.id, 0xa1a2a3a4a5a6a7a8ull);
		assert_int_equal(d.sector_number, 0xb1b2b3b4b5b6b7b8ull);
		assert_int_equal(d.nr_sectors, 0xc1c2c3c4c5c6c7c8ull);
		assert_int_equal(req.id, 0xa1a2a3a4a5a6a7a8ull);
		fx_free(&fx);
	}
}

static void test_translate_indirect(void **state)
{
	(void)state;
	for (size_t a = 0; a < NR_ABIS; a++) {
		struct fixture fx;
		blkif_request_t req;
		blkif_request_indirect_t ind;
		unsigned char *s;

		fx_init(&fx, &abis[a], 0, 7);
		s = fx_slot(&fx, fx.start);
		memset(s, 0xee, abis[a].slot);
		put8(s, 0, BLKIF_OP_INDIRECT);
		put8(s, 1, BLKIF_OP_WRITE);
		put16(s, 2, 0x1234);
		put64(s, abis[a].id, 0x1111222233334444ull);
		put64(s, abis[a].sector, 0x5555666677778888ull);
		put16(s, abis[a].ind_handle, 0x9999);
		for (unsigned int i = 0; i < BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST; i++)
			put32(s, abis[a].ind_grefs + 4 * i, 0xabc00000u + i);
		fe_publish(&fx, fx.start + 1);
		assert_int_equal(xbd_ring_pop(&fx.ring, &req), 1);
		memcpy(&ind, &req, sizeof(ind));
		assert_int_equal(ind.operation, BLKIF_OP_INDIRECT);
		assert_int_equal(ind.indirect_op, BLKIF_OP_WRITE);
		assert_int_equal(ind.nr_segments, 0x1234);
		assert_int_equal(ind.id, 0x1111222233334444ull);
		assert_int_equal(ind.sector_number, 0x5555666677778888ull);
		assert_int_equal(ind.handle, 0x9999);
		for (unsigned int i = 0; i < BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST; i++)
			assert_int_equal(ind.indirect_grefs[i], 0xabc00000u + i);
		assert_int_equal(req.id, 0x1111222233334444ull);
		fx_free(&fx);
	}
}

/* Responses of the foreign ABIs read back at their wire offsets (see also padding). */
static void test_response_fields(void **state)
{
	(void)state;
	for (size_t a = 0; a < NR_ABIS; a++) {
		struct fixture fx;
		unsigned char *s;

		fx_init(&fx, &abis[a], 0, 0);
		fe_produce(&fx, 0, 1);
		pop_expect_simple(&fx, 0);
		xbd_ring_put_response(&fx.ring, 0x0102030405060708ull, BLKIF_OP_FLUSH_DISKCACHE,
				      BLKIF_RSP_EOPNOTSUPP);
		s = fx_slot(&fx, 0);
		assert_int_equal(get32(s, 0), 0x05060708u);
		assert_int_equal(get32(s, 4), 0x01020304u);
		assert_int_equal(s[8], BLKIF_OP_FLUSH_DISKCACHE);
		assert_int_equal(get16(s, 10), 0xfffe);
		assert_int_equal(xbd_ring_outstanding(&fx.ring), 0);
		fx_free(&fx);
	}
}

static void test_proto_from_string(void **state)
{
	static const struct {
		const char *s;
		int rc;
		enum xbd_proto proto;
	} cases[] = {
		{ NULL, 0, XBD_PROTO_NATIVE },
		{ XEN_IO_PROTO_ABI_NATIVE, 0, XBD_PROTO_NATIVE },
#if defined(__x86_64__)
		{ "x86_64-abi", 0, XBD_PROTO_NATIVE },
		{ "x86_32-abi", 0, XBD_PROTO_X86_32 },
#elif defined(__i386__)
		{ "x86_32-abi", 0, XBD_PROTO_NATIVE },
		{ "x86_64-abi", 0, XBD_PROTO_X86_64 },
#endif
		{ "arm-abi", -EINVAL, XBD_PROTO_NATIVE },
		{ "", -EINVAL, XBD_PROTO_NATIVE },
		{ "x86_32", -EINVAL, XBD_PROTO_NATIVE },
		{ "x86_32-abi ", -EINVAL, XBD_PROTO_NATIVE },
		{ "X86_32-ABI", -EINVAL, XBD_PROTO_NATIVE },
		{ "x86_64-abi\n", -EINVAL, XBD_PROTO_NATIVE },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		enum xbd_proto p = (enum xbd_proto)99, back;
		int rc = xbd_proto_from_string(cases[i].s, &p);

		if (rc != cases[i].rc || (rc == 0 && p != cases[i].proto))
			fail_msg("\"%s\": rc %d proto %d", cases[i].s ? cases[i].s : "(null)", rc,
				 (int)p);
		/* The name the log prints parses back to the same ABI. */
		if (rc == 0 && (xbd_proto_from_string(xbd_proto_name(p), &back) || back != p))
			fail_msg("name of %d: \"%s\"", (int)p, xbd_proto_name(p));
	}
	assert_string_equal(xbd_proto_name(XBD_PROTO_X86_32), "x86_32-abi");
	assert_string_equal(xbd_proto_name(XBD_PROTO_X86_64), "x86_64-abi");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_rejects),
		cmocka_unit_test(test_ring_sizes),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_wrap),
		cmocka_unit_test(test_req_prod_checks),
		cmocka_unit_test(test_response_padding),
		cmocka_unit_test(test_response_fields),
		cmocka_unit_test(test_notify),
		cmocka_unit_test(test_notify_batches),
		cmocka_unit_test(test_final_check),
		cmocka_unit_test(test_translate_rw),
		cmocka_unit_test(test_translate_discard),
		cmocka_unit_test(test_translate_indirect),
		cmocka_unit_test(test_proto_from_string),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
