/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The backend's xenbus state machine as a pure function: the facts read from xenstore (our
 * state node, the frontend's state, `online`, whether the device directory still exists) and
 * whether the data plane runs go in; the actions to take come out. No I/O happens here, so the
 * whole table is unit-tested. The caller reads the facts again after every watch event, so a
 * missed intermediate state (two writes between two reads) still converges.
 */
#ifndef XENBLKD_XENBUS_FSM_H
#define XENBLKD_XENBUS_FSM_H

#include <stdbool.h>
#include <xen/io/xenbus.h>

struct xbd_fsm_facts {
	enum xenbus_state be; /* our state node as read back (the toolstack may have written it) */
	enum xenbus_state fe; /* frontend state; Unknown when absent or malformed */
	bool online;          /* toolstack's `online` key is 1 */
	bool dev_present;     /* the backend directory exists */
	bool connected;       /* the data plane runs */
	bool fe_dead;         /* the frontend's domain is gone (@releaseDomain) */
	bool closing_expired; /* we have been Closing longer than the closing timeout */
};

struct xbd_fsm_actions {
	bool disconnect;             /* stop the data plane: drain, then unmap */
	bool connect;                /* read the frontend's ring details and start the data plane */
	enum xenbus_state set_state; /* write this state; XenbusStateUnknown means leave it */
	bool exit;                   /* the toolstack removed the device: exit */
};

void xbd_fsm_step(const struct xbd_fsm_facts *f, struct xbd_fsm_actions *a);

/* Parse a state node's value; anything but a decimal 0..8 is XenbusStateUnknown. */
enum xenbus_state xbd_fsm_parse_state(const char *s);

const char *xbd_fsm_state_name(enum xenbus_state s);

#endif
