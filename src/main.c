/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xenblkd: a userspace Xen PV block backend. One process serves one virtual block device: it
 * reads its backend directory in xenstore, negotiates blkif with the guest's blkfront, and
 * serves the guest's requests from a disk image with O_DIRECT through io_uring. This file is
 * the command line and start-up; control.c runs the device.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control.h"
#include "xenblkd/log.h"
#include "xenblkd/vbd.h"
#include "xenblkd/xs_value.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: xenblkd --backend-path PATH [options]\n"
		"Serve one Xen virtual block device from the xenstore backend directory PATH,\n"
		"e.g. /local/domain/0/backend/qdisk/5/51712.\n\n"
		"  -b, --backend-path PATH        the device's backend directory (required)\n"
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
		"  -x, --xen real|sim             force the real or simulated Xen (default: real\n"
		"                                 when /dev/xen/gntdev exists)\n"
		"  -v, --verbose                  debug logging\n"
		"  -h, --help\n"
		"Signals: SIGTERM/SIGINT close the device and exit; SIGHUP re-reads the image size.\n");
}

#define MAX_BACKING_DIRS 16

struct cli {
	struct xbd_vbd_options vbd;
	const char *xen;
	const char *backing_dirs[MAX_BACKING_DIRS + 1];
	unsigned int nr_backing_dirs;
};

enum {
	OPT_RING_ORDER = 256, OPT_QUEUES, OPT_INDIRECT, OPT_PERSIST_MAX, OPT_POOL, OPT_SECTOR,
	OPT_NO_FLUSH, OPT_NO_BARRIER, OPT_NO_DISCARD, OPT_CLOSING, OPT_BACKING_DIR,
	OPT_RAW_BACKING, OPT_L2_CACHE, OPT_LOCAL_MAP,
};

static const struct option long_opts[] = {
	{ "backend-path", required_argument, NULL, 'b' },
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

/* A number option in [min, max], or a message naming the option. */
static int number(int o, const char *arg, uint64_t min, uint64_t max, uint64_t *out)
{
	int r = xbd_parse_uint(arg, max, out);

	if (r || *out < min) {
		fprintf(stderr, "xenblkd: --%s: '%s' is not a number in %llu..%llu\n", opt_name(o),
			arg, (unsigned long long)min, (unsigned long long)max);
		return -EINVAL;
	}
	return 0;
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
}

static int number_option(struct cli *c, int o, const char *arg)
{
	uint64_t v;
	int r;

	switch (o) {
	case OPT_RING_ORDER: r = number(o, arg, 0, 4, &v); c->vbd.max_ring_order = (unsigned)v; break;
	case OPT_QUEUES: r = number(o, arg, 1, XBD_MAX_QUEUES, &v); c->vbd.max_queues = (unsigned)v; break;
	case OPT_INDIRECT: r = number(o, arg, 0, XBD_MAX_INDIRECT_SEGS, &v); c->vbd.max_indirect_segs = (unsigned)v; break;
	case OPT_PERSIST_MAX: r = number(o, arg, 1, 1u << 20, &v); c->vbd.persistent_max = (unsigned)v; break;
	case OPT_POOL: r = number(o, arg, 1, 4096, &v); c->vbd.pool_bytes = (size_t)v << 20; break;
	case OPT_CLOSING: r = number(o, arg, 0, 86400, &v); c->vbd.closing_timeout_s = (unsigned)v; break;
	case OPT_L2_CACHE: r = number(o, arg, 1, 4096, &v); c->vbd.l2_cache_bytes = v << 20; break;
	case OPT_SECTOR:
		r = number(o, arg, 512, 4096, &v);
		if (!r && v != 512 && v != 4096) {
			fprintf(stderr, "xenblkd: --sector-size must be 512 or 4096\n");
			r = -EINVAL;
		}
		c->vbd.sector_size = (uint32_t)v;
		break;
	default: r = -EINVAL;
	}
	return r;
}

static int one_option(struct cli *c, int o, const char *arg)
{
	switch (o) {
	case 'b': c->vbd.backend_path = arg; return 0;
	case 'i': c->vbd.image = arg; return 0;
	case 'e': c->vbd.engine = arg; return 0;
	case 'd': c->vbd.driver = arg; return 0;
	case 'x': c->xen = arg; return 0;
	case 'v': xbd_log_set_level(XBD_LOG_DEBUG); return 0;
	case 'h': usage(stdout); exit(0);
	case OPT_NO_FLUSH: c->vbd.no_flush = true; return 0;
	case OPT_NO_BARRIER: c->vbd.no_barrier = true; return 0;
	case OPT_NO_DISCARD: c->vbd.no_discard = true; return 0;
	case OPT_RAW_BACKING: c->vbd.backing_raw_ok = true; return 0;
	case OPT_LOCAL_MAP: c->vbd.allow_local_map = true; return 0;
	case 'g':
		if (xbd_grant_mode_from_string(arg, &c->vbd.grant_mode) == 0)
			return 0;
		fprintf(stderr, "xenblkd: --grant-mode: '%s' is not copy, map or persistent\n", arg);
		return -EINVAL;
	case OPT_BACKING_DIR:
		if (c->nr_backing_dirs == MAX_BACKING_DIRS) {
			fprintf(stderr, "xenblkd: --qcow2-backing-dir: at most %d\n", MAX_BACKING_DIRS);
			return -EINVAL;
		}
		c->backing_dirs[c->nr_backing_dirs++] = arg;
		c->vbd.backing_dirs = c->backing_dirs;
		return 0;
	case '?': usage(stderr); return -EINVAL;
	default: return number_option(c, o, arg);
	}
}

static int parse_args(int argc, char **argv, struct cli *c)
{
	int o;

	set_defaults(c);
	while ((o = getopt_long(argc, argv, "b:i:e:d:g:x:vh", long_opts, NULL)) != -1)
		if (one_option(c, o, optarg))
			return -EINVAL;
	if (!c->vbd.backend_path || optind != argc) {
		usage(stderr);
		return -EINVAL;
	}
	return 0;
}

static const struct xbd_xen_ops *pick_xen(const char *name)
{
	if (!name)
		return xbd_xen_ops_select();
	if (strcmp(name, "real") == 0)
		return &xbd_xen_real_ops;
	if (strcmp(name, "sim") == 0)
		return &xbd_xen_sim_ops;
	return NULL;
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
	struct cli c = { 0 };
	const struct xbd_xen_ops *xen;
	struct xbd_vbd v;
	int r;

	block_stop_signals();
	if (parse_args(argc, argv, &c))
		return 2;
	xen = pick_xen(c.xen);
	if (!xen) {
		fprintf(stderr, "xenblkd: --xen must be real or sim\n");
		return 2;
	}
	xbd_info(NULL, "starting on %s Xen", xen->name);
	r = xbd_vbd_init(&v, xen, &c.vbd);
	if (!r)
		r = xbd_control_run(&v);
	xbd_vbd_fini(&v);
	if (r)
		xbd_err(NULL, "exiting: %s", strerror(-r));
	return r ? 1 : 0;
}
