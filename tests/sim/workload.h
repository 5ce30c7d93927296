/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The simulated blkfront's workload: seeded, reproducible streams of requests (reads, writes,
 * flushes and barriers with and without data, discards, indirect requests of up to the
 * negotiated segment count) sent over every queue of a connection (front_conn.h) up to a
 * queue depth, with every sector read back checked against a shadow table of the last write
 * that completed on it. The table outlives a connection, so data written before a reconnect
 * (or before the disk grew) is checked after it. Sectors this process never wrote must read
 * as zeros: the disk must start zeroed. Discarded sectors become unspecified, since a discard
 * leaves their content undefined. Requests may be expected to fail (a read-only disk, a
 * request not aligned to the sector size): then success is the error.
 */
#ifndef XBD_SIM_WORKLOAD_H
#define XBD_SIM_WORKLOAD_H

#include <stdbool.h>
#include <stdint.h>

#include "front_conn.h"
#include "front_stats.h"

struct sim_domain;

/* What the backend published about the disk, and what was negotiated. */
struct wl_disk {
	uint64_t sectors; /* size, in 512-byte units whatever the sector size */
	unsigned int sector_size; /* bytes; every request's offset and length is a multiple */
	bool readonly; /* VDISK_READONLY in `info` */
	bool flush; /* feature-flush-cache */
	bool barrier; /* feature-barrier */
	bool discard; /* feature-discard */
	bool discard_secure; /* discard-secure */
	uint32_t discard_granularity; /* bytes; 0 means the sector size */
	uint32_t discard_alignment; /* bytes */
	unsigned int max_segs; /* segments per request: 11, or the indirect maximum */
};

enum wl_pattern {
	WL_PATTERN_MIXED, /* the verified random mix */
	WL_PATTERN_RANDREAD,
	WL_PATTERN_RANDWRITE,
	WL_PATTERN_SEQREAD,
};

struct wl_config {
	uint64_t seed;
	unsigned long requests; /* random requests per workload_random() */
	unsigned int depth; /* most requests in flight over all queues; 0: what the rings hold */
	unsigned int timeout_ms; /* longest wait for any response */
	uint64_t span; /* sectors used, from sector 0; 0 = the whole disk (up to 2 GiB) */
	bool quiet;
	bool discard; /* send discards when the backend offers them */
	bool barrier; /* send barriers without data too, and more of them */
	bool expect_readonly; /* writes, barriers and discards must fail with BLKIF_RSP_ERROR */
	bool no_verify; /* benchmark: no patterns, no checks, no ordering between requests */
	unsigned long die_after; /* stop (-ECANCELED) once this many requests went out */
	const char *ack_log; /* NULL, or a file: one line per acknowledged write */
	const char *stop_file; /* NULL, or a file whose existence ends the random workload */
	enum wl_pattern pattern; /* benchmark pattern (workload_bench) */
	unsigned int bs; /* benchmark: bytes per request */
	unsigned int duration_s; /* benchmark: how long */
	unsigned int max_segs; /* the most segments any connection will use (>= 11) */
};

struct workload;

/* 0, -EINVAL (bad config), -ENOMEM. */
int workload_create(const struct wl_config *cfg, struct sim_domain *dom, struct fstats *stats,
		    struct workload **out);
void workload_destroy(struct workload *wl);

/* Send requests over `c` from now on, to a disk described by `disk`. The disk may have grown
 * since the last connection (the new sectors read as zeros) but not shrunk or changed its
 * sector size. Nothing may be in flight. 0, -EINVAL, -ENOMEM. */
int workload_attach(struct workload *wl, struct fconn *c, const struct wl_disk *disk);
/* The disk grew while connected (online resize): take in the new sectors. */
int workload_resize(struct workload *wl, uint64_t sectors);
uint64_t workload_span(const struct workload *wl);

/*
 * Each of these runs one stream of requests to completion; they return 0 when every request
 * completed (whatever its status), or -errno when the run had to stop (timeout, broken ring,
 * backend gone; -ECANCELED when cfg->die_after was reached, with requests still in flight).
 */
int workload_random(struct workload *wl); /* cfg->requests random requests */
int workload_sweep(struct workload *wl); /* read back and check every sector written */
int workload_drain(struct workload *wl); /* nothing new: wait for what is in flight */
/* Read the whole span in order into the file `fd` (at the same offsets), checking nothing:
 * for tests that wrote the disk through another path (the NBD export). */
int workload_dump(struct workload *wl, int fd);
/* Requests not aligned to the sector size (only when it is above 512): each must fail. */
int workload_probe_misaligned(struct workload *wl);
/* Write every sector from `from` to the end of the span (at most 32 MiB of them). */
int workload_fill(struct workload *wl, uint64_t from);
/* Discard the whole span, aligned to the discard granularity. */
int workload_trim_all(struct workload *wl);
/* The benchmark: cfg->pattern with cfg->bs bytes per request for cfg->duration_s. */
int workload_bench(struct workload *wl);

/* Completion callback for fconn_reap() and fconn_disconnect(); ctx is the workload. */
fring_done_fn workload_complete;

/* Features the backend answered BLKIF_RSP_EOPNOTSUPP for (WL_EOPNOTSUPP_* bits). */
#define WL_EOPNOTSUPP_FLUSH 1u
#define WL_EOPNOTSUPP_BARRIER 2u
#define WL_EOPNOTSUPP_DISCARD 4u
unsigned int workload_eopnotsupp(const struct workload *wl);

#endif
