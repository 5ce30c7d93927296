/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the files of the storage layer share among themselves and nobody else needs: picking
 * an engine for an open disk and naming the engines (engine.c), finding drivers by name
 * (storage.c), and polling wake-up fds (wake.c).
 */
#ifndef XENBLKD_IO_INTERNAL_H
#define XENBLKD_IO_INTERNAL_H

#include "driver.h"

/*
 * Control thread, after the driver opened d->fd. Choose d->engine: the configured one, which
 * must work, or else io_uring, libaio, threads, the first that can serve the descriptor (each
 * is tried once, with depth 1), with a log line when the default could not be used. Sets
 * d->info.engine_name. 0 or -errno, logged.
 */
int xbd_engine_select(struct xbd_disk *d);
/* "io_uring, libaio or threads": the engines of this build, for messages. */
void xbd_engine_names(char *buf, size_t len);

/* poll() on `own_fd` (an engine's completion eventfd, or -1) and the caller's wake-up fds:
 * bit i of *ready for fds[i]; 1 if own_fd was readable, else 0, or -errno. */
int xbd_poll_wake_fds(int own_fd, const int *fds, unsigned int nfds, unsigned int *ready,
		      int timeout_ms);

#endif
