/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The device's xenstore traffic: the toolstack's keys, the features and disk facts we publish,
 * our state node, the frontend's ring details, and fatal errors. Values the frontend wrote are
 * parsed with the strict parsers of xs_value.c before any use.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xenblkd/log.h"
#include "xenblkd/vbd.h"
#include "xenblkd/xs_value.h"

#define SECTOR 512u

int xbd_xb_read(struct xbd_vbd *v, const char *dir, const char *key, char **val)
{
	char path[512];

	if (snprintf(path, sizeof(path), "%s/%s", dir, key) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	return v->xen->xs_read(v->xs, XBD_XS_NO_TX, path, val);
}

static int write_key(struct xbd_vbd *v, uint32_t tx, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int write_key(struct xbd_vbd *v, uint32_t tx, const char *key, const char *fmt, ...)
{
	char path[512], val[64];
	va_list ap;

	if (snprintf(path, sizeof(path), "%s/%s", v->be_path, key) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	va_start(ap, fmt);
	vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	return v->xen->xs_write(v->xs, tx, path, val);
}

int xbd_xb_read_toolstack(struct xbd_vbd *v, char **params, char **mode)
{
	char *fe_id = NULL;
	uint64_t id;
	int r;

	r = xbd_xb_read(v, v->be_path, "frontend", &v->fe_path);
	if (!r)
		r = xbd_xb_read(v, v->be_path, "frontend-id", &fe_id);
	if (!r)
		r = xbd_parse_uint(fe_id, 0x7fef, &id); /* below DOMID_FIRST_RESERVED */
	free(fe_id);
	if (r) {
		xbd_err(v->prefix, "%s: missing or bad frontend/frontend-id", v->be_path);
		return r;
	}
	v->fe_domid = (uint16_t)id;
	r = xbd_xb_read(v, v->be_path, "mode", mode);
	if (r == -ENOENT) {
		*mode = strdup("w");
		r = *mode ? 0 : -ENOMEM;
	}
	if (r)
		return r;
	return xbd_xb_read(v, v->be_path, "params", params);
}

int xbd_xb_publish_features(struct xbd_vbd *v)
{
	/* Flush is the only cache feature for now; barrier and discard are not offered. */
	return write_key(v, XBD_XS_NO_TX, "feature-flush-cache", "1");
}

int xbd_xb_publish_disk(struct xbd_vbd *v)
{
	unsigned int info = v->readonly ? 4u /* VDISK_READONLY */ : 0u;
	uint32_t tx;
	int r;

	do {
		r = v->xen->xs_tx_begin(v->xs, &tx);
		if (r)
			return r;
		/* `sectors` is always in 512-byte units (blkif.h, the 2024 rule); sector-size only
		 * constrains alignment. */
		r = write_key(v, tx, "sectors", "%" PRIu64, v->info->size / SECTOR);
		if (!r)
			r = write_key(v, tx, "info", "%u", info);
		if (!r)
			r = write_key(v, tx, "sector-size", "%u", v->info->sector_size);
		if (!r)
			r = write_key(v, tx, "physical-sector-size", "%u",
				      v->info->physical_sector_size);
		if (r) {
			v->xen->xs_tx_end(v->xs, tx, true);
			return r;
		}
		r = v->xen->xs_tx_end(v->xs, tx, false);
	} while (r == -EAGAIN);
	return r;
}

int xbd_xb_switch_state(struct xbd_vbd *v, enum xenbus_state s)
{
	xbd_info(v->prefix, "state -> %s", xbd_fsm_state_name(s));
	return write_key(v, XBD_XS_NO_TX, "state", "%d", (int)s);
}

static int read_fe_uint(struct xbd_vbd *v, const char *key, uint64_t max, uint64_t *out)
{
	char *s = NULL;
	int r = xbd_xb_read(v, v->fe_path, key, &s);

	if (!r)
		r = xbd_parse_uint(s, max, out);
	free(s);
	return r;
}

/* The single-page ring's grant: `ring-ref`, or `ring-ref0` with `ring-page-order` 0. */
static int read_ring_ref(struct xbd_vbd *v, uint32_t *ref)
{
	uint64_t order = 0, val;
	int r;

	r = read_fe_uint(v, "ring-page-order", UINT32_MAX, &order);
	if (r && r != -ENOENT)
		return r;
	if (order > 0)
		return -EOPNOTSUPP; /* we offered no max-ring-page-order */
	r = read_fe_uint(v, "ring-ref", UINT32_MAX, &val);
	if (r == -ENOENT)
		r = read_fe_uint(v, "ring-ref0", UINT32_MAX, &val);
	if (!r)
		*ref = (uint32_t)val;
	return r;
}

int xbd_xb_read_ring(struct xbd_vbd *v, struct xbd_dataplane_cfg *cfg)
{
	char *proto = NULL;
	uint64_t port;
	int r;

	r = read_ring_ref(v, &cfg->ring_refs[0]);
	if (r) {
		xbd_xb_fatal(v, -r, "reading ring-ref from %s", v->fe_path);
		return r;
	}
	cfg->nr_ring_refs = 1;
	r = read_fe_uint(v, "event-channel", UINT32_MAX, &port);
	if (r) {
		xbd_xb_fatal(v, -r, "reading event-channel from %s", v->fe_path);
		return r;
	}
	cfg->remote_port = (uint32_t)port;
	r = xbd_xb_read(v, v->fe_path, "protocol", &proto);
	if (r && r != -ENOENT) {
		xbd_xb_fatal(v, -r, "reading protocol from %s", v->fe_path);
		return r;
	}
	/* An absent `protocol` means native, as in QEMU (Linux blkback assumes x86_32). */
	r = xbd_proto_from_string(proto, &cfg->proto);
	if (r)
		xbd_xb_fatal(v, -r, "unknown protocol %.32s", proto);
	free(proto);
	return r;
}

static void write_error_node(struct xbd_vbd *v, const char *msg)
{
	char path[600];
	const char *rel = v->be_path + strlen(v->be_home);

	if (snprintf(path, sizeof(path), "%s/error%s/error", v->be_home, rel) < (int)sizeof(path))
		v->xen->xs_write(v->xs, XBD_XS_NO_TX, path, msg);
}

void xbd_xb_fatal(struct xbd_vbd *v, int err, const char *fmt, ...)
{
	char msg[256];
	int n;
	va_list ap;

	n = snprintf(msg, sizeof(msg), "%d ", err);
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	va_end(ap);
	xbd_err(v->prefix, "fatal: %s", msg + n);
	write_error_node(v, msg);
	xbd_xb_switch_state(v, XenbusStateClosing);
}
