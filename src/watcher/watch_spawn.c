/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Starting a VBD's daemon: as our own child (supervise mode), or as systemd's template unit
 * instance xenblkd@<escaped path>.service with `systemctl start --no-block`, which only queues
 * the job so that one slow start never holds up the next claim.
 */
#include <errno.h>
#include <signal.h>
#include <spawn.h>
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

int watch_spawn_daemon(struct watcher *w, const char *path, pid_t *pid)
{
	const char *argv[WATCH_MAX_ARGS + 12];
	unsigned int n = 0;
	int r;

	argv[n++] = w->o.xenblkd;
	argv[n++] = "--backend-path";
	argv[n++] = path;
	if (w->o.config) {
		argv[n++] = "--config";
		argv[n++] = w->o.config;
	}
	argv[n++] = "--run-dir";
	argv[n++] = w->o.run_dir;
	for (unsigned int i = 0; i < w->o.nr_daemon_args; i++)
		argv[n++] = w->o.daemon_args[i];
	argv[n] = NULL;
	r = spawn(argv, pid);
	if (!r)
		xbd_info("watch", "%s: started xenblkd pid %ld", path, (long)*pid);
	return r;
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
