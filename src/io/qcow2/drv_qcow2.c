/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The qcow2 backing driver (the xbd_driver_ops table). A guest I/O is split at cluster
 * boundaries. Reads of normal clusters, and writes to clusters the active image owns alone,
 * go to the thread's I/O engine on an O_DIRECT descriptor at translated offsets (neighbouring
 * clusters that are neighbours on the host too become one engine I/O); the guest I/O completes
 * when its last part does. Everything else (zero, unallocated and compressed clusters, backing
 * files, allocating writes, flush, discard) is done synchronously under the image's mutex by
 * the code in this directory, which keeps the metadata crash-safe; discard and write-zeroes a
 * bounded number of clusters at a time (range_step). Translation happens under the same
 * mutex, so several data threads may share one image.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/driver.h"
#include "xenblkd/log.h"
#include "qcow2.h"

#ifndef STATX_DIOALIGN
#define STATX_DIOALIGN 0x00002000U
#endif

#define PART_INLINE_IOV 8
#define QCOW2_EXTRA_DEPTH 64 /* engine slots for the parts of split guest I/Os */
#define QCOW2_STEP_CLUSTERS 8192u /* clusters one discard or write-zeroes step visits */

struct qcow2_req;

/* One engine I/O carrying a piece of a guest I/O. */
struct qcow2_part {
	struct xbd_io io; /* first: the engine hands this back */
	struct qcow2_req *req;
	struct qcow2_part *next_free;
	struct qcow2_part *next_all;
	struct iovec *iov;
	struct iovec inline_iov[PART_INLINE_IOV];
};

/* A guest I/O with parts in flight. */
struct qcow2_req {
	struct xbd_io *io;
	struct qcow2_queue *qq;
	unsigned int pending;
	int err;
	struct qcow2_req *next_free;
	struct qcow2_req *next_all;
};

struct qcow2_queue {
	struct xbd_sq *q;
	struct qcow2_part *free_parts, *all_parts;
	struct qcow2_req *free_reqs, *all_reqs;
};

/* The part being built: a host-contiguous run of the guest I/O. */
struct run {
	uint64_t host;
	uint64_t pos; /* bytes into the guest I/O */
	uint64_t len;
};

static struct qcow2_part *get_part(struct qcow2_queue *qq)
{
	struct qcow2_part *p = qq->free_parts;

	if (p) {
		qq->free_parts = p->next_free;
		return p;
	}
	p = calloc(1, sizeof(*p));
	if (p) {
		p->next_all = qq->all_parts;
		qq->all_parts = p;
	}
	return p;
}

static void put_part(struct qcow2_queue *qq, struct qcow2_part *p)
{
	if (p->iov != p->inline_iov)
		free(p->iov);
	p->iov = NULL;
	p->next_free = qq->free_parts;
	qq->free_parts = p;
}

static struct qcow2_req *get_req(struct qcow2_queue *qq, struct xbd_io *io)
{
	struct qcow2_req *r = qq->free_reqs;

	if (r) {
		qq->free_reqs = r->next_free;
	} else {
		r = calloc(1, sizeof(*r));
		if (!r)
			return NULL;
		r->next_all = qq->all_reqs;
		qq->all_reqs = r;
	}
	r->io = io;
	r->qq = qq;
	r->pending = 1; /* held by the submitter until every part is queued */
	r->err = 0;
	return r;
}

static void req_put_ref(struct qcow2_req *r, int err)
{
	struct qcow2_queue *qq = r->qq;

	if (err && !r->err)
		r->err = err;
	if (--r->pending)
		return;
	xbd_sq_complete(qq->q, r->io, r->err);
	r->next_free = qq->free_reqs;
	qq->free_reqs = r;
}

static void part_done(struct xbd_io *io, int res)
{
	struct qcow2_part *p = (struct qcow2_part *)io;
	struct qcow2_req *r = p->req;

	put_part(r->qq, p);
	req_put_ref(r, res);
}

static int slice_iov(struct qcow2_part *p, const struct xbd_io *io, const struct run *run)
{
	unsigned int n = qcow2_iov_slice(io->iov, io->niov, run->pos, run->len, p->inline_iov,
					 PART_INLINE_IOV);

	p->iov = p->inline_iov;
	if (n > PART_INLINE_IOV) {
		p->iov = calloc(io->niov, sizeof(*p->iov));
		if (!p->iov)
			return -ENOMEM;
		n = qcow2_iov_slice(io->iov, io->niov, run->pos, run->len, p->iov, io->niov);
	}
	p->io.iov = p->iov;
	p->io.niov = n;
	return 0;
}

