/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The device object's life cycle (see vbd.h): read the toolstack's configuration, open the
 * image, and carry out the state machine's actions: connect (read the frontend's ring details,
 * start the data plane, publish the disk), disconnect (drain, then unmap), and report the data
 * plane halting itself.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "xenblkd/log.h"
#include "xenblkd/vbd.h"
#include "xenblkd/xs_value.h"

/* /local/domain/<be>/backend/<kind>/<fe>/<devid>: the home prefix and a log prefix. */
static int split_backend_path(struct xbd_vbd *v, const char *path)
{
	const char *b = strstr(path, "/backend/");
	const char *devid = strrchr(path, '/');
	const char *fe;

	if (strncmp(path, "/local/domain/", 14) != 0 || !b || !devid || devid <= b + 9)
		return -EINVAL;
	fe = devid - 1;
	while (fe > b && *fe != '/')
		fe--;
	v->be_path = strdup(path);
	v->be_home = strndup(path, (size_t)(b - path));
	if (!v->be_path || !v->be_home)
		return -ENOMEM;
	snprintf(v->prefix, sizeof(v->prefix), "d%.*s/%s", (int)(devid - fe - 1), fe + 1,
		 devid + 1);
	return 0;
}

static int open_image(struct xbd_vbd *v, const char *params, const char *mode)
{
	struct xbd_disk_config cfg = {
		.format = XBD_FORMAT_RAW,
		.path = v->opt->image,
		.engine = v->opt->engine,
		.driver = v->opt->driver,
		.sector_size = v->opt->sector_size,
		.log_prefix = v->prefix,
	};
	int r = xbd_parse_mode(mode, &v->readonly);

	if (r) {
		xbd_err(v->prefix, "bad mode '%.16s'", mode);
		return r;
	}
	if (!cfg.path && !cfg.driver) {
		r = xbd_parse_params(params, &cfg.format, &cfg.path);
		if (r) {
			xbd_err(v->prefix, "cannot serve params '%.200s': %s", params, strerror(-r));
			return r;
		}
	}
	cfg.readonly = v->readonly;
	r = xbd_disk_open(&cfg, &v->disk);
	if (r) {
		xbd_err(v->prefix, "cannot open %s: %s", cfg.path ? cfg.path : cfg.driver,
			strerror(-r));
		return r;
	}
	v->info = xbd_disk_get_info(v->disk);
	xbd_info(v->prefix, "serving %s (%s, %llu bytes, %u-byte sectors, engine %s)",
		 cfg.path ? cfg.path : cfg.driver, v->readonly ? "read-only" : "read-write",
		 (unsigned long long)v->info->size, v->info->sector_size, v->info->engine_name);
	return 0;
}

int xbd_vbd_init(struct xbd_vbd *v, const struct xbd_xen_ops *xen,
		 const struct xbd_vbd_options *opt)
{
	char *params = NULL, *mode = NULL;
	int r;

	memset(v, 0, sizeof(*v));
	v->xen = xen;
	v->opt = opt;
	v->dp_notify_fd = -1;
	r = split_backend_path(v, opt->backend_path);
	if (r) {
		xbd_err(NULL, "bad backend path '%s'", opt->backend_path);
		return r;
	}
	r = xen->xs_open(&v->xs);
	if (r) {
		xbd_err(v->prefix, "cannot open xenstore: %s", strerror(-r));
		return r;
	}
	v->dp_notify_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (v->dp_notify_fd < 0)
		return -errno;
	r = xbd_xb_read_toolstack(v, &params, &mode);
	if (!r)
		r = open_image(v, params, mode);
	if (r && r != -ENOENT)
		xbd_xb_fatal(v, -r, "cannot open the disk image");
	free(params);
	free(mode);
	return r;
}

void xbd_vbd_fini(struct xbd_vbd *v)
{
	xbd_vbd_disconnect(v);
	xbd_disk_close(v->disk);
	if (v->dp_notify_fd >= 0)
		close(v->dp_notify_fd);
	if (v->xs)
		v->xen->xs_close(v->xs);
	free(v->be_path);
	free(v->be_home);
	free(v->fe_path);
	memset(v, 0, sizeof(*v));
}

