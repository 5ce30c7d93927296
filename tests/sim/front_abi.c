/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Encoding and decoding of ring entries for the simulated blkfront's three ABIs (front_abi.h).
 * The native layout uses <xen/io/blkif.h>'s own structs, x86_32 and x86_64 our explicit ones;
 * on an x86_64 build the native and x86_64 layouts must agree, which the asserts below check,
 * so a mistake in either shows at compile time. Every request is assembled in a zeroed local
 * struct and copied into the shared slot whole, so no stale or uninitialised byte reaches the
 * backend.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <xen/io/blkif.h>
#include <xen/io/protocols.h>

#include "front_abi.h"

#if defined(__x86_64__)
_Static_assert(sizeof(struct blkif_request) == sizeof(struct fabi64_request), "native request");
_Static_assert(offsetof(struct blkif_request, seg) == offsetof(struct fabi64_request, seg),
	       "native request segments");
_Static_assert(offsetof(struct blkif_request_indirect, indirect_grefs) ==
		       offsetof(struct fabi64_indirect, indirect_grefs),
	       "native indirect grefs");
_Static_assert(offsetof(struct blkif_request_discard, nr_sectors) ==
		       offsetof(struct fabi64_discard, nr_sectors),
	       "native discard length");
_Static_assert(sizeof(struct blkif_response) == sizeof(struct fabi64_response), "native response");
#endif
_Static_assert(offsetof(blkif_sring_t, ring) == FABI_SRING_HEADER, "shared ring header");

size_t fabi_entry_size(enum fabi abi)
{
	switch (abi) {
	case FABI_X86_32:
		return sizeof(struct fabi32_request);
	case FABI_X86_64:
		return sizeof(struct fabi64_request);
	default:
		return sizeof(union blkif_sring_entry);
	}
}

unsigned int fabi_ring_slots(enum fabi abi, size_t ring_bytes)
{
	size_t n = (ring_bytes - FABI_SRING_HEADER) / fabi_entry_size(abi);
	unsigned int p = 1;

	while ((size_t)p * 2 <= n)
		p *= 2;
	return p;
}

static void fabi_put_native(const struct fabi_req *q, void *slot)
{
	union {
		blkif_request_t rw;
		blkif_request_discard_t discard;
		blkif_request_indirect_t indirect;
	} u;
	unsigned int i;

	memset(&u, 0, sizeof(u));
	if (q->operation == BLKIF_OP_DISCARD) {
		u.discard = (blkif_request_discard_t){ .operation = q->operation,
						       .flag = q->discard_flag,
						       .handle = q->handle,
						       .id = q->id,
						       .sector_number = q->sector_number,
						       .nr_sectors = q->nr_sectors };
	} else if (q->operation == BLKIF_OP_INDIRECT) {
		u.indirect.operation = q->operation;
		u.indirect.indirect_op = q->indirect_op;
		u.indirect.nr_segments = q->nr_segments;
		u.indirect.id = q->id;
		u.indirect.sector_number = q->sector_number;
		u.indirect.handle = q->handle;
		memcpy(u.indirect.indirect_grefs, q->indirect_grefs, sizeof(q->indirect_grefs));
	} else {
		u.rw.operation = q->operation;
		u.rw.nr_segments = (uint8_t)q->nr_segments;
		u.rw.handle = q->handle;
		u.rw.id = q->id;
		u.rw.sector_number = q->sector_number;
		for (i = 0; i < q->nr_segments && i < FABI_MAX_DIRECT_SEGS; i++) {
			u.rw.seg[i].gref = q->seg[i].gref;
			u.rw.seg[i].first_sect = q->seg[i].first_sect;
			u.rw.seg[i].last_sect = q->seg[i].last_sect;
		}
	}
	memcpy(slot, &u, sizeof(union blkif_sring_entry));
}

/*
 * One body for both explicit layouts: they have the same field names and differ only in
 * placement, which the struct types carry.
 */
