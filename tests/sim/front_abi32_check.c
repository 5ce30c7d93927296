/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Compile-only check, built with -m32 (tests/e2e/features.sh abi-x86_32 does it): under -m32,
 * <xen/io/blkif.h>'s own structs are the x86_32 ABI, so every size and offset of the simulated
 * blkfront's explicit x86_32 layout (front_abi.h) must equal blkif.h's. A mismatch fails the
 * compilation with the name of the field. It includes nothing from the daemon.
 */
#include <stddef.h>
#include <stdint.h>
#include <xen/io/blkif.h>

#include "front_abi.h"

#if !defined(__i386__)
#error "build this file with -m32: only then is blkif.h's native layout the x86_32 ABI"
#endif

#define SAME_SIZE(ours, theirs) _Static_assert(sizeof(ours) == sizeof(theirs), #ours " size")
#define SAME_OFF(ours, theirs, field)                                                            \
	_Static_assert(offsetof(ours, field) == offsetof(theirs, field), #ours "." #field)

SAME_SIZE(struct fabi32_request, struct blkif_request);
SAME_OFF(struct fabi32_request, struct blkif_request, operation);
SAME_OFF(struct fabi32_request, struct blkif_request, nr_segments);
SAME_OFF(struct fabi32_request, struct blkif_request, handle);
SAME_OFF(struct fabi32_request, struct blkif_request, id);
SAME_OFF(struct fabi32_request, struct blkif_request, sector_number);
SAME_OFF(struct fabi32_request, struct blkif_request, seg);
SAME_SIZE(struct fabi_seg, struct blkif_request_segment);
SAME_OFF(struct fabi_seg, struct blkif_request_segment, gref);
SAME_OFF(struct fabi_seg, struct blkif_request_segment, first_sect);
SAME_OFF(struct fabi_seg, struct blkif_request_segment, last_sect);

SAME_SIZE(struct fabi32_discard, struct blkif_request_discard);
SAME_OFF(struct fabi32_discard, struct blkif_request_discard, operation);
SAME_OFF(struct fabi32_discard, struct blkif_request_discard, flag);
SAME_OFF(struct fabi32_discard, struct blkif_request_discard, handle);
SAME_OFF(struct fabi32_discard, struct blkif_request_discard, id);
SAME_OFF(struct fabi32_discard, struct blkif_request_discard, sector_number);
SAME_OFF(struct fabi32_discard, struct blkif_request_discard, nr_sectors);

SAME_SIZE(struct fabi32_indirect, struct blkif_request_indirect);
SAME_OFF(struct fabi32_indirect, struct blkif_request_indirect, operation);
SAME_OFF(struct fabi32_indirect, struct blkif_request_indirect, indirect_op);
SAME_OFF(struct fabi32_indirect, struct blkif_request_indirect, nr_segments);
SAME_OFF(struct fabi32_indirect, struct blkif_request_indirect, id);
SAME_OFF(struct fabi32_indirect, struct blkif_request_indirect, sector_number);
SAME_OFF(struct fabi32_indirect, struct blkif_request_indirect, handle);
SAME_OFF(struct fabi32_indirect, struct blkif_request_indirect, indirect_grefs);

SAME_SIZE(struct fabi32_response, struct blkif_response);
SAME_OFF(struct fabi32_response, struct blkif_response, id);
SAME_OFF(struct fabi32_response, struct blkif_response, operation);
SAME_OFF(struct fabi32_response, struct blkif_response, status);

/* The ring entry is the request (the bigger of the two), and the slot counts follow. */
_Static_assert(sizeof(union blkif_sring_entry) == sizeof(struct fabi32_request), "entry size");
_Static_assert(offsetof(struct blkif_sring, ring) == FABI_SRING_HEADER, "ring header");
_Static_assert(__CONST_RING_SIZE(blkif, 4096) == 32, "one-page ring");
_Static_assert(__CONST_RING_SIZE(blkif, 4096 << 4) == 512, "order-4 ring");

/* Something for the object file to hold; the checks above are the point. */
int fabi32_check_passed(void);
int fabi32_check_passed(void)
{
	return 1;
}
