/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The control socket's server (see ctl.h). One epoll fd gathers the listening socket and the
 * watchdog timer, so the control loop polls one more fd and nothing else changes there. A
 * client is served to completion before the next: requests are one short line and a reply, and
 * a client that stalls is dropped after XBD_CTL_IO_TIMEOUT_MS. The socket is 0600 in a 0755
 * directory, so only root reaches it.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "notify.h"
#include "ctl_internal.h"

enum { TAG_LISTEN = 1, TAG_WATCHDOG = 2 };

static int add_fd(int epfd, int fd, uint32_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = tag };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

static int listen_on(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	mode_t old;
	int fd, r;

	if (strlen(path) >= sizeof(a.sun_path))
		return -ENAMETOOLONG;
	strcpy(a.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	unlink(path); /* a dead daemon's socket: we hold the VBD's lock now */
	old = umask(0177);
	r = bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 16) ? -errno : 0;
	umask(old);
	if (r) {
		close(fd);
		return r;
	}
	return fd;
}

int xbd_ctl_open(struct xbd_vbd *v, const struct xbd_ctl_opts *o, struct xbd_ctl **out)
{
	struct xbd_ctl *c = calloc(1, sizeof(*c));
	int r = 0;

	if (!c)
		return -ENOMEM;
	c->v = v;
	c->lfd = c->wdfd = -1;
	c->log_level = o->log_level;
	clock_gettime(CLOCK_MONOTONIC, &c->started);
	c->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (c->epfd < 0)
		r = -errno;
	if (!r && o->sock_path) {
		snprintf(c->sock_path, sizeof(c->sock_path), "%s", o->sock_path);
		c->lfd = listen_on(o->sock_path);
		r = c->lfd < 0 ? c->lfd : add_fd(c->epfd, c->lfd, TAG_LISTEN);
	}
	c->wdfd = r ? -1 : xbd_notify_watchdog_open();
	if (c->wdfd >= 0)
		r = add_fd(c->epfd, c->wdfd, TAG_WATCHDOG);
	if (r) {
		xbd_ctl_close(c);
		return r;
	}
	*out = c;
	return 0;
}

void xbd_ctl_close(struct xbd_ctl *c)
{
	if (!c)
		return;
	if (c->lfd >= 0) {
		close(c->lfd);
		unlink(c->sock_path);
	}
	if (c->wdfd >= 0)
		close(c->wdfd);
	if (c->epfd >= 0)
		close(c->epfd);
	free(c);
}

int xbd_ctl_fd(const struct xbd_ctl *c)
{
	return c ? c->epfd : -1;
}

/* Read one line (without its '\n') within the time limit. 0 or -errno. */
static int read_request(int fd, char *buf, size_t len)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	size_t n = 0;

	while (n < len - 1) {
		ssize_t r;

		if (poll(&p, 1, XBD_CTL_IO_TIMEOUT_MS) <= 0)
			return -ETIMEDOUT;
		r = read(fd, buf + n, len - 1 - n);
		if (r <= 0)
			return r ? -errno : -ECONNRESET;
		n += (size_t)r;
		if (memchr(buf, '\n', n))
			break;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	return 0;
}

static void write_reply(int fd, const char *s)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	size_t len = strlen(s), off = 0;

	while (off < len && poll(&p, 1, XBD_CTL_IO_TIMEOUT_MS) > 0) {
		ssize_t r = send(fd, s + off, len - off, MSG_NOSIGNAL);

		if (r < 0 && errno != EAGAIN && errno != EINTR)
			return;
		off += r > 0 ? (size_t)r : 0;
	}
}

static void serve_client(struct xbd_ctl *c, int fd)
{
	char line[XBD_CTL_MAX_REQUEST + 2];
	struct json_object *reply = NULL;
	char *text;

	if (read_request(fd, line, sizeof(line)))
		return;
	xbd_ctl_command(c, line, &reply);
	if (!reply)
		return;
	text = NULL;
	if (asprintf(&text, "%s\n",
		     json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PLAIN)) > 0)
		write_reply(fd, text);
	free(text);
	json_object_put(reply);
	if (c->upgrade_to[0]) {
		shutdown(fd, SHUT_RDWR); /* the client sees the reply end before the exec */
		xbd_ctl_upgrade_now(c);
		return;
	}
}

static void accept_clients(struct xbd_ctl *c)
{
	/* A bounded batch, so a flood of clients cannot starve the control loop. */
	for (int i = 0; i < 16; i++) {
		int fd = accept4(c->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			return;
		serve_client(c, fd);
		close(fd);
	}
}

void xbd_ctl_dispatch(struct xbd_ctl *c)
{
	struct epoll_event ev[2];
	int n = epoll_wait(c->epfd, ev, 2, 0);

	for (int i = 0; i < n; i++) {
		if (ev[i].data.u32 == TAG_WATCHDOG)
			xbd_notify_watchdog_ping(c->wdfd);
		else
			accept_clients(c);
	}
}

