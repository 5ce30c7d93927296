/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Simulated event channels, backend side (src/sim/sim_abi.h, docs/simulation.md).
 * Each local port is a Unix datagram socket at $XENBLKD_SIM_DIR/evtchn/<self>.<port>; an event
 * is a one-byte datagram. The handle's fd is an epoll fd in which every port socket sits with
 * EPOLLONESHOT: reporting a port disarms it, which is the mask, and unmask re-arms it, so an
 * event that came while masked shows up at once, and the kicks queued meanwhile coalesce into
 * one delivery. The peer (a guest) is hostile: its datagrams are only ever counted, never
 * trusted, and the work done per call is bounded.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "sim_abi.h"
#include "xen_sim.h"

/* Bounds on the work of one pending() call, so a flooding guest cannot stall the caller. */
#define SIM_EVT_DRAIN_MAX 64
#define SIM_EVT_PORTS_MAX 16

struct sim_port {
	struct sim_port *next;
	uint32_t port;
	int fd;
	bool peer_closed; /* the peer sent 'C': nothing to notify any more */
	struct sockaddr_un self_addr;
	struct sockaddr_un peer;
	socklen_t peer_len;
};

struct xbd_evtchn {
	char dir[PATH_MAX];
	uint16_t self;
	int epfd;
	uint32_t next_port; /* where the search for a free port number starts */
	struct sim_port *ports;
};

static int sim_evt_addr(const char *dir, uint16_t domid, uint32_t port,
			struct sockaddr_un *sa, socklen_t *len)
{
	int n;

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	n = snprintf(sa->sun_path, sizeof(sa->sun_path), "%s/evtchn/%u.%u", dir, domid, port);
	if (n < 0 || (size_t)n >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + (size_t)n + 1);
	return 0;
}

/* Xen's interpretation of a notify to a dead or busy channel: nothing happened. */
static int sim_evt_send(int fd, char msg, const struct sockaddr_un *to, socklen_t len)
{
	if (sendto(fd, &msg, 1, MSG_DONTWAIT | MSG_NOSIGNAL, (const struct sockaddr *)to,
		   len) == 1)
		return 0;
	if (errno == ENOENT || errno == ECONNREFUSED || errno == EAGAIN)
		return 0;
	return -errno;
}

static struct sim_port *sim_port_find(struct xbd_evtchn *evt, uint32_t port)
{
	struct sim_port *p;

	for (p = evt->ports; p; p = p->next)
		if (p->port == port)
			return p;
	return NULL;
}

static int sim_port_arm(struct xbd_evtchn *evt, struct sim_port *p, int op)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLONESHOT, .data.ptr = p };

	return epoll_ctl(evt->epfd, op, p->fd, &ev) ? -errno : 0;
}

/* Binds a fresh socket at the first free port number; other processes share the namespace. */
static int sim_port_bind_free(struct xbd_evtchn *evt, struct sim_port *p)
{
	uint32_t tries, port = evt->next_port;
	socklen_t len;
	int rc;

	for (tries = 0; tries < XBD_SIM_EVTCHN_MAX_PORT; tries++, port++) {
		if (port < 1 || port > XBD_SIM_EVTCHN_MAX_PORT)
			port = 1;
		rc = sim_evt_addr(evt->dir, evt->self, port, &p->self_addr, &len);
		if (rc)
			return rc;
		if (!bind(p->fd, (struct sockaddr *)&p->self_addr, len)) {
			p->port = port;
			evt->next_port = port + 1;
			return 0;
		}
		if (errno != EADDRINUSE)
			return -errno;
	}
	return -ENOSPC;
}

static void sim_port_free(struct sim_port *p)
{
	close(p->fd);
	unlink(p->self_addr.sun_path);
	free(p);
}

int xbd_sim_evtchn_open(struct xbd_evtchn **out)
{
	struct xbd_evtchn *evt = calloc(1, sizeof(*evt));
	int rc;

	if (!evt)
		return -ENOMEM;
	rc = xbd_sim_env(evt->dir, &evt->self);
	if (rc)
		goto err;
	evt->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (evt->epfd < 0) {
		rc = -errno;
		goto err;
	}
	evt->next_port = 1;
	*out = evt;
	return 0;
err:
	free(evt);
	return rc;
}

void xbd_sim_evtchn_close(struct xbd_evtchn *evt)
{
	if (!evt)
		return;
	while (evt->ports)
		xbd_sim_evtchn_unbind(evt, evt->ports->port);
	close(evt->epfd);
	free(evt);
}

/*
 * Like EVTCHNOP_bind_interdomain: the remote port must exist (a live socket) and be unbound.
 * The 'B' datagram makes our socket its peer. We cannot see whether the guest already has
 * another live peer, in which case it drops our 'B' (see docs/simulation.md). We still check
 * each sender's address in sim_port_drain: what strangers sent between bind() and connect()
 * stays queued.
 */
