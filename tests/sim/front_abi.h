/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The three ring layouts a blkif frontend may speak (native, x86_32-abi, x86_64-abi), written
 * out for the simulated blkfront with fixed-width types and explicit packing, so that the same
 * definitions mean the same bytes whatever compiler flags build them. The x86_32 layout is the
 * one a 32-bit guest's <xen/io/blkif.h> produces: 108-byte requests, 12-byte responses, 64-bit
 * fields only 4-byte aligned. The static asserts below pin every size and offset;
 * front_abi32_check.c compares the x86_32 ones with blkif.h itself compiled with -m32. Requests
 * are built in an ABI-neutral form and encoded into a ring slot in one go; responses are decoded
 * out of the slot once. None of this comes from the daemon: it is the frontend's own reading of
 * blkif.h.
 */
#ifndef XBD_SIM_FRONT_ABI_H
#define XBD_SIM_FRONT_ABI_H

#include <stddef.h>
#include <stdint.h>

#define FABI_MAX_DIRECT_SEGS 11u /* BLKIF_MAX_SEGMENTS_PER_REQUEST */
#define FABI_MAX_INDIRECT_PAGES 8u /* BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST */
#define FABI_SEGS_PER_INDIRECT_PAGE 512u /* 4096 / sizeof(struct blkif_request_segment) */
#define FABI_MAX_INDIRECT_SEGS (FABI_MAX_INDIRECT_PAGES * FABI_SEGS_PER_INDIRECT_PAGE)
#define FABI_SRING_HEADER 64u /* req_prod, req_event, rsp_prod, rsp_event, 48 bytes of pad */

enum fabi {
	FABI_NATIVE,
	FABI_X86_32,
	FABI_X86_64,
};

/* A segment as it sits in a request or an indirect page; the same 8 bytes in every ABI. */
struct fabi_seg {
	uint32_t gref;
	uint8_t first_sect;
	uint8_t last_sect;
	uint16_t pad;
};

/* ---- x86_32: 64-bit fields on 4-byte boundaries ---- */

struct __attribute__((packed, aligned(4))) fabi32_request {
	uint8_t operation;
	uint8_t nr_segments;
	uint16_t handle;
	uint64_t id;
	uint64_t sector_number;
	struct fabi_seg seg[FABI_MAX_DIRECT_SEGS];
};

struct __attribute__((packed, aligned(4))) fabi32_discard {
	uint8_t operation;
	uint8_t flag;
	uint16_t handle;
	uint64_t id;
	uint64_t sector_number;
	uint64_t nr_sectors;
};

struct __attribute__((packed, aligned(4))) fabi32_indirect {
	uint8_t operation;
	uint8_t indirect_op;
	uint16_t nr_segments;
	uint64_t id;
	uint64_t sector_number;
	uint16_t handle;
	uint16_t pad1;
	uint32_t indirect_grefs[FABI_MAX_INDIRECT_PAGES];
	uint64_t pad2; /* blkif.h pads the i386 struct to 64 bytes */
};

struct __attribute__((packed, aligned(4))) fabi32_response {
	uint64_t id;
	uint8_t operation;
	uint8_t pad;
	int16_t status;
};

/* ---- x86_64: natural alignment, spelled out ---- */

struct __attribute__((aligned(8))) fabi64_request {
	uint8_t operation;
	uint8_t nr_segments;
	uint16_t handle;
	uint32_t pad;
	uint64_t id;
	uint64_t sector_number;
	struct fabi_seg seg[FABI_MAX_DIRECT_SEGS];
};

struct __attribute__((aligned(8))) fabi64_discard {
	uint8_t operation;
	uint8_t flag;
	uint16_t handle;
	uint32_t pad;
	uint64_t id;
	uint64_t sector_number;
	uint64_t nr_sectors;
};

struct __attribute__((aligned(8))) fabi64_indirect {
	uint8_t operation;
	uint8_t indirect_op;
	uint16_t nr_segments;
	uint32_t pad1;
	uint64_t id;
	uint64_t sector_number;
	uint16_t handle;
	uint16_t pad2;
	uint32_t indirect_grefs[FABI_MAX_INDIRECT_PAGES];
	uint32_t pad3;
};

struct __attribute__((aligned(8))) fabi64_response {
	uint64_t id;
	uint8_t operation;
	uint8_t pad1;
	int16_t status;
	uint32_t pad2;
};

#define FABI_CHECK(type, field, off) _Static_assert(offsetof(type, field) == (off), #type "." #field)
FABI_CHECK(struct fabi_seg, gref, 0);
FABI_CHECK(struct fabi_seg, first_sect, 4);
FABI_CHECK(struct fabi_seg, last_sect, 5);
_Static_assert(sizeof(struct fabi_seg) == 8, "segment size");

