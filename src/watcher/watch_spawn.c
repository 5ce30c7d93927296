/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Starting a VBD's daemon: as our own child (supervise mode), or as systemd's template unit
 * instance xenblkd@<escaped path>.service with `systemctl start --no-block`, which only queues
 * the job so that one slow start never holds up the next claim. Our own child gets what a
 * systemd service gets: its own notify socket, the fds it kept (LISTEN_FDS), a watchdog.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/escape.h"
#include "watch.h"
#include "xenblkd/log.h"

extern char **environ;

/* The child starts with the signals we block for our signalfd unblocked again. */
static int spawn(const char *const *argv, pid_t *pid)
{
	posix_spawnattr_t attr;
	sigset_t none;
	int r;

	sigemptyset(&none);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
	r = posix_spawnp(pid, argv[0], NULL, &attr, (char *const *)argv, environ);
	posix_spawnattr_destroy(&attr);
	return -r;
}

/* The child's environment: ours without the supervisor variables meant for us, plus its own
 * NOTIFY_SOCKET, FDSTORE, WATCHDOG_USEC and LISTEN_FDS/LISTEN_FDNAMES. LISTEN_PID and
 * WATCHDOG_PID hold blanks the child fills with its pid after fork (pid_slot). */
struct child_env {
	char **env;
	unsigned int n;
	char *pid_slot[2];
	unsigned int nr_slots;
};

static bool ours(const char *e)
{
	static const char *const names[] = { "NOTIFY_SOCKET=", "LISTEN_PID=", "LISTEN_FDS=",
					     "LISTEN_FDNAMES=", "WATCHDOG_USEC=", "WATCHDOG_PID=",
					     "FDSTORE=" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strncmp(e, names[i], strlen(names[i])))
			return true;
	return false;
}

static int env_add(struct child_env *c, char *s)
{
	if (!s)
		return -ENOMEM;
	c->env[c->n++] = s;
	return 0;
}

static char *names_joined(const struct watch_notify *nt)
{
	size_t len = 1;
	char *s;

	for (unsigned int i = 0; i < nt->nr_fds; i++)
		len += strlen(nt->fds[i].name) + 1;
	s = malloc(len + sizeof("LISTEN_FDNAMES="));
	if (!s)
		return NULL;
	strcpy(s, "LISTEN_FDNAMES=");
	for (unsigned int i = 0; i < nt->nr_fds; i++) {
		if (i)
			strcat(s, ":");
		strcat(s, nt->fds[i].name);
	}
	return s;
}

