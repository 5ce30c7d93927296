/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One checked request carried out on the storage plane (export_io.c), for export_conn.c.
 */
#ifndef XENBLKD_EXPORT_IO_H
#define XENBLKD_EXPORT_IO_H

#include "export_internal.h"

/* READ fills c->buf, WRITE takes its data from it. 0, or -errno (-ESHUTDOWN: stopping). */
int xbd_export_do(struct export_conn *c, const struct nbd_request *rq);

#endif
