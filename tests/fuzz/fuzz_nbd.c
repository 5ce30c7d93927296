/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target for the NBD export's parsers (src/export/nbd_option.c, nbd_request.c):
 * the bytes a client sends, taken as a handshake (client flags, then options, each header
 * parsed and its data, of the length the header claims, cut to what is left, handed over in a
 * buffer of exactly that size) and then as transmission requests (28 bytes each, the write
 * data skipped as the server skips it). Invariants, checked against rules written here
 * independently of the parser: every reply is well formed and fits its buffer; the handshake
 * moves to transmission only after an NBD_OPT_GO whose ACK is the last reply; a request the
 * parser lets through is aligned, inside the export, within the payload bound for reads and
 * writes, never a write on a read-only export; a write's data length is always accounted.
 *
 * Input layout: byte 0: bit 0 read-only export, bit 1 4096-byte blocks; the rest is the stream.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export/nbd_option.h"
#include "export/nbd_request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                              \
	do {                                                                                     \
		if (!(cond)) {                                                                   \
			fprintf(stderr, "fuzz_nbd: invariant failed: %s (%s:%d)\n", #cond,       \
				__FILE__, __LINE__);                                             \
			abort();                                                                 \
		}                                                                                \
	} while (0)

#define SIZE (8ull << 20)

/* Every reply in out is a whole reply to `opt`; returns the type of the last one. */
static uint32_t check_replies(const struct nbd_out *out, uint32_t opt)
{
	size_t pos = 0;
	uint32_t last = 0;

	CHECK(out->len <= out->cap);
	while (pos < out->len) {
		uint32_t len;

		CHECK(out->len - pos >= NBD_OPT_REPLY_HEADER_LEN);
		CHECK(nbd_get64(out->buf + pos) == NBD_REP_MAGIC);
		CHECK(nbd_get32(out->buf + pos + 8) == opt);
		last = nbd_get32(out->buf + pos + 12);
		len = nbd_get32(out->buf + pos + 16);
		CHECK(len <= out->len - pos - NBD_OPT_REPLY_HEADER_LEN);
		if (last == NBD_REP_INFO)
			CHECK(len >= 2);
		pos += NBD_OPT_REPLY_HEADER_LEN + len;
	}
	return last;
}

/* The handshake; returns the bytes consumed, or 0 when the connection would close. */
static size_t handshake(const struct nbd_export_desc *d, const uint8_t *p, size_t n,
			struct nbd_neg *neg)
{
	static uint8_t obuf[3 * NBD_OPT_REPLY_HEADER_LEN + 64 + 2 * NBD_MAX_STRING];
	size_t pos = 4;

	if (n < 4 || nbd_client_flags_check(nbd_get32(p)))
		return 0;
	while (n - pos >= NBD_OPT_HEADER_LEN) {
		struct nbd_out out = { .buf = obuf, .cap = sizeof(obuf) };
		enum nbd_opt_verdict v;
		uint32_t opt, len;
		uint8_t *copy;

		if (nbd_opt_header_parse(p + pos, &opt, &len))
			return 0;
		pos += NBD_OPT_HEADER_LEN;
		if (len > n - pos)
			len = (uint32_t)(n - pos);
		if (nbd_opt_len_verdict(len) != NBD_LEN_READ) {
			v = nbd_opt_too_big(neg, opt, &out);
		} else {
			copy = len ? malloc(len) : NULL;
			if (len)
				memcpy(copy, p + pos, len);
			v = nbd_opt_handle(neg, opt, copy, len, &out);
			free(copy);
		}
		pos += len;
		if (v == NBD_OPT_CLOSE)
			return 0;
		if (v == NBD_OPT_TRANSMIT) {
			CHECK(opt == NBD_OPT_GO);
			CHECK(check_replies(&out, opt) == NBD_REP_ACK);
			return pos;
		}
		check_replies(&out, opt);
	}
	return 0;
}

static void check_request(const struct nbd_req_limits *l, const struct nbd_request *r,
			  const struct nbd_req_verdict *v)
{
	bool write = r->type == NBD_CMD_WRITE || r->type == NBD_CMD_TRIM ||
		     r->type == NBD_CMD_WRITE_ZEROES;

	if (r->magic != NBD_REQUEST_MAGIC) {
		CHECK(v->action == NBD_REQ_FATAL);
		return;
	}
	if (r->type == NBD_CMD_WRITE && v->action != NBD_REQ_FATAL)
		CHECK(v->payload == r->len && r->len <= l->max_payload);
	if (r->type != NBD_CMD_WRITE)
		CHECK(v->payload == 0);
	if (v->action == NBD_REQ_ERROR)
		CHECK(v->error != 0);
	if (v->action != NBD_REQ_DO)
		return;
	CHECK(r->type <= NBD_CMD_WRITE_ZEROES && r->type != NBD_CMD_DISC &&
	      r->type != NBD_CMD_CACHE);
	CHECK(!(write && (l->tflags & NBD_FLAG_READ_ONLY)));
	CHECK(r->offset % l->min_block == 0 && r->len % l->min_block == 0);
	CHECK(r->offset <= l->size && r->len <= l->size - r->offset);
	if (r->type == NBD_CMD_READ || r->type == NBD_CMD_WRITE)
		CHECK(r->len <= l->max_payload);
	CHECK((r->flags & ~(NBD_CMD_FLAG_FUA | NBD_CMD_FLAG_NO_HOLE)) == 0);
}

static void transmission(const struct nbd_req_limits *l, const uint8_t *p, size_t n)
{
	size_t pos = 0;

	while (n - pos >= NBD_REQUEST_LEN) {
		struct nbd_request r;
		struct nbd_req_verdict v;

		nbd_request_decode(p + pos, &r);
		nbd_request_check(l, &r, &v);
		check_request(l, &r, &v);
		pos += NBD_REQUEST_LEN;
		if (v.action == NBD_REQ_FATAL || v.action == NBD_REQ_DISCONNECT)
			return;
		if (v.payload > n - pos)
			return;
		pos += v.payload;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nbd_export_desc d = { .name = "vbd-1-51712", .description = "fuzz",
				     .size = SIZE, .tflags = NBD_FLAG_HAS_FLAGS,
				     .pref_block = 4096, .max_payload = NBD_MAX_PAYLOAD };
	struct nbd_neg neg = { .exp = &d };
	struct nbd_req_limits l;
	size_t used;

	if (size < 1)
		return 0;
	d.min_block = data[0] & 2 ? 4096 : 512;
	d.tflags |= data[0] & 1 ? NBD_FLAG_READ_ONLY : NBD_FLAG_SEND_FLUSH | NBD_FLAG_SEND_FUA |
		    NBD_FLAG_SEND_TRIM | NBD_FLAG_SEND_WRITE_ZEROES;
	l = (struct nbd_req_limits){ .size = d.size, .min_block = d.min_block,
				     .max_payload = d.max_payload, .tflags = d.tflags };
	used = handshake(&d, data + 1, size - 1, &neg);
	/* Requests are checked whether or not the handshake got there: the parser is pure. */
	transmission(&l, data + 1 + used, size - 1 - used);
	return 0;
}
