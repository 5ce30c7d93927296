/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The guest kernel of the simulated Xen platform: what Linux's grant-table (v1) and
 * event-channel code does for xen-blkfront, done on the simulation's files
 * (src/sim/sim_abi.h, docs/simulation.md). It is a second implementation of that spec,
 * written apart from the daemon's (src/sim/xen_sim_*.c) so that the two check each other.
 * A struct sim_domain is used by one thread at a time.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "guest_xen.h"
#include "sim_guest.h"
#include "sim/sim_abi.h"

#define PG XBD_SIM_PAGE_SIZE
/* Bounds on the work of one call, whatever the other side sends. */
#define EVT_BATCH 64
#define EVT_SCAN 16

struct guest_port {
	struct guest_port *next;
	uint32_t port;
	int sock;
	uint16_t remote_domid; /* the only domain allowed to bind it */
	bool bound;            /* peer is valid */
	struct sockaddr_un me;
	struct sockaddr_un peer;
	socklen_t peer_len;
};

struct sim_domain {
	struct xen_guest *xen; /* --xen real: the rest is unused (guest_xen.c) */
	char dir[PATH_MAX];
	uint16_t domid;
	int memfd;
	uint8_t *mem;
	size_t mem_size;
	grant_entry_v1_t *gnttab;
	uint8_t *frames;
	pthread_mutex_t *life; /* locked while the table is current (sim_abi.h) */
	bool life_locked;
	unsigned int nr_grants;
	unsigned int nr_frames;
	/* Free grant refs, a stack as in Linux's free list: the last ended is reused first. */
	uint32_t *free_refs;
	unsigned int nr_free;
	bool *in_use;
	char link[PATH_MAX];
	char link_target[64];
	int epfd;
	uint32_t port_hint;
	struct guest_port *ports;
};

static size_t page_round(size_t n)
{
	return (n + PG - 1) / PG * PG;
}

/* ---------------- the memfd ---------------- */

/* Header page, entries, active entries, frames: the layout sim_abi.h describes. */
static void layout(unsigned int nr_grants, unsigned int nr_frames,
		   struct xbd_sim_gnttab_hdr *h)
{
	memset(h, 0, sizeof(*h));
	memcpy(h->magic, XBD_SIM_MAGIC, sizeof(h->magic));
	h->version = XBD_SIM_VERSION;
	h->nr_grants = nr_grants;
	h->nr_frames = nr_frames;
	h->entries_offset = PG;
	h->active_offset = h->entries_offset + page_round(nr_grants * sizeof(grant_entry_v1_t));
	h->frames_offset = h->active_offset +
			   page_round(nr_grants * sizeof(struct xbd_sim_active));
	h->total_size = h->frames_offset + (uint64_t)nr_frames * PG;
}

static int make_memfd(struct sim_domain *d, const struct xbd_sim_gnttab_hdr *h)
{
	char name[32];

	snprintf(name, sizeof(name), "xbd-sim-dom%u", d->domid);
	d->memfd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (d->memfd < 0)
		return -errno;
	if (ftruncate(d->memfd, (off_t)h->total_size))
		return -errno;
	d->mem_size = h->total_size;
	d->mem = mmap(NULL, d->mem_size, PROT_READ | PROT_WRITE, MAP_SHARED, d->memfd, 0);
	if (d->mem == MAP_FAILED) {
		d->mem = NULL;
		return -errno;
	}
	memcpy(d->mem, h, sizeof(*h));
	d->gnttab = (grant_entry_v1_t *)(d->mem + h->entries_offset);
	d->frames = d->mem + h->frames_offset;
	if (fcntl(d->memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL))
		return -errno;
	return 0;
}

/*
 * The liveness word (sim_abi.h): a robust mutex the kernel marks when this process dies, so
 * mappers learn of the death without asking the kernel on each grant call. Taken before the
 * link is published; a table without it is still valid, only slower for mappers.
 */
static int lock_life(struct sim_domain *d)
{
	pthread_mutexattr_t a;
	int rc;

	static_assert(sizeof(struct xbd_sim_gnttab_hdr) <= XBD_SIM_LIFE_OFFSET, "header fits");
	static_assert(XBD_SIM_LIFE_OFFSET + sizeof(pthread_mutex_t) <= PG, "mutex fits");
	d->life = (pthread_mutex_t *)(d->mem + XBD_SIM_LIFE_OFFSET);
	rc = pthread_mutexattr_init(&a);
	if (rc)
		return -rc;
	rc = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	if (!rc)
		rc = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	if (!rc)
		rc = pthread_mutex_init(d->life, &a);
	pthread_mutexattr_destroy(&a);
	if (!rc)
		rc = pthread_mutex_lock(d->life);
	d->life_locked = !rc;
	return -rc;
}

