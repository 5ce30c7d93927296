/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Private interface of the simulated hypervisor behind xbd_xen_sim_ops: grant tables
 * (xen_sim_gnt.c) and event channels (xen_sim_evtchn.c) acting for the mapping domain, and the
 * environment both read (xen_sim.c). The wire contract is sim_abi.h; the prose is
 * docs/simulation.md. Nothing in the daemon names any of this: the daemon loads the module
 * (sim_module.c) by path for --xen sim, and the unit tests link the library.
 */
#ifndef XENBLKD_XEN_SIM_H
#define XENBLKD_XEN_SIM_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xenblkd/xen_ops.h"

/* Grant tables, event channels and the probe; no xenstore members (sim_module.c). */
extern const struct xbd_xen_ops xbd_xen_sim_ops;

/*
 * Where the simulation lives and who we are: $XENBLKD_SIM_DIR canonicalised with realpath(3)
 * into dir[PATH_MAX], and $XENBLKD_SIM_DOMID (default 0) in *self. -ENOENT if the directory
 * variable is unset, -EINVAL if the domid is not a domid.
 */
int xbd_sim_env(char *dir, uint16_t *self);

int xbd_sim_gnt_open(struct xbd_gnt **out);
void xbd_sim_gnt_close(struct xbd_gnt *gnt);
int xbd_sim_gnt_map(struct xbd_gnt *gnt, uint16_t domid, const uint32_t *refs, unsigned int n,
		    bool writable, void **addr);
int xbd_sim_gnt_unmap(struct xbd_gnt *gnt, void *addr, unsigned int n);
int xbd_sim_gnt_copy(struct xbd_gnt *gnt, struct xbd_gnt_copy_seg *segs, unsigned int n);

int xbd_sim_evtchn_open(struct xbd_evtchn **out);
void xbd_sim_evtchn_close(struct xbd_evtchn *evt);
int xbd_sim_evtchn_bind(struct xbd_evtchn *evt, uint16_t domid, uint32_t remote_port,
			uint32_t *local_port);
int xbd_sim_evtchn_unbind(struct xbd_evtchn *evt, uint32_t local_port);
int xbd_sim_evtchn_notify(struct xbd_evtchn *evt, uint32_t local_port);
int xbd_sim_evtchn_pending(struct xbd_evtchn *evt, uint32_t *port);
int xbd_sim_evtchn_unmask(struct xbd_evtchn *evt, uint32_t port);
int xbd_sim_evtchn_fd(struct xbd_evtchn *evt);

#endif
