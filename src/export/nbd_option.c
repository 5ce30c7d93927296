/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The handshake's option parser and replies (see nbd_option.h). Every length comes from the
 * client and is checked before it is used: the option's data length against what the option
 * may carry, the export name's length against the data, the number of information requests
 * against what is left. A client that breaks a rule gets NBD_REP_ERR_INVALID and may go on;
 * one that sends more than NBD_OPT_MAX_COUNT options is disconnected, so that a handshake
 * cannot hold a connection slot for ever.
 */
#include <errno.h>
#include <string.h>

#include "nbd_option.h"
#include "nbd_proto.h"

void nbd_greeting(uint8_t out[NBD_GREETING_LEN])
{
	nbd_put64(out, NBD_MAGIC);
	nbd_put64(out + 8, NBD_IHAVEOPT);
	nbd_put16(out + 16, NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES);
}

int nbd_client_flags_check(uint32_t flags)
{
	if (flags & ~(uint32_t)(NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES))
		return -EPROTO;
	return flags & NBD_FLAG_C_FIXED_NEWSTYLE ? 0 : -EPROTO;
}

int nbd_opt_header_parse(const uint8_t h[NBD_OPT_HEADER_LEN], uint32_t *opt, uint32_t *len)
{
	if (nbd_get64(h) != NBD_IHAVEOPT)
		return -EPROTO;
	*opt = nbd_get32(h + 8);
	*len = nbd_get32(h + 12);
	return 0;
}

enum nbd_len_verdict nbd_opt_len_verdict(uint32_t len)
{
	if (len <= NBD_OPT_MAX_LEN)
		return NBD_LEN_READ;
	return len <= NBD_OPT_SKIP_MAX ? NBD_LEN_SKIP : NBD_LEN_FATAL;
}

/* One reply: header, then `len` bytes of payload for the caller to fill (NULL if none). */
static uint8_t *reply(struct nbd_out *out, uint32_t opt, uint32_t type, uint32_t len)
{
	uint8_t *p = nbd_out_reserve(out, NBD_OPT_REPLY_HEADER_LEN + (size_t)len);

	if (!p)
		return NULL;
	nbd_put64(p, NBD_REP_MAGIC);
	nbd_put32(p + 8, opt);
	nbd_put32(p + 12, type);
	nbd_put32(p + 16, len);
	return p + NBD_OPT_REPLY_HEADER_LEN;
}

static enum nbd_opt_verdict ack(struct nbd_out *out, uint32_t opt, enum nbd_opt_verdict v)
{
	reply(out, opt, NBD_REP_ACK, 0);
	return v;
}

static enum nbd_opt_verdict error(struct nbd_out *out, uint32_t opt, uint32_t type)
{
	reply(out, opt, type, 0);
	return NBD_OPT_CONTINUE;
}

/* NBD_OPT_LIST: our one export, then ACK. No data allowed. */
static enum nbd_opt_verdict list(struct nbd_neg *n, uint32_t len, struct nbd_out *out)
{
	uint32_t name_len = (uint32_t)strlen(n->exp->name);
	uint8_t *p;

	if (len)
		return error(out, NBD_OPT_LIST, NBD_REP_ERR_INVALID);
	p = reply(out, NBD_OPT_LIST, NBD_REP_SERVER, 4 + name_len);
	if (p) {
		nbd_put32(p, name_len);
		memcpy(p + 4, n->exp->name, name_len);
	}
	return ack(out, NBD_OPT_LIST, NBD_OPT_CONTINUE);
}

static void info_export(const struct nbd_export_desc *e, uint32_t opt, struct nbd_out *out)
{
	uint8_t *p = reply(out, opt, NBD_REP_INFO, 12);

	if (!p)
		return;
	nbd_put16(p, NBD_INFO_EXPORT);
	nbd_put64(p + 2, e->size);
	nbd_put16(p + 10, e->tflags);
}

static void info_block_size(const struct nbd_export_desc *e, uint32_t opt, struct nbd_out *out)
{
	uint8_t *p = reply(out, opt, NBD_REP_INFO, 14);

	if (!p)
		return;
	nbd_put16(p, NBD_INFO_BLOCK_SIZE);
	nbd_put32(p + 2, e->min_block);
	nbd_put32(p + 6, e->pref_block);
	nbd_put32(p + 10, e->max_payload);
}

static void info_text(uint16_t type, const char *text, uint32_t opt, struct nbd_out *out)
{
	size_t len = strnlen(text, NBD_MAX_STRING);
	uint8_t *p = reply(out, opt, NBD_REP_INFO, (uint32_t)(2 + len));

	if (!p)
		return;
	nbd_put16(p, type);
	memcpy(p + 2, text, len);
}