/* DIR/gnttab/<domid> -> /proc/<pid>/fd/<n>, replacing a stale link atomically. */
static int publish(struct sim_domain *d)
{
	char tmp[PATH_MAX];

	snprintf(d->link_target, sizeof(d->link_target), "/proc/%d/fd/%d", (int)getpid(),
		 d->memfd);
	if (snprintf(d->link, sizeof(d->link), "%s/gnttab/%u", d->dir, d->domid) >=
		    (int)sizeof(d->link) ||
	    snprintf(tmp, sizeof(tmp), "%s/gnttab/.%u.%d", d->dir, d->domid, (int)getpid()) >=
		    (int)sizeof(tmp))
		return -ENAMETOOLONG;
	unlink(tmp);
	if (symlink(d->link_target, tmp))
		return -errno;
	if (rename(tmp, d->link)) {
		int rc = -errno;

		unlink(tmp);
		return rc;
	}
	return 0;
}

/* Only our own link: a newer incarnation of this domid may have replaced it. */
static void unpublish(struct sim_domain *d)
{
	char cur[sizeof(d->link_target)];
	ssize_t n;

	if (!d->link[0])
		return;
	n = readlink(d->link, cur, sizeof(cur) - 1);
	if (n < 0)
		return;
	cur[n] = '\0';
	if (!strcmp(cur, d->link_target))
		unlink(d->link);
}

static int init_refs(struct sim_domain *d)
{
	unsigned int r;

	d->free_refs = calloc(d->nr_grants, sizeof(*d->free_refs));
	d->in_use = calloc(d->nr_grants, sizeof(*d->in_use));
	if (!d->free_refs || !d->in_use)
		return -ENOMEM;
	/* Pushed high to low so that the first grant gets ref 8, as in Linux. */
	for (r = d->nr_grants; r-- > XBD_SIM_NR_RESERVED_GRANTS;)
		d->free_refs[d->nr_free++] = r;
	return 0;
}

