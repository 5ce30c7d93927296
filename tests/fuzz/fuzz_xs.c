/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target for the parsers of every xenstore value the daemon reads: numbers
 * (xbd_parse_uint: ring-page-order, multi-queue-num-queues, ring-ref*, event-channel,
 * feature-persistent, frontend-id, the toolstack's flags), the toolstack's params and mode,
 * the image format a toolstack writes (xenblkd-format, xbd_parse_format; with the mode, as
 * both are one word), states (xbd_fsm_parse_state), the frontend's protocol, the grant-mode key and the qcow2
 * backing chain a toolstack writes (xenblkd-backing, xbd_parse_backing_chain). A frontend
 * writes some of these and may write anything. Each verdict is compared with a reference
 * written independently from the rule the parser documents; the string is handed over in a
 * buffer of exactly its size, so the sanitizers catch any read beyond its NUL.
 *
 * Input layout: byte 0 picks the parser (mod 7); for xbd_parse_uint, bytes 1..8 are the
 * maximum (little endian); the rest is the value (cut at its first NUL, as xenstore values
 * reach the daemon as C strings). A 1-byte input passes NULL where the parser accepts it.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xen/io/protocols.h>

#include "xenblkd/grant.h"
#include "xenblkd/ring.h"
#include "xenblkd/xenbus_fsm.h"
#include "xenblkd/xs_value.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                              \
	do {                                                                                     \
		if (!(cond)) {                                                                   \
			fprintf(stderr, "fuzz_xs: invariant failed: %s (%s:%d)\n", #cond,        \
				__FILE__, __LINE__);                                             \
			abort();                                                                 \
		}                                                                                \
	} while (0)

__extension__ typedef unsigned __int128 u128;

/* Strict decimal, 1..20 digits, the first error from the left wins, then the maximum. */
static int ref_uint(const char *s, uint64_t max, uint64_t *out)
{
	u128 v = 0;
	size_t n;

	if (!*s)
		return -EINVAL;
	for (n = 0; s[n]; n++) {
		if (s[n] < '0' || s[n] > '9' || n >= 20)
			return -EINVAL;
		v = v * 10 + (unsigned int)(s[n] - '0');
		if (v > UINT64_MAX)
			return -ERANGE;
	}
	if (v > max)
		return -ERANGE;
	*out = (uint64_t)v;
	return 0;
}

static void fuzz_uint(const char *s, uint64_t max)
{
	uint64_t got = 0, want = 0;
	int err = xbd_parse_uint(s, max, &got), ref = ref_uint(s, max, &want);

	CHECK(err == ref);
	CHECK(err || got == want);
}

/* "<format>:/path" with a known format, or "/path" (raw); the path starts with '/'. */
static void fuzz_params(const char *s)
{
	static const struct { const char *prefix; int kind; } formats[] = {
		{ "aio:", 0 }, { "raw:", 0 }, { "file:", 0 }, { "phy:", 0 }, { "qcow2:", 1 },
		{ "qcow:", -EPROTONOSUPPORT }, { "vhd:", -EPROTONOSUPPORT },
		{ "qed:", -EPROTONOSUPPORT },
	};
	enum xbd_format fmt = XBD_FORMAT_RAW;
	const char *path = NULL, *want = NULL;
	int err = xbd_parse_params(s, &fmt, &path), kind = 0, ref;

	if (s[0] == '/')
		want = s;
	for (unsigned int i = 0; !want && i < sizeof(formats) / sizeof(formats[0]); i++) {
		size_t n = strlen(formats[i].prefix);

		if (!strncmp(s, formats[i].prefix, n)) {
			want = s + n;
			kind = formats[i].kind;
		}
	}
	ref = !want || want[0] != '/' ? -EINVAL : kind < 0 ? kind : 0;
	CHECK(err == ref);
	if (!err)
		CHECK(path == want && fmt == (kind ? XBD_FORMAT_QCOW2 : XBD_FORMAT_RAW));
}

static void fuzz_mode(const char *s)
{
	bool ro = false;
	int err = xbd_parse_mode(s, &ro);

	if (!strcmp(s, "r"))
		CHECK(!err && ro);
	else if (!strcmp(s, "w") || !strcmp(s, "w!"))
		CHECK(!err && !ro);
	else
		CHECK(err == -EINVAL);
}

/* Exactly "qcow2" or "raw"; a refusal leaves the result alone. */
static void fuzz_format(const char *s)
{
	enum xbd_format fmt = (enum xbd_format)-1;
	int err = xbd_parse_format(s, &fmt);

	if (!strcmp(s, "qcow2"))
		CHECK(!err && fmt == XBD_FORMAT_QCOW2 && !strcmp(xbd_format_name(fmt), s));
	else if (!strcmp(s, "raw"))
		CHECK(!err && fmt == XBD_FORMAT_RAW && !strcmp(xbd_format_name(fmt), s));
	else
		CHECK(err == -EINVAL && fmt == (enum xbd_format)-1);
}

/* Digits only, value 0..8 (leading zeros allowed); anything else is Unknown. */
static void fuzz_state(const char *s)
{
	enum xenbus_state got = xbd_fsm_parse_state(s);
	unsigned long v = 0;
	size_t n;

	for (n = 0; s[n] >= '0' && s[n] <= '9'; n++)
		v = v > 8 ? v : v * 10 + (unsigned long)(s[n] - '0');
	if (!n || s[n] || v > 8)
		v = XenbusStateUnknown;
	CHECK(got == (enum xenbus_state)v);
	CHECK(xbd_fsm_state_name(got) != NULL);
}

/* Absent is native, as is its own name; the two x86 names are the others. */
static void fuzz_protocol(const char *s)
{
	enum xbd_proto p = (enum xbd_proto)-1;
	int err = xbd_proto_from_string(s, &p);

	if (!s || !strcmp(s, XEN_IO_PROTO_ABI_NATIVE))
		CHECK(!err && p == XBD_PROTO_NATIVE);
	else if (!strcmp(s, XEN_IO_PROTO_ABI_X86_32))
		CHECK(!err && p == XBD_PROTO_X86_32);
	else if (!strcmp(s, XEN_IO_PROTO_ABI_X86_64))
		CHECK(!err && p == XBD_PROTO_X86_64);
	else
		CHECK(err == -EINVAL);
}

static void fuzz_grant_mode(const char *s)
{
	enum xbd_grant_mode m = (enum xbd_grant_mode)-1;
	int err = xbd_grant_mode_from_string(s, &m);

	if (s && !strcmp(s, "copy"))
		CHECK(!err && m == XBD_GRANT_COPY);
	else if (s && !strcmp(s, "map"))
		CHECK(!err && m == XBD_GRANT_MAP);
	else if (s && !strcmp(s, "persistent"))
		CHECK(!err && m == XBD_GRANT_PERSISTENT);
	else
		CHECK(err == -EINVAL);
}

/* One "FORMAT:PATH" entry of the chain, by the documented rule: qcow2 or raw, an absolute
 * path shorter than 4096 bytes, no control character. */
static bool ref_chain_entry(const char *e, size_t len)
{
	size_t skip = len >= 6 && !strncmp(e, "qcow2:", 6) ? 6 :
		      len >= 4 && !strncmp(e, "raw:", 4) ? 4 : 0;

	if (!skip || len == skip || e[skip] != '/' || len - skip >= 4096)
		return false;
	for (size_t i = skip; i < len; i++)
		if ((unsigned char)e[i] < 32 || e[i] == 127)
			return false;
	return true;
}

static void fuzz_chain(char *s)
{
	struct xbd_backing_file c[XBD_MAX_BACKING_CHAIN];
	char *copy = strdup(s);
	unsigned int n = 0, k = 0;
	const char *p = s;
	int want = 0, err;

	CHECK(copy);
	for (;; k++) {
		const char *bar = strchr(p, '|');
		size_t len = bar ? (size_t)(bar - p) : strlen(p);

		if (k == XBD_MAX_BACKING_CHAIN) {
			want = -E2BIG;
			break;
		}
		if (!ref_chain_entry(p, len)) {
			want = -EINVAL;
			break;
		}
		if (!bar)
			break;
		p = bar + 1;
	}
	err = xbd_parse_backing_chain(s, c, XBD_MAX_BACKING_CHAIN, &n);
	CHECK(err == want);
	CHECK(err ? n == 0 && !strcmp(s, copy) : n == k + 1);
	for (unsigned int i = 0; !err && i < n; i++) {
		CHECK(c[i].path[0] == '/' && !strchr(c[i].path, '|'));
		CHECK(c[i].format == (c[i].path[-2] == '2' ? XBD_FORMAT_QCOW2 : XBD_FORMAT_RAW));
	}
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned int which = size ? data[0] % 7 : 0;
	size_t skip = which == 0 ? 9 : 1, n;
	uint64_t max = 0;
	char *s;

	for (unsigned int i = 1; i < 9 && i < size; i++)
		max |= (uint64_t)data[i] << (8 * (i - 1));
	n = size > skip ? strnlen((const char *)data + skip, size - skip) : 0;
	/* Exactly the string and its NUL: a read past it is a sanitizer error. */
	s = malloc(n + 1);
	CHECK(s);
	if (n)
		memcpy(s, data + skip, n);
	s[n] = '\0';
	switch (which) {
	case 0: fuzz_uint(s, max); break;
	case 1: fuzz_params(s); break;
	case 2: fuzz_mode(s); fuzz_format(s); break;
	case 3: fuzz_state(s); break;
	case 4: fuzz_protocol(size == 1 ? NULL : s); break;
	case 5: fuzz_grant_mode(size == 1 ? NULL : s); break;
	default: fuzz_chain(s); break;
	}
	free(s);
	return 0;
}
