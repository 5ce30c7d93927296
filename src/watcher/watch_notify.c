/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The watcher as the sd_notify supervisor of the daemons it starts itself (supervise mode),
 * doing systemd's part for them: each daemon gets a notify socket of its own, and a message
 * there is believed only when its SO_PASSCRED credentials name that daemon's pid. READY=1,
 * STATUS= and STOPPING=1 are logged; WATCHDOG=1 feeds the watchdog (--watchdog-sec, SIGABRT
 * when it expires, as systemd's WatchdogSec=); FDSTORE=1 keeps the fds sent with it under
 * FDNAME= (at most --fdstore-max, like FileDescriptorStoreMax=, the same file once) and
 * FDSTOREREMOVE=1 drops the named ones. The kept fds go back to the next daemon of the
 * device as LISTEN_FDS (watch_spawn.c): so an in-flight journal outlives a crash
 * (docs/restart-ops.md). Messages queued by a daemon are read before its death is handled.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/kcmp.h>

#include "watch.h"
#include "xenblkd/log.h"

#define MSG_MAX 4096
#define FDS_PER_MSG 16

struct message {
	bool ready, stopping, watchdog, watchdog_trigger, store, store_remove;
	const char *name, *status;
};

static int register_sock(struct watcher *w, struct dev *d, int op)
{
	struct epoll_event ev = { .events = EPOLLIN,
				  .data.u64 = WATCH_NOTIFY_TAG | (uint64_t)(d - w->devs) };

	return epoll_ctl(w->epfd, op, d->notify->sock, &ev) ? -errno : 0;
}

static int bind_abstract(struct watch_notify *n)
{
	static unsigned int serial;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int one = 1, len;

	len = snprintf(n->addr, sizeof(n->addr), "@xenblkd-watch-%ld-%u", (long)getpid(),
		       ++serial);
	memcpy(sa.sun_path + 1, n->addr + 1, (size_t)len - 1);
	n->sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (n->sock < 0)
		return -errno;
	if (bind(n->sock, (struct sockaddr *)&sa,
		 (socklen_t)(offsetof(struct sockaddr_un, sun_path) + (size_t)len)) ||
	    setsockopt(n->sock, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)))
		return -errno;
	return 0;
}

int watch_notify_open(struct watcher *w, struct dev *d)
{
	struct watch_notify *n;
	int r;

	if (d->notify)
		return 0;
	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->fds = calloc(w->o.fdstore_max ? w->o.fdstore_max : 1, sizeof(*n->fds));
	r = n->fds ? bind_abstract(n) : -ENOMEM;
	d->notify = n;
	if (!r)
		r = register_sock(w, d, EPOLL_CTL_ADD);
	if (r) {
		xbd_err("watch", "%s: no notify socket: %s", d->path, strerror(-r));
		watch_notify_close(w, d);
	}
	return r;
}

void watch_notify_drop_store(struct dev *d, const char *why)
{
	struct watch_notify *n = d->notify;

	if (!n || !n->nr_fds)
		return;
	xbd_warn("watch", "%s: %s: the %u fd(s) kept for its daemon are dropped, so its next "
		 "start finds no journal", d->path, why, n->nr_fds);
	for (unsigned int i = 0; i < n->nr_fds; i++)
		close(n->fds[i].fd);
	n->nr_fds = 0;
}

void watch_notify_close(struct watcher *w, struct dev *d)
{
	struct watch_notify *n = d->notify;

	if (!n)
		return;
	watch_notify_drop_store(d, "forgotten");
	if (n->sock >= 0) {
		epoll_ctl(w->epfd, EPOLL_CTL_DEL, n->sock, NULL);
		close(n->sock);
	}
	free(n->fds);
	free(n);
	d->notify = NULL;
}

void watch_notify_moved(struct watcher *w, struct dev *d)
{
	if (d->notify && d->notify->sock >= 0)
		register_sock(w, d, EPOLL_CTL_MOD);
}

void watch_notify_started(struct watcher *w, struct dev *d)
{
	if (!d->notify)
		return;
	d->notify->ready = false;
	d->notify->watchdog_at = w->o.watchdog_sec ? watch_now_ms() + w->o.watchdog_sec * 1000ull
						   : 0;
}

/* systemd's rule for FDNAME=: printable ASCII without ':' (the LISTEN_FDNAMES separator). */
static bool fdname_valid(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > 255)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e || s[i] == ':')
			return false;
	return true;
}

/* The same open file: kcmp where the kernel has it, else the same inode and offset. */
static bool same_file(int a, int b)
{
	struct stat sa, sb;
	long r = syscall(SYS_kcmp, (long)getpid(), (long)getpid(), KCMP_FILE, (long)a, (long)b);

	if (r >= 0)
		return r == 0;
	return !fstat(a, &sa) && !fstat(b, &sb) && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino && lseek(a, 0, SEEK_CUR) == lseek(b, 0, SEEK_CUR);
}

/* Keeps *fd (then -1) unless the store has it already or is full. */
static void store_add(struct watcher *w, struct dev *d, int *fd, const char *name)
{
	struct watch_notify *n = d->notify;

	for (unsigned int i = 0; i < n->nr_fds; i++)
		if (same_file(n->fds[i].fd, *fd))
			return;
	if (n->nr_fds >= w->o.fdstore_max) {
		xbd_warn("watch", "%s: fd store full (%u): %.*s not kept", d->path,
			 w->o.fdstore_max, XBD_LOG_STR(name));
		return;
	}
	snprintf(n->fds[n->nr_fds].name, sizeof(n->fds[0].name), "%s", name);
	n->fds[n->nr_fds++].fd = *fd;
	*fd = -1;
	xbd_debug("watch", "%s: keeping fd %.*s (%u kept)", d->path, XBD_LOG_STR(name), n->nr_fds);
}