static int env_printf(struct child_env *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int env_printf(struct child_env *c, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	return r < 0 ? -ENOMEM : env_add(c, s);
}

static int pid_var(struct child_env *c, const char *name)
{
	int r = env_printf(c, "%s=%20s", name, "");

	if (!r)
		c->pid_slot[c->nr_slots++] = c->env[c->n - 1] + strlen(name) + 1;
	return r;
}

static int build_env(struct watcher *w, const struct watch_notify *nt, struct child_env *c)
{
	unsigned int total = 0;
	int r = 0;

	while (environ[total])
		total++;
	c->env = calloc(total + 8, sizeof(char *));
	if (!c->env)
		return -ENOMEM;
	for (unsigned int i = 0; !r && i < total; i++)
		if (!ours(environ[i]))
			r = env_add(c, strdup(environ[i]));
	if (!r)
		r = env_printf(c, "NOTIFY_SOCKET=%s", nt->addr);
	if (!r && w->o.fdstore_max)
		r = env_printf(c, "FDSTORE=%u", w->o.fdstore_max);
	if (!r && w->o.watchdog_sec) {
		r = env_printf(c, "WATCHDOG_USEC=%llu", w->o.watchdog_sec * 1000000ull);
		if (!r)
			r = pid_var(c, "WATCHDOG_PID");
	}
	if (!r && nt->nr_fds) {
		r = env_printf(c, "LISTEN_FDS=%u", nt->nr_fds);
		if (!r)
			r = env_add(c, names_joined(nt));
		if (!r)
			r = pid_var(c, "LISTEN_PID");
	}
	return r;
}

static void free_env(struct child_env *c)
{
	for (unsigned int i = 0; c->env && i < c->n; i++)
		free(c->env[i]);
	free(c->env);
}

/* In the child, after fork: async-signal-safe only. */
static void write_pid(char *slot, pid_t pid)
{
	char digits[24];
	int n = 0;

	do
		digits[n++] = (char)('0' + pid % 10);
	while ((pid /= 10) > 0);
	for (int i = 0; i < n; i++)
		slot[i] = digits[n - 1 - i];
	slot[n] = '\0';
}

/* The kept fds to 3, 4, ... in their order (through copies above them, so that none
 * overwrites another on the way), without CLOEXEC; then exec. Never returns. */
static void child_exec(const char *const *argv, struct child_env *c, const struct watch_notify *nt,
		       int err_pipe)
{
	int tmp[256], e;
	sigset_t none;

	for (unsigned int i = 0; i < nt->nr_fds; i++)
		if ((tmp[i] = fcntl(nt->fds[i].fd, F_DUPFD_CLOEXEC, 3 + (int)nt->nr_fds)) < 0)
			goto fail;
	for (unsigned int i = 0; i < nt->nr_fds; i++)
		if (dup2(tmp[i], 3 + (int)i) < 0)
			goto fail;
	for (unsigned int i = 0; i < c->nr_slots; i++)
		write_pid(c->pid_slot[i], getpid());
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execvpe(argv[0], (char *const *)argv, c->env);
fail:
	e = errno;
	if (write(err_pipe, &e, sizeof(e)) < 0)
		_exit(126);
	_exit(127);
}

/* fork rather than posix_spawn: LISTEN_PID must name the child, known only after fork. An
 * exec failure comes back through a CLOEXEC pipe, as posix_spawn would report it. */
static int spawn_supervised(struct watcher *w, struct dev *d, const char *const *argv)
{
	struct child_env c = { 0 };
	int p[2], e = 0, r = build_env(w, d->notify, &c), status;
	pid_t pid;

	if (!r && pipe2(p, O_CLOEXEC))
		r = -errno;
	if (r) {
		free_env(&c);
		return r;
	}
	pid = fork();
	if (pid == 0)
		child_exec(argv, &c, d->notify, p[1]);
	close(p[1]);
	if (pid > 0 && read(p[0], &e, sizeof(e)) == (ssize_t)sizeof(e)) {
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		r = -e;
	} else if (pid < 0) {
		r = -errno;
	}
	close(p[0]);
	free_env(&c);
	if (!r)
		d->pid = pid;
	return r;
}

int watch_spawn_daemon(struct watcher *w, struct dev *d)
{
	const char *argv[WATCH_MAX_ARGS + 12];
	unsigned int n = 0;
	int r;

	argv[n++] = w->o.xenblkd;
	argv[n++] = "--backend-path";
	argv[n++] = d->path;
	if (w->o.config) {
		argv[n++] = "--config";
		argv[n++] = w->o.config;
	}
	argv[n++] = "--run-dir";
	argv[n++] = w->o.run_dir;
	for (unsigned int i = 0; i < w->o.nr_daemon_args; i++)
		argv[n++] = w->o.daemon_args[i];
	argv[n] = NULL;
	r = watch_notify_open(w, d);
	if (!r)
		r = spawn_supervised(w, d, argv);
	if (r)
		return r;
	watch_notify_started(w, d);
	xbd_info("watch", "%s: started xenblkd pid %ld%s", d->path, (long)d->pid,
		 d->notify->nr_fds ? ", with the fds kept for it" : "");
	return 0;
}

int watch_start_unit(struct watcher *w, const char *path)
{
	char esc[256], unit[320];
	const char *at = strchr(w->o.unit, '@');
	const char *argv[] = { w->o.systemctl, "start", "--no-block", unit, NULL };
	pid_t pid;
	int status, r;

	if (!at || xbd_escape_path(path, esc, sizeof(esc)))
		return -EINVAL;
	snprintf(unit, sizeof(unit), "%.*s@%s%s", (int)(at - w->o.unit), w->o.unit, esc, at + 1);
	r = spawn(argv, &pid);
	if (r)
		return r;
	/* --no-block returns once the job is queued; our SIGCHLD handler must not reap it. */
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		xbd_err("watch", "%s: systemctl start %s failed", path, unit);
		return -EIO;
	}
	xbd_info("watch", "%s: started %s", path, unit);
	return 0;
}
