/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The io_uring engine: one ring per data thread. I/Os are queued as SQEs against the backing
 * file registered as fixed file 0, and a whole batch goes to the kernel in one io_uring_enter.
 * An I/O whose single buffer lies in a registered buffer (the data plane's bounce pool) is a
 * READ_FIXED/WRITE_FIXED, which saves pinning its pages on every I/O. The data thread's wake-up
 * fds (the event channel, the stop eventfd) are polled from the same ring, so a single wait
 * covers guest kicks and I/O completions: with one-shot POLL_ADDs re-armed after each report
 * (level: an fd left readable is reported again), or, for a caller that drains its fds
 * (wake_edge), one multishot POLL_ADD each (kernel 5.13), so a kick costs no re-arm. Set-up flags are probed
 * at run time, newest first, since Debian 12's dom0 kernel is 6.1.
 */
#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"
#include "xenblkd/log.h"

/* POLL_ADD completions carry an odd user_data (fd << 9 | wake fd index << 1 | 1); I/O
 * completions carry the struct xbd_io pointer, which is at least 8-byte aligned and so always
 * even. The fd tells a stale multishot poll (of an fd since replaced) from the live one. */
#define POLL_TAG(i, fd) (((uint64_t)(uint32_t)(fd) << 9) | ((uint64_t)(i) << 1) | 1u)
#define IS_POLL_TAG(u) (((u) & 1u) != 0)
#define POLL_INDEX(u) ((unsigned int)(((u) >> 1) & 0xffu))
#define POLL_FD(u) ((int)(uint32_t)((u) >> 9))

#define SQPOLL_IDLE_MS 50

struct fixed_buf {
	uintptr_t start, end;
	unsigned int index;
};

struct xbd_engine {
	struct io_uring ring;
	int file_fd;                  /* registered as fixed file 0 */
	xbd_engine_complete_fn complete;
	void *ctx;
	const char *log_prefix;
	unsigned int setup_flags;
	unsigned int inflight;        /* queued or submitted I/Os, not polls */
	unsigned int depth;
	bool poll_armed[XBD_ENGINE_MAX_WAKE_FDS];
	bool multishot;               /* wake fds are drained by the caller (wake_edge) */
	unsigned int unreported;      /* multishot: fds seen readable by a wait not watching them */
	bool no_multishot;            /* the kernel refused a multishot poll: one-shot ones */
	int poll_fd[XBD_ENGINE_MAX_WAKE_FDS];
	struct fixed_buf *bufs;       /* registered buffers, sorted by start */
	unsigned int nr_bufs;
	/* A sparse table (buffers_open): slots filled and emptied one at a time. */
	unsigned int nr_slots;        /* 0: none */
	unsigned int *free_slots;     /* a stack of the empty slots' indexes */
	unsigned int nr_free;
	bool update_refused;          /* the kernel refused a buffer: no more tries */
	struct xbd_engine_stats stats;
};

/* Newest first; a kernel that does not know a flag says EINVAL. SQPOLL excludes the
 * task-run flags, and an unprivileged SQPOLL needs 5.11. */
static int setup_ring(struct xbd_engine *e, unsigned int entries, bool sqpoll)
{
	static const unsigned int plain[] = {
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SUBMIT_ALL,
		IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SUBMIT_ALL,
		0,
	};
	static const unsigned int polled[] = {
		IORING_SETUP_SQPOLL | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_SUBMIT_ALL,
		IORING_SETUP_SQPOLL | IORING_SETUP_SUBMIT_ALL,
		IORING_SETUP_SQPOLL,
	};
	const unsigned int *sets = sqpoll ? polled : plain;
	int r = -EINVAL;

	for (unsigned int i = 0; i < 3 && r == -EINVAL; i++) {
		struct io_uring_params p = { .flags = sets[i], .sq_thread_idle = SQPOLL_IDLE_MS };

		r = io_uring_queue_init_params(entries, &e->ring, &p);
		if (r == 0)
			e->setup_flags = sets[i];
	}
	if (r < 0 && sqpoll) {
		xbd_warn(e->log_prefix, "io_uring SQPOLL unavailable (%s); polling from the "
			 "data thread", strerror(-r));
		return setup_ring(e, entries, false);
	}
	return r;
}

/*
 * The kernel punts I/O that cannot be issued without blocking to io-wq worker threads of the
 * submitting task. Bounded work (regular files) is capped by the kernel at min(ring entries,
 * 4 per CPU); unbounded work (a block device that cannot take I/O without blocking) only by
 * RLIMIT_NPROC, so a guest's full ring could make the daemon spawn hundreds of threads. Cap
 * both per data thread (one ring per thread, so the per-task limit is per queue). Older
 * kernels (before 5.15) lack the call: then the kernel's own limits stand.
 */
#define IOWQ_MAX_WORKERS 16

static void bound_iowq_workers(struct xbd_engine *e)
{
	unsigned int workers[2] = { IOWQ_MAX_WORKERS, IOWQ_MAX_WORKERS };
	int r = io_uring_register_iowq_max_workers(&e->ring, workers);

	if (r < 0)
		xbd_debug(e->log_prefix, "io-wq workers not bounded: %s", strerror(-r));
}

static int uring_init(struct xbd_engine **out, const struct xbd_engine_config *cfg)
{
	struct xbd_engine *e = calloc(1, sizeof(*e));
	int r;

	if (!e)
		return -ENOMEM;
	e->log_prefix = cfg->log_prefix;
	r = setup_ring(e, cfg->depth + XBD_ENGINE_MAX_WAKE_FDS, cfg->sqpoll);
	if (r < 0) {
		free(e);
		return r;
	}
	r = io_uring_register_files(&e->ring, &cfg->fd, 1);
	if (r < 0) {
		io_uring_queue_exit(&e->ring);
		free(e);
		return r;
	}
	e->file_fd = cfg->fd;
	bound_iowq_workers(e);
	for (unsigned int i = 0; i < XBD_ENGINE_MAX_WAKE_FDS; i++)
		e->poll_fd[i] = -1;
	e->complete = cfg->complete;
	e->ctx = cfg->ctx;
	e->depth = cfg->depth;
	*out = e;
	return 0;
}

static void uring_fini(struct xbd_engine *e)
{
	if (!e)
		return;
	/*
	 * Unregister the file first: that drops the ring's reference to it in this thread, at
	 * once, whereas exiting the ring drops it later from a kernel worker, and until then the
	 * file's image locks (and a block device's O_EXCL claim) would outlive its close().
	 * Armed polls hold no user memory; exiting the ring cancels them.
	 */
	io_uring_unregister_files(&e->ring);
	io_uring_queue_exit(&e->ring);
	free(e->free_slots);
	free(e->bufs);
	free(e);
}

static int uring_release_file(struct xbd_engine *e)
{
	return io_uring_unregister_files(&e->ring);
}

static int uring_restore_file(struct xbd_engine *e)
{
	int r = io_uring_register_files(&e->ring, &e->file_fd, 1);

	return r == -EBUSY ? 0 : r; /* still registered: a release that failed */
}

static void count_enter(struct xbd_engine *e)
{
	/* With SQPOLL, a submit enters the kernel only to wake a sleeping poller. */
	if (!(e->setup_flags & IORING_SETUP_SQPOLL) ||
	    (IO_URING_READ_ONCE(*e->ring.sq.kflags) & IORING_SQ_NEED_WAKEUP))
		e->stats.syscalls++;
}

static int submit_pending(struct xbd_engine *e)
{
	if (io_uring_sq_ready(&e->ring) == 0)
		return 0;
	count_enter(e);
	return io_uring_submit(&e->ring);
}

static struct io_uring_sqe *get_sqe(struct xbd_engine *e)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&e->ring);

	if (!sqe) {
		/* SQ full: hand the batch to the kernel and take a fresh slot. */
		submit_pending(e);
		sqe = io_uring_get_sqe(&e->ring);
	}
	return sqe;
}

