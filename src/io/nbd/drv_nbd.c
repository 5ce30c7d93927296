/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The nbd driver: a disk served by an NBD server, through libnbd's asynchronous API. The
 * target (the toolstack's `params`, see nbd_target.h) says where; open connects once on the
 * control thread to learn the export's size and what the server offers (flush, FUA, trim,
 * write-zeroes, multi-conn, read-only, block size), then each storage queue makes its own
 * connection, driven from the queue's wait (nbd_queue.c). Without multi-conn, a flush on one
 * connection need not cover writes completed on another, so the disk then asks for a single
 * queue (info.max_queues = 1). Refresh (SIGHUP) asks the server for the size again on a
 * short-lived connection; when it changed, each queue reconnects once idle, so later I/Os
 * reach the new sectors.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nbd_int.h"
#include "xenblkd/log.h"

/* The longest open or refresh waits for the server, whatever the I/O timeout. */
#define NBD_CONTROL_TIMEOUT_MS 5000

static int control_timeout_ms(const struct nbd_disk *nd)
{
	int t = (int)nd->t.timeout_s * 1000;

	return t < NBD_CONTROL_TIMEOUT_MS ? t : NBD_CONTROL_TIMEOUT_MS;
}

static uint32_t choose_sector(struct xbd_disk *d, int64_t min_block)
{
	uint32_t sector = d->cfg.sector_size ? d->cfg.sector_size : 512;

	if (!d->cfg.sector_size && min_block == 4096)
		sector = 4096;
	if (min_block > (int64_t)sector) {
		xbd_err(d->log_prefix, "nbd: the server's smallest block is %lld bytes: more than "
			"a %u-byte sector", (long long)min_block, sector);
		return 0;
	}
	return sector;
}

/* What the server offered on h: into d->info and nd. */
static int learn_export(struct xbd_disk *d, struct nbd_handle *h)
{
	struct nbd_disk *nd = d->priv;
	int64_t size = nbd_get_size(h);
	bool ro = nbd_is_read_only(h) > 0;
	bool multi = nbd_can_multi_conn(h) > 0;
	uint32_t sector = choose_sector(d, nbd_get_block_size(h, LIBNBD_SIZE_MINIMUM));

	if (size < 0 || !sector)
		return -EINVAL;
	if (ro && !d->cfg.readonly) {
		xbd_err(d->log_prefix, "nbd: the export is read-only; attach it read-only (mode r)");
		return -EROFS;
	}
	nd->can_flush = nbd_can_flush(h) > 0;
	nd->can_fua = nbd_can_fua(h) > 0;
	nd->can_trim = nbd_can_trim(h) > 0 && !d->cfg.readonly;
	nd->can_zero = nbd_can_zero(h) > 0 && !d->cfg.readonly;
	d->info = (struct xbd_disk_info){
		.size = (uint64_t)size / sector * sector,
		.sector_size = sector,
		.physical_sector_size = sector,
		.mem_align = 512,
		.readonly = d->cfg.readonly,
		.can_flush = nd->can_flush,
		.can_discard = nd->can_trim,
		.can_write_zeroes = nd->can_zero,
		.discard_granularity = sector,
		.max_queues = multi ? 0 : 1,
	};
	xbd_info(d->log_prefix, "nbd: export '%s' of %lld bytes: flush %s, fua %s, trim %s, "
		 "zero %s, multi-conn %s, structured replies %s, TLS %s", nd->t.export_name,
		 (long long)size, nd->can_flush ? "yes" : "no", nd->can_fua ? "yes" : "no",
		 nd->can_trim ? "yes" : "no", nd->can_zero ? "yes" : "no",
		 multi ? "yes" : "no (one queue)",
		 nbd_get_structured_replies_negotiated(h) > 0 ? "yes" : "no",
		 nd->t.tls ? "yes" : "no");
	return 0;
}

static int nbd_open(struct xbd_disk *d)
{
	struct nbd_disk *nd = calloc(1, sizeof(*nd));
	struct nbd_handle *h = NULL;
	char why[256];
	int r;

	if (!nd)
		return -ENOMEM;
	d->priv = nd;
	r = xbd_nbd_target_parse(d->cfg.path, &nd->t, why, sizeof(why));
	if (r)
		xbd_err(d->log_prefix, "nbd: %s", why);
	if (!r && d->opts[0]) {
		xbd_err(d->log_prefix, "nbd: options go in the target, not the driver spec");
		r = -EINVAL;
	}
	if (!r)
		r = xbd_nbd_resolve(d);
	if (!r)
		r = xbd_nbd_connect_sync(d, &h, control_timeout_ms(nd));
	if (!r)
		r = learn_export(d, h);
	nbd_close(h);
	if (r) {
		free(nd);
		d->priv = NULL;
	}
	return r;
}

static void nbd_drv_close(struct xbd_disk *d)
{
	free(d->priv);
	d->priv = NULL;
}

static int nbd_refresh(struct xbd_disk *d)
{
	struct nbd_disk *nd = d->priv;
	struct nbd_handle *h = NULL;
	int64_t size;
	uint64_t now;
	int r = xbd_nbd_connect_sync(d, &h, control_timeout_ms(nd));

	if (r)
		return r;
	size = nbd_get_size(h);
	nbd_close(h);
	if (size < 0)
		return -EIO;
	now = (uint64_t)size / d->info.sector_size * d->info.sector_size;
	/* The generation first: a queue that sees the new size already holds I/Os until it
	 * reconnected, so none reaches the old connection, whose size is the old one. */
	if (now != __atomic_load_n(&d->info.size, __ATOMIC_RELAXED)) {
		__atomic_add_fetch(&nd->gen, 1, __ATOMIC_SEQ_CST);
		__atomic_store_n(&d->info.size, now, __ATOMIC_SEQ_CST);
	}
	return 0;
}

const struct xbd_driver_ops xbd_driver_nbd = {
	.name = "nbd",
	.open = nbd_open,
	.close = nbd_drv_close,
	.refresh = nbd_refresh,
	.queue_open = xbd_nbd_queue_open,
	.queue_close = xbd_nbd_queue_close,
	.submit = xbd_nbd_submit,
	.wait_fd = xbd_nbd_wait_fd,
	.fd_ready = xbd_nbd_fd_ready,
};
