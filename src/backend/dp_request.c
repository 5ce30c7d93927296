/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One request's life in the data plane: take a slot, validate the private copy, fetch and
 * validate indirect segments, get memory from the bounded pool (or wait for it: admission
 * control), bring a write's data in through the grant strategy, run its storage steps in order
 * (a barrier drains everything before it, then flush, write, flush; a flush with data writes
 * first), and on completion push a read's data out, release everything, and answer. Every
 * failure becomes a response whose status comes from xbd_status_from_errno, so a guest always
 * gets an answer and never brings the daemon down.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dp_internal.h"
#include "util/testhook.h"
#include "xenblkd/journal.h"
#include "xenblkd/status.h"

int dp_slots_alloc(struct xbd_dataplane *dp, unsigned int n)
{
	dp->slots = calloc(n, sizeof(*dp->slots));
	if (!dp->slots)
		return -ENOMEM;
	dp->nr_slots = n;
	for (unsigned int i = 0; i < n; i++) {
		dp->slots[i].dp = dp;
		dp->slots[i].next_free = i + 1;
	}
	dp->free_head = 0;
	return 0;
}

void dp_slots_free(struct xbd_dataplane *dp)
{
	free(dp->slots);
	dp->slots = NULL;
	dp->nr_slots = 0;
}

void dp_signal_control(struct xbd_dataplane *dp)
{
	uint64_t one = 1;

	if (write(dp->cfg.notify_fd, &one, sizeof(one)) < 0)
		xbd_err(dp->cfg.log_prefix, "cannot signal the control thread: %s", strerror(errno));
}

static struct dp_slot *slot_get(struct xbd_dataplane *dp)
{
	struct dp_slot *s;

	if (dp->free_head >= dp->nr_slots)
		return NULL;
	s = &dp->slots[dp->free_head];
	dp->free_head = s->next_free;
	dp->busy++;
	return s;
}

static void slot_put(struct xbd_dataplane *dp, struct dp_slot *s)
{
	unsigned int next = dp->free_head;

	/* A request answered before its prepare gives back the pages it reserved. */
	xbd_grant_unreserve(&dp->grant, s->credits + s->gio.credits);
	xbd_pool_free(&dp->pool, s->ind_mem, s->ind_size);
	xbd_pool_free(&dp->pool, s->data_mem, s->data_size);
	memset(s, 0, sizeof(*s));
	s->dp = dp;
	s->next_free = next;
	dp->free_head = (unsigned int)(s - dp->slots);
	dp->busy--;
}

uint64_t dp_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static unsigned int latency_bucket(uint64_t start_ns)
{
	uint64_t us = (dp_now_ns() - start_ns) / 1000;
	unsigned int b = 0;

	while (us > 1 && b < XBD_LAT_BUCKETS - 1) {
		us >>= 1;
		b++;
	}
	return b;
}

static void count_done(struct xbd_dataplane *dp, const struct dp_slot *s, int err)
{
	struct xbd_dataplane_stats *st = &dp->stats;
	const struct xbd_req *req = &s->req;
	unsigned int b = latency_bucket(s->start_ns);

	st->lat_hist[b]++;
	if (err) {
		st->errors++;
	} else if (req->operation == BLKIF_OP_DISCARD) {
		st->discards++;
		st->discard_sectors += req->nr_sectors;
	} else if (req->data_op == BLKIF_OP_READ) {
		st->reads++;
		st->read_sectors += req->nr_sectors;
	} else {
		if (req->data_op == BLKIF_OP_WRITE)
			st->writes++;
		else if (req->data_op == BLKIF_OP_WRITE_BARRIER)
			st->barriers++;
		else
			st->flushes++;
		st->write_sectors += req->nr_sectors;
	}
	st->indirect += req->operation == BLKIF_OP_INDIRECT;
}

