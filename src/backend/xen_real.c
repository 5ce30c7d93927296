/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The real Xen ops table: libxengnttab and libxenevtchn on /dev/xen/{gntdev,evtchn}, with
 * xenstore through xen_xs.c. Nothing here interprets guest data; it only adapts the libraries'
 * conventions to 0 / -errno. The probe finds a dom0 that cannot serve at start-up, with a line
 * that says what to do, rather than at the guest's connect.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xenevtchn.h>
#include <xengnttab.h>

#include "xen_xs.h"

/* Segments per xengnttab_grant_copy (one ioctl; the kernel makes a hypercall per 16): the data
 * plane's whole batch, so a loop pass costs one syscall. Bounds our stack array (12 KiB). */
#define COPY_BATCH XBD_GNT_COPY_BATCH

static xengnttab_handle *gh(struct xbd_gnt *g)
{
	return (xengnttab_handle *)g;
}

static xenevtchn_handle *eh(struct xbd_evtchn *e)
{
	return (xenevtchn_handle *)e;
}

static int neg_errno(void)
{
	return errno ? -errno : -EIO;
}

static int real_gnt_open(struct xbd_gnt **out)
{
	xengnttab_handle *h = xengnttab_open(NULL, 0);

	if (!h)
		return neg_errno();
	*out = (struct xbd_gnt *)h;
	return 0;
}

static void real_gnt_close(struct xbd_gnt *g)
{
	if (g)
		xengnttab_close(gh(g));
}

static int real_gnt_map(struct xbd_gnt *g, uint16_t domid, const uint32_t *refs, unsigned int n,
			bool writable, void **addr)
{
	int prot = PROT_READ | (writable ? PROT_WRITE : 0);
	void *p = xengnttab_map_domain_grant_refs(gh(g), n, domid, (uint32_t *)refs, prot);

	if (!p)
		return neg_errno();
	*addr = p;
	return 0;
}

static int real_gnt_unmap(struct xbd_gnt *g, void *addr, unsigned int n)
{
	if (xengnttab_unmap(gh(g), addr, n))
		return neg_errno();
	return 0;
}

static void to_lib_seg(const struct xbd_gnt_copy_seg *s, xengnttab_grant_copy_segment_t *o)
{
	*o = (xengnttab_grant_copy_segment_t){ .len = s->len };
	if (s->to_guest) {
		o->source.virt = s->buf;
		o->dest.foreign.ref = s->ref;
		o->dest.foreign.offset = s->offset;
		o->dest.foreign.domid = s->domid;
		o->flags = GNTCOPY_dest_gref;
	} else {
		o->source.foreign.ref = s->ref;
		o->source.foreign.offset = s->offset;
		o->source.foreign.domid = s->domid;
		o->dest.virt = s->buf;
		o->flags = GNTCOPY_source_gref;
	}
}

static int real_gnt_copy(struct xbd_gnt *g, struct xbd_gnt_copy_seg *segs, unsigned int n)
{
	xengnttab_grant_copy_segment_t lib[COPY_BATCH];

	for (unsigned int done = 0; done < n;) {
		unsigned int k = n - done < COPY_BATCH ? n - done : COPY_BATCH;

		for (unsigned int i = 0; i < k; i++)
			to_lib_seg(&segs[done + i], &lib[i]);
		if (xengnttab_grant_copy(gh(g), k, lib))
			return neg_errno();
		for (unsigned int i = 0; i < k; i++)
			segs[done + i].status = lib[i].status;
		done += k;
	}
	return 0;
}

static int real_evtchn_open(struct xbd_evtchn **out)
{
	xenevtchn_handle *h = xenevtchn_open(NULL, 0);
	int fl;

	if (!h)
		return neg_errno();
	/* xenevtchn_pending() reads the device: non-blocking, so that it says -EAGAIN when
	 * nothing is pending instead of stalling the data thread. */
	fl = fcntl(xenevtchn_fd(h), F_GETFL);
	if (fl < 0 || fcntl(xenevtchn_fd(h), F_SETFL, fl | O_NONBLOCK) < 0) {
		int r = neg_errno();

		xenevtchn_close(h);
		return r;
	}
	*out = (struct xbd_evtchn *)h;
	return 0;
}

