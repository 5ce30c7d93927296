/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The watcher's device table and claim logic (see watch.h). A watch event names a path under
 * a kind's directory; the device it belongs to is claimed when its directory has a `state`,
 * is not offline, and is not ours already. Whoever holds the device's lock in the run
 * directory serves it: before starting a daemon, and after one exits, the watcher asks the
 * lock, so a daemon left running by a previous watcher is followed (pidfd) rather than
 * doubled, and a daemon that died is restarted while its device still exists.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/run.h"
#include "watch.h"
#include "xenblkd/log.h"

#define PIDFD_TAG WATCH_PIDFD_TAG

uint64_t watch_now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

static struct dev *find_dev(struct watcher *w, const char *path)
{
	for (unsigned int i = 0; i < w->nr_devs; i++)
		if (!strcmp(w->devs[i].path, path))
			return &w->devs[i];
	return NULL;
}

static struct dev *add_dev(struct watcher *w, const char *path)
{
	struct dev *d;

	if (w->nr_devs == w->cap_devs) {
		unsigned int cap = w->cap_devs ? w->cap_devs * 2 : 64;
		struct dev *n = realloc(w->devs, cap * sizeof(*n));

		if (!n)
			return NULL;
		w->devs = n;
		w->cap_devs = cap;
	}
	if (!w->devs)
		return NULL;
	d = &w->devs[w->nr_devs++];
	memset(d, 0, sizeof(*d));
	snprintf(d->path, sizeof(d->path), "%s", path);
	d->pidfd = -1;
	d->delay_ms = w->o.restart_delay_ms;
	return d;
}

static void forget(struct watcher *w, struct dev *d)
{
	if (d->pidfd >= 0)
		close(d->pidfd);
	watch_notify_close(w, d);
	xbd_debug("watch", "%s: forgotten", d->path);
	*d = w->devs[--w->nr_devs];
	/* The moved entry's epoll tags name its index: re-register them. */
	if (d < w->devs + w->nr_devs && d->pidfd >= 0) {
		struct epoll_event ev = { .events = EPOLLIN,
					  .data.u64 = PIDFD_TAG | (uint64_t)(d - w->devs) };

		epoll_ctl(w->epfd, EPOLL_CTL_MOD, d->pidfd, &ev);
	}
	if (d < w->devs + w->nr_devs)
		watch_notify_moved(w, d);
}

static char *read_key(struct watcher *w, const char *dir, const char *key)
{
	char path[WATCH_PATH_MAX + 32];
	unsigned int len;

	snprintf(path, sizeof(path), "%s/%s", dir, key);
	return xs_read(w->xs, XBT_NULL, path, &len);
}

/* A device the toolstack has created and not yet taken offline. */
static bool wants_backend(struct watcher *w, const char *path)
{
	char *state = read_key(w, path, "state");
	char *online = state ? read_key(w, path, "online") : NULL;
	bool yes = state && !(online && !strcmp(online, "0"));

	free(state);
	free(online);
	return yes;
}

static int lock_path(struct watcher *w, const char *dev, char *buf, size_t len)
{
	return xbd_run_file(buf, len, w->o.run_dir, dev, XBD_RUN_LOCK_SUFFIX);
}

/* Follow a daemon we did not start. 0, or -errno when it cannot be followed. */
static int adopt(struct watcher *w, struct dev *d, pid_t pid)
{
	struct epoll_event ev = { .events = EPOLLIN,
				  .data.u64 = PIDFD_TAG | (uint64_t)(d - w->devs) };
	int fd = pid > 0 ? (int)syscall(SYS_pidfd_open, pid, 0) : -1;

	if (fd < 0)
		return -errno;
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev)) {
		close(fd);
		return -errno;
	}
	d->state = DEV_ADOPTED;
	d->pid = pid;
	d->pidfd = fd;
	/* What our own daemon kept is not that one's: handing it to a later start could replay
	 * a stale journal. */
	watch_notify_drop_store(d, "another daemon serves it");
	xbd_info("watch", "%s: already served by xenblkd pid %ld", d->path, (long)pid);
	return 0;
}

static void backoff(struct watcher *w, struct dev *d, uint64_t delay)
{
	d->state = DEV_BACKOFF;
	d->restart_at = watch_now_ms() + delay;
	(void)w;
}

