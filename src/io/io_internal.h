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

/* poll() on `own_fd` (an engine's completion eventfd, or a driver's descriptor, or -1) for
 * `own_events` and on the caller's wake-up fds: bit i of *ready for fds[i]; own_fd's revents
 * (positive) if it was ready, else 0, or -errno. */
int xbd_poll_wake_fds(int own_fd, short own_events, const int *fds, unsigned int nfds,
		      unsigned int *ready, int timeout_ms);

/*
 * Long range operations (range.c): DISCARD, SECURE_ERASE and WRITE_ZEROES of a driver with
 * range_step, done by the storage queue in bounded steps at each wait.
 *   XBD_RANGE_TARGET_NS  what one driver call should take; chunks adapt towards it
 *   XBD_RANGE_PASS_NS    range work per wait, after which the wait returns (plus one call)
 */
#define XBD_RANGE_TARGET_NS (100ull * 1000 * 1000)
#define XBD_RANGE_PASS_NS (10ull * 1000 * 1000)

/* Pure: the length of the next call at `off` with `left` bytes to go (0 < result <= left). */
uint64_t xbd_range_chunk_len(const struct xbd_range_chunk *c, uint64_t off, uint64_t left);
/* Pure: a call did `done` bytes of a chunk of c->cur in `ns`: halve c->cur (down to min) while
 * that took over the target, double it (up to max) when it took under a quarter of it. */
void xbd_range_chunk_feedback(struct xbd_range_chunk *c, uint64_t done, uint64_t ns);
/* At queue open: an empty FIFO, and the disk's chunk bounds (checked) as the queue's own. */
void xbd_range_queue_init(struct xbd_sq *q);
/* Queue `io` (checked, marked, counted in flight) for range steps. */
void xbd_range_enqueue(struct xbd_sq *q, struct xbd_io *io);
/* At a wait: steps of the oldest range ops for up to XBD_RANGE_PASS_NS, completing each as
 * it ends (through xbd_sq_complete), or all of them at once with -ECANCELED once stopped. */
void xbd_range_run(struct xbd_sq *q);

#endif
