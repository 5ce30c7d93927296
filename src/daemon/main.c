/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xenblkd: a userspace Xen PV block backend. One process serves one virtual block device: it
 * reads its backend directory in xenstore, negotiates blkif with the guest's blkfront, and
 * serves the guest's requests from a disk image with O_DIRECT through io_uring. This file is
 * the command line, the configuration file (xenblkd.conf(5): the same option names; the
 * command line wins) and start-up, which fails fast: every option and configuration value is
 * checked, the platform probed, and the toolstack's configuration read and checked before the
 * daemon writes anything to xenstore. daemon.c holds the VBD's lock and control socket, and
 * control.c runs the device.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control.h"
#include "util/conf.h"
#include "daemon.h"
#include "platform.h"
#include "upgrade.h"
#include "xenblkd/vbd_config.h"
#include "xenblkd/log.h"
#include "xenblkd/storage.h"
#include "xenblkd/vbd.h"
#include "xenblkd/xs_value.h"

#ifndef XBD_CONF_DEFAULT
#define XBD_CONF_DEFAULT "/etc/xenblkd/xenblkd.conf"
#endif

static void usage(FILE *out)
{
	fprintf(out,
		"usage: xenblkd --backend-path PATH [options]\n"
		"Serve one Xen virtual block device from the xenstore backend directory PATH,\n"
		"e.g. /local/domain/0/backend/qdisk/5/51712.\n\n"
		"  -b, --backend-path PATH        the device's backend directory (required)\n"
		"  -c, --config FILE              configuration file (default " XBD_CONF_DEFAULT ",\n"
		"                                 read when it exists); see xenblkd.conf(5)\n"
		"  -i, --image FILE               serve FILE instead of the backend's `params`\n"
		"  -e, --engine NAME              I/O engine: io_uring (default), libaio, threads\n"
		"  -d, --driver NAME              backing driver instead of the image (tests): null,\n"
		"                                 memory\n"
		"  -g, --grant-mode MODE          copy (default), map or persistent; a `grant-mode`\n"
		"                                 key in the backend directory overrides it\n"
		"      --allow-local-map          map grants even for a frontend in this domain\n"
		"                                 (local attach; copy is used otherwise)\n"
		"      --max-ring-page-order N    0..4 (default 4)\n"
		"      --max-queues N             1..64 (default: the number of CPUs)\n"
		"      --max-indirect-segments N  0..4096 (default 256; 0 disables indirect)\n"
		"      --persistent-max-grants N  grants kept mapped per queue (default 1056)\n"
		"      --max-mapped-grants-queue N  data grants mapped at once per queue, cached\n"
		"                                 or not (default: 2 x --persistent-max-grants)\n"
		"      --max-mapped-grants N      the same for the whole daemon (default: 4 x\n"
		"                                 --persistent-max-grants); requests over either\n"
		"                                 bound are served by grant copy\n"
		"      --pool-mib N               bounce memory per queue in MiB (default 16)\n"
		"      --poll-us N                poll for work up to N us before sleeping, at the\n"
		"                                 cost of CPU (default 0: never; at most 1000)\n"
		"      --sector-size N            512 or 4096: force the logical sector size\n"
		"      --no-flush, --no-barrier, --no-discard   do not offer these\n"
		"      --closing-timeout S        disconnect a frontend stuck in Closing (default 60;\n"
		"                                 0 waits forever)\n");
	fprintf(out,
		"      --image-format FMT         the image is qcow2 or raw, whatever the params\n"
		"                                 prefix says (libxl's tap disks say aio:); backend\n"
		"                                 key xenblkd-format; never probed\n"
		"      --qcow2-backing FMT:PATH   the qcow2 image's backing chain, exactly: qcow2 or\n"
		"                                 raw, the top image's backing file first (repeat\n"
		"                                 or separate with |); backend key xenblkd-backing\n"
		"      --qcow2-backing-dir DIR    a directory backing files may be found in\n"
		"                                 (repeatable; no default; not /, /dev, /run,\n"
		"                                 /proc, /sys)\n"
		"      --qcow2-backing-format FMT the format of backing files found in those\n"
		"                                 directories: qcow2 or raw\n"
		"      --qcow2-trust-backing-format  take that format from the image's header\n"
		"      --qcow2-allow-raw-backing  allow raw backing files found in a directory\n"
		"      --qcow2-l2-cache-mib N     L2 table cache per image (default: the driver's)\n"
		"      --qcow2-write-back         write qcow2 metadata back lazily: fewer syncs on\n"
		"                                 allocating writes, but the VBD cannot resume\n"
		"                                 after a crash or an upgrade\n"
		"      --limit-iops N             at most N requests per second (0: no limit)\n"
		"      --limit-bps N[K|M|G]       at most N bytes per second (0: no limit); backend\n"
		"                                 keys limit-iops and limit-bps override both\n"
		"      --run-dir DIR              lock file and control socket (default /run/xenblkd)\n");
	fprintf(out,
		"      --nbd-export               export the disk on the NBD sockets DIR/nbd/\n"
		"                                 KIND-DOMID-DEVID.sock (read-write, one client) and\n"
		"                                 ...-ro.sock (read-only); backend key nbd-export\n"
		"      --log-level LEVEL          err, warn, info (default) or debug\n"
		"  -x, --xen real|sim             the real Xen (default) or the simulated platform\n"
		"                                 of the tests (docs/simulation.md)\n"
		"  -v, --verbose                  debug logging (--log-level debug)\n"
		"  -h, --help\n"
		"  -V, --version\n"
		"Signals: SIGTERM/SIGINT close the device and exit; SIGHUP re-reads the image size.\n"
		"Exit status: 0 when the device was removed, the daemon was stopped, or another\n"
		"xenblkd already serves the VBD; 1 on an error (one line says what to do; a fault in\n"
		"the toolstack's keys or the image goes to the device's error node too); 2 for a bad\n"
		"option or configuration value, found before anything is written to xenstore.\n");
}

