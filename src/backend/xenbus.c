/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The device's xenstore traffic: the features and disk facts we publish, our state node, the
 * frontend's ring details, and fatal errors. The toolstack's keys are read once, by
 * vbd_config.c. Values the frontend wrote are parsed with the strict parsers of xs_value.c
 * before any use.
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
#include "util/trace.h"

/* A fatal error's message; escaped, it takes at most four times as much. */
#define FATAL_MSG_MAX 512

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

/* Our backend directory, read inside the transaction: 0, or -ENOENT once it is removed. */
static int device_exists(struct xbd_vbd *v, uint32_t tx)
{
	char *s = NULL;
	int r = v->xen->xs_read(v->xs, tx, v->be_path, &s);

	free(s);
	return r;
}

/*
 * Run `fn` inside a xenstore transaction, redone while it ends with EAGAIN, and only while our
 * directory exists. xenstore creates missing parents, so a write after the toolstack removed
 * the directory would bring it back, and we would then wait forever for a removal that already
 * happened (Linux's xenbus_switch_state reads the node in its transaction for the same reason).
 * -ENOENT when the directory is gone.
 */
static int in_transaction(struct xbd_vbd *v, int (*fn)(struct xbd_vbd *v, uint32_t tx, int arg),
			  int arg)
{
	uint32_t tx;
	int r;

	do {
		r = v->xen->xs_tx_begin(v->xs, &tx);
		if (r)
			return r;
		r = device_exists(v, tx);
		if (!r)
			r = fn(v, tx, arg);
		if (r) {
			v->xen->xs_tx_end(v->xs, tx, true);
			return r;
		}
		r = v->xen->xs_tx_end(v->xs, tx, false);
	} while (r == -EAGAIN);
	return r;
}

static const char *active_image, *active_backing; /* for write_active, control thread */

static int write_active(struct xbd_vbd *v, uint32_t tx, int arg)
{
	char path[600];
	int r;

	(void)arg;
	snprintf(path, sizeof(path), "%s/xenblkd-active-image", v->be_path);
	r = v->xen->xs_write(v->xs, tx, path, active_image);
	snprintf(path, sizeof(path), "%s/xenblkd-active-backing", v->be_path);
	if (!r && active_backing)
		r = v->xen->xs_write(v->xs, tx, path, active_backing);
	else if (!r && (r = v->xen->xs_rm(v->xs, tx, path)) == -ENOENT)
		r = 0;
	return r;
}

int xbd_xb_record_active(struct xbd_vbd *v, const char *image, const char *backing)
{
	active_image = image;
	active_backing = backing;
	return in_transaction(v, write_active, 0);
}

static int write_discard_keys(struct xbd_vbd *v, uint32_t tx)
{
	int r = write_key(v, tx, "feature-discard", "%d", v->offer_discard);

	if (r || !v->offer_discard)
		return r;
	r = write_key(v, tx, "discard-granularity", "%u", v->info->discard_granularity);
	if (!r)
		r = write_key(v, tx, "discard-alignment", "%u", v->info->discard_alignment);
	if (!r)
		r = write_key(v, tx, "discard-secure", "%d", v->offer_secure);
	return r;
}

/* The queues we offer: the option's, within what the disk serves consistently (an NBD export
 * without multi-conn: one). */
static unsigned int offered_queues(const struct xbd_vbd *v)
{
	unsigned int m = v->opt->max_queues;

	if (v->info && v->info->max_queues && v->info->max_queues < m)
		m = v->info->max_queues;
	return m;
}

static int write_features(struct xbd_vbd *v, uint32_t tx, int arg)
{
	const struct xbd_vbd_options *o = v->opt;
	int r;

	r = write_key(v, tx, "feature-flush-cache", "%d", v->offer_flush);
	if (!r)
		r = write_key(v, tx, "feature-barrier", "%d", v->offer_barrier);
	if (!r)
		r = write_discard_keys(v, tx);
	if (!r)
		r = write_key(v, tx, "feature-persistent", "%d",
			      v->grant_mode == XBD_GRANT_PERSISTENT);
	if (!r && o->max_indirect_segs)
		r = write_key(v, tx, "feature-max-indirect-segments", "%u", o->max_indirect_segs);
	if (!r)
		r = write_key(v, tx, "max-ring-page-order", "%u", o->max_ring_order);
	if (!r)
		r = write_key(v, tx, "multi-queue-max-queues", "%u", offered_queues(v));
	return r;
}

