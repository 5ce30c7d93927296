/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Telling systemd how the daemon is doing (Type=notify): READY once the device is published,
 * STATUS with the xenbus state, STOPPING on shutdown. A no-op when NOTIFY_SOCKET is unset or the
 * daemon was built without libsystemd.
 */
#ifndef XENBLKD_NOTIFY_H
#define XENBLKD_NOTIFY_H

#include <xen/io/xenbus.h>

void xbd_notify_ready(void);
void xbd_notify_stopping(void);
void xbd_notify_state(enum xenbus_state s);

#endif
