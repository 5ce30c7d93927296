/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * How an administrator names a VBD to xenblkctl, and every daemon's `info` at once (for list
 * and for names that only the daemons can resolve).
 */
#ifndef XENBLKD_XENBLKCTL_VBD_NAMES_H
#define XENBLKD_XENBLKCTL_VBD_NAMES_H

#include <json-c/json.h>
#include <stddef.h>

/* One daemon: its socket and its `info` reply. */
struct vbd_entry {
	char *sock;
	struct json_object *info;
};

/* `info` from every daemon in the run directory, in socket order. Sockets nobody listens on
 * (a daemon that died) are skipped. 0, or an exit status after saying why on stderr: 1 when
 * the run directory cannot be read or a daemon cannot be asked (permission, above all: the
 * sockets are root's); *e then holds what could be read, for a caller that shows it anyway. */
int xbd_vbd_scan(const char *run_dir, struct vbd_entry **e, int *n);
void xbd_vbd_scan_free(struct vbd_entry *e, int n);

/*
 * A VBD's control socket from the name on the command line:
 *   - the path of a control socket (contains '/' and ends in .sock);
 *   - a backend path (/local/domain/0/backend/vbd/7/51712);
 *   - the short name `list` shows, d<frontend domid>/<devid> (d7/51712);
 *   - the escaped backend path, or xenblkd@<it>.service, as systemd names the unit;
 *   - DOMAIN:DEVICE, the frontend domain's name (or id) and the guest's name of the disk
 *     (xvda) or its device number (DOMAIN:51712).
 * 0, or an exit status after saying why: 1 when no VBD served here has the name (or the
 * daemons cannot be asked), 2 when the name is malformed or names more than one VBD.
 */
int xbd_vbd_socket(const char *run_dir, const char *name, char *sock, size_t len);

#endif