#define MAX_BACKING_DIRS 16

/* Where an option's value came from: a qcow2 chain from a later layer replaces, not extends. */
enum layer { LAYER_DAEMON = 1, LAYER_ARGV, LAYER_BACKEND, LAYER_VBD_SECTION };

struct cli {
	struct xbd_vbd_options vbd;
	struct xbd_daemon_ops ops;
	const char *xen;
	const char *config;
	const char *backing_dirs[MAX_BACKING_DIRS + 1];
	unsigned int nr_backing_dirs;
	struct xbd_backing_file chain[XBD_MAX_BACKING_CHAIN];
	char *chain_text[XBD_MAX_BACKING_CHAIN]; /* copies the chain's paths point into */
	unsigned int nr_chain_text;
	unsigned int layer, chain_layer;        /* enum layer, + the [vbd] section's number */
	const char *where; /* "file:line: " while applying the configuration file */
};

enum {
	OPT_RING_ORDER = 256, OPT_QUEUES, OPT_INDIRECT, OPT_PERSIST_MAX, OPT_POOL, OPT_SECTOR,
	OPT_NO_FLUSH, OPT_NO_BARRIER, OPT_NO_DISCARD, OPT_CLOSING, OPT_BACKING_DIR,
	OPT_RAW_BACKING, OPT_L2_CACHE, OPT_LOCAL_MAP, OPT_LIMIT_IOPS, OPT_LIMIT_BPS, OPT_RUN_DIR,
	OPT_QCOW2_WRITE_BACK,
	OPT_LOG_LEVEL, OPT_BACKING, OPT_BACKING_FORMAT, OPT_TRUST_FORMAT, OPT_MAPPED_QUEUE,
	OPT_MAPPED, OPT_NBD_EXPORT, OPT_IMAGE_FORMAT, OPT_POLL_US,
};

