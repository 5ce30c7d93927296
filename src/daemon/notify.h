/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Telling systemd how the daemon is doing (Type=notify): READY once the device is published
 * (InitWait), STATUS with the VBD and its xenbus state, STOPPING on shutdown, and WATCHDOG=1
 * pings when the unit sets WatchdogSec= (WATCHDOG_USEC in the environment). All go through
 * libsystemd's sd_notify, which does nothing when NOTIFY_SOCKET is unset; without libsystemd
 * at build time these are no-ops.
 */
#ifndef XENBLKD_DAEMON_NOTIFY_H
#define XENBLKD_DAEMON_NOTIFY_H

#include <xen/io/xenbus.h>

/* Name the VBD in STATUS lines ("d5/51712"); the string must outlive the process's use. */
void xbd_notify_set_name(const char *name);
void xbd_notify_ready(void);
void xbd_notify_stopping(void);
void xbd_notify_state(enum xenbus_state s);
/* A free-form STATUS line, e.g. "paused". */
void xbd_notify_status(const char *what);

/* A timerfd that fires at half the watchdog interval, or -1 when systemd wants no pings. */
int xbd_notify_watchdog_open(void);
/* The timer fired: read it and send WATCHDOG=1. */
void xbd_notify_watchdog_ping(int fd);

#endif
