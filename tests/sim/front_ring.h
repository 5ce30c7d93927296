/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The transport of the simulated blkfront: one blkif front ring (one queue) of 1 << order
 * pages, its event channel, and the grants of every request's data and indirect pages, on the
 * simulated guest kernel (sim_guest.h). It speaks any of the three ABIs (front_abi.h), sends
 * requests of more than 11 segments as BLKIF_OP_INDIRECT, and grants pages per request or
 * persistently (front_gnt.h). It knows nothing of what the data means: the workload hands it
 * requests as (operation, sector, segments on frames) and gets each one back exactly once with
 * the backend's status, after the grants were put back. Every check of what the backend wrote
 * to the shared ring lives here. The index protocol is <xen/io/ring.h>'s front-ring macros;
 * entries are placed by the ABI's entry size, never by our daemon's code.
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

#include "front_abi.h"
#include "front_gnt.h"

struct sim_domain;

#define FRING_PAGE_SIZE 4096u
#define FRING_MAX_ORDER 4u /* Linux's XENBUS_MAX_RING_GRANT_ORDER */
#define FRING_MAX_PAGES (1u << FRING_MAX_ORDER)
#define FRING_DIRECT_SEGS FABI_MAX_DIRECT_SEGS
#define FRING_MAX_SEGS FABI_MAX_INDIRECT_SEGS
/* Request slots of a one-page ring (32 on every ABI), and of the largest ring. */
#define FRING_SLOTS __CONST_RING_SIZE(blkif, FRING_PAGE_SIZE)
#define FRING_MAX_SLOTS 512u

struct fring_seg {
	uint32_t frame; /* index of one of this domain's pages */
	uint8_t first_sect, last_sect; /* 512-byte units inside that page, inclusive */
};

struct fring_req {
	uint8_t op; /* READ, WRITE, WRITE_BARRIER, FLUSH_DISKCACHE or DISCARD */
	uint8_t discard_flag; /* DISCARD: BLKIF_DISCARD_SECURE or 0 */
	uint16_t nr_segs; /* more than 11: sent as BLKIF_OP_INDIRECT (READ and WRITE only) */
	uint64_t sector; /* 512-byte units */
	uint64_t nr_sectors; /* DISCARD only */
	const struct fring_seg *seg; /* nr_segs entries, the caller's until completion */
	uint32_t ind_frame[FABI_MAX_INDIRECT_PAGES]; /* frames for the segment lists */
	void *cookie; /* the caller's, handed back on completion */
};

/* Indirect pages a request of nr_segs segments needs (0 for a direct request). */
static inline unsigned int fring_indirect_pages(unsigned int nr_segs)
{
	return nr_segs <= FRING_DIRECT_SEGS ? 0 :
	       (nr_segs + FABI_SEGS_PER_INDIRECT_PAGE - 1) / FABI_SEGS_PER_INDIRECT_PAGE;
}

/* Called once per request from fring_reap() (or fring_disconnect()). Frames whose grant could
 * not be ended are marked in fring_conf.frame_leaked: the caller must not reuse them. */
typedef void fring_done_fn(void *ctx, const struct fring_req *req, int16_t status);

/* Counters kept across rings and reconnections; the first four count a backend misbehaviour. */
struct fring_stats {
	unsigned long protocol_errors; /* unknown id, operation not echoed, impossible rsp_prod */
	unsigned long grant_errors; /* a grant still in use after its response, or at close */
	unsigned long lost_notifications; /* responses published without the event they needed */
	unsigned long notifies_sent;
	unsigned long events_received;
	unsigned long indirect_requests;
	unsigned int max_segs; /* most segments in one request sent */
	unsigned int max_inflight; /* most requests in flight on one ring */
	struct fgnt_stats pgnt;
	/* Of protocol_errors: responses to requests answered before, and ids never sent. */
	unsigned long answered_twice;
	unsigned long unknown_ids;
};

