/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The toolstack's configuration, read once (vbd_config.c), over an in-memory fake xenstore:
 * every key parsed and its default when absent, every bad value refused with a line that
 * names the key, a missing backend directory told apart from a bad key, params checked only
 * on demand with the format message for an unserved format, and nothing ever written.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "xenblkd/vbd_config.h"

#define MAX_KEYS 64
#define BE "/local/domain/0/backend/vbd/7/51712"

static struct { char path[256]; char val[256]; } kv[MAX_KEYS];
static unsigned int nkv;
static int open_error;

static void put(const char *key, const char *val)
{
	assert_true(nkv < MAX_KEYS);
	snprintf(kv[nkv].path, sizeof(kv[nkv].path), "%s", key);
	snprintf(kv[nkv].val, sizeof(kv[nkv].val), "%s", val);
	nkv++;
}

static void drop(const char *key)
{
	for (unsigned int i = 0; i < nkv; i++)
		if (!strcmp(kv[i].path, key))
			kv[i] = kv[--nkv];
}

static int fake_open(struct xbd_xs **out)
{
	*out = (struct xbd_xs *)&nkv;
	return open_error;
}

static void fake_close(struct xbd_xs *xs)
{
	assert_ptr_equal(xs, &nkv);
}

static int fake_read(struct xbd_xs *xs, uint32_t tx, const char *path, char **val)
{
	size_t n = strlen(path);

	(void)xs;
	(void)tx;
	for (unsigned int i = 0; i < nkv; i++)
		if (!strcmp(kv[i].path, path)) {
			*val = strdup(kv[i].val);
			return 0;
		}
	for (unsigned int i = 0; i < nkv; i++)
		if (!strncmp(kv[i].path, path, n) && kv[i].path[n] == '/') {
			*val = strdup(""); /* a directory */
			return 0;
		}
	return -ENOENT;
}

static int fake_write(struct xbd_xs *xs, uint32_t tx, const char *path, const char *val)
{
	(void)xs;
	(void)tx;
	fail_msg("the reader wrote %s = %s", path, val);
	return -EIO;
}

static const struct xbd_xen_ops fake_ops = {
	.name = "fake", .xs_open = fake_open, .xs_close = fake_close, .xs_read = fake_read,
	.xs_write = fake_write,
};

static struct xbd_vbd_config cfg;
static char why[512];

/* What libxl writes for a plain disk. */
static int setup(void **state)
{
	(void)state;
	nkv = 0;
	open_error = 0;
	put(BE "/frontend", "/local/domain/7/device/vbd/51712");
	put(BE "/frontend-id", "7");
	put(BE "/params", "aio:/srv/disk.img");
	put(BE "/mode", "w");
	put("/local/domain/7/name", "web-7");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	xbd_vbd_config_free(&cfg);
	return 0;
}

static int read_cfg(void)
{
	return xbd_vbd_config_read(&fake_ops, BE, &cfg, why, sizeof(why));
}

static void test_defaults(void **state)
{
	(void)state;
	assert_int_equal(read_cfg(), 0);
	assert_string_equal(cfg.frontend, "/local/domain/7/device/vbd/51712");
	assert_int_equal(cfg.frontend_id, 7);
	assert_string_equal(cfg.image, "/srv/disk.img");
	assert_int_equal(cfg.format, XBD_FORMAT_RAW);
	assert_int_equal(cfg.params_err, 0);
	assert_int_equal(xbd_vbd_config_check_params(&cfg, why, sizeof(why)), 0);
	assert_false(cfg.readonly);
	assert_false(cfg.cdrom);
	assert_false(cfg.removable);
	assert_true(cfg.discard_enable);
	assert_false(cfg.direct_io_safe);
	assert_false(cfg.has_grant_mode);
	assert_false(cfg.has_limit_iops);
	assert_false(cfg.has_limit_bps);
	assert_false(cfg.has_nbd_export);
	assert_false(cfg.has_poll_us);
	assert_int_equal(cfg.poll_us, 0);
	assert_null(cfg.type);
	assert_false(cfg.has_format_key);
	assert_string_equal(cfg.domain, "web-7");
}

