/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * sim-blkfront's guest kernel on a real Xen (guest_xen.h): grants through gntalloc
 * (libxengntshr), event channels through /dev/xen/evtchn (libxenevtchn). The layout of the
 * frames follows sim-blkfront's: ring pages first (shared per connection, contiguous per ring,
 * because the ring code addresses a multi-page ring as one array), then request and attacker
 * pages (shared one by one at creation, so that one of them can be unshared on its own).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <xenevtchn.h>
#include <xengnttab.h>

#include "guest_xen.h"

#define XG_PAGE 4096u
#define XG_NO_REF UINT32_MAX

struct xen_guest {
	struct xen_guest_conf c;
	xengntshr_handle *gs;
	xenevtchn_handle *xce;
	uint8_t **mem; /* per frame: its page in our address space, or NULL */
	uint32_t *ref; /* per frame: its grant ref, or XG_NO_REF */
	uint8_t *ring_ended; /* per ring frame: its grant was ended this connection */
	uint32_t last_port; /* the port a one-page ring's unmap notification kicks */
	bool have_port;
};

static int xg_share_data(struct xen_guest *g)
{
	unsigned int f;

	for (f = g->c.ring_frames; f < g->c.nr_frames; f++) {
		g->mem[f] = xengntshr_share_pages(g->gs, g->c.be_domid, 1, &g->ref[f], 1);
		if (!g->mem[f])
			return errno ? -errno : -ENOMEM;
	}
	return 0;
}

int xg_create(const struct xen_guest_conf *c, struct xen_guest **out)
{
	struct xen_guest *g;
	int rc = 0;
	unsigned int f;

	if (!c->nr_frames || c->ring_frames > c->nr_frames || !c->ring_pages ||
	    c->ring_frames % c->ring_pages || c->notify_offset >= (int)XG_PAGE)
		return -EINVAL;
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->c = *c;
	g->mem = calloc(c->nr_frames, sizeof(*g->mem));
	g->ref = malloc(c->nr_frames * sizeof(*g->ref));
	g->ring_ended = calloc(c->ring_frames + 1, 1);
	g->gs = xengntshr_open(NULL, 0);
	g->xce = xenevtchn_open(NULL, 0);
	if (!g->mem || !g->ref || !g->ring_ended)
		rc = -ENOMEM;
	else if (!g->gs || !g->xce)
		rc = errno ? -errno : -ENODEV;
	if (!rc) {
		for (f = 0; f < c->nr_frames; f++)
			g->ref[f] = XG_NO_REF;
		/* Non-blocking: pending() answers -EAGAIN as the simulated guest's does. */
		int fd = xenevtchn_fd(g->xce);
		int fl = fcntl(fd, F_GETFL);

		if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK))
			rc = -errno;
	}
	if (!rc)
		rc = xg_share_data(g);
	if (rc) {
		xg_destroy(g);
		return rc;
	}
	*out = g;
	return 0;
}

static void xg_unshare_ring(struct xen_guest *g, unsigned int first)
{
	unsigned int i;

	if (g->mem[first])
		xengntshr_unshare(g->gs, g->mem[first], g->c.ring_pages);
	for (i = first; i < first + g->c.ring_pages; i++) {
		g->mem[i] = NULL;
		g->ref[i] = XG_NO_REF;
		g->ring_ended[i] = 0;
	}
}

void xg_destroy(struct xen_guest *g)
{
	unsigned int f;

	if (!g)
		return;
	for (f = 0; g->mem && f < g->c.nr_frames; f++) {
		if (f < g->c.ring_frames && f % g->c.ring_pages == 0)
			xg_unshare_ring(g, f);
		else if (f >= g->c.ring_frames && g->mem[f])
			xengntshr_unshare(g->gs, g->mem[f], 1);
	}
	if (g->gs)
		xengntshr_close(g->gs);
	if (g->xce)
		xenevtchn_close(g->xce);
	free(g->mem);
	free(g->ref);
	free(g->ring_ended);
	free(g);
}

unsigned int xg_nr_frames(const struct xen_guest *g)
{
	return g->c.nr_frames;
}

void *xg_frame(struct xen_guest *g, unsigned int frame)
{
	return frame < g->c.nr_frames ? g->mem[frame] : NULL;
}

