/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The export's listener (see xenblkd/export.h): two sockets, one accepting thread, a fixed
 * table of client slots (slot 0 for the device model's read-write socket, the rest for the
 * read-only socket's readers). A client beyond the slots is refused at once (the socket is
 * closed before the handshake), so the clients' threads, buffers and queues are bounded. The
 * pause gate and the disk switch happen here, on the control thread.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "export_internal.h"
#include "xenblkd/log.h"

static void reap(struct export_conn *c)
{
	if (!c->used || !atomic_load(&c->finished))
		return;
	pthread_join(c->thread, NULL);
	close(c->fd);
	c->fd = -1;
	c->used = false;
}

/* A free slot for a client of that socket, or NULL. */
static struct export_conn *free_slot(struct xbd_export *e, bool ro)
{
	unsigned int first = ro ? 1 : 0, end = ro ? EXPORT_SLOTS : 1;

	for (unsigned int i = first; i < end; i++) {
		reap(&e->conns[i]);
		if (!e->conns[i].used)
			return &e->conns[i];
	}
	return NULL;
}

static void start_client(struct xbd_export *e, struct export_conn *c, int fd, bool ro)
{
	*c = (struct export_conn){ .e = e, .fd = fd, .ro_socket = ro, .id = ++e->next_id };
	if (pthread_create(&c->thread, NULL, xbd_export_conn_main, c)) {
		xbd_warn(e->prefix, "no thread for a client of %s", ro ? e->ro_path : e->rw_path);
		close(fd);
		c->fd = -1;
		return;
	}
	c->used = true;
}

/*
 * A client that has gone (it hung up, or its thread shut the socket down) but whose thread
 * is still finishing: give it a moment, so that a device model reconnecting at once is not
 * refused for its own old connection. Only this thread changes `used` and `fd`, so they
 * are read without the lock, which the finishing thread needs.
 */
static void settle(struct xbd_export *e, bool ro)
{
	unsigned int first = ro ? 1 : 0, end = ro ? EXPORT_SLOTS : 1;

	for (unsigned int i = first; i < end; i++) {
		struct export_conn *c = &e->conns[i];
		struct pollfd p = { .fd = c->fd, .events = POLLRDHUP };

		if (!c->used || atomic_load(&c->finished) || poll(&p, 1, 0) != 1 ||
		    !(p.revents & (POLLRDHUP | POLLHUP | POLLERR)))
			continue;
		for (int t = 0; t < EXPORT_SETTLE_MS && !atomic_load(&c->finished); t += 10)
			poll(NULL, 0, 10);
	}
}

static void take_client(struct xbd_export *e, int lfd, bool ro)
{
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	struct export_conn *c;

	if (fd < 0)
		return;
	settle(e, ro);
	/* Under the lock: xbd_export_set_disk() walks the slots from the control thread. */
	pthread_mutex_lock(&e->lock);
	c = free_slot(e, ro);
	if (c)
		start_client(e, c, fd, ro);
	pthread_mutex_unlock(&e->lock);
	if (!c) {
		xbd_info(e->prefix, "refused a client of %s: %s", ro ? e->ro_path : e->rw_path,
			 ro ? "too many readers" : "it has a read-write client already");
		close(fd);
	}
}

static void *acceptor(void *arg)
{
	struct xbd_export *e = arg;
	struct pollfd p[3] = {
		{ .fd = e->rw_fd, .events = POLLIN },
		{ .fd = e->ro_fd, .events = POLLIN },
		{ .fd = e->stop_fd, .events = POLLIN },
	};

	for (;;) {
		if (poll(p, 3, -1) < 0)
			continue;
		if (p[2].revents)
			return NULL;
		if (p[0].revents)
			take_client(e, e->rw_fd, false);
		if (p[1].revents)
			take_client(e, e->ro_fd, true);
	}
}

static int set_paths(struct xbd_export *e, const struct xbd_export_config *cfg)
{
	size_t max = sizeof(e->rw_path);

	if ((size_t)snprintf(e->dir, max, "%s", cfg->dir) >= max ||
	    (size_t)snprintf(e->name, sizeof(e->name), "%s", cfg->name) >= sizeof(e->name) ||
	    (size_t)snprintf(e->ro_name, sizeof(e->ro_name), "%s-ro", cfg->name) >=
		    sizeof(e->ro_name) ||
	    (size_t)snprintf(e->rw_path, max, "%s/%s.sock", cfg->dir, cfg->name) >= max ||
	    (size_t)snprintf(e->ro_path, max, "%s/%s-ro.sock", cfg->dir, cfg->name) >= max)
		return -ENAMETOOLONG;
	snprintf(e->prefix, sizeof(e->prefix), "%s nbd", cfg->log_prefix ? cfg->log_prefix : "");
	return 0;
}

