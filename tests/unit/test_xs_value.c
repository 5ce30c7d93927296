/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The strict xenstore value parsers: every malformed number a frontend could write is refused,
 * and the toolstack's params/mode are read exactly as libxl writes them.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "xenblkd/xs_value.h"

struct uint_case {
	const char *in;
	uint64_t max;
	int ret;
	uint64_t val;
};

static const struct uint_case uint_cases[] = {
	{ "0", 10, 0, 0 },
	{ "10", 10, 0, 10 },
	{ "11", 10, -ERANGE, 0 },
	{ "18446744073709551615", UINT64_MAX, 0, UINT64_MAX },
	{ "18446744073709551616", UINT64_MAX, -ERANGE, 0 },
	{ "99999999999999999999", UINT64_MAX, -ERANGE, 0 },
	{ "000000000000000000001", UINT64_MAX, -EINVAL, 0 }, /* 21 digits */
	{ "", 10, -EINVAL, 0 },
	{ "-1", 10, -EINVAL, 0 },
	{ "+1", 10, -EINVAL, 0 },
	{ " 1", 10, -EINVAL, 0 },
	{ "1 ", 10, -EINVAL, 0 },
	{ "0x1", 10, -EINVAL, 0 },
	{ "1a", 10, -EINVAL, 0 },
	{ "4294967295", UINT32_MAX, 0, UINT32_MAX },
	{ "4294967296", UINT32_MAX, -ERANGE, 0 },
	{ NULL, 10, -EINVAL, 0 },
};

static void test_uint(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(uint_cases) / sizeof(uint_cases[0]); i++) {
		const struct uint_case *c = &uint_cases[i];
		uint64_t v = 12345;
		int r = xbd_parse_uint(c->in, c->max, &v);

		print_message("'%s'\n", c->in ? c->in : "(null)");
		assert_int_equal(r, c->ret);
		if (r == 0)
			assert_int_equal(v, c->val);
		else
			assert_int_equal(v, 12345); /* untouched on failure */
	}
}

static void test_params(void **state)
{
	enum xbd_format f;
	const char *p;

	(void)state;
	assert_int_equal(xbd_parse_params("aio:/srv/a.img", &f, &p), 0);
	assert_int_equal(f, XBD_FORMAT_RAW);
	assert_string_equal(p, "/srv/a.img");
	assert_int_equal(xbd_parse_params("raw:/x", &f, &p), 0);
	assert_int_equal(xbd_parse_params("/dev/vg/lv", &f, &p), 0);
	assert_string_equal(p, "/dev/vg/lv");
	assert_int_equal(xbd_parse_params("qcow2:/x.qcow2", &f, &p), 0);
	assert_int_equal(f, XBD_FORMAT_QCOW2);
	assert_int_equal(xbd_parse_params("vhd:/x.vhd", &f, &p), -EPROTONOSUPPORT);
	assert_int_equal(xbd_parse_params("aio:relative", &f, &p), -EINVAL);
	assert_int_equal(xbd_parse_params("relative", &f, &p), -EINVAL);
	/* NBD targets are the nbd driver's to check (vbd_config.c does it at once). */
	assert_int_equal(xbd_parse_params("nbd:unix:/run/s.sock", &f, &p), 0);
	assert_int_equal(f, XBD_FORMAT_NBD);
	assert_string_equal(p, "nbd:unix:/run/s.sock");
	assert_int_equal(xbd_parse_params("nbd+unix:///e?socket=/s", &f, &p), 0);
	assert_int_equal(xbd_parse_params("nbds://h/e", &f, &p), 0);
	assert_int_equal(xbd_parse_params("nbdx:/x", &f, &p), -EINVAL);
	/* As libxl writes a raw qdisk target: "aio:" before QEMU's syntax. */
	assert_int_equal(xbd_parse_params("aio:nbd:unix:/s", &f, &p), 0);
	assert_int_equal(f, XBD_FORMAT_NBD);
	assert_string_equal(p, "nbd:unix:/s");
	assert_int_equal(xbd_parse_params("qcow2:nbd:unix:/s", &f, &p), -EINVAL);
	/* rbd targets, bare (phy) or behind qdisk's "aio:": only printable, not a path. */
	assert_int_equal(xbd_parse_params("rbd:vms/web:id=x", &f, &p), 0);
	assert_int_equal(f, XBD_FORMAT_RBD);
	assert_string_equal(p, "vms/web:id=x");
	assert_int_equal(xbd_parse_params("aio:rbd:vms/web@s", &f, &p), 0);
	assert_int_equal(f, XBD_FORMAT_RBD);
	assert_string_equal(p, "vms/web@s");
	assert_int_equal(xbd_parse_params("rbd:", &f, &p), -EINVAL);
	assert_int_equal(xbd_parse_params("rbd:/abs", &f, &p), -EINVAL);
	assert_int_equal(xbd_parse_params("rbd:a/b c", &f, &p), -EINVAL);
	assert_int_equal(xbd_parse_params("rbd:a/b\n", &f, &p), -EINVAL);
	assert_int_equal(xbd_parse_params("rbd:a/b\x01", &f, &p), -EINVAL);
	assert_int_equal(xbd_parse_params("", &f, &p), -EINVAL);
	assert_int_equal(xbd_parse_params(NULL, &f, &p), -EINVAL);
}