int sim_domain_create(const char *simdir, uint16_t domid, unsigned int nr_grants,
		      unsigned int nr_frames, struct sim_domain **out)
{
	struct xbd_sim_gnttab_hdr h;
	struct sim_domain *d;
	int rc;

	if (nr_grants <= XBD_SIM_NR_RESERVED_GRANTS || nr_grants > XBD_SIM_MAX_GRANTS ||
	    !nr_frames || nr_frames > XBD_SIM_MAX_FRAMES || domid >= 0x7ff0)
		return -EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->memfd = -1;
	d->epfd = -1;
	d->domid = domid;
	d->nr_grants = nr_grants;
	d->nr_frames = nr_frames;
	d->port_hint = 1;
	rc = realpath(simdir, d->dir) ? 0 : -errno;
	layout(nr_grants, nr_frames, &h);
	h.domid = domid;
	if (!rc)
		rc = make_memfd(d, &h);
	if (!rc)
		rc = lock_life(d);
	if (!rc)
		rc = init_refs(d);
	if (!rc && (d->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
		rc = -errno;
	if (!rc)
		rc = publish(d);
	if (rc) {
		sim_domain_destroy(d);
		return rc;
	}
	*out = d;
	return 0;
}

static void own_domain_destroy(struct sim_domain *d)
{
	if (!d)
		return;
	while (d->ports)
		sim_evtchn_close(d, d->ports->port);
	/* Retired before unpublished: a mapper that sees the word change checks the link. */
	if (d->life_locked)
		pthread_mutex_unlock(d->life);
	unpublish(d);
	if (d->epfd >= 0)
		close(d->epfd);
	if (d->mem)
		munmap(d->mem, d->mem_size);
	if (d->memfd >= 0)
		close(d->memfd);
	free(d->free_refs);
	free(d->in_use);
	free(d);
}

static unsigned int own_nr_frames(const struct sim_domain *d)
{
	return d->nr_frames;
}

static void *own_frame(struct sim_domain *d, unsigned int frame)
{
	return frame < d->nr_frames ? d->frames + (size_t)frame * PG : NULL;
}

/* ---------------- grants, as Linux's gnttab v1 ---------------- */

static int own_grant_access(struct sim_domain *d, uint16_t to_domid, unsigned int frame,
			    bool readonly, uint32_t *ref)
{
	grant_entry_v1_t *e;
	uint32_t r;

	if (frame >= d->nr_frames)
		return -EINVAL;
	if (!d->nr_free)
		return -ENOSPC;
	r = d->free_refs[--d->nr_free];
	d->in_use[r] = true;
	e = &d->gnttab[r];
	/* gnttab_update_entry_v1: domid and frame first, the flags that publish them last. */
	__atomic_store_n(&e->domid, to_domid, __ATOMIC_RELAXED);
	__atomic_store_n(&e->frame, frame, __ATOMIC_RELAXED);
	__atomic_store_n(&e->flags, (uint16_t)(GTF_permit_access | (readonly ? GTF_readonly : 0)),
			 __ATOMIC_RELEASE);
	*ref = r;
	return 0;
}

/*
 * gnttab_end_foreign_access_ref_v1: swap the flags to 0 unless the other side has the page
 * pinned (GTF_reading/GTF_writing). The cmpxchg makes the check and the revocation one step, so
 * a mapper that pins in between makes it fail instead of losing its page.
 */
static int own_end_access(struct sim_domain *d, uint32_t ref)
{
	uint16_t flags;

	if (ref >= d->nr_grants || !d->in_use[ref])
		return -EINVAL;
	flags = __atomic_load_n(&d->gnttab[ref].flags, __ATOMIC_ACQUIRE);
	do {
		if (flags & (GTF_reading | GTF_writing))
			return -EBUSY;
	} while (!__atomic_compare_exchange_n(&d->gnttab[ref].flags, &flags, 0, false,
					      __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
	d->in_use[ref] = false;
	d->free_refs[d->nr_free++] = ref;
	return 0;
}

static grant_entry_v1_t *own_grant_entry(struct sim_domain *d, uint32_t ref)
{
	return ref < d->nr_grants ? &d->gnttab[ref] : NULL;
}

/* ---------------- event channels ---------------- */

static int port_addr(const char *dir, uint16_t domid, uint32_t port, struct sockaddr_un *sa,
		     socklen_t *len)
{
	size_t n;

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	n = (size_t)snprintf(sa->sun_path, sizeof(sa->sun_path), "%s/evtchn/%u.%u", dir, domid,
			     port);
	if (n >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	return 0;
}

static struct guest_port *port_lookup(struct sim_domain *d, uint32_t port)
{
	struct guest_port *p = d->ports;

	while (p && p->port != port)
		p = p->next;
	return p;
}

static int port_watch(struct sim_domain *d, struct guest_port *p, int op)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | EPOLLONESHOT;
	ev.data.u32 = p->port;
	return epoll_ctl(d->epfd, op, p->sock, &ev) < 0 ? -errno : 0;
}

static int port_bind_any(struct sim_domain *d, struct guest_port *p)
{
	uint32_t n, port = d->port_hint;
	socklen_t len;
	int rc;

	for (n = 0; n < XBD_SIM_EVTCHN_MAX_PORT; n++, port++) {
		if (port == 0 || port > XBD_SIM_EVTCHN_MAX_PORT)
			port = 1;
		rc = port_addr(d->dir, d->domid, port, &p->me, &len);
		if (rc)
			return rc;
		if (bind(p->sock, (struct sockaddr *)&p->me, len) == 0) {
			p->port = port;
			d->port_hint = port + 1;
			return 0;
		}
		if (errno != EADDRINUSE)
			return -errno;
	}
	return -ENOSPC;
}

static int own_evtchn_alloc_unbound(struct sim_domain *d, uint16_t remote_domid,
				    uint32_t *port)
{
	struct guest_port *p = calloc(1, sizeof(*p));
	int rc;

	if (!p)
		return -ENOMEM;
	p->remote_domid = remote_domid;
	p->sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->sock < 0) {
		free(p);
		return -errno;
	}
	rc = port_bind_any(d, p);
	if (!rc) {
		rc = port_watch(d, p, EPOLL_CTL_ADD);
		if (rc)
			unlink(p->me.sun_path);
	}
	if (rc) {
		close(p->sock);
		free(p);
		return rc;
	}
	p->next = d->ports;
	d->ports = p;
	*port = p->port;
	return 0;
}

static void port_send(const struct guest_port *p, char msg)
{
	/* ENOENT, ECONNREFUSED, EAGAIN: the peer is gone or busy, which Xen does not report. */
	sendto(p->sock, &msg, 1, MSG_DONTWAIT | MSG_NOSIGNAL, (const struct sockaddr *)&p->peer,
	       p->peer_len);
}

static int own_evtchn_close(struct sim_domain *d, uint32_t port)
{
	struct guest_port **pp = &d->ports, *p;

	while ((p = *pp) && p->port != port)
		pp = &p->next;
	if (!p)
		return -EINVAL;
	*pp = p->next;
	if (p->bound)
		port_send(p, XBD_SIM_EVT_CLOSE);
	close(p->sock);
	unlink(p->me.sun_path);
	free(p);
	return 0;
}

/* Who sent a datagram, as a NUL-terminated path ("" for an unnamed socket). */
struct sender {
	char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
};

static void sender_from(struct sender *s, const struct sockaddr_un *sa, socklen_t len)
{
	size_t n = len > offsetof(struct sockaddr_un, sun_path) ?
			   len - offsetof(struct sockaddr_un, sun_path) : 0;

	if (n > sizeof(sa->sun_path))
		n = sizeof(sa->sun_path);
	memcpy(s->path, sa->sun_path, n);
	s->path[n] = '\0';
}

static bool is_peer(const struct guest_port *p, const struct sender *s)
{
	return p->bound && !strcmp(p->peer.sun_path, s->path);
}

/* A port of the domain this port was allocated for, spelt exactly as port_addr spells it. */
static bool may_bind(const struct sim_domain *d, const struct guest_port *p,
		     const struct sender *s, struct sockaddr_un *sa, socklen_t *len)
{
	const char *dot = strrchr(s->path, '.');
	unsigned long port = 0;
	const char *c;

	if (!dot || !dot[1] || strlen(dot + 1) > 6)
		return false;
	for (c = dot + 1; *c; c++) {
		if (*c < '0' || *c > '9')
			return false;
		port = port * 10 + (unsigned long)(*c - '0');
	}
	if (!port || port > XBD_SIM_EVTCHN_MAX_PORT)
		return false;
	if (port_addr(d->dir, p->remote_domid, (uint32_t)port, sa, len))
		return false;
	return !strcmp(sa->sun_path, s->path);
}

/* A peer that vanished without 'C' (it crashed): its socket no longer accepts datagrams. */
static bool peer_alive(const struct guest_port *p)
{
	int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool alive = true;

	if (s < 0)
		return true;
	if (connect(s, (const struct sockaddr *)&p->peer, p->peer_len) < 0)
		alive = errno != ECONNREFUSED && errno != ENOENT;
	close(s);
	return alive;
}

/* Applies one datagram to the port; true if it is an event for us. */
static bool port_handle(const struct sim_domain *d, struct guest_port *p, char msg,
			const struct sender *s)
{
	struct sockaddr_un sa;
	socklen_t len;

	if (is_peer(p, s)) {
		if (msg == XBD_SIM_EVT_CLOSE)
			p->bound = false;
		return msg == XBD_SIM_EVT_EVENT;
	}
	if (msg == XBD_SIM_EVT_BIND && may_bind(d, p, s, &sa, &len) &&
	    (!p->bound || !peer_alive(p))) {
		p->peer = sa;
		p->peer_len = len;
		p->bound = true;
	}
	return false;
}

/* -1 when the queue is empty, else the message byte (0 for a malformed datagram). */
static int port_recv(struct guest_port *p, int flags, struct sender *s)
{
	struct sockaddr_un sa;
	socklen_t len = sizeof(sa);
	char buf[2];
	ssize_t n;

	n = recvfrom(p->sock, buf, sizeof(buf), flags | MSG_DONTWAIT, (struct sockaddr *)&sa,
		     &len);
	if (n < 0)
		return -1;
	sender_from(s, &sa, len);
	return n == 1 ? (unsigned char)buf[0] : 0;
}

static bool port_drain(const struct sim_domain *d, struct guest_port *p)
{
	struct sender s;
	bool event = false;
	int i, msg;

	for (i = 0; i < EVT_BATCH; i++) {
		msg = port_recv(p, 0, &s);
		if (msg < 0)
			break;
		if (port_handle(d, p, (char)msg, &s))
			event = true;
	}
	return event;
}

/*
 * In Xen a bind is complete when the binder's hypercall returns. Here the 'B' waits in our
 * queue until someone reads it, so before notifying on an unbound port, read the queue up to
 * the first event from the peer (which stays queued for sim_evtchn_pending).
 */
static void port_catch_up(const struct sim_domain *d, struct guest_port *p)
{
	struct sender s;
	int i, msg;

	for (i = 0; i < EVT_BATCH; i++) {
		msg = port_recv(p, MSG_PEEK, &s);
		if (msg < 0 || (msg == XBD_SIM_EVT_EVENT && is_peer(p, &s)))
			return;
		port_recv(p, 0, &s);
		port_handle(d, p, (char)msg, &s);
	}
}

static int own_evtchn_notify(struct sim_domain *d, uint32_t port)
{
	struct guest_port *p = port_lookup(d, port);

	if (!p)
		return -EINVAL;
	if (!p->bound)
		port_catch_up(d, p);
	/* A send on an unbound port does nothing in Xen either. */
	if (p->bound)
		port_send(p, XBD_SIM_EVT_EVENT);
	return 0;
}

static int own_evtchn_fd(struct sim_domain *d)
{
	return d->epfd;
}

/*
 * One port per call: each port epoll reports is disarmed (EPOLLONESHOT, our mask), so we ask
 * for one at a time and re-arm at once the ports whose datagrams held no event.
 */
static int own_evtchn_pending(struct sim_domain *d, uint32_t *port)
{
	struct epoll_event ev;
	struct guest_port *p;
	int i, n;

	for (i = 0; i < EVT_SCAN; i++) {
		n = epoll_wait(d->epfd, &ev, 1, 0);
		if (n < 0 && errno != EINTR)
			return -errno;
		if (n <= 0)
			return -EAGAIN;
		p = port_lookup(d, ev.data.u32);
		if (!p)
			continue;
		if (port_drain(d, p)) {
			*port = p->port;
			return 0;
		}
		port_watch(d, p, EPOLL_CTL_MOD);
	}
	return -EAGAIN;
}

static int own_evtchn_unmask(struct sim_domain *d, uint32_t port)
{
	struct guest_port *p = port_lookup(d, port);

	return p ? port_watch(d, p, EPOLL_CTL_MOD) : -EINVAL;
}

/* ---------------- the platform: this simulation, or a real Xen ---------------- */

int sim_domain_create_xen(const struct xen_guest_conf *c, struct sim_domain **out)
{
	struct sim_domain *d = calloc(1, sizeof(*d));
	int rc;

	if (!d)
		return -ENOMEM;
	rc = xg_create(c, &d->xen);
	if (rc) {
		free(d);
		return rc;
	}
	*out = d;
	return 0;
}

struct xen_guest *sim_domain_xen(struct sim_domain *d)
{
	return d->xen;
}

void sim_domain_destroy(struct sim_domain *d)
{
	if (d && d->xen) {
		xg_destroy(d->xen);
		free(d);
		return;
	}
	own_domain_destroy(d);
}

unsigned int sim_nr_frames(const struct sim_domain *d)
{
	return d->xen ? xg_nr_frames(d->xen) : own_nr_frames(d);
}

void *sim_frame(struct sim_domain *d, unsigned int frame)
{
	return d->xen ? xg_frame(d->xen, frame) : own_frame(d, frame);
}

int sim_grant_access(struct sim_domain *d, uint16_t to_domid, unsigned int frame, bool readonly,
		     uint32_t *ref)
{
	if (d->xen)
		return xg_grant_access(d->xen, to_domid, frame, readonly, ref);
	return own_grant_access(d, to_domid, frame, readonly, ref);
}

int sim_end_access(struct sim_domain *d, uint32_t ref)
{
	return d->xen ? xg_end_access(d->xen, ref) : own_end_access(d, ref);
}

/* A real kernel's grant table is not ours to read: NULL, as for a ref past the table. */
grant_entry_v1_t *sim_grant_entry(struct sim_domain *d, uint32_t ref)
{
	return d->xen ? NULL : own_grant_entry(d, ref);
}

int sim_evtchn_alloc_unbound(struct sim_domain *d, uint16_t remote_domid, uint32_t *port)
{
	if (d->xen)
		return xg_evtchn_alloc_unbound(d->xen, remote_domid, port);
	return own_evtchn_alloc_unbound(d, remote_domid, port);
}

int sim_evtchn_close(struct sim_domain *d, uint32_t port)
{
	return d->xen ? xg_evtchn_close(d->xen, port) : own_evtchn_close(d, port);
}

int sim_evtchn_notify(struct sim_domain *d, uint32_t port)
{
	return d->xen ? xg_evtchn_notify(d->xen, port) : own_evtchn_notify(d, port);
}

int sim_evtchn_fd(struct sim_domain *d)
{
	return d->xen ? xg_evtchn_fd(d->xen) : own_evtchn_fd(d);
}

int sim_evtchn_pending(struct sim_domain *d, uint32_t *port)
{
	return d->xen ? xg_evtchn_pending(d->xen, port) : own_evtchn_pending(d, port);
}

int sim_evtchn_unmask(struct sim_domain *d, uint32_t port)
{
	return d->xen ? xg_evtchn_unmask(d->xen, port) : own_evtchn_unmask(d, port);
}
