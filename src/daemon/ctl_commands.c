/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The control socket's verbs (ctl.h). Each takes its arguments as strings, checks them
 * strictly and answers {"ok": true, ...} or {"ok": false, "error": "..."}, so xenblkctl can
 * print the daemon's own words. They call the device object's operations on the control
 * thread: pause blocks it until the rings are quiet or the timeout passes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "notify.h"
#include "ctl_internal.h"
#include "xenblkd/xenbus_fsm.h"
#include "xenblkd/xs_value.h"

#define MAX_ARGS 4
#define PAUSE_TIMEOUT_DEFAULT_MS 10000
#define PAUSE_TIMEOUT_MAX_MS 600000

static const char *const level_names[] = {
	[XBD_LOG_ERR] = "err", [XBD_LOG_WARN] = "warn", [XBD_LOG_INFO] = "info",
	[XBD_LOG_DEBUG] = "debug",
};

static struct json_object *fail(const char *fmt, const char *arg)
{
	struct json_object *o = json_object_new_object();
	char msg[256];

	snprintf(msg, sizeof(msg), fmt, arg ? arg : "");
	json_object_object_add(o, "ok", json_object_new_boolean(0));
	json_object_object_add(o, "error", json_object_new_string(msg));
	return o;
}

static struct json_object *ok(struct json_object *o)
{
	if (!o)
		o = json_object_new_object();
	json_object_object_add(o, "ok", json_object_new_boolean(1));
	return o;
}

static const char *state_at(struct xbd_vbd *v, const char *dir)
{
	char *s = NULL;
	enum xenbus_state st = XenbusStateUnknown;

	if (dir && xbd_xb_read(v, dir, "state", &s) == 0)
		st = xbd_fsm_parse_state(s);
	free(s);
	return xbd_fsm_state_name(st);
}

static struct json_object *info(struct xbd_ctl *c)
{
	struct xbd_vbd *v = c->v;
	struct json_object *o = json_object_new_object();
	struct json_object *lim = json_object_new_object();
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	json_object_object_add(o, "backend", json_object_new_string(v->be_path));
	json_object_object_add(o, "vbd", json_object_new_string(v->prefix));
	json_object_object_add(o, "pid", json_object_new_int((int)getpid()));
	json_object_object_add(o, "state", json_object_new_string(state_at(v, v->be_path)));
	json_object_object_add(o, "frontend_state",
			       json_object_new_string(state_at(v, v->fe_path)));
	json_object_object_add(o, "queues", json_object_new_int((int)v->nr_queues));
	json_object_object_add(o, "paused", json_object_new_boolean(v->paused));
	json_object_object_add(o, "readonly", json_object_new_boolean(v->readonly));
	xbd_ctl_info_identity(v, o);
	json_object_object_add(o, "grant_mode",
			       json_object_new_string(xbd_grant_mode_name(v->grant_mode)));
	json_object_object_add(o, "sectors", json_object_new_uint64(v->info ? v->info->size / 512 : 0));
	json_object_object_add(o, "log_level",
			       json_object_new_string(level_names[c->log_level]));
	json_object_object_add(o, "uptime_s",
			       json_object_new_int64((int64_t)(now.tv_sec - c->started.tv_sec)));
	json_object_object_add(lim, "iops", json_object_new_uint64(v->limit_iops));
	json_object_object_add(lim, "bps", json_object_new_uint64(v->limit_bps));
	json_object_object_add(o, "limits", lim);
	xbd_ctl_image_info(c, o);
	return o;
}

static struct json_object *stats(struct xbd_ctl *c)
{
	struct json_object *o = info(c);
	struct json_object *s = xbd_ctl_stats_reply(c);

	json_object_object_foreach(s, key, val)
		json_object_object_add(o, key, json_object_get(val));
	json_object_put(s);
	return o;
}

static struct json_object *pause_cmd(struct xbd_ctl *c, int argc, char **argv)
{
	uint64_t ms = PAUSE_TIMEOUT_DEFAULT_MS;
	int r;

	if (argc > 1 && xbd_parse_uint(argv[1], PAUSE_TIMEOUT_MAX_MS, &ms))
		return fail("pause: timeout '%s' is not a number of milliseconds (max 600000)",
			    argv[1]);
	r = xbd_vbd_pause(c->v, (int)ms);
	xbd_info(c->v->prefix, "paused by the control socket%s",
		 r ? ": still draining after the timeout" : "");
	xbd_notify_status(r ? "pausing" : "paused");
	if (r)
		return fail("pause: in-flight requests did not finish in time (%s); the VBD "
			    "stays paused", strerror(-r));
	return ok(NULL);
}

