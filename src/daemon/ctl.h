/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The daemon's control socket (xenblkctl(8) talks to it). One Unix stream socket per daemon,
 * <run dir>/<escaped backend path>.sock, mode 0600: a client sends one line, "verb [args]",
 * and reads one JSON object back, then the server closes the connection. The verbs are
 * info, stats, pause [timeout-ms], resume, resize, log-level LEVEL and limits [IOPS BPS].
 * Everything runs on the control thread, from the control loop, so a command never races the
 * state machine; the systemd watchdog timer shares the same pollable fd.
 */
#ifndef XENBLKD_DAEMON_CTL_H
#define XENBLKD_DAEMON_CTL_H

#include "util/ctl_proto.h"
#include "xenblkd/log.h"
#include "xenblkd/vbd.h"

struct xbd_ctl;

struct xbd_ctl_opts {
	const char *sock_path;        /* NULL: no socket (the watchdog still runs) */
	enum xbd_log_level log_level; /* what the command line set, for `info` */
};

/* Listen (a stale socket file is replaced: the caller holds the VBD's lock) and arm the
 * watchdog timer when systemd asked for one. 0 or -errno. */
int xbd_ctl_open(struct xbd_vbd *v, const struct xbd_ctl_opts *o, struct xbd_ctl **out);
/* Stop listening and remove the socket file. NULL is fine. */
void xbd_ctl_close(struct xbd_ctl *c);

/* Readable when a client or the watchdog timer waits; then call xbd_ctl_dispatch(). */
int xbd_ctl_fd(const struct xbd_ctl *c);
void xbd_ctl_dispatch(struct xbd_ctl *c);

#endif
