/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The logger under journald (log_journal.c), through a fake journal: a device's line becomes
 * one entry with MESSAGE (no "xenblkd[d1/51712]: " prefix), PRIORITY, SYSLOG_IDENTIFIER,
 * VBD, DOMID, DEVID (QUEUE for a queue) and MESSAGE_ID when the caller gives one; a hostile
 * value cannot add a field, an entry or a raw control byte; a prefix that is not exactly a
 * device's names no device; long and rate-limited lines are cut and counted as on stderr. And
 * the stderr format is unchanged whenever stderr is not the journal: no JOURNAL_STREAM, one
 * that names another stream or is malformed, or a journal that refuses the entry (as here,
 * where journald does not run: the real sd_journal_sendv() fails and the line is not lost).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fake_journal.h"
#include "util/log_internal.h"
#include "stderr_capture.h"
#include "xenblkd/log.h"

static int teardown(void **state)
{
	(void)state;
	fj_uninstall();
	return 0;
}

static void test_device_fields(void **state)
{
	char err[256];

	(void)state;
	capture_begin();
	fj_install(0);
	xbd_log(XBD_LOG_INFO, "d1/51712", "serving %s (%s)", "/srv/guest.img", "read-write");
	xbd_log(XBD_LOG_ERR, "d7/768 q3", "ring halted: %s", "x");
	xbd_log(XBD_LOG_DEBUG, "d1/51712", "below the level: not sent");
	capture_end(err, sizeof(err));
	assert_string_equal(err, ""); /* nothing on the stream */
	assert_int_equal(fj_count(), 2);
	assert_int_equal(fj_nfields(0), 6);
	assert_string_equal(fj_field(0, "MESSAGE"), "serving /srv/guest.img (read-write)");
	assert_string_equal(fj_field(0, "PRIORITY"), "6");
	assert_string_equal(fj_field(0, "SYSLOG_IDENTIFIER"), "xenblkd");
	assert_string_equal(fj_field(0, "VBD"), "d1/51712");
	assert_string_equal(fj_field(0, "DOMID"), "1");
	assert_string_equal(fj_field(0, "DEVID"), "51712");
	assert_null(fj_field(0, "QUEUE"));
	assert_null(fj_field(0, "MESSAGE_ID"));
	assert_int_equal(fj_nfields(1), 7);
	assert_string_equal(fj_field(1, "MESSAGE"), "ring halted: x");
	assert_string_equal(fj_field(1, "PRIORITY"), "3");
	assert_string_equal(fj_field(1, "VBD"), "d7/768");
	assert_string_equal(fj_field(1, "DOMID"), "7");
	assert_string_equal(fj_field(1, "DEVID"), "768");
	assert_string_equal(fj_field(1, "QUEUE"), "3");
	fj_assert_clean();
}

static void test_message_ids(void **state)
{
	char err[256];

	(void)state;
	capture_begin();
	fj_install(0);
	xbd_log_id(XBD_LOG_INFO, "d1/51712", XBD_MSGID_STATE, "state -> %s", "Connected");
	xbd_log_id(XBD_LOG_ERR, "d1/51712 q0", XBD_MSGID_RING_HALT, "ring halted: %s", "why");
	xbd_log_id(XBD_LOG_ERR, "d1/51712", XBD_MSGID_FATAL, "fatal: %s", "why");
	capture_end(err, sizeof(err));
	assert_string_equal(err, "");
	assert_int_equal(fj_count(), 3);
	assert_string_equal(fj_field(0, "MESSAGE"), "state -> Connected");
	assert_string_equal(fj_field(0, "MESSAGE_ID"), "2d8c73381ed347428cf09349897f97da");
	assert_string_equal(fj_field(1, "MESSAGE_ID"), "e342c2a248da4b0a9e98b24fc01dc3ab");
	assert_string_equal(fj_field(2, "MESSAGE_ID"), "1c0ffc113f014583b4ed1bfbddf14961");
	/* Three kinds, three ids, each 128 bits in lower-case hex. */
	assert_string_not_equal(XBD_MSGID_STATE, XBD_MSGID_RING_HALT);
	assert_string_not_equal(XBD_MSGID_STATE, XBD_MSGID_FATAL);
	assert_string_not_equal(XBD_MSGID_RING_HALT, XBD_MSGID_FATAL);
	for (unsigned int e = 0; e < 3; e++) {
		const char *id = fj_field(e, "MESSAGE_ID");

		assert_int_equal(strlen(id), 32);
		assert_int_equal(strspn(id, "0123456789abcdef"), 32);
	}
}

