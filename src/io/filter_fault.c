/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The fault filter, for tests: an engine stacked on the real one that changes the result of
 * chosen I/Os after they really ran, the way a failing disk or a full file system would
 * report them. Spec "fault:op=read|write|flush|any,error=EIO|ENOSPC|EDQUOT|EROFS|short,
 * every=N,after=N,count=N": of the I/Os of that kind, skip `after`, then fail every `every`th
 * one, at most `count` times. "short" turns a read or write into a short transfer (half, to
 * 512 bytes), which the storage queue must turn into -EIO, or finish on a buffered file.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"
#include "xenblkd/log.h"

#define SHORT_IO 1 /* `error` value meaning a short transfer rather than an errno */

struct fault_state {
	int op;                     /* an enum xbd_io_op, or -1 for any */
	int error;                  /* -errno, or SHORT_IO */
	uint64_t every, after, count;
	uint64_t seen, injected;    /* atomics: the queues of one disk share them */
};

struct xbd_engine {
	const struct xbd_engine_ops *inner_ops;
	struct xbd_engine *inner;
	struct fault_state *st;
	xbd_engine_complete_fn complete;
	void *ctx;
};

struct choice {
	const char *name;
	int value;
};

static const struct choice errors[] = {
	{ "EIO", -EIO }, { "ENOSPC", -ENOSPC }, { "EDQUOT", -EDQUOT }, { "EROFS", -EROFS },
	{ "short", SHORT_IO },
};

static const struct choice ops[] = {
	{ "read", XBD_IO_READ }, { "write", XBD_IO_WRITE }, { "flush", XBD_IO_FLUSH },
	{ "any", -1 },
};

static int parse_choice(const char *opts, const char *key, int *out, const struct choice *t,
			unsigned int n)
{
	char buf[16];
	int r = xbd_opts_get_str(opts, key, buf, sizeof(buf));

	if (r == -ENOENT)
		return 0;
	for (unsigned int i = 0; !r && i < n; i++) {
		if (strcmp(buf, t[i].name) == 0) {
			*out = t[i].value;
			return 0;
		}
	}
	return -EINVAL;
}

static int parse_counts(const char *opts, struct fault_state *st)
{
	static const char *const keys[] = { "every", "after", "count" };
	uint64_t *vals[] = { &st->every, &st->after, &st->count };

	for (unsigned int i = 0; i < 3; i++)
		if (xbd_opts_get_u64(opts, keys[i], vals[i]) == -EINVAL)
			return -EINVAL;
	return st->every ? 0 : -EINVAL;
}

static int fault_open(struct xbd_disk *d, const char *opts, void **state)
{
	static const char *const known[] = { "op", "error", "every", "after", "count", NULL };
	struct fault_state *st = calloc(1, sizeof(*st));
	int r = st ? xbd_opts_check(opts, known, d->log_prefix) : -ENOMEM;

	if (r) {
		free(st);
		return r;
	}
	*st = (struct fault_state){ .op = -1, .error = -EIO, .every = 1, .count = UINT64_MAX };
	r = parse_choice(opts, "op", &st->op, ops, sizeof(ops) / sizeof(ops[0]));
	if (!r)
		r = parse_choice(opts, "error", &st->error, errors, sizeof(errors) / sizeof(errors[0]));
	if (!r)
		r = parse_counts(opts, st);
	if (r) {
		xbd_err(d->log_prefix, "fault: bad options '%s'", opts);
		free(st);
		return r;
	}
	*state = st;
	return 0;
}

static void fault_close(void *state)
{
	free(state);
}

/* Whether this I/O is to fail; counted across the disk's queues. */
static bool pick(struct fault_state *st, const struct xbd_io *io)
{
	uint64_t n;

	if (st->op >= 0 && (int)io->op != st->op)
		return false;
	n = __atomic_fetch_add(&st->seen, 1, __ATOMIC_RELAXED);
	if (n < st->after || (n - st->after) % st->every)
		return false;
	return __atomic_fetch_add(&st->injected, 1, __ATOMIC_RELAXED) < st->count;
}

