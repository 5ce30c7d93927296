/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Reads a VBD's toolstack configuration from its backend directory (see vbd_config.h), on a
 * short-lived connection of its own, before the device object exists. Every value goes
 * through the strict parsers of xs_value.c; a bad one is reported with the key's name and
 * what to do, so that the daemon can refuse to start before it writes anything.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/conf.h"
#include "xenblkd/vbd_config.h"
#include "xenblkd/xs_value.h"

struct reader {
	const struct xbd_xen_ops *xen;
	struct xbd_xs *xs;
	const char *dir;
	char *why;
	size_t len;
	int err; /* the first problem */
};

static int problem(struct reader *rd, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int problem(struct reader *rd, int err, const char *fmt, ...)
{
	va_list ap;

	if (rd->err)
		return err;
	rd->err = err;
	va_start(ap, fmt);
	vsnprintf(rd->why, rd->len, fmt, ap);
	va_end(ap);
	return err;
}

/* A key of `dir`, malloc'd, or NULL when absent; a failing xenstore is a problem. */
static char *read_at(struct reader *rd, const char *dir, const char *key)
{
	char path[512];
	char *val = NULL;
	int r;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, key) >= sizeof(path)) {
		problem(rd, -ENAMETOOLONG, "%s/%s: path too long", dir, key);
		return NULL;
	}
	r = rd->xen->xs_read(rd->xs, XBD_XS_NO_TX, path, &val);
	if (r && r != -ENOENT)
		problem(rd, r, "reading %s: %s", path, strerror(-r));
	return r ? NULL : val;
}

/* A 0/1 key: `dflt` when absent. */
static bool flag(struct reader *rd, const char *key, bool dflt)
{
	char *s = read_at(rd, rd->dir, key);
	uint64_t v = dflt;

	if (s && xbd_parse_uint(s, 1, &v))
		problem(rd, -EINVAL, "%s is '%.32s', not 0 or 1", key, s);
	free(s);
	return v;
}

static void read_frontend(struct reader *rd, struct xbd_vbd_config *c)
{
	char *id = read_at(rd, rd->dir, "frontend-id");
	uint64_t v;

	c->frontend = read_at(rd, rd->dir, "frontend");
	if (!c->frontend)
		problem(rd, -EINVAL, "no frontend key: the toolstack did not finish the device");
	if (!id)
		problem(rd, -EINVAL, "no frontend-id key: the toolstack did not finish the device");
	else if (xbd_parse_uint(id, 0x7fef, &v)) /* below DOMID_FIRST_RESERVED */
		problem(rd, -EINVAL, "frontend-id '%.16s' is not a domain id", id);
	else
		c->frontend_id = (uint16_t)v;
	free(id);
}

static void read_params(struct reader *rd, struct xbd_vbd_config *c)
{
	c->params = read_at(rd, rd->dir, "params");
	c->params_err = c->params ? xbd_parse_params(c->params, &c->format, &c->image) : -ENOENT;
	if (c->params_err)
		c->image = NULL;
}

int xbd_vbd_config_check_params(const struct xbd_vbd_config *c, char *why, size_t len)
{
	const char *colon = c->params ? strchr(c->params, ':') : NULL;

	/* An NBD target is checked whole here, so a bad one is refused with its reason before
	 * anything connects. */
	if (!c->params_err && c->format == XBD_FORMAT_NBD &&
	    xbd_storage_check_nbd_target(c->image, why, len))
		return -EINVAL;
	if (c->params_err == -ENOENT)
		snprintf(why, len, "no params key: nothing to serve (give the disk a target)");
	else if (c->params_err == -EPROTONOSUPPORT && colon)
		snprintf(why, len, "format %.*s is not served: convert it with qemu-img convert "
			 "-O qcow2", (int)(colon - c->params), c->params);
	else if (c->params_err)
		snprintf(why, len, "params '%.200s' is not [FORMAT:]/absolute/path (formats: raw, "
			 "aio, file, phy, qcow2), an NBD target (nbd:unix:/path, nbd://host/export, "
			 "nbd+unix:///export?socket=/path) or rbd:POOL/IMAGE[@SNAP][:OPTION=VALUE...]",
			 c->params);
	return c->params_err == -ENOENT ? -EINVAL : c->params_err;
}

