/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The libaio engine: Linux native AIO (io_setup/io_submit/io_getevents), for kernels or
 * sandboxes without io_uring. Every iocb signals one eventfd, which wait() polls together with
 * the data thread's wake-up fds. Native AIO is only asynchronous with O_DIRECT: on a buffered
 * descriptor io_submit quietly does the I/O itself, blocking the data thread, so init refuses a
 * descriptor without O_DIRECT. Flush is IOCB_CMD_FDSYNC (Linux 4.18) and FUA is RWF_DSYNC in
 * aio_rw_flags (4.13).
 */
#include <errno.h>
#include <fcntl.h>
#include <libaio.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "io_internal.h"
#include "io.h"

struct xbd_engine {
	io_context_t ctx;
	int fd;
	int efd;                   /* completions */
	unsigned int cap;
	struct iocb *iocbs;        /* cap control blocks */
	struct iocb **free;        /* free stack of cap */
	unsigned int nr_free;
	struct iocb **pending;     /* queued, not yet accepted by io_submit */
	unsigned int nr_pending;
	struct xbd_io **failed;    /* refused by io_submit: completed at the next wait */
	int *failed_res;
	unsigned int nr_failed;
	struct io_event *events;
	unsigned int inflight;
	xbd_engine_complete_fn complete;
	void *cb_ctx;
	struct xbd_engine_stats stats;
};

static void aio_fini(struct xbd_engine *e)
{
	if (!e)
		return;
	if (e->ctx)
		io_destroy(e->ctx);
	if (e->efd >= 0)
		close(e->efd);
	free(e->iocbs);
	free(e->free);
	free(e->pending);
	free(e->failed);
	free(e->failed_res);
	free(e->events);
	free(e);
}

static int alloc_arrays(struct xbd_engine *e)
{
	unsigned int n = e->cap;

	e->iocbs = calloc(n, sizeof(*e->iocbs));
	e->free = calloc(n, sizeof(*e->free));
	e->pending = calloc(n, sizeof(*e->pending));
	e->failed = calloc(n, sizeof(*e->failed));
	e->failed_res = calloc(n, sizeof(*e->failed_res));
	e->events = calloc(n, sizeof(*e->events));
	if (!e->iocbs || !e->free || !e->pending || !e->failed || !e->failed_res || !e->events)
		return -ENOMEM;
	for (unsigned int i = 0; i < n; i++)
		e->free[i] = &e->iocbs[i];
	e->nr_free = n;
	return 0;
}

static int aio_init(struct xbd_engine **out, const struct xbd_engine_config *cfg)
{
	int fl = fcntl(cfg->fd, F_GETFL);
	struct xbd_engine *e;
	int r;

	if (fl < 0)
		return -errno;
	if (!(fl & O_DIRECT))
		return -EINVAL; /* io_submit would run buffered I/O synchronously */
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->fd = cfg->fd;
	e->cap = cfg->depth ? cfg->depth : 1;
	e->complete = cfg->complete;
	e->cb_ctx = cfg->ctx;
	e->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	r = e->efd < 0 ? -errno : alloc_arrays(e);
	if (!r)
		r = io_setup((int)e->cap, &e->ctx);
	if (r) {
		aio_fini(e);
		return r;
	}
	*out = e;
	return 0;
}

static int aio_queue(struct xbd_engine *e, struct xbd_io *io)
{
	struct iocb *cb;

	if (io->op != XBD_IO_READ && io->op != XBD_IO_WRITE && io->op != XBD_IO_FLUSH)
		return -EINVAL;
	if (!e->nr_free)
		return -EBUSY;
	cb = e->free[--e->nr_free];
	if (io->op == XBD_IO_READ)
		io_prep_preadv(cb, e->fd, io->iov, (int)io->niov, (long long)io->offset);
	else if (io->op == XBD_IO_WRITE)
		io_prep_pwritev(cb, e->fd, io->iov, (int)io->niov, (long long)io->offset);
	else
		io_prep_fdsync(cb, e->fd);
	if (io->op == XBD_IO_WRITE && (io->flags & XBD_IO_FUA))
		cb->aio_rw_flags = RWF_DSYNC;
	io_set_eventfd(cb, e->efd);
	cb->data = io;
	e->pending[e->nr_pending++] = cb;
	e->inflight++;
	return 0;
}