/* The registered buffer holding [p, p + len), or -1. */
static int find_fixed(const struct xbd_engine *e, const void *p, size_t len)
{
	uintptr_t a = (uintptr_t)p;
	unsigned int lo = 0, hi = e->nr_bufs;

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;

		if (a < e->bufs[mid].start)
			hi = mid;
		else if (a >= e->bufs[mid].end)
			lo = mid + 1;
		else
			return len <= e->bufs[mid].end - a ? (int)e->bufs[mid].index : -1;
	}
	return -1;
}

static void prep_rw(struct xbd_engine *e, struct io_uring_sqe *sqe, const struct xbd_io *io)
{
	bool wr = io->op == XBD_IO_WRITE;
	int idx = io->niov == 1 ? find_fixed(e, io->iov[0].iov_base, io->iov[0].iov_len) : -1;

	if (idx >= 0 && wr)
		io_uring_prep_write_fixed(sqe, 0, io->iov[0].iov_base,
					  (unsigned int)io->iov[0].iov_len, io->offset, idx);
	else if (idx >= 0)
		io_uring_prep_read_fixed(sqe, 0, io->iov[0].iov_base,
					 (unsigned int)io->iov[0].iov_len, io->offset, idx);
	else if (wr)
		io_uring_prep_writev(sqe, 0, io->iov, io->niov, io->offset);
	else
		io_uring_prep_readv(sqe, 0, io->iov, io->niov, io->offset);
	if (idx >= 0)
		e->stats.fixed_buffer_ios++;
	if (wr && (io->flags & XBD_IO_FUA))
		sqe->rw_flags = RWF_DSYNC;
}

