/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Commands from the control thread to a running data plane, and the data thread's side of
 * them: stop, pause (no new requests, everything answered, then one flush so the disk is
 * consistent for a snapshot), resume, and I/O limits (token buckets on requests and bytes per
 * second, and what each request costs in them). The control thread sets an atomic and kicks the data thread's eventfd; the data
 * thread acts on it in its loop. Only the pause waits, on a semaphore, with a timeout.
 */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dp_internal.h"

#define DP_DISCARD_UNIT (1ull << 30)  /* a discard costs one request per started GiB */
#define DP_DISCARD_BYTES_DIV 1024u    /* and this fraction of its length in bytes */

static void kick(struct xbd_dataplane *dp)
{
	uint64_t one = 1;

	if (write(dp->ctl_fd, &one, sizeof(one)) < 0)
		xbd_err(dp->cfg.log_prefix, "cannot wake the data thread: %s", strerror(errno));
}

void dp_request_stop(struct xbd_dataplane *dp)
{
	atomic_store(&dp->stop_req, true);
	kick(dp);
}

int xbd_dataplane_pause(struct xbd_dataplane *dp, int timeout_ms)
{
	struct timespec until;

	/* Paused already (a second pause, e.g. a mirror's switch while the administrator's
	 * pause holds): the data thread will not post again. */
	if (atomic_load(&dp->pause_req) && atomic_load(&dp->paused_ack))
		return 0;
	atomic_store(&dp->pause_req, true);
	kick(dp);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	while (sem_timedwait(&dp->paused_sem, &until) < 0)
		if (errno != EINTR)
			return -ETIMEDOUT;
	return 0;
}

void xbd_dataplane_resume(struct xbd_dataplane *dp)
{
	atomic_store(&dp->paused_ack, false);
	atomic_store(&dp->pause_req, false);
	/* A pause that completed after its caller gave up must not satisfy the next one. */
	while (sem_trywait(&dp->paused_sem) == 0)
		;
	kick(dp);
}

#define OP_TIMEOUT_S 10

/* Control thread: hand a paused operation to the data thread and wait for its result. */
static int paused_op(struct xbd_dataplane *dp, int op, struct xbd_disk *disk,
		     struct xbd_mirror *m)
{
	struct timespec until;

	if (!atomic_load(&dp->pause_req))
		return -EBUSY;
	dp->op_disk = disk;
	dp->op_mirror = m;
	atomic_store(&dp->op, op); /* publishes the arguments */
	kick(dp);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += OP_TIMEOUT_S;
	while (sem_timedwait(&dp->op_sem, &until) < 0)
		if (errno != EINTR)
			return -ETIMEDOUT;
	return dp->op_result;
}

int xbd_dataplane_swap_disk(struct xbd_dataplane *dp, struct xbd_disk *disk)
{
	return paused_op(dp, DP_OP_SWAP_DISK, disk, NULL);
}

int xbd_dataplane_mirror_attach(struct xbd_dataplane *dp, struct xbd_mirror *m,
				struct xbd_disk *dst)
{
	return paused_op(dp, DP_OP_MIRROR_ATTACH, dst, m);
}

int xbd_dataplane_mirror_detach(struct xbd_dataplane *dp)
{
	return paused_op(dp, DP_OP_MIRROR_DETACH, NULL, NULL);
}

int xbd_dataplane_release_files(struct xbd_dataplane *dp)
{
	return paused_op(dp, DP_OP_RELEASE_FILES, NULL, NULL);
}

int xbd_dataplane_restore_files(struct xbd_dataplane *dp)
{
	return paused_op(dp, DP_OP_RESTORE_FILES, NULL, NULL);
}

struct flush_wait {
	struct xbd_io io;
	bool done;
	int res;
};

static void flush_waited(struct xbd_io *io, int res)
{
	struct flush_wait *f = (struct flush_wait *)io;

	f->res = res;
	f->done = true;
}

/* Data thread, paused: one flush on `q`, waited for. */
static int flush_now(struct xbd_sq *q)
{
	struct flush_wait f = { .io = { .op = XBD_IO_FLUSH, .done = flush_waited } };
	unsigned int ready;
	int r;

	xbd_sq_queue(q, &f.io);
	r = xbd_sq_submit(q);
	while (!f.done && r >= 0)
		r = xbd_sq_wait(q, NULL, 0, &ready, true, 1000);
	return f.done ? f.res : r;
}

