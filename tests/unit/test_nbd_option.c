/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The NBD export's handshake parser (src/export/nbd_option.c): the greeting, the client's
 * flags, the option header, and every check of an option's data, each with the reply it must
 * produce: replies are decoded from the bytes built, never compared with bytes built the same
 * way.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "export/nbd_option.h"

static const struct nbd_export_desc desc = {
	.name = "vbd-1-51712",
	.description = "test disk",
	.size = 64u << 20,
	.tflags = NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH,
	.min_block = 512,
	.pref_block = 4096,
	.max_payload = NBD_MAX_PAYLOAD,
};

static uint8_t obuf[16384];

struct reply {
	uint32_t opt, type, len;
	const uint8_t *data;
};

/* The replies in out, decoded; returns how many. */
static unsigned int decode(const struct nbd_out *out, struct reply *r, unsigned int max)
{
	size_t pos = 0;
	unsigned int n = 0;

	while (pos < out->len) {
		assert_true(out->len - pos >= NBD_OPT_REPLY_HEADER_LEN);
		assert_int_equal(nbd_get64(out->buf + pos), NBD_REP_MAGIC);
		assert_true(n < max);
		r[n].opt = nbd_get32(out->buf + pos + 8);
		r[n].type = nbd_get32(out->buf + pos + 12);
		r[n].len = nbd_get32(out->buf + pos + 16);
		r[n].data = out->buf + pos + NBD_OPT_REPLY_HEADER_LEN;
		pos += NBD_OPT_REPLY_HEADER_LEN + r[n].len;
		assert_true(pos <= out->len);
		n++;
	}
	return n;
}

static enum nbd_opt_verdict run(struct nbd_neg *n, uint32_t opt, const uint8_t *d,
				uint32_t len, struct nbd_out *out)
{
	*out = (struct nbd_out){ .buf = obuf, .cap = sizeof(obuf) };
	return nbd_opt_handle(n, opt, d, len, out);
}

/* GO/INFO data: name, then `count` info requests. */
static uint32_t go_data(uint8_t *d, const char *name, const uint16_t *req, uint16_t count)
{
	uint32_t nl = (uint32_t)strlen(name);

	nbd_put32(d, nl);
	memcpy(d + 4, name, nl);
	nbd_put16(d + 4 + nl, count);
	for (uint16_t i = 0; i < count; i++)
		nbd_put16(d + 6 + nl + 2 * i, req[i]);
	return 6 + nl + 2u * count;
}

static void test_greeting_and_flags(void **state)
{
	uint8_t g[NBD_GREETING_LEN];

	(void)state;
	nbd_greeting(g);
	assert_int_equal(nbd_get64(g), NBD_MAGIC);
	assert_int_equal(nbd_get64(g + 8), NBD_IHAVEOPT);
	assert_int_equal(nbd_get16(g + 16), NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES);
	assert_int_equal(nbd_client_flags_check(NBD_FLAG_C_FIXED_NEWSTYLE), 0);
	assert_int_equal(nbd_client_flags_check(NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES), 0);
	/* Not fixed newstyle, or a flag never offered: closed. */
	assert_int_equal(nbd_client_flags_check(0), -EPROTO);
	assert_int_equal(nbd_client_flags_check(NBD_FLAG_C_NO_ZEROES), -EPROTO);
	assert_int_equal(nbd_client_flags_check(NBD_FLAG_C_FIXED_NEWSTYLE | 4), -EPROTO);
	assert_int_equal(nbd_client_flags_check(0x80000001u), -EPROTO);
}

