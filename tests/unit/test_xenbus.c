/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The device's xenstore traffic over an in-memory fake xenstore injected through the ops
 * table: every frontend value the daemon reads at connect time is validated (ring order, queue
 * count, ring references, event channels, protocol, feature-persistent), a bad one is a fatal
 * error reported where xenbus_dev_fatal reports it with the device moved to Closing, and the
 * features published before InitWait are the ones configured. Once the toolstack has removed
 * the device's directory, nothing the daemon writes may bring it back. Under journald, state
 * changes and fatal errors carry their MESSAGE_IDs and the device's fields.
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

#include "fake_journal.h"
#include "xenblkd/log.h"
#include "xenblkd/vbd.h"

#define MAX_KEYS 256

static struct { char path[256]; char val[64]; } kv[MAX_KEYS];
static unsigned int nkv;

static int find(const char *path)
{
	for (unsigned int i = 0; i < nkv; i++)
		if (strcmp(kv[i].path, path) == 0)
			return (int)i;
	return -1;
}

static void put(const char *path, const char *val)
{
	int i = find(path);

	if (i < 0) {
		assert_true(nkv < MAX_KEYS);
		i = (int)nkv++;
		snprintf(kv[i].path, sizeof(kv[i].path), "%s", path);
	}
	snprintf(kv[i].val, sizeof(kv[i].val), "%s", val);
}

static const char *get(const char *path)
{
	int i = find(path);

	return i < 0 ? NULL : kv[i].val;
}

/* A directory exists while some key lives under it; it reads as "", as in xenstored. */
static bool is_dir(const char *path)
{
	size_t n = strlen(path);

	for (unsigned int i = 0; i < nkv; i++)
		if (strncmp(kv[i].path, path, n) == 0 && kv[i].path[n] == '/')
			return true;
	return false;
}

static int fake_read(struct xbd_xs *xs, uint32_t tx, const char *path, char **val)
{
	int i = find(path);

	(void)xs;
	(void)tx;
	if (i < 0 && !is_dir(path))
		return -ENOENT;
	*val = strdup(i < 0 ? "" : kv[i].val);
	return 0;
}

static int fake_write(struct xbd_xs *xs, uint32_t tx, const char *path, const char *val)
{
	(void)xs;
	(void)tx;
	put(path, val);
	return 0;
}

static int fake_tx_begin(struct xbd_xs *xs, uint32_t *tx)
{
	(void)xs;
	*tx = 1;
	return 0;
}

static int fake_tx_end(struct xbd_xs *xs, uint32_t tx, bool abort)
{
	(void)xs;
	(void)tx;
	(void)abort;
	return 0;
}

static const struct xbd_xen_ops fake_ops = {
	.name = "fake", .xs_read = fake_read, .xs_write = fake_write,
	.xs_tx_begin = fake_tx_begin, .xs_tx_end = fake_tx_end,
};

#define BE "/local/domain/0/backend/vbd/1/51712"
#define FE "/local/domain/1/device/vbd/51712"
#define ERR "/local/domain/0/error/backend/vbd/1/51712/error"

static struct xbd_vbd_options opts = { .max_ring_order = 4, .max_queues = 4,
				       .max_indirect_segs = 256 };
static struct xbd_vbd v;

static int setup(void **state)
{
	(void)state;
	nkv = 0;
	memset(&v, 0, sizeof(v));
	v.xen = &fake_ops;
	v.opt = &opts;
	v.be_path = BE;
	v.be_home = "/local/domain/0";
	v.fe_path = FE;
	snprintf(v.prefix, sizeof(v.prefix), "d1/51712");
	put(BE "/frontend", FE); /* the toolstack created the device */
	put(FE "/ring-ref", "8");
	put(FE "/event-channel", "15");
	return 0;
}

static int read_fe(struct xbd_fe_params *p)
{
	memset(p, 0, sizeof(*p));
	return xbd_xb_read_frontend(&v, p);
}

static void assert_fatal(int r, int expect)
{
	assert_int_equal(r, expect);
	assert_non_null(get(ERR));
	assert_string_equal(get(BE "/state"), "5");
}

