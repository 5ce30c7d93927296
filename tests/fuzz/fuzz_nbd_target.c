/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target for the NBD target parser (src/io/nbd/nbd_target.c), which turns the
 * toolstack's `params` into where the daemon connects and with which credentials. The input
 * is the string (up to its first NUL). Checked on every input:
 *  - the reason buffer (handed over at exactly its size) is NUL-terminated and, on a refusal,
 *    not empty and free of control bytes (the input is escaped into it);
 *  - on success every field is NUL-terminated inside its array and has no control byte; a
 *    Unix target has an absolute socket path, a TCP one a host and a port in 1..65535; the
 *    timeout is 1..3600 s; TLS and cleartext=yes never go together; plain TCP without
 *    cleartext=yes only reaches loopback;
 *  - parsing is deterministic: a second parse gives the same result, byte for byte.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nbd_target.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                              \
	do {                                                                                     \
		if (!(cond)) {                                                                   \
			fprintf(stderr, "fuzz_nbd_target: invariant failed: %s (%s:%d)\n", #cond,   \
				__FILE__, __LINE__);                                             \
			abort();                                                                 \
		}                                                                                \
	} while (0)

static void check_field(const char *f, size_t size)
{
	size_t n = strnlen(f, size);

	CHECK(n < size);
	for (size_t i = 0; i < n; i++)
		CHECK((unsigned char)f[i] >= 0x20 && f[i] != 0x7f);
}

static void check_target(const struct xbd_nbd_target *t)
{
	check_field(t->socket, sizeof(t->socket));
	check_field(t->host, sizeof(t->host));
	check_field(t->port, sizeof(t->port));
	check_field(t->export_name, sizeof(t->export_name));
	check_field(t->tls_certificates, sizeof(t->tls_certificates));
	check_field(t->tls_psk, sizeof(t->tls_psk));
	check_field(t->tls_username, sizeof(t->tls_username));
	CHECK(t->timeout_s >= 1 && t->timeout_s <= XBD_NBD_MAX_TIMEOUT_S);
	CHECK(!(t->tls && t->cleartext_ok));
	if (t->transport == XBD_NBD_UNIX) {
		CHECK(t->socket[0] == '/');
	} else {
		long port = strtol(t->port, NULL, 10);

		CHECK(t->transport == XBD_NBD_TCP);
		CHECK(t->host[0] != '\0');
		CHECK(port >= 1 && port <= 65535);
		CHECK(t->tls || t->cleartext_ok || xbd_nbd_host_is_loopback(t->host));
	}
	CHECK(!t->tls_certificates[0] || t->tls_certificates[0] == '/');
	CHECK(!t->tls_psk[0] || t->tls_psk[0] == '/');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct xbd_nbd_target a, b;
	char *s = malloc(size + 1);
	char *why = malloc(97), why2[97];
	int r, r2;

	if (!s || !why)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	memset(why, 0, 97);
	r = xbd_nbd_target_parse(s, &a, why, 97);
	CHECK(r == 0 || r == -EINVAL);
	CHECK(memchr(why, '\0', 97) != NULL);
	if (r) {
		CHECK(why[0] != '\0');
		for (size_t i = 0; why[i]; i++)
			CHECK((unsigned char)why[i] >= 0x20 && why[i] != 0x7f);
	} else {
		check_target(&a);
	}
	r2 = xbd_nbd_target_parse(s, &b, why2, sizeof(why2));
	CHECK(r2 == r);
	CHECK(r || memcmp(&a, &b, sizeof(a)) == 0);
	CHECK(xbd_nbd_is_target(s) || r);
	free(why);
	free(s);
	return 0;
}
