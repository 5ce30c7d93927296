/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The simulated blkfront's workload: a seeded, reproducible stream of reads, writes and flushes
 * (with and without data) of assorted shapes, sent through a front ring (front_ring.h) up to a
 * queue depth, with every sector read back checked against a shadow table of the last write
 * that completed on it. The table outlives a connection, so data written before a reconnect is
 * checked after it. Sectors this process never wrote must read as zeros: the disk must start
 * zeroed.
 */
#ifndef XBD_SIM_WORKLOAD_H
#define XBD_SIM_WORKLOAD_H

#include <stdbool.h>
#include <stdint.h>

#include "front_ring.h"
#include "front_stats.h"

struct sim_domain;

/* What the backend published about the disk. */
struct wl_disk {
	uint64_t sectors; /* size, in 512-byte units whatever the sector size */
	unsigned int sector_size; /* bytes; every request's offset and length is a multiple */
	bool readonly; /* VDISK_READONLY in `info`: reads only */
	bool flush; /* feature-flush-cache */
	bool barrier; /* feature-barrier */
};

struct wl_config {
	uint64_t seed;
	unsigned long requests; /* random requests per workload_random() */
	unsigned int depth; /* most requests in flight; at most FRING_SLOTS */
	unsigned int timeout_ms; /* longest wait for any response */
	uint64_t span; /* sectors used, from sector 0; 0 = the whole disk (up to 2 GiB) */
	bool quiet;
};

struct workload;

/* Data pages are frames [first_frame, first_frame + nr_frames) of `dom`.
 * 0, -EINVAL (bad disk or config), -ENOMEM. */
int workload_create(const struct wl_config *cfg, const struct wl_disk *disk,
		    struct sim_domain *dom, uint32_t first_frame, uint32_t nr_frames,
		    struct fstats *stats, struct workload **out);
void workload_destroy(struct workload *wl);

/* Run cfg->requests random requests to completion on `r`; the stream goes on where the
 * previous call stopped. 0 when every request completed (whatever its status), or -errno when
 * the run had to stop (timeout, broken ring, backend gone). */
int workload_random(struct workload *wl, struct fring *r);
/* Read back and check every sector written so far. Same return values. */
int workload_sweep(struct workload *wl, struct fring *r);

/* Issue nothing more; wait for the responses of every request in flight. Same returns. */
int workload_drain(struct workload *wl, struct fring *r);

/* Completion callback for fring_reap() and fring_disconnect(); ctx is the workload. */
fring_done_fn workload_complete;

#endif
