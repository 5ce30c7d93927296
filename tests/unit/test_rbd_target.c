/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The rbd target parser (src/io/rbd/rbd_target.c): the forms libxl and libvirt write for qdisk
 * are accepted field by field, and every refusal the issue asks for is made with a message
 * that says what to do instead: key= (naming the keyring file), any other option, malformed
 * names, relative or control-character paths, duplicates, a trailing backslash. The keyring
 * mode check (rbd_keyring.c) has its own cases when the driver is built.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "rbd_target.h"

static struct xbd_rbd_target t;
static char why[400];

static int parse(const char *s)
{
	why[0] = '\0';
	return xbd_rbd_parse_target(s, &t, why, sizeof(why));
}

static void test_plain(void **state)
{
	(void)state;
	assert_int_equal(parse("rbd/disk1"), 0);
	assert_string_equal(t.pool, "rbd");
	assert_string_equal(t.image, "disk1");
	assert_string_equal(t.snap, "");
	assert_string_equal(t.id, "");
	assert_string_equal(t.keyring, "");
	assert_false(t.lock_exclusive); /* the default: librbd's cooperative lock */
}

static void test_lock_exclusive(void **state)
{
	(void)state;
	assert_int_equal(parse("rbd/d:lock=exclusive"), 0);
	assert_true(t.lock_exclusive);
	assert_int_equal(parse("rbd/d:id=x:lock=exclusive:keyring=/k"), 0);
	assert_true(t.lock_exclusive);
	assert_string_equal(t.keyring, "/k");
}

static void test_lock_bad_values(void **state)
{
	static const char *const bad[] = {
		"rbd/d:lock=shared", "rbd/d:lock=", "rbd/d:lock=exclusivex", "rbd/d:lock=Exclusive",
		"rbd/d:lock=exclusive\\:", "rbd/d:lock=cooperative",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(bad[i]), -EINVAL);
		assert_non_null(strstr(why, "only lock=exclusive"));
	}
	assert_int_equal(parse("rbd/d:lock=exclusive:lock=exclusive"), -EINVAL);
	assert_non_null(strstr(why, "twice"));
	/* A snapshot is read-only: lock=exclusive there is refused, not silently ignored. */
	assert_int_equal(parse("rbd/d@s:lock=exclusive"), -EINVAL);
	assert_non_null(strstr(why, "snapshot"));
}

static void test_all_options(void **state)
{
	(void)state;
	assert_int_equal(parse("vms/guest-1.img@base_2:id=xenblkd:conf=/etc/ceph/ceph.conf:"
			       "mon_host=10.0.0.1\\:6789;10.0.0.2\\:6789:"
			       "keyring=/etc/ceph/ceph.client.xenblkd.keyring"), 0);
	assert_string_equal(t.pool, "vms");
	assert_string_equal(t.image, "guest-1.img");
	assert_string_equal(t.snap, "base_2");
	assert_string_equal(t.id, "xenblkd");
	assert_string_equal(t.conf, "/etc/ceph/ceph.conf");
	assert_string_equal(t.mon_host, "10.0.0.1:6789;10.0.0.2:6789");
	assert_string_equal(t.keyring, "/etc/ceph/ceph.client.xenblkd.keyring");
}

static void test_v2_mon_host(void **state)
{
	(void)state;
	assert_int_equal(parse("p/i:mon_host=[v2\\:127.0.0.1\\:3300]"), 0);
	assert_string_equal(t.mon_host, "[v2:127.0.0.1:3300]");
}

static void test_key_refused_names_keyring(void **state)
{
	(void)state;
	assert_int_equal(parse("rbd/d:id=admin:key=AQBz1234secret=="), -EINVAL);
	assert_non_null(strstr(why, "key= is refused"));
	assert_non_null(strstr(why, "keyring"));
	assert_non_null(strstr(why, "0600"));
	assert_null(strstr(why, "AQBz1234secret"));
}

static void test_other_options_refused(void **state)
{
	static const char *const refused[] = {
		"rbd/d:auth_supported=none", "rbd/d:rbd_cache=true", "rbd/d:keyfile=/k",
		"rbd/d:debug_ms=20", "rbd/d:id", "rbd/d:", "rbd/d:locks=exclusive",
		"rbd/d:conf=/c:=x",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		assert_int_equal(parse(refused[i]), -EINVAL);
		assert_non_null(strstr(why, "only id, conf, mon_host, keyring and lock"));
		assert_non_null(strstr(why, "keyring=PATH"));
	}
}

static void test_bad_locations(void **state)
{
	static const char *const bad[] = {
		"", "rbd", "rbd/", "/disk", "rbd/d/e", "rbd//d", "rbd/d@", "rbd/d@s@t",
		"rbd/d@s/x", "r b/d", "rbd/d\n", "rbd/..", "rbd/.", "-p/d", "rbd/-d",
		"rbd/d\\", "rbd/\xc3\xa9", "rbd@s/d",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(bad[i]), -EINVAL);
		assert_non_null(strstr(why, "pool/image"));
	}
	assert_int_equal(xbd_rbd_parse_target(NULL, &t, why, sizeof(why)), -EINVAL);
}

static void test_bad_values(void **state)
{
	static const char *const bad[] = {
		"rbd/d:conf=relative/ceph.conf", "rbd/d:keyring=k", "rbd/d:keyring=/a/../etc/k",
		"rbd/d:keyring=/a/..", "rbd/d:conf=/a b", "rbd/d:conf=/a\tb", "rbd/d:id=a/b",
		"rbd/d:id=", "rbd/d:mon_host=1.2.3.4 5", "rbd/d:mon_host=$(x)",
		"rbd/d:conf=/a\\",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(bad[i]), -EINVAL);
		assert_non_null(strstr(why, "malformed value"));
	}
}

static void test_duplicate_refused(void **state)
{
	(void)state;
	assert_int_equal(parse("rbd/d:keyring=/a:keyring=/b"), -EINVAL);
	assert_non_null(strstr(why, "twice"));
}

static void test_too_long(void **state)
{
	char s[2048];

	(void)state;
	memset(s, 'a', sizeof(s));
	s[0] = 'p';
	s[1] = '/';
	s[sizeof(s) - 1] = '\0';
	assert_int_equal(parse(s), -EINVAL);
	strcpy(s, "p/i:keyring=/");
	memset(s + strlen(s), 'k', 1100);
	s[13 + 1100] = '\0';
	assert_int_equal(parse(s), -EINVAL);
}

/* Control bytes in a refused option's name never reach the message. */
static void test_refusal_message_clean(void **state)
{
	(void)state;
	assert_int_equal(parse("rbd/d:ev\x1b[31mil=1"), -EINVAL);
	for (const char *p = why; *p; p++)
		assert_true((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_all_options),
		cmocka_unit_test(test_v2_mon_host),
		cmocka_unit_test(test_lock_exclusive),
		cmocka_unit_test(test_lock_bad_values),
		cmocka_unit_test(test_key_refused_names_keyring),
		cmocka_unit_test(test_other_options_refused),
		cmocka_unit_test(test_bad_locations),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_duplicate_refused),
		cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_refusal_message_clean),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