static const struct option long_opts[] = {
	{ "backend-path", required_argument, NULL, 'b' },
	{ "config", required_argument, NULL, 'c' },
	{ "image", required_argument, NULL, 'i' },
	{ "engine", required_argument, NULL, 'e' },
	{ "driver", required_argument, NULL, 'd' },
	{ "grant-mode", required_argument, NULL, 'g' },
	{ "max-ring-page-order", required_argument, NULL, OPT_RING_ORDER },
	{ "max-queues", required_argument, NULL, OPT_QUEUES },
	{ "max-indirect-segments", required_argument, NULL, OPT_INDIRECT },
	{ "persistent-max-grants", required_argument, NULL, OPT_PERSIST_MAX },
	{ "max-mapped-grants-queue", required_argument, NULL, OPT_MAPPED_QUEUE },
	{ "max-mapped-grants", required_argument, NULL, OPT_MAPPED },
	{ "pool-mib", required_argument, NULL, OPT_POOL },
	{ "sector-size", required_argument, NULL, OPT_SECTOR },
	{ "no-flush", no_argument, NULL, OPT_NO_FLUSH },
	{ "no-barrier", no_argument, NULL, OPT_NO_BARRIER },
	{ "no-discard", no_argument, NULL, OPT_NO_DISCARD },
	{ "closing-timeout", required_argument, NULL, OPT_CLOSING },
	{ "image-format", required_argument, NULL, OPT_IMAGE_FORMAT },
	{ "qcow2-backing", required_argument, NULL, OPT_BACKING },
	{ "qcow2-backing-dir", required_argument, NULL, OPT_BACKING_DIR },
	{ "qcow2-backing-format", required_argument, NULL, OPT_BACKING_FORMAT },
	{ "qcow2-trust-backing-format", no_argument, NULL, OPT_TRUST_FORMAT },
	{ "qcow2-allow-raw-backing", no_argument, NULL, OPT_RAW_BACKING },
	{ "qcow2-l2-cache-mib", required_argument, NULL, OPT_L2_CACHE },
	{ "qcow2-write-back", no_argument, NULL, OPT_QCOW2_WRITE_BACK },
	{ "allow-local-map", no_argument, NULL, OPT_LOCAL_MAP },
	{ "limit-iops", required_argument, NULL, OPT_LIMIT_IOPS },
	{ "poll-us", required_argument, NULL, OPT_POLL_US },
	{ "limit-bps", required_argument, NULL, OPT_LIMIT_BPS },
	{ "run-dir", required_argument, NULL, OPT_RUN_DIR },
	{ "nbd-export", no_argument, NULL, OPT_NBD_EXPORT },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "xen", required_argument, NULL, 'x' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static const char *opt_name(int o)
{
	for (const struct option *p = long_opts; p->name; p++)
		if (p->val == o)
			return p->name;
	return "?";
}

/* "--name: " on the command line, "file:line: name: " from the file, then the complaint: one
 * error line through the logger, so that the journal keeps its priority. */
static void opt_error(const struct cli *c, int o, const char *fmt, const char *arg)
{
	char what[512];

	snprintf(what, sizeof(what), fmt, arg);
	xbd_err(NULL, "%s%s%s: %s", c->where ? c->where : "", c->where ? "" : "--", opt_name(o),
		what);
}

/* A number option in [min, max], or a message naming the option. */
static int number(struct cli *c, int o, const char *arg, uint64_t min, uint64_t max,
		  uint64_t *out)
{
	int r = xbd_parse_uint(arg, max, out);

	if (r || *out < min) {
		char range[64];

		snprintf(range, sizeof(range), "'%%s' is not a number in %llu..%llu",
			 (unsigned long long)min, (unsigned long long)max);
		opt_error(c, o, range, arg);
		return -EINVAL;
	}
	return 0;
}

/* Bytes with an optional binary suffix: 100M is 100 MiB. */
static int bytes_value(struct cli *c, int o, const char *arg, uint64_t *out)
{
	if (xbd_conf_bytes(arg, out) == 0)
		return 0;
	opt_error(c, o, "'%s' is not a number of bytes (e.g. 50M)", arg);
	return -EINVAL;
}

static void set_defaults(struct cli *c)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	c->vbd.grant_mode = XBD_GRANT_COPY;
	c->vbd.max_ring_order = 4;
	c->vbd.max_queues = cpus < 1 ? 1 : cpus > (long)XBD_MAX_QUEUES ? XBD_MAX_QUEUES
								   : (unsigned int)cpus;
	c->vbd.max_indirect_segs = 256;
	c->vbd.persistent_max = 1056;
	c->vbd.pool_bytes = 16u << 20;
	c->vbd.closing_timeout_s = 60;
	c->ops.log_level = XBD_LOG_INFO;
}

