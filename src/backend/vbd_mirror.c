/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A VBD's live mirror (vbd.h, xenblkd/mirror.h), on the control thread: start (open the
 * destination like any image, pause every queue for a moment to attach it, resume), cancel
 * (pause, detach, resume; the destination is left as it is), the status, and what happens
 * when the mirror signals through the data planes' eventfd: once the destination holds
 * everything, the switch (pause: nothing in flight, the source flushed; still clean? detach,
 * stop the copier, switch every queue to the destination, which flushes it, record it in
 * xenblkd-active-image, resume). A failed mirror is cleaned up the same way as a cancel. The
 * switch is recorded only after the destination is complete and flushed, so a crash before it
 * restarts on the source, and the mirror is simply gone.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xenblkd/log.h"
#include "xenblkd/mirror.h"
#include "xenblkd/vbd.h"
#include "xenblkd/xs_value.h"

#define MIRROR_PAUSE_MS 10000

/* Pause for an operation; an administrator's own pause stays when we resume. */
static int quiesce(struct xbd_vbd *v, bool *was_paused)
{
	int r;

	*was_paused = v->paused;
	r = xbd_vbd_pause(v, MIRROR_PAUSE_MS);
	if (r && !*was_paused)
		xbd_vbd_resume(v);
	return r;
}

static void unquiesce(struct xbd_vbd *v, bool was_paused)
{
	if (!was_paused)
		xbd_vbd_resume(v);
}

static void detach_all(struct xbd_vbd *v, unsigned int n)
{
	for (unsigned int q = 0; q < n; q++)
		if (xbd_dataplane_mirror_detach(v->dp[q]))
			xbd_err(v->prefix, "mirror: queue %u did not detach", q);
}

/* The mirror is gone: free it and the destination (left as it is on disk). */
static void drop(struct xbd_vbd *v)
{
	xbd_mirror_free(v->mirror);
	xbd_disk_close(v->mirror_dst);
	free(v->mirror_dest);
	v->mirror = NULL;
	v->mirror_dst = NULL;
	v->mirror_dest = NULL;
}

static int attach_all(struct xbd_vbd *v)
{
	for (unsigned int q = 0; q < v->nr_queues; q++) {
		int r = xbd_dataplane_mirror_attach(v->dp[q], v->mirror, v->mirror_dst);

		if (r) {
			detach_all(v, q);
			return r;
		}
	}
	return 0;
}

static int open_destination(struct xbd_vbd *v, const char *spec, char *why, size_t len)
{
	enum xbd_format fmt;
	const char *path;
	int r;

	if (!strchr(spec, ':') || xbd_parse_params(spec, &fmt, &path)) {
		snprintf(why, len, "destination '%.200s' is not FORMAT:/absolute/path (raw or "
			 "qcow2)", spec);
		return -EINVAL;
	}
	r = xbd_vbd_open_disk(v, fmt, path, NULL, 0, &v->mirror_dst);
	if (r) {
		snprintf(why, len, "cannot open %s: %s%s", path, strerror(-r), r == -ENOENT ?
			 " (create it first, with the disk's exact size)" : r == -EBUSY ?
			 " (another program holds it)" : "");
		return r;
	}
	r = xbd_vbd_check_replacement(v, v->mirror_dst, why, len);
	if (!r && xbd_disk_get_info(v->mirror_dst)->readonly)
		r = -EROFS;
	if (r) {
		xbd_disk_close(v->mirror_dst);
		v->mirror_dst = NULL;
		return r;
	}
	v->mirror_dest = strdup(spec);
	return v->mirror_dest ? 0 : -ENOMEM;
}

