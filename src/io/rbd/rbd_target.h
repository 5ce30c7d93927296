/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The rbd driver's target, as libxl and libvirt write it for qdisk:
 * "pool/image[@snap][:option=value...]" (after the "rbd:" of params). Pure code, so that the
 * unit tests and the fuzz target link it alone. The toolstack writes it to xenstore, where a
 * guest's own device model could read it, so no secret may be in it: of QEMU's options only
 * id, conf, mon_host and keyring are accepted, and key= (or any other) is refused with a
 * message that says where the key goes instead. One option of our own, lock=exclusive, asks
 * for librbd's exclusive lock held for the whole session (rbd_lock.c).
 */
#ifndef XENBLKD_RBD_TARGET_H
#define XENBLKD_RBD_TARGET_H

#include <stdbool.h>
#include <stddef.h>

#define XBD_RBD_NAME_MAX 128   /* pool, image and snapshot names, with the NUL */
#define XBD_RBD_PATH_MAX 1024  /* conf and keyring paths, with the NUL */

struct xbd_rbd_target {
	char pool[XBD_RBD_NAME_MAX];
	char image[XBD_RBD_NAME_MAX];
	char snap[XBD_RBD_NAME_MAX];      /* "" when none: the image's head */
	char id[XBD_RBD_NAME_MAX];        /* the cephx user without "client."; "" = default */
	char conf[XBD_RBD_PATH_MAX];      /* "" = librados's default search */
	char mon_host[XBD_RBD_PATH_MAX];  /* "" = from the conf file */
	char keyring[XBD_RBD_PATH_MAX];   /* "" = the credential or /etc/ceph's default */
	bool lock_exclusive;              /* lock=exclusive: hold the lock, never hand it over */
};

/*
 * Parse `spec` into *t. A backslash escapes the next character (libxl writes "\:" inside
 * mon_host). Names are [A-Za-z0-9_.+-]; paths absolute, printable, without ".." components;
 * mon_host addresses, ports, brackets and separators only. lock= takes only "exclusive", and
 * not on a snapshot (nothing writes it, so there is nothing to exclude). 0, or -EINVAL with one line in
 * `why` (never the rejected value itself when it may be a secret).
 */
int xbd_rbd_parse_target(const char *spec, struct xbd_rbd_target *t, char *why, size_t len);

#endif
