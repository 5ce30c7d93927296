/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The rbd driver: a disk served from a Ceph RBD image through librbd (issue 16). Opening,
 * closing and resizing run here, on the control thread, where librbd may block (up to the I/O
 * timeout); the data path is rbd_queue.c. The target is "pool/image[@snap][:option=value...]",
 * from params "rbd:..." or the driver spec "rbd:..." (rbd_target.c). A snapshot is served
 * read-only. librbd's cooperative exclusive lock (the image feature) is left as it is by
 * default: it passes between writers, as live migration needs. lock=exclusive holds it from
 * open to close instead (rbd_lock.c). It is taken at open, not at Connected: the driver sees
 * no Connected (the disk is opened at start, to publish its size before InitWait), and a
 * refusal there keeps the frontend from ever seeing a disk it cannot have.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rbd_int.h"
#include "xenblkd/log.h"

static int open_image(struct xbd_disk *d, struct xbd_rbd_disk *rd, bool readonly)
{
	const struct xbd_rbd_target *t = &rd->t;
	const char *snap = t->snap[0] ? t->snap : NULL;
	int r = rados_ioctx_create(xbd_rbd_cluster_handle(rd->cluster), t->pool, &rd->ioctx);

	if (r) {
		xbd_err(d->log_prefix, "rbd: pool %s: %s", t->pool, strerror(-r));
		return r;
	}
	r = readonly ? rbd_open_read_only(rd->ioctx, t->image, &rd->image, snap)
		     : rbd_open(rd->ioctx, t->image, &rd->image, NULL);
	if (r) {
		xbd_err(d->log_prefix, "rbd: image %s/%s%s%s: %s", t->pool, t->image,
			snap ? "@" : "", snap ? snap : "", strerror(-r));
		rados_ioctx_destroy(rd->ioctx);
	}
	return r;
}

static void fill_info(struct xbd_disk *d, uint64_t size, bool readonly)
{
	d->info = (struct xbd_disk_info){
		.size = size,
		.sector_size = 512,
		.physical_sector_size = 4096,
		.mem_align = 512,
		.readonly = readonly,
		.can_flush = true,
		.can_discard = !readonly,
		.can_write_zeroes = !readonly,
		/* librbd skips discards of less than rbd_discard_granularity_bytes (64 KiB by
		 * default) inside an object: a guest aligning to this makes them count. */
		.discard_granularity = 65536,
	};
}

static int rbd_drv_open(struct xbd_disk *d)
{
	struct xbd_rbd_disk *rd = calloc(1, sizeof(*rd));
	const char *spec = d->opts && d->opts[0] ? d->opts : d->cfg.path;
	char why[400], keyring[XBD_RBD_PATH_MAX + 64];
	bool readonly;
	uint64_t size;
	int r;

	if (!rd)
		return -ENOMEM;
	r = xbd_rbd_parse_target(spec, &rd->t, why, sizeof(why));
	if (r)
		xbd_err(d->log_prefix, "%s", why);
	if (!r)
		r = xbd_rbd_keyring_find(&rd->t, keyring, sizeof(keyring), d->log_prefix);
	if (!r)
		r = xbd_rbd_cluster_get(&rd->t, keyring, d->log_prefix, &rd->cluster);
	if (r) {
		free(rd);
		return r;
	}
	readonly = d->cfg.readonly || rd->t.snap[0];
	if (readonly && rd->t.lock_exclusive) {
		/* A read-only open takes no lock: refused rather than a guarantee not kept. */
		xbd_err(d->log_prefix, "rbd option lock=exclusive is refused on a read-only disk "
			"(mode r): it would exclude nobody");
		r = -EINVAL;
	} else {
		r = open_image(d, rd, readonly);
	}
	if (!r && (r = rbd_get_size(rd->image, &size)) == 0 && rd->t.lock_exclusive)
		r = xbd_rbd_lock_take(d, rd);
	if (r && rd->image) {
		rbd_close(rd->image);
		rados_ioctx_destroy(rd->ioctx);
	}
	if (r) {
		xbd_rbd_cluster_put(rd->cluster);
		free(rd);
		return r;
	}
	rd->timeout_ns = (uint64_t)xbd_rbd_cluster_timeout_ms(rd->cluster) * 1000000u;
	fill_info(d, size, readonly);
	d->priv = rd;
	d->fd = -1;
	return 0;
}

