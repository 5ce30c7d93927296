/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The device object: one virtual block device served by this process. It holds what the
 * toolstack configured (backend path, image, mode), the open disk, and the running data plane,
 * and it carries out the state machine's actions: publish, connect, disconnect, report a fatal
 * error. xenbus.c holds its xenstore reads and writes; vbd.c the life cycle.
 */
#ifndef XENBLKD_VBD_H
#define XENBLKD_VBD_H

#include <stdbool.h>
#include <stdint.h>

#include "xenblkd/dataplane.h"
#include "xenblkd/storage.h"
#include "xenblkd/xenbus_fsm.h"
#include "xenblkd/xen_ops.h"

struct xbd_vbd_options {
	const char *backend_path; /* /local/domain/<be>/backend/<kind>/<fe-domid>/<devid> */
	const char *image;        /* overrides the backend's `params` when set */
	const char *engine;       /* I/O engine name; NULL: the default */
	const char *driver;       /* backing driver for tests ("null", "memory"); NULL: params */
	uint32_t sector_size;     /* force a logical sector size on a file; 0: the store's */
};

struct xbd_vbd {
	const struct xbd_xen_ops *xen;
	struct xbd_xs *xs;
	const struct xbd_vbd_options *opt;
	char *be_path;
	char *be_home;   /* /local/domain/<be>: where the error node goes */
	char *fe_path;   /* the toolstack's `frontend` */
	uint16_t fe_domid;
	char prefix[48]; /* log prefix: d<fe-domid>/<devid> */
	bool readonly;
	struct xbd_disk *disk;
	const struct xbd_disk_info *info;
	struct xbd_dataplane *dp;
	int dp_notify_fd;
};

/* Read the toolstack's keys and open the image. 0 or -errno (already logged). */
int xbd_vbd_init(struct xbd_vbd *v, const struct xbd_xen_ops *xen,
		 const struct xbd_vbd_options *opt);
void xbd_vbd_fini(struct xbd_vbd *v);

/* Read the facts the state machine needs. */
int xbd_vbd_read_facts(struct xbd_vbd *v, struct xbd_fsm_facts *f);
/* Carry out the actions. 0, or -errno after reporting a fatal error in xenstore. */
int xbd_vbd_apply(struct xbd_vbd *v, const struct xbd_fsm_actions *a);

/* Stop the data plane, answering what is in flight first. */
void xbd_vbd_disconnect(struct xbd_vbd *v);
/* If the data plane halted itself: report why (xenbus_dev_fatal style), close. */
void xbd_vbd_check_halt(struct xbd_vbd *v);

/* xenbus.c */
int xbd_xb_read_toolstack(struct xbd_vbd *v, char **params, char **mode);
int xbd_xb_publish_features(struct xbd_vbd *v);
int xbd_xb_publish_disk(struct xbd_vbd *v);
int xbd_xb_switch_state(struct xbd_vbd *v, enum xenbus_state s);
int xbd_xb_read_ring(struct xbd_vbd *v, struct xbd_dataplane_cfg *cfg);
/* Like Linux's xenbus_dev_fatal: the reason goes to <be_home>/error/<rel path>/error and the
 * device moves to Closing. */
void xbd_xb_fatal(struct xbd_vbd *v, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* A key under the backend or frontend dir, read into a malloc'd string. */
int xbd_xb_read(struct xbd_vbd *v, const char *dir, const char *key, char **val);

#endif