/* A frontend's value that tries to end the message, add fields, forge a priority and a
 * device, and drive the terminal: it stays inside MESSAGE, escaped. */
static void test_hostile_value(void **state)
{
	static const char hostile[] = "x\nMESSAGE_ID=1c0ffc113f014583b4ed1bfbddf14961\n"
				       "PRIORITY=0\n<0>xenblkd[d2/51744]: ok\x1b[2J\xc2\x9b";
	char err[256];

	(void)state;
	capture_begin();
	fj_install(0);
	xbd_log(XBD_LOG_WARN, "d1/51712", "unknown protocol %.*s", XBD_LOG_STR(hostile));
	capture_end(err, sizeof(err));
	assert_string_equal(err, "");
	assert_int_equal(fj_count(), 1);
	assert_int_equal(fj_nfields(0), 6);
	assert_string_equal(fj_field(0, "MESSAGE"),
			    "unknown protocol x\\x0aMESSAGE_ID=1c0ffc113f014583b4ed1bfbddf14961"
			    "\\x0aPRIORITY=0\\x0a<0>xenblkd[d2/51744]: ok\\x1b[2J\\xc2\\x9b");
	assert_string_equal(fj_field(0, "PRIORITY"), "4");
	assert_null(fj_field(0, "MESSAGE_ID"));
	fj_assert_clean();
}

/* Only a prefix that is exactly "d<domid>/<devid>[ q<queue>]" names a device; any other
 * stays, escaped, in front of the message, as it stood in the stderr line. */
static void test_prefix_not_a_device(void **state)
{
	static const char *const not_devices[] = {
		"d1/51712\nDOMID=0", "d65536/1", "d1/4294967296", "d1/51712 q", "d1/51712 q1x",
		"d/51712", "d1/", "x1/51712", "d1/51712 q65536", "d1/51712  q1",
	};
	char err[256];

	(void)state;
	capture_begin();
	fj_install(0);
	for (size_t i = 0; i < sizeof(not_devices) / sizeof(not_devices[0]); i++)
		xbd_log(XBD_LOG_INFO, not_devices[i], "m");
	xbd_log(XBD_LOG_INFO, "watch", "watching %s", "/local/domain/0/backend/vbd");
	xbd_log(XBD_LOG_INFO, NULL, "starting");
	xbd_log(XBD_LOG_INFO, "d65535/4294967295 q65535", "the largest device");
	capture_end(err, sizeof(err));
	assert_string_equal(err, "");
	assert_int_equal(fj_count(), 13);
	for (unsigned int e = 0; e < 12; e++) {
		assert_null(fj_field(e, "VBD"));
		assert_null(fj_field(e, "DOMID"));
		assert_null(fj_field(e, "DEVID"));
		assert_int_equal(fj_nfields(e), 3);
	}
	assert_string_equal(fj_field(0, "MESSAGE"), "d1/51712\\x0aDOMID=0: m");
	assert_string_equal(fj_field(10, "MESSAGE"), "watch: watching /local/domain/0/backend/vbd");
	assert_string_equal(fj_field(11, "MESSAGE"), "starting");
	assert_string_equal(fj_field(12, "VBD"), "d65535/4294967295");
	assert_string_equal(fj_field(12, "QUEUE"), "65535");
	fj_assert_clean();
}

