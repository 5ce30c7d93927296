/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xenstore over libxenstore. Both ops tables use it: the simulated platform runs a real
 * xenstored, so only grant tables and event channels differ between them.
 */
#ifndef XENBLKD_XEN_XS_H
#define XENBLKD_XEN_XS_H

#include "xenblkd/xen_ops.h"

int xbd_xs_lib_open(struct xbd_xs **out);
void xbd_xs_lib_close(struct xbd_xs *xs);
int xbd_xs_lib_read(struct xbd_xs *xs, uint32_t tx, const char *path, char **val);
int xbd_xs_lib_write(struct xbd_xs *xs, uint32_t tx, const char *path, const char *val);
int xbd_xs_lib_rm(struct xbd_xs *xs, uint32_t tx, const char *path);
int xbd_xs_lib_directory(struct xbd_xs *xs, uint32_t tx, const char *path, char ***names,
			 unsigned int *n);
int xbd_xs_lib_set_perms(struct xbd_xs *xs, uint32_t tx, const char *path,
			 const struct xbd_xs_perm *perms, unsigned int n);
int xbd_xs_lib_watch(struct xbd_xs *xs, const char *path, const char *token);
int xbd_xs_lib_unwatch(struct xbd_xs *xs, const char *path, const char *token);
int xbd_xs_lib_read_watch(struct xbd_xs *xs, char **path, char **token);
int xbd_xs_lib_fd(struct xbd_xs *xs);
int xbd_xs_lib_tx_begin(struct xbd_xs *xs, uint32_t *tx);
int xbd_xs_lib_tx_end(struct xbd_xs *xs, uint32_t tx, bool abort);
int xbd_xs_lib_domain_exists(struct xbd_xs *xs, uint16_t domid);

/* Initialiser for the xenstore members of an ops table. */
#define XBD_XS_LIB_OPS                                                                          \
	.xs_open = xbd_xs_lib_open, .xs_close = xbd_xs_lib_close, .xs_read = xbd_xs_lib_read,   \
	.xs_write = xbd_xs_lib_write, .xs_rm = xbd_xs_lib_rm,                                    \
	.xs_directory = xbd_xs_lib_directory, .xs_set_perms = xbd_xs_lib_set_perms,              \
	.xs_watch = xbd_xs_lib_watch, .xs_unwatch = xbd_xs_lib_unwatch,                          \
	.xs_read_watch = xbd_xs_lib_read_watch, .xs_fd = xbd_xs_lib_fd,                          \
	.xs_tx_begin = xbd_xs_lib_tx_begin, .xs_tx_end = xbd_xs_lib_tx_end,                      \
	.xs_domain_exists = xbd_xs_lib_domain_exists

#endif
