/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The io_uring engine: one ring per data thread. I/Os are queued as SQEs against the backing
 * file registered as fixed file 0, and a whole batch goes to the kernel in one io_uring_enter.
 * The data thread's wake-up fds (the event channel, the stop eventfd) are polled from the same
 * ring with one-shot POLL_ADDs, so a single wait covers guest kicks and I/O completions.
 * Set-up flags are probed at run time, newest first, since Debian 12's dom0 kernel is 6.1.
 */
#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "xenblkd/io.h"

/* POLL_ADD completions carry an odd user_data (wake fd index << 1 | 1); I/O completions carry
 * the struct xbd_io pointer, which is at least 8-byte aligned and so always even. */
#define POLL_TAG(i) (((uint64_t)(i) << 1) | 1u)
#define IS_POLL_TAG(u) (((u) & 1u) != 0)
#define POLL_INDEX(u) ((unsigned int)((u) >> 1))

struct xbd_engine {
	struct io_uring ring;
	xbd_engine_complete_fn complete;
	void *ctx;
	unsigned int inflight; /* queued or submitted I/Os, not polls */
	bool poll_armed[XBD_ENGINE_MAX_WAKE_FDS];
	int poll_fd[XBD_ENGINE_MAX_WAKE_FDS];
};

static int setup_ring(struct io_uring *ring, unsigned int entries)
{
	static const unsigned int flag_sets[] = {
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN,
		IORING_SETUP_COOP_TASKRUN,
		0,
	};
	int r = -EINVAL;

	for (unsigned int i = 0; i < sizeof(flag_sets) / sizeof(flag_sets[0]); i++) {
		r = io_uring_queue_init(entries, ring, flag_sets[i]);
		if (r != -EINVAL)
			return r;
	}
	return r;
}

static int uring_init(struct xbd_engine **out, unsigned int depth, int fd,
		      xbd_engine_complete_fn complete, void *ctx)
{
	struct xbd_engine *e = calloc(1, sizeof(*e));
	int r;

	if (!e)
		return -ENOMEM;
	r = setup_ring(&e->ring, depth + XBD_ENGINE_MAX_WAKE_FDS);
	if (r < 0) {
		free(e);
		return r;
	}
	r = io_uring_register_files(&e->ring, &fd, 1);
	if (r < 0) {
		io_uring_queue_exit(&e->ring);
		free(e);
		return r;
	}
	for (unsigned int i = 0; i < XBD_ENGINE_MAX_WAKE_FDS; i++)
		e->poll_fd[i] = -1;
	e->complete = complete;
	e->ctx = ctx;
	*out = e;
	return 0;
}

static void uring_fini(struct xbd_engine *e)
{
	if (!e)
		return;
	/* Armed polls hold no user memory; exiting the ring cancels them. */
	io_uring_queue_exit(&e->ring);
	free(e);
}

static struct io_uring_sqe *get_sqe(struct xbd_engine *e)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&e->ring);

	if (!sqe) {
		/* SQ full: hand the batch to the kernel and take a fresh slot. */
		io_uring_submit(&e->ring);
		sqe = io_uring_get_sqe(&e->ring);
	}
	return sqe;
}

static int uring_queue(struct xbd_engine *e, struct xbd_io *io)
{
	struct io_uring_sqe *sqe = get_sqe(e);

	if (!sqe)
		return -EBUSY;
	switch (io->op) {
	case XBD_IO_READ:
		io_uring_prep_readv(sqe, 0, io->iov, io->niov, io->offset);
		break;
	case XBD_IO_WRITE:
		io_uring_prep_writev(sqe, 0, io->iov, io->niov, io->offset);
		if (io->flags & XBD_IO_FUA)
			sqe->rw_flags = RWF_DSYNC;
		break;
	case XBD_IO_FLUSH:
		io_uring_prep_fsync(sqe, 0, IORING_FSYNC_DATASYNC);
		break;
	default:
		return -EINVAL;
	}
	sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data(sqe, io);
	e->inflight++;
	return 0;
}

static int uring_submit(struct xbd_engine *e)
{
	int r = io_uring_submit(&e->ring);

	return r < 0 ? r : 0;
}

static int arm_polls(struct xbd_engine *e, const int *fds, unsigned int nfds)
{
	for (unsigned int i = 0; i < nfds && i < XBD_ENGINE_MAX_WAKE_FDS; i++) {
		struct io_uring_sqe *sqe;

		if (e->poll_armed[i] && e->poll_fd[i] == fds[i])
			continue;
		sqe = get_sqe(e);
		if (!sqe)
			return -EBUSY;
		io_uring_prep_poll_add(sqe, fds[i], POLLIN);
		io_uring_sqe_set_data64(sqe, POLL_TAG(i));
		e->poll_armed[i] = true;
		e->poll_fd[i] = fds[i];
	}
	return 0;
}

static int reap(struct xbd_engine *e, unsigned int *ready)
{
	struct io_uring_cqe *cqe;
	int n = 0;

	while (io_uring_peek_cqe(&e->ring, &cqe) == 0) {
		uint64_t ud = cqe->user_data;
		int res = cqe->res;

		io_uring_cqe_seen(&e->ring, cqe);
		if (IS_POLL_TAG(ud)) {
			unsigned int i = POLL_INDEX(ud);

			if (i < XBD_ENGINE_MAX_WAKE_FDS) {
				e->poll_armed[i] = false;
				*ready |= 1u << i;
			}
			continue;
		}
		e->inflight--;
		n++;
		e->complete(e->ctx, (struct xbd_io *)(uintptr_t)ud, res);
	}
	return n;
}

static int uring_wait(struct xbd_engine *e, const int *fds, unsigned int nfds,
		      unsigned int *ready, bool block, int timeout_ms)
{
	struct io_uring_cqe *cqe;
	int r;

	*ready = 0;
	r = arm_polls(e, fds, nfds);
	if (r < 0)
		return r;
	if (block) {
		struct __kernel_timespec ts = {
			.tv_sec = timeout_ms / 1000,
			.tv_nsec = (long long)(timeout_ms % 1000) * 1000000,
		};

		r = io_uring_submit_and_wait_timeout(&e->ring, &cqe, 1, &ts, NULL);
		if (r < 0 && r != -ETIME && r != -EINTR)
			return r;
	} else {
		r = io_uring_submit(&e->ring);
		if (r < 0)
			return r;
	}
	return reap(e, ready);
}

static unsigned int uring_inflight(const struct xbd_engine *e)
{
	return e->inflight;
}

const struct xbd_engine_ops xbd_engine_uring = {
	.name = "io_uring",
	.init = uring_init,
	.fini = uring_fini,
	.queue = uring_queue,
	.submit = uring_submit,
	.wait = uring_wait,
	.inflight = uring_inflight,
};
