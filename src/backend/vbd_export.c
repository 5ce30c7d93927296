/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The VBD's NBD export (xenblkd/export.h), as the device object drives it: started on the
 * open disk before the device is published, named after the backend path as contract C of
 * docs/admin.md says (<kind>-<frontend-domid>-<devid>), quiesced with the guest's queues for
 * a snapshot, moved with them onto a switched image, and stopped before the disk closes.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "xenblkd/export.h"
#include "xenblkd/log.h"
#include "xenblkd/vbd.h"

/* <kind>-<fe>-<devid> from /local/domain/<be>/backend/<kind>/<fe>/<devid>. */
static int export_name(const struct xbd_vbd *v, char *buf, size_t len)
{
	const char *kind = strstr(v->be_path, "/backend/");
	const char *end;

	if (!kind)
		return -EINVAL;
	kind += strlen("/backend/");
	end = strchr(kind, '/');
	if (!end || (size_t)snprintf(buf, len, "%.*s-%u-%u", (int)(end - kind), kind,
				     v->fe_domid, v->devid) >= len)
		return -ENAMETOOLONG;
	return 0;
}

int xbd_vbd_export_start(struct xbd_vbd *v)
{
	char name[64];
	struct xbd_export_config cfg = {
		.dir = v->opt->nbd_dir,
		.name = name,
		.disk = v->disk,
		.readonly = v->readonly,
		.log_prefix = v->prefix,
	};
	int r;

	if (!v->opt->nbd_export)
		return 0;
	r = cfg.dir ? export_name(v, name, sizeof(name)) : -EINVAL;
	if (!r)
		r = xbd_export_start(&cfg, &v->export);
	if (r)
		xbd_xb_fatal(v, -r, "nbd-export: cannot listen in %s: %s",
			     cfg.dir ? cfg.dir : "(none)", strerror(-r));
	return r;
}

int xbd_vbd_export_pause(struct xbd_vbd *v, int timeout_ms)
{
	return v->export ? xbd_export_pause(v->export, timeout_ms) : 0;
}

void xbd_vbd_export_resume(struct xbd_vbd *v)
{
	if (v->export)
		xbd_export_resume(v->export);
}

void xbd_vbd_export_switch(struct xbd_vbd *v, struct xbd_disk *d)
{
	if (v->export)
		xbd_export_set_disk(v->export, d);
}

void xbd_vbd_export_stop(struct xbd_vbd *v)
{
	xbd_export_stop(v->export);
	v->export = NULL;
}