static void test_every_key(void **state)
{
	(void)state;
	drop(BE "/mode");
	put(BE "/mode", "r");
	drop(BE "/params");
	put(BE "/params", "qcow2:/srv/q.qcow2");
	put(BE "/type", "phy");
	put(BE "/device-type", "cdrom");
	put(BE "/removable", "1");
	put(BE "/discard-enable", "0");
	put(BE "/direct-io-safe", "1");
	put(BE "/grant-mode", "persistent");
	put(BE "/limit-iops", "2000");
	put(BE "/limit-bps", "50M");
	put(BE "/nbd-export", "1");
	put(BE "/xenblkd-format", "raw");
	put(BE "/xenblkd-poll-us", "50");
	assert_int_equal(read_cfg(), 0);
	assert_true(cfg.has_format_key);
	assert_int_equal(cfg.format_key, XBD_FORMAT_RAW);
	assert_true(cfg.readonly);
	assert_string_equal(cfg.image, "/srv/q.qcow2");
	assert_int_equal(cfg.format, XBD_FORMAT_QCOW2);
	assert_string_equal(cfg.type, "phy");
	assert_true(cfg.cdrom);
	assert_true(cfg.removable);
	assert_false(cfg.discard_enable);
	assert_true(cfg.direct_io_safe);
	assert_true(cfg.has_grant_mode);
	assert_int_equal(cfg.grant_mode, XBD_GRANT_PERSISTENT);
	assert_true(cfg.has_limit_iops);
	assert_int_equal(cfg.limit_iops, 2000);
	assert_true(cfg.has_limit_bps);
	assert_int_equal(cfg.limit_bps, 50ull << 20);
	assert_true(cfg.has_nbd_export);
	assert_true(cfg.nbd_export);
	assert_true(cfg.has_poll_us);
	assert_int_equal(cfg.poll_us, 50);
}

static void test_missing_directory(void **state)
{
	(void)state;
	nkv = 0;
	assert_int_equal(read_cfg(), -ENOENT);
	assert_non_null(strstr(why, "backend directory " BE " is missing"));
	assert_null(cfg.frontend);
}

static void test_xenstore_unreachable(void **state)
{
	(void)state;
	open_error = -ECONNREFUSED;
	assert_int_equal(read_cfg(), -ECONNREFUSED);
	assert_non_null(strstr(why, "cannot reach xenstore"));
}

/* One bad value: -EINVAL and a line that names the key. */
static void expect_bad(const char *key, const char *val, const char *words)
{
	char path[256];

	snprintf(path, sizeof(path), BE "/%s", key);
	drop(path);
	if (val)
		put(path, val);
	assert_int_equal(read_cfg(), -EINVAL);
	if (!strstr(why, words))
		fail_msg("%s = %s: '%s' does not say '%s'", key, val ? val : "(absent)", why,
			 words);
	xbd_vbd_config_free(&cfg);
	setup(NULL);
}

static void test_bad_values(void **state)
{
	(void)state;
	expect_bad("frontend", NULL, "no frontend key");
	expect_bad("frontend-id", NULL, "no frontend-id key");
	expect_bad("frontend-id", "abc", "frontend-id 'abc' is not a domain id");
	expect_bad("frontend-id", "32752", "frontend-id '32752' is not a domain id");
	expect_bad("frontend-id", "-1", "is not a domain id");
	expect_bad("mode", "rw", "mode 'rw' is not r or w");
	expect_bad("grant-mode", "fast", "grant-mode 'fast' is not copy, map or persistent");
	expect_bad("limit-iops", "lots", "limit-iops 'lots' is not a number");
	expect_bad("limit-iops", "4294967296", "limit-iops '4294967296' is not a number");
	expect_bad("limit-bps", "5Q", "limit-bps '5Q' is not a number of bytes");
	expect_bad("xenblkd-poll-us", "1001", "xenblkd-poll-us '1001' is not a number in 0..1000");
	expect_bad("xenblkd-poll-us", "fast", "xenblkd-poll-us 'fast' is not a number");
	expect_bad("discard-enable", "2", "discard-enable is '2', not 0 or 1");
	expect_bad("removable", "yes", "removable is 'yes', not 0 or 1");
	expect_bad("direct-io-safe", " 1", "direct-io-safe is ' 1', not 0 or 1");
	expect_bad("nbd-export", "yes", "nbd-export is 'yes', not 0 or 1");
	expect_bad("nbd-export", "2", "nbd-export is '2', not 0 or 1");
	expect_bad("xenblkd-active-image", "over.qcow2", "is not FORMAT:/absolute/path");
	expect_bad("xenblkd-active-image", "vhd:/srv/x.vhd", "is not FORMAT:/absolute/path");
	expect_bad("xenblkd-active-backing", "raw:rel", "xenblkd-active-backing 'raw:rel' is not");
	expect_bad("xenblkd-format", "vhd", "xenblkd-format 'vhd' is not qcow2 or raw");
	expect_bad("xenblkd-format", "QCOW2", "xenblkd-format 'QCOW2' is not qcow2 or raw");
	expect_bad("xenblkd-format", "qcow2 ", "xenblkd-format 'qcow2 ' is not qcow2 or raw");
	expect_bad("xenblkd-format", "", "xenblkd-format '' is not qcow2 or raw");
}

