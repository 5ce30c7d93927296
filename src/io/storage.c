/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The storage plane's front door (storage.h): opening a disk through its driver (and the
 * filter and engine it asks for), and the per-thread storage queue that routes I/Os to the
 * driver and delivers completions. A driver completes either through the engine on its
 * descriptor, whose byte counts are checked here, or in software through a FIFO drained at the
 * next wait, so a completion callback never runs inside a submit. A short transfer is -EIO,
 * except on a buffered descriptor, where it is legal and the rest is done before completing.
 * Discard, secure erase and write-zeroes of a driver with range_step go to range.c instead,
 * which does them in bounded steps at each wait. A driver without an engine may name a
 * descriptor of its own (a network connection) that the queue's wait also watches.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io_internal.h"
#include "xenblkd/log.h"
#include "util/trace.h"

/* storage_private.caller_mark while a caller's I/O is in the storage layer. */
#define CALLER_MARK 0x58424451u

static const struct xbd_driver_ops *const drivers[] = {
	&xbd_driver_raw, &xbd_driver_file, &xbd_driver_blockdev,
	&xbd_driver_null, &xbd_driver_memory, &xbd_driver_qcow2,
#ifdef XBD_HAVE_NBD
	&xbd_driver_nbd,
#endif
#ifdef XBD_HAVE_RBD
	&xbd_driver_rbd,
#endif
};

#ifndef XBD_HAVE_NBD
/* A build without libnbd: an NBD target is refused at open, with the reason. */
static int no_nbd_open(struct xbd_disk *d)
{
	xbd_err(d->log_prefix, "this xenblkd was built without libnbd: no NBD targets");
	return -EPROTONOSUPPORT;
}

static void no_nbd_close(struct xbd_disk *d)
{
	(void)d;
}

static const struct xbd_driver_ops no_nbd = {
	.name = "nbd", .open = no_nbd_open, .close = no_nbd_close,
};
#endif

/* NULL: the format's driver is not in this build. */
static const struct xbd_driver_ops *driver_by_format(enum xbd_format format)
{
	switch (format) {
	case XBD_FORMAT_QCOW2:
		return &xbd_driver_qcow2;
	case XBD_FORMAT_NBD:
#ifdef XBD_HAVE_NBD
		return &xbd_driver_nbd;
#else
		return &no_nbd;
#endif
	case XBD_FORMAT_RBD:
#ifdef XBD_HAVE_RBD
		return &xbd_driver_rbd;
#else
		return NULL;
#endif
	default:
		return &xbd_driver_raw;
	}
}

/* d->cfg.driver is "name[:opts]": a driver, or a filter over the driver of the format. */
static int resolve_spec(struct xbd_disk *d, char *spec)
{
	char *colon = spec ? strchr(spec, ':') : NULL;

	d->opts = "";
	d->drv = driver_by_format(d->cfg.format);
	if (!spec)
		return 0;
	if (colon) {
		*colon = '\0';
		d->opts = colon + 1;
	}
	d->filter = xbd_filter_find(spec);
	if (d->filter) {
		d->filter_opts = d->opts;
		d->opts = "";
		return 0;
	}
	for (unsigned int i = 0; i < sizeof(drivers) / sizeof(drivers[0]); i++) {
		if (strcmp(drivers[i]->name, spec) == 0) {
			d->drv = drivers[i];
			return 0;
		}
	}
	xbd_err(d->log_prefix, "unknown driver '%s'", spec);
	return -EINVAL;
}

int xbd_storage_check_names(const char *engine, const char *driver, char *why, size_t len)
{
	char names[128];
	size_t n = driver ? strcspn(driver, ":") : 0;

	if (engine && !xbd_engine_find(engine)) {
		xbd_engine_names(names, sizeof(names));
		snprintf(why, len, "'%s' is not an I/O engine: %s", engine, names);
		return -EINVAL;
	}
	if (!driver)
		return 0;
	for (unsigned int i = 0; i < sizeof(drivers) / sizeof(drivers[0]); i++)
		if (strlen(drivers[i]->name) == n && !strncmp(drivers[i]->name, driver, n))
			return 0;
	snprintf(names, sizeof(names), "%.*s", (int)n, driver);
	if (xbd_filter_find(names))
		return 0;
	snprintf(why, len, "'%s' names no driver or filter", driver);
	return -EINVAL;
}

static void free_disk(struct xbd_disk *d)
{
	free((char *)d->cfg.path);
	free((char *)d->cfg.driver);
	free((char *)d->cfg.engine);
	free(d);
}

