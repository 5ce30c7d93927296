/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Carrying out one checked NBD request on the client's storage queue: pass the pause gate
 * (export_internal.h), open the queue on the disk in use if it changed, queue the I/O, wait
 * for it on this thread, and leave the gate. Waiting is bounded in steps so that a stop is
 * seen: a long TRIM or WRITE_ZEROES then ends with -ECANCELED, the part done left done.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "export_io.h"
#include "xenblkd/log.h"

struct export_io {
	struct xbd_io io;
	struct iovec iov;
	int res;
	bool done;
};

static int gate_enter(struct export_conn *c)
{
	struct xbd_export *e = c->e;
	struct xbd_disk *d;
	int r = 0;

	pthread_mutex_lock(&e->lock);
	while (e->paused && !e->stopping)
		pthread_cond_wait(&e->cond, &e->lock);
	if (e->stopping)
		r = -ESHUTDOWN;
	else
		e->busy++;
	d = e->disk;
	pthread_mutex_unlock(&e->lock);
	if (r || (c->q && c->q_disk == d))
		return r;
	xbd_sq_close(c->q); /* on an old disk: set_disk closes them, this is the fallback */
	c->q = NULL;
	r = xbd_sq_open(d, EXPORT_QUEUE_DEPTH, &c->q);
	if (r) {
		c->q = NULL;
		xbd_err(e->prefix, "client %u: no storage queue: %s", c->id, strerror(-r));
	}
	c->q_disk = d;
	return r;
}

static void gate_leave(struct export_conn *c)
{
	struct xbd_export *e = c->e;

	pthread_mutex_lock(&e->lock);
	if (--e->busy == 0)
		pthread_cond_broadcast(&e->cond);
	pthread_mutex_unlock(&e->lock);
}

static void io_complete(struct xbd_io *io, int res)
{
	struct export_io *x = (struct export_io *)((char *)io - offsetof(struct export_io, io));

	x->res = res;
	x->done = true;
}

static bool stopping(struct xbd_export *e)
{
	bool s;

	pthread_mutex_lock(&e->lock);
	s = e->stopping;
	pthread_mutex_unlock(&e->lock);
	return s;
}

/* One I/O on the queue, waited for here. */
static int run_io(struct export_conn *c, enum xbd_io_op op, uint32_t flags, uint64_t off,
		  uint64_t len, void *buf)
{
	struct export_io x = { .io = { .op = op, .flags = flags, .offset = off, .len = len,
				       .done = io_complete } };
	unsigned int ready;
	bool told = false, told_err = false;
	int r;

	if (buf) {
		x.iov = (struct iovec){ .iov_base = buf, .iov_len = len };
		x.io.iov = &x.iov;
		x.io.niov = 1;
	}
	/* Both report failures by completing the I/O with its error. */
	xbd_sq_queue(c->q, &x.io);
	xbd_sq_submit(c->q);
	while (!x.done) {
		/* The I/O lives on this stack: whatever the wait says, it must complete first. */
		r = xbd_sq_wait(c->q, NULL, 0, &ready, true, 200);
		if (r < 0 && !told_err) {
			xbd_err(c->e->prefix, "client %u: waiting for I/O: %s", c->id, strerror(-r));
			told_err = true;
		}
		if (!told && !x.done && stopping(c->e)) {
			xbd_sq_stop_ranges(c->q);
			told = true;
		}
	}
	return x.res;
}

static enum xbd_io_op op_of(uint16_t type)
{
	switch (type) {
	case NBD_CMD_READ: return XBD_IO_READ;
	case NBD_CMD_WRITE: return XBD_IO_WRITE;
	case NBD_CMD_TRIM: return XBD_IO_DISCARD;
	case NBD_CMD_WRITE_ZEROES: return XBD_IO_WRITE_ZEROES;
	default: return XBD_IO_FLUSH;
	}
}

int xbd_export_do(struct export_conn *c, const struct nbd_request *rq)
{
	enum xbd_io_op op = op_of(rq->type);
	bool fua = rq->flags & NBD_CMD_FLAG_FUA;
	int r;

	if (op != XBD_IO_FLUSH && rq->len == 0)
		return 0; /* nothing to do; the protocol leaves it to us, success is kindest */
	r = gate_enter(c);
	if (r) {
		if (r != -ESHUTDOWN)
			gate_leave(c);
		return r;
	}
	r = run_io(c, op, op == XBD_IO_WRITE && fua ? XBD_IO_FUA : 0,
		   op == XBD_IO_FLUSH ? 0 : rq->offset, op == XBD_IO_FLUSH ? 0 : rq->len,
		   op == XBD_IO_READ || op == XBD_IO_WRITE ? c->buf : NULL);
	/* FUA on a TRIM or WRITE_ZEROES: the storage plane has no such flag, so flush. */
	if (!r && fua && op != XBD_IO_WRITE && op != XBD_IO_READ && op != XBD_IO_FLUSH)
		r = run_io(c, XBD_IO_FLUSH, 0, 0, 0, NULL);
	gate_leave(c);
	return r;
}