/* libxl's tap path writes params = aio:PATH; the toolstack's key says what it is instead. */
static void test_format_key(void **state)
{
	(void)state;
	drop(BE "/params");
	put(BE "/params", "aio:/srv/disk.qcow2");
	put(BE "/xenblkd-format", "qcow2");
	assert_int_equal(read_cfg(), 0);
	assert_int_equal(cfg.format, XBD_FORMAT_RAW); /* params' prefix, as written */
	assert_true(cfg.has_format_key);
	assert_int_equal(cfg.format_key, XBD_FORMAT_QCOW2);
}

/* The image the daemon recorded at its last switch, with its chain; absent by default. */
static void test_active_image(void **state)
{
	(void)state;
	assert_int_equal(read_cfg(), 0);
	assert_null(cfg.active);
	assert_null(cfg.active_image);
	assert_int_equal(cfg.active_chain_len, 0);
	xbd_vbd_config_free(&cfg);
	put(BE "/xenblkd-active-image", "qcow2:/srv/over.qcow2");
	put(BE "/xenblkd-active-backing", "qcow2:/srv/mid.qcow2|raw:/srv/base.img");
	assert_int_equal(read_cfg(), 0);
	assert_string_equal(cfg.active_image, "/srv/over.qcow2");
	assert_int_equal(cfg.active_format, XBD_FORMAT_QCOW2);
	assert_string_equal(cfg.image, "/srv/disk.img"); /* params is still read as it is */
	assert_int_equal(cfg.active_chain_len, 2);
	assert_string_equal(cfg.active_chain[0].path, "/srv/mid.qcow2");
	assert_int_equal(cfg.active_chain[0].format, XBD_FORMAT_QCOW2);
	assert_string_equal(cfg.active_chain[1].path, "/srv/base.img");
	assert_int_equal(cfg.active_chain[1].format, XBD_FORMAT_RAW);
}

/* The first fault is the one told, and the rest is still read. */
static void test_first_fault_wins(void **state)
{
	(void)state;
	drop(BE "/mode");
	put(BE "/mode", "x");
	put(BE "/grant-mode", "fast");
	assert_int_equal(read_cfg(), -EINVAL);
	assert_non_null(strstr(why, "mode 'x'"));
	assert_string_equal(cfg.image, "/srv/disk.img");
	assert_string_equal(cfg.domain, "web-7");
}

static void expect_params(const char *params, int err, const char *words)
{
	drop(BE "/params");
	if (params)
		put(BE "/params", params);
	assert_int_equal(read_cfg(), 0); /* params are checked on demand only */
	assert_int_equal(xbd_vbd_config_check_params(&cfg, why, sizeof(why)), err);
	if (!strstr(why, words))
		fail_msg("params %s: '%s' does not say '%s'", params ? params : "(absent)", why,
			 words);
	assert_null(cfg.image);
	xbd_vbd_config_free(&cfg);
}

static void test_params(void **state)
{
	(void)state;
	expect_params(NULL, -EINVAL, "no params key");
	expect_params("vhd:/srv/d.vhd", -EPROTONOSUPPORT,
		      "format vhd is not served: convert it with qemu-img convert -O qcow2");
	expect_params("qed:/srv/d.qed", -EPROTONOSUPPORT, "format qed is not served");
	expect_params("relative/path", -EINVAL, "params 'relative/path' is not");
	expect_params("aio:relative", -EINVAL, "is not [FORMAT:]/absolute/path");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_directory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_xenstore_unreachable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_first_fault_wins, setup, teardown),
		cmocka_unit_test_setup_teardown(test_active_image, setup, teardown),
		cmocka_unit_test_setup_teardown(test_params, setup, teardown),
		cmocka_unit_test_setup_teardown(test_format_key, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