static enum xenbus_state read_state(struct xbd_vbd *v, const char *dir)
{
	char *s = NULL;
	enum xenbus_state st = XenbusStateUnknown;

	if (dir && xbd_xb_read(v, dir, "state", &s) == 0)
		st = xbd_fsm_parse_state(s);
	free(s);
	return st;
}

int xbd_vbd_read_facts(struct xbd_vbd *v, struct xbd_fsm_facts *f)
{
	char *s = NULL;
	int r;

	r = v->xen->xs_read(v->xs, XBD_XS_NO_TX, v->be_path, &s);
	free(s);
	s = NULL;
	f->dev_present = r == 0;
	if (r && r != -ENOENT)
		return r;
	f->be = read_state(v, v->be_path);
	f->fe = read_state(v, v->fe_path);
	f->online = xbd_xb_read(v, v->be_path, "online", &s) == 0 && strcmp(s, "1") == 0;
	free(s);
	f->connected = v->dp != NULL;
	return 0;
}

static int connect(struct xbd_vbd *v)
{
	struct xbd_dataplane_cfg cfg = {
		.xen = v->xen,
		.fe_domid = v->fe_domid,
		.limits = {
			.capacity = v->info->size / 512u,
			.sector_size = v->info->sector_size,
			.readonly = v->readonly,
			.flush = true,
		},
		.disk = v->disk,
		.log_prefix = v->prefix,
		.notify_fd = v->dp_notify_fd,
	};
	int r = xbd_xb_read_ring(v, &cfg);

	if (r)
		return r;
	r = xbd_dataplane_start(&cfg, &v->dp);
	if (r) {
		xbd_xb_fatal(v, -r, "mapping ring-ref %u port %u", cfg.ring_refs[0],
			     cfg.remote_port);
		return r;
	}
	r = xbd_xb_publish_disk(v);
	if (r)
		xbd_xb_fatal(v, -r, "publishing the disk");
	else
		xbd_info(v->prefix, "connected: ring-ref %u, event channel %u, protocol %d",
			 cfg.ring_refs[0], cfg.remote_port, (int)cfg.proto);
	return r;
}

void xbd_vbd_disconnect(struct xbd_vbd *v)
{
	struct xbd_dataplane_stats st;

	if (!v->dp)
		return;
	xbd_dataplane_get_stats(v->dp, &st);
	xbd_dataplane_stop(v->dp);
	v->dp = NULL;
	xbd_info(v->prefix, "disconnected: %llu reads, %llu writes, %llu flushes, %llu errors, "
		 "%llu bad requests, %llu events, %llu notifies",
		 (unsigned long long)st.reads, (unsigned long long)st.writes,
		 (unsigned long long)st.flushes, (unsigned long long)st.errors,
		 (unsigned long long)st.bad_requests, (unsigned long long)st.events,
		 (unsigned long long)st.notifies);
}

int xbd_vbd_apply(struct xbd_vbd *v, const struct xbd_fsm_actions *a)
{
	int r;

	if (a->disconnect)
		xbd_vbd_disconnect(v);
	if (a->connect) {
		r = connect(v);
		if (r)
			return r; /* fatal already moved us to Closing */
	}
	if (a->set_state != XenbusStateUnknown) {
		if (a->set_state == XenbusStateInitWait) {
			r = xbd_xb_publish_features(v);
			if (!r)
				r = xbd_xb_publish_disk(v);
			if (r)
				return r;
		}
		return xbd_xb_switch_state(v, a->set_state);
	}
	return 0;
}

void xbd_vbd_check_halt(struct xbd_vbd *v)
{
	const char *reason;
	uint64_t cnt;

	if (read(v->dp_notify_fd, &cnt, sizeof(cnt)) < 0 || !v->dp)
		return;
	if (xbd_dataplane_halted(v->dp, &reason)) {
		xbd_vbd_disconnect(v);
		xbd_xb_fatal(v, EPROTO, "%s", reason);
	}
}
