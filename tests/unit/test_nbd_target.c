/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The NBD target parser (src/io/nbd/nbd_target.c): the three forms and their TLS variants
 * parsed into the right fields (percent escapes decoded, defaults filled in), and each kind
 * of refusal with its reason: unknown forms, relative or overlong paths, bad hosts and ports,
 * control characters and bad escapes, unknown, empty or repeated keys, keys of another form,
 * timeouts out of range, TLS contradictions, and cleartext TCP to another machine.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "nbd_target.h"

static struct xbd_nbd_target t;
static char why[256];

static void parse_ok(const char *s)
{
	int r = xbd_nbd_target_parse(s, &t, why, sizeof(why));

	if (r)
		fail_msg("'%s' refused: %s", s, why);
}

/* Refused, with a reason that contains `says`. */
static void refused(const char *s, const char *says)
{
	why[0] = '\0';
	assert_int_equal(xbd_nbd_target_parse(s, &t, why, sizeof(why)), -EINVAL);
	if (!strstr(why, says))
		fail_msg("'%s': the reason '%s' does not say '%s'", s, why, says);
}

static void test_legacy_unix(void **state)
{
	(void)state;
	parse_ok("nbd:unix:/run/nbd/a.sock");
	assert_int_equal(t.transport, XBD_NBD_UNIX);
	assert_string_equal(t.socket, "/run/nbd/a.sock");
	assert_string_equal(t.export_name, "");
	assert_int_equal(t.timeout_s, XBD_NBD_DEFAULT_TIMEOUT_S);
	assert_false(t.tls);
	parse_ok("nbd:unix:/s:exportname=disk 0:timeout=7");
	assert_string_equal(t.export_name, "disk 0");
	assert_int_equal(t.timeout_s, 7);
}

static void test_uris(void **state)
{
	(void)state;
	parse_ok("nbd://127.0.0.1/e%2Fx?timeout=3600");
	assert_int_equal(t.transport, XBD_NBD_TCP);
	assert_string_equal(t.host, "127.0.0.1");
	assert_string_equal(t.port, "10809");
	assert_string_equal(t.export_name, "e/x");
	assert_int_equal(t.timeout_s, 3600);
	parse_ok("nbd://[::1]:2000/");
	assert_string_equal(t.host, "::1");
	assert_string_equal(t.port, "2000");
	parse_ok("nbd://localhost");
	assert_string_equal(t.export_name, "");
	parse_ok("nbd://nas.example:10809/vm1?cleartext=yes");
	assert_true(t.cleartext_ok);
	parse_ok("nbds://nas.example/vm1?tls-psk=/etc/xenblkd/nbd.psk&tls-username=xen");
	assert_true(t.tls);
	assert_string_equal(t.tls_psk, "/etc/xenblkd/nbd.psk");
	assert_string_equal(t.tls_username, "xen");
	parse_ok("nbd://nas.example/vm1?tls-certificates=/etc/pki/libnbd");
	assert_true(t.tls); /* a tls-* key asks for TLS */
	parse_ok("nbd+unix:///vm%201?socket=/run/s.sock");
	assert_int_equal(t.transport, XBD_NBD_UNIX);
	assert_string_equal(t.socket, "/run/s.sock");
	assert_string_equal(t.export_name, "vm 1");
	parse_ok("nbds+unix:///?socket=/s&tls-psk=/p");
	assert_true(t.tls);
}

static void test_refusals_form(void **state)
{
	char big[XBD_NBD_MAX_TARGET + 16];

	(void)state;
	refused("nbd:host:10809", "is not an NBD target");
	refused("nbdx://h/e", "is not an NBD target");
	refused("", "is not an NBD target");
	refused("nbd:unix:", "absolute socket path");
	refused("nbd:unix:run/s", "absolute socket path");
	refused("nbd+unix:///e", "needs ?socket=");
	refused("nbd+unix://host/e?socket=/s", "takes no host");
	refused("nbd:///e", "needs a host");
	refused("nbd://h_x/e", "not a host name");
	refused("nbd://[::1/e", "no ']'");
	refused("nbd://[zz]/e", "not an IPv6 address");
	refused("nbd://localhost:0/e", "not 1..65535");
	refused("nbd://localhost:65536/e", "not 1..65535");
	refused("nbd://localhost:http/e", "not a number");
	refused("nbd://localhost:/e", "not a number");
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "nbd:unix:/", 10);
	refused(big, "missing or too long");
	memset(big + 10, 'a', 200);
	big[210] = '\0';
	refused(big, "longer than 107 bytes");
}

static void test_refusals_values(void **state)
{
	(void)state;
	refused("nbd:unix:/s\n", "control character");
	refused("nbd://localhost/a%0ab", "control character");
	refused("nbd://localhost/a%00b", "control character");
	refused("nbd://localhost/a%2", "bad percent escape");
	refused("nbd://localhost/a%g0", "bad percent escape");
	refused("nbd:unix:/s:key=1", "unknown option");
	refused("nbd:unix:/s:socket=/t", "unknown option");        /* another form's key */
	refused("nbd://localhost/e?exportname=x", "unknown option");
	refused("nbd:unix:/s:timeout", "has no value");
	refused("nbd:unix:/s:exportname=", "has no value");
	refused("nbd:unix:/s:timeout=1:timeout=2", "given twice");
	refused("nbd:unix:/s:timeout=0", "not 1..3600");
	refused("nbd:unix:/s:timeout=3601", "not 1..3600");
	refused("nbd:unix:/s:timeout=-1", "not a number");
	refused("nbd:unix:/s:timeout=5s", "not 1..3600");
	refused("nbd://localhost/e?cleartext=no", "only cleartext=yes");
	refused("nbd://localhost/e?tls-psk=rel.psk", "not an absolute path");
}

static void test_refusals_security(void **state)
{
	(void)state;
	/* Cleartext over the network needs saying; TLS and cleartext contradict. */
	refused("nbd://nas.example/vm1", "cleartext over the network");
	refused("nbd://10.0.0.7:10809/vm1", "cleartext over the network");
	refused("nbd://127.0.0.1.evil.example/vm1", "cleartext over the network");
	refused("nbds://nas.example/vm1?cleartext=yes", "contradicts TLS");
	refused("nbd://nas.example/vm1?tls-psk=/p&cleartext=yes", "contradicts TLS");
	refused("nbds://nas.example/vm1?tls-username=x", "goes with tls-psk");
	assert_true(xbd_nbd_host_is_loopback("127.1.2.3"));
	assert_true(xbd_nbd_host_is_loopback("::1"));
	assert_false(xbd_nbd_host_is_loopback("127.0.0.1x"));
	assert_false(xbd_nbd_host_is_loopback("localhost.example"));
}

static void test_reason_is_escaped(void **state)
{
	(void)state;
	refused("nbd:unix:/s:k\x1b[31m=1", "control character");
	refused("nbd://h\xc3\xa9/e?cleartext=yes", "\\xc3\\xa9");
	assert_true(xbd_nbd_is_target("nbds+unix:///x"));
	assert_false(xbd_nbd_is_target("aio:/x"));
	assert_false(xbd_nbd_is_target(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_legacy_unix),
		cmocka_unit_test(test_uris),
		cmocka_unit_test(test_refusals_form),
		cmocka_unit_test(test_refusals_values),
		cmocka_unit_test(test_refusals_security),
		cmocka_unit_test(test_reason_is_escaped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
