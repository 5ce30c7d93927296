/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xenblkd: a userspace Xen PV block backend. One process serves one virtual block device: it
 * reads its backend directory in xenstore, negotiates blkif with the guest's blkfront, and
 * serves the guest's requests from a disk image with O_DIRECT through io_uring. This file is
 * the command line, the configuration file (xenblkd.conf(5): the same option names; the
 * command line wins) and start-up; ctl/daemon.c holds the VBD's lock and control socket, and
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
#include "xenblkd/vbd_config.h"
#include "xenblkd/log.h"
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
		"      --pool-mib N               bounce memory per queue in MiB (default 16)\n"
		"      --sector-size N            512 or 4096: force the logical sector size\n"
		"      --no-flush, --no-barrier, --no-discard   do not offer these\n"
		"      --closing-timeout S        disconnect a frontend stuck in Closing (default 60;\n"
		"                                 0 waits forever)\n"
		"      --qcow2-backing-dir DIR    a directory qcow2 backing files may live in\n"
		"                                 (repeatable; default: the image's own directory)\n"
		"      --qcow2-allow-raw-backing  open a backing file without a format as raw\n"
		"      --qcow2-l2-cache-mib N     L2 table cache per image (default: the driver's)\n"
		"      --limit-iops N             at most N requests per second (0: no limit)\n"
		"      --limit-bps N[K|M|G]       at most N bytes per second (0: no limit); backend\n"
		"                                 keys limit-iops and limit-bps override both\n"
		"      --run-dir DIR              lock file and control socket (default /run/xenblkd)\n"
		"      --log-level LEVEL          err, warn, info (default) or debug\n"
		"  -x, --xen real|sim             the real Xen (default) or the simulated platform\n"
		"                                 of the tests (docs/simulation.md)\n"
		"  -v, --verbose                  debug logging (--log-level debug)\n"
		"  -h, --help\n"
		"Signals: SIGTERM/SIGINT close the device and exit; SIGHUP re-reads the image size.\n"
		"Exit status: 0 when the device was removed, the daemon was stopped, or another\n"
		"xenblkd already serves the VBD; 1 on an error; 2 for a bad option.\n");
}

#define MAX_BACKING_DIRS 16

struct cli {
	struct xbd_vbd_options vbd;
	struct xbd_daemon_ops ops;
	const char *xen;
	const char *config;
	const char *backing_dirs[MAX_BACKING_DIRS + 1];
	unsigned int nr_backing_dirs;
	const char *where; /* "file:line: " while applying the configuration file */
};