#define FABI_PUT_EXPLICIT(req_t, discard_t, indirect_t, q, slot)                                 \
	do {                                                                                     \
		union {                                                                          \
			req_t rw;                                                                \
			discard_t discard;                                                       \
			indirect_t indirect;                                                     \
		} u;                                                                             \
		memset(&u, 0, sizeof(u));                                                        \
		if ((q)->operation == BLKIF_OP_DISCARD) {                                        \
			u.discard.operation = (q)->operation;                                    \
			u.discard.flag = (q)->discard_flag;                                      \
			u.discard.handle = (q)->handle;                                          \
			u.discard.id = (q)->id;                                                  \
			u.discard.sector_number = (q)->sector_number;                            \
			u.discard.nr_sectors = (q)->nr_sectors;                                  \
		} else if ((q)->operation == BLKIF_OP_INDIRECT) {                                \
			u.indirect.operation = (q)->operation;                                   \
			u.indirect.indirect_op = (q)->indirect_op;                               \
			u.indirect.nr_segments = (q)->nr_segments;                               \
			u.indirect.id = (q)->id;                                                 \
			u.indirect.sector_number = (q)->sector_number;                           \
			u.indirect.handle = (q)->handle;                                         \
			memcpy(u.indirect.indirect_grefs, (q)->indirect_grefs,                   \
			       sizeof((q)->indirect_grefs));                                     \
		} else {                                                                         \
			u.rw.operation = (q)->operation;                                         \
			u.rw.nr_segments = (uint8_t)(q)->nr_segments;                            \
			u.rw.handle = (q)->handle;                                               \
			u.rw.id = (q)->id;                                                       \
			u.rw.sector_number = (q)->sector_number;                                 \
			memcpy(u.rw.seg, (q)->seg, sizeof(u.rw.seg));                            \
		}                                                                                \
		memcpy((slot), &u, sizeof(req_t));                                               \
	} while (0)

_Static_assert(sizeof(((struct fabi_req *)0)->seg) == sizeof(((struct fabi32_request *)0)->seg),
	       "segments copied whole");

void fabi_put_request(enum fabi abi, const struct fabi_req *req, void *slot)
{
	struct fabi_req q = *req;
	unsigned int used = q.nr_segments < FABI_MAX_DIRECT_SEGS ? q.nr_segments :
								     FABI_MAX_DIRECT_SEGS;

	/* Unused direct segments go out as zeros, whatever the caller left there. */
	if (q.operation == BLKIF_OP_INDIRECT || q.operation == BLKIF_OP_DISCARD)
		used = 0;
	memset(q.seg + used, 0, sizeof(q.seg[0]) * (FABI_MAX_DIRECT_SEGS - used));
	switch (abi) {
	case FABI_X86_32:
		FABI_PUT_EXPLICIT(struct fabi32_request, struct fabi32_discard,
				  struct fabi32_indirect, &q, slot);
		break;
	case FABI_X86_64:
		FABI_PUT_EXPLICIT(struct fabi64_request, struct fabi64_discard,
				  struct fabi64_indirect, &q, slot);
		break;
	default:
		fabi_put_native(&q, slot);
		break;
	}
}

void fabi_get_response(enum fabi abi, const void *slot, struct fabi_rsp *rsp)
{
	struct fabi32_response r32;
	struct fabi64_response r64;
	blkif_response_t rn;

	/* One copy out of shared memory, then fields from the private copy only. */
	switch (abi) {
	case FABI_X86_32:
		memcpy(&r32, slot, sizeof(r32));
		*rsp = (struct fabi_rsp){ r32.id, r32.operation, r32.status };
		break;
	case FABI_X86_64:
		memcpy(&r64, slot, sizeof(r64));
		*rsp = (struct fabi_rsp){ r64.id, r64.operation, r64.status };
		break;
	default:
		memcpy(&rn, slot, sizeof(rn));
		*rsp = (struct fabi_rsp){ rn.id, rn.operation, rn.status };
		break;
	}
}

const char *fabi_protocol(enum fabi abi)
{
	switch (abi) {
	case FABI_X86_32:
		return XEN_IO_PROTO_ABI_X86_32;
	case FABI_X86_64:
		return XEN_IO_PROTO_ABI_X86_64;
	default:
		return XEN_IO_PROTO_ABI_NATIVE;
	}
}

const char *fabi_name(enum fabi abi)
{
	return abi == FABI_X86_32 ? "x86_32" : abi == FABI_X86_64 ? "x86_64" : "native";
}

int fabi_parse(const char *name, enum fabi *abi)
{
	if (!strcmp(name, "native"))
		*abi = FABI_NATIVE;
	else if (!strcmp(name, "x86_32"))
		*abi = FABI_X86_32;
	else if (!strcmp(name, "x86_64"))
		*abi = FABI_X86_64;
	else
		return -EINVAL;
	return 0;
}