static int uring_queue(struct xbd_engine *e, struct xbd_io *io)
{
	struct io_uring_sqe *sqe;

	if (io->op != XBD_IO_READ && io->op != XBD_IO_WRITE && io->op != XBD_IO_FLUSH)
		return -EINVAL;
	if (e->inflight >= e->depth)
		return -EBUSY;
	sqe = get_sqe(e);
	if (!sqe)
		return -EBUSY;
	if (io->op == XBD_IO_FLUSH)
		io_uring_prep_fsync(sqe, 0, IORING_FSYNC_DATASYNC);
	else
		prep_rw(e, sqe, io);
	sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data(sqe, io);
	e->inflight++;
	return 0;
}

static int uring_submit(struct xbd_engine *e)
{
	int r = submit_pending(e);

	return r < 0 ? r : 0;
}

static int arm_polls(struct xbd_engine *e, const int *fds, unsigned int nfds)
{
	if (nfds > XBD_ENGINE_MAX_WAKE_FDS)
		return -EINVAL;
	for (unsigned int i = 0; i < nfds; i++) {
		struct io_uring_sqe *sqe;

		if (e->poll_armed[i] && e->poll_fd[i] == fds[i])
			continue;
		if (e->poll_armed[i]) {
			/* Another fd in this place: end the old fd's multishot poll. */
			sqe = get_sqe(e);
			if (!sqe)
				return -EBUSY;
			io_uring_prep_poll_remove(sqe, POLL_TAG(i, e->poll_fd[i]));
			io_uring_sqe_set_data64(sqe, POLL_TAG(i, e->poll_fd[i]));
		}
		sqe = get_sqe(e);
		if (!sqe)
			return -EBUSY;
		if (!e->multishot || e->no_multishot)
			io_uring_prep_poll_add(sqe, fds[i], POLLIN);
		else
			io_uring_prep_poll_multishot(sqe, fds[i], POLLIN);
		io_uring_sqe_set_data64(sqe, POLL_TAG(i, fds[i]));
		e->stats.poll_arms++;
		e->poll_armed[i] = true;
		e->poll_fd[i] = fds[i];
	}
	return 0;
}

/*
 * A wake-up fd's poll completed. A multishot poll stays armed while the kernel says MORE; it
 * ends (and is re-armed at the next wait) on an error or when the kernel drops it. A kernel
 * without multishot polls says EINVAL: from then on, one-shot polls.
 */
static void poll_done(struct xbd_engine *e, uint64_t tag, int res, unsigned int flags,
		      unsigned int *ready)
{
	unsigned int i = POLL_INDEX(tag);

	/* A stale poll's last words, or its removal's answer. */
	if (i >= XBD_ENGINE_MAX_WAKE_FDS || POLL_FD(tag) != e->poll_fd[i])
		return;
	if (!(flags & IORING_CQE_F_MORE))
		e->poll_armed[i] = false;
	if (res == -EINVAL && !e->no_multishot) {
		e->no_multishot = true;
		return;
	}
	*ready |= 1u << i;
}

static int reap(struct xbd_engine *e, unsigned int *ready)
{
	struct io_uring_cqe *cqe;
	int n = 0;

	while (io_uring_peek_cqe(&e->ring, &cqe) == 0) {
		uint64_t ud = cqe->user_data;
		int res = cqe->res;

		if (IS_POLL_TAG(ud)) {
			poll_done(e, ud, res, cqe->flags, ready);
			io_uring_cqe_seen(&e->ring, cqe);
			continue;
		}
		io_uring_cqe_seen(&e->ring, cqe);
		e->inflight--;
		e->stats.ios++;
		n++;
		e->complete(e->ctx, (struct xbd_io *)(uintptr_t)ud, res);
	}
	return n;
}

