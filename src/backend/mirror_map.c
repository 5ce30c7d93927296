/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The dirty map of a live mirror (see mirror_map.h). Why it is right without a lock: the
 * copier stores `copying` and then reads the region's writer count; a guest write increments
 * that count and then reads `copying` (both sequentially consistent). One of the two always
 * sees the other: either the copier sees the write and gives the region back, or the write
 * sees the copy and marks the region dirty again. The copier cleared the bit before it stored
 * `copying`, so that mark is never lost, and it takes a region only when no write is in flight
 * on it, so a copy never reads a half-written source or races a guest write to the
 * destination it could overwrite with older data.
 */
#include <errno.h>
#include <stdlib.h>

#include "mirror_map.h"

static uint64_t region_of(const struct xbd_mirror_map *m, uint64_t off)
{
	return off >> m->shift;
}

/* The regions [*first, *last] of a byte range, false for an empty one or one past the end. */
static bool regions(const struct xbd_mirror_map *m, uint64_t off, uint64_t len, uint64_t *first,
		    uint64_t *last)
{
	if (len == 0 || off >= m->size)
		return false;
	if (len > m->size - off)
		len = m->size - off;
	*first = region_of(m, off);
	*last = region_of(m, off + len - 1);
	return true;
}

int xbd_mirror_map_init(struct xbd_mirror_map *m, uint64_t size, unsigned int shift)
{
	uint64_t words;

	if (shift < 9 || shift > 30 || size == 0)
		return -EINVAL;
	m->size = size;
	m->shift = shift;
	m->nr_regions = (size + (1ull << shift) - 1) >> shift;
	words = (m->nr_regions + 63) / 64;
	m->dirty = calloc(words, sizeof(*m->dirty));
	if (!m->dirty)
		return -ENOMEM;
	atomic_init(&m->nr_dirty, 0);
	atomic_init(&m->copying, 0);
	for (unsigned int i = 0; i < XBD_MIRROR_STRIPES; i++)
		atomic_init(&m->writers[i], 0);
	m->cursor = 0;
	xbd_mirror_map_mark(m, 0, size);
	return 0;
}

void xbd_mirror_map_fini(struct xbd_mirror_map *m)
{
	free((void *)m->dirty);
	m->dirty = NULL;
}

static void set_bit(struct xbd_mirror_map *m, uint64_t r)
{
	uint64_t bit = 1ull << (r % 64);

	if (!(atomic_fetch_or(&m->dirty[r / 64], bit) & bit))
		atomic_fetch_add(&m->nr_dirty, 1);
}

static bool clear_bit(struct xbd_mirror_map *m, uint64_t r)
{
	uint64_t bit = 1ull << (r % 64);

	if (!(atomic_fetch_and(&m->dirty[r / 64], ~bit) & bit))
		return false;
	atomic_fetch_sub(&m->nr_dirty, 1);
	return true;
}

void xbd_mirror_map_mark(struct xbd_mirror_map *m, uint64_t off, uint64_t len)
{
	uint64_t first, last;

	if (!regions(m, off, len, &first, &last))
		return;
	for (uint64_t r = first; r <= last; r++)
		set_bit(m, r);
}

/* The stripes of a range: all of them once it covers as many regions. */
static void add_writers(struct xbd_mirror_map *m, uint64_t first, uint64_t last, int delta)
{
	uint64_t n = last - first + 1;

	if (n > XBD_MIRROR_STRIPES)
		n = XBD_MIRROR_STRIPES;
	for (uint64_t i = 0; i < n; i++)
		atomic_fetch_add(&m->writers[(first + i) % XBD_MIRROR_STRIPES], (uint32_t)delta);
}

void xbd_mirror_map_write_begin(struct xbd_mirror_map *m, uint64_t off, uint64_t len)
{
	uint64_t first, last, c;

	if (!regions(m, off, len, &first, &last))
		return;
	add_writers(m, first, last, 1);
	c = atomic_load(&m->copying);
	if (c && c - 1 >= first && c - 1 <= last)
		set_bit(m, c - 1);
}

void xbd_mirror_map_write_end(struct xbd_mirror_map *m, uint64_t off, uint64_t len)
{
	uint64_t first, last;

	if (regions(m, off, len, &first, &last))
		add_writers(m, first, last, -1);
}

static bool busy(struct xbd_mirror_map *m, uint64_t r)
{
	return atomic_load(&m->writers[r % XBD_MIRROR_STRIPES]) != 0;
}

/* Try to take dirty region r: 1 taken, 0 not now. */
static int try_take(struct xbd_mirror_map *m, uint64_t r)
{
	if (busy(m, r) || !clear_bit(m, r))
		return 0;
	atomic_store(&m->copying, r + 1);
	if (!busy(m, r))
		return 1;
	atomic_store(&m->copying, 0);
	set_bit(m, r);
	return 0;
}

int64_t xbd_mirror_map_claim(struct xbd_mirror_map *m)
{
	uint64_t words = (m->nr_regions + 63) / 64;

	if (atomic_load(&m->nr_dirty) == 0)
		return -1;
	for (uint64_t n = 0; n <= words; n++) {
		uint64_t w = (m->cursor / 64 + n) % words;
		uint64_t bits = atomic_load(&m->dirty[w]);

		while (bits) {
			uint64_t r = w * 64 + (uint64_t)__builtin_ctzll(bits);

			bits &= bits - 1;
			if (r < m->nr_regions && try_take(m, r)) {
				m->cursor = r + 1 < m->nr_regions ? r + 1 : 0;
				return (int64_t)r;
			}
		}
	}
	return -1;
}

void xbd_mirror_map_release(struct xbd_mirror_map *m, uint64_t region, bool ok)
{
	if (!ok)
		set_bit(m, region);
	atomic_store(&m->copying, 0);
}

uint64_t xbd_mirror_map_dirty(struct xbd_mirror_map *m)
{
	return atomic_load(&m->nr_dirty);
}

bool xbd_mirror_map_clean(struct xbd_mirror_map *m)
{
	return atomic_load(&m->nr_dirty) == 0 && atomic_load(&m->copying) == 0;
}

void xbd_mirror_map_region(const struct xbd_mirror_map *m, uint64_t region, uint64_t *off,
			   uint64_t *len)
{
	*off = region << m->shift;
	*len = *off + (1ull << m->shift) <= m->size ? 1ull << m->shift : m->size - *off;
}
