/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The back end of one shared blkif ring, in pure code: no syscalls, no Xen calls, so it runs on
 * any memory and is unit-tested and fuzzed. It copies each request out of shared memory exactly
 * once (translating the x86_32 or x86_64 layout to the native one), checks the producer index
 * the guest wrote, writes responses with their padding zeroed, and decides when to notify.
 */
#ifndef XENBLKD_RING_H
#define XENBLKD_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xenblkd/blkif_abi.h"

enum xbd_proto {
	XBD_PROTO_NATIVE = 0,
	XBD_PROTO_X86_32,
	XBD_PROTO_X86_64,
};

/* Parse the frontend's `protocol` key. NULL (absent) means native, as in QEMU.
 * 0, or -EINVAL for an unknown value. */
int xbd_proto_from_string(const char *s, enum xbd_proto *out);
/* The `protocol` name of an ABI, for the log (native: this machine's own name). */
const char *xbd_proto_name(enum xbd_proto proto);

struct xbd_ring {
	enum xbd_proto proto;
	union {
		blkif_back_ring_t native;
		blkif_x86_32_back_ring_t x86_32;
		blkif_x86_64_back_ring_t x86_64;
	} br;
};

/* `bytes` is the mapped ring size: 4096 << ring-page-order. 0 or -EINVAL. Does not write the
 * shared page (the frontend initialised it). */
int xbd_ring_init(struct xbd_ring *r, void *sring, size_t bytes, enum xbd_proto proto);

/* xbd_ring_init() with both private indices starting at `start` instead of 0, as
 * BACK_RING_ATTACH: for taking over a live ring, and for tests near the wrap at 2^32. */
int xbd_ring_attach(struct xbd_ring *r, void *sring, size_t bytes, enum xbd_proto proto,
		    RING_IDX start);

/* Take over a live ring after a restart (docs/restart.md): req_cons and rsp_prod_pvt from the
 * journal's plan. -EINVAL if they are more than a ring apart. */
int xbd_ring_resume(struct xbd_ring *r, void *sring, size_t bytes, enum xbd_proto proto,
		    RING_IDX req_cons, RING_IDX rsp_prod_pvt);
/* The private indices: the next request to consume, the next response to write. */
RING_IDX xbd_ring_req_cons(const struct xbd_ring *r);
RING_IDX xbd_ring_rsp_prod_pvt(const struct xbd_ring *r);
/* One read each of the shared req_prod and rsp_prod (guest-writable: the caller validates). */
void xbd_ring_read_shared(const struct xbd_ring *r, RING_IDX *req_prod, RING_IDX *rsp_prod);

/* Request slots of a ring of `bytes` in that ABI, without a ring; 0 if either is invalid. */
unsigned int xbd_ring_nr_ents(enum xbd_proto proto, size_t bytes);

/* Number of request slots. */
unsigned int xbd_ring_size(const struct xbd_ring *r);

/* Copy the next request out of the shared ring into *out, in native layout.
 * 1: one request copied and consumed; 0: none waiting, or no room to answer one more;
 * -EPROTO: the guest's req_prod is impossible (more than a ring ahead): halt this ring. */
int xbd_ring_pop(struct xbd_ring *r, blkif_request_t *out);

/* Write one response at rsp_prod_pvt, padding zeroed. One per consumed request. */
void xbd_ring_put_response(struct xbd_ring *r, uint64_t id, uint8_t operation, int16_t status);

/* Publish the responses written so far. Returns true if the frontend must be notified. */
bool xbd_ring_push_responses(struct xbd_ring *r);

/* Are requests waiting? One load of req_prod and no re-arming of req_event: for a data thread
 * that polls the ring before it sleeps. */
bool xbd_ring_has_requests(const struct xbd_ring *r);

/* RING_FINAL_CHECK_FOR_REQUESTS: re-arm req_event and say whether requests are waiting. */
bool xbd_ring_final_check(struct xbd_ring *r);

#ifdef XBD_SHARED_READ_HOOK
/* Test builds only: called right after each copy of a request slot out of shared memory. */
void xbd_shared_read_hook(const void *slot, size_t n);
#endif

/* Requests consumed but not yet answered. */
unsigned int xbd_ring_outstanding(const struct xbd_ring *r);

#endif