int xbd_xb_publish_features(struct xbd_vbd *v)
{
	return in_transaction(v, write_features, 0);
}

static int write_withdrawn(struct xbd_vbd *v, uint32_t tx, int arg)
{
	int r = write_key(v, tx, "feature-flush-cache", "%d", v->offer_flush);

	if (!r)
		r = write_key(v, tx, "feature-barrier", "%d", v->offer_barrier);
	if (!r)
		r = write_key(v, tx, "feature-discard", "%d", v->offer_discard);
	return r;
}

int xbd_xb_withdraw(struct xbd_vbd *v, unsigned int lost)
{
	if (lost & XBD_DP_LOST_FLUSH)
		v->offer_flush = false;
	if (lost & XBD_DP_LOST_BARRIER)
		v->offer_barrier = false;
	if (lost & XBD_DP_LOST_DISCARD)
		v->offer_discard = false;
	xbd_warn(v->prefix, "the backing store refused an operation: withdrawing%s%s%s",
		 lost & XBD_DP_LOST_FLUSH ? " flush" : "", lost & XBD_DP_LOST_BARRIER ? " barrier" : "",
		 lost & XBD_DP_LOST_DISCARD ? " discard" : "");
	return in_transaction(v, write_withdrawn, 0);
}

static int write_disk(struct xbd_vbd *v, uint32_t tx, int arg)
{
	/* `sectors` is always in 512-byte units (blkif.h, the 2024 rule); sector-size only
	 * constrains alignment. */
	int r = write_key(v, tx, "sectors", "%" PRIu64, v->info->size / XBD_BLKIF_SECTOR_SIZE);

	if (!r)
		r = write_key(v, tx, "info", "%u", v->info_flags);
	if (!r)
		r = write_key(v, tx, "sector-size", "%u", v->info->sector_size);
	if (!r)
		r = write_key(v, tx, "physical-sector-size", "%u", v->info->physical_sector_size);
	return r;
}

int xbd_xb_publish_disk(struct xbd_vbd *v)
{
	return in_transaction(v, write_disk, 0);
}

static int write_state(struct xbd_vbd *v, uint32_t tx, int s)
{
	return write_key(v, tx, "state", "%d", s);
}

int xbd_xb_switch_state(struct xbd_vbd *v, enum xenbus_state s)
{
	int r;

	xbd_log_id(XBD_LOG_INFO, v->prefix, XBD_MSGID_STATE, "state -> %s", xbd_fsm_state_name(s));
	XBD_TRACE(xen_device_backend_state, v->fe_domid, v->devid, (int)s, xbd_fsm_state_name(s));
	r = in_transaction(v, write_state, (int)s);
	if (r == -ENOENT)
		xbd_info(v->prefix, "state not written: the device directory is gone");
	return r;
}

static int read_uint_at(struct xbd_vbd *v, const char *dir, const char *key, uint64_t max,
			uint64_t *out)
{
	char *s = NULL;
	int r = xbd_xb_read(v, dir, key, &s);

	if (!r)
		r = xbd_parse_uint(s, max, out);
	free(s);
	return r;
}

/* An optional frontend number: absent is `dflt`; present must parse and be <= max. */
static int read_optional(struct xbd_vbd *v, const char *key, uint64_t max, uint64_t dflt,
			 uint64_t *out)
{
	int r = read_uint_at(v, v->fe_path, key, max, out);

	if (r == -ENOENT) {
		*out = dflt;
		return 0;
	}
	if (r)
		xbd_xb_fatal(v, -r, "bad %s in %s (max %llu)", key, v->fe_path,
			     (unsigned long long)max);
	return r;
}