int xbd_sim_evtchn_bind(struct xbd_evtchn *evt, uint16_t domid, uint32_t remote_port,
			uint32_t *local_port)
{
	const char bind_msg = XBD_SIM_EVT_BIND;
	struct sim_port *p;
	int rc;

	if (!remote_port || remote_port > XBD_SIM_EVTCHN_MAX_PORT)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	rc = sim_evt_addr(evt->dir, domid, remote_port, &p->peer, &p->peer_len);
	if (rc)
		goto err_free;
	p->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->fd < 0) {
		rc = -errno;
		goto err_free;
	}
	rc = sim_port_bind_free(evt, p);
	if (rc)
		goto err_close;
	/*
	 * Connected, the socket takes datagrams from the peer only: the kernel refuses strangers
	 * (EPERM) before they can fill our small queue and crowd out the peer's kicks.
	 */
	if (connect(p->fd, (struct sockaddr *)&p->peer, p->peer_len) ||
	    send(p->fd, &bind_msg, 1, MSG_DONTWAIT | MSG_NOSIGNAL) != 1) {
		rc = errno == ENOENT || errno == ECONNREFUSED ? -EINVAL : -errno;
		goto err_port;
	}
	rc = sim_port_arm(evt, p, EPOLL_CTL_ADD);
	if (rc)
		goto err_port;
	p->next = evt->ports;
	evt->ports = p;
	*local_port = p->port;
	return 0;

err_port:
	sim_port_free(p);
	return rc;
err_close:
	close(p->fd);
err_free:
	free(p);
	return rc;
}

int xbd_sim_evtchn_unbind(struct xbd_evtchn *evt, uint32_t local_port)
{
	struct sim_port **pp, *p;

	for (pp = &evt->ports; (p = *pp); pp = &p->next) {
		if (p->port != local_port)
			continue;
		*pp = p->next;
		if (!p->peer_closed)
			sim_evt_send(p->fd, XBD_SIM_EVT_CLOSE, &p->peer, p->peer_len);
		sim_port_free(p);
		return 0;
	}
	return -EINVAL;
}

int xbd_sim_evtchn_notify(struct xbd_evtchn *evt, uint32_t local_port)
{
	struct sim_port *p = sim_port_find(evt, local_port);

	if (!p)
		return -EINVAL;
	if (p->peer_closed)
		return 0;
	return sim_evt_send(p->fd, XBD_SIM_EVT_EVENT, &p->peer, p->peer_len);
}

static bool sim_from_peer(const struct sim_port *p, const struct sockaddr_un *from,
			  socklen_t len)
{
	return len == p->peer_len && !memcmp(from->sun_path, p->peer.sun_path,
					     len - offsetof(struct sockaddr_un, sun_path));
}

/*
 * Reads up to SIM_EVT_DRAIN_MAX datagrams in one recvmmsg (the usual case is one kick: one
 * system call, not a read per datagram and one more for EAGAIN); true if an event from the
 * peer was among them.
 */
static bool sim_port_drain(struct sim_port *p)
{
	struct sockaddr_un from[SIM_EVT_DRAIN_MAX];
	struct mmsghdr m[SIM_EVT_DRAIN_MAX];
	struct iovec iov[SIM_EVT_DRAIN_MAX];
	char msg[SIM_EVT_DRAIN_MAX][2];
	bool event = false;
	int i, n;

	for (i = 0; i < SIM_EVT_DRAIN_MAX; i++) {
		iov[i] = (struct iovec){ .iov_base = msg[i], .iov_len = sizeof(msg[i]) };
		m[i] = (struct mmsghdr){ .msg_hdr = { .msg_name = &from[i],
			.msg_namelen = sizeof(from[i]), .msg_iov = &iov[i], .msg_iovlen = 1 } };
	}
	n = recvmmsg(p->fd, m, SIM_EVT_DRAIN_MAX, MSG_DONTWAIT, NULL);
	for (i = 0; i < n; i++) {
		if (m[i].msg_len != 1 || !sim_from_peer(p, &from[i], m[i].msg_hdr.msg_namelen))
			continue;
		if (msg[i][0] == XBD_SIM_EVT_EVENT && !p->peer_closed)
			event = true;
		else if (msg[i][0] == XBD_SIM_EVT_CLOSE)
			p->peer_closed = true;
	}
	return event;
}

/*
 * One port per call. epoll_wait returns at most one port, because every port it reports is
 * disarmed (EPOLLONESHOT): taking several and returning one would lose the others. A port
 * whose datagrams held no event is re-armed at once and the next one is tried.
 */
int xbd_sim_evtchn_pending(struct xbd_evtchn *evt, uint32_t *port)
{
	struct epoll_event ev;
	struct sim_port *p;
	int i, n;

	for (i = 0; i < SIM_EVT_PORTS_MAX; i++) {
		n = epoll_wait(evt->epfd, &ev, 1, 0);
		if (n <= 0)
			return n < 0 && errno != EINTR ? -errno : -EAGAIN;
		p = ev.data.ptr;
		if (sim_port_drain(p)) {
			*port = p->port;
			return 0;
		}
		sim_port_arm(evt, p, EPOLL_CTL_MOD);
	}
	return -EAGAIN;
}

int xbd_sim_evtchn_unmask(struct xbd_evtchn *evt, uint32_t port)
{
	struct sim_port *p = sim_port_find(evt, port);

	if (!p)
		return -EINVAL;
	return sim_port_arm(evt, p, EPOLL_CTL_MOD);
}

int xbd_sim_evtchn_fd(struct xbd_evtchn *evt)
{
	return evt->epfd;
}