/* io_submit refused the first pending iocb: it completes with that error at the next wait. */
static void fail_first(struct xbd_engine *e, int err)
{
	struct iocb *cb = e->pending[0];

	e->failed[e->nr_failed] = cb->data;
	e->failed_res[e->nr_failed++] = err;
	e->free[e->nr_free++] = cb;
	memmove(e->pending, e->pending + 1, --e->nr_pending * sizeof(*e->pending));
}

static int aio_submit(struct xbd_engine *e)
{
	while (e->nr_pending) {
		int r;

		e->stats.syscalls++;
		r = io_submit(e->ctx, (long)e->nr_pending, e->pending);
		if (r == -EAGAIN || r == -EINTR)
			return 0; /* out of kernel resources for now: retried at the next call */
		if (r < 0) {
			fail_first(e, r);
			continue;
		}
		e->nr_pending -= (unsigned int)r;
		memmove(e->pending, e->pending + r, e->nr_pending * sizeof(*e->pending));
	}
	return 0;
}

/* Poll the completion eventfd and the wake fds: positive if completions were signalled, 0 if
 * not, or -errno. */
static int wait_fds(struct xbd_engine *e, const int *fds, unsigned int nfds,
		    unsigned int *ready, int timeout_ms)
{
	e->stats.syscalls++;
	return xbd_poll_wake_fds(e->efd, POLLIN, fds, nfds, ready, timeout_ms);
}

static int deliver_failed(struct xbd_engine *e)
{
	unsigned int n = e->nr_failed;

	e->nr_failed = 0;
	for (unsigned int i = 0; i < n; i++) {
		e->inflight--;
		e->complete(e->cb_ctx, e->failed[i], e->failed_res[i]);
	}
	return (int)n;
}

static int reap(struct xbd_engine *e)
{
	struct timespec zero = { 0, 0 };
	uint64_t cnt;
	int n = 0, got;

	if (read(e->efd, &cnt, sizeof(cnt)) < 0 && errno != EAGAIN)
		return -errno;
	do {
		e->stats.syscalls++;
		got = io_getevents(e->ctx, 0, (long)e->cap, e->events, &zero);
		if (got < 0)
			return got == -EINTR ? n : got;
		for (int i = 0; i < got; i++) {
			struct iocb *cb = e->events[i].obj;

			e->free[e->nr_free++] = cb;
			e->inflight--;
			e->stats.ios++;
			e->complete(e->cb_ctx, cb->data, (int64_t)(long)e->events[i].res);
		}
		n += got;
	} while (got == (int)e->cap);
	return n;
}

static int aio_wait(struct xbd_engine *e, const int *fds, unsigned int nfds,
		    unsigned int *ready, bool block, int timeout_ms)
{
	int r, n;

	*ready = 0;
	if (nfds > XBD_ENGINE_MAX_WAKE_FDS)
		return -EINVAL;
	aio_submit(e);
	r = wait_fds(e, fds, nfds, ready, block && !e->nr_failed ? timeout_ms : 0);
	if (r < 0)
		return r;
	n = r ? reap(e) : 0;
	if (n < 0)
		return n;
	return n + deliver_failed(e);
}

static unsigned int aio_inflight(const struct xbd_engine *e)
{
	return e->inflight;
}

static void aio_get_stats(const struct xbd_engine *e, struct xbd_engine_stats *st)
{
	*st = e->stats;
	strcpy(st->features, "libaio: eventfd O_DIRECT");
}

const struct xbd_engine_ops xbd_engine_libaio = {
	.name = "libaio",
	.init = aio_init,
	.fini = aio_fini,
	.queue = aio_queue,
	.submit = aio_submit,
	.wait = aio_wait,
	.inflight = aio_inflight,
	.get_stats = aio_get_stats,
};