/* Start (or follow) the daemon for `d`. */
static void start(struct watcher *w, struct dev *d)
{
	char lock[4096];
	pid_t holder = 0;
	int r = lock_path(w, d->path, lock, sizeof(lock));

	if (r) {
		xbd_err("watch", "%s: %s", d->path, strerror(-r));
		d->state = DEV_GIVEN_UP;
		return;
	}
	if (xbd_run_lock_holder(lock, &holder) == 0) {
		/* Held but its pid not written yet: look again shortly. */
		if (holder <= 0 || adopt(w, d, holder))
			backoff(w, d, 100);
		return;
	}
	if (w->systemd) {
		r = watch_start_unit(w, d->path);
		d->state = r ? DEV_GIVEN_UP : DEV_UNIT;
		return;
	}
	r = watch_spawn_daemon(w, d);
	if (r) {
		xbd_err("watch", "%s: cannot start xenblkd: %s", d->path, strerror(-r));
		backoff(w, d, d->delay_ms);
		return;
	}
	d->state = DEV_RUNNING;
	if (w->o.crash_after && ++w->spawned == w->o.crash_after)
		raise(SIGKILL); /* tests: die in the middle of claiming */
}

static void consider(struct watcher *w, const char *path)
{
	struct dev *d = find_dev(w, path);

	if (d) {
		/* Known: only its disappearance matters, which a watch on it reports as itself. */
		if (d->state != DEV_RUNNING && d->state != DEV_ADOPTED &&
		    !wants_backend(w, path))
			forget(w, d);
		return;
	}
	if (!wants_backend(w, path))
		return;
	d = add_dev(w, path);
	if (!d)
		return;
	xbd_info("watch", "%s: claiming", path);
	start(w, d);
}

/* Every device under <kind>/<fe>, and the known ones there that may have gone. */
static void scan_frontend(struct watcher *w, const struct watch_kind *k, unsigned long fe)
{
	char dir[WATCH_PATH_MAX], dev[WATCH_PATH_MAX];
	unsigned int n = 0;
	char **ids;
	size_t len;

	if ((size_t)snprintf(dir, sizeof(dir), "%s/%lu", k->dir, fe) >= sizeof(dir))
		return;
	len = strlen(dir);
	ids = xs_directory(w->xs, XBT_NULL, dir, &n);
	for (unsigned int i = 0; ids && i < n; i++)
		if ((size_t)snprintf(dev, sizeof(dev), "%s/%s", dir, ids[i]) < sizeof(dev))
			consider(w, dev);
	free(ids);
	for (unsigned int i = 0; i < w->nr_devs; i++) {
		struct dev *d = &w->devs[i];
		unsigned int before = w->nr_devs;

		if (strncmp(d->path, dir, len) || d->path[len] != '/')
			continue;
		snprintf(dev, sizeof(dev), "%s", d->path);
		consider(w, dev);
		if (w->nr_devs < before)
			i--; /* forgotten: another entry moved into slot i */
	}
}

static bool dom_wanted(const struct watch_kind *k, unsigned long dom)
{
	if (!k->nr_doms)
		return true;
	for (unsigned int i = 0; i < k->nr_doms; i++)
		if (k->doms[i] == dom)
			return true;
	return false;
}

/* "<fe>" or "<fe>/<devid>..." under the kind's directory. */
static void event_in_kind(struct watcher *w, const struct watch_kind *k, const char *rest)
{
	char dev[WATCH_PATH_MAX];
	char *end;
	unsigned long fe = strtoul(rest, &end, 10);
	const char *slash;

	if (end == rest || (*end && *end != '/') || !dom_wanted(k, fe))
		return;
	if (!*end || !end[1]) {
		scan_frontend(w, k, fe); /* a whole frontend directory came or went */
		return;
	}
	slash = strchr(end + 1, '/');
	if ((size_t)snprintf(dev, sizeof(dev), "%s/%.*s", k->dir,
			     (int)(slash ? slash - rest : (long)strlen(rest)), rest) >= sizeof(dev))
		return;
	if (!slash || !strcmp(slash, "/state") || !strcmp(slash, "/online") || !find_dev(w, dev))
		consider(w, dev);
}

void watch_event(struct watcher *w, const char *path)
{
	for (unsigned int i = 0; i < w->o.nr_kinds; i++) {
		const struct watch_kind *k = &w->o.kinds[i];
		size_t n = strlen(k->dir);

		if (strncmp(path, k->dir, n) || (path[n] && path[n] != '/'))
			continue;
		if (!path[n] || !path[n + 1])
			watch_scan_kind(w, k);
		else
			event_in_kind(w, k, path + n + 1);
		return;
	}
}