static void test_header(void **state)
{
	uint8_t h[NBD_OPT_HEADER_LEN];
	uint32_t opt, len;

	(void)state;
	nbd_put64(h, NBD_IHAVEOPT);
	nbd_put32(h + 8, NBD_OPT_GO);
	nbd_put32(h + 12, 0xfffffff0u);
	assert_int_equal(nbd_opt_header_parse(h, &opt, &len), 0);
	assert_int_equal(opt, NBD_OPT_GO);
	assert_int_equal(len, 0xfffffff0u);
	h[0] ^= 1;
	assert_int_equal(nbd_opt_header_parse(h, &opt, &len), -EPROTO);
	assert_int_equal(nbd_opt_len_verdict(0), NBD_LEN_READ);
	assert_int_equal(nbd_opt_len_verdict(NBD_OPT_MAX_LEN), NBD_LEN_READ);
	assert_int_equal(nbd_opt_len_verdict(NBD_OPT_MAX_LEN + 1), NBD_LEN_SKIP);
	assert_int_equal(nbd_opt_len_verdict(NBD_OPT_SKIP_MAX), NBD_LEN_SKIP);
	assert_int_equal(nbd_opt_len_verdict(NBD_OPT_SKIP_MAX + 1), NBD_LEN_FATAL);
	assert_int_equal(nbd_opt_len_verdict(UINT32_MAX), NBD_LEN_FATAL);
}

static void test_go(void **state)
{
	static const uint16_t req[] = { NBD_INFO_BLOCK_SIZE, NBD_INFO_NAME, 77 };
	struct nbd_neg n = { .exp = &desc };
	struct nbd_out out;
	struct reply r[8];
	uint8_t d[128];
	uint32_t len = go_data(d, "", req, 3);
	unsigned int cnt;

	(void)state;
	assert_int_equal(run(&n, NBD_OPT_GO, d, len, &out), NBD_OPT_TRANSMIT);
	cnt = decode(&out, r, 8);
	assert_int_equal(cnt, 4); /* export, block size, name, ack */
	assert_int_equal(r[0].type, NBD_REP_INFO);
	assert_int_equal(r[0].len, 12);
	assert_int_equal(nbd_get16(r[0].data), NBD_INFO_EXPORT);
	assert_int_equal(nbd_get64(r[0].data + 2), 64u << 20);
	assert_int_equal(nbd_get16(r[0].data + 10), desc.tflags);
	assert_int_equal(r[1].len, 14);
	assert_int_equal(nbd_get16(r[1].data), NBD_INFO_BLOCK_SIZE);
	assert_int_equal(nbd_get32(r[1].data + 2), 512);
	assert_int_equal(nbd_get32(r[1].data + 6), 4096);
	assert_int_equal(nbd_get32(r[1].data + 10), NBD_MAX_PAYLOAD);
	assert_int_equal(nbd_get16(r[2].data), NBD_INFO_NAME);
	assert_int_equal(r[2].len, 2 + strlen(desc.name));
	assert_memory_equal(r[2].data + 2, desc.name, strlen(desc.name));
	assert_int_equal(r[3].type, NBD_REP_ACK);
	for (unsigned int i = 0; i < cnt; i++)
		assert_int_equal(r[i].opt, NBD_OPT_GO);
	/* By its canonical name too; INFO does not end the handshake. */
	len = go_data(d, "vbd-1-51712", req, 1);
	assert_int_equal(run(&n, NBD_OPT_INFO, d, len, &out), NBD_OPT_CONTINUE);
	cnt = decode(&out, r, 8);
	assert_int_equal(r[cnt - 1].type, NBD_REP_ACK);
}