static struct json_object *resume_cmd(struct xbd_ctl *c)
{
	xbd_vbd_resume(c->v);
	xbd_info(c->v->prefix, "resumed by the control socket");
	xbd_notify_status("running");
	return ok(NULL);
}

static struct json_object *resize_cmd(struct xbd_ctl *c)
{
	int r = xbd_vbd_resize(c->v);
	struct json_object *o;

	if (r)
		return fail("resize: %s", strerror(-r));
	o = json_object_new_object();
	json_object_object_add(o, "sectors", json_object_new_uint64(c->v->info->size / 512));
	return ok(o);
}

static struct json_object *level_cmd(struct xbd_ctl *c, int argc, char **argv)
{
	for (unsigned int l = 0; argc == 2 && l < sizeof(level_names) / sizeof(*level_names); l++)
		if (level_names[l] && !strcmp(argv[1], level_names[l])) {
			c->log_level = (enum xbd_log_level)l;
			xbd_log_set_level(c->log_level);
			return ok(NULL);
		}
	return fail("log-level: '%s' is not err, warn, info or debug", argc > 1 ? argv[1] : "");
}

static struct json_object *limits_cmd(struct xbd_ctl *c, int argc, char **argv)
{
	uint64_t iops, bps;
	struct json_object *o;

	if (argc == 3) {
		if (xbd_parse_uint(argv[1], UINT32_MAX, &iops))
			return fail("limits: IOPS '%s' is not a number in 0..4294967295", argv[1]);
		if (xbd_parse_uint(argv[2], UINT64_MAX >> 1, &bps))
			return fail("limits: bytes per second '%s' is not a number", argv[2]);
		xbd_vbd_set_limits(c->v, iops, bps);
		xbd_info(c->v->prefix, "limits set by the control socket: %llu IOPS, %llu bytes/s",
			 (unsigned long long)iops, (unsigned long long)bps);
	} else if (argc != 1) {
		return fail("limits: give no arguments or IOPS and BYTES-PER-SECOND%s", NULL);
	}
	o = json_object_new_object();
	json_object_object_add(o, "iops", json_object_new_uint64(c->v->limit_iops));
	json_object_object_add(o, "bps", json_object_new_uint64(c->v->limit_bps));
	return ok(o);
}

static int split(char *line, char **argv)
{
	int argc = 0;

	for (char *save = NULL, *t = strtok_r(line, " \t", &save); t && argc < MAX_ARGS;
	     t = strtok_r(NULL, " \t", &save))
		argv[argc++] = t;
	return argc;
}

void xbd_ctl_command(struct xbd_ctl *c, char *line, struct json_object **reply)
{
	char *argv[MAX_ARGS] = { 0 };
	int argc = split(line, argv);
	const char *verb = argc ? argv[0] : "";

	if (!strcmp(verb, "info") && argc == 1)
		*reply = ok(info(c));
	else if (!strcmp(verb, "stats") && argc == 1)
		*reply = ok(stats(c));
	else if (!strcmp(verb, "pause") && argc <= 2)
		*reply = pause_cmd(c, argc, argv);
	else if (!strcmp(verb, "resume") && argc == 1)
		*reply = resume_cmd(c);
	else if (!strcmp(verb, "resume") && argc <= 3)
		*reply = xbd_ctl_resume_image(c, argv[1], argc == 3 ? argv[2] : NULL);
	else if (!strcmp(verb, "mirror") && argc == 2)
		*reply = xbd_ctl_mirror(c, verb, argv[1]);
	else if (!strcmp(verb, "mirror-cancel") && argc == 1)
		*reply = xbd_ctl_mirror(c, verb, NULL);
	else if (!strcmp(verb, "mirror-status") && argc == 1)
		*reply = xbd_ctl_mirror_status(c);
	else if (!strcmp(verb, "resize") && argc == 1)
		*reply = resize_cmd(c);
	else if (!strcmp(verb, "log-level"))
		*reply = level_cmd(c, argc, argv);
	else if (!strcmp(verb, "limits"))
		*reply = limits_cmd(c, argc, argv);
	else if (!strcmp(verb, "upgrade") && argc <= 2)
		*reply = xbd_ctl_upgrade(c, argc == 2 ? argv[1] : NULL);
	else
		*reply = fail("unknown request '%s' (info, stats, pause, resume, resize, "
			      "log-level, limits, mirror, mirror-cancel, mirror-status, upgrade)",
			      verb);
}
