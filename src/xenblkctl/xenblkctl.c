/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xenblkctl: the administrator's tool for running xenblkd daemons, over each daemon's control
 * socket in the run directory (ctl.h). It lists them (whom each serves and what), shows a
 * VBD's statistics per ring with latency percentiles (a table, or the daemon's JSON with
 * --json), pauses and resumes a VBD for snapshots, re-reads its size, sets its log level and
 * I/O limits, and shows live IOPS and latency per VBD (top). VBD names: vbd_names.h.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "ctl_print.h"
#include "util/run.h"
#include "xenblkctl.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: xenblkctl [--run-dir DIR] COMMAND [ARGS] [OPTIONS]\n"
		"Control the xenblkd daemons running on this host.\n\n"
		"  list [--json]                  every VBD served here: domain, guest device, ro/rw,\n"
		"                                 image and format, state\n"
		"  stats VBD [--json]             requests by op, sectors, in flight and errors per\n"
		"                                 ring and in total; latency p50/p99/p999 and histogram\n"
		"  pause VBD [--timeout MS]       stop taking requests, answer those in flight and\n"
		"                                 flush (for snapshots; default timeout 10000)\n"
		"  resume VBD [--image [FMT:]PATH [--format raw|qcow2] [--backing FMT:PATH|...]]\n"
		"                                 take requests again; with --image, on that image\n"
		"                                 (an external snapshot's overlay) from now on\n"
		"  mirror VBD --to [FMT:]DEST [--format raw|qcow2] | --cancel | --status\n"
		"                                 copy the disk live to DEST (same size), then\n"
		"                                 serve DEST\n"
		"  resize VBD                     re-read the image size and tell the guest\n"
		"  set-log-level VBD LEVEL        err, warn, info or debug\n"
		"  limits VBD [--iops N] [--bps N[K|M|G]]  show or set the I/O limits (0: none)\n"
		"  top [--interval S] [--iterations N]     live IOPS, bandwidth and latency per VBD\n"
		"  upgrade VBD [--to BINARY] [--timeout MS]\n"
		"                                 drain, then re-execute the daemon from BINARY\n"
		"                                 (default: the path it was started from, i.e. the\n"
		"                                 installed one), same pid, resuming its rings; wait\n"
		"                                 up to MS for it to answer again (default 90000)\n\n"
		"VBD is the short name list shows (d5/51712), DOMAIN:DEVICE (web:xvda), a backend\n"
		"path (/local/domain/0/backend/qdisk/5/51712), its escaped name\n"
		"(local-domain-0-backend-qdisk-5-51712, as in xenblkd@NAME.service) or the path of\n"
		"a control socket. --run-dir defaults to /run/xenblkd ($XENBLKD_SIM_DIR/run on the\n"
		"simulated platform).\n"
		"Options: --help, --version.\n"
		"Exit status: 0 on success; 1 when the daemon refused or could not be reached, or no\n"
		"VBD has the name; 2 for bad usage or a bad value (an ambiguous VBD name too).\n");
}

enum { OPT_RUN_DIR = 256, OPT_JSON, OPT_TIMEOUT, OPT_IOPS, OPT_BPS, OPT_INTERVAL,
       OPT_ITERATIONS, OPT_HELP, OPT_VERSION, OPT_IMAGE, OPT_FORMAT, OPT_BACKING, OPT_TO,
       OPT_CANCEL, OPT_STATUS };

static const struct option long_opts[] = {
	{ "run-dir", required_argument, NULL, OPT_RUN_DIR },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "iops", required_argument, NULL, OPT_IOPS },
	{ "bps", required_argument, NULL, OPT_BPS },
	{ "interval", required_argument, NULL, OPT_INTERVAL },
	{ "iterations", required_argument, NULL, OPT_ITERATIONS },
	{ "image", required_argument, NULL, OPT_IMAGE },
	{ "format", required_argument, NULL, OPT_FORMAT },
	{ "backing", required_argument, NULL, OPT_BACKING },
	{ "to", required_argument, NULL, OPT_TO },
	{ "cancel", no_argument, NULL, OPT_CANCEL },
	{ "status", no_argument, NULL, OPT_STATUS },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