static void test_go_refusals(void **state)
{
	static const uint16_t bs[] = { NBD_INFO_BLOCK_SIZE };
	static const uint16_t twice[] = { NBD_INFO_NAME, NBD_INFO_NAME };
	struct nbd_neg n = { .exp = &desc };
	struct nbd_out out;
	struct reply r[8];
	uint8_t d[128];
	uint32_t len;
	unsigned int cnt;

	(void)state;
	/* Without NBD_INFO_BLOCK_SIZE: the sizes are sent, then BLOCK_SIZE_REQD; INFO is fine. */
	len = go_data(d, "", NULL, 0);
	assert_int_equal(run(&n, NBD_OPT_GO, d, len, &out), NBD_OPT_CONTINUE);
	cnt = decode(&out, r, 8);
	assert_int_equal(r[cnt - 1].type, NBD_REP_ERR_BLOCK_SIZE_REQD);
	assert_int_equal(nbd_get16(r[cnt - 2].data), NBD_INFO_BLOCK_SIZE);
	assert_int_equal(run(&n, NBD_OPT_INFO, d, len, &out), NBD_OPT_CONTINUE);
	cnt = decode(&out, r, 8);
	assert_int_equal(r[cnt - 1].type, NBD_REP_ACK);
	/* An unknown name: UNKNOWN, no information. */
	len = go_data(d, "other", bs, 1);
	assert_int_equal(run(&n, NBD_OPT_GO, d, len, &out), NBD_OPT_CONTINUE);
	assert_int_equal(decode(&out, r, 8), 1);
	assert_int_equal(r[0].type, NBD_REP_ERR_UNKNOWN);
	/* A prefix of the name is another name. */
	len = go_data(d, "vbd-1", bs, 1);
	run(&n, NBD_OPT_GO, d, len, &out);
	decode(&out, r, 8);
	assert_int_equal(r[0].type, NBD_REP_ERR_UNKNOWN);
	/* A request twice. */
	len = go_data(d, "", twice, 2);
	run(&n, NBD_OPT_GO, d, len, &out);
	assert_int_equal(decode(&out, r, 8), 1);
	assert_int_equal(r[0].type, NBD_REP_ERR_INVALID);
}

/* Lengths that do not add up: each INVALID, none read out of bounds. */
static void test_go_lengths(void **state)
{
	static const uint16_t bs[] = { NBD_INFO_BLOCK_SIZE };
	struct nbd_neg n = { .exp = &desc };
	struct nbd_out out;
	struct reply r[8];
	uint8_t d[128];
	uint32_t len = go_data(d, "", bs, 1);

	(void)state;
	for (uint32_t short_len = 0; short_len < len; short_len++) {
		run(&n, NBD_OPT_GO, d, short_len, &out);
		assert_int_equal(decode(&out, r, 8), 1);
		assert_int_equal(r[0].type, NBD_REP_ERR_INVALID);
		n.options = 0;
	}
	/* One byte too many; a name length beyond the data; a count beyond the data. */
	d[len] = 0;
	run(&n, NBD_OPT_GO, d, len + 1, &out);
	decode(&out, r, 8);
	assert_int_equal(r[0].type, NBD_REP_ERR_INVALID);
	nbd_put32(d, 3);
	run(&n, NBD_OPT_GO, d, len, &out);
	decode(&out, r, 8);
	assert_int_equal(r[0].type, NBD_REP_ERR_INVALID);
	nbd_put32(d, 0xffffffffu);
	run(&n, NBD_OPT_GO, d, len, &out);
	decode(&out, r, 8);
	assert_int_equal(r[0].type, NBD_REP_ERR_INVALID);
	go_data(d, "", bs, 1);
	nbd_put16(d + 4, 2);
	run(&n, NBD_OPT_GO, d, len, &out);
	decode(&out, r, 8);
	assert_int_equal(r[0].type, NBD_REP_ERR_INVALID);
}

static void test_list_structured_abort(void **state)
{
	struct nbd_neg n = { .exp = &desc };
	struct nbd_out out;
	struct reply r[8];
	uint8_t junk[4] = { 1, 2, 3, 4 };

	(void)state;
	assert_int_equal(run(&n, NBD_OPT_LIST, NULL, 0, &out), NBD_OPT_CONTINUE);
	assert_int_equal(decode(&out, r, 8), 2);
	assert_int_equal(r[0].type, NBD_REP_SERVER);
	assert_int_equal(nbd_get32(r[0].data), strlen(desc.name));
	assert_memory_equal(r[0].data + 4, desc.name, strlen(desc.name));
	assert_int_equal(r[1].type, NBD_REP_ACK);
	run(&n, NBD_OPT_LIST, junk, 4, &out);
	assert_int_equal(decode(&out, r, 8), 1);
	assert_int_equal(r[0].type, NBD_REP_ERR_INVALID);
	/* STRUCTURED_REPLY with data: INVALID and not negotiated; without: ACK. */
	run(&n, NBD_OPT_STRUCTURED_REPLY, junk, 1, &out);
	decode(&out, r, 8);
	assert_int_equal(r[0].type, NBD_REP_ERR_INVALID);
	assert_false(n.structured);
	run(&n, NBD_OPT_STRUCTURED_REPLY, NULL, 0, &out);
	decode(&out, r, 8);
	assert_int_equal(r[0].type, NBD_REP_ACK);
	assert_true(n.structured);
	/* ABORT: ACK, then close, whatever it carried. */
	assert_int_equal(run(&n, NBD_OPT_ABORT, junk, 4, &out), NBD_OPT_CLOSE);
	decode(&out, r, 8);
	assert_int_equal(r[0].type, NBD_REP_ACK);
	assert_int_equal(r[0].opt, NBD_OPT_ABORT);
}

