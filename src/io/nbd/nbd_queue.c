/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One storage queue's NBD connection and its I/Os, all on the queue's data thread. Each I/O
 * holds a slot and has at most one NBD command in flight at a time: a READ or WRITE in parts
 * of at most 32 MiB, a DISCARD or WRITE_ZEROES in parts of at most 1 GiB (TRIM, WRITE_ZEROES),
 * a FLUSH as NBD_CMD_FLUSH, a FUA write with the FUA flag (or followed by a FLUSH when the
 * server has no FUA). libnbd calls back when the server answered; the slot then moves on, and
 * a write completes only once the server acknowledged it.
 *
 * When the connection breaks (the server died, or stopped answering for longer than the
 * target's timeout), the handle is closed, the commands it carried go back to the waiting
 * FIFO, and the queue reconnects (50 ms, doubling up to 0.5 s between attempts) whenever I/Os
 * wait; they are sent again on the new connection. An I/O that has waited `timeout` seconds
 * in all completes with -EIO. One that arrives when the server has been unreachable for the
 * whole timeout already gets 1 s (a reconnection attempt or two), not another full timeout,
 * so a request of several steps (a barrier) does not take several timeouts to fail. Once the
 * caller stops (xbd_sq_stop_ranges), waiting I/Os fail at once and those in flight get 3 s,
 * so a detach never waits for the server.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "nbd_int.h"
#include "xenblkd/log.h"

#define MS 1000000ull
#define BACKOFF_MIN_MS 50u
#define BACKOFF_MAX_MS 500u
#define LATE_GRACE_NS (1000 * MS)
#define STOP_GRACE_NS (3000 * MS)
#define CHECK_EVERY_NS (100 * MS)

static void issue(struct nbd_queue *nq, struct nbd_slot *s);

static bool stale(const struct nbd_queue *nq)
{
	return __atomic_load_n(&nq->nd->gen, __ATOMIC_RELAXED) != nq->gen;
}

static uint64_t timeout_ns(const struct nbd_queue *nq)
{
	return (uint64_t)nq->nd->t.timeout_s * 1000 * MS;
}

static void push_wait(struct nbd_queue *nq, struct nbd_slot *s)
{
	s->next = NULL;
	*nq->wait_tail = s;
	nq->wait_tail = &s->next;
}

/* Deliver the result and give the slot back. */
static void finish(struct nbd_queue *nq, struct nbd_slot *s, int res)
{
	struct xbd_io *io = s->io;

	if (s->bounce) {
		if (res == 0 && io->op == XBD_IO_READ) {
			const char *p = s->bounce;

			for (unsigned int i = 0; i < io->niov; i++) {
				memcpy(io->iov[i].iov_base, p, io->iov[i].iov_len);
				p += io->iov[i].iov_len;
			}
		}
		free(s->bounce);
		s->bounce = NULL;
	}
	s->io = NULL;
	s->next = nq->free;
	nq->free = s;
	xbd_sq_complete(nq->q, io, res);
}

static int cmd_done(void *user_data, int *error)
{
	struct nbd_slot *s = user_data;
	struct nbd_queue *nq = s->nq;

	if (nq->closing || !s->issued)
		return 1;
	s->issued = false;
	s->err = *error;
	nq->issued--;
	s->next = nq->done;
	nq->done = s;
	return 1;
}

/*
 * The connection is unusable (or about to be replaced): close it, and put the I/Os it
 * carried back in the FIFO for the next one. `why` NULL: a planned reconnection (resize).
 */
static void drop_connection(struct nbd_queue *nq, const char *why)
{
	uint64_t now = xbd_nbd_now_ns();

	if (nq->h) {
		nq->closing = true;
		nbd_close(nq->h);
		nq->closing = false;
		nq->h = NULL;
	}
	for (unsigned int i = 0; i < nq->nslots; i++) {
		struct nbd_slot *s = &nq->slots[i];

		if (s->io && s->issued) {
			s->issued = false;
			push_wait(nq, s);
		}
	}
	nq->issued = 0;
	nq->state = NQ_DOWN;
	if (!why) {
		nq->next_attempt_ns = 0;
		return;
	}
	if (!nq->down_since_ns)
		nq->down_since_ns = now;
	nq->next_attempt_ns = now + nq->backoff_ms * MS;
	nq->backoff_ms = nq->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : nq->backoff_ms * 2;
	if (!nq->down_logged)
		xbd_warn(nq->d->log_prefix, "nbd: connection lost (%s); reconnecting, I/Os wait "
			 "up to %u s", why, nq->nd->t.timeout_s);
	nq->down_logged = true;
}

/* Send what waits, on a connection that is ready and current. */
static void issue_waiting(struct nbd_queue *nq)
{
	while (nq->state == NQ_READY && !stale(nq) && nq->wait_head) {
		struct nbd_slot *s = nq->wait_head;

		nq->wait_head = s->next;
		if (!nq->wait_head)
			nq->wait_tail = &nq->wait_head;
		issue(nq, s);
	}
}

static void try_connect(struct nbd_queue *nq)
{
	uint64_t now = xbd_nbd_now_ns();
	int r;

	if (nq->state != NQ_DOWN || nq->stop_ns || now < nq->next_attempt_ns)
		return;
	nq->h = xbd_nbd_handle_new(nq->d);
	if (!nq->h) {
		nq->next_attempt_ns = now + BACKOFF_MAX_MS * MS;
		return;
	}
	nq->state = NQ_CONNECTING;
	nq->attempt_ns = now;
	r = xbd_nbd_connect_start(nq->d, nq->h);
	if (r)
		drop_connection(nq, strerror(-r));
}

static bool handle_dead(struct nbd_queue *nq)
{
	return nbd_aio_is_dead(nq->h) || nbd_aio_is_closed(nq->h);
}

static void became_ready(struct nbd_queue *nq)
{
	nq->state = NQ_READY;
	nq->gen = __atomic_load_n(&nq->nd->gen, __ATOMIC_RELAXED);
	nq->backoff_ms = BACKOFF_MIN_MS;
	nq->down_since_ns = 0;
	if (nq->down_logged)
		xbd_info(nq->d->log_prefix, "nbd: connected to the server again");
	nq->down_logged = false;
	issue_waiting(nq);
}

/* A finished command: the next part, the FLUSH after an emulated FUA, or the end. */
static void command_done(struct nbd_queue *nq, struct nbd_slot *s)
{
	struct xbd_io *io = s->io;

	if (s->err && nq->state != NQ_READY) {
		push_wait(nq, s); /* the connection went: send it again on the next */
		return;
	}
	if (s->err) {
		finish(nq, s, -s->err);
		return;
	}
	if (io->op == XBD_IO_FLUSH || s->flush_after) {
		finish(nq, s, 0);
		return;
	}
	s->pos += s->cmd_len;
	if (s->pos < io->len) {
		issue(nq, s);
		return;
	}
	if (io->op == XBD_IO_WRITE && (io->flags & XBD_IO_FUA) && !nq->nd->can_fua &&
	    nq->nd->can_flush) {
		s->flush_after = true;
		issue(nq, s);
		return;
	}
	finish(nq, s, 0);
}

/* Look at the connection after libnbd had a chance to move: state changes, answers. */
static void progress(struct nbd_queue *nq)
{
	if (nq->h && handle_dead(nq))
		drop_connection(nq, nbd_get_error() ? nbd_get_error() : "the server closed it");
	if (nq->state == NQ_CONNECTING && nbd_aio_is_ready(nq->h))
		became_ready(nq);
	while (nq->done) {
		struct nbd_slot *s = nq->done;

		nq->done = s->next;
		command_done(nq, s);
	}
	if (nq->h && handle_dead(nq))
		drop_connection(nq, nbd_get_error() ? nbd_get_error() : "the server closed it");
	/* The disk was resized: a new connection learns the new size, once this one is idle. */
	if (nq->state == NQ_READY && stale(nq) && nq->issued == 0) {
		drop_connection(nq, NULL);
		try_connect(nq);
	}
}

/* The buffer commands use: the caller's, when its pieces are one contiguous range. */
static int prepare_buffer(struct nbd_slot *s)
{
	struct xbd_io *io = s->io;
	char *p;

	for (unsigned int i = 1; i < io->niov; i++)
		if ((char *)io->iov[i - 1].iov_base + io->iov[i - 1].iov_len !=
		    io->iov[i].iov_base)
			goto bounce;
	return 0;
bounce:
	s->bounce = malloc(io->len ? io->len : 1);
	if (!s->bounce)
		return -ENOMEM;
	p = s->bounce;
	for (unsigned int i = 0; io->op == XBD_IO_WRITE && i < io->niov; i++) {
		memcpy(p, io->iov[i].iov_base, io->iov[i].iov_len);
		p += io->iov[i].iov_len;
	}
	return 0;
}

static char *data_at(const struct nbd_slot *s)
{
	return (s->bounce ? (char *)s->bounce : (char *)s->io->iov[0].iov_base) + s->pos;
}

static int64_t send_command(struct nbd_queue *nq, struct nbd_slot *s)
{
	struct xbd_io *io = s->io;
	nbd_completion_callback cb = { .callback = cmd_done, .user_data = s };
	uint64_t off = io->offset + s->pos, left = io->len - s->pos;
	uint64_t max = io->op == XBD_IO_READ || io->op == XBD_IO_WRITE ? NBD_MAX_DATA_CMD
									 : NBD_MAX_RANGE_CMD;
	uint32_t fua = (io->flags & XBD_IO_FUA) && nq->nd->can_fua ? LIBNBD_CMD_FLAG_FUA : 0;

	s->cmd_len = left < max ? left : max;
	if (io->op == XBD_IO_FLUSH || s->flush_after) {
		s->cmd_len = 0;
		return nbd_aio_flush(nq->h, cb, 0);
	}
	switch (io->op) {
	case XBD_IO_READ:
		return nbd_aio_pread(nq->h, data_at(s), s->cmd_len, off, cb, 0);
	case XBD_IO_WRITE:
		return nbd_aio_pwrite(nq->h, data_at(s), s->cmd_len, off, cb, fua);
	case XBD_IO_DISCARD:
		return nbd_aio_trim(nq->h, s->cmd_len, off, cb, 0);
	default:
		return nbd_aio_zero(nq->h, s->cmd_len, off, cb, 0);
	}
}

/* Send the slot's next command; on a connection that cannot take it, it waits instead. */
static void issue(struct nbd_queue *nq, struct nbd_slot *s)
{
	int e;

	if (nq->state != NQ_READY || stale(nq)) {
		push_wait(nq, s);
		return;
	}
	s->issued = true; /* before: libnbd may call back before it returns */
	s->err = 0;
	nq->issued++;
	if (send_command(nq, s) >= 0)
		return;
	e = nbd_get_errno();
	s->issued = false;
	nq->issued--;
	/* Ready means idle and processing means commands in flight: both can take more. */
	if (handle_dead(nq) || (!nbd_aio_is_ready(nq->h) && !nbd_aio_is_processing(nq->h))) {
		push_wait(nq, s);
		drop_connection(nq, nbd_get_error() ? nbd_get_error() : "sending failed");
		return;
	}
	finish(nq, s, e > 0 ? -e : -EIO);
}

/* How long a new I/O may wait: the timeout, but during an outage only what is left of the
 * outage's timeout, and at least LATE_GRACE_NS (capped by the timeout). */
static uint64_t new_deadline(const struct nbd_queue *nq, uint64_t now)
{
	uint64_t t = timeout_ns(nq), grace = t < LATE_GRACE_NS ? t : LATE_GRACE_NS;
	uint64_t end;

	if (!nq->down_since_ns || nq->state == NQ_READY)
		return now + t;
	end = nq->down_since_ns + t;
	return end > now + t ? now + t : end > now + grace ? end : now + grace;
}

int xbd_nbd_submit(struct xbd_sq *q, struct xbd_io *io)
{
	struct nbd_queue *nq = q->priv;
	struct nbd_slot *s = nq->free;
	int r;

	if (io->op == XBD_IO_SECURE_ERASE || (io->op == XBD_IO_DISCARD && !nq->nd->can_trim) ||
	    (io->op == XBD_IO_WRITE_ZEROES && !nq->nd->can_zero))
		return -EOPNOTSUPP;
	if (io->op == XBD_IO_FLUSH && !nq->nd->can_flush) {
		xbd_sq_complete(q, io, 0); /* the server has no cache to flush */
		return 0;
	}
	if (!s)
		return -EBUSY;
	nq->free = s->next;
	*s = (struct nbd_slot){ .io = io, .nq = nq,
				.deadline_ns = new_deadline(nq, xbd_nbd_now_ns()) };
	r = (io->op == XBD_IO_READ || io->op == XBD_IO_WRITE) ? prepare_buffer(s) : 0;
	if (r) {
		s->io = NULL;
		s->next = nq->free;
		nq->free = s;
		return r;
	}
	io->storage_private.driver = (uintptr_t)s;
	issue(nq, s);
	if (nq->state == NQ_DOWN)
		try_connect(nq);
	progress(nq);
	return 0;
}

/* Fail what waited too long; an unanswered command means the server hangs: reconnect. */
static void check_deadlines(struct nbd_queue *nq, uint64_t now)
{
	uint64_t stop_at = nq->stop_ns ? nq->stop_ns + (nq->state == NQ_READY ? STOP_GRACE_NS : 0)
				       : UINT64_MAX;
	struct nbd_slot **pp = &nq->wait_head;
	unsigned int failed = 0;

	for (unsigned int i = 0; i < nq->nslots; i++) {
		struct nbd_slot *s = &nq->slots[i];

		if (s->io && s->issued && (now >= s->deadline_ns || now >= stop_at)) {
			drop_connection(nq, "the server did not answer in time");
			break;
		}
	}
	while (*pp) {
		struct nbd_slot *s = *pp;

		if (now < s->deadline_ns && !nq->stop_ns) {
			pp = &s->next;
			continue;
		}
		*pp = s->next;
		finish(nq, s, -EIO);
		failed++;
	}
	nq->wait_tail = pp;
	if (failed && !nq->stop_ns)
		xbd_warn(nq->d->log_prefix, "nbd: %u I/O(s) failed: no answer from the server in "
			 "%u s", failed, nq->nd->t.timeout_s);
}

int xbd_nbd_wait_fd(struct xbd_sq *q, short *events)
{
	struct nbd_queue *nq = q->priv;
	uint64_t now = xbd_nbd_now_ns();
	unsigned int dir;

	if (q->ranges_stopped && !nq->stop_ns) {
		nq->stop_ns = now;
		nq->next_check_ns = 0;
	}
	if (now >= nq->next_check_ns) {
		nq->next_check_ns = now + CHECK_EVERY_NS;
		if (nq->state == NQ_CONNECTING && now - nq->attempt_ns >= timeout_ns(nq))
			drop_connection(nq, "no answer while connecting");
		check_deadlines(nq, now);
	}
	if (nq->state == NQ_DOWN && nq->wait_head)
		try_connect(nq);
	progress(nq);
	if (!nq->h)
		return -1;
	dir = nbd_aio_get_direction(nq->h);
	*events = (short)(((dir & LIBNBD_AIO_DIRECTION_READ) ? POLLIN : 0) |
			  ((dir & LIBNBD_AIO_DIRECTION_WRITE) ? POLLOUT : 0));
	return *events ? nbd_aio_get_fd(nq->h) : -1;
}

void xbd_nbd_fd_ready(struct xbd_sq *q, short revents)
{
	struct nbd_queue *nq = q->priv;

	if (!nq->h)
		return;
	if (revents & POLLNVAL) {
		drop_connection(nq, "its descriptor went away");
		return;
	}
	if (revents & (POLLIN | POLLHUP | POLLERR))
		nbd_aio_notify_read(nq->h);
	if ((revents & POLLOUT) && !handle_dead(nq))
		nbd_aio_notify_write(nq->h);
	progress(nq);
}

int xbd_nbd_queue_open(struct xbd_sq *q)
{
	struct nbd_queue *nq = calloc(1, sizeof(*nq));

	if (!nq)
		return -ENOMEM;
	nq->q = q;
	nq->d = q->disk;
	nq->nd = q->disk->priv;
	nq->nslots = q->depth;
	nq->slots = calloc(nq->nslots, sizeof(*nq->slots));
	if (!nq->slots) {
		free(nq);
		return -ENOMEM;
	}
	for (unsigned int i = nq->nslots; i-- > 0;) {
		nq->slots[i].next = nq->free;
		nq->free = &nq->slots[i];
	}
	nq->wait_tail = &nq->wait_head;
	nq->state = NQ_DOWN;
	nq->backoff_ms = BACKOFF_MIN_MS;
	q->priv = nq;
	try_connect(nq); /* the handshake goes on in the waits */
	return 0;
}

void xbd_nbd_queue_close(struct xbd_sq *q)
{
	struct nbd_queue *nq = q->priv;

	if (!nq)
		return;
	if (nq->h) {
		nq->closing = true;
		nbd_close(nq->h);
	}
	for (unsigned int i = 0; i < nq->nslots; i++)
		free(nq->slots[i].bounce);
	free(nq->slots);
	free(nq);
	q->priv = NULL;
}
