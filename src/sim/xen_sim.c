/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The simulated hypervisor's ops: grant tables and event channels from xen_sim_gnt.c and
 * xen_sim_evtchn.c, and the probe. xenstore is not simulated (the tooling runs a real
 * xenstored, tests/sim/sim-xen.sh), so the module (sim_module.c) takes the xenstore members from
 * the daemon's real table. Also the one place that reads the simulation's environment.
 * docs/simulation.md describes the platform.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xen_sim.h"

/* Xen's DOMID_FIRST_RESERVED: ids from here on are not domains. */
#define SIM_DOMID_LIMIT 0x7ff0u

int xbd_sim_env(char *dir, uint16_t *self)
{
	const char *d = getenv("XENBLKD_SIM_DIR");
	const char *id = getenv("XENBLKD_SIM_DOMID");
	unsigned long v = 0;
	char *end;

	if (!d || !*d)
		return -ENOENT;
	if (!realpath(d, dir))
		return -errno;
	if (id && *id) {
		errno = 0;
		v = strtoul(id, &end, 10);
		if (errno || *end || v >= SIM_DOMID_LIMIT)
			return -EINVAL;
	}
	*self = (uint16_t)v;
	return 0;
}

static int sim_probe(char *why, size_t len)
{
	char dir[PATH_MAX];
	uint16_t self;
	int r = xbd_sim_env(dir, &self);

	if (r == -ENOENT && !getenv("XENBLKD_SIM_DIR"))
		snprintf(why, len, "--xen sim: no simulated platform: XENBLKD_SIM_DIR is not set "
			 "(tests/sim/sim-xen.sh start DIR prints it)");
	else if (r == -EINVAL)
		snprintf(why, len, "--xen sim: XENBLKD_SIM_DOMID is not a domain id");
	else if (r)
		snprintf(why, len, "--xen sim: XENBLKD_SIM_DIR: %s", strerror(-r));
	return r;
}

const struct xbd_xen_ops xbd_xen_sim_ops = {
	.name = "sim",
	.probe = sim_probe,
	.gnt_open = xbd_sim_gnt_open,
	.gnt_close = xbd_sim_gnt_close,
	.gnt_map = xbd_sim_gnt_map,
	.gnt_unmap = xbd_sim_gnt_unmap,
	.gnt_copy = xbd_sim_gnt_copy,
	.evtchn_open = xbd_sim_evtchn_open,
	.evtchn_close = xbd_sim_evtchn_close,
	.evtchn_bind = xbd_sim_evtchn_bind,
	.evtchn_unbind = xbd_sim_evtchn_unbind,
	.evtchn_notify = xbd_sim_evtchn_notify,
	.evtchn_pending = xbd_sim_evtchn_pending,
	.evtchn_unmask = xbd_sim_evtchn_unmask,
	.evtchn_fd = xbd_sim_evtchn_fd,
};