/* Serve op_disk: its queue opened and flushed (what a mirror wrote through another queue is
 * durable before the switch is recorded), then the old queue closed. */
static int swap_disk(struct xbd_dataplane *dp)
{
	struct xbd_sq *q;
	int r = xbd_sq_open(dp->op_disk, dp->nr_slots, &q);

	if (r)
		return r;
	if (xbd_disk_get_info(dp->op_disk)->can_flush)
		r = flush_now(q);
	if (r) {
		xbd_sq_close(q);
		return r;
	}
	dp_stats_refresh_storage(dp);
	dp_adopt_queue(dp, q);
	dp->cfg.disk = dp->op_disk;
	return 0;
}

static int mirror_attach(struct xbd_dataplane *dp)
{
	int r;

	if (dp->msq)
		return -EBUSY;
	r = xbd_sq_open(dp->op_disk, dp->nr_slots, &dp->msq);
	if (r)
		return r;
	dp->mirror = dp->op_mirror;
	dp->mdisk = dp->op_disk;
	return 0;
}

static int mirror_detach(struct xbd_dataplane *dp)
{
	xbd_sq_close(dp->msq); /* paused: nothing in flight on it */
	dp->msq = NULL;
	dp->mirror = NULL;
	dp->mdisk = NULL;
	return 0;
}

/* Both queues (the disk's, a mirror's destination's): the first error, each one tried. */
static int files_op(struct xbd_dataplane *dp, int (*fn)(struct xbd_sq *))
{
	int r = fn(dp->sq), m = fn(dp->msq);

	return r ? r : m;
}

void dp_run_op(struct xbd_dataplane *dp)
{
	int op = atomic_load(&dp->op);

	if (op == DP_OP_NONE)
		return;
	if (!dp->paused || dp->busy || dp->pause_flushing)
		dp->op_result = -EBUSY;
	else if (op == DP_OP_SWAP_DISK)
		dp->op_result = swap_disk(dp);
	else if (op == DP_OP_MIRROR_ATTACH)
		dp->op_result = mirror_attach(dp);
	else if (op == DP_OP_RELEASE_FILES)
		dp->op_result = files_op(dp, xbd_sq_release_file);
	else if (op == DP_OP_RESTORE_FILES)
		dp->op_result = files_op(dp, xbd_sq_restore_file);
	else
		dp->op_result = mirror_detach(dp);
	atomic_store(&dp->op, DP_OP_NONE);
	sem_post(&dp->op_sem);
}

void dp_mirror_reap(struct xbd_dataplane *dp)
{
	unsigned int ready;

	if (dp->msq && xbd_sq_inflight(dp->msq))
		xbd_sq_wait(dp->msq, NULL, 0, &ready, false, 0);
}

void xbd_dataplane_set_limits(struct xbd_dataplane *dp, uint64_t iops, uint64_t bytes_per_s)
{
	atomic_store(&dp->limit_iops, iops);
	atomic_store(&dp->limit_bps, bytes_per_s);
	kick(dp);
}

/* Data thread: pick up limits that changed. */
static void refresh_limits(struct xbd_dataplane *dp)
{
	uint64_t iops = atomic_load(&dp->limit_iops), bps = atomic_load(&dp->limit_bps);
	uint64_t now = dp_now_ns();

	if (iops != dp->tb_iops_rate) {
		dp->tb_iops_rate = iops;
		xbd_tb_init(&dp->tb_iops, iops, now);
	}
	if (bps != dp->tb_bytes_rate) {
		dp->tb_bytes_rate = bps;
		xbd_tb_init(&dp->tb_bytes, bps, now);
	}
}