static int number_option(struct cli *c, int o, const char *arg)
{
	uint64_t v;
	int r;

	switch (o) {
	case OPT_RING_ORDER: r = number(c, o, arg, 0, 4, &v); c->vbd.max_ring_order = (unsigned)v; break;
	case OPT_QUEUES: r = number(c, o, arg, 1, XBD_MAX_QUEUES, &v); c->vbd.max_queues = (unsigned)v; break;
	case OPT_INDIRECT: r = number(c, o, arg, 0, XBD_MAX_INDIRECT_SEGS, &v); c->vbd.max_indirect_segs = (unsigned)v; break;
	case OPT_PERSIST_MAX: r = number(c, o, arg, 1, 1u << 20, &v); c->vbd.persistent_max = (unsigned)v; break;
	case OPT_MAPPED_QUEUE: r = number(c, o, arg, 1, 1u << 22, &v); c->vbd.max_mapped_queue = (unsigned)v; break;
	case OPT_MAPPED: r = number(c, o, arg, 1, 1u << 22, &v); c->vbd.max_mapped = (unsigned)v; break;
	case OPT_POOL: r = number(c, o, arg, 1, 4096, &v); c->vbd.pool_bytes = (size_t)v << 20; break;
	case OPT_POLL_US: r = number(c, o, arg, 0, XBD_POLL_US_MAX, &v); c->vbd.poll_us = (unsigned)v; break;
	case OPT_CLOSING: r = number(c, o, arg, 0, 86400, &v); c->vbd.closing_timeout_s = (unsigned)v; break;
	case OPT_L2_CACHE: r = number(c, o, arg, 1, 4096, &v); c->vbd.l2_cache_bytes = v << 20; break;
	case OPT_LIMIT_IOPS: r = number(c, o, arg, 0, UINT32_MAX, &v); c->ops.limit_iops = v; break;
	case OPT_LIMIT_BPS: r = bytes_value(c, o, arg, &v); c->ops.limit_bps = v; break;
	case OPT_SECTOR:
		r = number(c, o, arg, 512, 4096, &v);
		if (!r && v != 512 && v != 4096) {
			opt_error(c, o, "'%s' must be 512 or 4096", arg);
			r = -EINVAL;
		}
		c->vbd.sector_size = (uint32_t)v;
		break;
	default: r = -EINVAL;
	}
	return r;
}

static int level_option(struct cli *c, int o, const char *arg)
{
	static const struct { const char *name; enum xbd_log_level l; } levels[] = {
		{ "err", XBD_LOG_ERR }, { "warn", XBD_LOG_WARN }, { "info", XBD_LOG_INFO },
		{ "debug", XBD_LOG_DEBUG },
	};

	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (!strcmp(arg, levels[i].name)) {
			c->ops.log_level = levels[i].l;
			xbd_log_set_level(levels[i].l);
			return 0;
		}
	opt_error(c, o, "'%s' is not err, warn, info or debug", arg);
	return -EINVAL;
}

/* An engine or driver name the storage plane does not know is a usage error. */
static int storage_name(struct cli *c, int o, const char *engine, const char *driver)
{
	char why[256];

	if (!xbd_storage_check_names(engine, driver, why, sizeof(why)))
		return 0;
	opt_error(c, o, "%s", why);
	return -EINVAL;
}

static void chain_clear(struct cli *c)
{
	for (unsigned int i = 0; i < c->nr_chain_text; i++)
		free(c->chain_text[i]);
	c->nr_chain_text = 0;
	c->vbd.backing_chain_len = 0;
}

