/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Private state of one data plane, shared by dataplane.c (thread, loop, event channel) and
 * dp_request.c (one request from ring slot to response). Only the data thread touches it,
 * except the atomic fields, which the control thread reads or writes too; the statistics reach
 * it through the published copy (dp_stats.c).
 */
#ifndef XENBLKD_DP_INTERNAL_H
#define XENBLKD_DP_INTERNAL_H

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>

#include "pool.h"
#include "tbucket.h"
#include "xenblkd/dataplane.h"
#include "xenblkd/grant.h"
#include "xenblkd/log.h"
#include "util/trace.h"
#include "xenblkd/mirror.h"

/* preadv/io_uring take at most UIO_MAXIOV (1024) iovecs: bigger requests are split. */
#define DP_MAX_IOV 1024u
#define DP_MAX_STEPS 3
#define DP_STATS_WORDS (sizeof(struct xbd_dataplane_stats) / sizeof(uint64_t))
_Static_assert(sizeof(struct xbd_dataplane_stats) % sizeof(uint64_t) == 0,
	       "struct xbd_dataplane_stats holds uint64_t counters only");

struct xbd_dataplane;

enum dp_stage {
	DP_FREE,
	DP_STALLED,      /* waiting for pool memory (admission control) */
	DP_FETCHING,     /* its indirect pages are in the pass's batch (grant.indirect_in) */
	DP_BARRIER_WAIT, /* a barrier waiting for everything before it to complete */
	DP_RUNNING,      /* its I/O steps are in flight */
};

struct dp_slot;

/* One I/O of a request's current step, and its way back to the request. */
struct dp_sub {
	struct xbd_io io;
	struct dp_slot *slot;
	bool to_mirror;                /* to the mirror's destination: its failure is not ours */
};

/* One consumed request, from copy-out to response. */
struct dp_slot {
	struct xbd_dataplane *dp;
	enum dp_stage stage;
	struct dp_slot *stall_next;    /* the next request waiting for memory, in order */
	struct xbd_req req;
	struct xbd_grant_io gio;
	const struct xbd_grant_ops *gops; /* the queue's, or copy for a request the cache or the
					   * mapped-grant bound refused */
	unsigned int credits;          /* pages of that bound reserved, until gio takes them */
	bool prepared;                 /* gio holds grant resources */
	enum xbd_io_op steps[DP_MAX_STEPS];
	unsigned int nr_steps, step;
	struct dp_sub *subs;           /* the current step's I/Os (twice as many: the mirror's) */
	unsigned int nr_subs, subs_pending;
	int err;                       /* first error of the current step */
	void *ind_mem;                 /* indirect pages, then the parsed segments */
	size_t ind_size;
	void *data_mem;                /* bounce buffer (copy), iovecs, held pages, sub-I/Os */
	size_t data_size;
	struct dp_sub sub_inline[2];   /* one I/O, and its mirror */
	struct xbd_mirror *mirrored;   /* the step's range is counted in this mirror's map */
	uint64_t mirror_off, mirror_len;
	struct iovec iov_inline[BLKIF_MAX_SEGMENTS_PER_REQUEST];
	void *held_inline[BLKIF_MAX_SEGMENTS_PER_REQUEST];
	uint64_t start_ns;             /* when it was taken off the ring */
	/* A replayed indirect request's segments, from its journal record (dp_resume.c). */
	const struct blkif_request_segment *jsegs;
	unsigned int jsegs_n;
	unsigned int next_free;
};

struct xbd_dataplane {
	struct xbd_dataplane_cfg cfg;
	pthread_t thread;
	sem_t started;
	int start_result;
	int ctl_fd;                   /* eventfd: the control thread has a request for us */
	atomic_bool stop_req;
	atomic_bool pause_req;
	sem_t paused_sem;             /* posted when a pause is complete */
	atomic_bool paused_ack;       /* the pause is complete, until resumed */
	_Atomic uint64_t limit_iops, limit_bps; /* 0: unlimited */

	/* Owned by the data thread. */
	struct xbd_gnt *gnt;
	struct xbd_evtchn *evt;
	uint32_t local_port;
	void *sring;
	struct xbd_ring ring;
	struct xbd_jq *jq;            /* the in-flight journal (xenblkd/journal.h), or NULL */
	uint16_t *replay;             /* journal records to run again, in consumer order */
	unsigned int nr_replay, replay_next;
	struct xbd_sq *sq;
	/* A live mirror (xenblkd/mirror.h): writes and flushes go to msq too. Set and cleared
	 * by paused operations (dp_control.c). */
	struct xbd_mirror *mirror;
	struct xbd_disk *mdisk;       /* the mirror's destination */
	struct xbd_sq *msq;
	/* A paused operation from the control thread: DP_OP_*, its arguments, its result. */
	atomic_int op;
	struct xbd_disk *op_disk;
	struct xbd_mirror *op_mirror;
	int op_result;
	sem_t op_sem;
	struct xbd_grant_ctx grant;
	const struct xbd_grant_ops *gops;
	struct xbd_pool pool;
	struct xbd_pool_hooks pool_hooks; /* registers the pool's buffers with sq */
	struct dp_slot *slots;
	unsigned int nr_slots;
	unsigned int free_head;       /* index of the first free slot, nr_slots if none */
	unsigned int busy;            /* slots in use */
	struct dp_slot *stalled;      /* the requests waiting for memory, first one first */
	size_t fetch_reserve;         /* pool memory the batched indirect fetches' data may take */
	struct dp_slot *barrier;      /* a barrier waiting for the ring to drain */
	bool port_masked;             /* an event was taken and not yet unmasked */
	bool event_taken;             /* woken by the frontend since the last unmask */
	bool consumed;                /* a request was taken since the last unmask */
	unsigned int spurious;        /* wake-ups in a row that brought no request */
	unsigned int backoff_ms;      /* unmask delay for a frontend kicking for nothing */
	uint64_t unmask_at_ns;        /* when the delayed unmask is due; 0: none */
	bool responses_pending;       /* responses written, not yet pushed */
	bool stopping;
	bool paused;                  /* quiet and flushed, until resumed */
	bool pause_flushing;
	struct xbd_io pause_io;       /* the flush that completes a pause */
	struct xbd_tbucket tb_iops, tb_bytes;
	uint64_t tb_iops_rate, tb_bytes_rate; /* the rates the buckets were set up with */
	unsigned int idle_loops;      /* consecutive idle waits, to trim the pool */
	unsigned int poll_misses;     /* polls in a row that found nothing (dataplane.c) */
	struct xbd_ratelimit guest_rl;