static void test_mode(void **state)
{
	bool ro = false;

	(void)state;
	assert_int_equal(xbd_parse_mode("r", &ro), 0);
	assert_true(ro);
	assert_int_equal(xbd_parse_mode("w", &ro), 0);
	assert_false(ro);
	assert_int_equal(xbd_parse_mode("w!", &ro), 0);
	assert_int_equal(xbd_parse_mode("rw", &ro), -EINVAL);
	assert_int_equal(xbd_parse_mode("", &ro), -EINVAL);
	assert_int_equal(xbd_parse_mode(NULL, &ro), -EINVAL);
}

/* A format named by the administrator or the toolstack: exactly qcow2 or raw. */
static void test_format(void **state)
{
	enum xbd_format f = XBD_FORMAT_RAW;

	(void)state;
	assert_int_equal(xbd_parse_format("qcow2", &f), 0);
	assert_int_equal(f, XBD_FORMAT_QCOW2);
	assert_string_equal(xbd_format_name(f), "qcow2");
	assert_int_equal(xbd_parse_format("raw", &f), 0);
	assert_int_equal(f, XBD_FORMAT_RAW);
	assert_string_equal(xbd_format_name(f), "raw");
	assert_int_equal(xbd_parse_format("aio", &f), -EINVAL);
	assert_int_equal(xbd_parse_format("vhd", &f), -EINVAL);
	assert_int_equal(xbd_parse_format("qcow2:", &f), -EINVAL);
	assert_int_equal(xbd_parse_format("", &f), -EINVAL);
	assert_int_equal(xbd_parse_format(NULL, &f), -EINVAL);
	assert_int_equal(f, XBD_FORMAT_RAW);
}

/* The qcow2 chain a toolstack writes (xenblkd-backing) or an administrator configures. */
static void test_backing_chain(void **state)
{
	static const char *const bad[] = {
		"", "/srv/a", "qcow2:", "qcow2:rel/a", "vmdk:/a", "raw:/a|", "|raw:/a",
		"raw:/a||raw:/b", "raw:/a\n", "qcow2 :/a", "QCOW2:/a", "raw:/a\x7f",
	};
	struct xbd_backing_file c[XBD_MAX_BACKING_CHAIN];
	char s[4200], keep[64];
	unsigned int n = 0;

	(void)state;
	strcpy(s, "qcow2:/srv/golden/base.qcow2|raw:/srv/golden/base.raw");
	assert_int_equal(xbd_parse_backing_chain(s, c, XBD_MAX_BACKING_CHAIN, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(c[0].format, XBD_FORMAT_QCOW2);
	assert_string_equal(c[0].path, "/srv/golden/base.qcow2");
	assert_int_equal(c[1].format, XBD_FORMAT_RAW);
	assert_string_equal(c[1].path, "/srv/golden/base.raw");
	strcpy(s, "raw:/dev/vg/golden lv:1");   /* appended; ':' and spaces are path bytes */
	assert_int_equal(xbd_parse_backing_chain(s, c, XBD_MAX_BACKING_CHAIN, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(c[2].path, "/dev/vg/golden lv:1");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(s, sizeof(s), "%s", bad[i]);
		snprintf(keep, sizeof(keep), "%s", bad[i]);
		assert_int_equal(xbd_parse_backing_chain(s, c, XBD_MAX_BACKING_CHAIN, &n), -EINVAL);
		assert_string_equal(s, keep); /* a refused chain is left as it was */
		assert_int_equal(n, 3);
	}
	memset(s, 'a', 4200);
	memcpy(s, "raw:/", 5);
	s[4199] = '\0';
	assert_int_equal(xbd_parse_backing_chain(s, c, XBD_MAX_BACKING_CHAIN, &n), -EINVAL);
	n = 0;
	s[0] = '\0';
	for (int i = 0; i < 17; i++)
		strcat(s, i ? "|raw:/x" : "raw:/x");
	assert_int_equal(xbd_parse_backing_chain(s, c, XBD_MAX_BACKING_CHAIN, &n), -E2BIG);
	assert_int_equal(n, 0);
	strcpy(s, "raw:/x|raw:/y");
	n = 15;
	assert_int_equal(xbd_parse_backing_chain(s, c, XBD_MAX_BACKING_CHAIN, &n), -E2BIG);
	assert_int_equal(n, 15);
	assert_int_equal(xbd_parse_backing_chain(NULL, c, XBD_MAX_BACKING_CHAIN, &n), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uint),
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_mode),
		cmocka_unit_test(test_backing_chain),
		cmocka_unit_test(test_format),
	};

	return cmocka_run_group_tests_name("xs_value", tests, NULL, NULL);
}