static void respond(struct dp_slot *s, int err)
{
	struct xbd_dataplane *dp = s->dp;
	int16_t status = xbd_status_from_errno(err);
	RING_IDX idx;

	if (err)
		xbd_log_guest(&dp->guest_rl, XBD_LOG_WARN, dp->cfg.log_prefix,
			      "request id %llu op %u sector %llu failed: %s",
			      (unsigned long long)s->req.id, s->req.operation,
			      (unsigned long long)s->req.sector, strerror(-err));
	count_done(dp, s, err);
	XBD_TRACE(xen_block_req_complete, DP_TRACE_VBD(dp), s, s->req.data_op,
		  status, err, s->req.nr_sectors, s->req.sector, s->req.id);
	idx = xbd_ring_rsp_prod_pvt(&dp->ring);
	xbd_ring_put_response(&dp->ring, s->req.id, s->req.data_op, status);
	/* After the slot is written: the journal then commits the answer (journal.c). */
	if (dp->jq)
		xbd_jq_answer(dp->jq, (unsigned int)(s - dp->slots), idx, s->req.id,
			      s->req.data_op, status);
	dp->responses_pending = true;
	if (dp->barrier == s)
		dp->barrier = NULL;
	slot_put(dp, s);
}

/* The store refused an operation: stop offering it (blkback does the same). */
static void lose_feature(struct xbd_dataplane *dp, const struct xbd_req *req)
{
	unsigned int bit = req->data_op == BLKIF_OP_DISCARD ? XBD_DP_LOST_DISCARD
			   : req->data_op == BLKIF_OP_WRITE_BARRIER ? XBD_DP_LOST_BARRIER
			   : XBD_DP_LOST_FLUSH;

	if (bit == XBD_DP_LOST_DISCARD)
		dp->cfg.limits.discard = false;
	else if (bit == XBD_DP_LOST_BARRIER)
		dp->cfg.limits.barrier = false;
	else
		dp->cfg.limits.flush = false;
	atomic_fetch_or(&dp->features_lost, bit);
	dp_signal_control(dp);
}

static void run_step(struct dp_slot *s);

/* Copy mode moves the data through the loop pass's batches (grant_batch.c). */
static bool copy_batched(const struct dp_slot *s)
{
	return s->gops == &xbd_grant_copy_ops;
}

/* A write's data is in: run its first step, or answer its copy's failure. */
static void copy_in_done(void *owner, int err)
{
	struct dp_slot *s = owner;

	if (err) {
		s->prepared = false;
		respond(s, err);
		return;
	}
	run_step(s);
}

/* A read's data is out: answer. */
static void copy_out_done(void *owner, int err)
{
	respond(owner, err);
}

static void indirect_fetched(void *owner, int err);

static void flush_batch(struct xbd_dataplane *dp, struct xbd_copy_batch *b)
{
	xbd_copy_batch_flush(&dp->grant, b, b == &dp->grant.indirect_in ? indirect_fetched
				  : b == &dp->grant.copy_in ? copy_in_done : copy_out_done);
}

/* The pass's indirect pages: their requests go ahead (indirect_fetched). */
static void flush_fetches(struct xbd_dataplane *dp)
{
	dp->fetch_reserve = 0;
	flush_batch(dp, &dp->grant.indirect_in);
}

void dp_copy_flush(struct xbd_dataplane *dp)
{
	/* Indirect pages first: their writes join this pass's batch. Then writes: their steps
	 * are queued before this pass's submit. */
	flush_fetches(dp);
	flush_batch(dp, &dp->grant.copy_in);
	flush_batch(dp, &dp->grant.copy_out);
}

/* Queue s's copy in batch b, flushing b first when full. 0 queued, -E2BIG too big for any
 * batch, or -errno. */
static int batch_add(struct dp_slot *s, struct xbd_copy_batch *b, bool to_guest)
{
	struct xbd_dataplane *dp = s->dp;
	int r = xbd_copy_batch_add(&dp->grant, b, &s->gio, to_guest, s);

	if (r == -ENOSPC) {
		flush_batch(dp, b);
		r = xbd_copy_batch_add(&dp->grant, b, &s->gio, to_guest, s);
	}
	return r;
}

/* A successful read in copy mode: queue its data for the guest. True if queued (the batch's
 * flush answers it); false with *err set if it was copied now or cannot be. */
static bool copy_out_queued(struct dp_slot *s, int *err)
{
	int r = batch_add(s, &s->dp->grant.copy_out, true);

	if (r == 0)
		return true;
	*err = r == -E2BIG ? xbd_grant_copy_now(&s->dp->grant, &s->gio, true) : r;
	return false;
}