/* The information requests of GO/INFO: each known at most once. -EINVAL for a repeat. */
static int read_info_requests(const uint8_t *p, uint32_t n, unsigned int *asked)
{
	*asked = 0;
	for (uint32_t i = 0; i < n; i++) {
		uint16_t type = nbd_get16(p + 2 * i);

		if (type > NBD_INFO_BLOCK_SIZE)
			continue; /* the protocol says: ignore what we do not know */
		if (*asked & (1u << type))
			return -EINVAL;
		*asked |= 1u << type;
	}
	return 0;
}

/*
 * NBD_OPT_INFO and NBD_OPT_GO: 32-bit name length, the name, a 16-bit count and that many
 * 16-bit information requests, exactly filling the option's data.
 */
static enum nbd_opt_verdict info_or_go(struct nbd_neg *n, uint32_t opt, const uint8_t *d,
				       uint32_t len, struct nbd_out *out)
{
	const struct nbd_export_desc *e = n->exp;
	uint32_t name_len, count;
	unsigned int asked;

	if (len < 6 || (name_len = nbd_get32(d)) > len - 6 || name_len > NBD_MAX_STRING)
		return error(out, opt, NBD_REP_ERR_INVALID);
	count = nbd_get16(d + 4 + name_len);
	if ((uint64_t)count * 2 != (uint64_t)len - 6 - name_len ||
	    read_info_requests(d + 6 + name_len, count, &asked))
		return error(out, opt, NBD_REP_ERR_INVALID);
	if (name_len && (name_len != strlen(e->name) || memcmp(d + 4, e->name, name_len)))
		return error(out, opt, NBD_REP_ERR_UNKNOWN);
	info_export(e, opt, out);
	/* Sent whether asked or not: the client then knows why a GO is refused. */
	info_block_size(e, opt, out);
	if (asked & (1u << NBD_INFO_NAME))
		info_text(NBD_INFO_NAME, e->name, opt, out);
	if (asked & (1u << NBD_INFO_DESCRIPTION))
		info_text(NBD_INFO_DESCRIPTION, e->description, opt, out);
	/* Our minimum block is the disk's sector: a client must have agreed to it. */
	if (opt == NBD_OPT_GO && !(asked & (1u << NBD_INFO_BLOCK_SIZE)))
		return error(out, opt, NBD_REP_ERR_BLOCK_SIZE_REQD);
	return ack(out, opt, opt == NBD_OPT_GO ? NBD_OPT_TRANSMIT : NBD_OPT_CONTINUE);
}

static enum nbd_opt_verdict structured(struct nbd_neg *n, uint32_t len, struct nbd_out *out)
{
	if (len)
		return error(out, NBD_OPT_STRUCTURED_REPLY, NBD_REP_ERR_INVALID);
	n->structured = true;
	return ack(out, NBD_OPT_STRUCTURED_REPLY, NBD_OPT_CONTINUE);
}

static enum nbd_opt_verdict dispatch(struct nbd_neg *n, uint32_t opt, const uint8_t *data,
				     uint32_t len, struct nbd_out *out)
{
	switch (opt) {
	case NBD_OPT_EXPORT_NAME:
		return NBD_OPT_CLOSE;
	case NBD_OPT_ABORT:
		return ack(out, opt, NBD_OPT_CLOSE); /* any data is ignored, as the spec says */
	case NBD_OPT_LIST:
		return list(n, len, out);
	case NBD_OPT_INFO:
	case NBD_OPT_GO:
		return info_or_go(n, opt, data, len, out);
	case NBD_OPT_STRUCTURED_REPLY:
		return structured(n, len, out);
	default:
		return error(out, opt, NBD_REP_ERR_UNSUP);
	}
}

enum nbd_opt_verdict nbd_opt_handle(struct nbd_neg *n, uint32_t opt, const uint8_t *data,
				    uint32_t len, struct nbd_out *out)
{
	enum nbd_opt_verdict v;

	if (len > NBD_OPT_MAX_LEN || (len && !data) || ++n->options > NBD_OPT_MAX_COUNT)
		return NBD_OPT_CLOSE;
	v = dispatch(n, opt, data, len, out);
	return out->overflow ? NBD_OPT_CLOSE : v;
}

enum nbd_opt_verdict nbd_opt_too_big(struct nbd_neg *n, uint32_t opt, struct nbd_out *out)
{
	if (++n->options > NBD_OPT_MAX_COUNT)
		return NBD_OPT_CLOSE;
	/* ABORT ends the session whatever it carried; EXPORT_NAME cannot be answered. */
	if (opt == NBD_OPT_ABORT)
		return ack(out, opt, NBD_OPT_CLOSE);
	if (opt == NBD_OPT_EXPORT_NAME)
		return NBD_OPT_CLOSE;
	error(out, opt, NBD_REP_ERR_TOO_BIG);
	return out->overflow ? NBD_OPT_CLOSE : NBD_OPT_CONTINUE;
}