static int set_option(struct ctl_args *a, int o, const char *arg)
{
	switch (o) {
	case OPT_RUN_DIR: a->run_dir = arg; return 0;
	case OPT_JSON: a->json = true; a->given |= XBD_OPT_JSON; return 0;
	case OPT_TIMEOUT: a->timeout = arg; a->given |= XBD_OPT_TIMEOUT; return 0;
	case OPT_IOPS: a->iops = arg; a->given |= XBD_OPT_IOPS; return 0;
	case OPT_BPS: a->bps = arg; a->given |= XBD_OPT_BPS; return 0;
	case OPT_INTERVAL: a->interval = arg; a->given |= XBD_OPT_INTERVAL; return 0;
	case OPT_ITERATIONS: a->iterations = arg; a->given |= XBD_OPT_ITERATIONS; return 0;
	case OPT_IMAGE: a->image = arg; a->given |= XBD_OPT_IMAGE; return 0;
	case OPT_FORMAT: a->format = arg; a->given |= XBD_OPT_FORMAT; return 0;
	case OPT_BACKING: a->backing = arg; a->given |= XBD_OPT_BACKING; return 0;
	case OPT_TO: a->to = arg; a->given |= XBD_OPT_TO; return 0;
	case OPT_CANCEL: a->cancel = true; a->given |= XBD_OPT_CANCEL; return 0;
	case OPT_STATUS: a->status = true; a->given |= XBD_OPT_STATUS; return 0;
	case OPT_HELP: usage(stdout); exit(0);
	case OPT_VERSION: printf("xenblkctl %s\n", XBD_VERSION); exit(0);
	default: return -EINVAL;
	}
}

/* getopt's complaint, in one line. */
static int usage_error(int o, char **argv)
{
	const char *word = argv[optind - 1];

	if (o == ':')
		fprintf(stderr, "xenblkctl: option '%s' needs a value; see --help\n", word);
	else
		fprintf(stderr, "xenblkctl: unknown option '%s'; see --help\n", word);
	return -EINVAL;
}

static int parse(int argc, char **argv, struct ctl_args *a)
{
	int o;

	a->run_dir = xbd_run_dir_default(true);
	opterr = 0;
	while ((o = getopt_long(argc, argv, ":hV", long_opts, NULL)) != -1)
		if (o == '?' || o == ':' ? usage_error(o, argv)
		    : set_option(a, o == 'h' ? OPT_HELP : o == 'V' ? OPT_VERSION : o, optarg))
			return -EINVAL;
	a->argc = argc - optind;
	a->argv = argv + optind;
	if (!a->argc) {
		fprintf(stderr, "xenblkctl: no command; see --help\n");
		return -EINVAL;
	}
	return 0;
}

static const struct ctl_verb {
	const char *name;
	int nargs; /* after the verb */
	unsigned int options; /* XBD_OPT_* it takes */
	int (*run)(const struct ctl_args *a);
} verbs[] = {
	{ "list", 0, XBD_OPT_JSON, xbd_cmd_list },
	{ "stats", 1, XBD_OPT_JSON, xbd_cmd_stats },
	{ "pause", 1, XBD_OPT_JSON | XBD_OPT_TIMEOUT, xbd_cmd_simple },
	{ "resume", 1, XBD_OPT_JSON | XBD_OPT_IMAGE | XBD_OPT_FORMAT | XBD_OPT_BACKING,
	  xbd_cmd_resume },
	{ "mirror", 1, XBD_OPT_JSON | XBD_OPT_TO | XBD_OPT_FORMAT | XBD_OPT_CANCEL | XBD_OPT_STATUS,
	  xbd_cmd_mirror },
	{ "resize", 1, XBD_OPT_JSON, xbd_cmd_simple },
	{ "set-log-level", 2, XBD_OPT_JSON, xbd_cmd_simple },
	{ "limits", 1, XBD_OPT_JSON | XBD_OPT_IOPS | XBD_OPT_BPS, xbd_cmd_limits },
	{ "top", 0, XBD_OPT_INTERVAL | XBD_OPT_ITERATIONS, xbd_cmd_top },
	{ "upgrade", 1, XBD_OPT_TO | XBD_OPT_TIMEOUT, xbd_cmd_upgrade },
};

/* An option the command does not take is a mistake (a --timeout meant for pause given to
 * resume), not something to ignore. */
static int check_options(const struct ctl_verb *v, unsigned int given)
{
	static const char *const names[] = { "--json", "--timeout", "--iops", "--bps",
					     "--interval", "--iterations", "--image", "--format",
					     "--backing", "--to", "--cancel", "--status" };

	for (unsigned int i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if ((given & ~v->options) & (1u << i)) {
			fprintf(stderr, "xenblkctl: %s takes no %s; see --help\n", v->name,
				names[i]);
			return XBD_EXIT_USAGE;
		}
	return XBD_EXIT_OK;
}

int main(int argc, char **argv)
{
	struct ctl_args a = { 0 };

	if (parse(argc, argv, &a))
		return XBD_EXIT_USAGE;
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (strcmp(a.argv[0], verbs[i].name))
			continue;
		if (a.argc != verbs[i].nargs + 1) {
			fprintf(stderr, "xenblkctl: %s takes %d argument(s); see --help\n",
				verbs[i].name, verbs[i].nargs);
			return XBD_EXIT_USAGE;
		}
		if (check_options(&verbs[i], a.given))
			return XBD_EXIT_USAGE;
		return verbs[i].run(&a);
	}
	fprintf(stderr, "xenblkctl: unknown command '%s'; see --help\n", a.argv[0]);
	return XBD_EXIT_USAGE;
}
