/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The control-to-data contract: start a data plane for one ring with everything the handshake
 * negotiated, and stop it. A data plane is one thread that owns its grant handle, event channel
 * handle and I/O engine, so its hot path takes no lock. Stop drains in-flight I/O before it
 * unmaps anything. A data plane that meets an impossible ring halts by itself, says why, and
 * signals `notify_fd` so the control thread can report it in xenstore and close the device.
 */
#ifndef XENBLKD_DATAPLANE_H
#define XENBLKD_DATAPLANE_H

#include <stdbool.h>
#include <stdint.h>

#include "xenblkd/grant.h"
#include "xenblkd/storage.h"
#include "xenblkd/req.h"
#include "xenblkd/ring.h"
#include "xenblkd/xen_ops.h"

#define XBD_MAX_RING_PAGES (1u << XBD_RING_MAX_PAGE_ORDER)

/* The store refused an operation (EOPNOTSUPP): the control thread turns the feature off. */
#define XBD_DP_LOST_FLUSH (1u << 0)
#define XBD_DP_LOST_BARRIER (1u << 1)
#define XBD_DP_LOST_DISCARD (1u << 2)

struct xbd_jq;

/* How a data plane takes its ring (docs/restart.md). */
enum xbd_dp_start {
	XBD_DP_FRESH,        /* a new connection: the indices start at 0 */
	XBD_DP_RESUME,       /* a live ring after a restart: replay cfg.journal's plan */
	XBD_DP_RESUME_QUIET, /* a live ring without a journal: only if nothing is outstanding */
};

struct xbd_dataplane_cfg {
	const struct xbd_xen_ops *xen;
	uint16_t fe_domid;
	uint32_t devid;       /* with fe_domid and queue: who a trace point is about */
	unsigned int queue;
	uint32_t ring_refs[XBD_MAX_RING_PAGES];
	unsigned int nr_ring_refs;
	uint32_t remote_port; /* the frontend's event channel */
	enum xbd_proto proto;
	struct xbd_limits limits;
	struct xbd_disk *disk;
	enum xbd_grant_mode grant_mode;
	unsigned int persistent_max; /* grants kept mapped, persistent mode */
	unsigned int max_mapped;     /* data grants mapped at once by this queue */
	struct xbd_grant_budget *grant_budget; /* the daemon's, shared by its queues; or NULL */
	size_t pool_bytes;           /* this queue's memory budget */
	unsigned int poll_us;        /* poll the ring and the storage queue up to this long
				      * before sleeping (adaptive); 0: never */
	const char *log_prefix;      /* stays valid while the data plane runs */
	int notify_fd; /* eventfd: written when the data plane halts or loses a feature */
	struct xbd_jq *journal;      /* this queue's section of the in-flight journal, or NULL */
	enum xbd_dp_start start;
	const char **resume_why;     /* a refused resume says why here (a static string) */
	unsigned int *replayed;      /* a resume adds the requests it replays here, or NULL */
};

/* Latency histogram: bucket i counts requests that took [2^i, 2^(i+1)) microseconds. */
#define XBD_LAT_BUCKETS 24

struct xbd_dataplane_stats {
	uint64_t reads, writes, flushes, barriers, discards, errors, bad_requests;
	uint64_t indirect, read_sectors, write_sectors, discard_sectors;
	uint64_t events, notifies, stalls, spurious_events, backoffs;
	uint64_t polls, poll_hits;  /* polls before sleeping, and those that found work */
	struct xbd_grant_stats grant;
	uint64_t pool_held;         /* bytes the pool holds now */
	uint64_t persistent_cached; /* grants mapped in the persistent cache now */
	uint64_t inflight;          /* requests taken and not yet answered, now */
	/* From the storage queue, as of its last idle moment; exact once the queue stopped. */
	uint64_t storage_ios, storage_syscalls, storage_fixed_ios;
	uint64_t lat_hist[XBD_LAT_BUCKETS];
};

struct xbd_dataplane;

/* Start the thread and wait until it has mapped the ring and bound the event channel.
 * 0, or -errno with nothing left mapped. */
int xbd_dataplane_start(const struct xbd_dataplane_cfg *cfg, struct xbd_dataplane **out);

/* Stop consuming requests, complete and answer what is in flight, unmap, unbind, join.
 * The statistics stay readable until xbd_dataplane_free(). */
void xbd_dataplane_stop(struct xbd_dataplane *dp);
void xbd_dataplane_free(struct xbd_dataplane *dp);

/* Quiesce for a snapshot: take no more requests, answer everything in flight, then flush.
 * 0 once quiet, -ETIMEDOUT if that took longer than timeout_ms (it stays pausing). */
int xbd_dataplane_pause(struct xbd_dataplane *dp, int timeout_ms);
void xbd_dataplane_resume(struct xbd_dataplane *dp);
/*
 * Operations on a paused data plane (xbd_dataplane_pause() returned 0, not resumed since),
 * carried out by its thread, which owns the storage queues; each waits for it (10 s at most:
 * -ETIMEDOUT) and returns 0 or -errno (-EBUSY: not paused). Swap: serve `disk` from now on
 * (a queue is opened on it and flushed, then the old queue closed; the caller closes the old
 * disk). Mirror attach: send writes and flushes to `dst` too (xenblkd/mirror.h). Detach: stop.
 */
struct xbd_mirror;
int xbd_dataplane_swap_disk(struct xbd_dataplane *dp, struct xbd_disk *disk);
int xbd_dataplane_mirror_attach(struct xbd_dataplane *dp, struct xbd_mirror *m,
				struct xbd_disk *dst);
int xbd_dataplane_mirror_detach(struct xbd_dataplane *dp);
/* Before an exec: the storage queues let go of the engine's references to the images
 * (xbd_sq_release_file), so that the exec's close releases their locks at once; restore:
 * the exec failed, serve on. */
int xbd_dataplane_release_files(struct xbd_dataplane *dp);
int xbd_dataplane_restore_files(struct xbd_dataplane *dp);
/* I/O limits for this queue: requests and bytes per second, 0 for unlimited. */
void xbd_dataplane_set_limits(struct xbd_dataplane *dp, uint64_t iops, uint64_t bytes_per_s);

/* Online resize: requests are checked against the new size from now on. */
void xbd_dataplane_set_capacity(struct xbd_dataplane *dp, uint64_t sectors);

/* True once the data plane has halted itself; *reason is a static string. */
bool xbd_dataplane_halted(struct xbd_dataplane *dp, const char **reason);

/* The counters as the data thread last published them (at least before every response it
 * pushes, and once per loop). Takes no lock and never sees a half-written copy. */
void xbd_dataplane_get_stats(struct xbd_dataplane *dp, struct xbd_dataplane_stats *out);

/* *sum += *a, counter by counter; the gauges (in flight, pool, cache) too only if `gauges`. */
void xbd_dataplane_stats_add(struct xbd_dataplane_stats *sum,
			     const struct xbd_dataplane_stats *a, bool gauges);

/* XBD_DP_LOST_* bits seen since the last call, cleared. */
unsigned int xbd_dataplane_take_lost_features(struct xbd_dataplane *dp);

#endif
