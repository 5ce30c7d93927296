/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the simulated blkfront writes into every 512-byte sector, and how it checks what it reads
 * back. A written sector carries its own LBA and the generation (sequence number) of the write
 * that produced it, and the rest of it is a pseudo-random pattern seeded by both, so a sector
 * that lands at the wrong place, a stale one, a torn one or one corrupted anywhere is caught
 * and can be told apart. Read buffers are poisoned before the backend fills them, and the bytes
 * of the page outside the segment carry a canary that the backend must not touch.
 */
#ifndef XBD_SIM_FRONT_DATA_H
#define XBD_SIM_FRONT_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FDATA_SECTOR 512u
#define FDATA_SECTORS_PER_PAGE 8u
#define FDATA_GEN_ZERO 0u /* never written by us: must read as zeros */
#define FDATA_GEN_UNKNOWN UINT32_MAX /* a write failed: the content is undefined */

/* Fill one sector with the pattern of (lba, gen); gen is never FDATA_GEN_ZERO/UNKNOWN. */
void fdata_fill_sector(void *sector, uint64_t lba, uint32_t gen);
/* Does the sector hold (lba, gen)? For FDATA_GEN_ZERO: is it all zeros? */
bool fdata_check_sector(const void *sector, uint64_t lba, uint32_t gen);
/* Human-readable guess of what a sector holds ("lba 12 gen 7", "zeros", ...). */
void fdata_describe(const void *sector, char *out, size_t len);

/* Poison sectors first..last of a page and put the canary around them (before a read, or
 * before the data of a write goes in). */
void fdata_prepare_read(void *page, unsigned int first, unsigned int last);
/* Is the canary around sectors first..last intact? */
bool fdata_canary_intact(const void *page, unsigned int first, unsigned int last);

#endif
