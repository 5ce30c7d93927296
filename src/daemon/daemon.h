/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The daemon's life around the device object: take the VBD's lock in the run directory (or
 * leave quietly when another xenblkd holds it), open the device, apply its I/O limits, open
 * the control socket, run the control loop, and undo all of it on the way out.
 */
#ifndef XENBLKD_DAEMON_DAEMON_H
#define XENBLKD_DAEMON_DAEMON_H

#include <stdint.h>

#include "xenblkd/log.h"
#include "xenblkd/vbd.h"

struct xbd_daemon_ops {
	const char *run_dir;          /* NULL: xbd_run_dir_default() */
	enum xbd_log_level log_level;
	uint64_t limit_iops, limit_bps; /* 0: no limit */
	/* A fault in the toolstack's configuration found at start-up (a negative errno and one
	 * line), or 0: once the VBD's lock is held it is reported in xenstore (the error node,
	 * Closing) instead of serving. */
	int refuse_err;
	const char *refuse_why;
};

/* 0 when the device went away, a stop signal closed it, or another daemon serves it;
 * -errno on failure (logged). `cfg` is the toolstack's configuration (vbd_config.h). */
int xbd_daemon_run(const struct xbd_xen_ops *xen, const struct xbd_vbd_options *o,
		   const struct xbd_vbd_config *cfg, const struct xbd_daemon_ops *ops);

#endif