static void finish(struct dp_slot *s, int err)
{
	struct xbd_dataplane *dp = s->dp;
	bool read = !err && s->req.data_op == BLKIF_OP_READ;

	if (s->prepared && copy_batched(s)) {
		s->prepared = false;
		if (read && copy_out_queued(s, &err))
			return;
	} else if (s->prepared) {
		int r = s->gops->finish(&dp->grant, &s->gio, read);

		s->prepared = false;
		if (!err)
			err = r;
	}
	respond(s, err);
}


/*
 * A mirrored step's I/O on the destination failed: that ends the mirror (the source has the
 * data; the destination is abandoned), never the guest's request, which is answered by the
 * source's result alone.
 */
static void mirror_io_failed(struct dp_slot *s, const struct xbd_io *io, int res)
{
	xbd_mirror_fail(s->dp->mirror, io->op == XBD_IO_FLUSH ? "flushing the destination"
				       : "writing a guest write to the destination", res);
}

static void sub_done(struct xbd_io *io, int res)
{
	struct dp_sub *sub = (struct dp_sub *)io;
	struct dp_slot *s = sub->slot;

	if (res && sub->to_mirror)
		mirror_io_failed(s, io, res);
	else if (res && !s->err)
		s->err = res;
	if (--s->subs_pending > 0)
		return;
	if (s->mirrored) {
		/* A source that failed holds anything there: copy it again. */
		if (s->err)
			xbd_mirror_mark(s->mirrored, s->mirror_off, s->mirror_len);
		xbd_mirror_write_end(s->mirrored, s->mirror_off, s->mirror_len);
		s->mirrored = NULL;
	}
	if (s->err == -EOPNOTSUPP && s->steps[s->step] != XBD_IO_READ &&
	    s->steps[s->step] != XBD_IO_WRITE)
		lose_feature(s->dp, &s->req);
	if (!s->err && ++s->step < s->nr_steps) {
		if (s->req.data_op == BLKIF_OP_WRITE_BARRIER)
			XBD_TEST_POINT("barrier");
		else if (s->req.data_op == BLKIF_OP_FLUSH_DISKCACHE)
			XBD_TEST_POINT("flush-data");
		run_step(s);
		return;
	}
	finish(s, s->err);
}

/*
 * While a mirror is live, a step that changes the disk is counted in its map (mirror_map.h)
 * until it completes everywhere; writes and flushes go to the destination too (true), a
 * discard only to the source, which makes its range dirty for the copier (false).
 */
static bool mirror_step(struct dp_slot *s, enum xbd_io_op op)
{
	struct xbd_dataplane *dp = s->dp;
	bool discard = op != XBD_IO_WRITE && op != XBD_IO_FLUSH;

	if (!dp->msq || op == XBD_IO_READ || !xbd_mirror_live(dp->mirror))
		return false;
	if (op == XBD_IO_FLUSH)
		return xbd_disk_get_info(dp->mdisk)->can_flush;
	s->mirrored = dp->mirror;
	s->mirror_off = s->req.sector * XBD_BLKIF_SECTOR_SIZE;
	s->mirror_len = s->req.nr_sectors * XBD_BLKIF_SECTOR_SIZE;
	xbd_mirror_write_begin(dp->mirror, s->mirror_off, s->mirror_len, discard);
	return !discard;
}

/* The step's I/Os subs[0, n) again, for the mirror's queue, at subs[n, 2n). */
static void queue_mirror_copies(struct dp_slot *s, struct dp_sub *subs)
{
	unsigned int n = s->nr_subs;

	for (unsigned int k = 0; k < n; k++) {
		subs[n + k] = subs[k];
		subs[n + k].to_mirror = true;
		memset(&subs[n + k].io.storage_private, 0, sizeof(subs[n + k].io.storage_private));
	}
	s->subs_pending += n;
	for (unsigned int k = 0; k < n; k++)
		xbd_sq_queue(s->dp->msq, &subs[n + k].io);
}