static void read_mode(struct reader *rd, struct xbd_vbd_config *c)
{
	char *mode = read_at(rd, rd->dir, "mode");

	c->readonly = false;
	if (mode && xbd_parse_mode(mode, &c->readonly))
		problem(rd, -EINVAL, "mode '%.16s' is not r or w", mode);
	free(mode);
}

/* The I/O limits a toolstack may set per VBD; they win over the daemon's options. */
static void read_limits(struct reader *rd, struct xbd_vbd_config *c)
{
	char *iops = read_at(rd, rd->dir, "limit-iops");
	char *bps = read_at(rd, rd->dir, "limit-bps");

	c->has_limit_iops = iops && !xbd_parse_uint(iops, UINT32_MAX, &c->limit_iops);
	if (iops && !c->has_limit_iops)
		problem(rd, -EINVAL, "limit-iops '%.32s' is not a number in 0..4294967295", iops);
	c->has_limit_bps = bps && !xbd_conf_bytes(bps, &c->limit_bps);
	if (bps && !c->has_limit_bps)
		problem(rd, -EINVAL, "limit-bps '%.32s' is not a number of bytes (e.g. 50M)", bps);
	free(iops);
	free(bps);
}

/* xenblkd-poll-us: how long the data threads poll before they sleep (tapdisk3's
 * polling-duration): latency at low queue depth bought with CPU, so per VBD. */
static void read_polling(struct reader *rd, struct xbd_vbd_config *c)
{
	char *s = read_at(rd, rd->dir, "xenblkd-poll-us");
	uint64_t v = 0;

	c->has_poll_us = s && !xbd_parse_uint(s, XBD_POLL_US_MAX, &v);
	if (s && !c->has_poll_us)
		problem(rd, -EINVAL, "xenblkd-poll-us '%.32s' is not a number in 0..%u", s,
			XBD_POLL_US_MAX);
	c->poll_us = (unsigned int)v;
	free(s);
}

/* xenblkd-backing: the qcow2 backing chain as the toolstack configured it (FORMAT:PATH|...),
 * checked here so that a bad one is the toolstack's fault, reported in its error node. */
static void read_backing(struct reader *rd, struct xbd_vbd_config *c)
{
	struct xbd_backing_file chain[XBD_MAX_BACKING_CHAIN];
	unsigned int n = 0;
	char *copy;

	c->backing = read_at(rd, rd->dir, "xenblkd-backing");
	if (!c->backing)
		return;
	copy = strdup(c->backing);
	if (!copy || xbd_parse_backing_chain(copy, chain, XBD_MAX_BACKING_CHAIN, &n))
		problem(rd, -EINVAL, "xenblkd-backing '%.200s' is not FORMAT:PATH (qcow2 or raw, "
			"an absolute path), at most 16 separated by |", c->backing);
	free(copy);
}

/* xenblkd-format: the image's format as the toolstack states it, beside params (whose
 * prefix libxl's tap path always writes as aio:). Never taken from the image's bytes. */
static void read_format(struct reader *rd, struct xbd_vbd_config *c)
{
	char *s = read_at(rd, rd->dir, "xenblkd-format");

	c->has_format_key = s && !xbd_parse_format(s, &c->format_key);
	if (s && !c->has_format_key)
		problem(rd, -EINVAL, "xenblkd-format '%.32s' is not qcow2 or raw", s);
	free(s);
}

/* What the daemon recorded when it switched images (vbd_image.c); a bad value is refused,
 * never replaced by params, which would silently serve an older image. */