static int uring_wait(struct xbd_engine *e, const int *fds, unsigned int nfds,
		      unsigned int *ready, bool block, int timeout_ms)
{
	unsigned int want = (1u << nfds) - 1, seen = 0;
	struct io_uring_cqe *cqe;
	int r, n;

	*ready = 0;
	r = arm_polls(e, fds, nfds);
	if (r < 0)
		return r;
	if (e->unreported & want)
		block = false;
	if (block && io_uring_cq_ready(&e->ring) == 0) {
		struct __kernel_timespec ts = {
			.tv_sec = timeout_ms / 1000,
			.tv_nsec = (long long)(timeout_ms % 1000) * 1000000,
		};

		e->stats.syscalls++;
		/* A negative timeout waits for as long as it takes. */
		r = io_uring_submit_and_wait_timeout(&e->ring, &cqe, 1, timeout_ms < 0 ? NULL : &ts,
						     NULL);
		if (r < 0 && r != -ETIME && r != -EINTR)
			return r;
	} else {
		r = submit_pending(e);
		if (r < 0)
			return r;
	}
	n = reap(e, &seen);
	/*
	 * A multishot poll reports an fd once per wake-up: a wait that does not watch it (a
	 * flush waited for with no fds) must keep the report for the next wait that does, or the
	 * caller, which drains only what it is told about, would never hear of it.
	 */
	seen |= e->unreported;
	*ready = seen & want;
	e->unreported = e->multishot ? seen & ~want : 0;
	return n;
}

static void uring_wake_edge(struct xbd_engine *e)
{
	e->multishot = true;
}

static bool uring_ready(const struct xbd_engine *e)
{
	/* The CQ tail is the kernel's: liburing reads it with an acquire load. */
	return io_uring_cq_ready(&e->ring) > 0 || e->unreported;
}

static unsigned int uring_inflight(const struct xbd_engine *e)
{
	return e->inflight;
}

