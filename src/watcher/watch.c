/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xenblkd-watch's main loop (see watch.h): xenstore watches on the configured kinds'
 * directories, SIGCHLD for the daemons it supervises, pidfds for the daemons it follows, and a
 * timeout for the restarts it owes. Registering a watch fires it once, so the first events are
 * a full scan: that is how a restarted watcher finds the VBDs it has not seen.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/run.h"
#include "watch.h"
#include "xenblkd/log.h"

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#else
static int sd_booted(void) { return 0; }
static int sd_notify(int u, const char *s) { (void)u; (void)s; return 0; }
#endif

#define TAG_XS 1
#define TAG_SIG 2
#define DOM0_QEMU_PIDFILE "/run/qemu-dom0.pid"

static long self_domid(struct watcher *w)
{
	unsigned int len;
	char *s;
	long id = 0;

	if (w->o.self_domid >= 0)
		return w->o.self_domid;
	s = xs_read(w->xs, XBT_NULL, "domid", &len); /* relative: our own domain's */
	if (s)
		id = strtol(s, NULL, 10);
	free(s);
	return id;
}

static bool serves_local_qdisk(const struct watcher *w)
{
	for (unsigned int i = 0; i < w->o.nr_kinds; i++) {
		const struct watch_kind *k = &w->o.kinds[i];

		if (strcmp(k->name, "qdisk"))
			continue;
		if (!k->nr_doms)
			return true;
		for (unsigned int d = 0; d < k->nr_doms; d++)
			if (k->doms[d] == 0)
				return true;
	}
	return false;
}

/* libxl refuses qdisk disks for dom0 unless the "device model" of dom0 has a pid. */
static void write_device_model_pid(struct watcher *w, long self)
{
	char path[64], pid[24], *old;
	unsigned int len;

	snprintf(path, sizeof(path), "/local/domain/%ld/image/device-model-pid", self);
	old = xs_read(w->xs, XBT_NULL, path, &len);
	if (old && kill((pid_t)strtol(old, NULL, 10), 0) == 0) {
		free(old);
		return; /* a live one is there (ours from before a restart, or a real QEMU) */
	}
	free(old);
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	if (!xs_write(w->xs, XBT_NULL, path, pid, (unsigned int)strlen(pid)))
		xbd_warn("watch", "cannot write %s: %s", path, strerror(errno));
}

static void warn_dom0_qemu(void)
{
	FILE *f = fopen(DOM0_QEMU_PIDFILE, "re");
	long pid = 0;

	if (!f)
		return;
	if (fscanf(f, "%ld", &pid) == 1 && pid > 0 && kill((pid_t)pid, 0) == 0)
		xbd_err("watch", "the dom0 QEMU (pid %ld, %s) also serves backend/qdisk/0: both "
			"would claim the same devices; stop it (see xenblkd-watch(8))", pid,
			DOM0_QEMU_PIDFILE);
	fclose(f);
}

static int add_fd(int epfd, int fd, uint64_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

static int setup(struct watcher *w)
{
	sigset_t set;
	long self;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	w->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	w->xs = xs_open(0);
	if (w->sigfd < 0 || w->epfd < 0 || !w->xs) {
		xbd_err("watch", "cannot start: %s", w->xs ? strerror(errno) : "no xenstore");
		return -EIO;
	}
	self = self_domid(w);
	for (unsigned int i = 0; i < w->o.nr_kinds; i++) {
		struct watch_kind *k = &w->o.kinds[i];
		char name[sizeof(k->name)];

		memcpy(name, k->name, sizeof(name));
		snprintf(k->dir, sizeof(k->dir), "/local/domain/%ld/backend/%s", self, name);
		if (!xs_watch(w->xs, k->dir, k->name)) {
			xbd_err("watch", "cannot watch %s: %s", k->dir, strerror(errno));
			return -EIO;
		}
		xbd_info("watch", "watching %s%s", k->dir, k->nr_doms ? " (some frontends)" : "");
	}
	if (w->o.device_model_pid && serves_local_qdisk(w)) {
		write_device_model_pid(w, self);
		warn_dom0_qemu();
	}
	if (add_fd(w->epfd, xs_fileno(w->xs), TAG_XS) || add_fd(w->epfd, w->sigfd, TAG_SIG))
		return -errno;
	return 0;
}

static void drain_watches(struct watcher *w)
{
	char **vec;

	while ((vec = xs_check_watch(w->xs))) {
		watch_event(w, vec[XS_WATCH_PATH]);
		free(vec);
	}
}

/* True when asked to stop. */
static bool take_signals(struct watcher *w)
{
	struct signalfd_siginfo si;
	bool stop = false;
	int status;
	pid_t pid;

	while (read(w->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
			stop = true;
	for (;;) {
		siginfo_t info = { .si_pid = 0 };

		if (waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) || info.si_pid <= 0)
			break;
		pid = info.si_pid;
		watch_child_exiting(w, pid);
		if (waitpid(pid, &status, 0) == pid)
			watch_child_exited(w, pid, status);
	}
	return stop;
}

static int next_timeout_ms(struct watcher *w)
{
	int a = watch_next_timeout_ms(w), b = watch_notify_watchdog(w);

	return a < 0 ? b : b < 0 ? a : a < b ? a : b;
}

static int loop(struct watcher *w)
{
	struct epoll_event ev[16];

	for (;;) {
		int n = epoll_wait(w->epfd, ev, 16, next_timeout_ms(w));

		if (n < 0 && errno != EINTR)
			return -errno;
		for (int i = 0; i < n; i++) {
			uint64_t tag = ev[i].data.u64;

			if (tag == TAG_XS)
				drain_watches(w);
			else if (tag == TAG_SIG && take_signals(w))
				return 0;
			else if ((tag & WATCH_NOTIFY_TAG) && (tag & 0xffffffffu) < w->nr_devs)
				watch_notify_drain(w, &w->devs[tag & 0xffffffffu]);
			else if (tag & WATCH_PIDFD_TAG)
				watch_adopted_exited(w, (unsigned int)(tag & 0xffffffffu));
		}
		watch_restart_due(w);
	}
}

int main(int argc, char **argv)
{
	static struct watcher w;
	int r = watch_parse(argc, argv, &w.o);

	if (r)
		return r > 0 ? 0 : 2;
	/* For the unit's ExecStartPre: stop the dom0 QEMU only if we take its qdisk:0 devices. */
	if (w.o.query_local_qdisk)
		return serves_local_qdisk(&w) ? 0 : 1;
	if (!w.o.run_dir)
		w.o.run_dir = xbd_run_dir_default(true);
	w.systemd = w.o.mode == WATCH_SYSTEMD || (w.o.mode == WATCH_AUTO && sd_booted() > 0);
	xbd_info("watch", "starting: %s mode, run directory %s",
		 w.systemd ? "systemd" : "supervise", w.o.run_dir);
	r = xbd_run_mkdir(w.o.run_dir);
	if (r) {
		xbd_err("watch", "--run-dir %s: %s", w.o.run_dir, strerror(-r));
		return 1;
	}
	r = setup(&w);
	if (!r) {
		drain_watches(&w); /* the scan the registrations fired */
		sd_notify(0, "READY=1");
		r = loop(&w);
	}
	/* The daemons keep serving their guests: a watcher restart must not disturb them. */
	sd_notify(0, "STOPPING=1");
	xbd_info("watch", "stopping (%u VBDs known; their daemons keep running)", w.nr_devs);
	if (w.xs)
		xs_close(w.xs);
	return r ? 1 : 0;
}
