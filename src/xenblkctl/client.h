/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xenblkctl's side of the control socket (ctl.h): name a VBD's socket, send one request and
 * parse the JSON reply.
 */
#ifndef XENBLKD_XENBLKCTL_CLIENT_H
#define XENBLKD_XENBLKCTL_CLIENT_H

#include <json-c/json.h>
#include <stddef.h>

/* A backend path, an escaped name (optionally as xenblkd@NAME.service) or a socket path, to
 * the socket path. 0 or -ENAMETOOLONG. */
int xbd_client_socket(const char *run_dir, const char *vbd, char *out, size_t len);

/* Send `request`, wait for the reply. 0 and *reply (put it with json_object_put), or -errno:
 * -ENOENT/-ECONNREFUSED when no daemon listens there, -EPROTO for a reply that is no JSON. */
int xbd_client_call(const char *sock, const char *request, struct json_object **reply);

/* Say on stderr why a call to `sock` failed with `err` (from xbd_client_call), with a hint:
 * no daemon serves the VBD, or the sockets are root's. */
void xbd_client_complain(const char *sock, int err);

/* A reply's "ok", and its "error" text when not. */
int xbd_client_ok(struct json_object *reply, const char **error);

/* Convenience getters: 0 / "" when the member is missing or null. */
unsigned long long xbd_json_u64(struct json_object *o, const char *path);
const char *xbd_json_str(struct json_object *o, const char *key);

#endif
