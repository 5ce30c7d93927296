/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The fixed-newstyle handshake of the NBD export, as pure functions over bytes (no socket):
 * the server's greeting, the client's flags, each option's header and data, and the replies
 * they get. The connection code (export_conn.c) reads exactly the bytes these functions ask
 * for and sends what they build. Options served: NBD_OPT_GO, NBD_OPT_INFO, NBD_OPT_LIST,
 * NBD_OPT_ABORT and NBD_OPT_STRUCTURED_REPLY; any other gets NBD_REP_ERR_UNSUP, except
 * NBD_OPT_EXPORT_NAME, which cannot carry an error or learn our block size, and ends the
 * connection (the protocol allows that for a server with size constraints).
 */
#ifndef XENBLKD_EXPORT_NBD_OPTION_H
#define XENBLKD_EXPORT_NBD_OPTION_H

#include <stdbool.h>
#include <stdint.h>

#include "nbd_proto.h"
#include "nbd_wire.h"

/* What one socket exports. */
struct nbd_export_desc {
	const char *name;        /* canonical name; "" (the default export) is accepted too */
	const char *description; /* for NBD_INFO_DESCRIPTION */
	uint64_t size;           /* bytes, a multiple of min_block */
	uint16_t tflags;         /* transmission flags, NBD_FLAG_HAS_FLAGS included */
	uint32_t min_block;      /* the disk's logical sector size */
	uint32_t pref_block;
	uint32_t max_payload;
};

/* One connection's handshake state. */
struct nbd_neg {
	const struct nbd_export_desc *exp;
	bool structured;       /* NBD_OPT_STRUCTURED_REPLY was acknowledged */
	unsigned int options;  /* options answered so far */
};

enum nbd_opt_verdict {
	NBD_OPT_CONTINUE, /* send the replies, read the next option */
	NBD_OPT_TRANSMIT, /* send the replies, then the transmission phase starts */
	NBD_OPT_CLOSE,    /* send the replies (if any), then close */
};

enum nbd_len_verdict {
	NBD_LEN_READ, /* read the data and hand it to nbd_opt_handle() */
	NBD_LEN_SKIP, /* too long to keep: skip the data, answer nbd_opt_too_big() */
	NBD_LEN_FATAL /* too long to even skip: close */
};

#define NBD_GREETING_LEN 18

/* The server's first bytes: NBDMAGIC, IHAVEOPT, handshake flags. */
void nbd_greeting(uint8_t out[NBD_GREETING_LEN]);
/* The client's 32-bit flags: 0, or -EPROTO for one we did not offer or a client that is not
 * fixed-newstyle (close). */
int nbd_client_flags_check(uint32_t flags);
/* An option's 16-byte header: 0 with the option and its data length, or -EPROTO (close). */
int nbd_opt_header_parse(const uint8_t h[NBD_OPT_HEADER_LEN], uint32_t *opt, uint32_t *len);
enum nbd_len_verdict nbd_opt_len_verdict(uint32_t len);
/* Answer one option with `len` bytes of `data`; the replies are appended to `out`. */
enum nbd_opt_verdict nbd_opt_handle(struct nbd_neg *n, uint32_t opt, const uint8_t *data,
				    uint32_t len, struct nbd_out *out);
/* The answer to an option whose data was skipped (NBD_LEN_SKIP). */
enum nbd_opt_verdict nbd_opt_too_big(struct nbd_neg *n, uint32_t opt, struct nbd_out *out);

#endif