FABI_CHECK(struct fabi32_request, handle, 2);
FABI_CHECK(struct fabi32_request, id, 4);
FABI_CHECK(struct fabi32_request, sector_number, 12);
FABI_CHECK(struct fabi32_request, seg, 20);
_Static_assert(sizeof(struct fabi32_request) == 108, "x86_32 request size");
FABI_CHECK(struct fabi32_discard, flag, 1);
FABI_CHECK(struct fabi32_discard, id, 4);
FABI_CHECK(struct fabi32_discard, sector_number, 12);
FABI_CHECK(struct fabi32_discard, nr_sectors, 20);
_Static_assert(sizeof(struct fabi32_discard) == 28, "x86_32 discard size");
FABI_CHECK(struct fabi32_indirect, indirect_op, 1);
FABI_CHECK(struct fabi32_indirect, nr_segments, 2);
FABI_CHECK(struct fabi32_indirect, id, 4);
FABI_CHECK(struct fabi32_indirect, sector_number, 12);
FABI_CHECK(struct fabi32_indirect, handle, 20);
FABI_CHECK(struct fabi32_indirect, indirect_grefs, 24);
_Static_assert(sizeof(struct fabi32_indirect) == 64, "x86_32 indirect size");
FABI_CHECK(struct fabi32_response, operation, 8);
FABI_CHECK(struct fabi32_response, status, 10);
_Static_assert(sizeof(struct fabi32_response) == 12, "x86_32 response size");

FABI_CHECK(struct fabi64_request, handle, 2);
FABI_CHECK(struct fabi64_request, id, 8);
FABI_CHECK(struct fabi64_request, sector_number, 16);
FABI_CHECK(struct fabi64_request, seg, 24);
_Static_assert(sizeof(struct fabi64_request) == 112, "x86_64 request size");
FABI_CHECK(struct fabi64_discard, id, 8);
FABI_CHECK(struct fabi64_discard, sector_number, 16);
FABI_CHECK(struct fabi64_discard, nr_sectors, 24);
_Static_assert(sizeof(struct fabi64_discard) == 32, "x86_64 discard size");
FABI_CHECK(struct fabi64_indirect, nr_segments, 2);
FABI_CHECK(struct fabi64_indirect, id, 8);
FABI_CHECK(struct fabi64_indirect, sector_number, 16);
FABI_CHECK(struct fabi64_indirect, handle, 24);
FABI_CHECK(struct fabi64_indirect, indirect_grefs, 28);
_Static_assert(sizeof(struct fabi64_indirect) == 64, "x86_64 indirect size");
FABI_CHECK(struct fabi64_response, operation, 8);
FABI_CHECK(struct fabi64_response, status, 10);
_Static_assert(sizeof(struct fabi64_response) == 16, "x86_64 response size");

/* A request as the frontend means it, before it is laid out in one ABI. */
struct fabi_req {
	uint8_t operation; /* BLKIF_OP_*, including DISCARD and INDIRECT */
	uint8_t indirect_op; /* INDIRECT: READ or WRITE */
	uint8_t discard_flag; /* DISCARD: BLKIF_DISCARD_SECURE or 0 */
	uint16_t nr_segments; /* direct: <= 11, in seg[]; indirect: in the indirect pages */
	uint16_t handle;
	uint64_t id;
	uint64_t sector_number;
	uint64_t nr_sectors; /* DISCARD */
	uint32_t indirect_grefs[FABI_MAX_INDIRECT_PAGES];
	struct fabi_seg seg[FABI_MAX_DIRECT_SEGS];
};

struct fabi_rsp {
	uint64_t id;
	uint8_t operation;
	int16_t status;
};

/* Bytes of one ring entry (a request or a response, whichever is bigger). */
size_t fabi_entry_size(enum fabi abi);
/* Request slots of a ring of `ring_bytes`: the entries that fit, rounded down to a power of
 * two, as __RING_SIZE does. */
unsigned int fabi_ring_slots(enum fabi abi, size_t ring_bytes);
/* Lay `req` out in `slot` (a whole entry, which it overwrites, unused bytes zeroed). */
void fabi_put_request(enum fabi abi, const struct fabi_req *req, void *slot);
/* Copy the response out of `slot` once. */
void fabi_get_response(enum fabi abi, const void *slot, struct fabi_rsp *rsp);
/* The value of the frontend's `protocol` key for this ABI. */
const char *fabi_protocol(enum fabi abi);
const char *fabi_name(enum fabi abi);
/* "native", "x86_32" or "x86_64": 0 and *abi, or -EINVAL. */
int fabi_parse(const char *name, enum fabi *abi);

#endif
