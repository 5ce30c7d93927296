/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Which Xen the daemon talks to: the real one whenever the gntdev device exists, otherwise the
 * simulated platform of docs/simulation.md.
 */
#include <unistd.h>

#include "xenblkd/xen_ops.h"

const struct xbd_xen_ops *xbd_xen_ops_select(void)
{
	if (access("/dev/xen/gntdev", F_OK) == 0)
		return &xbd_xen_real_ops;
	return &xbd_xen_sim_ops;
}