/* Own copies of the configuration's strings; cfg.driver's copy is cut up by resolve_spec. */
static int copy_config(struct xbd_disk *d, const struct xbd_disk_config *cfg)
{
	d->cfg = *cfg;
	d->cfg.path = cfg->path ? strdup(cfg->path) : NULL;
	d->cfg.driver = cfg->driver ? strdup(cfg->driver) : NULL;
	d->cfg.engine = cfg->engine ? strdup(cfg->engine) : NULL;
	snprintf(d->log_prefix, sizeof(d->log_prefix), "%s", cfg->log_prefix ? cfg->log_prefix : "-");
	d->cfg.log_prefix = d->log_prefix;
	if ((cfg->path && !d->cfg.path) || (cfg->driver && !d->cfg.driver) ||
	    (cfg->engine && !d->cfg.engine))
		return -ENOMEM;
	return 0;
}

/* After the driver's open: the engine on its descriptor and the filter over that engine. */
static int open_io_path(struct xbd_disk *d)
{
	int r, fl;

	if (d->fd < 0) {
		d->info.engine_name = "none";
		if (!d->filter)
			return 0;
		xbd_err(d->log_prefix, "the %s filter needs a driver on a file", d->filter->name);
		return -EINVAL;
	}
	fl = fcntl(d->fd, F_GETFL);
	d->fd_direct = fl >= 0 && (fl & O_DIRECT);
	r = xbd_engine_select(d);
	if (!r && d->filter)
		r = d->filter->open(d, d->filter_opts, &d->filter_state);
	return r;
}

int xbd_disk_open(const struct xbd_disk_config *cfg, struct xbd_disk **out)
{
	struct xbd_disk *d = calloc(1, sizeof(*d));
	int r;

	if (!d)
		return -ENOMEM;
	d->fd = -1;
	r = copy_config(d, cfg);
	if (!r)
		r = resolve_spec(d, (char *)d->cfg.driver);
	if (!r && !d->drv) {
		xbd_err(d->log_prefix, "this build has no rbd driver (it was built without "
			"librbd-dev)");
		r = -EPROTONOSUPPORT;
	}
	if (!r)
		r = d->drv->open(d);
	if (r) {
		free_disk(d);
		return r;
	}
	r = open_io_path(d);
	if (r) {
		d->drv->close(d);
		free_disk(d);
		return r;
	}
	*out = d;
	return 0;
}

void xbd_disk_close(struct xbd_disk *d)
{
	if (!d)
		return;
	if (d->filter)
		d->filter->close(d->filter_state);
	d->drv->close(d);
	free_disk(d);
}

/* Set once, never cleared: what a driver abandoned stays with the library until the end. */
static bool abandoned_work;

void xbd_storage_note_abandoned_work(void)
{
	__atomic_store_n(&abandoned_work, true, __ATOMIC_RELEASE);
}

bool xbd_storage_exit_must_skip_teardown(void)
{
	return __atomic_load_n(&abandoned_work, __ATOMIC_ACQUIRE);
}

const struct xbd_disk_info *xbd_disk_get_info(const struct xbd_disk *d)
{
	return &d->info;
}

int xbd_disk_relock(struct xbd_disk *d, bool readonly)
{
	if (d->fd < 0 || d->cfg.no_lock || d->info.readonly)
		return 0;
	return xbd_image_relock(d->fd, readonly, d->cfg.path, d->log_prefix);
}

int xbd_disk_refresh(struct xbd_disk *d)
{
	return d->drv->refresh ? d->drv->refresh(d) : -EOPNOTSUPP;
}

/* The caller's completion; the in-flight count only follows the caller's own I/Os. */
static void deliver(struct xbd_sq *q, struct xbd_io *io, int err)
{
	if (io->storage_private.caller_mark == CALLER_MARK) {
		io->storage_private.caller_mark = 0;
		q->inflight--;
		XBD_TRACE(xen_block_storage_complete, q->disk->log_prefix, q, io, io->op, err);
	}
	io->done(io, err);
}

/*
 * A buffered read or write may legally stop short; do the rest here, synchronously (it is
 * rare: a signal, memory pressure, or the end of the file). Returns the bytes done in all, or
 * -errno. An end of file before `len` leaves the count short.
 */
static int64_t finish_short(int fd, const struct xbd_io *io, uint64_t done)
{
	uint64_t skip = done;

	for (unsigned int i = 0; i < io->niov; i++) {
		const struct iovec *v = &io->iov[i];
		uint64_t pos = skip < v->iov_len ? skip : v->iov_len;

		skip -= pos;
		while (pos < v->iov_len) {
			struct iovec part = { (char *)v->iov_base + pos, v->iov_len - pos };
			int flags = io->flags & XBD_IO_FUA ? RWF_DSYNC : 0;
			ssize_t n = io->op == XBD_IO_READ ?
				    preadv2(fd, &part, 1, (off_t)(io->offset + done), 0) :
				    pwritev2(fd, &part, 1, (off_t)(io->offset + done), flags);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return n < 0 ? -errno : (int64_t)done;
			pos += (uint64_t)n;
			done += (uint64_t)n;
		}
	}
	return (int64_t)done;
}

