/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the daemon learns about its VBD from xenstore before it starts serving it: the facts
 * that [vbd] sections of the configuration match on (the image path from `params`, the
 * frontend domain's name) and the per-VBD settings a toolstack may write into the backend
 * directory (limit-iops, limit-bps).
 */
#ifndef XENBLKD_CTL_VBD_FACTS_H
#define XENBLKD_CTL_VBD_FACTS_H

#include "xenblkd/xen_ops.h"

struct xbd_vbd_facts {
	char *params;      /* the backend's `params`, NULL if absent */
	const char *image; /* the path inside params, NULL if none */
	char *domain;      /* the frontend domain's `name`, NULL if unknown */
	char *limit_iops;  /* backend keys, NULL if absent */
	char *limit_bps;
};

/* 0, or -errno when xenstore cannot be reached; absent keys are not errors. */
int xbd_vbd_facts_read(const struct xbd_xen_ops *xen, const char *backend,
		       struct xbd_vbd_facts *f);
void xbd_vbd_facts_free(struct xbd_vbd_facts *f);

#endif