static void test_long_and_suppressed(void **state)
{
	struct xbd_ratelimit rl = XBD_RATELIMIT_INIT(5, 1);
	char err[256], *big = malloc(5000);
	const char *msg;

	(void)state;
	assert_non_null(big);
	if (!big)
		return;
	memset(big, '\n', 4999);
	big[4999] = '\0';
	capture_begin();
	fj_install(0);
	xbd_log(XBD_LOG_INFO, "d1/51712", "%s", big);
	for (int i = 0; i < 4; i++)
		xbd_log_guest(&rl, XBD_LOG_WARN, "d1/51712 q0", "bad id %d", i);
	rl.window_start = 0;
	xbd_log_guest(&rl, XBD_LOG_WARN, "d1/51712 q0", "bad id %d", 4);
	capture_end(err, sizeof(err));
	free(big);
	assert_string_equal(err, "");
	assert_int_equal(fj_count(), 3);
	/* Cut after a whole escape, marked, within the line limit. */
	msg = fj_field(0, "MESSAGE");
	assert_true(strlen("MESSAGE=") + strlen(msg) <= XBD_LOG_LINE_MAX);
	assert_string_equal(msg + strlen(msg) - 8, "\\x0a\\...");
	assert_int_equal((strlen(msg) - strlen("\\...")) % 4, 0);
	assert_string_equal(fj_field(1, "MESSAGE"), "bad id 0");
	assert_string_equal(fj_field(2, "MESSAGE"), "bad id 4 (3 similar suppressed)");
	fj_assert_clean();
}

/* The journal refused the entry: the line goes to the stream instead, with its priority. */
static void test_send_fails_falls_back(void **state)
{
	char err[256];

	(void)state;
	capture_begin();
	fj_install(-ECONNREFUSED);
	xbd_log(XBD_LOG_WARN, "d1/51712", "still %s", "logged");
	capture_end(err, sizeof(err));
	assert_int_equal(fj_count(), 1);
	assert_string_equal(err, "<4>xenblkd[d1/51712]: still logged\n");
}

/* Not the journal: the stderr format of before, to the byte. */
static void test_not_the_journal(void **state)
{
	struct stat st;
	char err[512], other[64];

	(void)state;
	capture_begin();
	fj_install(0);
	unsetenv("JOURNAL_STREAM");
	xbd_log_set_journal_sink(NULL);
	xbd_log(XBD_LOG_INFO, "d1/51712", "no JOURNAL_STREAM");
	xbd_log_id(XBD_LOG_INFO, "d1/51712 q0", XBD_MSGID_STATE, "state -> %s", "Connected");
	/* Another stream's device and inode (a shell redirected stderr under a unit). */
	assert_int_equal(fstat(STDERR_FILENO, &st), 0);
	snprintf(other, sizeof(other), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino + 1);
	setenv("JOURNAL_STREAM", other, 1);
	xbd_log_set_journal_sink(NULL);
	xbd_log(XBD_LOG_ERR, "d1/51712", "another stream");
	setenv("JOURNAL_STREAM", "garbage", 1);
	xbd_log_set_journal_sink(NULL);
	xbd_log(XBD_LOG_ERR, NULL, "malformed");
	capture_end(err, sizeof(err));
	assert_int_equal(fj_count(), 0);
	assert_string_equal(err, "xenblkd[d1/51712]: no JOURNAL_STREAM\n"
				 "xenblkd[d1/51712 q0]: state -> Connected\n"
				 "<3>xenblkd[d1/51712]: another stream\n"
				 "<3>xenblkd[-]: malformed\n");
}

/* The real sd_journal_sendv() (when built with libsystemd), with stderr announced as the
 * journal but no journald listening, as on this machine: the line must still come out. */
static void test_no_journald_line_not_lost(void **state)
{
	char err[256];

	(void)state;
	if (access("/run/systemd/journal/socket", F_OK) == 0)
		skip(); /* a real journald would take the entry, and this test cannot read it */
	capture_begin();
	fj_install(0);
	xbd_log_set_journal_sink(NULL); /* the default sink, JOURNAL_STREAM still matching */
	xbd_log(XBD_LOG_INFO, "d1/51712", "journald is not running");
	capture_end(err, sizeof(err));
	assert_int_equal(fj_count(), 0);
	assert_string_equal(err, "<6>xenblkd[d1/51712]: journald is not running\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_device_fields, teardown),
		cmocka_unit_test_teardown(test_message_ids, teardown),
		cmocka_unit_test_teardown(test_hostile_value, teardown),
		cmocka_unit_test_teardown(test_prefix_not_a_device, teardown),
		cmocka_unit_test_teardown(test_long_and_suppressed, teardown),
		cmocka_unit_test_teardown(test_send_fails_falls_back, teardown),
		cmocka_unit_test_teardown(test_not_the_journal, teardown),
		cmocka_unit_test_teardown(test_no_journald_line_not_lost, teardown),
	};

	return cmocka_run_group_tests_name("log_journal", tests, NULL, NULL);
}
