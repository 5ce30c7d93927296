/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The control socket's `upgrade [BINARY]` (upgrade.h): checked and drained while the client
 * waits, answered, and only then exec'd by the server (xbd_ctl_upgrade_now), since the exec
 * closes the client's connection. Anything that fails before the exec leaves the VBD running
 * as it was.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ctl_internal.h"
#include "notify.h"
#include "upgrade.h"
#include "xenblkd/vbd.h"

#define UPGRADE_DRAIN_MS 10000

static struct json_object *answer(bool ok, const char *text)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "ok", json_object_new_boolean(ok));
	if (!ok)
		json_object_object_add(o, "error", json_object_new_string(text));
	return o;
}

struct json_object *xbd_ctl_upgrade(struct xbd_ctl *c, const char *binary)
{
	const char *bin = binary ? binary : xbd_upgrade_default_binary();
	char why[600], msg[700];
	struct json_object *o;
	int r;

	if (!c->v->jmem || !c->v->nr_queues)
		return answer(false, "upgrade: the VBD has no live connection with a journal to "
				     "resume from (not Connected, or its driver is not resumable)");
	r = xbd_upgrade_check(bin, why, sizeof(why));
	if (r) {
		snprintf(msg, sizeof(msg), "upgrade refused: %s", why);
		return answer(false, msg);
	}
	/* Drain: exec cancels io_uring requests, and gntdev mappings die with the old memory. */
	r = xbd_vbd_pause(c->v, UPGRADE_DRAIN_MS);
	if (r) {
		xbd_vbd_resume(c->v);
		snprintf(msg, sizeof(msg), "upgrade: in-flight requests did not finish in %u ms "
			 "(%s); not upgraded, serving again", UPGRADE_DRAIN_MS, strerror(-r));
		return answer(false, msg);
	}
	snprintf(c->upgrade_to, sizeof(c->upgrade_to), "%s", bin);
	o = answer(true, NULL);
	json_object_object_add(o, "pid", json_object_new_int64((int64_t)getpid()));
	json_object_object_add(o, "binary", json_object_new_string(bin));
	return o;
}

void xbd_ctl_upgrade_now(struct xbd_ctl *c)
{
	int r;

	if (!c->upgrade_to[0])
		return;
	xbd_info(c->v->prefix, "upgrading in place: exec %s (pid %ld stays)", c->upgrade_to,
		 (long)getpid());
	xbd_notify_status("upgrading");
	r = xbd_upgrade_exec(c->upgrade_to);
	xbd_err(c->v->prefix, "upgrade: exec %s failed: %s; serving on", c->upgrade_to,
		strerror(-r));
	c->upgrade_to[0] = '\0';
	xbd_vbd_resume(c->v);
	xbd_notify_status("running");
}
