/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Big-endian fields of NBD messages, read from and written into byte buffers, and a bounded
 * output buffer that the pure handshake code fills: a reply that would not fit marks the
 * buffer overflowed instead of writing past it, so the caller can end the connection.
 */
#ifndef XENBLKD_EXPORT_NBD_WIRE_H
#define XENBLKD_EXPORT_NBD_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint16_t nbd_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t nbd_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t nbd_get64(const uint8_t *p)
{
	return (uint64_t)nbd_get32(p) << 32 | nbd_get32(p + 4);
}

static inline void nbd_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void nbd_put32(uint8_t *p, uint32_t v)
{
	nbd_put16(p, (uint16_t)(v >> 16));
	nbd_put16(p + 2, (uint16_t)v);
}

static inline void nbd_put64(uint8_t *p, uint64_t v)
{
	nbd_put32(p, (uint32_t)(v >> 32));
	nbd_put32(p + 4, (uint32_t)v);
}

/* Where replies are built: `len` bytes used of `cap`. */
struct nbd_out {
	uint8_t *buf;
	size_t cap;
	size_t len;
	bool overflow; /* a reply did not fit: nothing of it was written */
};

/* Room for n more bytes at the end, or NULL (and overflow set). */
static inline uint8_t *nbd_out_reserve(struct nbd_out *o, size_t n)
{
	uint8_t *p;

	if (o->overflow || n > o->cap - o->len) {
		o->overflow = true;
		return NULL;
	}
	p = o->buf + o->len;
	o->len += n;
	return p;
}

#endif
