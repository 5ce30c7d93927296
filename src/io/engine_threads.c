/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The threads engine: preadv2/pwritev2/fdatasync in a small pool of worker threads per storage
 * queue. It needs nothing from the kernel beyond plain system calls, so it serves file systems
 * without O_DIRECT (where libaio would block) and sandboxes without io_uring, and its
 * behaviour is easy to reason about in tests. A batch is handed over under one lock with one
 * wake-up; workers post results to a list and signal an eventfd when it becomes non-empty,
 * and wait() polls that eventfd together with the data thread's wake-up fds.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "io_internal.h"
#include "io.h"

#define DEFAULT_WORKERS 4
#define WORKER_STACK (256u * 1024u)

struct job {
	struct xbd_io *io;
	int64_t res;
};

struct xbd_engine {
	int fd;
	int efd;                      /* signalled when `done` becomes non-empty */
	unsigned int cap;
	xbd_engine_complete_fn complete;
	void *ctx;
	/* The owning thread's. */
	struct xbd_io **batch;        /* queued, not yet handed to the workers */
	unsigned int nr_batch;
	struct job *taken;            /* completions being delivered */
	unsigned int inflight;
	struct xbd_engine_stats stats;
	/* Shared with the workers, under `lock`. */
	pthread_mutex_t lock;
	pthread_cond_t work;
	struct xbd_io **jobs;         /* ring of cap */
	unsigned int job_head, nr_jobs;
	struct job *done;             /* cap */
	unsigned int nr_done;
	bool stop;
	pthread_t *workers;
	unsigned int nr_workers;
};