/* Images left open at close (below), kept reachable: librbd may still call back into their
 * queues, and a leak checker should not report what is kept on purpose. Control thread. */
static struct xbd_rbd_disk *left_open;

/* How long closing an image may take before the cluster is taken for unreachable. A detach
 * must end within 5 s; a loaded machine (CI under ASan) has taken over 1.5 s to close. */
#define CLOSE_WAIT_MS 3000

/* rbd_close() bounded: true when the image closed within CLOSE_WAIT_MS. Otherwise librbd
 * keeps the image and the completion (leaked on purpose: freeing either while librbd still
 * works on them would be worse) until the cluster answers or the process ends. */
static bool close_bounded(struct xbd_rbd_disk *rd)
{
	struct timespec tick = { 0, 10 * 1000000 };
	rbd_completion_t c;

	if (rbd_aio_create_completion(NULL, NULL, &c))
		return false;
	if (rbd_aio_close(rd->image, c)) {
		rbd_aio_release(c);
		return false;
	}
	for (unsigned int ms = 0; ms < CLOSE_WAIT_MS && !rbd_aio_is_complete(c); ms += 10)
		nanosleep(&tick, NULL);
	if (!rbd_aio_is_complete(c)) {
		rd->close_comp = c; /* librbd's still: kept with the image */
		return false;
	}
	rbd_aio_release(c);
	return true;
}

/*
 * Closing releases the exclusive lock and the header's watch, which needs the cluster: with
 * the cluster unreachable it would wait for the I/O timeout or longer, and the daemon could
 * not stop in time (a detach must finish within 5 s). So when requests were given up on or
 * are still out, or the close does not finish within CLOSE_WAIT_MS, the image and the
 * connection are left as they are, to the cluster's answer or the process's end; the cluster
 * then ends the dead watch and the lock passes on (docs/storage.md). librbd's threads then
 * still work on the image, so the process must end without exit()'s teardown, whose C++
 * static destructors would free what those threads use (a use-after-free ASan caught in CI).
 */
static void rbd_drv_close(struct xbd_disk *d)
{
	struct xbd_rbd_disk *rd = d->priv;
	unsigned int out = __atomic_load_n(&rd->outstanding, __ATOMIC_ACQUIRE);

	if (out || __atomic_load_n(&rd->gave_up, __ATOMIC_RELAXED) || !close_bounded(rd)) {
		xbd_warn(d->log_prefix, "rbd: the cluster does not answer (%u request(s) still "
			 "out): the image is left open, not closed", out);
		rd->next_left_open = left_open;
		left_open = rd;
		xbd_storage_note_abandoned_work();
		return;
	}
	if (rd->t.lock_exclusive)
		xbd_rbd_lock_forget(d);
	rados_ioctx_destroy(rd->ioctx);
	xbd_rbd_cluster_put(rd->cluster);
	free(rd);
}

/* SIGHUP: librbd notices a resize through the header object's watch; take its size. */
static int rbd_drv_refresh(struct xbd_disk *d)
{
	struct xbd_rbd_disk *rd = d->priv;
	uint64_t size;
	int r = rbd_get_size(rd->image, &size);

	if (!r)
		__atomic_store_n(&d->info.size, size, __ATOMIC_RELAXED);
	return r;
}

const struct xbd_driver_ops xbd_driver_rbd = {
	.name = "rbd",
	.open = rbd_drv_open,
	.close = rbd_drv_close,
	.refresh = rbd_drv_refresh,
	.queue_open = xbd_rbd_queue_open,
	.queue_close = xbd_rbd_queue_close,
	.submit = xbd_rbd_submit,
	.wait_fd = xbd_rbd_wait_fd,
	.fd_ready = xbd_rbd_fd_ready,
};