void watch_scan_kind(struct watcher *w, const struct watch_kind *k)
{
	unsigned int n = 0;
	char **fes = xs_directory(w->xs, XBT_NULL, k->dir, &n);

	for (unsigned int i = 0; fes && i < n; i++) {
		char *end;
		unsigned long fe = strtoul(fes[i], &end, 10);

		if (end != fes[i] && !*end && dom_wanted(k, fe))
			scan_frontend(w, k, fe);
	}
	free(fes);
}

static bool held_by_other(struct watcher *w, struct dev *d)
{
	char lock[4096];
	pid_t holder = 0;

	return !lock_path(w, d->path, lock, sizeof(lock)) &&
	       !xbd_run_lock_holder(lock, &holder) && holder > 0 && !adopt(w, d, holder);
}

/* A daemon we followed or started is gone: who serves its VBD now? */
static void after_exit(struct watcher *w, struct dev *d, const char *how)
{
	uint64_t now = watch_now_ms();

	if (d->pidfd >= 0) {
		epoll_ctl(w->epfd, EPOLL_CTL_DEL, d->pidfd, NULL);
		close(d->pidfd);
		d->pidfd = -1;
	}
	d->pid = 0;
	if (!wants_backend(w, d->path)) {
		forget(w, d);
		return;
	}
	if (now - d->window_start > w->o.restart_window_ms) {
		d->window_start = now;
		d->restarts = 0;
		d->delay_ms = w->o.restart_delay_ms;
	}
	if (++d->restarts > w->o.max_restarts) {
		xbd_err("watch", "%s: xenblkd %s; restarted %u times in %u s: giving up",
			d->path, how, w->o.max_restarts, w->o.restart_window_ms / 1000);
		d->state = DEV_GIVEN_UP;
		/* As systemd flushes a failed unit's fd store. */
		watch_notify_drop_store(d, "restart limit reached");
		return;
	}
	xbd_warn("watch", "%s: xenblkd %s; restarting in %u ms", d->path, how, d->delay_ms);
	backoff(w, d, d->delay_ms);
	d->delay_ms = d->delay_ms * 2 > w->o.restart_delay_max_ms ? w->o.restart_delay_max_ms
								  : d->delay_ms * 2;
}

void watch_child_exiting(struct watcher *w, pid_t pid)
{
	for (unsigned int i = 0; i < w->nr_devs; i++)
		if (w->devs[i].state == DEV_RUNNING && w->devs[i].pid == pid)
			watch_notify_drain(w, &w->devs[i]);
}

void watch_child_exited(struct watcher *w, pid_t pid, int status)
{
	char how[64];

	for (unsigned int i = 0; i < w->nr_devs; i++) {
		struct dev *d = &w->devs[i];

		if (d->state != DEV_RUNNING || d->pid != pid)
			continue;
		if (WIFSIGNALED(status))
			snprintf(how, sizeof(how), "was killed by signal %d", WTERMSIG(status));
		else
			snprintf(how, sizeof(how), "exited with status %d", WEXITSTATUS(status));
		d->pid = 0;
		/* Another daemon had its lock (one a previous watcher started): follow that. */
		if (WIFEXITED(status) && !WEXITSTATUS(status) && held_by_other(w, d))
			return;
		after_exit(w, d, how);
		return;
	}
}

void watch_adopted_exited(struct watcher *w, unsigned int idx)
{
	if (idx < w->nr_devs && w->devs[idx].state == DEV_ADOPTED)
		after_exit(w, &w->devs[idx], "(not ours) exited");
}

void watch_restart_due(struct watcher *w)
{
	uint64_t now = watch_now_ms();

	for (unsigned int i = 0; i < w->nr_devs; i++) {
		struct dev *d = &w->devs[i];

		if (d->state == DEV_BACKOFF && d->restart_at <= now)
			start(w, d);
	}
}

int watch_next_timeout_ms(const struct watcher *w)
{
	uint64_t now = watch_now_ms(), next = UINT64_MAX;

	for (unsigned int i = 0; i < w->nr_devs; i++)
		if (w->devs[i].state == DEV_BACKOFF && w->devs[i].restart_at < next)
			next = w->devs[i].restart_at;
	if (next == UINT64_MAX)
		return -1;
	return next <= now ? 0 : (int)(next - now > 60000 ? 60000 : next - now);
}