	atomic_bool halted;
	const char *halt_reason;      /* set before `halted` is stored (release) */
	atomic_uint features_lost;    /* XBD_DP_LOST_*: the store refused an operation */
	_Atomic uint64_t capacity;    /* 512-byte sectors; the control thread may grow it */
	struct xbd_dataplane_stats stats; /* the data thread's own counters */
	/* Their copy for the control thread (dp_stats.c): odd `pub_seq` while it is written. */
	atomic_uint pub_seq;
	_Atomic uint64_t pub[DP_STATS_WORDS];
};

/* The first arguments of a queue's trace points (util/trace.h): domid, devid, queue. */
#define DP_TRACE_VBD(dp) (dp)->cfg.fe_domid, (dp)->cfg.devid, (dp)->cfg.queue

/* What one request costs against the VBD's limits: requests and bytes. */
struct dp_cost {
	uint64_t ops;
	uint64_t bytes;
};

/* dp_resume.c: attach the ring as cfg.start says (a resume plans from the journal and writes
 * its unpublished answers again); after the slots exist, reserve the replayed ones. */
int dp_ring_start(struct xbd_dataplane *dp);
int dp_replay_reserve(struct xbd_dataplane *dp);
/* Run the next replayed request; false when none is left. */
bool dp_replay_next(struct xbd_dataplane *dp);
/* Stopping: answer the replayed requests not started yet with an error. */
void dp_replay_abort(struct xbd_dataplane *dp);

/* dp_request.c */
int dp_slots_alloc(struct xbd_dataplane *dp, unsigned int n);
void dp_slots_free(struct xbd_dataplane *dp);
/* Handle one request copied out of the ring. Never fails: errors become responses.
 * Returns what it costs against the rate limits (dp_request_cost). */
struct dp_cost dp_handle_request(struct xbd_dataplane *dp, const blkif_request_t *copy);
/* Validate and start the request copied into slot s (taken, and journalled). */
struct dp_cost dp_start_request(struct dp_slot *s, const blkif_request_t *copy);
/* Answer the request copied into slot s at once with err, without running it. */
void dp_answer_now(struct dp_slot *s, const blkif_request_t *copy, int err);
uint64_t dp_now_ns(void);
/* Send the pass's batched grant copies (indirect pages, whose requests then go ahead; writes
 * in; reads out): the writes' first steps are queued, the reads answered. Before each submit, and before responses are pushed. */
void dp_copy_flush(struct xbd_dataplane *dp);

/* dataplane.c: paused, nothing in flight: serve from `q` from now on (a swapped disk); the
 * old queue is closed. */
void dp_adopt_queue(struct xbd_dataplane *dp, struct xbd_sq *q);

/* dp_stats.c: publish the counters for the control thread (data thread; no lock), and
 * refresh the storage queue's counters into them (formats strings: not on every loop). */
void dp_stats_publish(struct xbd_dataplane *dp);
void dp_stats_refresh_storage(struct xbd_dataplane *dp);

enum {
	DP_OP_NONE, DP_OP_SWAP_DISK, DP_OP_MIRROR_ATTACH, DP_OP_MIRROR_DETACH,
	DP_OP_RELEASE_FILES, DP_OP_RESTORE_FILES,
};

/* dp_control.c */
/* Data thread: carry out a pending paused operation, if any. */
void dp_run_op(struct xbd_dataplane *dp);
/* Data thread: reap the mirror queue's completions without blocking. */
void dp_mirror_reap(struct xbd_dataplane *dp);
void dp_request_stop(struct xbd_dataplane *dp);
void dp_take_ctl(struct xbd_dataplane *dp);
bool dp_pausing(struct xbd_dataplane *dp);
void dp_pause_step(struct xbd_dataplane *dp);
bool dp_rate_ok(struct xbd_dataplane *dp);
/* Pure: what a parsed request costs (dp_control.c says why discards cost what they do). */
struct dp_cost dp_request_cost(const struct xbd_req *req);
void dp_rate_take(struct xbd_dataplane *dp, struct dp_cost cost);
int dp_rate_wait_ms(struct xbd_dataplane *dp);
/* Retry the requests waiting for memory, in order; true if they all went ahead. */
bool dp_retry_stalled(struct xbd_dataplane *dp);
/* Start the barrier once it is the only request left; true if it went ahead. */
bool dp_try_barrier(struct xbd_dataplane *dp);
void dp_signal_control(struct xbd_dataplane *dp);

#endif
