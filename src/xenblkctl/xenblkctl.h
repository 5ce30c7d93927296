/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xenblkctl's commands (ctl_cmds.c, ctl_top.c) and the arguments they share.
 */
#ifndef XENBLKD_XENBLKCTL_H
#define XENBLKD_XENBLKCTL_H

#include <stdbool.h>

struct ctl_args {
	const char *run_dir;
	bool json;
	const char *timeout, *iops, *bps, *interval, *iterations;
	const char *image, *format, *backing, *to; /* resume --image, mirror --to */
	bool cancel, status;                       /* mirror --cancel, --status */
	int argc;      /* the command and its arguments */
	char **argv;
};

/* Each returns the exit status: 0, 1 (failed or unreachable) or 2 (bad usage). */
int xbd_cmd_list(const struct ctl_args *a);
int xbd_cmd_stats(const struct ctl_args *a);
int xbd_cmd_simple(const struct ctl_args *a); /* pause, resume, resize, set-log-level */
int xbd_cmd_limits(const struct ctl_args *a);
int xbd_cmd_top(const struct ctl_args *a);
/* ctl_image.c */
int xbd_cmd_resume(const struct ctl_args *a); /* resume [--image ... [--backing ...]] */
int xbd_cmd_mirror(const struct ctl_args *a);

/* The run directory's sockets, sorted: *names is malloc'd, each entry too. */
int xbd_ctl_sockets(const char *run_dir, char ***names, int *n);
void xbd_ctl_sockets_free(char **names, int n);

#endif
