/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The device object's life cycle (see vbd.h): take the toolstack's configuration (read and
 * checked by vbd_config.c), open the image, and carry out the state machine's actions:
 * connect (read the frontend's ring details, start the data plane, publish the disk),
 * disconnect (drain, then unmap), and report the data plane halting itself.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "util/testhook.h"
#include "xenblkd/log.h"
#include "xenblkd/mirror.h"
#include "xenblkd/vbd.h"
#include "xenblkd/xs_value.h"

/* The backend domain's id, between "/local/domain/" and "/backend/". */
static int backend_domid(const char *path, const char *b, uint16_t *out)
{
	const char *start = path + strlen("/local/domain/");
	char num[8];
	uint64_t id;

	if (b <= start || b - start >= (long)sizeof(num))
		return -EINVAL;
	snprintf(num, sizeof(num), "%.*s", (int)(b - start), start);
	if (xbd_parse_uint(num, 0x7fef, &id))
		return -EINVAL;
	*out = (uint16_t)id;
	return 0;
}

/* /local/domain/<be>/backend/<kind>/<fe>/<devid>: the home prefix and a log prefix. */
static int split_backend_path(struct xbd_vbd *v, const char *path)
{
	const char *b = strstr(path, "/backend/");
	const char *devid = strrchr(path, '/');
	const char *fe;
	uint64_t id;

	if (strncmp(path, "/local/domain/", 14) != 0 || !b || !devid || devid <= b + 9 ||
	    backend_domid(path, b, &v->be_domid))
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
	v->devid = xbd_parse_uint(devid + 1, UINT32_MAX, &id) ? 0 : (uint32_t)id;
	return 0;
}

bool xbd_vbd_path_valid(const char *path)
{
	struct xbd_vbd v;
	bool ok;

	memset(&v, 0, sizeof(v));
	ok = split_backend_path(&v, path) == 0;
	free(v.be_path);
	free(v.be_home);
	return ok;
}

/*
 * Will the I/O run on the guest's own pages (map or persistent grants)? Then the toolstack's
 * direct-io-safe matters: without it the kernel might still hold a page after an O_DIRECT I/O
 * completed (network storage retransmitting), so the daemon goes through the page cache, as
 * QEMU does. Local attach falls back to copy (grant_policy.c), so it never maps.
 */
static bool maps_guest_pages(struct xbd_vbd *v)
{
	bool local = v->fe_domid == v->be_domid && !v->opt->allow_local_map;

	return v->grant_mode != XBD_GRANT_COPY && !local;
}

/* The image did not open: say why and what to do, in the error node the toolstack shows. */
static void image_failed(struct xbd_vbd *v, const char *what, int r)
{
	if (r == -ENOENT)
		xbd_xb_fatal(v, -r, "image %s does not exist: create it, or give the disk the "
			     "right target", what);
	else if ((r == -EACCES || r == -EPERM || r == -EROFS) && !v->readonly)
		xbd_xb_fatal(v, -r, "cannot open %s read-write (%s): give the disk access=ro if "
			     "the guest may only read it", what, strerror(-r));
	else
		xbd_xb_fatal(v, -r, "cannot open %s: %s", what, strerror(-r));
}

/* The disk configuration every image of this VBD is opened with; the caller sets the image. */
static void base_config(struct xbd_vbd *v, struct xbd_disk_config *c)
{
	struct xbd_disk_config cfg = {
		.format = XBD_FORMAT_RAW,
		.engine = v->opt->engine,
		.readonly = v->readonly,
		.sector_size = v->opt->sector_size,
		.log_prefix = v->prefix,
	};

	/* Nothing to flush with: every write must be durable when it completes (O_DSYNC). */
	cfg.no_flush = v->opt->no_flush && v->opt->no_barrier;
	cfg.no_direct = maps_guest_pages(v) && !v->cfg->direct_io_safe;
	/* What xbd_vbd_resumable() relies on: completed writes' metadata is in the file. */
	cfg.meta_write_through = !v->opt->qcow2_write_back;
	cfg.backing_chain = v->opt->backing_chain;
	cfg.backing_chain_len = v->opt->backing_chain_len;
	cfg.backing_dirs = v->opt->backing_dirs;
	cfg.has_backing_dir_format = v->opt->has_backing_dir_format;
	cfg.backing_dir_format = v->opt->backing_dir_format;
	cfg.backing_trust_header_format = v->opt->backing_trust_header_format;
	cfg.backing_raw_ok = v->opt->backing_raw_ok;
	cfg.l2_cache_bytes = v->opt->l2_cache_bytes;
	cfg.run_dir = v->opt->run_dir;
	cfg.backend_path = v->opt->backend_path;
	*c = cfg;
}

int xbd_vbd_open_disk(struct xbd_vbd *v, enum xbd_format fmt, const char *path,
		      const struct xbd_backing_file *chain, unsigned int chain_len,
		      struct xbd_disk **out)
{
	struct xbd_disk_config cfg;

	base_config(v, &cfg);
	cfg.format = fmt;
	cfg.path = path;
	cfg.backing_chain = chain;
	cfg.backing_chain_len = chain_len;
	return xbd_disk_open(&cfg, out);
}

/* The image to serve: the one the daemon recorded when it last switched (a restart must not
 * go back to params and lose the writes since), else --image or a test driver, else params. */
static void choose_image(struct xbd_vbd *v, struct xbd_disk_config *cfg)
{
	const struct xbd_vbd_config *t = v->cfg;

	if (t->active_image && !v->opt->driver) {
		cfg->format = t->active_format;
		cfg->path = t->active_image;
		cfg->backing_chain = t->active_chain;
		cfg->backing_chain_len = t->active_chain_len;
		v->image_switched = true;
		xbd_info(v->prefix, "serving the image recorded in xenblkd-active-image, %s, not "
			 "%s", t->active, v->opt->image ? v->opt->image : t->params ? t->params : "-");
		return;
	}
	cfg->path = v->opt->image;
	cfg->driver = v->opt->driver;
	if (!cfg->path && !cfg->driver) {
		cfg->format = t->format; /* from params' prefix, never from the image */
		cfg->path = t->image;
	}
	if (cfg->path && v->opt->has_image_format) {
		if (cfg->format != v->opt->image_format)
			xbd_info(v->prefix, "serving %s as %s, as configured (image-format or "
				 "xenblkd-format), not as %s", cfg->path,
				 xbd_format_name(v->opt->image_format), xbd_format_name(cfg->format));
		cfg->format = v->opt->image_format;
	}
}

/* The image as logs name it: an rbd target only up to its options, which a toolstack may
 * have filled with a secret (key=, refused by the driver, must not reach a log either). */
static const char *image_shown(const struct xbd_disk_config *cfg, char *buf, size_t len)
{
	const char *what = cfg->path ? cfg->path : cfg->driver;

	if (cfg->format != XBD_FORMAT_RBD || !cfg->path)
		return what;
	snprintf(buf, len, "rbd:%.*s", (int)strcspn(what, ":"), what);
	return buf;
}

static int open_image(struct xbd_vbd *v)
{
	struct xbd_disk_config cfg;
	char shown[300];
	int r;

	base_config(v, &cfg);
	choose_image(v, &cfg);
	if (cfg.no_direct)
		xbd_info(v->prefix, "grant %s without direct-io-safe: I/O through the page cache",
			 xbd_grant_mode_name(v->grant_mode));
	r = xbd_disk_open(&cfg, &v->disk);
	if (r) {
		image_failed(v, image_shown(&cfg, shown, sizeof(shown)), r);
		return r;
	}
	v->info = xbd_disk_get_info(v->disk);
	if (v->info->readonly && !v->readonly) {
		/* The store itself is read-only (an rbd snapshot): say so to the guest. */
		xbd_info(v->prefix, "the image can only be read (a snapshot): served read-only");
		v->readonly = true;
	}
	v->image_path = strdup(cfg.path ? cfg.path : cfg.driver);
	v->image_format = cfg.format;
	if (v->image_switched && v->cfg->active_backing && v->cfg->active_backing[0])
		v->image_backing = strdup(v->cfg->active_backing);
	else if (!v->image_switched && v->cfg->backing)
		v->image_backing = strdup(v->cfg->backing);
	xbd_info(v->prefix, "serving %s (%s, %llu bytes, %u-byte sectors, engine %s)",
		 image_shown(&cfg, shown, sizeof(shown)), v->readonly ? "read-only" : "read-write",
		 (unsigned long long)v->info->size, v->info->sector_size, v->info->engine_name);
	return 0;
}

/* What we offer: the store's abilities, limited by configuration and the toolstack. */
static void choose_offers(struct xbd_vbd *v)
{
	const struct xbd_disk_info *i = v->info;

	v->offer_flush = i->can_flush && !v->opt->no_flush;
	v->offer_barrier = i->can_flush && !v->opt->no_barrier;
	v->offer_discard = i->can_discard && !v->readonly && !v->opt->no_discard &&
			   v->cfg->discard_enable;
	v->offer_secure = v->offer_discard && i->can_secure_erase;
	if (i->max_queues && i->max_queues < v->opt->max_queues)
		xbd_info(v->prefix, "offering %u queue(s): the storage serves no more consistently",
			 i->max_queues);
	v->info_flags = v->readonly ? 4u /* VDISK_READONLY */ : 0u;
	if (v->cfg->cdrom)
		v->info_flags |= 1u; /* VDISK_CDROM */
	if (v->cfg->removable)
		v->info_flags |= 2u; /* VDISK_REMOVABLE */
}

/* The parts of the object that talk to xenstore: enough to report a fatal error. */
static int open_xenstore(struct xbd_vbd *v, const struct xbd_xen_ops *xen,
			 const struct xbd_vbd_options *opt)
{
	unsigned int per_daemon;
	int r;

	memset(v, 0, sizeof(*v));
	v->xen = xen;
	v->opt = opt;
	v->dp_notify_fd = -1;
	xbd_vbd_mapped_bounds(opt, &v->max_mapped_queue, &per_daemon);
	xbd_grant_budget_init(&v->grants, per_daemon);
	r = split_backend_path(v, opt->backend_path);
	if (r) {
		xbd_err(NULL, "bad backend path '%s'", opt->backend_path);
		return r;
	}
	r = xen->xs_open(&v->xs);
	if (r)
		xbd_err(v->prefix, "cannot open xenstore: %s", strerror(-r));
	return r;
}

int xbd_vbd_init(struct xbd_vbd *v, const struct xbd_xen_ops *xen,
		 const struct xbd_vbd_options *opt, const struct xbd_vbd_config *cfg)
{
	int r = open_xenstore(v, xen, opt);

	if (r)
		return r;
	v->cfg = cfg;
	v->dp_notify_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (v->dp_notify_fd < 0)
		return -errno;
	v->fe_path = strdup(cfg->frontend);
	if (!v->fe_path)
		return -ENOMEM;
	v->fe_domid = cfg->frontend_id;
	v->readonly = cfg->readonly;
	v->grant_mode = cfg->has_grant_mode ? cfg->grant_mode : opt->grant_mode;
	r = open_image(v);
	if (!r)
		choose_offers(v);
	return r;
}

int xbd_vbd_refuse(const struct xbd_xen_ops *xen, const struct xbd_vbd_options *opt, int err,
		   const char *why)
{
	struct xbd_vbd v;
	int r = open_xenstore(&v, xen, opt);

	if (!r)
		xbd_xb_fatal(&v, -err, "%s", why);
	xbd_vbd_fini(&v);
	return err;
}

void xbd_vbd_fini(struct xbd_vbd *v)
{
	char why[64];

	xbd_vbd_export_stop(v);
	xbd_vbd_disconnect(v);
	xbd_vbd_mirror_cancel(v, why, sizeof(why));
	xbd_disk_close(v->disk);
	free(v->image_path);
	free(v->image_backing);
	free(v->chain_text);
	free(v->chain_files);
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

/* We are Closing and the frontend does not finish (stays connected, or stays in Closing):
 * start or check the clock. */
static bool closing_expired(struct xbd_vbd *v, const struct xbd_fsm_facts *f)
{
	struct timespec now;

	if (f->be != XenbusStateClosing || !v->opt->closing_timeout_s) {
		v->closing_since = 0;
		return false;
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!v->closing_since)
		v->closing_since = now.tv_sec;
	return now.tv_sec - v->closing_since >= (time_t)v->opt->closing_timeout_s;
}

int xbd_vbd_read_facts(struct xbd_vbd *v, struct xbd_fsm_facts *f)
{
	char *s = NULL;
	int r;

	memset(f, 0, sizeof(*f));
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
	f->connected = v->nr_queues > 0;
	f->fe_dead = v->xen->xs_domain_exists(v->xs, v->fe_domid) == 0;
	if (f->fe_dead && !v->fe_gone_logged) {
		/* Once: @releaseDomain fires for every domain that dies on the host. */
		v->fe_gone_logged = true;
		xbd_info(v->prefix, "frontend domain %u is gone (@releaseDomain): releasing its "
			 "grants and closing", v->fe_domid);
	}
	f->closing_expired = closing_expired(v, f);
	return 0;
}

bool xbd_vbd_closing_pending(const struct xbd_vbd *v)
{
	return v->closing_since != 0;
}

static enum xbd_grant_mode effective_mode(struct xbd_vbd *v, const struct xbd_fe_params *p)
{
	const char *why;
	enum xbd_grant_mode m = xbd_grant_effective_mode(v->grant_mode, p->persistent,
							  v->fe_domid == v->be_domid,
							  v->opt->allow_local_map, &why);

	if (why)
		xbd_info(v->prefix, "%s", why);
	return m;
}

/*
 * Defaults, from the cache size (1056, blkback's): a queue may map its full cache and as much
 * again for requests in flight (8 requests of 256 segments), and the daemon four caches' worth
 * (4224 pages, 16.5 MiB of guest memory), or one queue's bound if that is more: far under the
 * process's 65530 VMAs, and a small share of dom0's maptrack table (1024 frames of 512 entries
 * by default), which every backend shares. Above that, requests are grant-copied, which costs
 * copies, never correctness.
 */
void xbd_vbd_mapped_bounds(const struct xbd_vbd_options *opt, unsigned int *per_queue,
			   unsigned int *per_daemon)
{
	uint64_t cache = opt->persistent_max ? opt->persistent_max : 1056;
	uint64_t q = opt->max_mapped_queue ? opt->max_mapped_queue : 2 * cache;
	uint64_t d = opt->max_mapped ? opt->max_mapped : 4 * cache > q ? 4 * cache : q;

	*per_queue = (unsigned int)(q < UINT_MAX ? q : UINT_MAX);
	*per_daemon = (unsigned int)(d < UINT_MAX ? d : UINT_MAX);
}

/* Enough memory for the largest request the frontend may send, twice over. */
static size_t pool_budget(const struct xbd_vbd *v)
{
	size_t segs = v->opt->max_indirect_segs > BLKIF_MAX_SEGMENTS_PER_REQUEST
			      ? v->opt->max_indirect_segs : BLKIF_MAX_SEGMENTS_PER_REQUEST;
	size_t largest = segs * 4096 + 8 * 4096 + segs * (sizeof(struct iovec) + 16);
	size_t need = 2 * 2 * largest; /* power-of-two classes may double a size */

	return v->opt->pool_bytes > need ? v->opt->pool_bytes : need;
}

/* A resume's failure is said by the caller; a fresh connect's is fatal. */
static int queue_failed(struct xbd_vbd *v, const struct xbd_dataplane_cfg *cfg, unsigned int q,
			int r)
{
	xbd_vbd_disconnect(v);
	if (cfg->start == XBD_DP_FRESH)
		xbd_xb_fatal(v, -r, "mapping queue %u: ring-ref %u, port %u", q, cfg->ring_refs[0],
			     cfg->remote_port);
	return r;
}

static int start_queues(struct xbd_vbd *v, const struct xbd_fe_params *p,
			enum xbd_dp_start start, const char **why, unsigned int *replayed)
{
	struct xbd_dataplane_cfg cfg = {
		.xen = v->xen,
		.fe_domid = v->fe_domid,
		.devid = v->devid,
		.nr_ring_refs = 1u << p->ring_order,
		.proto = p->proto,
		.limits = {
			.capacity = v->info->size / 512u,
			.sector_size = v->info->sector_size,
			.readonly = v->readonly,
			.flush = v->offer_flush,
			.barrier = v->offer_barrier,
			.discard = v->offer_discard,
			.discard_secure = v->offer_secure,
			.max_indirect_segs = v->opt->max_indirect_segs,
		},
		.disk = v->disk,
		.grant_mode = effective_mode(v, p),
		.persistent_max = v->opt->persistent_max,
		.max_mapped = v->max_mapped_queue,
		.grant_budget = &v->grants,
		.pool_bytes = pool_budget(v),
		.poll_us = v->opt->poll_us,
		.notify_fd = v->dp_notify_fd,
		.start = start,
		.resume_why = why,
		.replayed = replayed,
	};

	for (unsigned int q = 0; q < p->nr_queues; q++) {
		int r;

		snprintf(v->qprefix[q], sizeof(v->qprefix[q]), "%s q%u", v->prefix, q);
		cfg.log_prefix = v->qprefix[q];
		cfg.queue = q;
		cfg.remote_port = p->ports[q];
		memcpy(cfg.ring_refs, p->ring_refs[q], sizeof(cfg.ring_refs));
		cfg.journal = v->jmem ? &v->jq[q] : NULL;
		r = xbd_dataplane_start(&cfg, &v->dp[q]);
		if (r)
			return queue_failed(v, &cfg, q, r);
		v->nr_queues = q + 1;
	}
	xbd_vbd_set_limits(v, v->limit_iops, v->limit_bps);
	if (v->paused)
		xbd_vbd_pause(v, 0);
	xbd_info(v->prefix, "connected: %u queue(s), ring order %u, protocol %s, grant %s",
		 p->nr_queues, p->ring_order, xbd_proto_name(p->proto),
		 xbd_grant_mode_name(cfg.grant_mode));
	return 0;
}

/* A fresh connection gets a fresh journal, if its driver can resume at all. */
static void journal_for_connect(struct xbd_vbd *v, const struct xbd_fe_params *p)
{
	const char *why;
	int r;

	xbd_vbd_journal_remove(v);
	if (!xbd_vbd_resumable(v, &why)) {
		xbd_info(v->prefix, "not resumable after a crash: %s", why);
		return;
	}
	r = xbd_vbd_journal_create(v, p);
	if (r)
		xbd_warn(v->prefix, "no in-flight journal (%s): a crash of this daemon will "
			 "leave in-flight requests unanswered", strerror(-r));
}

static int connect(struct xbd_vbd *v)
{
	struct xbd_fe_params p;
	int r;

	memset(&p, 0, sizeof(p));
	r = xbd_xb_read_frontend(v, &p);
	if (!r)
		journal_for_connect(v, &p);
	if (!r)
		r = start_queues(v, &p, XBD_DP_FRESH, NULL, NULL);
	if (!r)
		XBD_TEST_POINT("reconnect");
	if (r)
		return r;
	r = xbd_xb_publish_disk(v);
	if (r)
		xbd_xb_fatal(v, -r, "publishing the disk");
	return r;
}

void xbd_vbd_disconnect(struct xbd_vbd *v)
{
	struct xbd_dataplane_stats sum = { 0 }, st;

	if (!v->nr_queues) {
		/* A clean end: no journal may outlive it (a refused resume's included). */
		xbd_vbd_journal_remove(v);
		return;
	}
	/* A new connection's queues would not send their writes to the destination: the
	 * mirror ends now (it can no longer switch), and goes once the queues are stopped. */
	if (v->mirror)
		xbd_mirror_fail(v->mirror, "the frontend disconnects", ECONNRESET);
	for (unsigned int q = 0; q < v->nr_queues; q++) {
		xbd_dataplane_stop(v->dp[q]);
		xbd_dataplane_get_stats(v->dp[q], &st);
		xbd_dataplane_free(v->dp[q]);
		v->dp[q] = NULL;
		xbd_dataplane_stats_add(&sum, &st, false);
	}
	v->nr_queues = 0;
	/* Everything in flight was answered and published: nothing to resume. */
	xbd_vbd_journal_remove(v);
	xbd_vbd_mirror_forget(v);
	/* Taken after the drain, so requests answered while stopping count too. */
	xbd_dataplane_stats_add(&v->past, &sum, false);
	v->connections_ended++;
	xbd_info(v->prefix, "disconnected: %llu reads, %llu writes, %llu flushes, %llu barriers, "
		 "%llu discards, %llu indirect, %llu errors, %llu bad requests, %llu stalls, "
		 "%llu map calls, %llu copy calls, %llu persistent misses, %llu events, "
		 "%llu notifies, "
		 "%llu storage I/Os in %llu syscalls, %llu from fixed buffers, "
		 "%llu polls (%llu found work)",
		 (unsigned long long)sum.reads, (unsigned long long)sum.writes,
		 (unsigned long long)sum.flushes, (unsigned long long)sum.barriers,
		 (unsigned long long)sum.discards, (unsigned long long)sum.indirect,
		 (unsigned long long)sum.errors, (unsigned long long)sum.bad_requests,
		 (unsigned long long)sum.stalls, (unsigned long long)sum.grant.map_calls,
		 (unsigned long long)sum.grant.copy_calls,
		 (unsigned long long)sum.grant.persistent_misses, (unsigned long long)sum.events,
		 (unsigned long long)sum.notifies, (unsigned long long)sum.storage_ios,
		 (unsigned long long)sum.storage_syscalls,
		 (unsigned long long)sum.storage_fixed_ios, (unsigned long long)sum.polls,
		 (unsigned long long)sum.poll_hits);
}

static void resume_refused(struct xbd_vbd *v, const char *why)
{
	v->resume_refused = true;
	xbd_warn(v->prefix, "cannot resume the live connection: %s. Not closing it (the guest's "
		 "blkfront would drop the disk): requests in flight stay unanswered until the "
		 "frontend reconnects or the disk is detached", why);
}

/* The image grew or shrank while no daemon served it (a resize the dead one did not finish
 * publishing): publish the size, and poke `state` as a resize does. */
static int resume_resize(struct xbd_vbd *v)
{
	char *s = NULL;
	uint64_t published = 0;
	int r = xbd_xb_read(v, v->be_path, "sectors", &s);

	if (!r)
		r = xbd_parse_uint(s, UINT64_MAX, &published);
	free(s);
	if (!r && published == v->info->size / 512u)
		return 0;
	xbd_info(v->prefix, "the disk is %llu sectors, %llu published: publishing the new size",
		 (unsigned long long)(v->info->size / 512u), (unsigned long long)published);
	r = xbd_xb_publish_disk(v);
	return r ? r : xbd_xb_switch_state(v, XenbusStateConnected);
}

/* Without a usable journal: a new one, and the ring only if nothing is outstanding. */
static int resume_quiet(struct xbd_vbd *v, const struct xbd_fe_params *p, const char *jwhy)
{
	const char *why = NULL;
	int r;

	xbd_warn(v->prefix, "in-flight journal not usable: %s; resuming only if the ring has "
		 "nothing outstanding", jwhy);
	r = xbd_vbd_journal_create(v, p);
	if (r)
		xbd_warn(v->prefix, "no new journal either (%s)", strerror(-r));
	r = start_queues(v, p, XBD_DP_RESUME_QUIET, &why, NULL);
	if (r) {
		resume_refused(v, why ? why : strerror(-r));
		return 0;
	}
	xbd_info(v->prefix, "resumed the live connection: nothing was outstanding, no state "
		 "written");
	return resume_resize(v);
}

static int resume(struct xbd_vbd *v)
{
	struct xbd_fe_params p;
	const char *why = NULL;
	unsigned int replayed = 0;
	int r;

	if (!xbd_vbd_resumable(v, &why)) {
		resume_refused(v, why);
		return 0;
	}
	memset(&p, 0, sizeof(p));
	r = xbd_xb_read_frontend(v, &p);
	if (r)
		return r;
	if (xbd_vbd_journal_open(v, &p, &why))
		return resume_quiet(v, &p, why);
	why = NULL;
	r = start_queues(v, &p, XBD_DP_RESUME, &why, &replayed);
	if (r)
		return resume_quiet(v, &p, why ? why : strerror(-r));
	xbd_info(v->prefix, "resumed the live connection: %u request(s) replayed from the "
		 "journal, no state written", replayed);
	return resume_resize(v);
}

int xbd_vbd_try_resume(struct xbd_vbd *v)
{
	struct xbd_fsm_facts f;
	int r = xbd_vbd_read_facts(v, &f);

	if (r)
		return r;
	if (f.dev_present && f.online && !f.fe_dead && f.be == XenbusStateConnected &&
	    f.fe == XenbusStateConnected)
		return resume(v);
	if (xbd_vbd_journal_remove(v))
		xbd_info(v->prefix, "removed the in-flight journal of a connection that ended "
			 "while no daemon served it");
	return 0;
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
	if (a->set_state == XenbusStateUnknown)
		return 0;
	if (a->set_state == XenbusStateInitWait) {
		r = xbd_xb_publish_features(v);
		if (!r)
			r = xbd_xb_publish_disk(v);
		if (r)
			return r;
	}
	return xbd_xb_switch_state(v, a->set_state);
}

void xbd_vbd_check_dataplanes(struct xbd_vbd *v)
{
	unsigned int lost = 0;
	const char *reason = NULL;
	uint64_t cnt;

	if (read(v->dp_notify_fd, &cnt, sizeof(cnt)) < 0)
		return;
	for (unsigned int q = 0; q < v->nr_queues; q++) {
		lost |= xbd_dataplane_take_lost_features(v->dp[q]);
		if (!reason)
			xbd_dataplane_halted(v->dp[q], &reason);
	}
	if (lost)
		xbd_xb_withdraw(v, lost);
	xbd_vbd_mirror_poll(v);
	if (reason) {
		xbd_vbd_disconnect(v);
		xbd_xb_fatal(v, EPROTO, "%s", reason);
	}
}

int xbd_vbd_resize(struct xbd_vbd *v)
{
	uint64_t old = v->info->size;
	int r = xbd_disk_refresh(v->disk);

	if (r) {
		xbd_err(v->prefix, "resize: cannot re-read the size: %s", strerror(-r));
		return r;
	}
	xbd_info(v->prefix, "resize: %llu -> %llu bytes", (unsigned long long)old,
		 (unsigned long long)v->info->size);
	for (unsigned int q = 0; q < v->nr_queues; q++)
		xbd_dataplane_set_capacity(v->dp[q], v->info->size / 512u);
	XBD_TEST_POINT("resize");
	r = xbd_xb_publish_disk(v);
	/* Rewriting `state` fires the frontend's watch, so it reads `sectors` again. */
	if (!r && v->nr_queues)
		r = xbd_xb_switch_state(v, XenbusStateConnected);
	return r;
}

int xbd_vbd_pause(struct xbd_vbd *v, int timeout_ms)
{
	int r = 0, ex;

	v->paused = true;
	for (unsigned int q = 0; q < v->nr_queues; q++) {
		int e = xbd_dataplane_pause(v->dp[q], timeout_ms);

		r = r ? r : e;
	}
	ex = xbd_vbd_export_pause(v, timeout_ms);
	if (!r && !ex)
		XBD_TEST_POINT("paused");
	return r ? r : ex;
}

/* fn on every queue's data plane, each one tried: the first error. */
static int each_dataplane(struct xbd_vbd *v, int (*fn)(struct xbd_dataplane *))
{
	int r = 0;

	for (unsigned int q = 0; q < v->nr_queues; q++) {
		int e = fn(v->dp[q]);

		r = r ? r : e;
	}
	return r;
}

int xbd_vbd_release_files(struct xbd_vbd *v)
{
	return each_dataplane(v, xbd_dataplane_release_files);
}

int xbd_vbd_restore_files(struct xbd_vbd *v)
{
	return each_dataplane(v, xbd_dataplane_restore_files);
}

void xbd_vbd_resume(struct xbd_vbd *v)
{
	v->paused = false;
	for (unsigned int q = 0; q < v->nr_queues; q++)
		xbd_dataplane_resume(v->dp[q]);
	xbd_vbd_export_resume(v);
}

/* A share of a per-VBD limit, rounded up so that no queue is left at zero (unlimited). */
static uint64_t share(uint64_t limit, unsigned int n)
{
	return limit ? (limit + n - 1) / n : 0;
}

void xbd_vbd_set_limits(struct xbd_vbd *v, uint64_t iops, uint64_t bytes_per_s)
{
	v->limit_iops = iops;
	v->limit_bps = bytes_per_s;
	for (unsigned int q = 0; q < v->nr_queues; q++)
		xbd_dataplane_set_limits(v->dp[q], share(iops, v->nr_queues),
					 share(bytes_per_s, v->nr_queues));
}

unsigned int xbd_vbd_get_stats(struct xbd_vbd *v, struct xbd_dataplane_stats *out,
			       unsigned int max)
{
	unsigned int n = v->nr_queues < max ? v->nr_queues : max;

	for (unsigned int q = 0; q < n; q++)
		xbd_dataplane_get_stats(v->dp[q], &out[q]);
	return n;
}