/* A READ or WRITE over the request's iovecs, in pieces of at most DP_MAX_IOV. */
static void queue_data_step(struct dp_slot *s, enum xbd_io_op op, bool mirror)
{
	uint64_t offset = s->req.sector * XBD_BLKIF_SECTOR_SIZE;
	unsigned int done = 0;

	s->nr_subs = (s->gio.niov + DP_MAX_IOV - 1) / DP_MAX_IOV;
	s->subs_pending = s->nr_subs;
	for (unsigned int k = 0; k < s->nr_subs; k++) {
		struct dp_sub *sub = &s->subs[k];
		unsigned int n = s->gio.niov - done < DP_MAX_IOV ? s->gio.niov - done : DP_MAX_IOV;
		uint64_t len = 0;

		for (unsigned int i = 0; i < n; i++)
			len += s->gio.iov[done + i].iov_len;
		*sub = (struct dp_sub){ .slot = s };
		sub->io = (struct xbd_io){ .op = op, .offset = offset, .len = len,
					   .iov = &s->gio.iov[done], .niov = n, .done = sub_done };
		offset += len;
		done += n;
	}
	if (mirror)
		queue_mirror_copies(s, s->subs);
	for (unsigned int k = 0; k < s->nr_subs; k++)
		xbd_sq_queue(s->dp->sq, &s->subs[k].io);
}

static void run_step(struct dp_slot *s)
{
	enum xbd_io_op op = s->steps[s->step];
	struct dp_sub *sub = &s->sub_inline[0];
	bool mirror = mirror_step(s, op);

	s->err = 0;
	if (op == XBD_IO_READ || op == XBD_IO_WRITE) {
		queue_data_step(s, op, mirror);
		return;
	}
	*sub = (struct dp_sub){ .slot = s };
	sub->io = (struct xbd_io){ .op = op, .done = sub_done };
	if (op != XBD_IO_FLUSH) {
		sub->io.offset = s->req.sector * XBD_BLKIF_SECTOR_SIZE;
		sub->io.len = s->req.nr_sectors * XBD_BLKIF_SECTOR_SIZE;
	}
	s->nr_subs = 1;
	s->subs_pending = 1;
	if (mirror)
		queue_mirror_copies(s, s->sub_inline);
	xbd_sq_queue(s->dp->sq, &sub->io);
}

/* The storage steps of a validated request, in order. */
static void plan_steps(struct dp_slot *s)
{
	const struct xbd_req *r = &s->req;
	bool data = r->nr_segs > 0;
	unsigned int n = 0;

	switch (r->data_op) {
	case BLKIF_OP_READ:
		s->steps[n++] = XBD_IO_READ;
		break;
	case BLKIF_OP_WRITE:
		s->steps[n++] = XBD_IO_WRITE;
		break;
	case BLKIF_OP_FLUSH_DISKCACHE:
		if (data)
			s->steps[n++] = XBD_IO_WRITE;
		s->steps[n++] = XBD_IO_FLUSH;
		break;
	case BLKIF_OP_WRITE_BARRIER:
		/* Everything before it is complete (DP_BARRIER_WAIT); make it durable first. */
		s->steps[n++] = XBD_IO_FLUSH;
		if (data) {
			s->steps[n++] = XBD_IO_WRITE;
			s->steps[n++] = XBD_IO_FLUSH;
		}
		break;
	case BLKIF_OP_DISCARD:
		s->steps[n++] = r->discard_secure ? XBD_IO_SECURE_ERASE : XBD_IO_DISCARD;
		break;
	}
	s->nr_steps = n;
}

/*
 * Make the request's data reachable for its I/O. In copy mode a write's data comes in
 * through the pass's batch, whose flush runs the first step: *queued says so.
 */
static int prepare_data(struct dp_slot *s, bool *queued)
{
	struct xbd_dataplane *dp = s->dp;
	int r;

	*queued = false;
	if (!copy_batched(s))
		return s->gops->prepare(&dp->grant, &s->gio);
	xbd_grant_copy_layout(&s->gio);
	if (!s->gio.to_disk)
		return 0;
	r = batch_add(s, &dp->grant.copy_in, false);
	if (r == -E2BIG)
		return xbd_grant_copy_now(&dp->grant, &s->gio, false);
	*queued = r == 0;
	return r;
}

