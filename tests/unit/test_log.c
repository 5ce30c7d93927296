/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The logger and its escaping (log.h): each escape rule as a table of inputs and the exact
 * output; cuts that never split a character or an escape; a round trip over random bytes that
 * shows the escaping is unambiguous; and whole lines read back from stderr: a forged protocol
 * value, a `<` under journald, a hostile prefix, an over-long message, and the rate limiter's
 * lines, each exactly one line with nothing raw in it.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "stderr_capture.h"
#include "xenblkd/log.h"

#define S(lit) lit, sizeof(lit) - 1

struct esc_case {
	const char *in;
	size_t len;
	const char *out;
};

static void check_escape(const char *in, size_t len, const char *want)
{
	char out[512];
	size_t done = xbd_log_escape(in, len, out, sizeof(out));

	if (strcmp(out, want) != 0)
		fail_msg("escaping %zu bytes gave '%s', not '%s'", len, out, want);
	assert_int_equal(done, len);
}

static void test_escape_rules(void **state)
{
	static const struct esc_case cases[] = {
		{ S("plain text, 0-9 [ok] ~"), "plain text, 0-9 [ok] ~" },
		{ S(""), "" },
		/* Control characters, DEL and the backslash itself. */
		{ S("a\nb"), "a\\x0ab" },
		{ S("\r\t\v\f"), "\\x0d\\x09\\x0b\\x0c" },
		{ S("\x1b[2J\x1b]0;title\a"), "\\x1b[2J\\x1b]0;title\\x07" },
		{ S("a\0b"), "a\\x00b" },
		{ S("\x7f"), "\\x7f" },
		{ S("C:\\dir\\x41"), "C:\\x5cdir\\x5cx41" },
		/* A leading '<' would be a journal priority; elsewhere it is harmless. */
		{ S("<0>emerg"), "\\x3c0>emerg" },
		{ S("a <0> b"), "a <0> b" },
		{ S("><"), "><" },
		/* Well-formed UTF-8 passes. */
		{ S("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xef\xbf\xbf"),
		  "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xef\xbf\xbf" },
		{ S("\xf4\x8f\xbf\xbf"), "\xf4\x8f\xbf\xbf" }, /* U+10FFFF */
		/* C1 controls (U+009B is CSI), separators and bidi controls are escaped. */
		{ S("\xc2\x9b" "2J"), "\\xc2\\x9b2J" },
		{ S("\xc2\x85"), "\\xc2\\x85" },
		{ S("\xc2\xa0"), "\xc2\xa0" }, /* U+00A0 is not a control */
		{ S("\xe2\x80\xa8"), "\\xe2\\x80\\xa8" },
		{ S("\xe2\x80\xae" "abc"), "\\xe2\\x80\\xaeabc" },
		{ S("\xe2\x81\xa6"), "\\xe2\\x81\\xa6" },
		{ S("\xe2\x81\xa9"), "\\xe2\\x81\\xa9" },
		{ S("\xe2\x81\xaa"), "\xe2\x81\xaa" }, /* U+206A: not a bidi control */
		{ S("\xd8\x9c"), "\\xd8\\x9c" },
		{ S("\xe2\x80\x8f"), "\\xe2\\x80\\x8f" },
		/* Invalid UTF-8, byte by byte, decoding resumed after each bad byte. */
		{ S("\x80"), "\\x80" },
		{ S("\xbf" "a"), "\\xbfa" },
		{ S("\xc0\xaf"), "\\xc0\\xaf" },           /* overlong '/' */
		{ S("\xc1\xbf"), "\\xc1\\xbf" },
		{ S("\xe0\x80\xaf"), "\\xe0\\x80\\xaf" },  /* overlong */
		{ S("\xf0\x80\x80\xaf"), "\\xf0\\x80\\x80\\xaf" },
		{ S("\xed\xa0\x80"), "\\xed\\xa0\\x80" },  /* a surrogate */
		{ S("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80" }, /* above U+10FFFF */
		{ S("\xf5\xff\xfe"), "\\xf5\\xff\\xfe" },
		{ S("\xe2\x82"), "\\xe2\\x82" },           /* cut short by the end */
		{ S("\xe2\x82" "A"), "\\xe2\\x82A" },
		{ S("\xc3(\xc3\xa9"), "\\xc3(\xc3\xa9" },
		{ S("\xe2\x82\xe2\x82\xac"), "\\xe2\\x82\xe2\x82\xac" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_escape(cases[i].in, cases[i].len, cases[i].out);
}

static void test_escape_cuts(void **state)
{
	char out[16];

	(void)state;
	memset(out, 'Z', sizeof(out));
	assert_int_equal(xbd_log_escape("abc", 3, out, 0), 0);
	assert_int_equal(out[0], 'Z');
	assert_int_equal(xbd_log_escape("abc", 3, out, 1), 0);
	assert_string_equal(out, "");
	assert_int_equal(xbd_log_escape("abc\n", 4, out, 4), 3);
	assert_string_equal(out, "abc");
	/* "\x0a" needs 4 bytes and the NUL one more: never half an escape. */
	for (size_t len = 4; len < 8; len++) {
		assert_int_equal(xbd_log_escape("abc\n", 4, out, len), 3);
		assert_string_equal(out, "abc");
	}
	assert_int_equal(xbd_log_escape("abc\n", 4, out, 8), 4);
	assert_string_equal(out, "abc\\x0a");
	/* Never half a character. */
	assert_int_equal(xbd_log_escape("a\xe2\x82\xac", 4, out, 4), 1);
	assert_string_equal(out, "a");
	assert_int_equal(xbd_log_escape("a\xe2\x82\xac", 4, out, 5), 4);
	assert_string_equal(out, "a\xe2\x82\xac");
	/* A dangerous character is escaped whole or not at all: 12 bytes and the NUL. */
	assert_int_equal(xbd_log_escape("\xe2\x80\xae", 3, out, 12), 0);
	assert_int_equal(xbd_log_escape("\xe2\x80\xae", 3, out, 13), 3);
}

/* The reverse of the escaping, for the round trip: -1 on anything it cannot have made. */
static long unescape(const char *s, unsigned char *out)
{
	long n = 0;

	for (; *s; s++) {
		unsigned int v;

		if (*s != '\\') {
			out[n++] = (unsigned char)*s;
			continue;
		}
		if (s[1] != 'x' || sscanf(s + 2, "%2x", &v) != 1 || !s[2] || !s[3])
			return -1;
		out[n++] = (unsigned char)v;
		s += 3;
	}
	return n;
}

static void test_escape_round_trip(void **state)
{
	/* Bias towards the interesting bytes: controls, '\\', '<', UTF-8 leads and C1. */
	static const unsigned char special[8] = { '\\', '<', '\n', 0x1b, 0xc2, 0xe2, 0x80, 0x9b };
	unsigned char in[64], back[64];
	char out[4 * 64 + 1];
	uint32_t seed = 12345;

	(void)state;
	for (int round = 0; round < 20000; round++) {
		size_t len = (size_t)(round % 64);

		for (size_t i = 0; i < len; i++) {
			seed = seed * 1103515245u + 12345u;
			in[i] = round % 3 ? (unsigned char)(seed >> 16) : special[(seed >> 16) % 8];
		}
		assert_int_equal(xbd_log_escape((char *)in, len, out, sizeof(out)), len);
		for (const char *p = out; *p; p++)
			assert_true((unsigned char)*p >= 0x20 && *p != 0x7f);
		assert_true(out[0] != '<');
		assert_int_equal(unescape(out, back), (long)len);
		assert_memory_equal(back, in, len);
	}
}

/* ---- whole lines, read back from stderr ---- */

static unsigned int count_char(const char *s, char c)
{
	unsigned int n = 0;

	for (; *s; s++)
		n += *s == c;
	return n;
}

static void test_log_forged_protocol(void **state)
{
	char buf[4096];

	(void)state;
	unsetenv("JOURNAL_STREAM");
	capture_begin();
	xbd_log(XBD_LOG_ERR, "d1/51728", "fatal: unknown protocol %.*s",
		XBD_LOG_STR("x\n<0>xenblkd[d2/51712]: forged\x1b[2J"));
	capture_end(buf, sizeof(buf));
	assert_string_equal(buf, "xenblkd[d1/51728]: fatal: unknown protocol "
				 "x\\x0a<0>xenblkd[d2/51712]: forged\\x1b[2J\n");
}

static void test_log_journald(void **state)
{
	char buf[4096];

	(void)state;
	setenv("JOURNAL_STREAM", "8:1234", 1);
	capture_begin();
	xbd_log(XBD_LOG_ERR, "d1/51728", "%s", "<0>looks like a priority");
	xbd_log(XBD_LOG_WARN, NULL, "two\nlines");
	capture_end(buf, sizeof(buf));
	unsetenv("JOURNAL_STREAM");
	assert_string_equal(buf, "<3>xenblkd[d1/51728]: \\x3c0>looks like a priority\n"
				 "<4>xenblkd[-]: two\\x0alines\n");
}

static void test_log_prefix_escaped(void **state)
{
	char buf[4096], prefix[200];

	(void)state;
	capture_begin();
	xbd_log(XBD_LOG_INFO, "d1]\n<0>xenblkd[d2", "hello");
	memset(prefix, 'p', sizeof(prefix) - 1);
	prefix[sizeof(prefix) - 1] = '\0';
	xbd_log(XBD_LOG_INFO, prefix, "long prefix");
	capture_end(buf, sizeof(buf));
	assert_int_equal(count_char(buf, '\n'), 2);
	assert_true(strncmp(buf, "xenblkd[d1]\\x0a<0>xenblkd[d2]: hello\n", 37) == 0);
	/* A prefix is cut at 63 bytes. */
	assert_non_null(strstr(buf, "\nxenblkd[ppp"));
	assert_null(strstr(buf, "pppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp"));
}

static void test_log_long_lines(void **state)
{
	char buf[16384], *big = malloc(5000), *line2;

	(void)state;
	assert_non_null(big);
	if (!big)
		return;
	memset(big, 'A', 4999);
	big[4999] = '\0';
	capture_begin();
	xbd_log(XBD_LOG_INFO, "p", "%s", big);
	memset(big, '\n', 4999);
	xbd_log(XBD_LOG_INFO, "p", "%s", big);
	capture_end(buf, sizeof(buf));
	free(big);
	/* Two lines, each cut (and marked so), each within the line limit. */
	assert_int_equal(count_char(buf, '\n'), 2);
	line2 = strchr(buf, '\n') + 1;
	assert_true((size_t)(line2 - buf) <= XBD_LOG_LINE_MAX);
	assert_true(strlen(line2) <= XBD_LOG_LINE_MAX);
	assert_true(strncmp(line2 - 6, "A\\...\n", 6) == 0);
	assert_true(strncmp(line2, "xenblkd[p]: \\x0a", 16) == 0);
	/* The escapes are whole: the cut comes right after a complete "\x0a". */
	assert_string_equal(line2 + strlen(line2) - 9, "\\x0a\\...\n");
	assert_int_equal((strlen(line2) - strlen("xenblkd[p]: \\...\n")) % 4, 0);
}

static void test_log_str_cap(void **state)
{
	char buf[4096], big[1000];
	const char *q;

	(void)state;
	memset(big, 'b', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	capture_begin();
	xbd_log(XBD_LOG_INFO, "p", "name '%.*s' end", XBD_LOG_STR(big));
	capture_end(buf, sizeof(buf));
	q = strchr(buf, '\'');
	assert_non_null(q);
	assert_int_equal(strchr(q + 1, '\'') - q - 1, XBD_LOG_STR_MAX);
	assert_non_null(strstr(buf, "' end\n"));
}

static void test_log_guest_rate_limited(void **state)
{
	struct xbd_ratelimit rl = XBD_RATELIMIT_INIT(5, 2);
	char buf[4096];

	(void)state;
	capture_begin();
	for (int i = 0; i < 5; i++)
		xbd_log_guest(&rl, XBD_LOG_WARN, "q0", "bad id %d\n<0>forged", i);
	rl.window_start = 0; /* the window is over */
	xbd_log_guest(&rl, XBD_LOG_WARN, "q0", "bad id %d\n<0>forged", 5);
	capture_end(buf, sizeof(buf));
	assert_string_equal(buf, "xenblkd[q0]: bad id 0\\x0a<0>forged\n"
				 "xenblkd[q0]: bad id 1\\x0a<0>forged\n"
				 "xenblkd[q0]: bad id 5\\x0a<0>forged (3 similar suppressed)\n");
	assert_int_equal(rl.total_suppressed, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape_rules),
		cmocka_unit_test(test_escape_cuts),
		cmocka_unit_test(test_escape_round_trip),
		cmocka_unit_test(test_log_forged_protocol),
		cmocka_unit_test(test_log_journald),
		cmocka_unit_test(test_log_prefix_escaped),
		cmocka_unit_test(test_log_long_lines),
		cmocka_unit_test(test_log_str_cap),
		cmocka_unit_test(test_log_guest_rate_limited),
	};

	return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
