/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The xenbus state machine for a blkif backend (see xenbus_fsm.h). It follows what Linux
 * xen-blkback's frontend_changed() and QEMU's xen-block do, with one difference: a frontend that
 * returns to Initialising while we are connected (a guest kexec or crash without a clean close)
 * is disconnected and offered a fresh InitWait rather than ignored.
 */
#include <stdlib.h>

#include "xenblkd/xenbus_fsm.h"

enum xenbus_state xbd_fsm_parse_state(const char *s)
{
	char *end;
	long v;

	if (!s || *s < '0' || *s > '9')
		return XenbusStateUnknown;
	v = strtol(s, &end, 10);
	if (*end != '\0' || v < XenbusStateUnknown || v > XenbusStateReconfigured)
		return XenbusStateUnknown;
	return (enum xenbus_state)v;
}

const char *xbd_fsm_state_name(enum xenbus_state s)
{
	static const char *const names[] = {
		"Unknown", "Initialising", "InitWait", "Initialised", "Connected",
		"Closing", "Closed", "Reconfiguring", "Reconfigured",
	};

	if ((unsigned int)s < sizeof(names) / sizeof(names[0]))
		return names[s];
	return "Invalid";
}

static void set_state(const struct xbd_fsm_facts *f, struct xbd_fsm_actions *a,
		      enum xenbus_state s)
{
	if (f->be != s)
		a->set_state = s;
}

/* The toolstack took the device offline: close, and let the frontend see it first. */
static void step_offline(const struct xbd_fsm_facts *f, struct xbd_fsm_actions *a)
{
	bool fe_active = f->fe == XenbusStateInitialised || f->fe == XenbusStateConnected;

	if (fe_active && f->be != XenbusStateClosed) {
		/* Closing tells the frontend to finish; it answers with Closing/Closed. */
		if (f->be != XenbusStateClosing)
			a->set_state = XenbusStateClosing;
		return;
	}
	a->disconnect = f->connected;
	set_state(f, a, XenbusStateClosed);
}

static void step_frontend(const struct xbd_fsm_facts *f, struct xbd_fsm_actions *a)
{
	switch (f->fe) {
	case XenbusStateInitialising:
		if (f->be == XenbusStateInitWait && !f->connected)
			return;
		/* Reconnect: after a clean close, or a frontend that restarted under us. */
		a->disconnect = f->connected;
		a->set_state = XenbusStateInitWait;
		return;
	case XenbusStateInitialised:
	case XenbusStateConnected:
		if (f->be == XenbusStateInitWait && !f->connected) {
			a->connect = true;
			a->set_state = XenbusStateConnected;
		}
		return;
	case XenbusStateClosing:
		a->disconnect = f->connected;
		if (f->be != XenbusStateClosed)
			set_state(f, a, XenbusStateClosing);
		return;
	case XenbusStateClosed:
	case XenbusStateUnknown:
		a->disconnect = f->connected;
		if (f->be != XenbusStateInitWait || f->connected)
			set_state(f, a, XenbusStateClosed);
		return;
	default: /* InitWait, Reconfiguring, Reconfigured: not a blkif frontend state */
		return;
	}
}

void xbd_fsm_step(const struct xbd_fsm_facts *f, struct xbd_fsm_actions *a)
{
	*a = (struct xbd_fsm_actions){ .set_state = XenbusStateUnknown };
	if (!f->dev_present) {
		a->disconnect = f->connected;
		a->exit = true;
		return;
	}
	if (f->fe_dead || (f->closing_expired && f->be == XenbusStateClosing)) {
		/* Nobody will answer: let go of every grant now (a dying domain cannot be freed
		 * while its pages are mapped) and close. */
		a->disconnect = f->connected;
		set_state(f, a, XenbusStateClosed);
		return;
	}
	if (!f->online) {
		step_offline(f, a);
		return;
	}
	if (f->be == XenbusStateUnknown || f->be == XenbusStateInitialising) {
		/* Fresh device (libxl leaves it at Initialising): publish and wait. */
		a->set_state = XenbusStateInitWait;
		return;
	}
	step_frontend(f, a);
}
