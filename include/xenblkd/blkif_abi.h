/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The three blkif ring ABIs a backend meets. <xen/io/blkif.h> describes only the layout of the
 * architecture it is compiled for ("native"); a 64-bit backend serving a 32-bit x86 guest must
 * read requests laid out as i386 lays them out (64-bit fields aligned to 4 bytes: requests of
 * 108 bytes, responses of 12), and the x86_64 layout is spelt out too so the code does not depend
 * on the build machine. Every size and offset is checked at compile time against the numbers of
 * the ABI, so a wrong layout cannot build; tests/unit/abi32 checks the x86_32 one against
 * blkif.h compiled with -m32.
 */
#ifndef XENBLKD_BLKIF_ABI_H
#define XENBLKD_BLKIF_ABI_H

#include <stddef.h>
#include <stdint.h>

#include <xen/io/ring.h>
#include <xen/io/blkif.h>
#include <xen/io/protocols.h>

/* A ring page and a segment's page are Xen pages, whatever the host page size. */
#define XBD_BLKIF_PAGE_SIZE 4096u
/* Ring sector fields, first_sect/last_sect and `sectors` are in 512-byte units
 * (docs/design.md, Protocol facts). */
#define XBD_BLKIF_SECTOR_SHIFT 9
#define XBD_BLKIF_SECTOR_SIZE (1u << XBD_BLKIF_SECTOR_SHIFT)
#define XBD_BLKIF_SECTORS_PER_PAGE (XBD_BLKIF_PAGE_SIZE >> XBD_BLKIF_SECTOR_SHIFT)
/* Request slots in one ring page, for every ABI (the 2013 "32 requests per page"). */
#define XBD_RING_SLOTS_PER_PAGE 32u
/* Largest ring-page-order xbd_ring_init() accepts: 16 pages, 512 slots, as Linux and QEMU. */
#define XBD_RING_MAX_PAGE_ORDER 4u
/* The shared ring header (four indices and padding) before the first slot. */
#define XBD_RING_HEADER_SIZE 64u

/*
 * A 64-bit integer with the alignment that i386 gives it inside structures (4), and one with the
 * x86_64 alignment (8). A typedef may lower alignment where a member attribute may not, and
 * this keeps ordinary struct layout rules instead of packing everything by hand.
 */
typedef uint64_t xbd_u64_align4 __attribute__((aligned(4)));
typedef uint64_t xbd_u64_align8 __attribute__((aligned(8)));

/* x86_32 layouts. */
struct blkif_x86_32_request {
	uint8_t operation;
	uint8_t nr_segments;
	blkif_vdev_t handle;
	xbd_u64_align4 id;
	xbd_u64_align4 sector_number;
	struct blkif_request_segment seg[BLKIF_MAX_SEGMENTS_PER_REQUEST];
};

struct blkif_x86_32_request_discard {
	uint8_t operation;
	uint8_t flag;
	blkif_vdev_t handle;
	xbd_u64_align4 id;
	xbd_u64_align4 sector_number;
	xbd_u64_align4 nr_sectors;
};

