/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xenblkctl's commands (ctl_cmds.c, ctl_top.c) and the arguments they share.
 */
#ifndef XENBLKD_XENBLKCTL_H
#define XENBLKD_XENBLKCTL_H

#include <stdbool.h>

/* Exit statuses, as xenblkctl(8) documents them. */
enum {
	XBD_EXIT_OK = 0,
	XBD_EXIT_FAILED = 1, /* the daemon refused, could not be reached, or no VBD has the name */
	XBD_EXIT_USAGE = 2,  /* bad usage or a bad value (an ambiguous VBD name too) */
};

/* The options a command may take, as bits (xenblkctl.c checks them per command). */
enum {
	XBD_OPT_JSON = 1u << 0,
	XBD_OPT_TIMEOUT = 1u << 1,
	XBD_OPT_IOPS = 1u << 2,
	XBD_OPT_BPS = 1u << 3,
	XBD_OPT_INTERVAL = 1u << 4,
	XBD_OPT_ITERATIONS = 1u << 5,
	XBD_OPT_IMAGE = 1u << 6,
	XBD_OPT_FORMAT = 1u << 7,
	XBD_OPT_BACKING = 1u << 8,
	XBD_OPT_TO = 1u << 9,
	XBD_OPT_CANCEL = 1u << 10,
	XBD_OPT_STATUS = 1u << 11,
};

struct ctl_args {
	const char *run_dir;
	bool json;
	const char *timeout, *iops, *bps, *interval, *iterations;
	unsigned int given; /* XBD_OPT_* of the options on the command line */
	const char *image, *format, *backing, *to; /* resume --image, mirror --to */
	bool cancel, status;                       /* mirror --cancel, --status */
	int argc;      /* the command and its arguments */
	char **argv;
};

/* Each returns the exit status. */
int xbd_cmd_list(const struct ctl_args *a);
int xbd_cmd_stats(const struct ctl_args *a);
int xbd_cmd_simple(const struct ctl_args *a); /* pause, resume, resize, set-log-level */
int xbd_cmd_limits(const struct ctl_args *a);
int xbd_cmd_top(const struct ctl_args *a);
/* ctl_image.c */
int xbd_cmd_resume(const struct ctl_args *a); /* resume [--image ... [--backing ...]] */
int xbd_cmd_mirror(const struct ctl_args *a);
int xbd_cmd_upgrade(const struct ctl_args *a); /* upgrade [--to BINARY] (ctl_upgrade.c) */

/* The run directory's sockets, sorted: *names is malloc'd, each entry too. 0, or -errno
 * (a run directory that does not exist has no sockets: 0). */
int xbd_ctl_sockets(const char *run_dir, char ***names, int *n);
void xbd_ctl_sockets_free(char **names, int n);

#endif
