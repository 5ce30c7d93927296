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
};

/* 0 when the device went away, a stop signal closed it, or another daemon serves it;
 * -errno on failure (logged). */
int xbd_daemon_run(const struct xbd_xen_ops *xen, const struct xbd_vbd_options *o,
		   const struct xbd_daemon_ops *ops);

#endif
