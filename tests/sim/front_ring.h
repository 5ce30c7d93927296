/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The transport of the simulated blkfront: one single-page blkif front ring, its event channel
 * and the grants of every request's data pages, on the simulated guest kernel (sim_guest.h).
 * It knows nothing of what the data means: the workload hands it requests as (operation, sector,
 * segments on frames) and gets each one back exactly once with the backend's status, after the
 * data grants were ended. Every check of what the backend wrote to the shared ring lives here,
 * and only the guest's side of the ring macros of <xen/io/ring.h> is used, never our daemon's
 * code, so the test is not circular. The request layout is the native one; another ABI or a
 * hostile mode would plug in at fring_submit() and fring_reap().
 */
#ifndef XBD_SIM_FRONT_RING_H
#define XBD_SIM_FRONT_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * <xen/io/ring.h> with the legacy interface version (the default for a guest that does not pick
 * one) spells its barriers mb()/rmb()/wmb() and leaves them to us. The other end runs in another
 * process on another CPU, so these must be real fences: a full one for mb(), which orders our
 * index store before a later load of the peer's event index; release and acquire fences for
 * wmb()/rmb(), which order the stores (loads) of ring entries against the index store (load).
 */
#ifndef mb
#define mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define wmb() __atomic_thread_fence(__ATOMIC_RELEASE)
#endif

#include <xen/io/blkif.h>

struct sim_domain;

#define FRING_PAGE_SIZE 4096u
#define FRING_MAX_SEGS BLKIF_MAX_SEGMENTS_PER_REQUEST
/* Request slots of a one-page ring (32 on every ABI). */
#define FRING_SLOTS __CONST_RING_SIZE(blkif, FRING_PAGE_SIZE)

struct fring_seg {
	uint32_t frame; /* index of one of this domain's pages */
	uint8_t first_sect, last_sect; /* 512-byte units inside that page, inclusive */
};

struct fring_req {
	uint8_t op; /* BLKIF_OP_* */
	uint8_t nr_segs;
	uint64_t sector; /* 512-byte units */
	struct fring_seg seg[FRING_MAX_SEGS];
	void *cookie; /* the caller's, handed back on completion */
};

/*
 * Called once per request from fring_reap() (or fring_abort_all()). `leaked` has bit i set when
 * the grant of seg[i] could not be ended: the backend still holds that page, so the caller
 * must not reuse the frame.
 */
typedef void fring_done_fn(void *ctx, const struct fring_req *req, int16_t status,
			   unsigned int leaked);

/* Counters kept across reconnections; each counts a backend misbehaviour (test failure). */
struct fring_stats {
	unsigned long protocol_errors; /* unknown id, operation not echoed, impossible rsp_prod */
	unsigned long grant_errors; /* a grant still in use after its response, or at close */
	unsigned long lost_notifications; /* responses published without the event they needed */
	unsigned long notifies_sent;
	unsigned long events_received;
};

struct fring_slot {
	bool busy;
	uint64_t id;
	struct fring_req req;
	uint32_t gref[FRING_MAX_SEGS];
};

/* What one connection needs. The aux fd is optional (-1): another fd to watch while waiting
 * for responses (the xenstore watch), and what to do when it is readable. */
struct fring_conf {
	struct sim_domain *dom;
	struct fring_stats *stats; /* kept by the caller across connections */
	uint32_t ring_frame;
	uint16_t be_domid;
	uint16_t handle; /* blkif_request.handle: the device id, as Linux sends it */
	int aux_fd;
	int (*aux_cb)(void *aux_ctx); /* 0 to go on waiting, -errno to stop */
	void *aux_ctx;
	bool quiet;
};

struct fring {
	struct fring_conf conf;
	blkif_front_ring_t front;
	uint32_t ring_ref;
	uint32_t port;
	bool ring_granted;
	bool port_open;
	bool broken; /* the backend broke the ring protocol: no more requests */
	unsigned int inflight;
	uint32_t next_seq; /* upper half of request ids, so a stale or forged id is caught */
	unsigned int nr_free;
	unsigned int free_slot[FRING_SLOTS];
	struct fring_slot slot[FRING_SLOTS];
};

/* Status handed to fring_done_fn for requests still in flight when the ring is torn down. */
#define FRING_STATUS_ABORTED INT16_MIN

/* Initialise the ring in `ring_frame`, grant it to the backend and allocate an unbound event
 * channel for it. Afterwards fring->ring_ref and fring->port are what to publish. */
int fring_connect(struct fring *r, const struct fring_conf *conf);
/* End access to the ring (retrying while the backend still maps it, up to `timeout_ms`) and
 * close the event channel. -EBUSY if the ring grant never came free (it is left live); the
 * event channel is closed in any case. Requests still in flight are completed as aborted. */
int fring_disconnect(struct fring *r, unsigned int timeout_ms, fring_done_fn *done, void *ctx);
/* Retry ending a ring grant that fring_disconnect() left live. 0 or -EBUSY. */
int fring_retry_ring_release(struct fring *r);

/* Grant the data pages and queue one request (not yet visible to the backend).
 * -EBUSY: no free slot; -EPIPE: the ring is broken; other -errno from the grant calls. */
int fring_submit(struct fring *r, const struct fring_req *req);
/* Publish queued requests and notify the backend if the ring's event index asks for it. */
int fring_kick(struct fring *r);
/* Consume every response, then re-arm the response event (RING_FINAL_CHECK_FOR_RESPONSES).
 * Returns the number completed, or -EPROTO when the backend broke the ring protocol. */
int fring_reap(struct fring *r, fring_done_fn *done, void *ctx);
/* Wait up to `timeout_ms` for the event channel (or the aux fd). 0 when something may have
 * arrived; -ETIMEDOUT when nothing did; a -errno from aux_cb. Call only after fring_reap(). */
int fring_wait(struct fring *r, int timeout_ms);

static inline bool fring_op_writes_disk(uint8_t op)
{
	return op == BLKIF_OP_WRITE || op == BLKIF_OP_WRITE_BARRIER ||
	       op == BLKIF_OP_FLUSH_DISKCACHE;
}

const char *fring_op_name(uint8_t op);

#endif
