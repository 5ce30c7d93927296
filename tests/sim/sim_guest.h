/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The guest-kernel side of the simulated Xen platform: what Linux's grant-table and event-channel
 * code does for xen-blkfront. A process becomes domain `domid`: it owns a sealed memfd of pages
 * and a grant table (src/sim/sim_abi.h), grants pages to another domain, ends access,
 * and allocates, notifies and receives event channels. It shares no code with the daemon.
 * All functions return 0 or -errno.
 */
#ifndef XBD_SIM_GUEST_H
#define XBD_SIM_GUEST_H

#include <stdbool.h>
#include <stdint.h>
#include <xen/grant_table.h>

struct sim_domain;
struct xen_guest;
struct xen_guest_conf;

int sim_domain_create(const char *simdir, uint16_t domid, unsigned int nr_grants,
		      unsigned int nr_frames, struct sim_domain **out);
/* The same domain on a real Xen (sim-blkfront --xen real): every function below then works
 * through gntalloc and /dev/xen/evtchn (guest_xen.h), and sim_grant_entry() is NULL. */
int sim_domain_create_xen(const struct xen_guest_conf *c, struct sim_domain **out);
/* The real-Xen half, or NULL on the simulated platform. */
struct xen_guest *sim_domain_xen(struct sim_domain *d);
/* Unlinks the registry link and frees everything; pages stay valid for mappers. */
void sim_domain_destroy(struct sim_domain *d);

unsigned int sim_nr_frames(const struct sim_domain *d);
void *sim_frame(struct sim_domain *d, unsigned int frame); /* this domain's own page */

/* Grant `frame` to `to_domid`; picks a free ref (never ref 0..7, reserved as in Linux). */
int sim_grant_access(struct sim_domain *d, uint16_t to_domid, unsigned int frame, bool readonly,
		     uint32_t *ref);
/* -EBUSY while the other domain has the grant mapped or is copying it; the entry stays live. */
int sim_end_access(struct sim_domain *d, uint32_t ref);
/* Raw access to an entry, for hostile frontends that write it directly. */
grant_entry_v1_t *sim_grant_entry(struct sim_domain *d, uint32_t ref);

int sim_evtchn_alloc_unbound(struct sim_domain *d, uint16_t remote_domid, uint32_t *port);
int sim_evtchn_close(struct sim_domain *d, uint32_t port);
int sim_evtchn_notify(struct sim_domain *d, uint32_t port);
int sim_evtchn_fd(struct sim_domain *d); /* pollable: readable when some port may be pending */
/* Non-blocking: 0 and *port, after which the port is masked until unmasked; -EAGAIN if none. */
int sim_evtchn_pending(struct sim_domain *d, uint32_t *port);
int sim_evtchn_unmask(struct sim_domain *d, uint32_t port);

#endif
