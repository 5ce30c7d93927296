/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The one mapping from the project's error convention (0 / -errno) to the blkif response status
 * a guest sees. Nothing else in the daemon chooses a BLKIF_RSP_* value.
 */
#ifndef XENBLKD_STATUS_H
#define XENBLKD_STATUS_H

#include <stdint.h>

/* 0 -> BLKIF_RSP_OKAY, -EOPNOTSUPP -> BLKIF_RSP_EOPNOTSUPP, any other -errno -> BLKIF_RSP_ERROR. */
int16_t xbd_status_from_errno(int err);

#endif
