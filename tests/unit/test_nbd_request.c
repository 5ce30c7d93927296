/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The NBD export's request checks (src/export/nbd_request.c): decoding, and every reason a
 * request is refused or ends the connection, on a read-write and a read-only export; plus the
 * replies' layouts and the errno mapping.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "export/nbd_request.h"
#include "export/nbd_wire.h"

#define SIZE (64ull << 20)

static const struct nbd_req_limits rw = {
	.size = SIZE, .min_block = 512, .max_payload = NBD_MAX_PAYLOAD,
	.tflags = NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH | NBD_FLAG_SEND_FUA |
		  NBD_FLAG_SEND_TRIM | NBD_FLAG_SEND_WRITE_ZEROES,
};
static const struct nbd_req_limits ro = {
	.size = SIZE, .min_block = 4096, .max_payload = NBD_MAX_PAYLOAD,
	.tflags = NBD_FLAG_HAS_FLAGS | NBD_FLAG_READ_ONLY,
};

static struct nbd_req_verdict check(const struct nbd_req_limits *l, uint16_t type,
				    uint16_t flags, uint64_t off, uint32_t len)
{
	struct nbd_request r = { .magic = NBD_REQUEST_MAGIC, .type = type, .flags = flags,
				 .cookie = 7, .offset = off, .len = len };
	struct nbd_req_verdict v;

	nbd_request_check(l, &r, &v);
	return v;
}

#define EXPECT(v, act, err) do { \
	struct nbd_req_verdict v_ = (v); \
	assert_int_equal(v_.action, (act)); \
	assert_int_equal(v_.error, (err)); \
} while (0)

static void test_decode(void **state)
{
	uint8_t b[NBD_REQUEST_LEN];
	struct nbd_request r;

	(void)state;
	nbd_put32(b, NBD_REQUEST_MAGIC);
	nbd_put16(b + 4, NBD_CMD_FLAG_FUA);
	nbd_put16(b + 6, NBD_CMD_WRITE);
	nbd_put64(b + 8, 0x0102030405060708ull);
	nbd_put64(b + 16, 0xfffffffffffffe00ull);
	nbd_put32(b + 24, 4096);
	nbd_request_decode(b, &r);
	assert_int_equal(r.magic, NBD_REQUEST_MAGIC);
	assert_int_equal(r.flags, NBD_CMD_FLAG_FUA);
	assert_int_equal(r.type, NBD_CMD_WRITE);
	assert_true(r.cookie == 0x0102030405060708ull);
	assert_true(r.offset == 0xfffffffffffffe00ull);
	assert_int_equal(r.len, 4096);
}

static void test_good(void **state)
{
	(void)state;
	EXPECT(check(&rw, NBD_CMD_READ, 0, 0, 4096), NBD_REQ_DO, 0);
	EXPECT(check(&rw, NBD_CMD_READ, 0, SIZE - 512, 512), NBD_REQ_DO, 0);
	EXPECT(check(&rw, NBD_CMD_READ, 0, 0, NBD_MAX_PAYLOAD), NBD_REQ_DO, 0);
	EXPECT(check(&rw, NBD_CMD_WRITE, NBD_CMD_FLAG_FUA, 512, 1024), NBD_REQ_DO, 0);
	assert_int_equal(check(&rw, NBD_CMD_WRITE, 0, 512, 1024).payload, 1024);
	assert_int_equal(check(&rw, NBD_CMD_READ, 0, 512, 1024).payload, 0);
	EXPECT(check(&rw, NBD_CMD_FLUSH, 0, 0, 0), NBD_REQ_DO, 0);
	EXPECT(check(&rw, NBD_CMD_TRIM, 0, 0, (uint32_t)SIZE), NBD_REQ_DO, 0);
	/* TRIM and WRITE_ZEROES carry no payload: over max_payload is fine. */
	EXPECT(check(&rw, NBD_CMD_WRITE_ZEROES, NBD_CMD_FLAG_NO_HOLE | NBD_CMD_FLAG_FUA, 0,
		     (uint32_t)SIZE), NBD_REQ_DO, 0);
	EXPECT(check(&rw, NBD_CMD_READ, 0, SIZE, 0), NBD_REQ_DO, 0); /* empty, at the end */
	EXPECT(check(&ro, NBD_CMD_READ, 0, 4096, 8192), NBD_REQ_DO, 0);
}

