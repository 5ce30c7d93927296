/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * sd_notify through libsystemd (see notify.h).
 */
#include "notify.h"
#include "xenblkd/xenbus_fsm.h"

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>

void xbd_notify_ready(void)
{
	sd_notify(0, "READY=1");
}

void xbd_notify_stopping(void)
{
	sd_notify(0, "STOPPING=1");
}

void xbd_notify_state(enum xenbus_state s)
{
	sd_notifyf(0, "STATUS=xenbus state %s", xbd_fsm_state_name(s));
}
#else
void xbd_notify_ready(void)
{
}

void xbd_notify_stopping(void)
{
}

void xbd_notify_state(enum xenbus_state s)
{
	(void)s;
}
#endif