/* Engine completion: turn a byte count into 0 / -errno and finish the I/O. */
static void engine_complete(void *ctx, struct xbd_io *io, int64_t res)
{
	struct xbd_sq *q = ctx;
	bool data = io->op == XBD_IO_READ || io->op == XBD_IO_WRITE;
	uint64_t want = data ? io->len : 0;

	if (data && res > 0 && (uint64_t)res < want && !q->disk->fd_direct)
		res = finish_short(q->disk->fd, io, (uint64_t)res);
	if (res >= 0 && (uint64_t)res != want)
		res = -EIO;
	deliver(q, io, res < 0 ? (int)res : 0);
}

static int open_engine(struct xbd_sq *q)
{
	struct xbd_disk *d = q->disk;
	struct xbd_engine_config cfg = {
		.fd = d->fd,
		.depth = q->depth + d->extra_depth,
		.complete = engine_complete,
		.ctx = q,
		.sqpoll = d->cfg.sqpoll,
		.threads = d->cfg.io_threads,
		.log_prefix = d->log_prefix,
		.inner = d->engine,
		.filter_state = d->filter_state,
	};

	q->eng_ops = d->filter ? d->filter->engine : d->engine;
	return q->eng_ops->init(&q->eng, &cfg);
}

int xbd_sq_open(struct xbd_disk *d, unsigned int depth, struct xbd_sq **out)
{
	struct xbd_sq *q = calloc(1, sizeof(*q));
	int r = 0;

	if (!q)
		return -ENOMEM;
	q->disk = d;
	q->depth = depth ? depth : 1;
	q->soft_tail = &q->soft_head;
	xbd_range_queue_init(q);
	if (d->fd >= 0)
		r = open_engine(q);
	if (!r && d->drv->queue_open)
		r = d->drv->queue_open(q);
	if (r) {
		if (q->eng)
			q->eng_ops->fini(q->eng);
		free(q);
		return r;
	}
	*out = q;
	return 0;
}

void xbd_sq_close(struct xbd_sq *q)
{
	if (!q)
		return;
	if (q->disk->drv->queue_close)
		q->disk->drv->queue_close(q);
	if (q->eng)
		q->eng_ops->fini(q->eng);
	free(q);
}

void xbd_sq_complete(struct xbd_sq *q, struct xbd_io *io, int res)
{
	/* The caller mark stays: deliver() looks at it. */
	io->storage_private.soft_result = res;
	io->storage_private.soft_next = NULL;
	*q->soft_tail = io;
	q->soft_tail = &io->storage_private.soft_next;
}

int xbd_sq_engine_queue(struct xbd_sq *q, struct xbd_io *io)
{
	if (!q->eng)
		return -EOPNOTSUPP;
	return q->eng_ops->queue(q->eng, io);
}

/* What no driver may be asked: writes to a read-only disk, ranges past its end. */
static int check_io(const struct xbd_disk *d, const struct xbd_io *io)
{
	uint64_t size = __atomic_load_n(&d->info.size, __ATOMIC_RELAXED);

	if (io->op == XBD_IO_FLUSH)
		return 0;
	if (io->op != XBD_IO_READ && d->info.readonly)
		return -EROFS;
	if (io->len > size || io->offset > size - io->len)
		return -EIO; /* as the short transfer it would be */
	return 0;
}

/* Done in bounded steps by range.c rather than in one call to submit. */
static bool in_steps(const struct xbd_sq *q, const struct xbd_io *io)
{
	return q->disk->drv->range_step && io->len > 0 && xbd_range_kind(io->op) >= 0;
}

int xbd_sq_queue(struct xbd_sq *q, struct xbd_io *io)
{
	int r = check_io(q->disk, io);

	XBD_TRACE(xen_block_storage_submit, q->disk->log_prefix, q, io, io->op, io->offset,
		  io->len);
	io->storage_private.caller_mark = CALLER_MARK;
	q->inflight++;
	if (!r && in_steps(q, io)) {
		xbd_range_enqueue(q, io);
		return 0;
	}
	if (!r)
		r = q->disk->drv->submit(q, io);
	if (r < 0)
		xbd_sq_complete(q, io, r);
	return 0;
}

int xbd_sq_submit(struct xbd_sq *q)
{
	return q->eng ? q->eng_ops->submit(q->eng) : 0;
}