int xbd_vbd_mirror_start(struct xbd_vbd *v, const char *spec, char *why, size_t len)
{
	bool was_paused;
	int r;

	if (v->mirror || !v->nr_queues || v->readonly || v->opt->driver || v->export) {
		snprintf(why, len, "%s", v->mirror ? "a mirror is running already (--status, "
			 "--cancel)" : v->readonly ? "the VBD is read-only: copy it with qemu-img"
			 : v->opt->driver ? "this VBD serves a test driver" : v->export ?
			 "the disk is exported on NBD (nbd-export), whose writes a mirror would "
			 "miss" : "the frontend is not connected: copy the image offline");
		return -EBUSY;
	}
	r = open_destination(v, spec, why, len);
	if (r)
		return r;
	r = xbd_mirror_start(v->disk, v->mirror_dst, v->dp_notify_fd, v->prefix, &v->mirror);
	if (r) {
		snprintf(why, len, "cannot start the copier: %s", strerror(-r));
		drop(v);
		return r;
	}
	r = quiesce(v, &was_paused);
	if (!r) {
		r = attach_all(v);
		unquiesce(v, was_paused);
	}
	if (r) {
		snprintf(why, len, "cannot attach it to the queues: %s", strerror(-r));
		drop(v);
	} else {
		v->mirror_last[0] = '\0';
		xbd_info(v->prefix, "mirror to %s started", spec);
	}
	return r;
}

static void end_mirror(struct xbd_vbd *v, const char *how)
{
	bool was_paused;

	if (quiesce(v, &was_paused) == 0) {
		detach_all(v, v->nr_queues);
		unquiesce(v, was_paused);
	} else {
		/* Writes may still be on their way to it: stop the copier, keep the queues'
		 * destination open, try again at the next signal. */
		xbd_err(v->prefix, "mirror: cannot pause to detach it; will retry");
		return;
	}
	snprintf(v->mirror_last, sizeof(v->mirror_last), "%s", how);
	drop(v);
}

int xbd_vbd_mirror_cancel(struct xbd_vbd *v, char *why, size_t len)
{
	char how[320];

	if (!v->mirror) {
		snprintf(why, len, "no mirror is running");
		return -ENOENT;
	}
	snprintf(how, sizeof(how), "cancelled; %.250s left as it was", v->mirror_dest);
	end_mirror(v, how);
	if (v->mirror) {
		snprintf(why, len, "the queues did not pause in time; try again");
		return -ETIMEDOUT;
	}
	xbd_info(v->prefix, "mirror %s", how);
	return 0;
}

/* Ready: switch, if nothing got dirty meanwhile. */
static void try_switch(struct xbd_vbd *v)
{
	struct xbd_disk *dst = v->mirror_dst;
	enum xbd_format fmt;
	const char *path;
	char why[300], how[320];
	bool was_paused;

	if (quiesce(v, &was_paused))
		return; /* the copier signals again while clean */
	if (!xbd_mirror_clean(v->mirror) || !xbd_mirror_live(v->mirror)) {
		unquiesce(v, was_paused);
		return;
	}
	detach_all(v, v->nr_queues);
	xbd_mirror_free(v->mirror);
	v->mirror = NULL;
	xbd_parse_params(v->mirror_dest, &fmt, &path);
	if (xbd_vbd_switch_disk(v, dst, path, fmt, NULL, why, sizeof(why))) {
		snprintf(v->mirror_last, sizeof(v->mirror_last), "failed at the switch: %.280s", why);
		xbd_err(v->prefix, "mirror %s; the source keeps serving", v->mirror_last);
		xbd_disk_close(dst);
	} else {
		snprintf(how, sizeof(how), "switched to %.250s", v->mirror_dest);
		snprintf(v->mirror_last, sizeof(v->mirror_last), "%s", how);
		xbd_info(v->prefix, "mirror complete: %s (recorded in xenblkd-active-image)", how);
	}
	v->mirror_dst = NULL;
	free(v->mirror_dest);
	v->mirror_dest = NULL;
	unquiesce(v, was_paused);
}

void xbd_vbd_mirror_forget(struct xbd_vbd *v)
{
	struct xbd_mirror_status st;

	if (!v->mirror)
		return;
	xbd_mirror_get_status(v->mirror, &st);
	snprintf(v->mirror_last, sizeof(v->mirror_last), "%s: %.300s",
		 st.state == XBD_MIRROR_FAILED ? "failed" : "cancelled", st.why);
	drop(v);
}

void xbd_vbd_mirror_poll(struct xbd_vbd *v)
{
	struct xbd_mirror_status st;
	char how[320];

	if (!v->mirror)
		return;
	xbd_mirror_get_status(v->mirror, &st);
	if (st.state == XBD_MIRROR_FAILED) {
		snprintf(how, sizeof(how), "failed: %.300s", st.why);
		end_mirror(v, how);
	} else if (st.state == XBD_MIRROR_READY) {
		try_switch(v);
	}
}