static void test_fatal_and_disc(void **state)
{
	struct nbd_request r = { .magic = 0x25609514u, .type = NBD_CMD_READ, .len = 512 };
	struct nbd_req_verdict v;

	(void)state;
	nbd_request_check(&rw, &r, &v);
	assert_int_equal(v.action, NBD_REQ_FATAL);
	/* A write whose data we will not read. */
	assert_int_equal(check(&rw, NBD_CMD_WRITE, 0, 0, NBD_MAX_PAYLOAD + 512).action,
			 NBD_REQ_FATAL);
	assert_int_equal(check(&ro, NBD_CMD_WRITE, 0, 0, UINT32_MAX).action, NBD_REQ_FATAL);
	assert_int_equal(check(&rw, NBD_CMD_DISC, 0, 0, 0).action, NBD_REQ_DISCONNECT);
	assert_int_equal(check(&rw, NBD_CMD_DISC, 3, 5, 7).action, NBD_REQ_DISCONNECT);
}

static void test_commands_and_flags(void **state)
{
	(void)state;
	/* Commands never offered. */
	EXPECT(check(&rw, NBD_CMD_CACHE, 0, 0, 512), NBD_REQ_ERROR, NBD_EINVAL);
	EXPECT(check(&rw, NBD_CMD_BLOCK_STATUS, 0, 0, 512), NBD_REQ_ERROR, NBD_EINVAL);
	EXPECT(check(&rw, 9, 0, 0, 512), NBD_REQ_ERROR, NBD_EINVAL);
	EXPECT(check(&rw, 0xffff, 0, 0, 0), NBD_REQ_ERROR, NBD_EINVAL);
	EXPECT(check(&ro, NBD_CMD_FLUSH, 0, 0, 0), NBD_REQ_ERROR, NBD_EINVAL);
	/* Flags: DF, REQ_ONE, FAST_ZERO never offered; NO_HOLE only on WRITE_ZEROES; FUA only
	 * when offered; unknown bits. */
	EXPECT(check(&rw, NBD_CMD_READ, NBD_CMD_FLAG_DF, 0, 512), NBD_REQ_ERROR, NBD_EINVAL);
	EXPECT(check(&rw, NBD_CMD_READ, NBD_CMD_FLAG_REQ_ONE, 0, 512), NBD_REQ_ERROR, NBD_EINVAL);
	EXPECT(check(&rw, NBD_CMD_WRITE_ZEROES, NBD_CMD_FLAG_FAST_ZERO, 0, 512), NBD_REQ_ERROR,
	       NBD_EINVAL);
	EXPECT(check(&rw, NBD_CMD_WRITE, NBD_CMD_FLAG_NO_HOLE, 0, 512), NBD_REQ_ERROR, NBD_EINVAL);
	EXPECT(check(&rw, NBD_CMD_READ, 0x8000, 0, 512), NBD_REQ_ERROR, NBD_EINVAL);
	EXPECT(check(&ro, NBD_CMD_READ, NBD_CMD_FLAG_FUA, 0, 4096), NBD_REQ_ERROR, NBD_EINVAL);
	EXPECT(check(&rw, NBD_CMD_READ, NBD_CMD_FLAG_FUA, 0, 512), NBD_REQ_DO, 0);
	/* A refused write still has its data read. */
	assert_int_equal(check(&rw, NBD_CMD_WRITE, NBD_CMD_FLAG_DF, 0, 512).payload, 512);
}

static void test_readonly(void **state)
{
	(void)state;
	EXPECT(check(&ro, NBD_CMD_WRITE, 0, 0, 4096), NBD_REQ_ERROR, NBD_EPERM);
	assert_int_equal(check(&ro, NBD_CMD_WRITE, 0, 0, 4096).payload, 4096);
	EXPECT(check(&ro, NBD_CMD_WRITE, 0, SIZE, 4096), NBD_REQ_ERROR, NBD_EPERM);
	/* Not offered on a read-only export: those are refused as unknown commands. */
	EXPECT(check(&ro, NBD_CMD_TRIM, 0, 0, 4096), NBD_REQ_ERROR, NBD_EINVAL);
	EXPECT(check(&ro, NBD_CMD_WRITE_ZEROES, 0, 0, 4096), NBD_REQ_ERROR, NBD_EINVAL);
	/* Offered but read-only (a read-only VBD behind a device-model socket). */
	{
		struct nbd_req_limits l = rw;

		l.tflags |= NBD_FLAG_READ_ONLY;
		EXPECT(check(&l, NBD_CMD_TRIM, 0, 0, 4096), NBD_REQ_ERROR, NBD_EPERM);
		EXPECT(check(&l, NBD_CMD_WRITE_ZEROES, 0, 0, 4096), NBD_REQ_ERROR, NBD_EPERM);
	}
}