/* Bring the data in (writes) and run the first step. */
static void start(struct dp_slot *s)
{
	bool queued = false;

	s->stage = DP_RUNNING;
	if (s->req.nr_segs > 0) {
		int r = prepare_data(s, &queued);

		if (r) {
			respond(s, r);
			return;
		}
		s->prepared = true;
	}
	if (!queued)
		run_step(s);
}

/* Pool memory for one request, or NULL (wait). A size the pool can never give is -ENOMEM. */
static int take_memory(struct xbd_dataplane *dp, size_t size, void **mem)
{
	if (xbd_pool_class_size(&dp->pool, size) == 0)
		return -ENOMEM;
	*mem = xbd_pool_alloc(&dp->pool, size);
	return *mem ? 0 : -EAGAIN;
}

/*
 * A replayed request whose indirect segments the journal holds (docs/restart.md): they come
 * from the journal only, never again from the guest's pages.
 */
static int segments_from_journal(struct dp_slot *s)
{
	if (s->jsegs_n != s->req.nr_segs)
		return -EINVAL; /* a journal that disagrees with its own request */
	memcpy(s->ind_mem, s->jsegs, s->jsegs_n * sizeof(struct blkif_request_segment));
	return 0;
}

/* The indirect pages are in from the guest: into the journal before anything uses them. */
static void journal_segments(struct dp_slot *s)
{
	struct xbd_dataplane *dp = s->dp;
	unsigned int n = s->req.nr_segs;

	if (dp->jq && n <= dp->jq->max_segs) {
		xbd_jq_segs(dp->jq, (unsigned int)(s - dp->slots), s->ind_mem, n);
		XBD_TEST_POINT("indirect");
	}
}

/* INDIRECT: validate the segments in our private copy of the indirect pages. */
static int parse_indirect(struct dp_slot *s)
{
	struct xbd_dataplane *dp = s->dp;
	size_t pages = (size_t)s->req.nr_indirect * XBD_BLKIF_PAGE_SIZE;
	struct xbd_seg *segs = (struct xbd_seg *)((char *)s->ind_mem + pages);
	const char *why = NULL;
	int r;

	/* The guest may rewrite its pages meanwhile: we never look at them again. */
	r = xbd_req_parse_indirect(&s->req, s->ind_mem, &dp->cfg.limits, segs, &why);
	if (r)
		xbd_log_guest(&dp->guest_rl, XBD_LOG_WARN, dp->cfg.log_prefix,
			      "bad indirect request id %llu: %s", (unsigned long long)s->req.id,
			      why ? why : strerror(-r));
	return r;
}

/* The most pool memory an indirect request's data may take once parsed (layout_data). */
static size_t data_bound(const struct dp_slot *s)
{
	size_t segs = s->req.nr_segs;

	return xbd_pool_class_size(&s->dp->pool, segs * (XBD_BLKIF_PAGE_SIZE + sizeof(struct iovec) +
						     sizeof(void *) + 2 * sizeof(struct dp_sub)));
}

/*
 * INDIRECT: copy the indirect pages out once, into memory of the request's own. They go in the
 * pass's batch (*queued: indirect_fetched goes on once dp_copy_flush has copied them), so a
 * pass's indirect requests cost one copy call, not one each; a batch that cannot take them
 * (more pages than any batch holds) copies them now, and parses them here. The batch holds
 * only requests whose data the pool has room for: under memory pressure it is flushed first,
 * so those requests take their data now and the ring stops at the first that must wait, as it
 * does without batching (no request holds its indirect pages while others take the memory).
 */
static int fetch_indirect(struct dp_slot *s, bool *queued)
{
	struct xbd_dataplane *dp = s->dp;
	size_t pages = (size_t)s->req.nr_indirect * XBD_BLKIF_PAGE_SIZE;
	struct xbd_copy_batch *b = &dp->grant.indirect_in;
	size_t need;
	int r;

	*queued = false;
	s->ind_size = pages + (size_t)s->req.nr_segs * sizeof(struct xbd_seg);
	r = take_memory(dp, s->ind_size, &s->ind_mem);
	if (r)
		return r;
	if (s->jsegs_n) {
		r = segments_from_journal(s);
		return r ? r : parse_indirect(s);
	}
	need = data_bound(s);
	if (!xbd_copy_batch_empty(b) && dp->fetch_reserve + need > dp->pool.cap - dp->pool.in_use)
		flush_fetches(dp);
	r = xbd_copy_batch_add_pages(&dp->grant, b, s->req.indirect_grefs, s->req.nr_indirect,
				     s->ind_mem, s);
	if (r == -ENOSPC) {
		flush_fetches(dp);
		r = xbd_copy_batch_add_pages(&dp->grant, b, s->req.indirect_grefs,
					     s->req.nr_indirect, s->ind_mem, s);
	}
	*queued = r == 0;
	if (*queued)
		dp->fetch_reserve += need;
	if (r != -E2BIG)
		return r;
	r = xbd_grant_copy_pages(&dp->grant, s->req.indirect_grefs, s->req.nr_indirect,
				 s->ind_mem);
	if (r)
		return r;
	journal_segments(s);
	return parse_indirect(s);
}

