/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Moving a request's data between the guest's granted pages and the daemon's own buffers.
 * Grant copy is the default and, for now, the only strategy: the hypervisor copies into pages
 * the daemon owns, so direct I/O never runs on a page the daemon's own domain granted (the
 * dom0 local-attach trap, DESIGN.md section 1), and nothing stays mapped after a request.
 */
#ifndef XENBLKD_GRANT_H
#define XENBLKD_GRANT_H

#include <stdbool.h>

#include "xenblkd/req.h"
#include "xenblkd/xen_ops.h"

/*
 * Copy every segment of `req` between the guest and `buf`, which holds the request's data
 * contiguously (segment i starts where segment i-1 ended). `to_guest` for a READ's data.
 * 0, or -EIO if the hypervisor refused any segment (unknown ref, wrong domain, read-only
 * grant written, ...): the whole request then fails.
 */
int xbd_grant_copy_req(const struct xbd_xen_ops *xen, struct xbd_gnt *gnt, uint16_t domid,
		       const struct xbd_req *req, void *buf, bool to_guest);

#endif
