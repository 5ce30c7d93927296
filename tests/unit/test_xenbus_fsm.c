/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The xenbus state machine as a table: each row is a set of facts and the exact actions
 * expected, covering the handshake, a clean close, reconnect, a frontend restarting under us,
 * the toolstack's detach, and device removal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "xenblkd/xenbus_fsm.h"

enum { U = XenbusStateUnknown, I1 = XenbusStateInitialising, W = XenbusStateInitWait,
       I3 = XenbusStateInitialised, C = XenbusStateConnected, CG = XenbusStateClosing,
       CD = XenbusStateClosed, R7 = XenbusStateReconfiguring };

struct row {
	const char *what;
	int be, fe;
	bool online, present, connected, dead, expired;
	bool disconnect, connect;
	int set_state;
	bool exit;
};

static const struct row rows[] = {
	{ "fresh device publishes", I1, I1, 1, 1, 0, 0, 0, 0, 0, W, 0 },
	{ "fresh device, no frontend yet", I1, U, 1, 1, 0, 0, 0, 0, 0, W, 0 },
	{ "waiting for the frontend", W, I1, 1, 1, 0, 0, 0, 0, 0, U, 0 },
	{ "frontend absent while waiting", W, U, 1, 1, 0, 0, 0, 0, 0, U, 0 },
	{ "frontend initialised: connect", W, I3, 1, 1, 0, 0, 0, 0, 1, C, 0 },
	{ "missed Initialised, saw Connected", W, C, 1, 1, 0, 0, 0, 0, 1, C, 0 },
	{ "connected and quiet", C, C, 1, 1, 1, 0, 0, 0, 0, U, 0 },
	{ "frontend closing", C, CG, 1, 1, 1, 0, 0, 1, 0, CG, 0 },
	{ "frontend closed", CG, CD, 1, 1, 0, 0, 0, 0, 0, CD, 0 },
	{ "frontend closed without closing", C, CD, 1, 1, 1, 0, 0, 1, 0, CD, 0 },
	{ "closed and quiet", CD, CD, 1, 1, 0, 0, 0, 0, 0, U, 0 },
	{ "reconnect after close", CD, I1, 1, 1, 0, 0, 0, 0, 0, W, 0 },
	{ "frontend restarted under us", C, I1, 1, 1, 1, 0, 0, 1, 0, W, 0 },
	{ "frontend vanished while connected", C, U, 1, 1, 1, 0, 0, 1, 0, CD, 0 },
	{ "not a frontend state", C, R7, 1, 1, 1, 0, 0, 0, 0, U, 0 },
	{ "fatal error, frontend still connected", CG, C, 1, 1, 0, 0, 0, 0, 0, U, 0 },
	{ "detach while connected (libxl wrote 5)", CG, C, 0, 1, 1, 0, 0, 0, 0, U, 0 },
	{ "detach, we must announce Closing", C, C, 0, 1, 1, 0, 0, 0, 0, CG, 0 },
	{ "detach, frontend closing", CG, CG, 0, 1, 1, 0, 0, 1, 0, CD, 0 },
	{ "detach, frontend closed", CG, CD, 0, 1, 0, 0, 0, 0, 0, CD, 0 },
	{ "detach before any frontend", W, I1, 0, 1, 0, 0, 0, 0, 0, CD, 0 },
	{ "detach done, waiting for removal", CD, CD, 0, 1, 0, 0, 0, 0, 0, U, 0 },
	{ "device removed", CD, U, 0, 0, 0, 0, 0, 0, 0, U, 1 },
	{ "device removed while connected", C, C, 1, 0, 1, 0, 0, 1, 0, U, 1 },
	{ "frontend died while connected", C, C, 1, 1, 1, 1, 0, 1, 0, CD, 0 },
	{ "frontend died before connecting", W, I1, 1, 1, 0, 1, 0, 0, 0, CD, 0 },
	{ "frontend died, already closed", CD, C, 1, 1, 0, 1, 0, 0, 0, U, 0 },
	{ "frontend stuck, we are Closing", CG, C, 0, 1, 1, 0, 1, 1, 0, CD, 0 },
	{ "timer irrelevant when not Closing", C, C, 1, 1, 1, 0, 1, 0, 0, U, 0 },
};

static void test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		struct xbd_fsm_facts f = {
			.be = (enum xenbus_state)r->be, .fe = (enum xenbus_state)r->fe,
			.online = r->online, .dev_present = r->present, .connected = r->connected,
			.fe_dead = r->dead, .closing_expired = r->expired,
		};
		struct xbd_fsm_actions a;

		xbd_fsm_step(&f, &a);
		print_message("%s\n", r->what);
		assert_int_equal(a.disconnect, r->disconnect);
		assert_int_equal(a.connect, r->connect);
		assert_int_equal(a.set_state, r->set_state);
		assert_int_equal(a.exit, r->exit);
	}
}

/* Applying the actions and stepping again must settle: no row loops forever. */
static void test_settles(void **state)
{
	(void)state;
	for (int be = 0; be <= 8; be++)
		for (int fe = 0; fe <= 8; fe++)
			for (int bits = 0; bits < 8; bits++) {
				struct xbd_fsm_facts f = {
					.be = (enum xenbus_state)be, .fe = (enum xenbus_state)fe,
					.online = bits & 1, .dev_present = 1,
					.connected = (bits >> 1) & 1,
				};
				int steps = 0;

				for (;;) {
					struct xbd_fsm_actions a;

					xbd_fsm_step(&f, &a);
					if (!a.connect && !a.disconnect &&
					    a.set_state == XenbusStateUnknown)
						break;
					if (a.disconnect)
						f.connected = false;
					if (a.connect)
						f.connected = true;
					if (a.set_state != XenbusStateUnknown)
						f.be = a.set_state;
					assert_true(++steps < 4);
				}
			}
}

static void test_parse_state(void **state)
{
	(void)state;
	assert_int_equal(xbd_fsm_parse_state("4"), XenbusStateConnected);
	assert_int_equal(xbd_fsm_parse_state("0"), XenbusStateUnknown);
	assert_int_equal(xbd_fsm_parse_state("8"), XenbusStateReconfigured);
	assert_int_equal(xbd_fsm_parse_state("9"), XenbusStateUnknown);
	assert_int_equal(xbd_fsm_parse_state("-1"), XenbusStateUnknown);
	assert_int_equal(xbd_fsm_parse_state("4 "), XenbusStateUnknown);
	assert_int_equal(xbd_fsm_parse_state(" 4"), XenbusStateUnknown);
	assert_int_equal(xbd_fsm_parse_state(""), XenbusStateUnknown);
	assert_int_equal(xbd_fsm_parse_state(NULL), XenbusStateUnknown);
	assert_int_equal(xbd_fsm_parse_state("99999999999999999999"), XenbusStateUnknown);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_settles),
		cmocka_unit_test(test_parse_state),
	};

	return cmocka_run_group_tests_name("xenbus_fsm", tests, NULL, NULL);
}