/* A whole ring in one mapping; a one-page ring with the unmap notification when asked. */
static int xg_share_ring(struct xen_guest *g, unsigned int first)
{
	unsigned int n = g->c.ring_pages, i;
	uint8_t *p;

	if (n == 1 && g->c.notify_offset >= 0 && g->have_port)
		p = xengntshr_share_page_notify(g->gs, g->c.be_domid, &g->ref[first], 1,
						(uint32_t)g->c.notify_offset, g->last_port);
	else
		p = xengntshr_share_pages(g->gs, g->c.be_domid, (int)n, &g->ref[first], 1);
	if (!p)
		return errno ? -errno : -ENOMEM;
	for (i = 0; i < n; i++) {
		g->mem[first + i] = p + (size_t)i * XG_PAGE;
		g->ring_ended[first + i] = 0;
	}
	return 0;
}

int xg_grant_access(struct xen_guest *g, uint16_t to_domid, unsigned int frame, bool readonly,
		    uint32_t *ref)
{
	int rc;

	(void)readonly; /* gntalloc pages are shared writable once; see guest_xen.h */
	if (frame >= g->c.nr_frames || to_domid != g->c.be_domid)
		return -EINVAL;
	if (frame < g->c.ring_frames && !g->mem[frame]) {
		rc = xg_share_ring(g, frame - frame % g->c.ring_pages);
		if (rc)
			return rc;
	}
	if (g->ref[frame] == XG_NO_REF)
		return -ENOENT; /* unshared by xg_unshare_frame */
	if (frame < g->c.ring_frames)
		g->ring_ended[frame] = 0;
	*ref = g->ref[frame];
	return 0;
}

int xg_frame_of_ref(const struct xen_guest *g, uint32_t ref, unsigned int *frame)
{
	unsigned int f;

	for (f = 0; f < g->c.nr_frames; f++) {
		if (g->ref[f] == ref) {
			*frame = f;
			return 0;
		}
	}
	return -ENOENT;
}

/* Ring pages: once all of a ring's grants are ended, unshare it (gntalloc ends the grants as
 * soon as the backend no longer maps them). Request pages keep their grant. */
int xg_end_access(struct xen_guest *g, uint32_t ref)
{
	unsigned int f, first, i;

	for (f = 0; f < g->c.ring_frames; f++) {
		if (g->ref[f] == ref)
			break;
	}
	if (f == g->c.ring_frames)
		return 0;
	g->ring_ended[f] = 1;
	first = f - f % g->c.ring_pages;
	for (i = first; i < first + g->c.ring_pages; i++) {
		if (!g->ring_ended[i])
			return 0;
	}
	xg_unshare_ring(g, first);
	return 0;
}

int xg_unshare_frame(struct xen_guest *g, unsigned int frame)
{
	if (frame < g->c.ring_frames || frame >= g->c.nr_frames || !g->mem[frame])
		return -EINVAL;
	if (xengntshr_unshare(g->gs, g->mem[frame], 1))
		return -errno;
	g->mem[frame] = NULL;
	g->ref[frame] = XG_NO_REF;
	return 0;
}

int xg_evtchn_alloc_unbound(struct xen_guest *g, uint16_t remote_domid, uint32_t *port)
{
	xenevtchn_port_or_error_t p = xenevtchn_bind_unbound_port(g->xce, remote_domid);

	if (p < 0)
		return errno ? -errno : -EIO;
	*port = (uint32_t)p;
	g->last_port = (uint32_t)p;
	g->have_port = true;
	return 0;
}

int xg_evtchn_close(struct xen_guest *g, uint32_t port)
{
	return xenevtchn_unbind(g->xce, port) ? -errno : 0;
}

int xg_evtchn_notify(struct xen_guest *g, uint32_t port)
{
	return xenevtchn_notify(g->xce, port) ? -errno : 0;
}

int xg_evtchn_fd(struct xen_guest *g)
{
	return xenevtchn_fd(g->xce);
}

int xg_evtchn_pending(struct xen_guest *g, uint32_t *port)
{
	xenevtchn_port_or_error_t p = xenevtchn_pending(g->xce);

	if (p < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? -EAGAIN : (errno ? -errno : -EIO);
	*port = (uint32_t)p;
	return 0;
}

int xg_evtchn_unmask(struct xen_guest *g, uint32_t port)
{
	return xenevtchn_unmask(g->xce, port) ? -errno : 0;
}