/* Bounce buffer (copy), then iovecs, held pages and sub-I/Os when the inline ones are short. */
static int layout_data(struct dp_slot *s)
{
	struct xbd_dataplane *dp = s->dp;
	unsigned int n = s->req.nr_segs;
	size_t bounce = 0, iov = 0, held = 0, subs = 0, off;
	unsigned int niov, nsubs;
	int r;

	if (n == 0)
		return 0;
	/* Chosen once per request: a retry after a wait for memory keeps the choice, and the
	 * pages of the mapped-grant bound it reserved. */
	if (!s->gops)
		s->gops = xbd_grant_choose(&dp->grant, dp->gops, &s->req, &s->credits);
	niov = s->gops->needs_bounce ? 1 : n;
	nsubs = (niov + DP_MAX_IOV - 1) / DP_MAX_IOV;
	if (s->gops->needs_bounce)
		bounce = (s->req.nr_sectors * XBD_BLKIF_SECTOR_SIZE + XBD_BLKIF_PAGE_SIZE - 1) &
			 ~(size_t)(XBD_BLKIF_PAGE_SIZE - 1);
	/* Copy needs one iovec (the bounce buffer) and holds no pages: a 1 MiB request then
	 * takes the pool's 1 MiB class, not the 2 MiB one its arrays would push it into. */
	if (n > BLKIF_MAX_SEGMENTS_PER_REQUEST && !s->gops->needs_bounce) {
		iov = n * sizeof(struct iovec);
		held = n * sizeof(void *);
	}
	if (nsubs > 1)
		subs = 2 * nsubs * sizeof(struct dp_sub); /* and a mirror's copies */
	s->data_size = bounce + iov + held + subs;
	if (s->data_size) {
		r = take_memory(dp, s->data_size, &s->data_mem);
		if (r)
			return r;
	}
	off = bounce;
	s->gio = (struct xbd_grant_io){ .req = &s->req, .to_disk = xbd_req_writes_data(&s->req),
					.bounce = bounce ? s->data_mem : NULL,
					.credits = s->credits };
	s->credits = 0;
	s->gio.iov = iov ? (struct iovec *)((char *)s->data_mem + off) : s->iov_inline;
	off += iov;
	s->gio.held = held ? (void **)((char *)s->data_mem + off) : s->held_inline;
	off += held;
	s->subs = subs ? (struct dp_sub *)((char *)s->data_mem + off) : s->sub_inline;
	return 0;
}

/*
 * Get everything a parsed request needs, then start it (or park a barrier until the ring has
 * drained). -EAGAIN: no memory now, the request waits as dp->stalled; another -errno: answer.
 */
static int admit(struct dp_slot *s)
{
	struct xbd_dataplane *dp = s->dp;
	int r;

	/* Once per request: a retry after a wait for memory must not fetch (and allocate) again. */
	if (s->req.nr_indirect && !s->ind_mem) {
		bool queued;

		r = fetch_indirect(s, &queued);
		if (r)
			return r;
		if (queued) {
			s->stage = DP_FETCHING;
			return 0;
		}
	}
	if (s->req.nr_segs && !s->data_mem && !s->gio.req) {
		r = layout_data(s);
		if (r)
			return r;
	}
	s->subs = s->subs ? s->subs : s->sub_inline;
	plan_steps(s);
	if (s->req.data_op == BLKIF_OP_WRITE_BARRIER) {
		s->stage = DP_BARRIER_WAIT;
		dp->barrier = s;
		dp_try_barrier(dp);
		return 0;
	}
	start(s);
	return 0;
}