static int64_t do_io(int fd, const struct xbd_io *io)
{
	ssize_t n;

	do {
		if (io->op == XBD_IO_FLUSH)
			n = fdatasync(fd);
		else if (io->op == XBD_IO_READ)
			n = preadv2(fd, io->iov, (int)io->niov, (off_t)io->offset, 0);
		else
			n = pwritev2(fd, io->iov, (int)io->niov, (off_t)io->offset,
				     io->flags & XBD_IO_FUA ? RWF_DSYNC : 0);
	} while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

/* Under the lock: the next job, or NULL once told to stop. */
static struct xbd_io *next_job(struct xbd_engine *e)
{
	struct xbd_io *io;

	while (!e->nr_jobs && !e->stop)
		pthread_cond_wait(&e->work, &e->lock);
	if (!e->nr_jobs)
		return NULL;
	io = e->jobs[e->job_head];
	e->job_head = (e->job_head + 1) % e->cap;
	e->nr_jobs--;
	return io;
}

static void *worker_main(void *arg)
{
	struct xbd_engine *e = arg;
	struct xbd_io *io;
	sigset_t all;

	/* Signals are for the control thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	pthread_mutex_lock(&e->lock);
	while ((io = next_job(e))) {
		int64_t res;
		bool first;

		pthread_mutex_unlock(&e->lock);
		res = do_io(e->fd, io);
		pthread_mutex_lock(&e->lock);
		e->done[e->nr_done++] = (struct job){ io, res };
		first = e->nr_done == 1;
		pthread_mutex_unlock(&e->lock);
		if (first)
			eventfd_write(e->efd, 1);
		pthread_mutex_lock(&e->lock);
	}
	pthread_mutex_unlock(&e->lock);
	return NULL;
}

static void threads_fini(struct xbd_engine *e)
{
	if (!e)
		return;
	pthread_mutex_lock(&e->lock);
	e->stop = true;
	pthread_cond_broadcast(&e->work);
	pthread_mutex_unlock(&e->lock);
	for (unsigned int i = 0; i < e->nr_workers; i++)
		pthread_join(e->workers[i], NULL);
	pthread_cond_destroy(&e->work);
	pthread_mutex_destroy(&e->lock);
	if (e->efd >= 0)
		close(e->efd);
	free(e->batch);
	free(e->taken);
	free(e->jobs);
	free(e->done);
	free(e->workers);
	free(e);
}

static int start_workers(struct xbd_engine *e, unsigned int n)
{
	pthread_attr_t attr;
	int r = pthread_attr_init(&attr);

	if (r)
		return -r;
	pthread_attr_setstacksize(&attr, WORKER_STACK);
	for (unsigned int i = 0; i < n && !r; i++) {
		r = pthread_create(&e->workers[i], &attr, worker_main, e);
		if (!r)
			e->nr_workers++;
	}
	pthread_attr_destroy(&attr);
	return -r;
}

static int threads_init(struct xbd_engine **out, const struct xbd_engine_config *cfg)
{
	struct xbd_engine *e = calloc(1, sizeof(*e));
	unsigned int n;
	int r;

	if (!e)
		return -ENOMEM;
	e->fd = cfg->fd;
	e->cap = cfg->depth ? cfg->depth : 1;
	e->complete = cfg->complete;
	e->ctx = cfg->ctx;
	n = cfg->threads ? cfg->threads : DEFAULT_WORKERS;
	n = n < e->cap ? n : e->cap;
	pthread_mutex_init(&e->lock, NULL);
	pthread_cond_init(&e->work, NULL);
	e->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	e->batch = calloc(e->cap, sizeof(*e->batch));
	e->taken = calloc(e->cap, sizeof(*e->taken));
	e->jobs = calloc(e->cap, sizeof(*e->jobs));
	e->done = calloc(e->cap, sizeof(*e->done));
	e->workers = calloc(n, sizeof(*e->workers));
	r = e->efd < 0 ? -errno : 0;
	if (!r && (!e->batch || !e->taken || !e->jobs || !e->done || !e->workers))
		r = -ENOMEM;
	if (!r)
		r = start_workers(e, n);
	if (r) {
		threads_fini(e);
		return r;
	}
	*out = e;
	return 0;
}

static int threads_queue(struct xbd_engine *e, struct xbd_io *io)
{
	if (io->op != XBD_IO_READ && io->op != XBD_IO_WRITE && io->op != XBD_IO_FLUSH)
		return -EINVAL;
	if (e->inflight >= e->cap)
		return -EBUSY;
	e->batch[e->nr_batch++] = io;
	e->inflight++;
	return 0;
}

static int threads_submit(struct xbd_engine *e)
{
	unsigned int n = e->nr_batch;

	if (!n)
		return 0;
	pthread_mutex_lock(&e->lock);
	for (unsigned int i = 0; i < n; i++)
		e->jobs[(e->job_head + e->nr_jobs + i) % e->cap] = e->batch[i];
	e->nr_jobs += n;
	if (n > 1)
		pthread_cond_broadcast(&e->work);
	else
		pthread_cond_signal(&e->work);
	pthread_mutex_unlock(&e->lock);
	e->nr_batch = 0;
	e->stats.syscalls++; /* the futex wake-up */
	return 0;
}

/* Poll the completion eventfd and the wake fds: positive if completions were signalled, 0 if not,
 * or -errno. */
static int wait_fds(struct xbd_engine *e, const int *fds, unsigned int nfds,
		    unsigned int *ready, int timeout_ms)
{
	e->stats.syscalls++;
	return xbd_poll_wake_fds(e->efd, POLLIN, fds, nfds, ready, timeout_ms);
}

static int reap(struct xbd_engine *e)
{
	eventfd_t cnt;
	unsigned int n;

	eventfd_read(e->efd, &cnt); /* reset before taking, so no post is missed */
	pthread_mutex_lock(&e->lock);
	n = e->nr_done;
	memcpy(e->taken, e->done, n * sizeof(*e->done));
	e->nr_done = 0;
	pthread_mutex_unlock(&e->lock);
	for (unsigned int i = 0; i < n; i++) {
		e->inflight--;
		e->stats.ios++;
		e->complete(e->ctx, e->taken[i].io, e->taken[i].res);
	}
	return (int)n;
}

static int threads_wait(struct xbd_engine *e, const int *fds, unsigned int nfds,
			unsigned int *ready, bool block, int timeout_ms)
{
	int r;

	*ready = 0;
	if (nfds > XBD_ENGINE_MAX_WAKE_FDS)
		return -EINVAL;
	threads_submit(e);
	r = wait_fds(e, fds, nfds, ready, block ? timeout_ms : 0);
	if (r <= 0)
		return r;
	return reap(e);
}

static unsigned int threads_inflight(const struct xbd_engine *e)
{
	return e->inflight;
}

static void threads_get_stats(const struct xbd_engine *e, struct xbd_engine_stats *st)
{
	*st = e->stats;
	snprintf(st->features, sizeof(st->features), "threads: %u workers", e->nr_workers);
}

const struct xbd_engine_ops xbd_engine_threads = {
	.name = "threads",
	.init = threads_init,
	.fini = threads_fini,
	.queue = threads_queue,
	.submit = threads_submit,
	.wait = threads_wait,
	.inflight = threads_inflight,
	.get_stats = threads_get_stats,
};
