/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The one escaping of untrusted text for the log (log.h has the rules). Guests write xenstore
 * values and shared pages, and disk images carry names; any of them may reach a log line, and
 * a raw newline, ESC or `<` there would let them forge journal entries at any priority, in any
 * device's name, or drive the terminal that shows the journal. The logger runs every message
 * body through here, and anything else that records such text (structured journal fields, the
 * xenstore error node) uses the same function, so there is exactly one set of rules.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "xenblkd/log.h"

/* Length of the well-formed UTF-8 sequence at in[0..avail), or 0 if it is not one
 * (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF, nothing cut short). */
static size_t utf8_len(const unsigned char *in, size_t avail, uint32_t *cp)
{
	unsigned char b = in[0], lo = 0x80, hi = 0xbf;
	size_t n;

	if (b >= 0xc2 && b <= 0xdf)
		n = 2;
	else if (b >= 0xe0 && b <= 0xef)
		n = 3;
	else if (b >= 0xf0 && b <= 0xf4)
		n = 4;
	else
		return 0;
	if (b == 0xe0)
		lo = 0xa0; /* overlong */
	else if (b == 0xed)
		hi = 0x9f; /* surrogates */
	else if (b == 0xf0)
		lo = 0x90; /* overlong */
	else if (b == 0xf4)
		hi = 0x8f; /* above U+10FFFF */
	if (avail < n || in[1] < lo || in[1] > hi)
		return 0;
	*cp = b & (0xffu >> (n + 1));
	for (size_t i = 1; i < n; i++) {
		if ((in[i] & 0xc0) != 0x80)
			return 0;
		*cp = (*cp << 6) | (in[i] & 0x3fu);
	}
	return n;
}

/* Characters that are valid but act on the reader: C1 controls (U+009B is CSI to a terminal
 * in UTF-8 mode), line and paragraph separators, and the bidirectional marks, embeddings,
 * overrides and isolates that reorder what a reader sees ("Trojan Source"). */
static bool dangerous(uint32_t cp)
{
	return (cp >= 0x80 && cp <= 0x9f) || cp == 0x061c || cp == 0x200e || cp == 0x200f ||
	       (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

/* A byte that is copied as it is when it stands alone. */
static bool plain_byte(unsigned char b, bool first)
{
	return b >= 0x20 && b <= 0x7e && b != '\\' && !(first && b == '<');
}

/* How many input bytes the next unit takes, and whether it is escaped (4 output bytes each)
 * or copied. */
static size_t next_unit(const unsigned char *in, size_t avail, bool first, bool *escape)
{
	uint32_t cp = 0;
	size_t n;

	if (in[0] < 0x80) {
		*escape = !plain_byte(in[0], first);
		return 1;
	}
	n = utf8_len(in, avail, &cp);
	*escape = n == 0 || dangerous(cp);
	/* An invalid byte is escaped alone and decoding resumes right after it. */
	return n ? n : 1;
}

size_t xbd_log_escape(const char *in, size_t inlen, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)in;
	size_t i = 0, o = 0;

	if (!outlen)
		return 0;
	while (i < inlen) {
		bool escape;
		size_t n = next_unit(u + i, inlen - i, i == 0, &escape);
		size_t need = escape ? 4 * n : n;

		if (o + need >= outlen)
			break; /* never half a character or half an escape */
		for (size_t k = 0; k < n; k++) {
			if (!escape) {
				out[o++] = (char)u[i + k];
				continue;
			}
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[u[i + k] >> 4];
			out[o++] = hex[u[i + k] & 0xf];
		}
		i += n;
	}
	out[o] = '\0';
	return i;
}
