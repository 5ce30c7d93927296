/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Upgrade in place (see upgrade.h). The new binary is asked which journal versions it reads
 * before anything is stopped: an older or incompatible one is refused while the rings still
 * run. The exec keeps the environment (NOTIFY_SOCKET: the supervisor sees the same pid send
 * READY=1 again) and closes every fd (all are CLOEXEC), so the new image opens the Xen
 * handles, the image and the journal again, as after a crash.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "upgrade.h"
#include "xenblkd/journal.h"

/* How long the checked binary may take to answer, and then to exit. It is run before the rings
 * are drained, so this wait costs the guest nothing. On real Xen under TCG (the lab) merely
 * loading xenblkd with librbd and libnbd took over 5 s, and the check was refused. */
#define CHECK_TIMEOUT_MS 30000

static char **saved_argv;
static char self_path[PATH_MAX];

void xbd_upgrade_init(int argc, char **argv)
{
	ssize_t n = readlink("/proc/self/exe", self_path, sizeof(self_path) - 1);

	self_path[n > 0 ? n : 0] = '\0';
	(void)argc;
	saved_argv = argv; /* main's argv lives as long as the process */
}

int xbd_upgrade_print_journal_versions(void)
{
	/* This binary reads its own version and the one before (docs/restart.md, Versions). */
	if (XBD_JOURNAL_VERSION > 1)
		printf("%u %u\n", XBD_JOURNAL_VERSION, XBD_JOURNAL_VERSION - 1);
	else
		printf("%u\n", XBD_JOURNAL_VERSION);
	return 0;
}

const char *xbd_upgrade_default_binary(void)
{
	return self_path;
}

/*
 * The checked binary has printed its answer (or closed its output): wait for its exit, up to
 * CHECK_TIMEOUT_MS. Its output ends before its exit does, and on a slow host (TCG, a loaded
 * dom0) the gap was long enough that killing it at once refused a good binary. True when it
 * exited on its own; one that hangs is killed.
 */
static bool reap_bounded(pid_t pid, int *status)
{
	struct timespec tick = { .tv_nsec = 10 * 1000000L };
	pid_t r;

	for (unsigned int ms = 0; ms < CHECK_TIMEOUT_MS; ms += 10) {
		r = waitpid(pid, status, WNOHANG);
		if (r == pid)
			return WIFEXITED(*status);
		if (r < 0 && errno != EINTR)
			return false;
		nanosleep(&tick, NULL);
	}
	kill(pid, SIGKILL);
	while (waitpid(pid, status, 0) < 0 && errno == EINTR)
		;
	return false;
}

/* The child's stdout into buf (NUL-terminated); its exit status, or -errno. */
static int run_capture(const char *binary, char *buf, size_t len)
{
	int p[2], status = 0, n = 0;
	struct pollfd pfd;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid == 0) {
		char *const argv[] = { (char *)binary, (char *)"--journal-version", NULL };
		int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

		dup2(p[1], STDOUT_FILENO);
		if (null >= 0)
			dup2(null, STDERR_FILENO);
		execv(binary, argv);
		_exit(127);
	}
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		return -errno;
	}
	pfd = (struct pollfd){ .fd = p[0], .events = POLLIN };
	while (n < (int)len - 1 && poll(&pfd, 1, CHECK_TIMEOUT_MS) > 0) {
		ssize_t r = read(p[0], buf + n, len - 1 - (size_t)n);

		if (r <= 0)
			break;
		n += (int)r;
	}
	buf[n] = '\0';
	close(p[0]);
	return reap_bounded(pid, &status) ? WEXITSTATUS(status) : -ETIMEDOUT;
}

int xbd_upgrade_check(const char *binary, char *why, size_t len)
{
	char out[128], *end;
	int rc;

	if (binary[0] != '/' || access(binary, X_OK)) {
		snprintf(why, len, "%s is not an executable absolute path", binary);
		return -ENOEXEC;
	}
	rc = run_capture(binary, out, sizeof(out));
	if (rc) {
		snprintf(why, len, "%s --journal-version %s: it cannot resume our journal", binary,
			 rc == -ETIMEDOUT ? "did not answer" : "failed");
		return -ENOEXEC;
	}
	for (char *p = out; *p; p = end) {
		unsigned long v = strtoul(p, &end, 10);

		if (end == p)
			break;
		if (v == XBD_JOURNAL_VERSION)
			return 0;
	}
	snprintf(why, len, "%s reads journal versions '%.*s', not ours (%u)", binary,
		 (int)strcspn(out, "\n"), out, XBD_JOURNAL_VERSION);
	return -EPROTO;
}

int xbd_upgrade_exec(const char *binary, int journal_fd, const char *journal_name)
{
	char pid[24];
	int e;

	if (journal_fd < 0) {
		execv(binary, saved_argv);
		return -errno;
	}
	/* From here the store holds the copy, which this image no longer writes: whatever
	 * fails, going on would make it stale, so we end for the supervisor to restart us. */
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	if (setenv("LISTEN_FDS", "1", 1) || setenv("LISTEN_FDNAMES", journal_name, 1) ||
	    setenv("LISTEN_PID", pid, 1) ||
	    /* The other threads are paused; fd 3 is whatever it is, closed by the exec. */
	    (journal_fd != 3 && dup2(journal_fd, 3) < 0) ||
	    (journal_fd == 3 && fcntl(3, F_SETFD, 0) < 0))
		e = errno;
	else {
		execv(binary, saved_argv);
		e = errno;
	}
	fprintf(stderr, "xenblkd: upgrade: exec %s failed after the journal was handed over: "
		"%s; exiting for the supervisor to restart us\n", binary, strerror(e));
	_exit(1);
}
