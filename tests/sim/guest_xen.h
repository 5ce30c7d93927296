/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The guest side of sim-blkfront on a real Xen (--xen real): the same operations as the
 * simulated platform's guest kernel (sim_guest.h), done with libxengntshr (gntalloc),
 * libxenevtchn and, in the caller, libxenstore. The pages are granted by a real kernel, so every
 * copy and map the daemon does goes through the hypervisor. sim_guest.c forwards to it for a
 * domain made with sim_domain_create_xen(). All functions return 0 or -errno.
 *
 * gntalloc allocates the page it shares: a page cannot be granted again later, so the model
 * differs from a kernel blkfront's in two documented ways (docs/simulation.md, "On real Xen"):
 *  - request and attacker pages are shared once, writable, at creation, and keep their grant:
 *    ending access to them is a no-op (the frontend cannot revoke, and the pages stay in use);
 *  - ring pages are shared per connection, in one contiguous chunk per ring, when the first of
 *    them is granted, and unshared when all of them are ended. With unmap notification, a
 *    one-page ring is shared with xengntshr_share_page_notify: when this process unmaps it or
 *    dies, gntalloc zeroes byte `notify_offset` of the page and kicks the ring's event channel.
 */
#ifndef XBD_SIM_GUEST_XEN_H
#define XBD_SIM_GUEST_XEN_H

#include <stdbool.h>
#include <stdint.h>

struct xen_guest;

struct xen_guest_conf {
	uint16_t domid; /* our own domain (0 in dom0) */
	uint16_t be_domid; /* every page is shared with this domain */
	unsigned int nr_frames;
	unsigned int ring_frames; /* frames 0 .. ring_frames - 1 are ring pages */
	unsigned int ring_pages; /* pages per ring (a ring is ring_pages consecutive frames) */
	int notify_offset; /* -1: rings without unmap notification */
};

int xg_create(const struct xen_guest_conf *c, struct xen_guest **out);
void xg_destroy(struct xen_guest *g);
unsigned int xg_nr_frames(const struct xen_guest *g);
void *xg_frame(struct xen_guest *g, unsigned int frame);
int xg_grant_access(struct xen_guest *g, uint16_t to_domid, unsigned int frame, bool readonly,
		    uint32_t *ref);
int xg_end_access(struct xen_guest *g, uint32_t ref);
/* Unshare a request page now (xengntshr_unshare), whatever the backend does with it; the frame
 * has no memory afterwards. The attack "unshare-mapped" uses it. */
int xg_unshare_frame(struct xen_guest *g, unsigned int frame);
/* The frame granted with `ref`, or -ENOENT. */
int xg_frame_of_ref(const struct xen_guest *g, uint32_t ref, unsigned int *frame);

int xg_evtchn_alloc_unbound(struct xen_guest *g, uint16_t remote_domid, uint32_t *port);
int xg_evtchn_close(struct xen_guest *g, uint32_t port);
int xg_evtchn_notify(struct xen_guest *g, uint32_t port);
int xg_evtchn_fd(struct xen_guest *g);
int xg_evtchn_pending(struct xen_guest *g, uint32_t *port);
int xg_evtchn_unmask(struct xen_guest *g, uint32_t port);

#endif
