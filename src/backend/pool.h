/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A bounded memory pool for one data thread: bounce buffers, indirect pages and per-request
 * arrays all come from here, so a guest can never make the daemon grow without bound. A
 * request that cannot get its memory waits (admission control) instead of failing. Freed
 * buffers are cached by power-of-two size class and handed back to the system when the queue
 * goes idle, so an idle VBD holds little memory. Not thread-safe: one pool per data thread.
 */
#ifndef XENBLKD_POOL_H
#define XENBLKD_POOL_H

#include <stddef.h>
#include <stdint.h>

#define XBD_POOL_MIN_SHIFT 12 /* 4 KiB */
#define XBD_POOL_MAX_SHIFT 25 /* 32 MiB */
#define XBD_POOL_CLASSES (XBD_POOL_MAX_SHIFT - XBD_POOL_MIN_SHIFT + 1)

struct xbd_pool_chunk;

/* Told of every buffer the pool takes from the system and gives back: the data plane
 * registers them with the storage queue (fixed buffers). add's failure is not the pool's. */
struct xbd_pool_hooks {
	int (*add)(void *ctx, void *buf, size_t len);
	void (*drop)(void *ctx, void *buf);
	void *ctx;
};

struct xbd_pool {
	size_t cap;     /* bytes the pool may hold, in use or cached */
	size_t held;    /* bytes allocated from the system */
	size_t in_use;  /* bytes handed out */
	size_t align;   /* buffer alignment */
	struct xbd_pool_chunk *free[XBD_POOL_CLASSES];
	const struct xbd_pool_hooks *hooks; /* or NULL */
	uint64_t allocs, waits; /* statistics */
};

void xbd_pool_init(struct xbd_pool *p, size_t cap, size_t align);
/* From now on, tell `h` (NULL: nobody) of buffers taken from and given back to the system. */
void xbd_pool_set_hooks(struct xbd_pool *p, const struct xbd_pool_hooks *h);
/* Release everything cached; nothing may be in use. */
void xbd_pool_fini(struct xbd_pool *p);
/* The size a request for `bytes` really takes, or 0 if it can never fit. */
size_t xbd_pool_class_size(const struct xbd_pool *p, size_t bytes);
/* NULL when the budget is used up right now (try again after a free), never on success. */
void *xbd_pool_alloc(struct xbd_pool *p, size_t bytes);
void xbd_pool_free(struct xbd_pool *p, void *buf, size_t bytes);
/* Give cached buffers back to the system (an idle queue). */
void xbd_pool_trim(struct xbd_pool *p);

#endif
