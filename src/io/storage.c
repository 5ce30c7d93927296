/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The storage plane's front door (storage.h): opening a disk through its driver, and the
 * per-thread storage queue that routes I/Os to the driver and delivers completions. A driver
 * completes either through the engine on its descriptor, whose byte counts are checked here
 * (a short transfer is -EIO), or in software through a FIFO drained at the next wait, so a
 * completion callback never runs inside a submit.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xenblkd/driver.h"
#include "xenblkd/log.h"

#define DEFAULT_ENGINE "io_uring"

static const struct xbd_driver_ops *pick_driver(const struct xbd_disk_config *cfg)
{
	if (cfg->driver)
		return NULL;
	if (cfg->format == XBD_FORMAT_QCOW2)
		return &xbd_driver_qcow2;
	return &xbd_driver_raw;
}

int xbd_disk_open(const struct xbd_disk_config *cfg, struct xbd_disk **out)
{
	struct xbd_disk *d = calloc(1, sizeof(*d));
	const char *engine = cfg->engine ? cfg->engine : DEFAULT_ENGINE;
	int r;

	if (!d)
		return -ENOMEM;
	d->cfg = *cfg;
	d->fd = -1;
	snprintf(d->log_prefix, sizeof(d->log_prefix), "%s", cfg->log_prefix ? cfg->log_prefix : "-");
	d->cfg.log_prefix = d->log_prefix;
	d->cfg.path = cfg->path ? strdup(cfg->path) : NULL;
	d->drv = pick_driver(cfg);
	d->engine = xbd_engine_find(engine);
	if (!d->drv || !d->engine || (cfg->path && !d->cfg.path)) {
		xbd_err(d->log_prefix, "no %s for this disk", !d->drv ? "driver" : "engine");
		r = d->drv && d->engine ? -ENOMEM : -EINVAL;
		goto fail;
	}
	r = d->drv->open(d);
	if (r)
		goto fail;
	d->info.engine_name = d->engine->name;
	*out = d;
	return 0;
fail:
	free((char *)d->cfg.path);
	free(d);
	return r;
}

void xbd_disk_close(struct xbd_disk *d)
{
	if (!d)
		return;
	d->drv->close(d);
	free((char *)d->cfg.path);
	free(d);
}

const struct xbd_disk_info *xbd_disk_get_info(const struct xbd_disk *d)
{
	return &d->info;
}

int xbd_disk_refresh(struct xbd_disk *d)
{
	return d->drv->refresh ? d->drv->refresh(d) : -EOPNOTSUPP;
}

static uint64_t expected_bytes(const struct xbd_io *io)
{
	return io->op == XBD_IO_READ || io->op == XBD_IO_WRITE ? io->len : 0;
}

/* Engine completion: turn a byte count into 0 / -errno and finish the I/O. */
static void engine_complete(void *ctx, struct xbd_io *io, int64_t res)
{
	struct xbd_sq *q = ctx;
	int err = res < 0 ? (int)res : 0;

	if (res >= 0 && (uint64_t)res != expected_bytes(io))
		err = -EIO;
	q->inflight--;
	io->done(io, err);
}

int xbd_sq_open(struct xbd_disk *d, unsigned int depth, struct xbd_sq **out)
{
	struct xbd_sq *q = calloc(1, sizeof(*q));
	int r = 0;

	if (!q)
		return -ENOMEM;
	q->disk = d;
	q->soft_tail = &q->soft_head;
	if (d->fd >= 0)
		r = d->engine->init(&q->eng, depth, d->fd, engine_complete, q);
	if (!r && d->drv->queue_open)
		r = d->drv->queue_open(q);
	if (r) {
		if (q->eng)
			d->engine->fini(q->eng);
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
		q->disk->engine->fini(q->eng);
	free(q);
}

void xbd_sq_complete(struct xbd_sq *q, struct xbd_io *io, int res)
{
	/* storage_private[0]: the result; [1]: the FIFO link. */
	io->storage_private[0] = (uint64_t)(int64_t)res;
	io->storage_private[1] = 0;
	*q->soft_tail = io;
	q->soft_tail = (struct xbd_io **)&io->storage_private[1];
}

int xbd_sq_engine_queue(struct xbd_sq *q, struct xbd_io *io)
{
	if (!q->eng)
		return -EOPNOTSUPP;
	return q->disk->engine->queue(q->eng, io);
}

int xbd_sq_queue(struct xbd_sq *q, struct xbd_io *io)
{
	int r;

	q->inflight++;
	r = q->disk->drv->submit(q, io);
	if (r < 0)
		xbd_sq_complete(q, io, r);
	return 0;
}

int xbd_sq_submit(struct xbd_sq *q)
{
	return q->eng ? q->disk->engine->submit(q->eng) : 0;
}

static int run_soft_completions(struct xbd_sq *q)
{
	struct xbd_io *io = q->soft_head;
	int n = 0;

	q->soft_head = NULL;
	q->soft_tail = &q->soft_head;
	while (io) {
		struct xbd_io *next = (struct xbd_io *)(uintptr_t)io->storage_private[1];

		q->inflight--;
		io->done(io, (int)(int64_t)io->storage_private[0]);
		io = next;
		n++;
	}
	return n;
}

/* Without an engine, the wake-up fds are polled directly. */
static int poll_fds(const int *fds, unsigned int nfds, unsigned int *ready, int timeout_ms)
{
	struct pollfd p[XBD_ENGINE_MAX_WAKE_FDS];

	if (nfds > XBD_ENGINE_MAX_WAKE_FDS)
		return -EINVAL;
	for (unsigned int i = 0; i < nfds; i++)
		p[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
	if (poll(p, nfds, timeout_ms) < 0)
		return errno == EINTR ? 0 : -errno;
	for (unsigned int i = 0; i < nfds; i++)
		if (p[i].revents)
			*ready |= 1u << i;
	return 0;
}

int xbd_sq_wait(struct xbd_sq *q, const int *fds, unsigned int nfds, unsigned int *ready,
		bool block, int timeout_ms)
{
	int n = 0, r;

	*ready = 0;
	if (q->soft_head)
		block = false; /* completions are waiting already */
	if (q->eng)
		r = q->disk->engine->wait(q->eng, fds, nfds, ready, block, timeout_ms);
	else
		r = poll_fds(fds, nfds, ready, block ? timeout_ms : 0);
	if (r < 0)
		return r;
	n += r;
	return n + run_soft_completions(q);
}

unsigned int xbd_sq_inflight(const struct xbd_sq *q)
{
	return q->inflight;
}

int xbd_sq_register_buffers(struct xbd_sq *q, const struct iovec *bufs, unsigned int n)
{
	(void)q;
	(void)bufs;
	(void)n;
	return -EOPNOTSUPP;
}
