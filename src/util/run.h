/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The run directory (/run/xenblkd by default) that ties one VBD to one daemon: a lock file per
 * VBD, held by the daemon serving it for as long as it runs, and its control socket beside it.
 * Both are named after the escaped backend path (escape.h). The lock is an open file
 * description lock (F_OFD_SETLK): it dies with the process, whatever kills it, and a watcher
 * can test it (F_OFD_GETLK) without ever holding it, so a test cannot make a starting daemon
 * believe that someone else serves its VBD.
 */
#ifndef XENBLKD_UTIL_RUN_H
#define XENBLKD_UTIL_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define XBD_RUN_DIR_DEFAULT "/run/xenblkd"
#define XBD_RUN_LOCK_SUFFIX ".lock"
#define XBD_RUN_SOCK_SUFFIX ".sock"

/* The default run directory: $XENBLKD_SIM_DIR/run when `sim` and that variable is set (each
 * simulated platform has its own xenstore, so its VBDs need their own locks), else
 * XBD_RUN_DIR_DEFAULT. The string stays valid for the life of the process. */
const char *xbd_run_dir_default(bool sim);

/* <run_dir>/<escaped backend path><suffix>. 0 or -ENAMETOOLONG. */
int xbd_run_file(char *buf, size_t len, const char *run_dir, const char *backend,
		 const char *suffix);

/* Create the run directory (and its parents) if missing. */
int xbd_run_mkdir(const char *dir);

/* Take the lock at `path` and write our pid into it. 0 (*fd holds it until xbd_run_unlock),
 * -EBUSY when another process holds it, or another -errno. */
int xbd_run_lock(const char *path, int *fd);

/* Remove the file, then let go of the lock (in this order, so that nobody can take a lock on a
 * file that is about to vanish: xbd_run_lock checks that the file it locked is still there). */
void xbd_run_unlock(int fd, const char *path);

/* Who holds the lock: 0 and the pid (0 if it has not written it yet), or -ENOENT when nobody
 * does. Never takes the lock. */
int xbd_run_lock_holder(const char *path, pid_t *pid);

#endif
