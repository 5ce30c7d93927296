/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Reads a VBD's facts from xenstore before the device is opened (see vbd_facts.h), on a
 * short-lived connection of its own so the device object's start-up is left as it is.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xenblkd/vbd_config.h"
#include "xenblkd/xs_value.h"

static char *read_key(const struct xbd_xen_ops *xen, struct xbd_xs *xs, const char *dir,
		      const char *key)
{
	char path[512];
	char *val = NULL;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, key) >= sizeof(path))
		return NULL;
	if (xen->xs_read(xs, 0, path, &val))
		return NULL;
	return val;
}

int xbd_vbd_facts_read(const struct xbd_xen_ops *xen, const char *backend,
		       struct xbd_vbd_facts *f)
{
	struct xbd_xs *xs;
	enum xbd_format fmt;
	char *fe_id, home[64];
	int r;

	memset(f, 0, sizeof(*f));
	r = xen->xs_open(&xs);
	if (r)
		return r;
	f->params = read_key(xen, xs, backend, "params");
	if (f->params && xbd_parse_params(f->params, &fmt, &f->image))
		f->image = NULL;
	f->limit_iops = read_key(xen, xs, backend, "limit-iops");
	f->limit_bps = read_key(xen, xs, backend, "limit-bps");
	fe_id = read_key(xen, xs, backend, "frontend-id");
	if (fe_id && strlen(fe_id) < 8) {
		snprintf(home, sizeof(home), "/local/domain/%s", fe_id);
		f->domain = read_key(xen, xs, home, "name");
	}
	free(fe_id);
	xen->xs_close(xs);
	return 0;
}

void xbd_vbd_facts_free(struct xbd_vbd_facts *f)
{
	free(f->params);
	free(f->domain);
	free(f->limit_iops);
	free(f->limit_bps);
	memset(f, 0, sizeof(*f));
}