static void fault_complete(void *ctx, struct xbd_io *io, int64_t res)
{
	struct xbd_engine *e = ctx;

	if (io->storage_private.filter) {
		io->storage_private.filter = 0;
		if (e->st->error != SHORT_IO || io->op == XBD_IO_FLUSH)
			res = e->st->error == SHORT_IO ? -EIO : e->st->error;
		else if (res > 0)
			res = (res / 2) & ~(int64_t)511;
	}
	e->complete(e->ctx, io, res);
}

static int fault_init(struct xbd_engine **out, const struct xbd_engine_config *cfg)
{
	struct xbd_engine *e = calloc(1, sizeof(*e));
	struct xbd_engine_config inner = *cfg;
	int r;

	if (!e)
		return -ENOMEM;
	*e = (struct xbd_engine){ .inner_ops = cfg->inner, .st = cfg->filter_state,
				  .complete = cfg->complete, .ctx = cfg->ctx };
	inner.complete = fault_complete;
	inner.ctx = e;
	r = e->inner_ops->init(&e->inner, &inner);
	if (r) {
		free(e);
		return r;
	}
	*out = e;
	return 0;
}

static void fault_fini(struct xbd_engine *e)
{
	e->inner_ops->fini(e->inner);
	free(e);
}

static int fault_queue(struct xbd_engine *e, struct xbd_io *io)
{
	io->storage_private.filter = pick(e->st, io);
	return e->inner_ops->queue(e->inner, io);
}

static int fault_submit(struct xbd_engine *e)
{
	return e->inner_ops->submit(e->inner);
}

static int fault_wait(struct xbd_engine *e, const int *fds, unsigned int nfds,
		      unsigned int *ready, bool block, int timeout_ms)
{
	return e->inner_ops->wait(e->inner, fds, nfds, ready, block, timeout_ms);
}

/* Our waits are the inner engine's: so is the edge. */
static void fault_wake_edge(struct xbd_engine *e)
{
	if (e->inner_ops->wake_edge)
		e->inner_ops->wake_edge(e->inner);
}

static bool fault_ready(const struct xbd_engine *e)
{
	return (e->inner_ops->ready && e->inner_ops->ready(e->inner));
}

static unsigned int fault_inflight(const struct xbd_engine *e)
{
	return e->inner_ops->inflight(e->inner);
}

static int fault_register_buffers(struct xbd_engine *e, const struct iovec *bufs,
				  unsigned int n)
{
	if (!e->inner_ops->register_buffers)
		return -EOPNOTSUPP;
	return e->inner_ops->register_buffers(e->inner, bufs, n);
}

static int fault_release_file(struct xbd_engine *e)
{
	return e->inner_ops->release_file ? e->inner_ops->release_file(e->inner) : 0;
}

static int fault_restore_file(struct xbd_engine *e)
{
	return e->inner_ops->restore_file ? e->inner_ops->restore_file(e->inner) : 0;
}

static void fault_get_stats(const struct xbd_engine *e, struct xbd_engine_stats *st)
{
	if (e->inner_ops->get_stats)
		e->inner_ops->get_stats(e->inner, st);
}

static const struct xbd_engine_ops fault_engine = {
	.name = "fault",
	.init = fault_init,
	.fini = fault_fini,
	.queue = fault_queue,
	.submit = fault_submit,
	.wait = fault_wait,
	.wake_edge = fault_wake_edge,
	.ready = fault_ready,
	.inflight = fault_inflight,
	.register_buffers = fault_register_buffers,
	.release_file = fault_release_file,
	.restore_file = fault_restore_file,
	.get_stats = fault_get_stats,
};

const struct xbd_filter_ops xbd_filter_fault = {
	.name = "fault",
	.open = fault_open,
	.close = fault_close,
	.engine = &fault_engine,
};