static int listen_both(struct xbd_export *e)
{
	int r = xbd_export_dir(e->dir);

	if (!r)
		r = xbd_export_listen(e->rw_path, &e->rw_fd);
	if (!r)
		r = xbd_export_listen(e->ro_path, &e->ro_fd);
	if (!r) {
		e->stop_fd = eventfd(0, EFD_CLOEXEC);
		r = e->stop_fd < 0 ? -errno : 0;
	}
	return r;
}

int xbd_export_start(const struct xbd_export_config *cfg, struct xbd_export **out)
{
	struct xbd_export *e = calloc(1, sizeof(*e));
	int r;

	if (!e)
		return -ENOMEM;
	e->rw_fd = e->ro_fd = e->stop_fd = -1;
	e->disk = cfg->disk;
	e->vbd_readonly = cfg->readonly;
	pthread_mutex_init(&e->lock, NULL);
	pthread_cond_init(&e->cond, NULL);
	for (unsigned int i = 0; i < EXPORT_SLOTS; i++)
		e->conns[i].fd = -1;
	r = set_paths(e, cfg);
	if (!r)
		r = listen_both(e);
	if (!r) {
		r = -pthread_create(&e->acceptor, NULL, acceptor, e);
		e->acceptor_started = r == 0;
	}
	if (r) {
		xbd_export_stop(e);
		return r;
	}
	xbd_info(e->prefix, "exporting on %s (%s) and %s (read-only)", e->rw_path,
		 cfg->readonly ? "read-only" : "read-write", e->ro_path);
	*out = e;
	return 0;
}

static void close_listener(int *fd, const char *path)
{
	if (*fd < 0)
		return;
	close(*fd);
	*fd = -1;
	unlink(path);
}

void xbd_export_stop(struct xbd_export *e)
{
	uint64_t one = 1;

	if (!e)
		return;
	pthread_mutex_lock(&e->lock);
	e->stopping = true;
	pthread_cond_broadcast(&e->cond);
	pthread_mutex_unlock(&e->lock);
	if (e->acceptor_started) {
		if (write(e->stop_fd, &one, sizeof(one)) != sizeof(one))
			xbd_warn(e->prefix, "cannot wake the listener");
		pthread_join(e->acceptor, NULL);
	}
	close_listener(&e->rw_fd, e->rw_path);
	close_listener(&e->ro_fd, e->ro_path);
	for (unsigned int i = 0; i < EXPORT_SLOTS; i++) {
		struct export_conn *c = &e->conns[i];

		if (!c->used)
			continue;
		shutdown(c->fd, SHUT_RDWR); /* a client thread waiting in recv() returns */
		pthread_join(c->thread, NULL);
		close(c->fd);
		c->used = false;
	}
	if (e->stop_fd >= 0)
		close(e->stop_fd);
	pthread_cond_destroy(&e->cond);
	pthread_mutex_destroy(&e->lock);
	free(e);
}

int xbd_export_pause(struct xbd_export *e, int timeout_ms)
{
	struct timespec until;
	int r = 0;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&e->lock);
	e->paused = true;
	while (e->busy && r == 0)
		r = timeout_ms < 0 ? pthread_cond_wait(&e->cond, &e->lock)
				   : pthread_cond_timedwait(&e->cond, &e->lock, &until);
	pthread_mutex_unlock(&e->lock);
	return r ? -ETIMEDOUT : 0;
}

void xbd_export_set_disk(struct xbd_export *e, struct xbd_disk *disk)
{
	pthread_mutex_lock(&e->lock);
	/* Paused and idle (xbd_export_pause): no client thread touches its queue now. */
	while (e->busy)
		pthread_cond_wait(&e->cond, &e->lock);
	for (unsigned int i = 0; i < EXPORT_SLOTS; i++) {
		struct export_conn *c = &e->conns[i];

		if (c->used && c->q && c->q_disk != disk) {
			xbd_sq_close(c->q);
			c->q = NULL;
			c->q_disk = NULL;
		}
	}
	e->disk = disk;
	pthread_mutex_unlock(&e->lock);
}

void xbd_export_resume(struct xbd_export *e)
{
	pthread_mutex_lock(&e->lock);
	e->paused = false;
	pthread_cond_broadcast(&e->cond);
	pthread_mutex_unlock(&e->lock);
}

const char *xbd_export_rw_path(const struct xbd_export *e)
{
	return e->rw_path;
}

const char *xbd_export_ro_path(const struct xbd_export *e)
{
	return e->ro_path;
}