/* The engine is full (libaio, threads): do the part here, synchronously, on the same fd. */
static int run_part_sync(struct xbd_sq *q, const struct qcow2_part *p)
{
	uint64_t off = p->io.offset, done = 0;
	struct iovec *iov = p->io.iov;
	unsigned int niov = p->io.niov;
	int flags = p->io.flags & XBD_IO_FUA ? RWF_DSYNC : 0;

	while (done < p->io.len) {
		ssize_t n = p->io.op == XBD_IO_READ ? preadv2(q->disk->fd, iov, (int)niov,
							      (off_t)off, 0) :
						      pwritev2(q->disk->fd, iov, (int)niov,
							       (off_t)off, flags);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		done += (uint64_t)n;
		off += (uint64_t)n;
		while (niov && (uint64_t)n >= iov->iov_len) {
			n -= (ssize_t)iov->iov_len;
			iov++;
			niov--;
		}
		if (niov && n) {
			iov->iov_base = (uint8_t *)iov->iov_base + n;
			iov->iov_len -= (size_t)n;
		}
	}
	return 0;
}

/* Hand the run to the engine as one part of r. */
static int queue_run(struct qcow2_req *r, struct run *run)
{
	struct qcow2_queue *qq = r->qq;
	struct qcow2_part *p;
	int err;

	if (!run->len)
		return 0;
	p = get_part(qq);
	if (!p)
		return -ENOMEM;
	p->io = (struct xbd_io){ .op = r->io->op, .flags = r->io->flags, .offset = run->host,
				 .len = run->len, .done = part_done };
	p->req = r;
	err = slice_iov(p, r->io, run);
	if (!err)
		err = xbd_sq_engine_queue(qq->q, &p->io);
	if (!err) {
		r->pending++;
	} else {
		if (err == -EBUSY)
			err = run_part_sync(qq->q, p);
		put_part(qq, p);
	}
	run->len = 0;
	return err;
}

/* Extend the run with [host, host + n) at pos, or start a new one after queueing it. */
static int add_to_run(struct qcow2_req *r, struct run *run, uint64_t host, uint64_t pos,
		      uint64_t n)
{
	int err = 0;

	if (run->len && run->host + run->len == host && run->pos + run->len == pos) {
		run->len += n;
		return 0;
	}
	err = queue_run(r, run);
	*run = (struct run){ .host = host, .pos = pos, .len = n };
	return err;
}

/* One cluster's piece of a read that cannot go to the engine. */
static int read_piece_sync(struct qcow2 *s, const struct xbd_io *io, const struct qcow2_map *m,
			   uint64_t pos, uint64_t n)
{
	int r;

	if (m->type == QCOW2_ZERO || (m->type == QCOW2_UNALLOCATED && !s->has_backing)) {
		qcow2_iov_memset(io->iov, io->niov, pos, n);
		return 0;
	}
	r = qcow2_read_mapped(s, m, io->offset + pos, s->buf, n);
	if (!r)
		qcow2_iov_from_buf(io->iov, io->niov, pos, s->buf, n);
	return r;
}

static int read_locked(struct qcow2 *s, struct qcow2_req *r)
{
	const struct xbd_io *io = r->io;
	struct run run = { 0 };
	int err = 0;

	for (uint64_t pos = 0; pos < io->len && !err; ) {
		uint64_t off = io->offset + pos, in = qcow2_in_cluster(s, off);
		uint64_t n = s->cluster_size - in < io->len - pos ? s->cluster_size - in :
								       io->len - pos;
		struct qcow2_map m;

		err = qcow2_lookup(s, off, &m);
		if (!err && m.type == QCOW2_NORMAL && m.host + in + n <= s->file_size) {
			err = add_to_run(r, &run, m.host + in, pos, n);
		} else if (!err) {
			err = queue_run(r, &run);
			if (!err)
				err = read_piece_sync(s, io, &m, pos, n);
		}
		pos += n;
	}
	return err ? err : queue_run(r, &run);
}

static int write_locked(struct qcow2 *s, struct qcow2_req *r, bool *allocated)
{
	const struct xbd_io *io = r->io;
	struct run run = { 0 };
	int err = 0;

	for (uint64_t pos = 0; pos < io->len && err >= 0; ) {
		uint64_t off = io->offset + pos, host = 0;
		uint64_t n = s->cluster_size - qcow2_in_cluster(s, off);

		if (n > io->len - pos)
			n = io->len - pos;
		err = qcow2_write_inplace_target(s, off, &host);
		if (err > 0) {
			err = add_to_run(r, &run, host, pos, n);
		} else if (!err) {
			err = queue_run(r, &run);
			if (!err)
				err = qcow2_write_cluster(s, off, n, io->iov, io->niov, pos);
			*allocated = true;
		}
		pos += n;
	}
	return err < 0 ? err : queue_run(r, &run);
}