static int cmp_buf(const void *a, const void *b)
{
	const struct fixed_buf *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

static int uring_register_buffers(struct xbd_engine *e, const struct iovec *bufs,
				  unsigned int n)
{
	struct fixed_buf *fb = n ? calloc(n, sizeof(*fb)) : NULL;
	int r;

	if (e->nr_slots)
		return -EBUSY; /* a sparse table is in use */
	if (e->nr_bufs)
		io_uring_unregister_buffers(&e->ring);
	free(e->bufs);
	e->bufs = NULL;
	e->nr_bufs = 0;
	if (!fb)
		return n ? -ENOMEM : 0;
	r = io_uring_register_buffers(&e->ring, bufs, n);
	if (r < 0) {
		/* Usually RLIMIT_MEMLOCK without CAP_IPC_LOCK: I/O works without them. */
		xbd_info(e->log_prefix, "io_uring: %u buffers not registered (%s); using "
			 "plain reads and writes", n, strerror(-r));
		free(fb);
		return -EOPNOTSUPP;
	}
	for (unsigned int i = 0; i < n; i++)
		fb[i] = (struct fixed_buf){ (uintptr_t)bufs[i].iov_base,
					    (uintptr_t)bufs[i].iov_base + bufs[i].iov_len, i };
	qsort(fb, n, sizeof(*fb), cmp_buf);
	e->bufs = fb;
	e->nr_bufs = n;
	return 0;
}

/*
 * A sparse table of n buffer slots (kernel 5.19), for a pool whose buffers come and go: it pins
 * nothing until buffers are added, so an idle queue stays small. -EOPNOTSUPP, logged, when
 * the kernel refuses: I/O then uses plain reads and writes.
 */
static int uring_buffers_open(struct xbd_engine *e, unsigned int n)
{
	int r;

	if (e->nr_bufs || e->nr_slots || n == 0)
		return -EINVAL;
	e->bufs = calloc(n, sizeof(*e->bufs));
	e->free_slots = calloc(n, sizeof(*e->free_slots));
	r = e->bufs && e->free_slots ? io_uring_register_buffers_sparse(&e->ring, n) : -ENOMEM;
	if (r < 0) {
		xbd_info(e->log_prefix, "io_uring: no registered buffers (%s); using plain reads "
			 "and writes", strerror(-r));
		free(e->bufs);
		free(e->free_slots);
		e->bufs = NULL;
		e->free_slots = NULL;
		return -EOPNOTSUPP;
	}
	for (unsigned int i = 0; i < n; i++)
		e->free_slots[i] = n - 1 - i;
	e->nr_free = n;
	e->nr_slots = n;
	return 0;
}

/* Where a buffer starting at `a` is, or would go, in the sorted array. */
static unsigned int buf_pos(const struct xbd_engine *e, uintptr_t a)
{
	unsigned int lo = 0, hi = e->nr_bufs;

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;

		if (e->bufs[mid].start < a)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int set_slot(struct xbd_engine *e, unsigned int slot, void *base, size_t len)
{
	struct iovec iov = { base, len };
	__u64 tag = 0;
	int r = io_uring_register_buffers_update_tag(&e->ring, slot, &iov, &tag, 1);

	return r < 0 ? r : 0;
}

/* Fill an empty slot with [base, base + len). The pages are pinned until it is dropped. */
static int uring_buffer_add(struct xbd_engine *e, void *base, size_t len)
{
	uintptr_t a = (uintptr_t)base;
	unsigned int slot, pos;
	int r;

	if (!e->nr_slots || e->update_refused)
		return -EOPNOTSUPP;
	if (!e->nr_free)
		return -ENOSPC; /* the table is full: this buffer goes unregistered */
	slot = e->free_slots[--e->nr_free];
	r = set_slot(e, slot, base, len);
	if (r < 0) {
		e->free_slots[e->nr_free++] = slot;
		/* Usually RLIMIT_MEMLOCK without CAP_IPC_LOCK. Once, then never again. */
		e->update_refused = true;
		xbd_info(e->log_prefix, "io_uring: buffer not registered (%s); using plain reads "
			 "and writes", strerror(-r));
		return -EOPNOTSUPP;
	}
	pos = buf_pos(e, a);
	memmove(&e->bufs[pos + 1], &e->bufs[pos], (e->nr_bufs - pos) * sizeof(*e->bufs));
	e->bufs[pos] = (struct fixed_buf){ a, a + len, slot };
	e->nr_bufs++;
	return 0;
}

/* Empty the slot of the buffer that starts at `base`, if it has one. */
static void uring_buffer_drop(struct xbd_engine *e, void *base)
{
	uintptr_t a = (uintptr_t)base;
	unsigned int pos;

	if (!e->nr_slots)
		return;
	pos = buf_pos(e, a);
	if (pos >= e->nr_bufs || e->bufs[pos].start != a)
		return;
	/* An I/O still in flight on it keeps its own reference: the kernel's, not ours. */
	if (set_slot(e, e->bufs[pos].index, NULL, 0) < 0)
		xbd_debug(e->log_prefix, "io_uring: a buffer slot could not be emptied");
	e->free_slots[e->nr_free++] = e->bufs[pos].index;
	e->nr_bufs--;
	memmove(&e->bufs[pos], &e->bufs[pos + 1], (e->nr_bufs - pos) * sizeof(*e->bufs));
}

static void uring_get_stats(const struct xbd_engine *e, struct xbd_engine_stats *st)
{
	unsigned int f = e->setup_flags;

	*st = e->stats;
	snprintf(st->features, sizeof(st->features), "io_uring: fixed-file%s%s%s%s%s",
		 e->nr_bufs || e->nr_slots ? " fixed-buffers" : "",
		 f & IORING_SETUP_SQPOLL ? " sqpoll" : "",
		 f & IORING_SETUP_SINGLE_ISSUER ? " single-issuer" : "",
		 f & IORING_SETUP_COOP_TASKRUN ? " coop-taskrun" : "",
		 f & IORING_SETUP_SUBMIT_ALL ? " submit-all" : "");
}

const struct xbd_engine_ops xbd_engine_uring = {
	.name = "io_uring",
	.init = uring_init,
	.fini = uring_fini,
	.queue = uring_queue,
	.submit = uring_submit,
	.wait = uring_wait,
	.inflight = uring_inflight,
	.register_buffers = uring_register_buffers,
	.release_file = uring_release_file,
	.restore_file = uring_restore_file,
	.buffers_open = uring_buffers_open,
	.buffer_add = uring_buffer_add,
	.buffer_drop = uring_buffer_drop,
	.get_stats = uring_get_stats,
	.wake_edge = uring_wake_edge,
	.ready = uring_ready,
};
