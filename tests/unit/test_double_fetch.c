/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Double fetch (XSA-155), proven deterministically rather than by racing a thread: the ring
 * code is built with XBD_SHARED_READ_HOOK, so every copy of a request slot out of shared memory
 * calls the hook below. The hook counts the reads and then rewrites the slot with hostile
 * values, exactly as a guest racing the copy could. Every request must be read once, and the
 * parsed result must be the request as it was at the copy: nothing looks at the slot again.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "xenblkd/req.h"
#include "xenblkd/ring.h"

static unsigned int reads;
static const void *last_slot;

void xbd_shared_read_hook(const void *slot, size_t n)
{
	reads++;
	last_slot = slot;
	/* The guest flips every byte it can the moment after our copy. */
	memset((void *)slot, 0xff, n);
}

static void fill_native(blkif_sring_t *sr, unsigned int i, uint64_t id)
{
	blkif_request_t *r = &sr->ring[i].req;

	memset(r, 0, sizeof(*r));
	r->operation = BLKIF_OP_WRITE;
	r->nr_segments = 2;
	r->id = id;
	r->sector_number = 64 + i * 8;
	r->seg[0] = (struct blkif_request_segment){ .gref = 100 + i, .first_sect = 0,
						    .last_sect = 3 };
	r->seg[1] = (struct blkif_request_segment){ .gref = 200 + i, .first_sect = 4,
						    .last_sect = 7 };
}

static void test_each_slot_read_once(void **state)
{
	struct xbd_limits lim = { .capacity = 1u << 20, .sector_size = 512, .flush = true };
	void *page = aligned_alloc(4096, 4096);
	blkif_sring_t *sr = page;
	struct xbd_ring ring;
	blkif_request_t copy;
	struct xbd_req req;

	(void)state;
	memset(page, 0, 4096);
	SHARED_RING_INIT(sr);
	for (unsigned int i = 0; i < 8; i++)
		fill_native(sr, i, 1000 + i);
	sr->req_prod = 8;
	assert_int_equal(xbd_ring_init(&ring, page, 4096, XBD_PROTO_NATIVE), 0);
	for (unsigned int i = 0; i < 8; i++) {
		reads = 0;
		assert_int_equal(xbd_ring_pop(&ring, &copy), 1);
		assert_int_equal(reads, 1);
		assert_ptr_equal(last_slot, &sr->ring[i].req);
		/* The slot now holds garbage; the copy and everything parsed from it do not. */
		assert_int_equal(sr->ring[i].req.operation, 0xff);
		assert_int_equal(xbd_req_parse(&copy, &lim, &req, NULL), 0);
		assert_int_equal(reads, 1);
		assert_int_equal(req.id, 1000 + i);
		assert_int_equal(req.operation, BLKIF_OP_WRITE);
		assert_int_equal(req.nr_segs, 2);
		assert_int_equal(req.sector, 64 + i * 8);
		assert_int_equal(req.nr_sectors, 8);
		assert_int_equal(req.segs[1].gref, 200 + i);
		xbd_ring_put_response(&ring, req.id, req.operation, BLKIF_RSP_OKAY);
	}
	free(page);
}

/* The foreign layouts are copied once as well, before they are translated. */
static void test_foreign_abis_read_once(void **state)
{
	static const enum xbd_proto protos[] = { XBD_PROTO_X86_32, XBD_PROTO_X86_64 };
	void *page = aligned_alloc(4096, 4096);
	struct xbd_ring ring;
	blkif_request_t copy;

	(void)state;
	for (size_t p = 0; p < 2; p++) {
		memset(page, 0, 4096);
		/* The header is the same for every ABI: four indices, then the slots. */
		((RING_IDX *)page)[0] = 4; /* req_prod */
		assert_int_equal(xbd_ring_init(&ring, page, 4096, protos[p]), 0);
		for (unsigned int i = 0; i < 4; i++) {
			reads = 0;
			assert_int_equal(xbd_ring_pop(&ring, &copy), 1);
			assert_int_equal(reads, 1);
			xbd_ring_put_response(&ring, copy.id, copy.operation, BLKIF_RSP_OKAY);
		}
	}
	free(page);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_each_slot_read_once),
		cmocka_unit_test(test_foreign_abis_read_once),
	};

	return cmocka_run_group_tests_name("double_fetch", tests, NULL, NULL);
}
