/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Upgrade in place (issue 18, docs/restart-ops.md): `xenblkctl upgrade` makes the daemon
 * drain its rings, check that the installed binary reads its journal, and execve() it with
 * the same command line. The PID stays (systemd's unit, the watcher's child and the lock
 * file's pid stay true); the new image resumes the live connection from the journal as after
 * a crash, but with nothing in flight.
 */
#ifndef XENBLKD_DAEMON_UPGRADE_H
#define XENBLKD_DAEMON_UPGRADE_H

#include <stddef.h>

/* At the start of main(): the command line and the binary's path, for the exec. */
void xbd_upgrade_init(int argc, char **argv);
/* `xenblkd --journal-version`: print the journal versions this binary reads, one line. */
int xbd_upgrade_print_journal_versions(void);
/* The binary an upgrade runs when none is named: the path this one was started from. */
const char *xbd_upgrade_default_binary(void);
/* Run `binary --journal-version` (5 s at most): 0 when it reads our journal's version,
 * else -errno with why. */
int xbd_upgrade_check(const char *binary, char *why, size_t len);
/* execve() binary with our command line and environment: returns only on failure, -errno.
 * With journal_fd >= 0 the new image gets it as fd 3 under journal_name (LISTEN_FDS=1,
 * LISTEN_FDNAMES, LISTEN_PID: our own pid, which the exec keeps), as a supervisor would
 * pass it; the store then holds that copy, so any failure ends the process (status 1, for
 * its supervisor to restart it from the store) rather than let the copy go stale. */
int xbd_upgrade_exec(const char *binary, int journal_fd, const char *journal_name);

#endif
