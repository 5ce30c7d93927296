/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What `info` (and so `xenblkctl list`) says about whom the VBD serves and what: the
 * frontend domain's name and id, the device number and the guest's name for the disk (xvda),
 * ro or rw, and the image this daemon serves with its format. The domain's name is read at
 * each request, so a renamed domain (`xl rename`) shows its new name. Names and paths go
 * through the log's escaping (log.h), so a reply is always valid JSON and prints safely.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_internal.h"
#include "util/vdev.h"

#define ESCAPED_MAX (4 * XBD_LOG_STR_MAX + 1)

static struct json_object *escaped(const char *s)
{
	char out[ESCAPED_MAX];

	if (!s)
		return NULL; /* JSON null: unknown */
	xbd_log_escape(s, strnlen(s, XBD_LOG_STR_MAX), out, sizeof(out));
	return json_object_new_string(out);
}

/* The frontend domain's name now, else the one read at start-up; NULL when unknown (a
 * driver domain may not read other domains' names). */
static char *domain_name(struct xbd_vbd *v)
{
	char dir[32], *name = NULL;

	snprintf(dir, sizeof(dir), "/local/domain/%u", (unsigned int)v->fe_domid);
	if (xbd_xb_read(v, dir, "name", &name) == 0)
		return name;
	return v->cfg->domain ? strdup(v->cfg->domain) : NULL;
}

/* What the daemon serves and its format. The format is the toolstack's (the `params`
 * prefix), raw for an image given with --image, and "driver" for a test driver. */
/* What the VBD serves now: the active image after a snapshot swap or a mirror switch
 * (v->image_path, kept by the device object), else what it was started on. */
static const char *served_image(const struct xbd_vbd *v, const char **format)
{
	if (v->opt->driver && !v->image_switched) {
		*format = "driver";
		return v->opt->driver;
	}
	if (v->image_path) {
		*format = v->image_format == XBD_FORMAT_QCOW2 ? "qcow2" :
			  v->image_format == XBD_FORMAT_NBD ? "nbd" :
			  v->image_format == XBD_FORMAT_RBD ? "rbd" : "raw";
		return v->image_path;
	}
	if (v->opt->image) {
		*format = "raw";
		return v->opt->image;
	}
	if (v->opt->driver) {
		*format = "driver";
		return v->opt->driver;
	}
	*format = v->cfg->format == XBD_FORMAT_QCOW2 ? "qcow2" :
		  v->cfg->format == XBD_FORMAT_NBD ? "nbd" :
		  v->cfg->format == XBD_FORMAT_RBD ? "rbd" : "raw";
	return v->cfg->image;
}

static uint32_t devid_of(const struct xbd_vbd *v)
{
	const char *slash = strrchr(v->be_path, '/');

	return slash ? (uint32_t)strtoul(slash + 1, NULL, 10) : 0;
}

void xbd_ctl_info_identity(struct xbd_vbd *v, struct json_object *o)
{
	char dev[XBD_VDEV_NAME_MAX];
	uint32_t devid = devid_of(v);
	const char *format, *image = served_image(v, &format);
	char *name = domain_name(v);

	json_object_object_add(o, "frontend_id", json_object_new_int(v->fe_domid));
	json_object_object_add(o, "domain", escaped(name));
	json_object_object_add(o, "devid", json_object_new_uint64(devid));
	json_object_object_add(o, "device", xbd_vdev_name(devid, dev, sizeof(dev)) ? NULL :
					    json_object_new_string(dev));
	json_object_object_add(o, "mode", json_object_new_string(v->readonly ? "ro" : "rw"));
	json_object_object_add(o, "image", escaped(image));
	json_object_object_add(o, "format", json_object_new_string(format));
	free(name);
}
