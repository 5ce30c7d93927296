/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The one place where the daemon's 0 / -errno convention becomes the status a guest reads in a
 * blkif response. blkif.h has three statuses only: success, "operation not supported" (which
 * Linux blkfront takes as a cue to stop sending barriers or flushes) and a generic error, so
 * every other errno collapses to BLKIF_RSP_ERROR.
 */
#include <errno.h>

#include "xenblkd/blkif_abi.h"
#include "xenblkd/status.h"

int16_t xbd_status_from_errno(int err)
{
	if (err == 0)
		return BLKIF_RSP_OKAY;
	if (err == -EOPNOTSUPP)
		return BLKIF_RSP_EOPNOTSUPP;
	return BLKIF_RSP_ERROR;
}
