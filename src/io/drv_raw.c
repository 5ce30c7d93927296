/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The "raw" driver is a selector: a raw image is either a regular file or a block device, and
 * each has its own driver (drv_file.c, drv_blockdev.c). Opening "raw" looks at what the path
 * names and hands the disk to the right one, which then replaces "raw" in d->drv. The real
 * driver checks the descriptor it opened again, so a path swapped in between is refused.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "driver.h"
#include "xenblkd/log.h"

static int raw_open(struct xbd_disk *d)
{
	struct stat st;

	if (!d->cfg.path) {
		xbd_err(d->log_prefix, "a raw disk needs a path");
		return -EINVAL;
	}
	if (stat(d->cfg.path, &st) < 0) {
		int r = -errno;

		xbd_err(d->log_prefix, "%s: %s", d->cfg.path, strerror(-r));
		return r;
	}
	d->drv = S_ISBLK(st.st_mode) ? &xbd_driver_blockdev : &xbd_driver_file;
	return d->drv->open(d);
}

/* Never called: a successful open replaced the driver. */
static void raw_close(struct xbd_disk *d)
{
	(void)d;
}

static int raw_submit(struct xbd_sq *q, struct xbd_io *io)
{
	(void)q;
	(void)io;
	return -EOPNOTSUPP;
}

const struct xbd_driver_ops xbd_driver_raw = {
	.name = "raw",
	.open = raw_open,
	.close = raw_close,
	.submit = raw_submit,
};
