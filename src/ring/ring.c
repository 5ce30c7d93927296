/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The back end of one shared blkif ring (see ring.h). The frontend can rewrite any byte of the
 * shared page at any moment, so each request is copied out of its slot exactly once, behind a
 * compiler barrier, and only the private copy is translated and used; the producer index is
 * read once per pop and refused when no honest frontend could have written it. Responses are
 * assembled in a zeroed private buffer and copied whole, so their padding never leaks backend
 * memory (XSA-216). Index publication and notification follow the hold-off rules of
 * <xen/io/ring.h>, with our own barriers, each saying what it orders.
 */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include "xenblkd/ring.h"

/*
 * Compiler barrier: no instruction, but the compiler may neither keep values read before it in
 * registers nor re-read memory instead of using what it already copied. After copying a
 * request out it guarantees that every later use reads the private copy and none goes back to
 * the shared slot (the double fetch of XSA-155).
 */
#define compiler_barrier() __asm__ __volatile__("" ::: "memory")

/* xen_rmb(): loads before it are done before loads after it. */
static inline void ring_rmb(void)
{
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
}

/* xen_wmb(): stores before it are visible before stores after it. */
static inline void ring_wmb(void)
{
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

/* xen_mb(): all accesses before it, stores included, are done before any access after it. */
static inline void ring_mb(void)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/*
 * Shared indices are read and written with single 32-bit accesses: the compiler may neither
 * tear nor repeat them. Ordering is left to the barriers above.
 */
static inline RING_IDX shared_load(const RING_IDX *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static inline void shared_store(RING_IDX *p, RING_IDX v)
{
	__atomic_store_n(p, v, __ATOMIC_RELAXED);
}

/*
 * The active back ring's private field, whatever the ABI. The three back-ring types have the
 * same fields, but only the member that xbd_ring_attach() filled is ever accessed.
 */
#define BACK(r, field)                                                                           \
	(*((r)->proto == XBD_PROTO_X86_32   ? &(r)->br.x86_32.field                              \
	   : (r)->proto == XBD_PROTO_X86_64 ? &(r)->br.x86_64.field                              \
					    : &(r)->br.native.field))

/* Request translation, field by field: each ABI's offsets come from its own struct type. */
#define RW_TO_NATIVE(out, in)                                                                    \
	do {                                                                                     \
		(out)->operation = (in)->operation;                                              \
		(out)->nr_segments = (in)->nr_segments;                                          \
		(out)->handle = (in)->handle;                                                    \
		(out)->id = (in)->id;                                                            \
		(out)->sector_number = (in)->sector_number;                                      \
		for (unsigned int i_ = 0; i_ < BLKIF_MAX_SEGMENTS_PER_REQUEST; i_++)             \
			(out)->seg[i_] = (in)->seg[i_];                                          \
	} while (0)

#define DISCARD_TO_NATIVE(out, in)                                                               \
	do {                                                                                     \
		(out)->operation = (in)->operation;                                              \
		(out)->flag = (in)->flag;                                                        \
		(out)->handle = (in)->handle;                                                    \
		(out)->id = (in)->id;                                                            \
		(out)->sector_number = (in)->sector_number;                                      \
		(out)->nr_sectors = (in)->nr_sectors;                                            \
	} while (0)

#define INDIRECT_TO_NATIVE(out, in)                                                              \
	do {                                                                                     \
		(out)->operation = (in)->operation;                                              \
		(out)->indirect_op = (in)->indirect_op;                                          \
		(out)->nr_segments = (in)->nr_segments;                                          \
		(out)->id = (in)->id;                                                            \
		(out)->sector_number = (in)->sector_number;                                      \
		(out)->handle = (in)->handle;                                                    \
		for (unsigned int i_ = 0; i_ < BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST; i_++)       \
			(out)->indirect_grefs[i_] = (in)->indirect_grefs[i_];                    \
	} while (0)

/*
 * One slot's bytes in a foreign ABI, seen as each request variant. The operation byte says
 * which view applies; it is read from the private copy, so it cannot change under us.
 */
union x86_32_slot {
	struct blkif_x86_32_request rw;
	struct blkif_x86_32_request_discard discard;
	struct blkif_x86_32_request_indirect indirect;
	union blkif_x86_32_sring_entry entry;
};

union x86_64_slot {
	struct blkif_x86_64_request rw;
	struct blkif_x86_64_request_discard discard;
	struct blkif_x86_64_request_indirect indirect;
	union blkif_x86_64_sring_entry entry;
};

/* Native variants are written through their own types, then copied into the request slot. */
static void store_native_discard(blkif_request_t *out, const blkif_request_discard_t *d)
{
	memcpy(out, d, sizeof(*d));
}

static void store_native_indirect(blkif_request_t *out, const blkif_request_indirect_t *ind)
{
	memcpy(out, ind, sizeof(*ind));
}

/*
 * The one read of a request slot in shared memory (XSA-155: copy first, then validate). A test
 * build (XBD_SHARED_READ_HOOK) calls a hook after it that counts reads and rewrites the slot
 * as a racing guest would, proving that nothing reads the slot a second time.
 */
static void read_slot(void *dst, const void *slot, size_t n)
{
	memcpy(dst, slot, n);
#ifdef XBD_SHARED_READ_HOOK
	xbd_shared_read_hook(slot, n);
#endif
	compiler_barrier(); /* from here on only the copy is read, never the slot again */
}

static void copy_native(blkif_request_t *out, const void *slot)
{
	read_slot(out, slot, sizeof(*out));
}

/*
 * Copy a foreign-ABI slot once into a local union, then translate from the local copy. The
 * x86_32 and x86_64 variants differ only in their types, so one macro defines both.
 */
#define DEFINE_COPY_FOREIGN(abi)                                                                 \
	static void copy_##abi(blkif_request_t *out, const void *slot)                           \
	{                                                                                        \
		union abi##_slot in;                                                             \
		blkif_request_discard_t d;                                                       \
		blkif_request_indirect_t ind;                                                    \
                                                                                                 \
		read_slot(&in, slot, sizeof(in));                                                \
		memset(out, 0, sizeof(*out));                                                    \
		switch (in.rw.operation) {                                                       \
		case BLKIF_OP_DISCARD:                                                           \
			memset(&d, 0, sizeof(d));                                                \
			DISCARD_TO_NATIVE(&d, &in.discard);                                      \
			store_native_discard(out, &d);                                           \
			break;                                                                   \
		case BLKIF_OP_INDIRECT:                                                          \
			memset(&ind, 0, sizeof(ind));                                            \
			INDIRECT_TO_NATIVE(&ind, &in.indirect);                                  \
			store_native_indirect(out, &ind);                                        \
			break;                                                                   \
		default:                                                                         \
			RW_TO_NATIVE(out, &in.rw);                                               \
			break;                                                                   \
		}                                                                                \
	}

DEFINE_COPY_FOREIGN(x86_32)
DEFINE_COPY_FOREIGN(x86_64)

/* What differs between the ABIs once the shared header is out of the way. */
struct ring_abi {
	size_t slot_size;
	size_t rsp_size;
	size_t rsp_id;
	size_t rsp_operation;
	size_t rsp_status;
	void (*copy_request)(blkif_request_t *out, const void *slot);
};

#define RSP_LAYOUT(type)                                                                         \
	.rsp_size = sizeof(type), .rsp_id = offsetof(type, id),                                  \
	.rsp_operation = offsetof(type, operation), .rsp_status = offsetof(type, status)

static const struct ring_abi ring_abis[] = {
	[XBD_PROTO_NATIVE] = {
		.slot_size = sizeof(union blkif_sring_entry),
		RSP_LAYOUT(struct blkif_response),
		.copy_request = copy_native,
	},
	[XBD_PROTO_X86_32] = {
		.slot_size = sizeof(union blkif_x86_32_sring_entry),
		RSP_LAYOUT(struct blkif_x86_32_response),
		.copy_request = copy_x86_32,
	},
	[XBD_PROTO_X86_64] = {
		.slot_size = sizeof(union blkif_x86_64_sring_entry),
		RSP_LAYOUT(struct blkif_x86_64_response),
		.copy_request = copy_x86_64,
	},
};

/* The largest response of any ABI, for the private buffer responses are built in. */
#define RSP_MAX_SIZE sizeof(struct blkif_x86_64_response)
_Static_assert(sizeof(struct blkif_response) <= RSP_MAX_SIZE, "native response fits");
_Static_assert(sizeof(struct blkif_x86_32_response) <= RSP_MAX_SIZE, "x86_32 response fits");
_Static_assert(sizeof(union x86_32_slot) == sizeof(union blkif_x86_32_sring_entry), "one slot");
_Static_assert(sizeof(union x86_64_slot) == sizeof(union blkif_x86_64_sring_entry), "one slot");

int xbd_proto_from_string(const char *s, enum xbd_proto *out)
{
	if (!s || !strcmp(s, XEN_IO_PROTO_ABI_NATIVE))
		*out = XBD_PROTO_NATIVE;
	else if (!strcmp(s, XEN_IO_PROTO_ABI_X86_32))
		*out = XBD_PROTO_X86_32;
	else if (!strcmp(s, XEN_IO_PROTO_ABI_X86_64))
		*out = XBD_PROTO_X86_64;
	else
		return -EINVAL;
	return 0;
}

const char *xbd_proto_name(enum xbd_proto proto)
{
	switch (proto) {
	case XBD_PROTO_X86_32: return XEN_IO_PROTO_ABI_X86_32;
	case XBD_PROTO_X86_64: return XEN_IO_PROTO_ABI_X86_64;
	case XBD_PROTO_NATIVE: return XEN_IO_PROTO_ABI_NATIVE;
	}
	return "?";
}

static bool proto_is_valid(enum xbd_proto proto)
{
	return proto == XBD_PROTO_NATIVE || proto == XBD_PROTO_X86_32 || proto == XBD_PROTO_X86_64;
}

/* 4096 << order for an order up to XBD_RING_MAX_PAGE_ORDER. */
static bool ring_bytes_are_valid(size_t bytes)
{
	for (unsigned int order = 0; order <= XBD_RING_MAX_PAGE_ORDER; order++) {
		if (bytes == (size_t)XBD_BLKIF_PAGE_SIZE << order)
			return true;
	}
	return false;
}

/* Mapped pages always are; the ring types need their own alignment for member access. */
static bool sring_is_aligned(const void *sring)
{
	return ((uintptr_t)sring % _Alignof(blkif_sring_t)) == 0 &&
	       ((uintptr_t)sring % _Alignof(blkif_x86_64_sring_t)) == 0;
}

/* __RING_SIZE: as many slots as fit after the header, rounded down to a power of two. */
static RING_IDX slots_that_fit(size_t bytes, size_t slot_size)
{
	size_t n = (bytes - XBD_RING_HEADER_SIZE) / slot_size;
	RING_IDX pow2 = 1;

	while ((size_t)pow2 * 2 <= n)
		pow2 *= 2;
	return pow2;
}

#define ATTACH(br, sring_type, sring, start, nr)                                                 \
	do {                                                                                     \
		(br)->rsp_prod_pvt = (start);                                                    \
		(br)->req_cons = (start);                                                        \
		(br)->nr_ents = (nr);                                                            \
		(br)->sring = (sring_type *)(sring);                                             \
	} while (0)

int xbd_ring_attach(struct xbd_ring *r, void *sring, size_t bytes, enum xbd_proto proto,
		    RING_IDX start)
{
	RING_IDX nr;

	if (!r || !sring || !proto_is_valid(proto) || !ring_bytes_are_valid(bytes) ||
	    !sring_is_aligned(sring))
		return -EINVAL;
	memset(r, 0, sizeof(*r));
	r->proto = proto;
	nr = slots_that_fit(bytes, ring_abis[proto].slot_size);
	switch (proto) {
	case XBD_PROTO_X86_32:
		ATTACH(&r->br.x86_32, blkif_x86_32_sring_t, sring, start, nr);
		break;
	case XBD_PROTO_X86_64:
		ATTACH(&r->br.x86_64, blkif_x86_64_sring_t, sring, start, nr);
		break;
	default:
		ATTACH(&r->br.native, blkif_sring_t, sring, start, nr);
		break;
	}
	return 0;
}

int xbd_ring_init(struct xbd_ring *r, void *sring, size_t bytes, enum xbd_proto proto)
{
	return xbd_ring_attach(r, sring, bytes, proto, 0);
}

static void *ring_sring(const struct xbd_ring *r)
{
	switch (r->proto) {
	case XBD_PROTO_X86_32:
		return r->br.x86_32.sring;
	case XBD_PROTO_X86_64:
		return r->br.x86_64.sring;
	default:
		return r->br.native.sring;
	}
}

static struct xbd_sring_hdr *ring_hdr(const struct xbd_ring *r)
{
	return ring_sring(r);
}

/* The slot of a free-running index: indices wrap at 2^32, slots at the ring size. */
static unsigned char *ring_slot(const struct xbd_ring *r, RING_IDX idx)
{
	unsigned char *slots = (unsigned char *)ring_sring(r) + XBD_RING_HEADER_SIZE;

	return slots + (size_t)(idx & (BACK(r, nr_ents) - 1)) * ring_abis[r->proto].slot_size;
}

unsigned int xbd_ring_size(const struct xbd_ring *r)
{
	return BACK(r, nr_ents);
}

unsigned int xbd_ring_outstanding(const struct xbd_ring *r)
{
	return BACK(r, req_cons) - BACK(r, rsp_prod_pvt);
}

/*
 * RING_REQUEST_PROD_OVERFLOW: an honest frontend has at most a ring's worth of requests without
 * a response, so req_prod is never more than the ring size beyond rsp_prod_pvt. Unsigned
 * differences keep this right across the wrap at 2^32.
 */
static bool req_prod_overflows(const struct xbd_ring *r, RING_IDX prod)
{
	return (RING_IDX)(prod - BACK(r, rsp_prod_pvt)) > BACK(r, nr_ents);
}

/* req_prod only grows: one behind what we already consumed was rewritten by the guest. */
static bool req_prod_went_back(const struct xbd_ring *r, RING_IDX prod)
{
	return (RING_IDX)(prod - BACK(r, rsp_prod_pvt)) < xbd_ring_outstanding(r);
}

/* RING_REQUEST_CONS_OVERFLOW: consuming one more would leave it no response slot. */
static bool no_response_slot(const struct xbd_ring *r)
{
	return xbd_ring_outstanding(r) >= BACK(r, nr_ents);
}

int xbd_ring_pop(struct xbd_ring *r, blkif_request_t *out)
{
	RING_IDX cons = BACK(r, req_cons);
	RING_IDX prod = shared_load(&ring_hdr(r)->req_prod);

	if (req_prod_overflows(r, prod) || req_prod_went_back(r, prod))
		return -EPROTO;
	if (prod == cons || no_response_slot(r))
		return 0;
	/*
	 * Read the slot only after req_prod. Pairs with the frontend's write barrier between
	 * filling the slot and publishing req_prod, so we never copy a half-written request.
	 */
	ring_rmb();
	ring_abis[r->proto].copy_request(out, ring_slot(r, cons));
	BACK(r, req_cons) = cons + 1;
	return 1;
}

void xbd_ring_put_response(struct xbd_ring *r, uint64_t id, uint8_t operation, int16_t status)
{
	const struct ring_abi *abi = &ring_abis[r->proto];
	RING_IDX idx = BACK(r, rsp_prod_pvt);
	unsigned char rsp[RSP_MAX_SIZE];

	/* The caller's contract, not guest input: one response per consumed request. */
	assert(xbd_ring_outstanding(r) > 0);
	/*
	 * Built in a zeroed buffer and copied whole: the padding bytes the guest reads are zero
	 * (XSA-216), never whatever the compiler left in a struct's padding.
	 */
	memset(rsp, 0, sizeof(rsp));
	memcpy(rsp + abi->rsp_id, &id, sizeof(id));
	memcpy(rsp + abi->rsp_operation, &operation, sizeof(operation));
	memcpy(rsp + abi->rsp_status, &status, sizeof(status));
	memcpy(ring_slot(r, idx), rsp, abi->rsp_size);
	BACK(r, rsp_prod_pvt) = idx + 1;
}

bool xbd_ring_push_responses(struct xbd_ring *r)
{
	struct xbd_sring_hdr *hdr = ring_hdr(r);
	/* As in ring.h, from the shared page: a guest that rewrites it only skews its own kicks. */
	RING_IDX old = shared_load(&hdr->rsp_prod);
	RING_IDX new = BACK(r, rsp_prod_pvt);
	RING_IDX event;

	/* Responses written into their slots are visible before the rsp_prod announcing them. */
	ring_wmb();
	shared_store(&hdr->rsp_prod, new);
	/*
	 * Our rsp_prod store is visible before we read rsp_event. The frontend mirrors this (it
	 * writes rsp_event, full barrier, re-reads rsp_prod), so at least one side sees the other's
	 * write and no response is left without a notification. Only a full barrier orders a
	 * store before a later load.
	 */
	ring_mb();
	event = shared_load(&hdr->rsp_event);
	/* Notify if rsp_event lies in (old, new]: the frontend asked to hear about one of these. */
	return (RING_IDX)(new - event) < (RING_IDX)(new - old);
}

/*
 * XEN_RING_NR_UNCONSUMED_REQUESTS: requests waiting, but no more than we have response slots
 * for. A req_prod the guest wrote out of range shows as work, and the pop then refuses it.
 */
static RING_IDX unconsumed_requests(const struct xbd_ring *r)
{
	RING_IDX prod = shared_load(&ring_hdr(r)->req_prod);
	RING_IDX waiting = prod - BACK(r, req_cons);
	RING_IDX room = BACK(r, nr_ents) - xbd_ring_outstanding(r);

	return waiting < room ? waiting : room;
}

bool xbd_ring_has_requests(const struct xbd_ring *r)
{
	return unconsumed_requests(r) != 0;
}

bool xbd_ring_final_check(struct xbd_ring *r)
{
	struct xbd_sring_hdr *hdr = ring_hdr(r);

	if (unconsumed_requests(r))
		return true;
	/* Ask to be notified of the very next request. */
	shared_store(&hdr->req_event, BACK(r, req_cons) + 1);
	/*
	 * Our req_event store is visible before we re-read req_prod. The frontend mirrors this
	 * (it writes req_prod, full barrier, reads req_event): either it sees the new req_event
	 * and notifies us, or we see its req_prod here. Only a full barrier orders a store before
	 * a later load.
	 */
	ring_mb();
	return unconsumed_requests(r) != 0;
}

int xbd_ring_resume(struct xbd_ring *r, void *sring, size_t bytes, enum xbd_proto proto,
		    RING_IDX req_cons, RING_IDX rsp_prod_pvt)
{
	int rc = xbd_ring_attach(r, sring, bytes, proto, rsp_prod_pvt);

	if (rc)
		return rc;
	/* The journal's plan checked it; checked again, as the ring's own invariant. */
	if ((RING_IDX)(req_cons - rsp_prod_pvt) > BACK(r, nr_ents))
		return -EINVAL;
	BACK(r, req_cons) = req_cons;
	return 0;
}

RING_IDX xbd_ring_req_cons(const struct xbd_ring *r)
{
	return BACK(r, req_cons);
}

RING_IDX xbd_ring_rsp_prod_pvt(const struct xbd_ring *r)
{
	return BACK(r, rsp_prod_pvt);
}

void xbd_ring_read_shared(const struct xbd_ring *r, RING_IDX *req_prod, RING_IDX *rsp_prod)
{
	struct xbd_sring_hdr *hdr = ring_hdr(r);

	*req_prod = shared_load(&hdr->req_prod);
	*rsp_prod = shared_load(&hdr->rsp_prod);
}

unsigned int xbd_ring_nr_ents(enum xbd_proto proto, size_t bytes)
{
	if (!proto_is_valid(proto) || !ring_bytes_are_valid(bytes))
		return 0;
	return slots_that_fit(bytes, ring_abis[proto].slot_size);
}
