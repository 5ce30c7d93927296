/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The null driver: reads return zeros and writes are discarded, with no engine and no system
 * call, so a benchmark on it measures the daemon's own cost per request. Spec: "null" or
 * "null:size=SIZE" (default 1 GiB), "sector=512|4096". Not for verification: nothing sticks.
 */
#include <errno.h>
#include <string.h>

#include "driver.h"
#include "xenblkd/log.h"

#define NULL_DEFAULT_SIZE (1ull << 30)

static const char *const null_keys[] = { "size", "sector", NULL };

/* The spec's size and sector size, checked, and what a null disk offers. */
static int null_geometry(struct xbd_disk *d, uint64_t def_size)
{
	uint64_t size = def_size, sector = d->cfg.sector_size ? d->cfg.sector_size : 512;
	int r = xbd_opts_check(d->opts, null_keys, d->log_prefix);

	if (!r && xbd_opts_get_u64(d->opts, "size", &size) == -EINVAL)
		r = -EINVAL;
	if (!r && xbd_opts_get_u64(d->opts, "sector", &sector) == -EINVAL)
		r = -EINVAL;
	if (!r && ((sector != 512 && sector != 4096) || size == 0 || size % sector)) {
		xbd_err(d->log_prefix, "%s: size %llu and sector %llu do not fit", d->drv->name,
			(unsigned long long)size, (unsigned long long)sector);
		r = -EINVAL;
	}
	if (r)
		return r;
	d->info = (struct xbd_disk_info){
		.size = size,
		.sector_size = (uint32_t)sector,
		.physical_sector_size = (uint32_t)sector,
		.mem_align = 512,
		.readonly = d->cfg.readonly,
		.can_flush = true,
		.can_discard = !d->cfg.readonly,
		.can_secure_erase = !d->cfg.readonly, /* nothing is kept, so nothing to find */
		.can_write_zeroes = !d->cfg.readonly,
		.discard_granularity = (uint32_t)sector,
	};
	return 0;
}

static int null_open(struct xbd_disk *d)
{
	return null_geometry(d, NULL_DEFAULT_SIZE);
}

static void null_close(struct xbd_disk *d)
{
	(void)d;
}

static void zero_iov(const struct xbd_io *io)
{
	for (unsigned int i = 0; i < io->niov; i++)
		memset(io->iov[i].iov_base, 0, io->iov[i].iov_len);
}

static int null_submit(struct xbd_sq *q, struct xbd_io *io)
{
	if (io->op == XBD_IO_READ)
		zero_iov(io);
	xbd_sq_complete(q, io, 0);
	return 0;
}

const struct xbd_driver_ops xbd_driver_null = {
	.name = "null",
	.open = null_open,
	.close = null_close,
	.submit = null_submit,
};