static void test_unsupported(void **state)
{
	static const uint32_t opts[] = { NBD_OPT_STARTTLS, 4, 9, 10, 11, 12, 0, 0xffffffffu };
	struct nbd_neg n = { .exp = &desc };
	struct nbd_out out;
	struct reply r[8];
	uint8_t junk[8] = { 0 };

	(void)state;
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		assert_int_equal(run(&n, opts[i], junk, 8, &out), NBD_OPT_CONTINUE);
		assert_int_equal(decode(&out, r, 8), 1);
		assert_int_equal(r[0].type, NBD_REP_ERR_UNSUP);
		assert_int_equal(r[0].opt, opts[i]);
	}
	/* EXPORT_NAME cannot be answered with an error: closed, nothing sent. */
	assert_int_equal(run(&n, NBD_OPT_EXPORT_NAME, NULL, 0, &out), NBD_OPT_CLOSE);
	assert_int_equal(out.len, 0);
}

static void test_bounds(void **state)
{
	struct nbd_neg n = { .exp = &desc };
	struct nbd_out out;
	struct reply r[8];
	uint8_t small[24];

	(void)state;
	/* Data over the bound is never handed to the parser; a skipped one gets TOO_BIG. */
	assert_int_equal(run(&n, NBD_OPT_GO, obuf, NBD_OPT_MAX_LEN + 1, &out), NBD_OPT_CLOSE);
	out = (struct nbd_out){ .buf = obuf, .cap = sizeof(obuf) };
	assert_int_equal(nbd_opt_too_big(&n, NBD_OPT_GO, &out), NBD_OPT_CONTINUE);
	decode(&out, r, 8);
	assert_int_equal(r[0].type, NBD_REP_ERR_TOO_BIG);
	out.len = 0;
	assert_int_equal(nbd_opt_too_big(&n, NBD_OPT_ABORT, &out), NBD_OPT_CLOSE);
	assert_int_equal(nbd_opt_too_big(&n, NBD_OPT_EXPORT_NAME, &out), NBD_OPT_CLOSE);
	/* A reply that does not fit: close, nothing half written. */
	out = (struct nbd_out){ .buf = small, .cap = sizeof(small) };
	assert_int_equal(nbd_opt_handle(&n, NBD_OPT_LIST, NULL, 0, &out), NBD_OPT_CLOSE);
	assert_true(out.overflow);
	assert_true(out.len <= sizeof(small));
	/* The number of options. */
	n.options = 0;
	for (unsigned int i = 0; i < NBD_OPT_MAX_COUNT; i++)
		assert_int_equal(run(&n, NBD_OPT_LIST, NULL, 0, &out), NBD_OPT_CONTINUE);
	assert_int_equal(run(&n, NBD_OPT_LIST, NULL, 0, &out), NBD_OPT_CLOSE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_greeting_and_flags),
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_go),
		cmocka_unit_test(test_go_refusals),
		cmocka_unit_test(test_go_lengths),
		cmocka_unit_test(test_list_structured_abort),
		cmocka_unit_test(test_unsupported),
		cmocka_unit_test(test_bounds),
	};

	return cmocka_run_group_tests_name("nbd_option", tests, NULL, NULL);
}
