/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The list of blkif sizes and offsets compared by the abi32 test, written once and expanded
 * twice: over blkif.h's own structs in a program built with -m32 (where they are the x86_32
 * ABI), and over our blkif_x86_32_* structs in the native test. X(name, value) per row.
 */
#ifndef XENBLKD_ABI32_LAYOUT_H
#define XENBLKD_ABI32_LAYOUT_H

#define ABI32_LAYOUT(X, req, discard, indirect, rsp, sring, tag)                                  \
	X("request.size", sizeof(req))                                                           \
	X("request.operation", offsetof(req, operation))                                        \
	X("request.nr_segments", offsetof(req, nr_segments))                                    \
	X("request.handle", offsetof(req, handle))                                              \
	X("request.id", offsetof(req, id))                                                      \
	X("request.sector_number", offsetof(req, sector_number))                                \
	X("request.seg", offsetof(req, seg))                                                    \
	X("request.seg.size", sizeof(((req *)0)->seg[0]))                                       \
	X("request.seg.gref", offsetof(req, seg[0].gref))                                       \
	X("request.seg.first_sect", offsetof(req, seg[0].first_sect))                           \
	X("request.seg.last_sect", offsetof(req, seg[0].last_sect))                             \
	X("request.seg[10]", offsetof(req, seg[10]))                                            \
	X("discard.size", sizeof(discard))                                                      \
	X("discard.operation", offsetof(discard, operation))                                    \
	X("discard.flag", offsetof(discard, flag))                                              \
	X("discard.handle", offsetof(discard, handle))                                          \
	X("discard.id", offsetof(discard, id))                                                  \
	X("discard.sector_number", offsetof(discard, sector_number))                            \
	X("discard.nr_sectors", offsetof(discard, nr_sectors))                                  \
	X("indirect.size", sizeof(indirect))                                                    \
	X("indirect.operation", offsetof(indirect, operation))                                  \
	X("indirect.indirect_op", offsetof(indirect, indirect_op))                              \
	X("indirect.nr_segments", offsetof(indirect, nr_segments))                              \
	X("indirect.id", offsetof(indirect, id))                                                \
	X("indirect.sector_number", offsetof(indirect, sector_number))                          \
	X("indirect.handle", offsetof(indirect, handle))                                        \
	X("indirect.indirect_grefs", offsetof(indirect, indirect_grefs))                        \
	X("indirect.indirect_grefs[7]", offsetof(indirect, indirect_grefs[7]))                  \
	X("response.size", sizeof(rsp))                                                         \
	X("response.id", offsetof(rsp, id))                                                     \
	X("response.operation", offsetof(rsp, operation))                                       \
	X("response.status", offsetof(rsp, status))                                             \
	X("sring.req_prod", offsetof(sring, req_prod))                                          \
	X("sring.req_event", offsetof(sring, req_event))                                        \
	X("sring.rsp_prod", offsetof(sring, rsp_prod))                                          \
	X("sring.rsp_event", offsetof(sring, rsp_event))                                        \
	X("sring.ring", offsetof(sring, ring))                                                  \
	X("sring.entry.size", sizeof(((sring *)0)->ring[0]))                                    \
	X("slots.order0", __CONST_RING_SIZE(tag, 4096))                                         \
	X("slots.order4", __CONST_RING_SIZE(tag, 4096 << 4))

#endif