static int rw(struct xbd_sq *q, struct xbd_io *io)
{
	struct qcow2 *s = q->disk->priv;
	struct qcow2_req *r;
	bool allocated = false;
	int err, r2;

	if (io->offset > s->size || io->len > s->size - io->offset)
		return -EINVAL;
	if (io->op == XBD_IO_WRITE && !s->writable)
		return -EROFS;
	r = get_req(q->priv, io);
	if (!r)
		return -ENOMEM;
	pthread_mutex_lock(&s->lock);
	if (io->op == XBD_IO_READ) {
		err = read_locked(s, r);
	} else {
		bool durable;

		err = write_locked(s, r, &allocated);
		durable = !err && allocated && ((io->flags & XBD_IO_FUA) || q->disk->cfg.no_flush);
		/* Also after an error: a failed write may have allocated clusters that a later,
		 * successful in-place write then depends on. */
		r2 = qcow2_request_done(s, durable);
		if (!err)
			err = r2;
	}
	pthread_mutex_unlock(&s->lock);
	req_put_ref(r, err);
	return 0;
}

static int flush_op(struct xbd_disk *d)
{
	struct qcow2 *s = d->priv;
	int r;

	pthread_mutex_lock(&s->lock);
	r = qcow2_meta_flush(s, true);
	pthread_mutex_unlock(&s->lock);
	return r;
}

static int qcow2_submit(struct xbd_sq *q, struct xbd_io *io)
{
	switch (io->op) {
	case XBD_IO_READ:
	case XBD_IO_WRITE:
		return rw(q, io);
	case XBD_IO_FLUSH:
		xbd_sq_complete(q, io, flush_op(q->disk));
		return 0;
	default:
		return -EOPNOTSUPP;
	}
}

/*
 * Discard and write-zeroes, QCOW2_STEP_CLUSTERS clusters per call under the image's mutex
 * (the storage queue calls again for the rest). A cluster's share is an L2 lookup and entry
 * change, and maybe a free queued: the whole step is a few milliseconds, plus at most one
 * metadata flush when a cache or the pending frees fill up.
 */
static int64_t qcow2_range_step(struct xbd_sq *q, const struct xbd_io *io, uint64_t off,
				uint64_t len)
{
	struct qcow2 *s = q->disk->priv;
	uint64_t done = 0;
	int r;

	if (io->op != XBD_IO_DISCARD && io->op != XBD_IO_WRITE_ZEROES)
		return -EOPNOTSUPP;
	pthread_mutex_lock(&s->lock);
	r = qcow2_zero_step(s, off, len, io->op == XBD_IO_DISCARD, QCOW2_STEP_CLUSTERS, &done);
	/* Without flushes, every completed request must already be durable; with write-through,
	 * it must have reached the file (and a failed one leaves nothing behind in memory). */
	if (r || off + done == io->offset + io->len) {
		int r2 = qcow2_request_done(s, !r && q->disk->cfg.no_flush);

		if (!r)
			r = r2;
	}
	pthread_mutex_unlock(&s->lock);
	return r ? r : (int64_t)done;
}

static int qcow2_queue_open(struct xbd_sq *q)
{
	struct qcow2_queue *qq = calloc(1, sizeof(*qq));

	if (!qq)
		return -ENOMEM;
	qq->q = q;
	q->priv = qq;
	return 0;
}

static void qcow2_queue_close(struct xbd_sq *q)
{
	struct qcow2_queue *qq = q->priv;

	if (!qq)
		return;
	while (qq->all_parts) {
		struct qcow2_part *p = qq->all_parts;

		qq->all_parts = p->next_all;
		free(p);
	}
	while (qq->all_reqs) {
		struct qcow2_req *r = qq->all_reqs;

		qq->all_reqs = r->next_all;
		free(r);
	}
	free(qq);
	q->priv = NULL;
}

/*
 * The data descriptor for the engine is opened (and locked against other writers, as QEMU
 * does) by the storage layer's image helper. O_DIRECT stays on only when translated offsets
 * (cluster-aligned hosts, sector-aligned pieces) satisfy the file system's alignment.
 */
