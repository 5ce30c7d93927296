/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One VBD, one daemon (see daemon.h). The lock comes first, before xenstore is touched, so
 * that of two daemons started for one VBD (a watcher restarted mid-claim, a hotplug script and
 * a watcher, an administrator) exactly one serves it and the other leaves without writing
 * anything. The lock file and the socket are removed on the way out; a crash leaves them, and
 * the next daemon takes them over.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "control.h"
#include "fdstore.h"
#include "notify.h"
#include "ctl.h"
#include "daemon.h"
#include "util/run.h"

static int take_lock(const char *run_dir, const char *backend, char *path, size_t len, int *fd)
{
	pid_t holder = 0;
	int r = xbd_run_mkdir(run_dir);

	if (r) {
		xbd_err(NULL, "--run-dir %s: cannot create it: %s", run_dir, strerror(-r));
		return r;
	}
	r = xbd_run_file(path, len, run_dir, backend, XBD_RUN_LOCK_SUFFIX);
	if (!r)
		r = xbd_run_lock(path, fd);
	if (r == -EBUSY) {
		xbd_run_lock_holder(path, &holder);
		xbd_info(NULL, "%s is already served by xenblkd pid %ld: leaving it alone",
			 backend, (long)holder);
	} else if (r) {
		xbd_err(NULL, "cannot lock %s: %s", path, strerror(-r));
	}
	return r;
}

static struct xbd_ctl *open_ctl(struct xbd_vbd *v, const char *run_dir,
				const struct xbd_daemon_ops *ops)
{
	char sock[4096];
	struct xbd_ctl_opts co = { .sock_path = sock, .log_level = ops->log_level };
	struct xbd_ctl *ctl = NULL;
	int r = xbd_run_file(sock, sizeof(sock), run_dir, v->be_path, XBD_RUN_SOCK_SUFFIX);

	if (!r)
		r = xbd_ctl_open(v, &co, &ctl);
	if (!r)
		return ctl;
	/* Serving the guest matters more than being reachable by xenblkctl. */
	xbd_warn(v->prefix, "no control socket %s: %s", sock, strerror(-r));
	co.sock_path = NULL;
	return xbd_ctl_open(v, &co, &ctl) ? NULL : ctl;
}

static const struct xbd_fd_keeper fd_store = {
	.take = xbd_fdstore_take,
	.put = xbd_fdstore_put,
	.remove = xbd_fdstore_remove,
};

static int serve(const struct xbd_xen_ops *xen, const struct xbd_vbd_options *opt,
		 const struct xbd_vbd_config *cfg, const struct xbd_daemon_ops *ops,
		 const char *run_dir)
{
	static struct xbd_vbd v;
	static struct xbd_vbd_options o;
	static char nbd_dir[4096];
	struct xbd_ctl *ctl;
	int r;

	/* The export's sockets live in the run directory's nbd/ (docs/admin.md). */
	o = *opt;
	snprintf(nbd_dir, sizeof(nbd_dir), "%s/nbd", run_dir);
	o.nbd_dir = nbd_dir;
	o.run_dir = run_dir;
	/* The journal goes to the supervisor's fd store when there is one (docs/restart.md). */
	if (xbd_fdstore_available())
		o.fd_keeper = &fd_store;
	r = xbd_vbd_init(&v, xen, &o, cfg);
	if (!r)
		r = xbd_vbd_export_start(&v);
	if (!r) {
		if (ops->limit_iops || ops->limit_bps)
			xbd_vbd_set_limits(&v, ops->limit_iops, ops->limit_bps);
		xbd_notify_set_name(v.prefix);
		ctl = open_ctl(&v, run_dir, ops);
		r = xbd_control_run(&v, ctl);
		xbd_ctl_close(ctl);
	}
	xbd_vbd_fini(&v);
	return r;
}

int xbd_daemon_run(const struct xbd_xen_ops *xen, const struct xbd_vbd_options *o,
		   const struct xbd_vbd_config *cfg, const struct xbd_daemon_ops *ops)
{
	const char *run_dir = ops->run_dir ? ops->run_dir
					   : xbd_run_dir_default(strcmp(xen->name, "real") != 0);
	char lock[4096];
	int fd = -1;
	int r = take_lock(run_dir, o->backend_path, lock, sizeof(lock), &fd);

	if (r)
		return r == -EBUSY ? 0 : r;
	/* A daemon killed a moment ago may still hold the image's locks (docs/restart.md). */
	xbd_image_lock_set_wait(3000);
	if (ops->refuse_err)
		r = xbd_vbd_refuse(xen, o, ops->refuse_err, ops->refuse_why);
	else
		r = serve(xen, o, cfg, ops, run_dir);
	xbd_run_unlock(fd, lock);
	return r;
}