static void real_evtchn_close(struct xbd_evtchn *e)
{
	if (e)
		xenevtchn_close(eh(e));
}

static int real_evtchn_bind(struct xbd_evtchn *e, uint16_t domid, uint32_t remote_port,
			    uint32_t *local_port)
{
	xenevtchn_port_or_error_t p = xenevtchn_bind_interdomain(eh(e), domid, remote_port);

	if (p < 0)
		return neg_errno();
	*local_port = (uint32_t)p;
	return 0;
}

static int real_evtchn_unbind(struct xbd_evtchn *e, uint32_t port)
{
	return xenevtchn_unbind(eh(e), port) ? neg_errno() : 0;
}

static int real_evtchn_notify(struct xbd_evtchn *e, uint32_t port)
{
	return xenevtchn_notify(eh(e), port) ? neg_errno() : 0;
}

static int real_evtchn_pending(struct xbd_evtchn *e, uint32_t *port)
{
	xenevtchn_port_or_error_t p = xenevtchn_pending(eh(e));

	if (p < 0)
		return errno == EAGAIN ? -EAGAIN : neg_errno();
	*port = (uint32_t)p;
	return 0;
}

static int real_evtchn_unmask(struct xbd_evtchn *e, uint32_t port)
{
	return xenevtchn_unmask(eh(e), port) ? neg_errno() : 0;
}

static int real_evtchn_fd(struct xbd_evtchn *e)
{
	return xenevtchn_fd(eh(e));
}

/* A device the daemon needs: it opens (and closes again), or `why` says what to do. */
static int probe_device(const char *dev, const char *module, char *why, size_t len)
{
	int fd = open(dev, O_RDWR | O_CLOEXEC);
	int e = errno;

	if (fd >= 0) {
		close(fd);
		return 0;
	}
	if (e == ENOENT || e == ENXIO || e == ENODEV)
		snprintf(why, len, "no %s: load the %s module (modprobe %s), on a Xen dom0", dev,
			 module, module);
	else
		snprintf(why, len, "cannot open %s: %s", dev, strerror(e));
	return -e;
}

static int real_probe(char *why, size_t len)
{
	struct xbd_xs *xs;
	int r;

	if (geteuid() != 0) {
		snprintf(why, len, "xenblkd must run as root: it maps guests' memory through "
			 "/dev/xen and writes xenstore (running as uid %u)",
			 (unsigned int)geteuid());
		return -EPERM;
	}
	r = probe_device("/dev/xen/gntdev", "xen-gntdev", why, len);
	if (!r)
		r = probe_device("/dev/xen/evtchn", "xen-evtchn", why, len);
	if (r)
		return r;
	r = xbd_xs_lib_open(&xs);
	if (r) {
		snprintf(why, len, "cannot reach xenstore (%s): start xenstored", strerror(-r));
		return r;
	}
	xbd_xs_lib_close(xs);
	return 0;
}

const struct xbd_xen_ops xbd_xen_real_ops = {
	.name = "real",
	.probe = real_probe,
	XBD_XS_LIB_OPS,
	.gnt_open = real_gnt_open,
	.gnt_close = real_gnt_close,
	.gnt_map = real_gnt_map,
	.gnt_unmap = real_gnt_unmap,
	.gnt_copy = real_gnt_copy,
	.evtchn_open = real_evtchn_open,
	.evtchn_close = real_evtchn_close,
	.evtchn_bind = real_evtchn_bind,
	.evtchn_unbind = real_evtchn_unbind,
	.evtchn_notify = real_evtchn_notify,
	.evtchn_pending = real_evtchn_pending,
	.evtchn_unmask = real_evtchn_unmask,
	.evtchn_fd = real_evtchn_fd,
};
