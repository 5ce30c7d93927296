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

#include "control.h"
#include "xenblkd/log.h"
#include "xenblkd/vbd.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: xenblkd --backend-path PATH [options]\n"
		"Serve one Xen virtual block device from the xenstore backend directory PATH,\n"
		"e.g. /local/domain/0/backend/qdisk/5/51712.\n\n"
		"  -b, --backend-path PATH  the device's backend directory (required)\n"
		"  -i, --image FILE         serve FILE instead of the backend's `params`\n"
		"  -e, --engine NAME        I/O engine: io_uring (default)\n"
		"  -d, --driver NAME        backing driver instead of the image (tests): null, memory\n"
		"  -g, --grant-mode MODE    copy (default; the only mode so far)\n"
		"  -x, --xen real|sim       force the real or simulated Xen (default: real when\n"
		"                           /dev/xen/gntdev exists)\n"
		"  -v, --verbose            debug logging\n"
		"  -h, --help\n");
}

struct cli {
	struct xbd_vbd_options vbd;
	const char *xen;
};

static int parse_args(int argc, char **argv, struct cli *c)
{
	static const struct option opts[] = {
		{ "backend-path", required_argument, NULL, 'b' },
		{ "image", required_argument, NULL, 'i' },
		{ "engine", required_argument, NULL, 'e' },
		{ "driver", required_argument, NULL, 'd' },
		{ "grant-mode", required_argument, NULL, 'g' },
		{ "xen", required_argument, NULL, 'x' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int o;

	while ((o = getopt_long(argc, argv, "b:i:e:d:g:x:vh", opts, NULL)) != -1) {
		switch (o) {
		case 'b': c->vbd.backend_path = optarg; break;
		case 'i': c->vbd.image = optarg; break;
		case 'e': c->vbd.engine = optarg; break;
		case 'd': c->vbd.driver = optarg; break;
		case 'g':
			if (strcmp(optarg, "copy") != 0) {
				fprintf(stderr, "xenblkd: grant mode '%s' is not available\n", optarg);
				return -EINVAL;
			}
			break;
		case 'x': c->xen = optarg; break;
		case 'v': xbd_log_set_level(XBD_LOG_DEBUG); break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -EINVAL;
		}
	}
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
	xbd_info(NULL, "starting on %s Xen, grant copy", xen->name);
	r = xbd_vbd_init(&v, xen, &c.vbd);
	if (!r)
		r = xbd_control_run(&v);
	xbd_vbd_fini(&v);
	if (r)
		xbd_err(NULL, "exiting: %s", strerror(-r));
	return r ? 1 : 0;
}