/* A later layer's chain replaces an earlier one's; one layer's entries add up. */
static int chain_option(struct cli *c, int o, const char *arg)
{
	char *copy;
	int r;

	if (c->chain_layer != c->layer) {
		chain_clear(c);
		c->chain_layer = c->layer;
	}
	copy = c->nr_chain_text < XBD_MAX_BACKING_CHAIN ? strdup(arg) : NULL;
	r = copy ? xbd_parse_backing_chain(copy, c->chain, XBD_MAX_BACKING_CHAIN,
					   &c->vbd.backing_chain_len) : -E2BIG;
	if (r) {
		free(copy);
		opt_error(c, o, r == -E2BIG ? "'%s': at most 16 backing files" :
			  "'%s' is not FORMAT:PATH (qcow2 or raw, an absolute path), "
			  "separated by |", arg);
		return -EINVAL;
	}
	c->chain_text[c->nr_chain_text++] = copy;
	c->vbd.backing_chain = c->chain;
	return 0;
}

/* An allowed backing directory: absolute, and never one that exposes devices or the kernel. */
static int backing_dir_option(struct cli *c, int o, const char *arg)
{
	int r = arg[0] == '/' ? xbd_qcow2_backing_dir_check(arg) : -EINVAL;

	if (r == -EPERM)
		opt_error(c, o, "'%s' may never be allowed: it is (or resolves to) /, /dev or "
			  "/run, or lies in /proc or /sys", arg);
	else if (r)
		opt_error(c, o, r == -EINVAL ? "'%s' is not an absolute path" :
			  "'%s' cannot be resolved", arg);
	if (r)
		return -EINVAL;
	/* The file and the command line may name one directory twice. */
	for (unsigned int i = 0; i < c->nr_backing_dirs; i++)
		if (!strcmp(c->backing_dirs[i], arg))
			return 0;
	if (c->nr_backing_dirs == MAX_BACKING_DIRS) {
		opt_error(c, o, "at most %s", "16");
		return -EINVAL;
	}
	c->backing_dirs[c->nr_backing_dirs++] = arg;
	c->vbd.backing_dirs = c->backing_dirs;
	return 0;
}

/* qcow2-backing-format and image-format: the administrator names a format, never the image. */
static int format_option(struct cli *c, int o, const char *arg)
{
	enum xbd_format f;

	if (xbd_parse_format(arg, &f)) {
		opt_error(c, o, "'%s' is not qcow2 or raw", arg);
		return -EINVAL;
	}
	if (o == OPT_IMAGE_FORMAT) {
		c->vbd.has_image_format = true;
		c->vbd.image_format = f;
	} else {
		c->vbd.has_backing_dir_format = true;
		c->vbd.backing_dir_format = f;
	}
	return 0;
}

static int string_option(struct cli *c, int o, const char *arg)
{
	switch (o) {
	case 'b': c->vbd.backend_path = arg; return 0;
	case 'c': c->config = arg; return 0;
	case 'i': c->vbd.image = arg; return 0;
	case 'e': c->vbd.engine = arg; return storage_name(c, o, arg, NULL);
	case 'd': c->vbd.driver = arg; return storage_name(c, o, NULL, arg);
	case 'x':
		c->xen = arg;
		if (xbd_platform_name_ok(arg))
			return 0;
		opt_error(c, o, "'%s' is not real or sim", arg);
		return -EINVAL;
	case OPT_RUN_DIR: c->ops.run_dir = arg; return 0;
	case OPT_LOG_LEVEL: return level_option(c, o, arg);
	case 'g':
		if (xbd_grant_mode_from_string(arg, &c->vbd.grant_mode) == 0)
			return 0;
		opt_error(c, o, "'%s' is not copy, map or persistent", arg);
		return -EINVAL;
	case OPT_BACKING: return chain_option(c, o, arg);
	case OPT_BACKING_DIR: return backing_dir_option(c, o, arg);
	case OPT_BACKING_FORMAT:
	case OPT_IMAGE_FORMAT: return format_option(c, o, arg);
	default: return number_option(c, o, arg);
	}
}

