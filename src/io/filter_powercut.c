/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The power-cut filter, for durability tests. SIGKILL proves nothing about durability, since
 * the kernel still finishes every write it was given; this filter instead remembers each write
 * that is not yet durable (its old and new contents), forgets it once a flush that covers it
 * completes (or at completion, for FUA and O_DSYNC writes), and at a simulated cut undoes all
 * the rest and then redoes a random subset of their sectors in a random order: what a disk
 * with a volatile cache may leave behind. Spec "powercut" or "powercut:max-bytes=SIZE" (the
 * most old+new data remembered, default 256 MiB; beyond it writes fail with -ENOMEM).
 * Discard and write-zeroes bypass the engine and are not modelled.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "driver.h"
#include "xenblkd/log.h"

struct pc_rec {
	struct pc_rec *prev, *next;   /* in queue order */
	uint64_t done_seq;            /* 0 until it completed; then its completion order */
	uint64_t offset, len;
	unsigned char *old, *new;     /* aligned for O_DIRECT */
	bool durable_on_completion;   /* FUA, or every write on an O_DSYNC disk */
};

struct pc_state {
	pthread_mutex_t lock;         /* the disk's queues share the records */
	int fd;
	uint32_t chunk;               /* the sector size: what a cut keeps or loses */
	uint32_t align;
	bool all_dsync;
	struct pc_rec *head, *tail;
	uint64_t done_count, inflight, bytes, max_bytes;
	bool dead;
};

struct xbd_engine {
	const struct xbd_engine_ops *inner_ops;
	struct xbd_engine *inner;
	struct pc_state *st;
	xbd_engine_complete_fn complete;
	void *ctx;
	struct xbd_io **dead;         /* I/Os after the cut, failed at the next wait */
	unsigned int nr_dead, cap;
};

static int pc_open(struct xbd_disk *d, const char *opts, void **state)
{
	static const char *const known[] = { "max-bytes", NULL };
	struct pc_state *st;
	int r = xbd_opts_check(opts, known, d->log_prefix);

	if (r)
		return r;
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->max_bytes = 256ull << 20;
	if (xbd_opts_get_u64(opts, "max-bytes", &st->max_bytes) == -EINVAL) {
		free(st);
		return -EINVAL;
	}
	pthread_mutex_init(&st->lock, NULL);
	st->fd = d->fd;
	st->chunk = d->info.sector_size;
	st->align = d->info.mem_align > 512 ? d->info.mem_align : 512;
	st->all_dsync = d->cfg.no_flush;
	*state = st;
	return 0;
}

static void free_rec(struct pc_state *st, struct pc_rec *r)
{
	st->bytes -= 2 * r->len;
	free(r->old);
	free(r->new);
	free(r);
}

/* Under the lock. */
static void unlink_rec(struct pc_state *st, struct pc_rec *r)
{
	*(r->prev ? &r->prev->next : &st->head) = r->next;
	*(r->next ? &r->next->prev : &st->tail) = r->prev;
	free_rec(st, r);
}

/*
 * Under the lock: `r` is durable and is forgotten. An older write still remembered may overlap
 * it; undoing or redoing that one at a cut must not bring back what `r` replaced, so where
 * they overlap both its old and its new contents become r's.
 */
static void make_durable(struct pc_state *st, struct pc_rec *r)
{
	for (struct pc_rec *o = st->head; o && o != r; o = o->next) {
		uint64_t lo = o->offset > r->offset ? o->offset : r->offset;
		uint64_t hi = o->offset + o->len < r->offset + r->len ? o->offset + o->len :
									r->offset + r->len;

		if (lo >= hi)
			continue;
		memcpy(o->old + (lo - o->offset), r->new + (lo - r->offset), hi - lo);
		memcpy(o->new + (lo - o->offset), r->new + (lo - r->offset), hi - lo);
	}
	unlink_rec(st, r);
}

static void pc_close(void *state)
{
	struct pc_state *st = state;

	while (st->head)
		unlink_rec(st, st->head);
	pthread_mutex_destroy(&st->lock);
	free(st);
}