static int fit_direct(struct xbd_disk *d, uint64_t cluster_size)
{
	int fl = fcntl(d->fd, F_GETFL);
	struct statx stx;
	uint32_t off_align = 512, mem_align = 512;

	d->info.sector_size = d->cfg.sector_size > 512 ? d->cfg.sector_size : 512;
	d->info.mem_align = 512;
	if (fl < 0 || !(fl & O_DIRECT))
		return fl < 0 ? -errno : 0;
	if (statx(d->fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 &&
	    (stx.stx_mask & STATX_DIOALIGN) && stx.stx_dio_offset_align) {
		off_align = stx.stx_dio_offset_align;
		mem_align = stx.stx_dio_mem_align;
	}
	/* A page shared by a data cluster (direct) and metadata (buffered) would mix the two. */
	if (cluster_size < 4096 || off_align > 4096 || mem_align > 4096) {
		xbd_info(d->log_prefix, "%s: O_DIRECT does not fit %llu-byte clusters; serving it "
			 "through the page cache", d->cfg.path, (unsigned long long)cluster_size);
		return fcntl(d->fd, F_SETFL, fl & ~O_DIRECT) < 0 ? -errno : 0;
	}
	if (off_align > d->info.sector_size)
		d->info.sector_size = off_align;
	if (mem_align > d->info.mem_align)
		d->info.mem_align = mem_align;
	if (d->info.mem_align > d->info.sector_size)
		d->info.sector_size = d->info.mem_align;
	return 0;
}

static void fill_info(struct xbd_disk *d, const struct qcow2 *s)
{
	d->info.size = s->size;
	d->info.physical_sector_size = d->info.sector_size;
	d->info.readonly = d->cfg.readonly;
	d->info.can_flush = !d->cfg.no_flush;
	d->info.can_discard = !d->cfg.readonly;
	d->info.can_write_zeroes = !d->cfg.readonly;
	d->info.discard_granularity = (uint32_t)s->cluster_size;
	d->extra_depth = QCOW2_EXTRA_DEPTH;
}

static int qcow2_drv_open(struct xbd_disk *d)
{
	struct qcow2_config cfg = {
		.path = d->cfg.path,
		.readonly = d->cfg.readonly,
		.backing = {
			.chain = d->cfg.backing_chain,
			.chain_len = d->cfg.backing_chain_len,
			.dirs = d->cfg.backing_dirs,
			.has_dir_format = d->cfg.has_backing_dir_format,
			.dir_format = d->cfg.backing_dir_format,
			.trust_header_format = d->cfg.backing_trust_header_format,
			.raw_ok = d->cfg.backing_raw_ok,
			.no_lock = d->cfg.no_lock,
		},
		.l2_cache_bytes = d->cfg.l2_cache_bytes,
		.log_prefix = d->log_prefix,
		.write_through = d->cfg.meta_write_through && !d->cfg.readonly,
	};
	struct qcow2 *s = NULL;
	bool direct = false;
	char shown[1024];
	int r;

	if (!d->cfg.path)
		return -EINVAL;
	/* The data descriptor first: it takes the image lock before we trust any metadata. The
	 * metadata descriptor is the same file, reopened through it. */
	r = xbd_image_open(d, d->cfg.path, d->cfg.readonly, &d->fd, &direct);
	cfg.reopen_fd = true;
	cfg.fd = d->fd;
	if (!r)
		r = qcow2_open(&cfg, &s);
	if (!r)
		r = fit_direct(d, s->cluster_size);
	if (r) {
		qcow2_close(s);
		if (d->fd >= 0)
			close(d->fd);
		d->fd = -1;
		return r;
	}
	d->priv = s;
	s->data_fd = d->fd;
	fill_info(d, s);
	qcow2_name_shown(s->h.backing_file, shown, sizeof(shown));
	xbd_info(d->log_prefix, "qcow2 v%u, %llu-byte clusters, %u-bit refcounts, metadata "
		 "written %s%s%s", s->h.version, (unsigned long long)s->cluster_size,
		 s->refcount_bits, s->write_through ? "through" : "back",
		 s->has_backing ? ", backing file " : "", s->has_backing ? shown : "");
	return 0;
}

static void qcow2_drv_close(struct xbd_disk *d)
{
	qcow2_close(d->priv);
	d->priv = NULL;
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
}

/* Nothing else changes the size of an image we hold open: report what we know. */
static int qcow2_refresh(struct xbd_disk *d)
{
	struct qcow2 *s = d->priv;

	pthread_mutex_lock(&s->lock);
	d->info.size = s->size;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

int xbd_qcow2_resize(struct xbd_disk *d, uint64_t new_size)
{
	struct qcow2 *s = d->priv;
	int r;

	if (d->drv != &xbd_driver_qcow2)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	r = qcow2_grow(s, new_size);
	if (!r)
		__atomic_store_n(&d->info.size, s->size, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&s->lock);
	return r;
}

const struct xbd_driver_ops xbd_driver_qcow2 = {
	.name = "qcow2",
	.open = qcow2_drv_open,
	.close = qcow2_drv_close,
	.refresh = qcow2_refresh,
	.queue_open = qcow2_queue_open,
	.queue_close = qcow2_queue_close,
	.submit = qcow2_submit,
	.range_step = qcow2_range_step,
};