static int one_option(struct cli *c, int o, const char *arg)
{
	switch (o) {
	case 'v': c->ops.log_level = XBD_LOG_DEBUG; xbd_log_set_level(XBD_LOG_DEBUG); return 0;
	case OPT_NO_FLUSH: c->vbd.no_flush = true; return 0;
	case OPT_NO_BARRIER: c->vbd.no_barrier = true; return 0;
	case OPT_NO_DISCARD: c->vbd.no_discard = true; return 0;
	case OPT_RAW_BACKING: c->vbd.backing_raw_ok = true; return 0;
	case OPT_QCOW2_WRITE_BACK: c->vbd.qcow2_write_back = true; return 0;
	case OPT_TRUST_FORMAT: c->vbd.backing_trust_header_format = true; return 0;
	case OPT_LOCAL_MAP: c->vbd.allow_local_map = true; return 0;
	case OPT_NBD_EXPORT: c->vbd.nbd_export = true; return 0;
	default: return string_option(c, o, arg);
	}
}

#define MAX_ARGS 256

/* The command line, parsed once: its options in order, each already checked. */
struct args {
	struct { int o; const char *arg; } v[MAX_ARGS];
	unsigned int n;
	const char *backend; /* --backend-path */
	const char *config;  /* --config */
};

/* The configuration file, read once. */
static struct xbd_conf conf;

/* getopt's complaint about the word it stopped at, in one line. */
static int usage_error(int o, char **argv)
{
	const char *word = argv[optind - 1];

	if (o == ':')
		xbd_err(NULL, "option '%s' needs a value (xenblkd --help)", word);
	else
		xbd_err(NULL, "unknown option '%s' (xenblkd --help lists them)", word);
	return -EINVAL;
}

static int record(struct args *a, int o, const char *arg)
{
	if (a->n == MAX_ARGS) {
		xbd_err(NULL, "more than %d options", MAX_ARGS);
		return -EINVAL;
	}
	a->v[a->n].o = o;
	a->v[a->n++].arg = arg;
	if (o == 'b')
		a->backend = arg;
	if (o == 'c')
		a->config = arg;
	return 0;
}

/* Parse the command line into `a`, once, checking every value on a scratch copy of the
 * options: a bad one is reported by its name before anything else happens. */
static int parse_argv(int argc, char **argv, struct args *a)
{
	static struct cli scratch;
	int o;

	set_defaults(&scratch);
	scratch.layer = LAYER_ARGV;
	opterr = 0;
	while ((o = getopt_long(argc, argv, ":b:c:i:e:d:g:x:vhV", long_opts, NULL)) != -1) {
		if (o == '?' || o == ':')
			return usage_error(o, argv);
		if (o == 'h') {
			usage(stdout);
			exit(0);
		}
		if (o == 'V') {
			printf("xenblkd %s\n", XBD_VERSION);
			exit(0);
		}
		if (one_option(&scratch, o, optarg) || record(a, o, optarg))
			return -EINVAL;
	}
	if (optind != argc) {
		xbd_err(NULL, "unexpected argument '%s' (xenblkd --help)", argv[optind]);
		return -EINVAL;
	}
	if (!a->backend) {
		xbd_err(NULL, "--backend-path is required (xenblkd --help)");
		return -EINVAL;
	}
	if (!xbd_vbd_path_valid(a->backend)) {
		xbd_err(NULL, "--backend-path: '%s' is not /local/domain/DOMID/backend/KIND/"
			"FRONTEND-DOMID/DEVID", a->backend);
		return -EINVAL;
	}
	return 0;
}

static int apply_args(struct cli *c, const struct args *a)
{
	int r = 0;

	c->layer = LAYER_ARGV;
	for (unsigned int i = 0; i < a->n && !r; i++)
		r = one_option(c, a->v[i].o, a->v[i].arg);
	return r;
}