/*
 * s waits for memory, at the head of the line (a retry that failed again) or at its tail.
 * More than one waits only when several indirect requests of a pass come back from their
 * batched fetch to an empty pool: each waits its turn, in order.
 */
static void stall(struct dp_slot *s, bool first)
{
	struct xbd_dataplane *dp = s->dp;
	struct dp_slot **p = &dp->stalled;

	s->stage = DP_STALLED;
	dp->stats.stalls++;
	while (!first && *p)
		p = &(*p)->stall_next;
	s->stall_next = *p;
	*p = s;
}

static void admit_or_wait(struct dp_slot *s, bool first)
{
	int r = admit(s);

	if (r == -EAGAIN)
		stall(s, first);
	else if (r)
		respond(s, r);
}

/* Its indirect pages are in (or could not be copied): parse them, and go on. */
static void indirect_fetched(void *owner, int err)
{
	struct dp_slot *s = owner;

	if (!err) {
		journal_segments(s);
		err = parse_indirect(s);
	}
	if (err)
		respond(s, err);
	else
		admit_or_wait(s, false);
}

bool dp_retry_stalled(struct xbd_dataplane *dp)
{
	while (dp->stalled) {
		struct dp_slot *s = dp->stalled;

		dp->stalled = s->stall_next;
		s->stall_next = NULL;
		admit_or_wait(s, true);
		if (dp->stalled == s)
			return false;
	}
	return true;
}

bool dp_try_barrier(struct xbd_dataplane *dp)
{
	struct dp_slot *s = dp->barrier;

	if (!s || s->stage != DP_BARRIER_WAIT || dp->busy != 1)
		return false;
	start(s);
	return true;
}

struct dp_cost dp_handle_request(struct xbd_dataplane *dp, const blkif_request_t *copy)
{
	static const struct dp_cost refused = { .ops = 1 };
	struct dp_slot *s = slot_get(dp);

	if (!s) {
		/* Should not happen: there is a slot per ring entry and the ring never hands out
		 * more requests than it has room to answer. Answer with an error, never abort. */
		xbd_log_guest(&dp->guest_rl, XBD_LOG_ERR, dp->cfg.log_prefix,
			      "no free request slot: internal error");
		xbd_ring_put_response(&dp->ring, copy->id, xbd_req_response_op(copy),
				      BLKIF_RSP_ERROR);
		dp->responses_pending = true;
		return refused;
	}
	s->start_ns = dp_now_ns();
	if (dp->jq) {
		/* Before any side effect of the request (docs/restart.md, Record order). */
		xbd_jq_consume(dp->jq, (unsigned int)(s - dp->slots),
			       xbd_ring_req_cons(&dp->ring) - 1, copy);
		XBD_TEST_POINT("consumed");
	}
	return dp_start_request(s, copy);
}

void dp_answer_now(struct dp_slot *s, const blkif_request_t *copy, int err)
{
	const char *why = NULL;

	/* The parse fills id and operation even for a request it refuses. */
	xbd_req_parse(copy, &s->dp->cfg.limits, &s->req, &why);
	respond(s, err);
}

struct dp_cost dp_start_request(struct dp_slot *s, const blkif_request_t *copy)
{
	static const struct dp_cost refused = { .ops = 1 };
	struct xbd_dataplane *dp = s->dp;
	const char *why = NULL;
	struct dp_cost cost;
	int r;

	r = xbd_req_parse(copy, &dp->cfg.limits, &s->req, &why);
	XBD_TRACE(xen_block_req_start, DP_TRACE_VBD(dp), s, s->req.data_op,
		  s->req.nr_sectors, s->req.sector, s->req.id);
	if (r) {
		dp->stats.bad_requests++;
		xbd_log_guest(&dp->guest_rl, XBD_LOG_WARN, dp->cfg.log_prefix,
			      "bad request id %llu op %u: %s", (unsigned long long)s->req.id,
			      s->req.operation, why ? why : strerror(-r));
		respond(s, r);
		return refused;
	}
	cost = dp_request_cost(&s->req);
	admit_or_wait(s, false);
	return cost;
}