/* Data thread: the control thread kicked us. */
void dp_take_ctl(struct xbd_dataplane *dp)
{
	uint64_t v;

	if (read(dp->ctl_fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
		return;
	if (atomic_load(&dp->stop_req))
		dp->stopping = true;
	if (!atomic_load(&dp->pause_req)) {
		dp->paused = false;
		atomic_store(&dp->paused_ack, false);
	}
	refresh_limits(dp);
}

bool dp_pausing(struct xbd_dataplane *dp)
{
	return atomic_load(&dp->pause_req);
}

static void pause_flushed(struct xbd_io *io, int res)
{
	struct xbd_dataplane *dp = (struct xbd_dataplane *)((char *)io -
							      offsetof(struct xbd_dataplane, pause_io));

	if (res)
		xbd_warn(dp->cfg.log_prefix, "pause: flush failed: %s", strerror(-res));
	dp->pause_flushing = false;
	dp->paused = true;
	atomic_store(&dp->paused_ack, true);
	sem_post(&dp->paused_sem);
}

/* Data thread: once a pause is asked for and nothing is in flight, flush, then report. */
void dp_pause_step(struct xbd_dataplane *dp)
{
	if (!dp_pausing(dp) || dp->paused || dp->pause_flushing || dp->busy)
		return;
	if (!xbd_disk_get_info(dp->cfg.disk)->can_flush) {
		dp->paused = true;
		atomic_store(&dp->paused_ack, true);
		sem_post(&dp->paused_sem);
		return;
	}
	dp->pause_flushing = true;
	dp->pause_io = (struct xbd_io){ .op = XBD_IO_FLUSH, .done = pause_flushed };
	xbd_sq_queue(dp->sq, &dp->pause_io);
}

bool dp_rate_ok(struct xbd_dataplane *dp)
{
	uint64_t now;

	/* Limits set at connect may still wait in the control eventfd when the first requests
	 * arrive: they apply from the first request on, not from our first look at the fd. */
	refresh_limits(dp);
	if (!dp->tb_iops_rate && !dp->tb_bytes_rate)
		return true;
	now = dp_now_ns();
	return xbd_tb_ready(&dp->tb_iops, now) && xbd_tb_ready(&dp->tb_bytes, now);
}

/*
 * Reads and writes cost one request and the bytes they move (an indirect request counts its
 * segments as full pages: its exact length is known only once they are fetched). A discard
 * moves nothing over the ring, but the store works in proportion to its range: the storage
 * queue does it in chunks of up to a GiB (punch-hole, BLKDISCARD, a qcow2 metadata walk). So
 * it costs one request per started GiB, and 1/1024 of its length in bytes (1 MiB per GiB,
 * at least a sector): neither limit can be bypassed with discards, while the whole-disk
 * discard of a mkfs stays affordable (a 1 TiB disk: 1024 requests and 1 GiB, about a second
 * under --limit-iops 1000 --limit-bps 1G), and a small discard costs about what a small write
 * does. Charged when the request is taken off the ring, like everything else: a bucket left
 * in debt by a big discard holds back the requests after it until the debt is paid.
 */
struct dp_cost dp_request_cost(const struct xbd_req *req)
{
	uint64_t len = req->nr_sectors * XBD_BLKIF_SECTOR_SIZE;

	if (req->operation == BLKIF_OP_DISCARD)
		return (struct dp_cost){
			.ops = len ? (len - 1) / DP_DISCARD_UNIT + 1 : 1,
			.bytes = len / DP_DISCARD_BYTES_DIV > XBD_BLKIF_SECTOR_SIZE ? len / DP_DISCARD_BYTES_DIV
									  : XBD_BLKIF_SECTOR_SIZE,
		};
	return (struct dp_cost){
		.ops = 1,
		.bytes = req->nr_indirect ? (uint64_t)req->nr_segs * XBD_BLKIF_PAGE_SIZE : len,
	};
}

void dp_rate_take(struct xbd_dataplane *dp, struct dp_cost cost)
{
	xbd_tb_take(&dp->tb_iops, cost.ops);
	xbd_tb_take(&dp->tb_bytes, cost.bytes);
}

/* How long a rate-limited queue may sleep before a token is due. */
int dp_rate_wait_ms(struct xbd_dataplane *dp)
{
	int a = xbd_tb_wait_ms(&dp->tb_iops), b = xbd_tb_wait_ms(&dp->tb_bytes);

	return a > b ? a : b;
}
