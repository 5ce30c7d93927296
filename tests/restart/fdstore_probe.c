/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A stand-in daemon for the fd-store tests: it keeps a memfd in its supervisor's fd store
 * through the daemon's own src/daemon/fdstore.c, the way a journal is kept, and crashes.
 * Each start takes the memfd back (or creates it when none came back), checks the pattern
 * written at creation, counts one more generation in it, puts it again (a store must not
 * keep the same file twice), writes one line to $PROBE_LOG, and then:
 *  - at generation $PROBE_REMOVE_AT (once, marked by $PROBE_LOG.removed): removes it from
 *    the store (FDSTOREREMOVE=1) and dies, so the next start must find nothing;
 *  - at generation $PROBE_TARGET: exits 0, or with PROBE_AT_TARGET=wait waits to be killed;
 *  - otherwise dies by SIGKILL.
 * Before the put, with PROBE_FORGE=1, a process of its own (not the supervised pid) asks the
 * store to remove the fd: a supervisor that checks the sender's credentials ignores it.
 * Any other argument (the watcher's --backend-path ...) is ignored. Exit 1 on a mismatch.
 *
 * Log line: "gen N ino I created|taken pid P watchdog USEC|-/ours|not-ours" (WATCHDOG_USEC,
 * and whether WATCHDOG_PID names this process).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/fdstore.h"

#define PATTERN_OFF 4096
#define PATTERN_LEN 65536

static const char *env_or(const char *name, const char *dflt)
{
	const char *v = getenv(name);

	return v && *v ? v : dflt;
}

static uint8_t pattern_byte(size_t i)
{
	return (uint8_t)(i * 131 + 7);
}

static int create(void)
{
	uint8_t buf[PATTERN_LEN];
	int fd = memfd_create("probe-journal", MFD_CLOEXEC);

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = pattern_byte(i);
	if (fd < 0 || ftruncate(fd, PATTERN_OFF + PATTERN_LEN) ||
	    pwrite(fd, buf, sizeof(buf), PATTERN_OFF) != (ssize_t)sizeof(buf))
		return -1;
	return fd;
}

static bool pattern_ok(int fd)
{
	uint8_t buf[PATTERN_LEN];

	if (pread(fd, buf, sizeof(buf), PATTERN_OFF) != (ssize_t)sizeof(buf))
		return false;
	for (size_t i = 0; i < sizeof(buf); i++)
		if (buf[i] != pattern_byte(i))
			return false;
	return true;
}

/* A forged removal from another pid; waits for it to be sent. */
static void forge_remove(const char *name)
{
	pid_t pid = fork();
	int status;

	if (pid == 0)
		_exit(xbd_fdstore_remove(name) ? 1 : 0);
	if (pid > 0)
		waitpid(pid, &status, 0);
}

static int fail(const char *what)
{
	fprintf(stderr, "fdstore-probe: %s\n", what);
	return 1;
}

int main(void)
{
	const char *name = env_or("PROBE_NAME", "journal-vbd-1-51712");
	const char *log_path = env_or("PROBE_LOG", "/dev/null");
	unsigned long target = strtoul(env_or("PROBE_TARGET", "5"), NULL, 10);
	unsigned long remove_at = strtoul(env_or("PROBE_REMOVE_AT", "0"), NULL, 10);
	char marker[4096];
	uint32_t gen = 0;
	struct stat st;
	FILE *log;
	int fd = xbd_fdstore_take(name);
	bool created = fd == -ENOENT;

	if (!xbd_fdstore_available())
		return fail("no fd store (NOTIFY_SOCKET, FDSTORE)");
	if (created)
		fd = create();
	if (fd < 0)
		return fail("no memfd: take failed or create failed");
	if (!pattern_ok(fd))
		return fail("the memfd's pattern is not what was written");
	if (!created && pread(fd, &gen, sizeof(gen), 0) != (ssize_t)sizeof(gen))
		return fail("cannot read the generation");
	gen++;
	if (pwrite(fd, &gen, sizeof(gen), 0) != (ssize_t)sizeof(gen) || fstat(fd, &st))
		return fail("cannot write the generation");
	if (!strcmp(env_or("PROBE_FORGE", "0"), "1"))
		forge_remove(name);
	if (xbd_fdstore_put(name, fd))
		return fail("put failed");
	log = fopen(log_path, "ae");
	if (!log)
		return fail("cannot open PROBE_LOG");
	fprintf(log, "gen %u ino %lu %s pid %ld watchdog %s/%s\n", gen, (unsigned long)st.st_ino,
		created ? "created" : "taken", (long)getpid(), env_or("WATCHDOG_USEC", "-"),
		strtol(env_or("WATCHDOG_PID", "0"), NULL, 10) == getpid() ? "ours" : "not-ours");
	fclose(log);
	snprintf(marker, sizeof(marker), "%s.removed", log_path);
	if (gen == remove_at && access(marker, F_OK)) {
		close(open(marker, O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
		if (xbd_fdstore_remove(name))
			return fail("remove failed");
	} else if (gen >= target) {
		if (strcmp(env_or("PROBE_AT_TARGET", "exit"), "wait"))
			return 0;
		for (;;)
			pause();
	}
	raise(SIGKILL);
	return fail("still alive after SIGKILL");
}