static void read_active(struct reader *rd, struct xbd_vbd_config *c)
{
	c->active = read_at(rd, rd->dir, "xenblkd-active-image");
	c->active_backing = read_at(rd, rd->dir, "xenblkd-active-backing");
	if (c->active && xbd_parse_params(c->active, &c->active_format, &c->active_image)) {
		c->active_image = NULL;
		problem(rd, -EINVAL, "xenblkd-active-image '%.200s' is not FORMAT:/absolute/path",
			c->active);
	}
	if (!c->active_backing || !c->active_backing[0])
		return;
	c->active_chain_text = strdup(c->active_backing);
	if (!c->active_chain_text ||
	    xbd_parse_backing_chain(c->active_chain_text, c->active_chain, XBD_MAX_BACKING_CHAIN,
				    &c->active_chain_len))
		problem(rd, -EINVAL, "xenblkd-active-backing '%.200s' is not FORMAT:PATH, at most "
			"16 separated by |", c->active_backing);
}

/* nbd-export: the toolstack's say on the NBD export (docs/admin.md), over the options. */
static void read_nbd_export(struct reader *rd, struct xbd_vbd_config *c)
{
	char *s = read_at(rd, rd->dir, "nbd-export");
	uint64_t v = 0;

	c->has_nbd_export = s && !xbd_parse_uint(s, 1, &v);
	if (s && !c->has_nbd_export)
		problem(rd, -EINVAL, "nbd-export is '%.32s', not 0 or 1", s);
	c->nbd_export = v;
	free(s);
}

static void read_options(struct reader *rd, struct xbd_vbd_config *c)
{
	char *s = read_at(rd, rd->dir, "grant-mode");

	if (s && xbd_grant_mode_from_string(s, &c->grant_mode))
		problem(rd, -EINVAL, "grant-mode '%.16s' is not copy, map or persistent", s);
	c->has_grant_mode = s && !rd->err;
	free(s);
	s = read_at(rd, rd->dir, "device-type");
	c->cdrom = s && !strcmp(s, "cdrom");
	free(s);
	c->type = read_at(rd, rd->dir, "type");
	c->removable = flag(rd, "removable", false);
	c->discard_enable = flag(rd, "discard-enable", true);
	c->direct_io_safe = flag(rd, "direct-io-safe", false);
	read_nbd_export(rd, c);
	read_limits(rd, c);
	read_polling(rd, c);
	read_backing(rd, c);
	read_format(rd, c);
	read_active(rd, c);
}

/* The frontend domain's name, for [vbd] match-domain; unknown is not an error. */
static void read_domain(struct reader *rd, struct xbd_vbd_config *c)
{
	char path[64];

	snprintf(path, sizeof(path), "/local/domain/%u/name", c->frontend_id);
	if (c->frontend && rd->xen->xs_read(rd->xs, XBD_XS_NO_TX, path, &c->domain))
		c->domain = NULL;
}

int xbd_vbd_config_read(const struct xbd_xen_ops *xen, const char *backend,
			struct xbd_vbd_config *c, char *why, size_t len)
{
	struct reader rd = { .xen = xen, .dir = backend, .why = why, .len = len };
	char *self = NULL;
	int r;

	memset(c, 0, sizeof(*c));
	why[0] = '\0';
	r = xen->xs_open(&rd.xs);
	if (r) {
		snprintf(why, len, "cannot reach xenstore: %s", strerror(-r));
		return r;
	}
	r = xen->xs_read(rd.xs, XBD_XS_NO_TX, backend, &self);
	free(self);
	if (r) {
		if (r == -ENOENT)
			snprintf(why, len, "backend directory %s is missing: the toolstack has not "
				 "created this device, or has removed it", backend);
		else
			snprintf(why, len, "reading %s: %s", backend, strerror(-r));
		xen->xs_close(rd.xs);
		return r;
	}
	read_frontend(&rd, c);
	read_params(&rd, c);
	read_mode(&rd, c);
	read_options(&rd, c);
	read_domain(&rd, c);
	xen->xs_close(rd.xs);
	return rd.err;
}

void xbd_vbd_config_free(struct xbd_vbd_config *c)
{
	free(c->frontend);
	free(c->params);
	free(c->type);
	free(c->domain);
	free(c->backing);
	free(c->active);
	free(c->active_backing);
	free(c->active_chain_text);
	memset(c, 0, sizeof(*c));
}
