/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Checks of one transmission request (see nbd_request.h). The order matters to the client
 * only for which error it sees: first what can never be served (an unknown command or flag,
 * a command not offered), then a write to a read-only export (EPERM, as the protocol asks),
 * then the range (alignment to the disk's sector, the end of the export, the payload bound).
 * A write's data is always read, even when the write is refused, so that the stream stays in
 * step; one larger than the payload we offered ends the connection instead.
 */
#include <errno.h>

#include "nbd_request.h"
#include "nbd_wire.h"

void nbd_request_decode(const uint8_t b[NBD_REQUEST_LEN], struct nbd_request *r)
{
	r->magic = nbd_get32(b);
	r->flags = nbd_get16(b + 4);
	r->type = nbd_get16(b + 6);
	r->cookie = nbd_get64(b + 8);
	r->offset = nbd_get64(b + 16);
	r->len = nbd_get32(b + 24);
}

static bool offered(const struct nbd_req_limits *l, uint16_t flag)
{
	return (l->tflags & flag) != 0;
}

static bool writes(uint16_t type)
{
	return type == NBD_CMD_WRITE || type == NBD_CMD_TRIM || type == NBD_CMD_WRITE_ZEROES;
}

/* The command flags a command may carry here: FUA only when offered, NO_HOLE on
 * WRITE_ZEROES; DF, REQ_ONE and FAST_ZERO are never offered. */
static uint16_t allowed_flags(const struct nbd_req_limits *l, uint16_t type)
{
	uint16_t f = offered(l, NBD_FLAG_SEND_FUA) ? NBD_CMD_FLAG_FUA : 0;

	return type == NBD_CMD_WRITE_ZEROES ? (uint16_t)(f | NBD_CMD_FLAG_NO_HOLE) : f;
}

/* Is the command one this export serves, as offered in the transmission flags? */
static bool served(const struct nbd_req_limits *l, uint16_t type)
{
	switch (type) {
	case NBD_CMD_READ:
	case NBD_CMD_WRITE:
		return true;
	case NBD_CMD_FLUSH:
		return offered(l, NBD_FLAG_SEND_FLUSH);
	case NBD_CMD_TRIM:
		return offered(l, NBD_FLAG_SEND_TRIM);
	case NBD_CMD_WRITE_ZEROES:
		return offered(l, NBD_FLAG_SEND_WRITE_ZEROES);
	default:
		return false;
	}
}

static uint32_t range_error(const struct nbd_req_limits *l, const struct nbd_request *r)
{
	if (r->type == NBD_CMD_FLUSH)
		return r->offset || r->len ? NBD_EINVAL : 0;
	if ((r->offset | r->len) & (l->min_block - 1))
		return NBD_EINVAL;
	if (r->offset > l->size || r->len > l->size - r->offset)
		return r->type == NBD_CMD_WRITE_ZEROES || r->type == NBD_CMD_WRITE ? NBD_ENOSPC
										     : NBD_EINVAL;
	if (r->type == NBD_CMD_READ && r->len > l->max_payload)
		return NBD_EOVERFLOW;
	return 0;
}

void nbd_request_check(const struct nbd_req_limits *l, const struct nbd_request *r,
		       struct nbd_req_verdict *v)
{
	v->action = NBD_REQ_ERROR;
	v->error = 0;
	v->payload = 0;
	if (r->magic != NBD_REQUEST_MAGIC) {
		v->action = NBD_REQ_FATAL;
		return;
	}
	if (r->type == NBD_CMD_DISC) {
		v->action = NBD_REQ_DISCONNECT;
		return;
	}
	if (r->type == NBD_CMD_WRITE) {
		if (r->len > l->max_payload) {
			v->action = NBD_REQ_FATAL;
			return;
		}
		v->payload = r->len;
	}
	if (!served(l, r->type) || (r->flags & ~allowed_flags(l, r->type)))
		v->error = NBD_EINVAL;
	else if (writes(r->type) && offered(l, NBD_FLAG_READ_ONLY))
		v->error = NBD_EPERM;
	else
		v->error = range_error(l, r);
	if (!v->error)
		v->action = NBD_REQ_DO;
}

uint32_t nbd_errno_to_wire(int err)
{
	switch (-err) {
	case 0: return 0;
	case EPERM:
	case EROFS: return NBD_EPERM;
	case ENOMEM: return NBD_ENOMEM;
	case EINVAL: return NBD_EINVAL;
	case ENOSPC: return NBD_ENOSPC;
	case EOVERFLOW: return NBD_EOVERFLOW;
	case EOPNOTSUPP: return NBD_ENOTSUP;
	case ESHUTDOWN:
	case ECANCELED: return NBD_ESHUTDOWN;
	default: return NBD_EIO;
	}
}

void nbd_simple_reply(uint8_t out[NBD_SIMPLE_REPLY_LEN], uint32_t error, uint64_t cookie)
{
	nbd_put32(out, NBD_SIMPLE_REPLY_MAGIC);
	nbd_put32(out + 4, error);
	nbd_put64(out + 8, cookie);
}

void nbd_chunk_header(uint8_t out[NBD_CHUNK_HEADER_LEN], uint16_t flags, uint16_t type,
		      uint64_t cookie, uint32_t len)
{
	nbd_put32(out, NBD_STRUCTURED_REPLY_MAGIC);
	nbd_put16(out + 4, flags);
	nbd_put16(out + 6, type);
	nbd_put64(out + 8, cookie);
	nbd_put32(out + 16, len);
}

size_t nbd_error_chunk(uint8_t out[NBD_ERROR_CHUNK_MAX], uint64_t cookie, uint32_t error,
		       const char *msg)
{
	size_t n = msg ? strnlen(msg, 128) : 0;

	nbd_chunk_header(out, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_ERROR, cookie,
			 (uint32_t)(6 + n));
	nbd_put32(out + NBD_CHUNK_HEADER_LEN, error ? error : NBD_EIO);
	nbd_put16(out + NBD_CHUNK_HEADER_LEN + 4, (uint16_t)n);
	memcpy(out + NBD_CHUNK_HEADER_LEN + 6, msg ? msg : "", n);
	return NBD_CHUNK_HEADER_LEN + 6 + n;
}
