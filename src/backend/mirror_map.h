/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The dirty map of a live mirror (mirror_map.c): one bit per region (64 KiB by default) that
 * the destination may not hold yet, the guest writes in flight per stripe of regions, and the
 * region the copier is copying. Guest writes (data threads) and the copier (its own thread)
 * meet only through these atomics, with a rule that keeps the destination right without a
 * lock: the copier never starts a region a guest write is in flight on, and a guest write that
 * starts while its region is being copied marks it dirty again, so it is copied once more
 * after the write completed on both copies. Pure: no I/O, unit-tested.
 */
#ifndef XENBLKD_MIRROR_MAP_H
#define XENBLKD_MIRROR_MAP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define XBD_MIRROR_REGION_SHIFT 16 /* 64 KiB */
#define XBD_MIRROR_STRIPES 4096    /* writer counters, region % stripes */

struct xbd_mirror_map {
	uint64_t size;          /* bytes */
	unsigned int shift;     /* log2 of the region size */
	uint64_t nr_regions;
	_Atomic uint64_t *dirty; /* bit per region */
	_Atomic uint64_t nr_dirty;
	_Atomic uint64_t copying; /* region being copied, plus one; 0: none */
	_Atomic uint32_t writers[XBD_MIRROR_STRIPES];
	uint64_t cursor;        /* the copier's: where the next search starts */
};

/* Every region dirty (nothing copied yet). 0 or -ENOMEM, -EINVAL for a bad size or shift. */
int xbd_mirror_map_init(struct xbd_mirror_map *m, uint64_t size, unsigned int shift);
void xbd_mirror_map_fini(struct xbd_mirror_map *m);
/* Mark the regions of [off, off + len) dirty (clipped to the size). */
void xbd_mirror_map_mark(struct xbd_mirror_map *m, uint64_t off, uint64_t len);
/* A guest write (or discard) of [off, off + len) starts / has completed on both copies. */
void xbd_mirror_map_write_begin(struct xbd_mirror_map *m, uint64_t off, uint64_t len);
void xbd_mirror_map_write_end(struct xbd_mirror_map *m, uint64_t off, uint64_t len);
/* Copier: take the next dirty region no guest write is in flight on, clear its bit and
 * record it as being copied. The region, or -1 when there is none to take now. */
int64_t xbd_mirror_map_claim(struct xbd_mirror_map *m);
/* Copier: the claimed region is copied (ok) or not (it stays dirty). */
void xbd_mirror_map_release(struct xbd_mirror_map *m, uint64_t region, bool ok);
/* Regions dirty now (a claimed one is not counted). */
uint64_t xbd_mirror_map_dirty(struct xbd_mirror_map *m);
/* Nothing dirty and nothing being copied. */
bool xbd_mirror_map_clean(struct xbd_mirror_map *m);
/* The byte range of a region. */
void xbd_mirror_map_region(const struct xbd_mirror_map *m, uint64_t region, uint64_t *off,
			   uint64_t *len);

#endif
