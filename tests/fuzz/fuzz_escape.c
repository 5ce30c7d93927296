/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target for the log's escaping (xbd_log_escape, log.h), which every untrusted
 * string passes through before it reaches a log line. Checked on every input:
 *  - the output fits the buffer (handed over at exactly its size, so the sanitizers see any
 *    overflow), is NUL-terminated, has no control byte or DEL, does not start with '<', and
 *    is well-formed UTF-8 with no C1, separator or bidi control (a reference decoder written
 *    from RFC 3629's ABNF, independently of the one under test);
 *  - it is unambiguous: unescaping it gives back exactly the input bytes it reports consumed;
 *  - a cut output is a prefix of the uncut one, falls on a unit boundary, and stops only
 *    because the next unit (at most 16 bytes escaped) did not fit.
 *
 * Input layout: byte 0 is the output buffer's size (255: large enough for everything); the
 * rest is the text, NUL bytes included.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xenblkd/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                              \
	do {                                                                                     \
		if (!(cond)) {                                                                   \
			fprintf(stderr, "fuzz_escape: invariant failed: %s (%s:%d)\n", #cond,       \
				__FILE__, __LINE__);                                             \
			abort();                                                                 \
		}                                                                                \
	} while (0)

/* RFC 3629 section 4, one row per alternative: the lead byte range, then the second byte's. */
static const struct {
	uint8_t lead_lo, lead_hi, second_lo, second_hi, len;
} utf8_rows[] = {
	{ 0xc2, 0xdf, 0x80, 0xbf, 2 }, { 0xe0, 0xe0, 0xa0, 0xbf, 3 },
	{ 0xe1, 0xec, 0x80, 0xbf, 3 }, { 0xed, 0xed, 0x80, 0x9f, 3 },
	{ 0xee, 0xef, 0x80, 0xbf, 3 }, { 0xf0, 0xf0, 0x90, 0xbf, 4 },
	{ 0xf1, 0xf3, 0x80, 0xbf, 4 }, { 0xf4, 0xf4, 0x80, 0x8f, 4 },
};

/* The code point of the well-formed sequence at s, its length in *len; -1 if malformed. */
static long ref_decode(const unsigned char *s, size_t avail, size_t *len)
{
	for (size_t r = 0; r < sizeof(utf8_rows) / sizeof(utf8_rows[0]); r++) {
		long cp;

		if (s[0] < utf8_rows[r].lead_lo || s[0] > utf8_rows[r].lead_hi)
			continue;
		*len = utf8_rows[r].len;
		if (avail < *len || s[1] < utf8_rows[r].second_lo || s[1] > utf8_rows[r].second_hi)
			return -1;
		cp = s[0] & (*len == 2 ? 0x1f : *len == 3 ? 0x0f : 0x07);
		for (size_t i = 1; i < *len; i++) {
			if (s[i] < 0x80 || s[i] > 0xbf)
				return -1;
			cp = cp * 64 + (s[i] & 0x3f);
		}
		return cp;
	}
	return -1;
}

static bool ref_reader_control(long cp)
{
	static const long bad[] = { 0x061c, 0x200e, 0x200f, 0x2028, 0x2029, 0x202a, 0x202b,
				    0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069 };

	if (cp >= 0x80 && cp < 0xa0)
		return true;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (cp == bad[i])
			return true;
	return false;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Checks the output's alphabet and undoes the escaping into back; the byte count. */
static size_t check_and_unescape(const char *out, unsigned char *back)
{
	const unsigned char *s = (const unsigned char *)out;
	size_t n = 0, i = 0, len = strlen(out);

	CHECK(s[0] != '<');
	while (i < len) {
		size_t k;
		long cp;

		CHECK(s[i] >= 0x20 && s[i] != 0x7f);
		if (s[i] == '\\') {
			CHECK(i + 4 <= len);
			CHECK(s[i + 1] == 'x' && hexval((char)s[i + 2]) >= 0 &&
			      hexval((char)s[i + 3]) >= 0);
			back[n++] = (unsigned char)(hexval((char)s[i + 2]) * 16 +
						    hexval((char)s[i + 3]));
			i += 4;
		} else if (s[i] < 0x80) {
			back[n++] = s[i++];
		} else {
			cp = ref_decode(s + i, len - i, &k);
			CHECK(cp >= 0x80 && !ref_reader_control(cp));
			memcpy(back + n, s + i, k);
			n += k;
			i += k;
		}
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t outlen, inlen, done, full_done, full_len, cut_len;
	unsigned char *back;
	char *in, *out, *full;

	if (size < 1)
		return 0;
	inlen = size - 1;
	outlen = data[0] == 255 ? 4 * inlen + 1 : data[0];
	/* Exactly sized copies, so any read or write beyond them is caught. */
	in = malloc(inlen ? inlen : 1);
	out = malloc(outlen ? outlen : 1);
	full = malloc(4 * inlen + 1);
	back = malloc(inlen ? inlen : 1);
	CHECK(in && out && full && back);
	memcpy(in, data + 1, inlen);
	if (!outlen)
		out[0] = 'Z';

	done = xbd_log_escape(in, inlen, out, outlen);
	full_done = xbd_log_escape(in, inlen, full, 4 * inlen + 1);
	CHECK(full_done == inlen);
	full_len = strlen(full);
	CHECK(check_and_unescape(full, back) == inlen);
	CHECK(memcmp(back, in, inlen) == 0);
	if (!outlen) {
		CHECK(done == 0 && out[0] == 'Z');
	} else {
		cut_len = strnlen(out, outlen);
		CHECK(cut_len < outlen);
		CHECK(done <= inlen);
		/* A prefix of the whole, at a unit boundary: it unescapes to the input's prefix. */
		CHECK(cut_len <= full_len && memcmp(out, full, cut_len) == 0);
		CHECK(check_and_unescape(out, back) == done);
		CHECK(memcmp(back, in, done) == 0);
		/* It stopped only for want of room. */
		CHECK(done == inlen || cut_len + 16 >= outlen);
	}
	free(in);
	free(out);
	free(full);
	free(back);
	return 0;
}
