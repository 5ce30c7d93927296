/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The control socket's verbs that change the image a VBD serves (ctl_internal.h): "resume
 * FORMAT:PATH [CHAIN]" swaps a paused VBD onto a new image (an external snapshot's overlay)
 * and resumes it only if the swap was accepted; "mirror FORMAT:PATH", "mirror-cancel" and
 * "mirror-status" drive a live mirror; and the image fields of "info". The checks and their
 * reasons are the device object's (vbd_image.c, vbd_mirror.c).
 */
#include <stdio.h>
#include <string.h>

#include "ctl_internal.h"
#include "notify.h"
#include "xenblkd/mirror.h"

static struct json_object *answer(int r, const char *why)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "ok", json_object_new_boolean(r == 0));
	if (r)
		json_object_object_add(o, "error", json_object_new_string(why));
	return o;
}

struct json_object *xbd_ctl_resume_image(struct xbd_ctl *c, const char *image, const char *chain)
{
	char why[600], msg[800];
	int r = xbd_vbd_swap_image(c->v, image, chain, why, sizeof(why));

	if (r) {
		snprintf(msg, sizeof(msg), "resume --image: refused: %s; the old image keeps "
			 "serving, still paused (resume without --image to go on)", why);
		xbd_err(c->v->prefix, "%s", msg);
		return answer(r, msg);
	}
	xbd_vbd_resume(c->v);
	xbd_info(c->v->prefix, "resumed by the control socket on %s%s%s", image,
		 chain ? " over " : "", chain ? chain : "");
	xbd_notify_status("running");
	return answer(0, NULL);
}

struct json_object *xbd_ctl_mirror(struct xbd_ctl *c, const char *verb, const char *dest)
{
	char why[600], msg[800];
	int r;

	if (!strcmp(verb, "mirror"))
		r = xbd_vbd_mirror_start(c->v, dest, why, sizeof(why));
	else
		r = xbd_vbd_mirror_cancel(c->v, why, sizeof(why));
	snprintf(msg, sizeof(msg), "%s: %.600s", verb, why);
	return answer(r, msg);
}

static const char *const state_names[] = {
	[XBD_MIRROR_COPYING] = "copying", [XBD_MIRROR_READY] = "ready",
	[XBD_MIRROR_FAILED] = "failed",
};

struct json_object *xbd_ctl_mirror_status(struct xbd_ctl *c)
{
	struct xbd_vbd *v = c->v;
	struct json_object *o = answer(0, NULL);
	struct xbd_mirror_status st;

	json_object_object_add(o, "last", json_object_new_string(v->mirror_last));
	if (!v->mirror) {
		json_object_object_add(o, "state", json_object_new_string("none"));
		return o;
	}
	xbd_mirror_get_status(v->mirror, &st);
	json_object_object_add(o, "state", json_object_new_string(state_names[st.state]));
	json_object_object_add(o, "destination", json_object_new_string(v->mirror_dest));
	json_object_object_add(o, "size", json_object_new_uint64(st.size));
	json_object_object_add(o, "copied", json_object_new_uint64(st.copied_bytes));
	json_object_object_add(o, "dirty", json_object_new_uint64(st.dirty_bytes));
	json_object_object_add(o, "writes_mirrored", json_object_new_uint64(st.writes_mirrored));
	if (st.state == XBD_MIRROR_FAILED)
		json_object_object_add(o, "error", json_object_new_string(st.why));
	return o;
}

void xbd_ctl_image_info(struct xbd_ctl *c, struct json_object *o)
{
	struct xbd_vbd *v = c->v;

	/* "image" and "format" (the active image) come from ctl_info.c's served_image(). */
	json_object_object_add(o, "backing", json_object_new_string(v->image_backing ?
								    v->image_backing : ""));
	json_object_object_add(o, "image_switched", json_object_new_boolean(v->image_switched));
	json_object_object_add(o, "mirror", json_object_new_string(
		v->mirror ? v->mirror_dest : "none"));
}
