/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The control loop: one thread that waits on xenstore watches, signals and the data plane's
 * halt notification, and drives the device through the state machine until the toolstack
 * removes it or a signal asks the daemon to stop.
 */
#ifndef XENBLKD_DAEMON_CONTROL_H
#define XENBLKD_DAEMON_CONTROL_H

#include "xenblkd/vbd.h"

struct xbd_ctl;

/* 0 when the device was removed or the daemon was asked to stop and closed cleanly. `ctl` is
 * the control socket polled alongside (ctl/ctl.h), or NULL. */
int xbd_control_run(struct xbd_vbd *v, struct xbd_ctl *ctl);

#endif