enum {
	OPT_RING_ORDER = 256, OPT_QUEUES, OPT_INDIRECT, OPT_PERSIST_MAX, OPT_POOL, OPT_SECTOR,
	OPT_NO_FLUSH, OPT_NO_BARRIER, OPT_NO_DISCARD, OPT_CLOSING, OPT_BACKING_DIR,
	OPT_RAW_BACKING, OPT_L2_CACHE, OPT_LOCAL_MAP, OPT_LIMIT_IOPS, OPT_LIMIT_BPS, OPT_RUN_DIR,
	OPT_LOG_LEVEL,
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
	{ "pool-mib", required_argument, NULL, OPT_POOL },
	{ "sector-size", required_argument, NULL, OPT_SECTOR },
	{ "no-flush", no_argument, NULL, OPT_NO_FLUSH },
	{ "no-barrier", no_argument, NULL, OPT_NO_BARRIER },
	{ "no-discard", no_argument, NULL, OPT_NO_DISCARD },
	{ "closing-timeout", required_argument, NULL, OPT_CLOSING },
	{ "qcow2-backing-dir", required_argument, NULL, OPT_BACKING_DIR },
	{ "qcow2-allow-raw-backing", no_argument, NULL, OPT_RAW_BACKING },
	{ "qcow2-l2-cache-mib", required_argument, NULL, OPT_L2_CACHE },
	{ "allow-local-map", no_argument, NULL, OPT_LOCAL_MAP },
	{ "limit-iops", required_argument, NULL, OPT_LIMIT_IOPS },
	{ "limit-bps", required_argument, NULL, OPT_LIMIT_BPS },
	{ "run-dir", required_argument, NULL, OPT_RUN_DIR },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "xen", required_argument, NULL, 'x' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static const char *opt_name(int o)
{
	for (const struct option *p = long_opts; p->name; p++)
		if (p->val == o)
			return p->name;
	return "?";
}

/* "xenblkd: --name: " on the command line, "xenblkd: file:line: name: " from the file. */
static void opt_error(const struct cli *c, int o, const char *fmt, const char *arg)
{
	fprintf(stderr, "xenblkd: %s%s%s: ", c->where ? c->where : "", c->where ? "" : "--",
		opt_name(o));
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
}

/* A number option in [min, max], or a message naming the option. */
static int number(struct cli *c, int o, const char *arg, uint64_t min, uint64_t max,
		  uint64_t *out)
{
	int r = xbd_parse_uint(arg, max, out);

	if (r || *out < min) {
		char range[64];

		snprintf(range, sizeof(range), "%llu..%llu", (unsigned long long)min,
			 (unsigned long long)max);
		fprintf(stderr, "xenblkd: %s%s%s: '%s' is not a number in %s\n",
			c->where ? c->where : "", c->where ? "" : "--", opt_name(o), arg, range);
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
	case OPT_POOL: r = number(c, o, arg, 1, 4096, &v); c->vbd.pool_bytes = (size_t)v << 20; break;
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

static int string_option(struct cli *c, int o, const char *arg)
{
	switch (o) {
	case 'b': c->vbd.backend_path = arg; return 0;
	case 'c': c->config = arg; return 0;
	case 'i': c->vbd.image = arg; return 0;
	case 'e': c->vbd.engine = arg; return 0;
	case 'd': c->vbd.driver = arg; return 0;
	case 'x': c->xen = arg; return 0;
	case OPT_RUN_DIR: c->ops.run_dir = arg; return 0;
	case OPT_LOG_LEVEL: return level_option(c, o, arg);
	case 'g':
		if (xbd_grant_mode_from_string(arg, &c->vbd.grant_mode) == 0)
			return 0;
		opt_error(c, o, "'%s' is not copy, map or persistent", arg);
		return -EINVAL;
	case OPT_BACKING_DIR:
		/* The command line is applied more than once (see configure()). */
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
	default: return number_option(c, o, arg);
	}
}

static int one_option(struct cli *c, int o, const char *arg)
{
	switch (o) {
	case 'v': c->ops.log_level = XBD_LOG_DEBUG; xbd_log_set_level(XBD_LOG_DEBUG); return 0;
	case 'h': usage(stdout); exit(0);
	case OPT_NO_FLUSH: c->vbd.no_flush = true; return 0;
	case OPT_NO_BARRIER: c->vbd.no_barrier = true; return 0;
	case OPT_NO_DISCARD: c->vbd.no_discard = true; return 0;
	case OPT_RAW_BACKING: c->vbd.backing_raw_ok = true; return 0;
	case OPT_LOCAL_MAP: c->vbd.allow_local_map = true; return 0;
	case '?': usage(stderr); return -EINVAL;
	default: return string_option(c, o, arg);
	}
}

static int parse_argv(int argc, char **argv, struct cli *c)
{
	int o;

	optind = 0; /* glibc: start over, so the command line can be applied twice */
	while ((o = getopt_long(argc, argv, "b:c:i:e:d:g:x:vh", long_opts, NULL)) != -1)
		if (one_option(c, o, optarg))
			return -EINVAL;
	if (optind != argc) {
		usage(stderr);
		return -EINVAL;
	}
	return 0;
}

/* One `name = value` line of the file, through the same code as the command line. */
static int conf_entry(struct cli *c, const struct xbd_conf *conf, const struct xbd_conf_entry *e)
{
	static char where[4200];
	const struct option *p = long_opts;
	bool on;

	snprintf(where, sizeof(where), "%s:%u: ", conf->path, e->line);
	c->where = where;
	while (p->name && strcmp(p->name, e->key))
		p++;
	if (!p->name || p->val == 'b' || p->val == 'c' || p->val == 'h') {
		fprintf(stderr, "xenblkd: %sunknown option '%s'\n", where, e->key);
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

static int apply_daemon_section(struct cli *c, const struct xbd_conf *conf)
{
	int r = 0;

	for (size_t i = 0; i < conf->n && !r; i++)
		if (conf->e[i].section == XBD_CONF_DAEMON)
			r = conf_entry(c, conf, &conf->e[i]);
	c->where = NULL;
	return r;
}

/* The [vbd] sections that match this VBD, in file order (a later one wins). */
static int apply_vbd_sections(struct cli *c, const struct xbd_conf *conf,
			      const struct xbd_vbd_facts *f)
{
	int r = 0;

	for (size_t i = 0; i < conf->n && !r; i++) {
		const struct xbd_conf_entry *e = &conf->e[i];

		if (e->section != XBD_CONF_VBD || !strncmp(e->key, "match-", 6))
			continue;
		if (xbd_conf_vbd_matches(conf, e->section_no, c->vbd.backend_path, f->image,
					 f->domain))
			r = conf_entry(c, conf, e);
	}
	c->where = NULL;
	return r;
}

/* Backend keys a toolstack wrote win over everything else. */
static int apply_backend_keys(struct cli *c, const struct xbd_vbd_facts *f)
{
	static char where[600];
	int r = 0;

	snprintf(where, sizeof(where), "%s/", c->vbd.backend_path);
	c->where = where;
	if (f->limit_iops)
		r = number_option(c, OPT_LIMIT_IOPS, f->limit_iops);
	if (!r && f->limit_bps)
		r = number_option(c, OPT_LIMIT_BPS, f->limit_bps);
	c->where = NULL;
	return r;
}

static int load_conf(const struct cli *first, struct xbd_conf *conf)
{
	const char *path = first->config ? first->config : XBD_CONF_DEFAULT;
	int r = xbd_conf_load("xenblkd", path, conf);

	if (r == -ENOENT && !first->config)
		return 0; /* the default file is optional */
	if (r == -ENOENT)
		fprintf(stderr, "xenblkd: --config: %s: %s\n", path, strerror(-r));
	return r;
}

/*
 * Precedence, lowest first: defaults, the file's daemon options, its matching [vbd] sections,
 * the command line, the backend's keys. The command line is applied after each file layer so
 * that the file's `xen` and the facts [vbd] matches on are known in time.
 */
static int configure(int argc, char **argv, struct cli *c, const struct xbd_xen_ops **xen)
{
	struct cli first = { 0 };
	static struct xbd_conf conf;
	struct xbd_vbd_facts f = { 0 };
	char why[512];
	int r;

	set_defaults(&first);
	if (parse_argv(argc, argv, &first))
		return -EINVAL;
	if (!first.vbd.backend_path) {
		usage(stderr);
		return -EINVAL;
	}
	if (load_conf(&first, &conf))
		return -EINVAL;
	set_defaults(c);
	r = apply_daemon_section(c, &conf);
	if (!r)
		r = parse_argv(argc, argv, c);
	if (r)
		return r;
	if (!xbd_platform_name_ok(c->xen)) {
		fprintf(stderr, "xenblkd: --xen: '%s' is not real or sim\n", c->xen);
		return -EINVAL;
	}
	r = xbd_platform_open(c->xen, xen, why, sizeof(why));
	if (r) {
		xbd_err(NULL, "%s", why);
		return r;
	}
	if (xbd_vbd_facts_read(*xen, c->vbd.backend_path, &f))
		xbd_debug(NULL, "cannot read the VBD's facts before start-up");
	r = apply_vbd_sections(c, &conf, &f);
	if (!r)
		r = parse_argv(argc, argv, c);
	if (!r)
		r = apply_backend_keys(c, &f);
	xbd_vbd_facts_free(&f);
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

int main(int argc, char **argv)
{
	static struct cli c;
	const struct xbd_xen_ops *xen = NULL;
	int r;

	block_stop_signals();
	r = configure(argc, argv, &c, &xen);
	if (r)
		return r == -EINVAL ? 2 : 1;
	xbd_info(NULL, "starting on %s Xen", xen->name);
	r = xbd_daemon_run(xen, &c.vbd, &c.ops);
	if (r < 0)
		xbd_err(NULL, "exiting: %s", strerror(-r));
	return r < 0 ? 1 : 0;
}