/* One `name = value` line of the file, through the same code as the command line. */
static int conf_entry(struct cli *c, const struct xbd_conf_entry *e)
{
	static char where[4200];
	const struct option *p = long_opts;
	bool on;

	snprintf(where, sizeof(where), "%s:%u: ", conf.path, e->line);
	c->where = where;
	while (p->name && strcmp(p->name, e->key))
		p++;
	if (!p->name || strchr("bchV", p->val)) {
		xbd_err(NULL, "%sunknown option '%s'", where, e->key);
		return -EINVAL;
	}
	if (p->val == 'x' && e->section == XBD_CONF_VBD) {
		xbd_err(NULL, "%sxen: the platform cannot be chosen per VBD", where);
		return -EINVAL;
	}
	if (p->has_arg == no_argument) {
		if (xbd_conf_bool(e->value, &on)) {
			opt_error(c, p->val, "'%s' is not yes or no", e->value);
			return -EINVAL;
		}
		return on ? one_option(c, p->val, NULL) : 0;
	}
	if (!*e->value) {
		opt_error(c, p->val, "needs a value%s", "");
		return -EINVAL;
	}
	return one_option(c, p->val, e->value);
}

static int apply_daemon_section(struct cli *c)
{
	int r = 0;

	c->layer = LAYER_DAEMON;
	for (size_t i = 0; i < conf.n && !r; i++)
		if (conf.e[i].section == XBD_CONF_DAEMON)
			r = conf_entry(c, &conf.e[i]);
	c->where = NULL;
	return r;
}

static bool is_match_key(const char *key)
{
	return !strcmp(key, "match-backend") || !strcmp(key, "match-image") ||
	       !strcmp(key, "match-domain");
}

/* Every [vbd] entry, whether its section matches this VBD or not, on a scratch copy: a bad
 * value is found at start-up, whichever VBD the daemon was started for. */
static int check_vbd_sections(void)
{
	static struct cli scratch;
	int r = 0;

	set_defaults(&scratch);
	for (size_t i = 0; i < conf.n && !r; i++) {
		const struct xbd_conf_entry *e = &conf.e[i];

		if (e->section != XBD_CONF_VBD)
			continue;
		if (!strncmp(e->key, "match-", 6) && !is_match_key(e->key)) {
			xbd_err(NULL, "%s:%u: unknown key '%s' (match-backend, match-image or "
				"match-domain)", conf.path, e->line, e->key);
			r = -EINVAL;
		} else if (strncmp(e->key, "match-", 6)) {
			scratch.layer = LAYER_VBD_SECTION + e->section_no;
			r = conf_entry(&scratch, e);
		}
	}
	return r;
}

/* The [vbd] sections that match this VBD, in file order (a later one wins). */
static int apply_vbd_sections(struct cli *c, const char *backend,
			      const struct xbd_vbd_config *t)
{
	int r = 0;

	for (size_t i = 0; i < conf.n && !r; i++) {
		const struct xbd_conf_entry *e = &conf.e[i];

		if (e->section != XBD_CONF_VBD || !strncmp(e->key, "match-", 6))
			continue;
		c->layer = LAYER_VBD_SECTION + e->section_no;
		if (xbd_conf_vbd_matches(&conf, e->section_no, backend, t->image, t->domain))
			r = conf_entry(c, e);
	}
	c->where = NULL;
	return r;
}

static int load_conf(const struct args *a)
{
	const char *path = a->config ? a->config : XBD_CONF_DEFAULT;
	char why[4200];
	int r = xbd_conf_load(path, &conf, why, sizeof(why));

	if (r == -ENOENT && !a->config)
		return 0; /* the default file is optional */
	if (r)
		xbd_err(NULL, "%s%s", r == -ENOENT ? "--config: " : "", why);
	return r;
}

/* xenblkd-backing: the toolstack's chain, from the backend directory no guest can write. It
 * replaces every chain configured before; vbd_config.c checked its syntax. */
static int backend_chain(struct cli *c, const struct args *a, const char *chain)
{
	static char where[600];
	int r;

	snprintf(where, sizeof(where), "%s/xenblkd-backing, as ", a->backend);
	c->where = where;
	c->layer = LAYER_BACKEND;
	r = chain_option(c, OPT_BACKING, chain);
	c->where = NULL;
	return r;
}