static int read_full(int fd, unsigned char *buf, uint64_t len, uint64_t off)
{
	while (len) {
		ssize_t n = pread(fd, buf, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		buf += n;
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return 0;
}

static int write_full(int fd, const unsigned char *buf, uint64_t len, uint64_t off)
{
	while (len) {
		ssize_t n = pwrite(fd, buf, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		buf += n;
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return 0;
}

/* A record of `io` with the contents it replaces, read now, before the write is queued. */
static int make_rec(struct pc_state *st, const struct xbd_io *io, struct pc_rec **out)
{
	struct pc_rec *r = calloc(1, sizeof(*r));
	unsigned char *p;
	int err;

	if (!r || posix_memalign((void **)&r->old, st->align, io->len) ||
	    posix_memalign((void **)&r->new, st->align, io->len)) {
		if (r)
			free(r->old);
		free(r);
		return -ENOMEM;
	}
	r->offset = io->offset;
	r->len = io->len;
	r->durable_on_completion = st->all_dsync || (io->flags & XBD_IO_FUA);
	p = r->new;
	for (unsigned int i = 0; i < io->niov; i++) {
		memcpy(p, io->iov[i].iov_base, io->iov[i].iov_len);
		p += io->iov[i].iov_len;
	}
	st->bytes += 2 * r->len; /* undone by free_rec */
	err = read_full(st->fd, r->old, r->len, r->offset);
	if (err) {
		free_rec(st, r);
		return err;
	}
	*out = r;
	return 0;
}

/* Under the lock: a write is queued. */
static int track_write(struct pc_state *st, struct xbd_io *io)
{
	struct pc_rec *r;
	int err;

	if (st->bytes + 2 * io->len > st->max_bytes)
		return -ENOMEM;
	err = make_rec(st, io, &r);
	if (err)
		return err;
	r->prev = st->tail;
	*(st->tail ? &st->tail->next : &st->head) = r;
	st->tail = r;
	io->storage_private.filter = (uintptr_t)r;
	return 0;
}

/* Under the lock: a flush completed, so every write completed before it was queued (done_seq
 * up to `cover`) is durable. */
static void flush_done(struct pc_state *st, uint64_t cover)
{
	struct pc_rec *r = st->head, *next;

	for (; r; r = next) {
		next = r->next;
		if (r->done_seq && r->done_seq <= cover)
			make_durable(st, r);
	}
}

static void pc_complete(void *ctx, struct xbd_io *io, int64_t res)
{
	struct xbd_engine *e = ctx;
	struct pc_state *st = e->st;
	uint64_t priv = io->storage_private.filter;

	pthread_mutex_lock(&st->lock);
	if (io->op == XBD_IO_WRITE && res >= 0 && (uint64_t)res == io->len) {
		struct pc_rec *r = (struct pc_rec *)(uintptr_t)priv;

		r->done_seq = ++st->done_count;
		if (r->durable_on_completion)
			make_durable(st, r);
	} else if (io->op == XBD_IO_FLUSH && res == 0) {
		flush_done(st, priv);
	}
	st->inflight--;
	pthread_mutex_unlock(&st->lock);
	io->storage_private.filter = 0;
	e->complete(e->ctx, io, res);
}

/* Before the I/O goes to the engine: 0, -errno to refuse it, or 1 when the disk is dead. */
static int pc_track(struct pc_state *st, struct xbd_io *io)
{
	int r = 0;

	pthread_mutex_lock(&st->lock);
	if (st->dead)
		r = 1;
	else if (io->op == XBD_IO_WRITE)
		r = track_write(st, io);
	else if (io->op == XBD_IO_FLUSH)
		io->storage_private.filter = st->done_count;
	if (r == 0)
		st->inflight++;
	pthread_mutex_unlock(&st->lock);
	return r;
}

/* Undo an accepted-by-us write the engine then refused. */
static void pc_untrack(struct pc_state *st, struct xbd_io *io)
{
	pthread_mutex_lock(&st->lock);
	if (io->op == XBD_IO_WRITE)
		unlink_rec(st, (struct pc_rec *)(uintptr_t)io->storage_private.filter);
	st->inflight--;
	pthread_mutex_unlock(&st->lock);
}

static int pc_queue(struct xbd_engine *e, struct xbd_io *io)
{
	int r;

	if (e->nr_dead >= e->cap)
		return -EBUSY;
	r = pc_track(e->st, io);
	if (r == 1) {
		e->dead[e->nr_dead++] = io;
		return 0;
	}
	if (r)
		return r;
	r = e->inner_ops->queue(e->inner, io);
	if (r)
		pc_untrack(e->st, io);
	return r;
}

static int pc_init(struct xbd_engine **out, const struct xbd_engine_config *cfg)
{
	struct xbd_engine *e = calloc(1, sizeof(*e));
	struct xbd_engine_config inner = *cfg;
	int r;

	if (!e)
		return -ENOMEM;
	*e = (struct xbd_engine){ .inner_ops = cfg->inner, .st = cfg->filter_state,
				  .complete = cfg->complete, .ctx = cfg->ctx,
				  .cap = cfg->depth ? cfg->depth : 1 };
	e->dead = calloc(e->cap, sizeof(*e->dead));
	inner.complete = pc_complete;
	inner.ctx = e;
	r = e->dead ? e->inner_ops->init(&e->inner, &inner) : -ENOMEM;
	if (r) {
		free(e->dead);
		free(e);
		return r;
	}
	*out = e;
	return 0;
}

static void pc_fini(struct xbd_engine *e)
{
	e->inner_ops->fini(e->inner);
	free(e->dead);
	free(e);
}

static int pc_submit(struct xbd_engine *e)
{
	return e->inner_ops->submit(e->inner);
}

static int pc_wait(struct xbd_engine *e, const int *fds, unsigned int nfds,
		   unsigned int *ready, bool block, int timeout_ms)
{
	unsigned int n = e->nr_dead;
	int r = e->inner_ops->wait(e->inner, fds, nfds, ready, block && !n, timeout_ms);

	if (r < 0)
		return r;
	e->nr_dead = 0;
	for (unsigned int i = 0; i < n; i++)
		e->complete(e->ctx, e->dead[i], -EIO);
	return r + (int)n;
}

/* Our waits are the inner engine's: so is the edge. */
static void pc_wake_edge(struct xbd_engine *e)
{
	if (e->inner_ops->wake_edge)
		e->inner_ops->wake_edge(e->inner);
}

static bool pc_ready(const struct xbd_engine *e)
{
	return (e->inner_ops->ready && e->inner_ops->ready(e->inner)) || e->nr_dead;
}

static unsigned int pc_inflight(const struct xbd_engine *e)
{
	return e->inner_ops->inflight(e->inner) + e->nr_dead;
}

static const struct xbd_engine_ops pc_engine = {
	.name = "powercut",
	.init = pc_init,
	.fini = pc_fini,
	.queue = pc_queue,
	.submit = pc_submit,
	.wait = pc_wait,
	.wake_edge = pc_wake_edge,
	.ready = pc_ready,
	.inflight = pc_inflight,
};

const struct xbd_filter_ops xbd_filter_powercut = {
	.name = "powercut",
	.open = pc_open,
	.close = pc_close,
	.engine = &pc_engine,
};

/* splitmix64: small, and the same sequence for a seed everywhere. */
static uint64_t next_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

struct unit {
	const struct pc_rec *rec;
	uint64_t off;                 /* within the record */
};

/* Redo a random subset of the undone sectors, in a random order. */
static int redo_some(struct pc_state *st, uint64_t seed, struct xbd_powercut_result *res)
{
	uint64_t n = 0, i = 0;
	struct unit *u;
	int err = 0;

	for (const struct pc_rec *r = st->head; r; r = r->next)
		n += r->len / st->chunk;
	u = calloc(n ? n : 1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	for (const struct pc_rec *r = st->head; r; r = r->next)
		for (uint64_t off = 0; off < r->len; off += st->chunk)
			u[i++] = (struct unit){ r, off };
	for (i = n; i > 1; i--) {
		uint64_t j = next_rand(&seed) % i;
		struct unit t = u[i - 1];

		u[i - 1] = u[j];
		u[j] = t;
	}
	for (i = 0; i < n && !err; i++) {
		bool keep = next_rand(&seed) & 1;

		*(keep ? &res->chunks_kept : &res->chunks_lost) += 1;
		if (keep)
			err = write_full(st->fd, u[i].rec->new + u[i].off, st->chunk,
					 u[i].rec->offset + u[i].off);
	}
	free(u);
	return err;
}

static int cut_locked(struct pc_state *st, uint64_t seed, struct xbd_powercut_result *res)
{
	int err = 0;

	st->dead = true;
	for (const struct pc_rec *r = st->tail; r && !err; r = r->prev) {
		res->pending_writes++;
		err = write_full(st->fd, r->old, r->len, r->offset);
	}
	if (!err)
		err = redo_some(st, seed, res);
	if (!err && fdatasync(st->fd) < 0)
		err = -errno;
	while (st->head)
		unlink_rec(st, st->head);
	return err;
}

int xbd_powercut(struct xbd_disk *d, uint64_t seed, struct xbd_powercut_result *out)
{
	struct xbd_powercut_result res = { 0 };
	struct pc_state *st = d->filter_state;
	int err;

	if (d->filter != &xbd_filter_powercut)
		return -EINVAL;
	pthread_mutex_lock(&st->lock);
	err = st->inflight ? -EBUSY : cut_locked(st, seed, &res);
	pthread_mutex_unlock(&st->lock);
	if (!err)
		xbd_info(d->log_prefix, "power cut: %llu writes not durable, %llu sectors kept, "
			 "%llu lost", (unsigned long long)res.pending_writes,
			 (unsigned long long)res.chunks_kept, (unsigned long long)res.chunks_lost);
	if (out)
		*out = res;
	return err;
}