static int run_soft_completions(struct xbd_sq *q)
{
	struct xbd_io *io = q->soft_head;
	int n = 0;

	q->soft_head = NULL;
	q->soft_tail = &q->soft_head;
	while (io) {
		struct xbd_io *next = io->storage_private.soft_next;

		deliver(q, io, io->storage_private.soft_result);
		io = next;
		n++;
	}
	q->soft_completions += (uint64_t)n;
	return n;
}

/*
 * A queue without an engine: poll the caller's fds and, for a driver with a descriptor of its
 * own (network storage), that descriptor for what the driver wants now; when it is ready the
 * driver makes progress, queueing soft completions the caller's wait then delivers. 0 or
 * -errno.
 */
static int wait_no_engine(struct xbd_sq *q, const int *fds, unsigned int nfds,
			  unsigned int *ready, int timeout_ms)
{
	const struct xbd_driver_ops *drv = q->disk->drv;
	short events = 0;
	int fd = drv->wait_fd ? drv->wait_fd(q, &events) : -1;
	int r;

	if (fd < 0)
		events = 0;
	if (q->soft_head)
		timeout_ms = 0; /* wait_fd completed I/Os (a timeout): deliver them now */
	r = xbd_poll_wake_fds(fd, events, fds, nfds, ready, timeout_ms);
	if (r > 0 && drv->fd_ready)
		drv->fd_ready(q, (short)r);
	return r < 0 ? r : 0;
}

int xbd_sq_wait(struct xbd_sq *q, const int *fds, unsigned int nfds, unsigned int *ready,
		bool block, int timeout_ms)
{
	int r;

	*ready = 0;
	if (q->soft_head || q->range_head)
		block = false; /* completions, or range steps, are waiting already */
	if (q->eng)
		r = q->eng_ops->wait(q->eng, fds, nfds, ready, block, timeout_ms);
	else
		r = wait_no_engine(q, fds, nfds, ready, block ? timeout_ms : 0);
	if (r < 0)
		return r;
	xbd_range_run(q);
	return r + run_soft_completions(q);
}

bool xbd_sq_ready(const struct xbd_sq *q)
{
	if (q->soft_head || q->range_head)
		return true;
	return q->eng && q->eng_ops->ready && q->eng_ops->ready(q->eng);
}

void xbd_sq_wake_edge(struct xbd_sq *q)
{
	if (q->eng && q->eng_ops->wake_edge)
		q->eng_ops->wake_edge(q->eng);
}

unsigned int xbd_sq_inflight(const struct xbd_sq *q)
{
	return q->inflight;
}

int xbd_sq_register_buffers(struct xbd_sq *q, const struct iovec *bufs, unsigned int n)
{
	if (!q->eng || !q->eng_ops->register_buffers)
		return -EOPNOTSUPP;
	if (n && !bufs)
		return -EINVAL;
	return q->eng_ops->register_buffers(q->eng, bufs, n);
}

int xbd_sq_release_file(struct xbd_sq *q)
{
	return q && q->eng && q->eng_ops->release_file ? q->eng_ops->release_file(q->eng) : 0;
}

int xbd_sq_restore_file(struct xbd_sq *q)
{
	return q && q->eng && q->eng_ops->restore_file ? q->eng_ops->restore_file(q->eng) : 0;
}

int xbd_sq_buffers_open(struct xbd_sq *q, unsigned int n)
{
	if (!q->eng || !q->eng_ops->buffers_open)
		return -EOPNOTSUPP;
	return q->eng_ops->buffers_open(q->eng, n);
}

int xbd_sq_buffer_add(struct xbd_sq *q, void *base, size_t len)
{
	if (!q->eng || !q->eng_ops->buffer_add)
		return -EOPNOTSUPP;
	return q->eng_ops->buffer_add(q->eng, base, len);
}

void xbd_sq_buffer_drop(struct xbd_sq *q, void *base)
{
	if (q->eng && q->eng_ops->buffer_drop)
		q->eng_ops->buffer_drop(q->eng, base);
}

void xbd_sq_get_stats(const struct xbd_sq *q, struct xbd_sq_stats *st)
{
	struct xbd_engine_stats es = { 0 };

	if (q->eng && q->eng_ops->get_stats)
		q->eng_ops->get_stats(q->eng, &es);
	else
		snprintf(es.features, sizeof(es.features), "%s", q->eng ? q->eng_ops->name : "none");
	*st = (struct xbd_sq_stats){
		.ios = es.ios + q->soft_completions,
		.syscalls = es.syscalls,
		.fixed_buffer_ios = es.fixed_buffer_ios,
		.poll_arms = es.poll_arms,
	};
	snprintf(st->engine_features, sizeof(st->engine_features), "%s", es.features);
}