/*
 * The options in force, lowest precedence first: defaults, the file's daemon options, its
 * [vbd] sections that match the VBD (once the toolstack's configuration `t` is known), the
 * command line, the toolstack's limit keys, qcow2 chain and format. Every value was checked before: the command line
 * by parse_argv(), the file by main().
 */
static int layer(struct cli *c, const struct args *a, const struct xbd_vbd_config *t)
{
	int r;

	chain_clear(c);
	memset(c, 0, sizeof(*c));
	set_defaults(c);
	r = apply_daemon_section(c);
	if (!r && t)
		r = apply_vbd_sections(c, a->backend, t);
	if (!r)
		r = apply_args(c, a);
	if (!r && t && t->has_limit_iops)
		c->ops.limit_iops = t->limit_iops;
	if (!r && t && t->has_limit_bps)
		c->ops.limit_bps = t->limit_bps;
	if (!r && t && t->has_nbd_export)
		c->vbd.nbd_export = t->nbd_export;
	if (!r && t && t->has_poll_us)
		c->vbd.poll_us = t->poll_us;
	if (!r && t && t->backing)
		r = backend_chain(c, a, t->backing);
	if (!r && t && t->has_format_key) {
		c->vbd.has_image_format = true;
		c->vbd.image_format = t->format_key;
	}
	return r;
}

/* Block the stop signals before any thread exists, so only the signalfd sees them. */
static void block_stop_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/*
 * The toolstack's configuration, read once. 0, or a fault of the toolstack's (a negative
 * errno, `why` set) that is to be reported in xenstore; 1 when the daemon cannot go on (the
 * backend directory is missing, xenstore fails: logged, nothing written).
 */
static int read_toolstack(const struct xbd_xen_ops *xen, const struct args *a,
			  struct xbd_vbd_config *t, char *why, size_t len)
{
	int r = xbd_vbd_config_read(xen, a->backend, t, why, len);

	if (r == -EINVAL || r == -EPROTONOSUPPORT || r == 0)
		return r;
	xbd_err(NULL, "%s", why);
	return 1;
}

int main(int argc, char **argv)
{
	static struct cli c;
	static struct args a;
	static struct xbd_vbd_config t;
	static char why[1024];
	const struct xbd_xen_ops *xen = NULL;
	int r, fault;

	if (argc == 2 && !strcmp(argv[1], "--journal-version"))
		return xbd_upgrade_print_journal_versions();
	xbd_upgrade_init(argc, argv);
	block_stop_signals();
	if (parse_argv(argc, argv, &a) || load_conf(&a) || check_vbd_sections() ||
	    layer(&c, &a, NULL))
		return 2;
	if (xbd_platform_open(c.xen, &xen, why, sizeof(why))) {
		xbd_err(NULL, "%s", why);
		return 1;
	}
	fault = read_toolstack(xen, &a, &t, why, sizeof(why));
	if (fault > 0)
		return 1;
	if (layer(&c, &a, &t))
		return 2;
	if (!fault && !c.vbd.image && !c.vbd.driver)
		fault = xbd_vbd_config_check_params(&t, why, sizeof(why));
	c.ops.refuse_err = fault;
	c.ops.refuse_why = why;
	xbd_info(NULL, "starting on %s Xen", xen->name);
	r = xbd_daemon_run(xen, &c.vbd, &t, &c.ops);
	if (r < 0 && !fault)
		xbd_err(NULL, "exiting: %s", strerror(-r));
	xbd_vbd_config_free(&t);
	chain_clear(&c);
	if (xbd_storage_exit_must_skip_teardown()) {
		/* A storage library's threads still work (an rbd image left open): exit()'s
		 * teardown would free what they use. The kernel releases everything anyway. */
		xbd_info(NULL, "ending without the exit-time teardown: storage work was left "
			 "with a library's threads");
		fflush(NULL);
		_exit(r < 0 ? 1 : 0);
	}
	return r < 0 ? 1 : 0;
}
