/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qcow2 driver: not implemented yet (issue 6). Opening a qcow2 image fails with a clear error.
 */
#include <errno.h>

#include "xenblkd/driver.h"
#include "xenblkd/log.h"

static int qcow2_open(struct xbd_disk *d)
{
	xbd_err(d->log_prefix, "%s: qcow2 images are not supported yet", d->cfg.path);
	return -EPROTONOSUPPORT;
}

static void qcow2_close(struct xbd_disk *d)
{
	(void)d;
}

static int qcow2_submit(struct xbd_sq *q, struct xbd_io *io)
{
	(void)q;
	(void)io;
	return -EOPNOTSUPP;
}

const struct xbd_driver_ops xbd_driver_qcow2 = {
	.name = "qcow2",
	.open = qcow2_open,
	.close = qcow2_close,
	.submit = qcow2_submit,
};
