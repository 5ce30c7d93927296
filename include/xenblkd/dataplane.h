/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The control-to-data contract: start a data plane for one ring with everything the handshake
 * negotiated, and stop it. A data plane is one thread that owns its grant handle, event channel
 * handle and I/O engine, so its hot path takes no lock. Stop drains in-flight I/O before it
 * unmaps anything. A data plane that meets an impossible ring halts by itself, says why, and
 * signals `notify_fd` so the control thread can report it in xenstore and close the device.
 */
#ifndef XENBLKD_DATAPLANE_H
#define XENBLKD_DATAPLANE_H

#include <stdbool.h>
#include <stdint.h>

#include "xenblkd/storage.h"
#include "xenblkd/req.h"
#include "xenblkd/ring.h"
#include "xenblkd/xen_ops.h"

#define XBD_MAX_RING_PAGES 1u /* single-page rings for now */

struct xbd_dataplane_cfg {
	const struct xbd_xen_ops *xen;
	uint16_t fe_domid;
	uint32_t ring_refs[XBD_MAX_RING_PAGES];
	unsigned int nr_ring_refs;
	uint32_t remote_port; /* the frontend's event channel */
	enum xbd_proto proto;
	struct xbd_limits limits;
	struct xbd_disk *disk;
	const char *log_prefix;
	int notify_fd; /* eventfd: written once when the data plane halts on its own */
};

struct xbd_dataplane_stats {
	uint64_t reads, writes, flushes, errors, bad_requests;
	uint64_t read_sectors, write_sectors;
	uint64_t events, notifies;
};

struct xbd_dataplane;

/* Start the thread and wait until it has mapped the ring and bound the event channel.
 * 0, or -errno with nothing left mapped. */
int xbd_dataplane_start(const struct xbd_dataplane_cfg *cfg, struct xbd_dataplane **out);

/* Stop consuming requests, complete and answer what is in flight, unmap, unbind, join. */
void xbd_dataplane_stop(struct xbd_dataplane *dp);

/* True once the data plane has halted itself; *reason is a static string. */
bool xbd_dataplane_halted(struct xbd_dataplane *dp, const char **reason);

void xbd_dataplane_get_stats(struct xbd_dataplane *dp, struct xbd_dataplane_stats *out);

#endif