static void test_ranges(void **state)
{
	(void)state;
	/* Alignment to the disk's sector. */
	EXPECT(check(&rw, NBD_CMD_READ, 0, 1, 512), NBD_REQ_ERROR, NBD_EINVAL);
	EXPECT(check(&rw, NBD_CMD_READ, 0, 0, 511), NBD_REQ_ERROR, NBD_EINVAL);
	EXPECT(check(&ro, NBD_CMD_READ, 0, 512, 4096), NBD_REQ_ERROR, NBD_EINVAL);
	EXPECT(check(&rw, NBD_CMD_TRIM, 0, 256, 512), NBD_REQ_ERROR, NBD_EINVAL);
	/* The end of the export, without overflow. */
	EXPECT(check(&rw, NBD_CMD_READ, 0, SIZE - 512, 1024), NBD_REQ_ERROR, NBD_EINVAL);
	EXPECT(check(&rw, NBD_CMD_READ, 0, SIZE + 512, 0), NBD_REQ_ERROR, NBD_EINVAL);
	EXPECT(check(&rw, NBD_CMD_READ, 0, 0xfffffffffffffe00ull, 1024), NBD_REQ_ERROR,
	       NBD_EINVAL);
	EXPECT(check(&rw, NBD_CMD_WRITE, 0, SIZE - 512, 1024), NBD_REQ_ERROR, NBD_ENOSPC);
	EXPECT(check(&rw, NBD_CMD_WRITE_ZEROES, 0, SIZE, 512), NBD_REQ_ERROR, NBD_ENOSPC);
	EXPECT(check(&rw, NBD_CMD_TRIM, 0, SIZE, 512), NBD_REQ_ERROR, NBD_EINVAL);
	/* A read over the payload bound. */
	EXPECT(check(&rw, NBD_CMD_READ, 0, 0, NBD_MAX_PAYLOAD + 512), NBD_REQ_ERROR,
	       NBD_EOVERFLOW);
	/* FLUSH's offset and length are reserved. */
	EXPECT(check(&rw, NBD_CMD_FLUSH, 0, 512, 0), NBD_REQ_ERROR, NBD_EINVAL);
	EXPECT(check(&rw, NBD_CMD_FLUSH, 0, 0, 512), NBD_REQ_ERROR, NBD_EINVAL);
}

static void test_replies(void **state)
{
	uint8_t b[NBD_ERROR_CHUNK_MAX];
	char longmsg[300];
	size_t n;

	(void)state;
	nbd_simple_reply(b, NBD_EIO, 99);
	assert_int_equal(nbd_get32(b), NBD_SIMPLE_REPLY_MAGIC);
	assert_int_equal(nbd_get32(b + 4), NBD_EIO);
	assert_int_equal(nbd_get64(b + 8), 99);
	nbd_chunk_header(b, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_OFFSET_DATA, 5, 8 + 4096);
	assert_int_equal(nbd_get32(b), NBD_STRUCTURED_REPLY_MAGIC);
	assert_int_equal(nbd_get16(b + 4), NBD_REPLY_FLAG_DONE);
	assert_int_equal(nbd_get16(b + 6), NBD_REPLY_TYPE_OFFSET_DATA);
	assert_int_equal(nbd_get64(b + 8), 5);
	assert_int_equal(nbd_get32(b + 16), 4104);
	n = nbd_error_chunk(b, 3, NBD_EPERM, "no");
	assert_int_equal(n, NBD_CHUNK_HEADER_LEN + 6 + 2);
	assert_int_equal(nbd_get16(b + 6), NBD_REPLY_TYPE_ERROR);
	assert_int_equal(nbd_get32(b + 16), 8);
	assert_int_equal(nbd_get32(b + 20), NBD_EPERM);
	assert_int_equal(nbd_get16(b + 24), 2);
	assert_memory_equal(b + 26, "no", 2);
	/* A long message is cut to the buffer; an error is never 0. */
	memset(longmsg, 'x', sizeof(longmsg) - 1);
	longmsg[sizeof(longmsg) - 1] = '\0';
	n = nbd_error_chunk(b, 3, 0, longmsg);
	assert_int_equal(n, NBD_ERROR_CHUNK_MAX);
	assert_int_equal(nbd_get32(b + 20), NBD_EIO);
	assert_int_equal(nbd_errno_to_wire(0), 0);
	assert_int_equal(nbd_errno_to_wire(-EROFS), NBD_EPERM);
	assert_int_equal(nbd_errno_to_wire(-ENOSPC), NBD_ENOSPC);
	assert_int_equal(nbd_errno_to_wire(-EOPNOTSUPP), NBD_ENOTSUP);
	assert_int_equal(nbd_errno_to_wire(-ECANCELED), NBD_ESHUTDOWN);
	assert_int_equal(nbd_errno_to_wire(-EBADF), NBD_EIO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode),
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_fatal_and_disc),
		cmocka_unit_test(test_commands_and_flags),
		cmocka_unit_test(test_readonly),
		cmocka_unit_test(test_ranges),
		cmocka_unit_test(test_replies),
	};

	return cmocka_run_group_tests_name("nbd_request", tests, NULL, NULL);
}
