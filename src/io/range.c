/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Discard, secure erase and write-zeroes of a storage queue, done in bounded steps. One such
 * request may name the whole disk, and what does it (fallocate, BLKDISCARD, BLKZEROOUT, a
 * qcow2 metadata walk) takes time in proportion to the range and cannot be interrupted, so it
 * is never done in one go on the data thread. The queue keeps these I/Os in a FIFO and, at each
 * wait, asks the driver's range_step for one bounded part of the oldest, then the next part,
 * for at most XBD_RANGE_PASS_NS, and returns to its caller, who answers other requests and
 * checks for a stop in between. A driver that works in bytes gets chunks sized here from the
 * time its previous calls took (about XBD_RANGE_TARGET_NS each, within the driver's bounds);
 * one that bounds its own work (qcow2) gets the whole remainder. A stopping caller abandons the
 * rest: xbd_sq_stop_ranges() makes every unfinished one complete with -ECANCELED.
 */
#include <errno.h>
#include <time.h>

#include "io_internal.h"

uint64_t xbd_range_chunk_len(const struct xbd_range_chunk *c, uint64_t off, uint64_t left)
{
	uint64_t n;

	if (!c->max || !c->cur)
		return left;
	/* Up to the next multiple of the chunk size: chunks stay aligned to themselves. */
	n = c->cur - (off & (c->cur - 1));
	return n < left ? n : left;
}

void xbd_range_chunk_feedback(struct xbd_range_chunk *c, uint64_t done, uint64_t ns)
{
	if (!c->max || !c->cur)
		return;
	if (ns > XBD_RANGE_TARGET_NS) {
		/* As slow again on half the bytes would still be too slow: halve until not. */
		while (c->cur > c->min && ns > XBD_RANGE_TARGET_NS) {
			c->cur >>= 1;
			ns >>= 1;
		}
	} else if (ns < XBD_RANGE_TARGET_NS / 4 && done >= c->cur / 2 && c->cur < c->max) {
		/* Fast on (most of) a full chunk: try twice as much. A short tail says nothing. */
		c->cur <<= 1;
	}
}

static bool pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

void xbd_range_queue_init(struct xbd_sq *q)
{
	q->range_head = NULL;
	q->range_tail = &q->range_head;
	for (unsigned int k = 0; k < XBD_RANGE_KINDS; k++) {
		struct xbd_range_chunk c = q->disk->range_chunk[k];

		/* A driver's inconsistent bounds mean whole calls; the driver then bounds them. */
		if (!pow2(c.min) || !pow2(c.max) || !pow2(c.cur) || c.min > c.cur || c.cur > c.max)
			c = (struct xbd_range_chunk){ 0 };
		q->range_chunk[k] = c;
	}
}

void xbd_range_enqueue(struct xbd_sq *q, struct xbd_io *io)
{
	io->storage_private.range_next = NULL;
	*q->range_tail = io;
	q->range_tail = &io->storage_private.range_next;
}

/* Take the oldest off the FIFO and complete it (at this wait's soft completions). */
static void finish_head(struct xbd_sq *q, int res)
{
	struct xbd_io *io = q->range_head;

	q->range_head = io->storage_private.range_next;
	if (!q->range_head)
		q->range_tail = &q->range_head;
	q->range_done = 0;
	xbd_sq_complete(q, io, res);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* One driver call on the oldest op; its time in *ns. */
static void step(struct xbd_sq *q, uint64_t *ns)
{
	struct xbd_io *io = q->range_head;
	struct xbd_range_chunk *c = &q->range_chunk[xbd_range_kind(io->op)];
	uint64_t off = io->offset + q->range_done, left = io->len - q->range_done;
	uint64_t len = xbd_range_chunk_len(c, off, left), t0 = mono_ns();
	int64_t r = q->disk->drv->range_step(q, io, off, len);

	*ns = mono_ns() - t0;
	if (r >= 0 && (r == 0 || (uint64_t)r > len))
		r = -EIO; /* a driver that makes no progress must not spin the queue */
	if (r < 0) {
		finish_head(q, (int)r);
		return;
	}
	xbd_range_chunk_feedback(c, (uint64_t)r, *ns);
	q->range_done += (uint64_t)r;
	if (q->range_done == io->len)
		finish_head(q, 0);
}

void xbd_range_run(struct xbd_sq *q)
{
	uint64_t spent = 0, ns;

	while (q->range_head && q->ranges_stopped)
		finish_head(q, -ECANCELED);
	while (q->range_head && spent < XBD_RANGE_PASS_NS) {
		step(q, &ns);
		spent += ns;
	}
}

void xbd_sq_stop_ranges(struct xbd_sq *q)
{
	q->ranges_stopped = true;
}
