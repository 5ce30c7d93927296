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
#include <sys/mman.h>
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

/* journal-<kind>-<fe>-<devid>, as the journal code names it in the store. */
static int store_name(const struct xbd_vbd *v, char *buf, size_t len)
{
	const char *kind = strstr(v->be_path, "/backend/");
	int n = kind ? snprintf(buf, len, "journal-%s", kind + strlen("/backend/")) : -1;

	if (n < 0 || (size_t)n >= len)
		return -EINVAL;
	for (char *p = buf; *p; p++)
		*p = *p == '/' ? '-' : *p;
	return 0;
}

/*
 * A journal kept in the supervisor's fd store is only mapped here, and the supervisor passes
 * it back only when it restarts us, which an exec is not. So (paused: nothing writes it) it
 * is copied into a new memfd that replaces it in the store and goes to the new image as a
 * supervisor would pass it (xbd_upgrade_exec): both then hold the same file.
 */
static int hand_over_journal(struct xbd_ctl *c)
{
	const struct xbd_fd_keeper *k = c->v->opt->fd_keeper;
	size_t done = 0;
	int fd, r;

	c->upgrade_journal_fd = -1;
	if (!k)
		return 0; /* the run directory's file: the new image opens it by its path */
	r = store_name(c->v, c->upgrade_journal_name, sizeof(c->upgrade_journal_name));
	if (r)
		return r;
	fd = memfd_create("xenblkd-journal", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (done < c->v->jsize) {
		ssize_t n = pwrite(fd, (const char *)c->v->jmem + done, c->v->jsize - done,
				   (off_t)done);

		if (n <= 0) {
			close(fd);
			return n < 0 ? -errno : -EIO;
		}
		done += (size_t)n;
	}
	k->remove(c->upgrade_journal_name);
	r = k->put(c->upgrade_journal_name, fd);
	if (r) {
		close(fd);
		return r;
	}
	c->upgrade_journal_fd = fd;
	return 0;
}

/*
 * The exec closes the image's fd, but io_uring's registered file holds the image too, and
 * the kernel lets go of it only when it tears the ring down, in the background after the
 * exec: until then the new image found the image's locks taken and slept 50 ms before trying
 * again (most of the pause the guest saw). Released here, paused, the exec's close releases
 * the locks at once. A failure only costs that wait.
 */
static void release_files(struct xbd_vbd *v)
{
	int r = xbd_vbd_release_files(v);

	if (r)
		xbd_warn(v->prefix, "upgrade: the I/O engine keeps its reference to the image "
			 "(%s): the new image may wait for the image's locks", strerror(-r));
}

/* The exec did not happen: the queues need their files again, or no I/O would work. Without
 * them we end as after a crash, for the supervisor to restart us from the journal. */
static void restore_files_or_exit(struct xbd_vbd *v)
{
	int r = xbd_vbd_restore_files(v);

	if (!r)
		return;
	xbd_err(v->prefix, "upgrade: cannot give the I/O engine the image back (%s); exiting "
		"for the supervisor to restart us (the connection resumes from the journal)",
		strerror(-r));
	_exit(1);
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
	release_files(c->v);
	r = hand_over_journal(c);
	if (r) {
		restore_files_or_exit(c->v);
		xbd_vbd_resume(c->v);
		snprintf(msg, sizeof(msg), "upgrade: cannot hand the journal over (%s); not "
			 "upgraded, serving again", strerror(-r));
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
	r = xbd_upgrade_exec(c->upgrade_to, c->upgrade_journal_fd, c->upgrade_journal_name);
	xbd_err(c->v->prefix, "upgrade: exec %s failed: %s; serving on", c->upgrade_to,
		strerror(-r));
	c->upgrade_to[0] = '\0'; /* (with a journal handed over, the exec never returns) */
	restore_files_or_exit(c->v);
	xbd_vbd_resume(c->v);
	xbd_notify_status("running");
}