/* What one ring needs. */
struct fring_conf {
	struct sim_domain *dom;
	struct fring_stats *stats; /* kept by the caller across connections */
	uint8_t *frame_leaked; /* per frame of the domain, set when a grant leaks */
	uint32_t ring_frame; /* the first of 1 << order consecutive frames */
	unsigned int order;
	enum fabi abi;
	bool persistent;
	uint32_t pool_first; /* persistent: the frames of this ring's requests */
	uint32_t pool_frames;
	uint16_t be_domid;
	uint16_t handle; /* blkif_request.handle: the device id, as Linux sends it */
	unsigned int queue; /* index, for messages */
	bool quiet;
};

#define FRING_FIRST_SEQ 0x5b100000u /* the first request's sequence on each ring */

struct fring_slot {
	bool busy;
	uint64_t id;
	struct fring_req req;
	uint32_t *gref; /* one per segment */
	unsigned int gref_cap;
	uint32_t ind_gref[FABI_MAX_INDIRECT_PAGES];
};

struct fring {
	struct fring_conf conf;
	blkif_front_ring_t front; /* indices and nr_ents; entries are placed by ent_size */
	size_t ent_size;
	struct fgnt gnt;
	uint32_t ring_ref[FRING_MAX_PAGES];
	unsigned int nr_ring_refs; /* ring pages granted */
	uint32_t port;
	bool port_open;
	bool broken; /* the backend broke the ring protocol: no more requests */
	unsigned int inflight;
	unsigned long submitted; /* requests sent on this ring, all connections */
	uint32_t next_seq; /* upper half of request ids, so a stale or forged id is caught */
	unsigned int nr_slots;
	unsigned int nr_free;
	unsigned int *free_slot;
	struct fring_slot *slot;
};

/* Status handed to fring_done_fn for requests still in flight when the ring is torn down. */
#define FRING_STATUS_ABORTED INT16_MIN

/* Initialise the ring in its frames, grant them to the backend and allocate an unbound event
 * channel. Afterwards ring_ref[] and port are what to publish. */
int fring_connect(struct fring *r, const struct fring_conf *conf);
/* Complete what is in flight as aborted, end access to the ring pages (retrying while the
 * backend still maps them, up to `timeout_ms`) and close the event channel. -EBUSY if a ring
 * grant never came free (it is left live). Persistent grants are not touched: see
 * fring_release_persistent(). */
int fring_disconnect(struct fring *r, unsigned int timeout_ms, fring_done_fn *done, void *ctx);
/* Retry ending ring grants that fring_disconnect() left live. 0 or -EBUSY. */
int fring_retry_ring_release(struct fring *r);
/* End the persistent grants once the backend has closed; counts the ones it still mapped
 * and the ones that never came free (grant errors). */
void fring_release_persistent(struct fring *r, unsigned int timeout_ms);
/* Free what fring_connect() allocated (after fring_disconnect()). */
void fring_free(struct fring *r);

/* Free request slots. */
static inline unsigned int fring_free_slots(const struct fring *r)
{
	return r->broken ? 0 : r->nr_free;
}

/* Grant the pages and queue one request (not yet visible to the backend).
 * -EBUSY: no free slot; -EPIPE: the ring is broken; other -errno from the grant calls. */
int fring_submit(struct fring *r, const struct fring_req *req);
/* Publish queued requests and notify the backend if the ring's event index asks for it. */
int fring_kick(struct fring *r);
/* Consume every response, then re-arm the response event (RING_FINAL_CHECK_FOR_RESPONSES).
 * Returns the number completed, or -EPROTO when the backend broke the ring protocol. */
int fring_reap(struct fring *r, fring_done_fn *done, void *ctx);
/* Nothing arrived in time: responses waiting anyway were published without an event.
 * Counts them as lost notifications; true if there were any. */
bool fring_check_lost_event(struct fring *r);

static inline bool fring_op_writes_disk(uint8_t op)
{
	return op == BLKIF_OP_WRITE || op == BLKIF_OP_WRITE_BARRIER ||
	       op == BLKIF_OP_FLUSH_DISKCACHE || op == BLKIF_OP_DISCARD;
}

const char *fring_op_name(uint8_t op);

#endif