/* Every fd kept under name goes; the others keep their order (LISTEN_FDS passes them in it). */
static void store_remove(struct dev *d, const char *name)
{
	struct watch_notify *n = d->notify;
	unsigned int kept = 0;

	for (unsigned int i = 0; i < n->nr_fds; i++) {
		if (strcmp(n->fds[i].name, name))
			n->fds[kept++] = n->fds[i];
		else
			close(n->fds[i].fd);
	}
	n->nr_fds = kept;
}

static void parse(char *text, struct message *m)
{
	char *save = NULL;

	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		if (!strcmp(l, "READY=1"))
			m->ready = true;
		else if (!strcmp(l, "STOPPING=1"))
			m->stopping = true;
		else if (!strcmp(l, "WATCHDOG=1"))
			m->watchdog = true;
		else if (!strcmp(l, "WATCHDOG=trigger"))
			m->watchdog_trigger = true;
		else if (!strcmp(l, "FDSTORE=1"))
			m->store = true;
		else if (!strcmp(l, "FDSTOREREMOVE=1"))
			m->store_remove = true;
		else if (!strncmp(l, "FDNAME=", 7))
			m->name = l + 7;
		else if (!strncmp(l, "STATUS=", 7))
			m->status = l + 7;
	}
}

static void act(struct watcher *w, struct dev *d, const struct message *m, int *fds,
		unsigned int nr_fds)
{
	struct watch_notify *n = d->notify;
	const char *name = m->name ? m->name : "stored";

	if (m->status)
		xbd_debug("watch", "%s: STATUS=%.*s", d->path, XBD_LOG_STR(m->status));
	if (m->ready && !n->ready)
		xbd_info("watch", "%s: xenblkd pid %ld is ready", d->path, (long)d->pid);
	n->ready |= m->ready;
	if (m->stopping)
		xbd_info("watch", "%s: xenblkd pid %ld is stopping", d->path, (long)d->pid);
	if (m->watchdog && n->watchdog_at)
		n->watchdog_at = watch_now_ms() + w->o.watchdog_sec * 1000ull;
	if (m->watchdog_trigger)
		n->watchdog_at = 1; /* expired: the watchdog's action at once */
	/* systemd's order: a removal first, then what this message stores. */
	if ((m->store_remove || m->store) && !fdname_valid(name)) {
		xbd_warn("watch", "%s: FDNAME is not a valid name: ignored", d->path);
		return;
	}
	if (m->store_remove)
		store_remove(d, name);
	for (unsigned int i = 0; m->store && i < nr_fds; i++)
		store_add(w, d, &fds[i], name);
}

/* One datagram; false when none was queued. */
static bool receive_one(struct watcher *w, struct dev *d)
{
	char buf[MSG_MAX + 1];
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(FDS_PER_MSG * sizeof(int))];
	} ctl;
	struct iovec iov = { .iov_base = buf, .iov_len = MSG_MAX };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b,
			     .msg_controllen = sizeof(ctl.b) };
	struct ucred cred = { .pid = 0 };
	struct message m = { 0 };
	int fds[FDS_PER_MSG];
	unsigned int nr_fds = 0;
	ssize_t len = recvmsg(d->notify->sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC);

	if (len < 0)
		return errno == EINTR;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET)
			continue;
		if (c->cmsg_type == SCM_CREDENTIALS && c->cmsg_len == CMSG_LEN(sizeof(cred)))
			memcpy(&cred, CMSG_DATA(c), sizeof(cred));
		if (c->cmsg_type != SCM_RIGHTS)
			continue;
		for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++)
			memcpy(&fds[nr_fds++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
	}
	if (d->pid <= 0 || cred.pid != d->pid)
		xbd_warn("watch", "%s: notify message from pid %ld, not its daemon: ignored",
			 d->path, (long)cred.pid);
	else if ((mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || memchr(buf, 0, (size_t)len))
		xbd_warn("watch", "%s: notify message too long, or with NUL bytes: ignored",
			 d->path);
	else {
		buf[len] = '\0';
		parse(buf, &m);
		act(w, d, &m, fds, nr_fds);
	}
	for (unsigned int i = 0; i < nr_fds; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return true;
}

void watch_notify_drain(struct watcher *w, struct dev *d)
{
	/* Bounded, so that a daemon sending without pause cannot hold the watcher. */
	for (unsigned int i = 0; d->notify && i < 256 && receive_one(w, d); i++)
		;
}

int watch_notify_watchdog(struct watcher *w)
{
	uint64_t now = watch_now_ms(), next = UINT64_MAX;

	for (unsigned int i = 0; i < w->nr_devs; i++) {
		struct dev *d = &w->devs[i];
		struct watch_notify *n = d->notify;

		if (d->state != DEV_RUNNING || !n || !n->watchdog_at)
			continue;
		if (n->watchdog_at <= now) {
			xbd_err("watch", "%s: xenblkd pid %ld missed its watchdog (%u s): SIGABRT",
				d->path, (long)d->pid, w->o.watchdog_sec);
			kill(d->pid, SIGABRT);
			n->watchdog_at = 0;
		} else if (n->watchdog_at < next) {
			next = n->watchdog_at;
		}
	}
	return next == UINT64_MAX ? -1 : (int)(next - now > 60000 ? 60000 : next - now);
}
