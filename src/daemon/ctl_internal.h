/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the control socket's files share: the server's state (server.c), the verbs
 * (commands.c), the VBD's identity in `info` (info.c) and the statistics as JSON
 * (stats_json.c).
 */
#ifndef XENBLKD_DAEMON_CTL_INTERNAL_H
#define XENBLKD_DAEMON_CTL_INTERNAL_H

#include <json-c/json.h>
#include <time.h>

#include "ctl.h"

struct xbd_ctl {
	struct xbd_vbd *v;
	int epfd;
	int lfd;                          /* listening socket, -1 without one */
	int wdfd;                         /* watchdog timerfd, -1 without one */
	char sock_path[108];
	enum xbd_log_level log_level;
	struct timespec started;
	char upgrade_to[4096];            /* set by `upgrade`: exec it once the reply is sent */
	int upgrade_journal_fd;           /* a copy of a stored journal for the new image, or -1 */
	char upgrade_journal_name[300];
};

/* commands.c: run one request line; *reply is a new object with "ok" set. */
void xbd_ctl_command(struct xbd_ctl *c, char *line, struct json_object **reply);

/* info.c: add frontend_id, domain, devid, device, mode, image and format to `o`. */
void xbd_ctl_info_identity(struct xbd_vbd *v, struct json_object *o);
/* ctl_image.c: resume onto a new image, the mirror's verbs, and the image fields of info. */
struct json_object *xbd_ctl_resume_image(struct xbd_ctl *c, const char *image, const char *chain);
struct json_object *xbd_ctl_mirror(struct xbd_ctl *c, const char *verb, const char *dest);
struct json_object *xbd_ctl_mirror_status(struct xbd_ctl *c);
void xbd_ctl_image_info(struct xbd_ctl *c, struct json_object *o);

/* ctl_upgrade.c: `upgrade [BINARY]` (upgrade.h); the server calls _now after replying. */
struct json_object *xbd_ctl_upgrade(struct xbd_ctl *c, const char *binary);
void xbd_ctl_upgrade_now(struct xbd_ctl *c);

/* stats_json.c */
struct json_object *xbd_ctl_stats_json(const struct xbd_dataplane_stats *s);
/* "stats": per queue and in total, this connection's counters plus the past ones. */
struct json_object *xbd_ctl_stats_reply(struct xbd_ctl *c);

#endif
