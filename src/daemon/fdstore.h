/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The fd store: fds that outlive the daemon process (issue 18's in-flight journals). A
 * supervisor keeps what we send it with the sd_notify fd-store protocol (FDSTORE=1 with the fd
 * as SCM_RIGHTS, FDNAME=) and passes it back when it starts us again (LISTEN_FDS, LISTEN_PID,
 * LISTEN_FDNAMES). systemd does this for xenblkd@ units (FileDescriptorStoreMax=), the watcher
 * for the daemons it supervises itself, and tests/restart's harness in CI; all three speak the
 * same protocol, so this is the daemon's one code path for all of them (docs/restart-ops.md).
 *
 * The passed fds are collected before main() runs (a constructor: no thread exists yet and no
 * fd of our own is open, so unsetting LISTEN_* and closing what we do not want is safe), and
 * LISTEN_* is removed from the environment so that nothing we exec inherits it.
 */
#ifndef XENBLKD_DAEMON_FDSTORE_H
#define XENBLKD_DAEMON_FDSTORE_H

#include <stdbool.h>

/* The longest name: systemd's limit for FDNAME=. Names use only [A-Za-z0-9_.-]; "unknown"
 * and "stored" (systemd's names for an unnamed fd) are not names. */
#define XBD_FDSTORE_NAME_MAX 255
/* The most fds we accept back at a start; more are closed (a daemon keeps a few). */
#define XBD_FDSTORE_MAX_FDS 64

/* Whether a supervisor keeps fds for us (NOTIFY_SOCKET set and FDSTORE usable). */
bool xbd_fdstore_available(void);
/* The fd the supervisor passed back under this name at our start (LISTEN_FDS/LISTEN_FDNAMES,
 * checked against LISTEN_PID), now owned by the caller; -ENOENT if none. Each name once.
 * -ENOTUNIQ when several fds came back under the name: none can be trusted to be the current
 * one, so all are closed and removed from the store (FDSTOREREMOVE=1). */
int xbd_fdstore_take(const char *name);
/* Hand a dup of fd to the supervisor under name (FDSTORE=1, FDNAME=name): 0, -ENOTSUP
 * without a supervisor store, -errno. The caller keeps its own fd.
 * A store may hold several fds under one name (systemd's does): put a name once, and
 * xbd_fdstore_remove() it before putting a different file under it. */
int xbd_fdstore_put(const char *name, int fd);
/* Remove it from the store (FDSTOREREMOVE=1, FDNAME=name): at a clean detach. */
int xbd_fdstore_remove(const char *name);

#endif
