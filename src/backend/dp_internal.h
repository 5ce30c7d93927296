/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Private state of one data plane, shared by dataplane.c (thread, loop, event channel) and
 * dp_request.c (one request from ring slot to response). Only the data thread touches it,
 * except the fields marked atomic, which the control thread reads.
 */
#ifndef XENBLKD_DP_INTERNAL_H
#define XENBLKD_DP_INTERNAL_H

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>

#include "xenblkd/dataplane.h"
#include "xenblkd/log.h"

/* The largest direct request: 11 segments of one 4 KiB page each. */
#define XBD_SLOT_BYTES (BLKIF_MAX_SEGMENTS_PER_REQUEST * 4096u)

struct xbd_dataplane;

/* One consumed request, from copy-out to response. */
struct dp_slot {
	struct xbd_io io;
	struct iovec iov;      /* the bounce buffer, for the storage queue */
	struct xbd_dataplane *dp;
	struct xbd_req req;
	void *buf;             /* bounce buffer the daemon owns: XBD_SLOT_BYTES */
	bool flush_after;      /* FLUSH_DISKCACHE with data: flush once the write completes */
	unsigned int next_free;
};

struct xbd_dataplane {
	struct xbd_dataplane_cfg cfg;
	pthread_t thread;
	sem_t started;
	int start_result;
	int stop_fd;                  /* eventfd: the control thread asks the thread to stop */

	/* Owned by the data thread. */
	struct xbd_gnt *gnt;
	struct xbd_evtchn *evt;
	uint32_t local_port;
	void *sring;
	struct xbd_ring ring;
	struct xbd_sq *sq;
	struct dp_slot *slots;
	unsigned int nr_slots;
	unsigned int free_head;       /* index of the first free slot, nr_slots if none */
	unsigned int busy;            /* slots in use */
	bool port_masked;             /* an event was taken and not yet unmasked */
	bool responses_pending;       /* responses written, not yet pushed */
	bool stopping;
	struct xbd_ratelimit guest_rl;

	atomic_bool halted;
	const char *halt_reason;      /* set before `halted` is stored (release) */
	pthread_mutex_t stats_lock;   /* stats are copied out by the control thread */
	struct xbd_dataplane_stats stats;
};

/* dp_request.c */
int dp_slots_alloc(struct xbd_dataplane *dp, unsigned int n);
void dp_slots_free(struct xbd_dataplane *dp);
/* Handle one request copied out of the ring. Never fails: errors become responses. */
void dp_handle_request(struct xbd_dataplane *dp, const blkif_request_t *copy);

#endif
