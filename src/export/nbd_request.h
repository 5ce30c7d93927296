/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The transmission phase as pure functions: a request's 28 bytes decoded and checked against
 * what the handshake agreed (size, block size, read-only, the commands and flags offered),
 * and the replies built (simple replies, structured reply chunks). The verdict says what the
 * connection does next; only a request it cannot make sense of ends the connection.
 */
#ifndef XENBLKD_EXPORT_NBD_REQUEST_H
#define XENBLKD_EXPORT_NBD_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "nbd_proto.h"

struct nbd_request {
	uint32_t magic;
	uint16_t flags;
	uint16_t type;
	uint64_t cookie;
	uint64_t offset;
	uint32_t len;
};

/* What the handshake agreed: the export as NBD_OPT_GO described it. */
struct nbd_req_limits {
	uint64_t size;
	uint32_t min_block;   /* a power of two */
	uint32_t max_payload;
	uint16_t tflags;      /* the transmission flags sent */
};

enum nbd_req_action {
	NBD_REQ_DO,         /* carry it out (a zero length: just answer success) */
	NBD_REQ_ERROR,      /* answer `error` (after reading `payload` bytes, for a write) */
	NBD_REQ_DISCONNECT, /* NBD_CMD_DISC: close cleanly */
	NBD_REQ_FATAL,      /* bad magic, or a payload too large to read: close */
};

struct nbd_req_verdict {
	enum nbd_req_action action;
	uint32_t error;   /* NBD_E* for NBD_REQ_ERROR */
	uint32_t payload; /* bytes of write data that follow the header, to read either way */
};

void nbd_request_decode(const uint8_t b[NBD_REQUEST_LEN], struct nbd_request *r);
void nbd_request_check(const struct nbd_req_limits *l, const struct nbd_request *r,
		       struct nbd_req_verdict *v);

/* An errno (negative, as the storage plane reports it) as an NBD error. */
uint32_t nbd_errno_to_wire(int err);
void nbd_simple_reply(uint8_t out[NBD_SIMPLE_REPLY_LEN], uint32_t error, uint64_t cookie);
void nbd_chunk_header(uint8_t out[NBD_CHUNK_HEADER_LEN], uint16_t flags, uint16_t type,
		      uint64_t cookie, uint32_t len);
#define NBD_ERROR_CHUNK_MAX (NBD_CHUNK_HEADER_LEN + 6 + 128)
/* A final NBD_REPLY_TYPE_ERROR chunk with `msg` (cut to 128 bytes); returns its length. */
size_t nbd_error_chunk(uint8_t out[NBD_ERROR_CHUNK_MAX], uint64_t cookie, uint32_t error,
		       const char *msg);

#endif
