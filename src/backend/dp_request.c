/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One request's life in the data plane: take a slot, validate the private copy, bring a write's
 * data in by grant copy, queue the I/O, and on completion copy a read's data out and write the
 * response. Every failure turns into a response whose status comes from xbd_status_from_errno,
 * so a guest always gets an answer and never brings the daemon down.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "dp_internal.h"
#include "xenblkd/grant.h"
#include "xenblkd/status.h"

#define SECTOR 512u

int dp_slots_alloc(struct xbd_dataplane *dp, unsigned int n)
{
	uint32_t mem_align = xbd_disk_get_info(dp->cfg.disk)->mem_align;
	size_t align = mem_align > 4096 ? mem_align : 4096;

	dp->slots = calloc(n, sizeof(*dp->slots));
	if (!dp->slots)
		return -ENOMEM;
	dp->nr_slots = n;
	for (unsigned int i = 0; i < n; i++) {
		if (posix_memalign(&dp->slots[i].buf, align, XBD_SLOT_BYTES)) {
			dp_slots_free(dp);
			return -ENOMEM;
		}
		/* Zeroed once, so nothing of the daemon's memory can ever reach a guest. */
		memset(dp->slots[i].buf, 0, XBD_SLOT_BYTES);
		dp->slots[i].dp = dp;
		dp->slots[i].next_free = i + 1;
	}
	dp->free_head = 0;
	return 0;
}

void dp_slots_free(struct xbd_dataplane *dp)
{
	for (unsigned int i = 0; dp->slots && i < dp->nr_slots; i++)
		free(dp->slots[i].buf);
	free(dp->slots);
	dp->slots = NULL;
	dp->nr_slots = 0;
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
	s->next_free = dp->free_head;
	dp->free_head = (unsigned int)(s - dp->slots);
	dp->busy--;
}

static void count_done(struct xbd_dataplane *dp, const struct xbd_req *req, int err)
{
	pthread_mutex_lock(&dp->stats_lock);
	if (err) {
		dp->stats.errors++;
	} else if (req->operation == BLKIF_OP_READ) {
		dp->stats.reads++;
		dp->stats.read_sectors += req->nr_sectors;
	} else if (req->operation == BLKIF_OP_WRITE) {
		dp->stats.writes++;
		dp->stats.write_sectors += req->nr_sectors;
	} else {
		dp->stats.flushes++;
		dp->stats.write_sectors += req->nr_sectors;
	}
	pthread_mutex_unlock(&dp->stats_lock);
}

static void respond(struct dp_slot *s, int err)
{
	struct xbd_dataplane *dp = s->dp;

	count_done(dp, &s->req, err);
	xbd_ring_put_response(&dp->ring, s->req.id, s->req.operation, xbd_status_from_errno(err));
	dp->responses_pending = true;
	slot_put(dp, s);
}

static void io_done(struct xbd_io *io, int res);

static int queue_io(struct dp_slot *s, enum xbd_io_op op)
{
	s->iov = (struct iovec){ .iov_base = s->buf, .iov_len = s->req.nr_sectors * SECTOR };
	s->io = (struct xbd_io){
		.op = op,
		.offset = s->req.sector * SECTOR,
		.len = s->iov.iov_len,
		.iov = &s->iov,
		.niov = 1,
		.done = io_done,
	};
	if (op == XBD_IO_FLUSH) {
		s->io.offset = 0;
		s->io.len = 0;
		s->io.niov = 0;
	}
	return xbd_sq_queue(s->dp->sq, &s->io);
}

static int copy_data(struct dp_slot *s, bool to_guest)
{
	struct xbd_dataplane *dp = s->dp;

	return xbd_grant_copy_req(dp->cfg.xen, dp->gnt, dp->cfg.fe_domid, &s->req, s->buf,
				  to_guest);
}

static void io_done(struct xbd_io *io, int res)
{
	struct dp_slot *s = (struct dp_slot *)((char *)io - offsetof(struct dp_slot, io));
	int err = res;

	if (!err && s->flush_after) {
		s->flush_after = false;
		err = queue_io(s, XBD_IO_FLUSH);
		if (!err)
			return;
	}
	if (!err && io->op == XBD_IO_READ)
		err = copy_data(s, true);
	if (err)
		xbd_log_guest(&s->dp->guest_rl, XBD_LOG_WARN, s->dp->cfg.log_prefix,
			      "request id %llu op %u sector %llu failed: %s",
			      (unsigned long long)s->req.id, s->req.operation,
			      (unsigned long long)s->req.sector, strerror(-err));
	respond(s, err);
}

/* Start the I/O of a validated request: 0, or -errno to answer at once. */
static int start_request(struct dp_slot *s)
{
	const struct xbd_req *req = &s->req;
	bool has_data = req->nr_segs > 0;
	int r;

	s->flush_after = false;
	switch (req->operation) {
	case BLKIF_OP_READ:
		return queue_io(s, XBD_IO_READ);
	case BLKIF_OP_WRITE:
		r = copy_data(s, false);
		return r ? r : queue_io(s, XBD_IO_WRITE);
	case BLKIF_OP_FLUSH_DISKCACHE:
		if (!has_data)
			return queue_io(s, XBD_IO_FLUSH);
		r = copy_data(s, false);
		if (r)
			return r;
		s->flush_after = true;
		return queue_io(s, XBD_IO_WRITE);
	default:
		return -EOPNOTSUPP; /* the parser only passes operations the device offers */
	}
}

void dp_handle_request(struct xbd_dataplane *dp, const blkif_request_t *copy)
{
	struct dp_slot *s = slot_get(dp);
	const char *why = NULL;
	int r;

	if (!s) {
		/* Should not happen: there is a slot per ring entry and the ring never hands out
		 * more requests than it has room to answer. Answer with an error, never abort. */
		xbd_log_guest(&dp->guest_rl, XBD_LOG_ERR, dp->cfg.log_prefix,
			      "no free request slot: internal error");
		xbd_ring_put_response(&dp->ring, copy->id, copy->operation, BLKIF_RSP_ERROR);
		dp->responses_pending = true;
		return;
	}
	r = xbd_req_parse(copy, &dp->cfg.limits, &s->req, &why);
	if (r) {
		pthread_mutex_lock(&dp->stats_lock);
		dp->stats.bad_requests++;
		pthread_mutex_unlock(&dp->stats_lock);
		xbd_log_guest(&dp->guest_rl, XBD_LOG_WARN, dp->cfg.log_prefix,
			      "bad request id %llu op %u: %s", (unsigned long long)s->req.id,
			      s->req.operation, why ? why : strerror(-r));
		respond(s, r);
		return;
	}
	r = start_request(s);
	if (r)
		respond(s, r);
}