static void test_single_page_native(void **state)
{
	struct xbd_fe_params p;

	(void)state;
	assert_int_equal(read_fe(&p), 0);
	assert_int_equal(p.nr_queues, 1);
	assert_int_equal(p.ring_order, 0);
	assert_int_equal(p.ring_refs[0][0], 8);
	assert_int_equal(p.ports[0], 15);
	assert_int_equal(p.proto, XBD_PROTO_NATIVE); /* protocol absent: native */
	assert_false(p.persistent);
	assert_null(get(ERR));
}

static void test_multi_page_ring(void **state)
{
	struct xbd_fe_params p;
	char key[64];

	(void)state;
	put(FE "/ring-page-order", "2");
	for (int i = 0; i < 4; i++) {
		snprintf(key, sizeof(key), FE "/ring-ref%d", i);
		put(key, i == 3 ? "99" : "10");
	}
	assert_int_equal(read_fe(&p), 0);
	assert_int_equal(p.ring_order, 2);
	assert_int_equal(p.ring_refs[0][3], 99);
}

static void test_bad_ring_order(void **state)
{
	struct xbd_fe_params p;

	(void)state;
	put(FE "/ring-page-order", "5"); /* above max-ring-page-order */
	assert_fatal(read_fe(&p), -ERANGE);
	put(FE "/ring-page-order", "abc");
	assert_fatal(read_fe(&p), -EINVAL);
	put(FE "/ring-page-order", "99999999999999999999999");
	assert_fatal(read_fe(&p), -ERANGE);
	put(FE "/ring-page-order", "1"); /* needs ring-ref0 and ring-ref1 */
	assert_fatal(read_fe(&p), -ENOENT);
}

static void test_queues(void **state)
{
	struct xbd_fe_params p;

	(void)state;
	put(FE "/multi-queue-num-queues", "0");
	assert_fatal(read_fe(&p), -EINVAL);
	put(FE "/multi-queue-num-queues", "5"); /* above multi-queue-max-queues */
	assert_fatal(read_fe(&p), -ERANGE);
	put(FE "/multi-queue-num-queues", "2");
	assert_fatal(read_fe(&p), -ENOENT); /* no queue-N directories */
	put(FE "/queue-0/ring-ref", "20");
	put(FE "/queue-0/event-channel", "21");
	put(FE "/queue-1/ring-ref", "30");
	put(FE "/queue-1/event-channel", "31");
	assert_int_equal(read_fe(&p), 0);
	assert_int_equal(p.nr_queues, 2);
	assert_int_equal(p.ring_refs[1][0], 30);
	assert_int_equal(p.ports[1], 31);
}

static void test_event_channel_and_refs(void **state)
{
	struct xbd_fe_params p;

	(void)state;
	put(FE "/event-channel", "4294967296");
	assert_fatal(read_fe(&p), -ERANGE);
	put(FE "/event-channel", "-1");
	assert_fatal(read_fe(&p), -EINVAL);
	put(FE "/event-channel", "15");
	put(FE "/ring-ref", "0x10");
	assert_fatal(read_fe(&p), -EINVAL);
}

static void test_protocol_and_persistent(void **state)
{
	struct xbd_fe_params p;

	(void)state;
	put(FE "/protocol", "x86_32-abi");
	put(FE "/feature-persistent", "1");
	assert_int_equal(read_fe(&p), 0);
	assert_int_equal(p.proto, XBD_PROTO_X86_32);
	assert_true(p.persistent);
	put(FE "/feature-persistent", "2");
	assert_int_equal(read_fe(&p), 0);
	assert_false(p.persistent);
	put(FE "/protocol", "x86_99-abi");
	assert_fatal(read_fe(&p), -EINVAL);
}

