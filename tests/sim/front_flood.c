/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * sim-blkfront's discard flood (--discard-flood N): a guest that keeps every slot of its rings
 * busy with discards of the whole disk (or of --discard-sectors from sector 0), sending a new
 * one as soon as a slot comes free, N in all, or with N = 0 until the backend leaves
 * Connected (a detach, a signal to the daemon). Nothing is verified: the tests use it to check
 * that a stop is honoured while a ring is full of long discards, and that discards count
 * against the VBD's I/O limits (tests/e2e/bounds.sh). It prints `sim-blkfront: flooding` on
 * stderr once the rings are full, and at the end a summary line
 *   flood: sent=S ok=O error=E aborted=A elapsed_ms=T closed=0|1
 * where T runs from the first request sent to the last response, and aborted counts requests
 * still unanswered when the rings were torn down (the backend need not answer a guest that
 * is going away). Then it closes as Linux blkfront does once the backend is Closing: it
 * does not wait for the requests in flight.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <xen/io/xenbus.h>

#include "blkfront.h"

struct flood {
	struct front *f;
	uint64_t nr_sectors;
	unsigned long sent, ok, err, aborted;
	uint64_t start_ms, last_ms;
};

static uint64_t flood_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void flood_done(void *ctx, const struct fring_req *req, int16_t status)
{
	struct flood *fl = ctx;

	(void)req;
	if (status == FRING_STATUS_ABORTED) {
		fl->aborted++;
		return;
	}
	if (status == BLKIF_RSP_OKAY)
		fl->ok++;
	else
		fl->err++;
	fl->last_ms = flood_now_ms();
}

/* Every free slot of every ring gets a discard, up to the count asked for. */
static int flood_fill(struct flood *fl)
{
	struct front *f = fl->f;
	unsigned long limit = (unsigned long)f->opt.discard_flood;
	unsigned int q;

	for (q = 0; q < f->conn.nr_rings; q++) {
		struct fring *r = &f->conn.ring[q];

		while (fring_free_slots(r) && (!limit || fl->sent < limit)) {
			struct fring_req req = { .op = BLKIF_OP_DISCARD, .sector = 0,
						 .nr_sectors = fl->nr_sectors };
			int rc = fring_submit(r, &req);

			if (rc)
				return rc;
			fl->sent++;
		}
	}
	return fconn_kick(&f->conn);
}

/* Send and reap until N were answered, or (N = 0) the backend leaves Connected. */
static int flood_run(struct flood *fl)
{
	struct front *f = fl->f;
	unsigned long limit = (unsigned long)f->opt.discard_flood;
	uint64_t idle_since = flood_now_ms();
	bool told = false;
	int rc;

	fl->start_ms = fl->last_ms = flood_now_ms();
	for (;;) {
		rc = flood_fill(fl);
		if (!rc && !told) {
			fprintf(stderr, "sim-blkfront: flooding\n");
			told = true;
		}
		if (!rc)
			rc = fconn_reap(&f->conn, flood_done, fl);
		if (rc > 0)
			idle_since = flood_now_ms();
		if (rc < 0)
			return rc;
		if (limit && fl->ok + fl->err == limit)
			return 0;
		rc = fconn_wait(&f->conn, 1000);
		if (rc == -ETIMEDOUT && flood_now_ms() - idle_since < f->opt.wl.timeout_ms)
			continue;
		if (rc == -ETIMEDOUT)
			f->stats.timeouts++;
		if (rc)
			return rc;
	}
}

int front_discard_flood(struct front *f)
{
	struct flood fl = { .f = f };
	int rc, rc_close;

	/* N = 0: the backend leaving Connected is the end we wait for, not an error. */
	f->opt.expect_unplug = f->opt.discard_flood == 0;
	rc = front_connect(f);
	if (rc) {
		front_abandon(f);
		return rc;
	}
	fl.nr_sectors = f->opt.discard_sectors ? f->opt.discard_sectors : f->disk.sectors;
	if (!f->disk.discard || fl.nr_sectors > f->disk.sectors) {
		ERR("cannot flood: the backend offers %s discard, the disk has %llu sectors\n",
		    f->disk.discard ? "" : "no", (unsigned long long)f->disk.sectors);
		f->stats.xenbus_errors++;
		rc = -EINVAL;
	} else {
		rc = flood_run(&fl);
	}
	if (rc == -ECONNRESET && f->unplugged)
		rc = 0;
	if (rc)
		ERR("the flood stopped: %s\n", strerror(-rc));
	rc_close = front_close_with(f, flood_done, &fl);
	printf("flood: sent=%lu ok=%lu error=%lu aborted=%lu elapsed_ms=%llu closed=%d\n",
	       fl.sent, fl.ok, fl.err, fl.aborted,
	       (unsigned long long)(fl.last_ms - fl.start_ms), f->unplugged);
	return rc ? rc : rc_close;
}