/* One queue's ring references and event channel, under `dir`. */
static int read_queue(struct xbd_vbd *v, const char *dir, unsigned int order, uint32_t *refs,
		      uint32_t *port)
{
	unsigned int n = 1u << order;
	uint64_t val;
	char key[24];
	int r;

	for (unsigned int i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "ring-ref%u", i);
		r = read_uint_at(v, dir, key, UINT32_MAX, &val);
		if (r == -ENOENT && order == 0)
			r = read_uint_at(v, dir, "ring-ref", UINT32_MAX, &val);
		if (r) {
			xbd_xb_fatal(v, -r, "reading %s/%s", dir, key);
			return r;
		}
		refs[i] = (uint32_t)val;
	}
	r = read_uint_at(v, dir, "event-channel", UINT32_MAX, &val);
	if (r)
		xbd_xb_fatal(v, -r, "reading %s/event-channel", dir);
	else
		*port = (uint32_t)val;
	return r;
}

static int read_protocol(struct xbd_vbd *v, struct xbd_fe_params *p)
{
	char *proto = NULL;
	int r = xbd_xb_read(v, v->fe_path, "protocol", &proto);

	if (r && r != -ENOENT) {
		xbd_xb_fatal(v, -r, "reading protocol from %s", v->fe_path);
		return r;
	}
	/* An absent `protocol` means native, as in QEMU (Linux blkback assumes x86_32). */
	r = xbd_proto_from_string(proto, &p->proto);
	if (r)
		xbd_xb_fatal(v, -r, "unknown protocol %.32s", proto);
	free(proto);
	return r;
}

int xbd_xb_read_frontend(struct xbd_vbd *v, struct xbd_fe_params *p)
{
	uint64_t order, queues, pers;
	char dir[512];
	int r;

	r = read_optional(v, "ring-page-order", v->opt->max_ring_order, 0, &order);
	if (!r)
		r = read_optional(v, "multi-queue-num-queues", offered_queues(v), 1, &queues);
	if (!r && queues == 0) {
		r = -EINVAL;
		xbd_xb_fatal(v, EINVAL, "multi-queue-num-queues is 0");
	}
	if (r)
		return r;
	p->ring_order = (unsigned int)order;
	p->nr_queues = (unsigned int)queues;
	for (unsigned int q = 0; q < p->nr_queues && !r; q++) {
		if (p->nr_queues == 1)
			snprintf(dir, sizeof(dir), "%s", v->fe_path);
		else
			snprintf(dir, sizeof(dir), "%s/queue-%u", v->fe_path, q);
		r = read_queue(v, dir, p->ring_order, p->ring_refs[q], &p->ports[q]);
	}
	if (!r)
		r = read_protocol(v, p);
	p->persistent = read_uint_at(v, v->fe_path, "feature-persistent", 1, &pers) == 0 && pers;
	return r;
}

/* The message may quote a frontend's value, and the toolstack shows this node to an admin
 * (xl prints it): escaped with the log's rules, so it holds no control character either. */
static void write_error_node(struct xbd_vbd *v, const char *msg)
{
	char path[600], text[4 * FATAL_MSG_MAX];
	const char *rel = v->be_path + strlen(v->be_home);

	xbd_log_escape(msg, strlen(msg), text, sizeof(text));
	XBD_TRACE(xen_device_fatal, v->fe_domid, v->devid, text);
	if (snprintf(path, sizeof(path), "%s/error%s/error", v->be_home, rel) < (int)sizeof(path))
		v->xen->xs_write(v->xs, XBD_XS_NO_TX, path, text);
}

void xbd_xb_fatal(struct xbd_vbd *v, int err, const char *fmt, ...)
{
	char msg[FATAL_MSG_MAX];
	int n;
	va_list ap;

	n = snprintf(msg, sizeof(msg), "%d ", err);
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	va_end(ap);
	xbd_log_id(XBD_LOG_ERR, v->prefix, XBD_MSGID_FATAL, "fatal: %s", msg + n);
	write_error_node(v, msg);
	xbd_xb_switch_state(v, XenbusStateClosing);
}
