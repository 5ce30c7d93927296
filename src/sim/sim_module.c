/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xenblkd-sim.so: the simulated platform as a module the daemon loads for --xen sim only
 * (src/daemon/platform.c). Its table is the daemon's real xenstore client (the simulation runs
 * a real xenstored) with the simulated grant tables, event channels and probe. Only the entry
 * point is exported.
 */
#include "xen_sim.h"

__attribute__((visibility("default"))) xbd_xen_module_fn xbd_xen_module_ops;

const struct xbd_xen_ops *xbd_xen_module_ops(const struct xbd_xen_ops *real)
{
	static struct xbd_xen_ops t;
	const struct xbd_xen_ops *s = &xbd_xen_sim_ops;

	t = *real;
	t.name = s->name;
	t.probe = s->probe;
	t.gnt_open = s->gnt_open;
	t.gnt_close = s->gnt_close;
	t.gnt_map = s->gnt_map;
	t.gnt_unmap = s->gnt_unmap;
	t.gnt_copy = s->gnt_copy;
	t.evtchn_open = s->evtchn_open;
	t.evtchn_close = s->evtchn_close;
	t.evtchn_bind = s->evtchn_bind;
	t.evtchn_unbind = s->evtchn_unbind;
	t.evtchn_notify = s->evtchn_notify;
	t.evtchn_pending = s->evtchn_pending;
	t.evtchn_unmask = s->evtchn_unmask;
	t.evtchn_fd = s->evtchn_fd;
	return &t;
}
