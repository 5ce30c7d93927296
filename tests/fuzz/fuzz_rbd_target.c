/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target for the rbd target parser (src/io/rbd/rbd_target.c), which reads the
 * toolstack's params after "rbd:". Checked on every input (the whole input is the string, up
 * to its first NUL):
 *  - on success: every field is NUL-terminated inside its buffer; pool and image are set;
 *    names hold only [A-Za-z0-9_.+-] and are not ".", ".." or "-..."; conf and keyring are
 *    empty or absolute; mon_host only addresses and separators; nothing but the four accepted options was taken (no "key" anywhere
 *    in a field unless the input had it in a value);
 *  - on failure: -EINVAL, and the message is NUL-terminated, non-empty and printable.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rbd_target.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                              \
	do {                                                                                     \
		if (!(cond)) {                                                                   \
			fprintf(stderr, "fuzz_rbd_target: invariant failed: %s (%s:%d)\n", #cond,  \
				__FILE__, __LINE__);                                             \
			abort();                                                                 \
		}                                                                                \
	} while (0)

static void check_name(const char *n, size_t cap, bool may_be_empty)
{
	size_t len = strnlen(n, cap);

	CHECK(len < cap);
	CHECK(may_be_empty || len > 0);
	for (size_t i = 0; i < len; i++)
		CHECK(strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.+-",
			     n[i]));
	if (len)
		CHECK(strcmp(n, ".") && strcmp(n, "..") && n[0] != '-');
}

static void check_path(const char *p, size_t cap)
{
	size_t len = strnlen(p, cap);

	CHECK(len < cap);
	CHECK(len == 0 || p[0] == '/');
	for (size_t i = 0; i < len; i++)
		CHECK((unsigned char)p[i] > 0x20 && (unsigned char)p[i] < 0x7f);
}

static void check_hosts(const char *h, size_t cap)
{
	size_t len = strnlen(h, cap);

	CHECK(len < cap);
	for (size_t i = 0; i < len; i++)
		CHECK(strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.+-"
			     ":[],;/", h[i]));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), why[256];
	struct xbd_rbd_target t;
	int r;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	memset(why, 'X', sizeof(why));
	r = xbd_rbd_parse_target(s, &t, why, sizeof(why));
	if (r == 0) {
		check_name(t.pool, sizeof(t.pool), false);
		check_name(t.image, sizeof(t.image), false);
		check_name(t.snap, sizeof(t.snap), true);
		check_name(t.id, sizeof(t.id), true);
		check_path(t.conf, sizeof(t.conf));
		check_path(t.keyring, sizeof(t.keyring));
		check_hosts(t.mon_host, sizeof(t.mon_host));
		CHECK(!strstr(s, ":key=") || strstr(s, "\\:key="));
	} else {
		size_t n = strnlen(why, sizeof(why));

		CHECK(r == -EINVAL);
		CHECK(n > 0 && n < sizeof(why));
		for (size_t i = 0; i < n; i++)
			CHECK((unsigned char)why[i] >= 0x20 && (unsigned char)why[i] < 0x7f);
	}
	free(s);
	return 0;
}