static void test_published_features(void **state)
{
	(void)state;
	v.offer_flush = true;
	v.offer_barrier = true;
	v.offer_discard = false;
	v.grant_mode = XBD_GRANT_PERSISTENT;
	assert_int_equal(xbd_xb_publish_features(&v), 0);
	assert_string_equal(get(BE "/feature-flush-cache"), "1");
	assert_string_equal(get(BE "/feature-barrier"), "1");
	assert_string_equal(get(BE "/feature-discard"), "0");
	assert_null(get(BE "/discard-secure"));
	assert_string_equal(get(BE "/feature-persistent"), "1");
	assert_string_equal(get(BE "/feature-max-indirect-segments"), "256");
	assert_string_equal(get(BE "/max-ring-page-order"), "4");
	assert_string_equal(get(BE "/multi-queue-max-queues"), "4");
	assert_int_equal(xbd_xb_withdraw(&v, XBD_DP_LOST_BARRIER), 0);
	assert_string_equal(get(BE "/feature-barrier"), "0");
	assert_string_equal(get(BE "/feature-flush-cache"), "1");
}

/* The toolstack removes the device (libxl__device_destroy) between two of our reads: writing
 * our state or features must not re-create the directory, or we would never see it go. */
static void test_removed_device_stays_removed(void **state)
{
	(void)state;
	assert_int_equal(xbd_xb_switch_state(&v, XenbusStateClosed), 0);
	assert_string_equal(get(BE "/state"), "6");
	nkv = 0;
	put(FE "/state", "6");
	assert_int_equal(xbd_xb_switch_state(&v, XenbusStateClosed), -ENOENT);
	assert_int_equal(xbd_xb_publish_features(&v), -ENOENT);
	assert_int_equal(xbd_xb_withdraw(&v, XBD_DP_LOST_FLUSH), -ENOENT);
	assert_false(is_dir(BE));
	assert_null(get(BE "/state"));
}

/* The journal entries of a state change and of a fatal error caused by a hostile frontend
 * value: their MESSAGE_IDs, the device's fields, and the value escaped inside MESSAGE. */
static void test_journal_state_and_fatal(void **state)
{
	struct xbd_fe_params p;

	(void)state;
	fj_install(0);
	assert_int_equal(xbd_xb_switch_state(&v, XenbusStateConnected), 0);
	put(FE "/protocol", "x\n<0>MESSAGE_ID=0\x1b[2J");
	assert_fatal(read_fe(&p), -EINVAL);
	fj_uninstall();
	assert_int_equal(fj_count(), 3); /* Connected, the fatal error, Closing */
	assert_string_equal(fj_field(0, "MESSAGE"), "state -> Connected");
	assert_string_equal(fj_field(0, "MESSAGE_ID"), XBD_MSGID_STATE);
	assert_string_equal(fj_field(0, "PRIORITY"), "6");
	assert_string_equal(fj_field(0, "VBD"), "d1/51712");
	assert_string_equal(fj_field(0, "DOMID"), "1");
	assert_string_equal(fj_field(0, "DEVID"), "51712");
	assert_string_equal(fj_field(1, "MESSAGE"),
			    "fatal: unknown protocol x\\x0a<0>MESSAGE_ID=0\\x1b[2J");
	assert_string_equal(fj_field(1, "MESSAGE_ID"), XBD_MSGID_FATAL);
	assert_string_equal(fj_field(1, "PRIORITY"), "3");
	assert_string_equal(fj_field(1, "VBD"), "d1/51712");
	assert_string_equal(fj_field(2, "MESSAGE"), "state -> Closing");
	assert_string_equal(fj_field(2, "MESSAGE_ID"), XBD_MSGID_STATE);
	fj_assert_clean();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_single_page_native, setup),
		cmocka_unit_test_setup(test_multi_page_ring, setup),
		cmocka_unit_test_setup(test_bad_ring_order, setup),
		cmocka_unit_test_setup(test_queues, setup),
		cmocka_unit_test_setup(test_event_channel_and_refs, setup),
		cmocka_unit_test_setup(test_protocol_and_persistent, setup),
		cmocka_unit_test_setup(test_published_features, setup),
		cmocka_unit_test_setup(test_removed_device_stays_removed, setup),
		cmocka_unit_test_setup(test_journal_state_and_fatal, setup),
	};

	return cmocka_run_group_tests_name("xenbus", tests, NULL, NULL);
}
