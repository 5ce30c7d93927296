/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The rbd driver's data path: every READ, WRITE, FLUSH, DISCARD and WRITE_ZEROES is one
 * librbd asynchronous call, and its completion comes back to the data thread through an
 * eventfd (the queue's wait_fd), so nothing on the data thread blocks on the cluster.
 *
 * Hand-over. librbd calls the completion callback on one of its own threads. The callback
 * pushes the request onto the queue's `done` stack with a compare-and-swap (release) and
 * writes the eventfd only when the stack was empty; the data thread reads the eventfd first,
 * then takes the whole stack with one exchange (acquire). The release/acquire pair makes
 * everything librbd wrote before the callback (the read data, the return value) visible to
 * the data thread. Reading the eventfd before the exchange means a push onto an empty stack
 * after the exchange always leaves the eventfd readable. A push-only stack emptied whole has
 * no ABA problem. The per-request path takes no lock.
 *
 * Giving up. A request still outstanding at its deadline (the I/O timeout), or 1.5 s after the
 * data plane began to stop (the storage queue's ranges_stopped), is answered with an error and
 * abandoned: librbd still owns it, and frees it through the callback whenever the cluster
 * answers. That is safe because librbd never touches the caller's memory after the call
 * returns: writes are copied at submission (rbd_disable_zero_copy_writes, set by
 * rbd_cluster.c) and reads land in a buffer of the driver's, copied out only on success. The
 * queue's state lives until the last abandoned request has come back (a reference count).
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "rbd_int.h"

struct rbd_req {
	struct rbd_req *done_next;            /* on rq->done */
	struct rbd_req *live_prev, *live_next; /* on rq->live while answered by nobody yet */
	struct rbd_queue *rq;
	struct xbd_io *io;                    /* NULL once abandoned */
	rbd_completion_t comp;
	void *bounce;                         /* a READ's own buffer */
	uint64_t deadline_ns;
};

struct rbd_queue {
	struct rbd_req *done;                 /* pushed by librbd's threads, taken whole */
	unsigned int refs;                    /* the queue's own + one per librbd operation */
	int efd;
	struct rbd_req live;                  /* sentinel; oldest first, so deadlines ascend */
	rbd_image_t image;
	uint64_t timeout_ns;
	struct xbd_rbd_disk *rd;              /* its counters; outlives every operation */
	uint64_t stop_ns;                     /* when the data plane began to stop, or 0 */
};

/* After a stop begins, how long requests out at the cluster still get to finish. */
#define STOP_GRACE_NS 1500000000ull

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void free_req(struct rbd_req *r)
{
	if (r->comp)
		rbd_aio_release(r->comp);
	free(r->bounce);
	free(r);
}

/* The last reference: every librbd operation has called back. */
static void free_queue(struct rbd_queue *rq)
{
	struct rbd_req *r = __atomic_exchange_n(&rq->done, NULL, __ATOMIC_ACQUIRE);

	while (r) {
		struct rbd_req *next = r->done_next;

		free_req(r);
		r = next;
	}
	close(rq->efd);
	free(rq);
}

static void put_queue(struct rbd_queue *rq)
{
	if (__atomic_sub_fetch(&rq->refs, 1, __ATOMIC_ACQ_REL) == 0)
		free_queue(rq);
}

/* librbd's thread. */
static void on_complete(rbd_completion_t c, void *arg)
{
	struct rbd_req *r = arg;
	struct rbd_queue *rq = r->rq;
	struct rbd_req *old = __atomic_load_n(&rq->done, __ATOMIC_RELAXED);

	(void)c;
	do {
		r->done_next = old;
	} while (!__atomic_compare_exchange_n(&rq->done, &old, r, true, __ATOMIC_RELEASE,
					      __ATOMIC_RELAXED));
	if (!old)
		eventfd_write(rq->efd, 1);
	__atomic_sub_fetch(&rq->rd->outstanding, 1, __ATOMIC_RELEASE);
	put_queue(rq); /* after the write: the eventfd lives as long as a reference does */
}

static void live_unlink(struct rbd_req *r)
{
	r->live_prev->live_next = r->live_next;
	r->live_next->live_prev = r->live_prev;
	r->live_prev = r->live_next = r;
}

int xbd_rbd_queue_open(struct xbd_sq *q)
{
	struct xbd_rbd_disk *rd = q->disk->priv;
	struct rbd_queue *rq = calloc(1, sizeof(*rq));

	if (!rq)
		return -ENOMEM;
	rq->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (rq->efd < 0) {
		int e = -errno;

		free(rq);
		return e;
	}
	rq->refs = 1;
	rq->live.live_prev = rq->live.live_next = &rq->live;
	rq->image = rd->image;
	rq->timeout_ns = rd->timeout_ns;
	rq->rd = rd;
	q->priv = rq;
	return 0;
}

/* Answer `r`'s I/O now with `res` and leave the operation to librbd. */
static void abandon(struct xbd_sq *q, struct rbd_req *r, int res)
{
	live_unlink(r);
	xbd_sq_complete(q, r->io, res);
	r->io = NULL;
	__atomic_store_n(&r->rq->rd->gave_up, true, __ATOMIC_RELAXED);
}

void xbd_rbd_queue_close(struct xbd_sq *q)
{
	struct rbd_queue *rq = q->priv;

	/* The data plane drained first; anything left is given up without an answer. */
	while (rq->live.live_next != &rq->live) {
		struct rbd_req *r = rq->live.live_next;

		live_unlink(r);
		r->io = NULL;
	}
	q->priv = NULL;
	put_queue(rq);
}

static int start_op(struct rbd_queue *rq, struct rbd_req *r, struct xbd_io *io)
{
	switch (io->op) {
	case XBD_IO_READ:
		r->bounce = malloc(io->len ? io->len : 1);
		if (!r->bounce)
			return -ENOMEM;
		return rbd_aio_read(rq->image, io->offset, io->len, r->bounce, r->comp);
	case XBD_IO_WRITE:
		/* A FUA write needs nothing more: without the cache, librbd acknowledges a
		 * write once the OSDs have it on stable storage. */
		return rbd_aio_writev(rq->image, io->iov, (int)io->niov, io->offset, r->comp);
	case XBD_IO_FLUSH:
		return rbd_aio_flush(rq->image, r->comp);
	case XBD_IO_DISCARD:
		return rbd_aio_discard(rq->image, io->offset, io->len, r->comp);
	case XBD_IO_WRITE_ZEROES:
		return rbd_aio_write_zeroes(rq->image, io->offset, io->len, r->comp, 0, 0);
	default:
		return -EOPNOTSUPP;
	}
}

int xbd_rbd_submit(struct xbd_sq *q, struct xbd_io *io)
{
	struct rbd_queue *rq = q->priv;
	struct rbd_req *r = calloc(1, sizeof(*r));
	int e;

	if (!r)
		return -ENOMEM;
	r->rq = rq;
	r->io = io;
	e = rbd_aio_create_completion(r, on_complete, &r->comp);
	if (!e) {
		__atomic_add_fetch(&rq->refs, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&rq->rd->outstanding, 1, __ATOMIC_RELAXED);
		e = start_op(rq, r, io);
		if (e) { /* not started: no callback will come */
			__atomic_sub_fetch(&rq->rd->outstanding, 1, __ATOMIC_RELAXED);
			__atomic_sub_fetch(&rq->refs, 1, __ATOMIC_RELAXED);
		}
	}
	if (e) {
		free_req(r);
		return e < 0 ? e : -EIO;
	}
	r->deadline_ns = now_ns() + rq->timeout_ns;
	r->live_prev = rq->live.live_prev;
	r->live_next = &rq->live;
	rq->live.live_prev->live_next = r;
	rq->live.live_prev = r;
	return 0;
}

/* Before each wait: answer what is past its deadline, or everything once the data plane has
 * been stopping for STOP_GRACE_NS (the storage queue then waits without blocking and delivers
 * those answers). The data plane waits at most a second at a time while I/Os are out. */
int xbd_rbd_wait_fd(struct xbd_sq *q, short *events)
{
	struct rbd_queue *rq = q->priv;

	if (rq->live.live_next != &rq->live) {
		uint64_t now = now_ns();
		bool stop_over;

		if (q->ranges_stopped && !rq->stop_ns)
			rq->stop_ns = now;
		stop_over = rq->stop_ns && now >= rq->stop_ns + STOP_GRACE_NS;
		while (rq->live.live_next != &rq->live &&
		       (stop_over || rq->live.live_next->deadline_ns <= now))
			abandon(q, rq->live.live_next, stop_over ? -ECANCELED : -ETIMEDOUT);
	}
	*events = POLLIN;
	return rq->efd;
}

static int result_of(const struct xbd_io *io, ssize_t ret)
{
	if (ret < 0)
		return (int)ret;
	if (io->op == XBD_IO_READ && (uint64_t)ret != io->len)
		return -EIO;
	return 0;
}

/* Copy a completed READ out of its own buffer into the caller's. */
static void copy_out(const struct rbd_req *r)
{
	const char *src = r->bounce;

	for (unsigned int i = 0; i < r->io->niov; i++) {
		memcpy(r->io->iov[i].iov_base, src, r->io->iov[i].iov_len);
		src += r->io->iov[i].iov_len;
	}
}

static void finish(struct xbd_sq *q, struct rbd_req *r)
{
	if (r->io) {
		int res = result_of(r->io, rbd_aio_get_return_value(r->comp));

		if (!res && r->io->op == XBD_IO_READ)
			copy_out(r);
		if (!res)
			__atomic_store_n(&r->rq->rd->gave_up, false, __ATOMIC_RELAXED);
		live_unlink(r);
		xbd_sq_complete(q, r->io, res);
	}
	free_req(r);
}

void xbd_rbd_fd_ready(struct xbd_sq *q, short revents)
{
	struct rbd_queue *rq = q->priv;
	struct rbd_req *r, *fifo = NULL;
	eventfd_t v;

	(void)revents;
	eventfd_read(rq->efd, &v); /* before the exchange: see the file's comment */
	r = __atomic_exchange_n(&rq->done, NULL, __ATOMIC_ACQUIRE);
	while (r) { /* the stack is newest first: answer in completion order */
		struct rbd_req *next = r->done_next;

		r->done_next = fifo;
		fifo = r;
		r = next;
	}
	while (fifo) {
		struct rbd_req *next = fifo->done_next;

		finish(q, fifo);
		fifo = next;
	}
}
