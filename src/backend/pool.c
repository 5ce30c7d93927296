/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The data thread's bounded memory pool (see pool.h): power-of-two size classes from 4 KiB to
 * 32 MiB, a free list per class, and a byte budget covering both what is handed out and what
 * is cached. When a fresh allocation would pass the budget, cached buffers of other classes
 * are released first; only then does the caller have to wait. Hooks hear of every buffer taken
 * from or given back to the system, so the storage queue can register them (fixed buffers):
 * buffers are cached, so that costs a system call per new buffer, not per request.
 */
#include <stdlib.h>

#include "pool.h"

struct xbd_pool_chunk {
	struct xbd_pool_chunk *next;
};

static int class_of(size_t bytes)
{
	int shift = XBD_POOL_MIN_SHIFT;

	while (shift <= XBD_POOL_MAX_SHIFT && ((size_t)1 << shift) < bytes)
		shift++;
	return shift > XBD_POOL_MAX_SHIFT ? -1 : shift - XBD_POOL_MIN_SHIFT;
}

static size_t class_bytes(int c)
{
	return (size_t)1 << (c + XBD_POOL_MIN_SHIFT);
}

void xbd_pool_init(struct xbd_pool *p, size_t cap, size_t align)
{
	*p = (struct xbd_pool){ .cap = cap, .align = align < 4096 ? 4096 : align };
}

void xbd_pool_set_hooks(struct xbd_pool *p, const struct xbd_pool_hooks *h)
{
	p->hooks = h;
}

size_t xbd_pool_class_size(const struct xbd_pool *p, size_t bytes)
{
	int c = class_of(bytes ? bytes : 1);

	if (c < 0 || class_bytes(c) > p->cap)
		return 0;
	return class_bytes(c);
}

static void release_class(struct xbd_pool *p, int c)
{
	while (p->free[c]) {
		struct xbd_pool_chunk *ch = p->free[c];

		p->free[c] = ch->next;
		p->held -= class_bytes(c);
		if (p->hooks)
			p->hooks->drop(p->hooks->ctx, ch);
		free(ch);
	}
}

void xbd_pool_trim(struct xbd_pool *p)
{
	for (int c = 0; c < XBD_POOL_CLASSES; c++)
		release_class(p, c);
}

void xbd_pool_fini(struct xbd_pool *p)
{
	xbd_pool_trim(p);
}

/* Make room for `need` more bytes by releasing cached buffers, largest first. */
static void make_room(struct xbd_pool *p, size_t need)
{
	for (int c = XBD_POOL_CLASSES - 1; c >= 0 && p->held + need > p->cap; c--)
		release_class(p, c);
}

void *xbd_pool_alloc(struct xbd_pool *p, size_t bytes)
{
	int c = class_of(bytes ? bytes : 1);
	size_t sz;
	void *buf;

	if (c < 0)
		return NULL;
	sz = class_bytes(c);
	if (p->free[c]) {
		buf = p->free[c];
		p->free[c] = p->free[c]->next;
	} else {
		if (p->held + sz > p->cap)
			make_room(p, sz);
		if (p->held + sz > p->cap || posix_memalign(&buf, p->align, sz)) {
			p->waits++;
			return NULL;
		}
		p->held += sz;
		if (p->hooks)
			p->hooks->add(p->hooks->ctx, buf, sz);
	}
	p->in_use += sz;
	p->allocs++;
	return buf;
}

void xbd_pool_free(struct xbd_pool *p, void *buf, size_t bytes)
{
	int c = class_of(bytes ? bytes : 1);
	struct xbd_pool_chunk *ch = buf;

	if (!buf || c < 0)
		return;
	p->in_use -= class_bytes(c);
	ch->next = p->free[c];
	p->free[c] = ch;
}