struct blkif_x86_32_request_indirect {
	uint8_t operation;
	uint8_t indirect_op;
	uint16_t nr_segments;
	xbd_u64_align4 id;
	xbd_u64_align4 sector_number;
	blkif_vdev_t handle;
	grant_ref_t indirect_grefs[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
	xbd_u64_align4 pad; /* blkif.h pads the i386 struct to 64 bytes */
};

struct blkif_x86_32_response {
	xbd_u64_align4 id;
	uint8_t operation;
	int16_t status;
};

/* x86_64 layouts. */
struct blkif_x86_64_request {
	uint8_t operation;
	uint8_t nr_segments;
	blkif_vdev_t handle;
	xbd_u64_align8 id;
	xbd_u64_align8 sector_number;
	struct blkif_request_segment seg[BLKIF_MAX_SEGMENTS_PER_REQUEST];
};

struct blkif_x86_64_request_discard {
	uint8_t operation;
	uint8_t flag;
	blkif_vdev_t handle;
	xbd_u64_align8 id;
	xbd_u64_align8 sector_number;
	xbd_u64_align8 nr_sectors;
};

struct blkif_x86_64_request_indirect {
	uint8_t operation;
	uint8_t indirect_op;
	uint16_t nr_segments;
	xbd_u64_align8 id;
	xbd_u64_align8 sector_number;
	blkif_vdev_t handle;
	grant_ref_t indirect_grefs[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
};

struct blkif_x86_64_response {
	xbd_u64_align8 id;
	uint8_t operation;
	int16_t status;
};

/* blkif.h already defines the native ring (blkif_sring_t, blkif_back_ring_t). */
DEFINE_RING_TYPES(blkif_x86_32, struct blkif_x86_32_request, struct blkif_x86_32_response);
DEFINE_RING_TYPES(blkif_x86_64, struct blkif_x86_64_request, struct blkif_x86_64_response);

/* The ring header every ABI shares: the four indices and the padding up to the first slot. */
struct xbd_sring_hdr {
	RING_IDX req_prod;
	RING_IDX req_event;
	RING_IDX rsp_prod;
	RING_IDX rsp_event;
	uint8_t pad[XBD_RING_HEADER_SIZE - 4 * sizeof(RING_IDX)];
};

#define XBD_ABI_CHECK(expr) _Static_assert(expr, #expr)

/* Segments: the same in every ABI. */
XBD_ABI_CHECK(sizeof(struct blkif_request_segment) == 8);
XBD_ABI_CHECK(offsetof(struct blkif_request_segment, gref) == 0);
XBD_ABI_CHECK(offsetof(struct blkif_request_segment, first_sect) == 4);
XBD_ABI_CHECK(offsetof(struct blkif_request_segment, last_sect) == 5);
XBD_ABI_CHECK(sizeof(blkif_vdev_t) == 2 && sizeof(grant_ref_t) == 4);

/* x86_32: the id sits at 4, right after the handle. */
XBD_ABI_CHECK(sizeof(struct blkif_x86_32_request) == 108);
XBD_ABI_CHECK(offsetof(struct blkif_x86_32_request, operation) == 0);
XBD_ABI_CHECK(offsetof(struct blkif_x86_32_request, nr_segments) == 1);
XBD_ABI_CHECK(offsetof(struct blkif_x86_32_request, handle) == 2);
XBD_ABI_CHECK(offsetof(struct blkif_x86_32_request, id) == 4);
XBD_ABI_CHECK(offsetof(struct blkif_x86_32_request, sector_number) == 12);
XBD_ABI_CHECK(offsetof(struct blkif_x86_32_request, seg) == 20);
XBD_ABI_CHECK(sizeof(struct blkif_x86_32_request_discard) == 28);
XBD_ABI_CHECK(offsetof(struct blkif_x86_32_request_discard, flag) == 1);
XBD_ABI_CHECK(offsetof(struct blkif_x86_32_request_discard, handle) == 2);
XBD_ABI_CHECK(offsetof(struct blkif_x86_32_request_discard, id) == 4);
XBD_ABI_CHECK(offsetof(struct blkif_x86_32_request_discard, sector_number) == 12);
XBD_ABI_CHECK(offsetof(struct blkif_x86_32_request_discard, nr_sectors) == 20);
XBD_ABI_CHECK(sizeof(struct blkif_x86_32_request_indirect) == 64);
XBD_ABI_CHECK(offsetof(struct blkif_x86_32_request_indirect, indirect_op) == 1);
XBD_ABI_CHECK(offsetof(struct blkif_x86_32_request_indirect, nr_segments) == 2);
XBD_ABI_CHECK(offsetof(struct blkif_x86_32_request_indirect, id) == 4);
XBD_ABI_CHECK(offsetof(struct blkif_x86_32_request_indirect, sector_number) == 12);
XBD_ABI_CHECK(offsetof(struct blkif_x86_32_request_indirect, handle) == 20);
XBD_ABI_CHECK(offsetof(struct blkif_x86_32_request_indirect, indirect_grefs) == 24);
XBD_ABI_CHECK(offsetof(struct blkif_x86_32_request_indirect, pad) == 56);
XBD_ABI_CHECK(sizeof(struct blkif_x86_32_response) == 12);
XBD_ABI_CHECK(offsetof(struct blkif_x86_32_response, id) == 0);
XBD_ABI_CHECK(offsetof(struct blkif_x86_32_response, operation) == 8);
XBD_ABI_CHECK(offsetof(struct blkif_x86_32_response, status) == 10);
XBD_ABI_CHECK(sizeof(union blkif_x86_32_sring_entry) == 108);

/* x86_64: the id sits at 8, after 4 bytes of padding. */
XBD_ABI_CHECK(sizeof(struct blkif_x86_64_request) == 112);
XBD_ABI_CHECK(offsetof(struct blkif_x86_64_request, operation) == 0);
XBD_ABI_CHECK(offsetof(struct blkif_x86_64_request, nr_segments) == 1);
XBD_ABI_CHECK(offsetof(struct blkif_x86_64_request, handle) == 2);
XBD_ABI_CHECK(offsetof(struct blkif_x86_64_request, id) == 8);
XBD_ABI_CHECK(offsetof(struct blkif_x86_64_request, sector_number) == 16);
XBD_ABI_CHECK(offsetof(struct blkif_x86_64_request, seg) == 24);
XBD_ABI_CHECK(sizeof(struct blkif_x86_64_request_discard) == 32);
XBD_ABI_CHECK(offsetof(struct blkif_x86_64_request_discard, flag) == 1);
XBD_ABI_CHECK(offsetof(struct blkif_x86_64_request_discard, handle) == 2);
XBD_ABI_CHECK(offsetof(struct blkif_x86_64_request_discard, id) == 8);
XBD_ABI_CHECK(offsetof(struct blkif_x86_64_request_discard, sector_number) == 16);
XBD_ABI_CHECK(offsetof(struct blkif_x86_64_request_discard, nr_sectors) == 24);
XBD_ABI_CHECK(sizeof(struct blkif_x86_64_request_indirect) == 64);
XBD_ABI_CHECK(offsetof(struct blkif_x86_64_request_indirect, indirect_op) == 1);
XBD_ABI_CHECK(offsetof(struct blkif_x86_64_request_indirect, nr_segments) == 2);
XBD_ABI_CHECK(offsetof(struct blkif_x86_64_request_indirect, id) == 8);
XBD_ABI_CHECK(offsetof(struct blkif_x86_64_request_indirect, sector_number) == 16);
XBD_ABI_CHECK(offsetof(struct blkif_x86_64_request_indirect, handle) == 24);
XBD_ABI_CHECK(offsetof(struct blkif_x86_64_request_indirect, indirect_grefs) == 28);
XBD_ABI_CHECK(sizeof(struct blkif_x86_64_response) == 16);
XBD_ABI_CHECK(offsetof(struct blkif_x86_64_response, id) == 0);
XBD_ABI_CHECK(offsetof(struct blkif_x86_64_response, operation) == 8);
XBD_ABI_CHECK(offsetof(struct blkif_x86_64_response, status) == 10);
XBD_ABI_CHECK(sizeof(union blkif_x86_64_sring_entry) == 112);

/* The shared header is the same for all three rings, and so is the slot count per page. */
XBD_ABI_CHECK(sizeof(struct xbd_sring_hdr) == XBD_RING_HEADER_SIZE);
XBD_ABI_CHECK(offsetof(struct blkif_sring, req_prod) == offsetof(struct xbd_sring_hdr, req_prod));
XBD_ABI_CHECK(offsetof(struct blkif_sring, req_event) == offsetof(struct xbd_sring_hdr, req_event));
XBD_ABI_CHECK(offsetof(struct blkif_sring, rsp_prod) == offsetof(struct xbd_sring_hdr, rsp_prod));
XBD_ABI_CHECK(offsetof(struct blkif_sring, rsp_event) == offsetof(struct xbd_sring_hdr, rsp_event));
XBD_ABI_CHECK(offsetof(struct blkif_sring, ring) == XBD_RING_HEADER_SIZE);
XBD_ABI_CHECK(offsetof(struct blkif_x86_32_sring, ring) == XBD_RING_HEADER_SIZE);
XBD_ABI_CHECK(offsetof(struct blkif_x86_64_sring, ring) == XBD_RING_HEADER_SIZE);
XBD_ABI_CHECK(__CONST_RING_SIZE(blkif, XBD_BLKIF_PAGE_SIZE) == XBD_RING_SLOTS_PER_PAGE);
XBD_ABI_CHECK(__CONST_RING_SIZE(blkif_x86_32, XBD_BLKIF_PAGE_SIZE) == XBD_RING_SLOTS_PER_PAGE);
XBD_ABI_CHECK(__CONST_RING_SIZE(blkif_x86_64, XBD_BLKIF_PAGE_SIZE) == XBD_RING_SLOTS_PER_PAGE);
XBD_ABI_CHECK(__CONST_RING_SIZE(blkif_x86_32, XBD_BLKIF_PAGE_SIZE << XBD_RING_MAX_PAGE_ORDER) ==
	      XBD_RING_SLOTS_PER_PAGE << XBD_RING_MAX_PAGE_ORDER);
XBD_ABI_CHECK(__CONST_RING_SIZE(blkif_x86_64, XBD_BLKIF_PAGE_SIZE << XBD_RING_MAX_PAGE_ORDER) ==
	      XBD_RING_SLOTS_PER_PAGE << XBD_RING_MAX_PAGE_ORDER);

/* The native request must hold every native variant, since they share one slot. */
XBD_ABI_CHECK(sizeof(blkif_request_discard_t) <= sizeof(blkif_request_t));
XBD_ABI_CHECK(sizeof(blkif_request_indirect_t) <= sizeof(blkif_request_t));
XBD_ABI_CHECK(offsetof(blkif_request_discard_t, id) == offsetof(blkif_request_t, id));
XBD_ABI_CHECK(offsetof(blkif_request_indirect_t, id) == offsetof(blkif_request_t, id));

/* Native is one of the two x86 layouts: every field of it, so a mismatch cannot build. */
#define XBD_ABI_SAME(native, ours, field)                                                        \
	XBD_ABI_CHECK(offsetof(native, field) == offsetof(ours, field))
#define XBD_ABI_NATIVE_IS(abi)                                                                   \
	XBD_ABI_CHECK(sizeof(blkif_request_t) == sizeof(struct blkif_##abi##_request));          \
	XBD_ABI_SAME(blkif_request_t, struct blkif_##abi##_request, nr_segments);                \
	XBD_ABI_SAME(blkif_request_t, struct blkif_##abi##_request, handle);                     \
	XBD_ABI_SAME(blkif_request_t, struct blkif_##abi##_request, id);                         \
	XBD_ABI_SAME(blkif_request_t, struct blkif_##abi##_request, sector_number);              \
	XBD_ABI_SAME(blkif_request_t, struct blkif_##abi##_request, seg);                        \
	XBD_ABI_CHECK(sizeof(blkif_request_discard_t) ==                                         \
		      sizeof(struct blkif_##abi##_request_discard));                             \
	XBD_ABI_SAME(blkif_request_discard_t, struct blkif_##abi##_request_discard, flag);       \
	XBD_ABI_SAME(blkif_request_discard_t, struct blkif_##abi##_request_discard, handle);     \
	XBD_ABI_SAME(blkif_request_discard_t, struct blkif_##abi##_request_discard, id);         \
	XBD_ABI_SAME(blkif_request_discard_t, struct blkif_##abi##_request_discard,              \
		     sector_number);                                                             \
	XBD_ABI_SAME(blkif_request_discard_t, struct blkif_##abi##_request_discard, nr_sectors); \
	XBD_ABI_CHECK(sizeof(blkif_request_indirect_t) ==                                        \
		      sizeof(struct blkif_##abi##_request_indirect));                            \
	XBD_ABI_SAME(blkif_request_indirect_t, struct blkif_##abi##_request_indirect,            \
		     indirect_op);                                                               \
	XBD_ABI_SAME(blkif_request_indirect_t, struct blkif_##abi##_request_indirect,            \
		     nr_segments);                                                               \
	XBD_ABI_SAME(blkif_request_indirect_t, struct blkif_##abi##_request_indirect, id);       \
	XBD_ABI_SAME(blkif_request_indirect_t, struct blkif_##abi##_request_indirect,            \
		     sector_number);                                                             \
	XBD_ABI_SAME(blkif_request_indirect_t, struct blkif_##abi##_request_indirect, handle);   \
	XBD_ABI_SAME(blkif_request_indirect_t, struct blkif_##abi##_request_indirect,            \
		     indirect_grefs);                                                            \
	XBD_ABI_CHECK(sizeof(blkif_response_t) == sizeof(struct blkif_##abi##_response));        \
	XBD_ABI_SAME(blkif_response_t, struct blkif_##abi##_response, id);                       \
	XBD_ABI_SAME(blkif_response_t, struct blkif_##abi##_response, operation);                \
	XBD_ABI_SAME(blkif_response_t, struct blkif_##abi##_response, status);                   \
	XBD_ABI_CHECK(sizeof(union blkif_sring_entry) == sizeof(union blkif_##abi##_sring_entry))

#if defined(__x86_64__)
XBD_ABI_NATIVE_IS(x86_64);
#elif defined(__i386__)
XBD_ABI_NATIVE_IS(x86_32);
#endif

#endif
