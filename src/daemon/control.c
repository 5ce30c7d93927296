/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The control loop (see control.h). Every wake-up re-reads the facts from xenstore and steps
 * the pure state machine until it asks for nothing more, so two quick writes that fire one
 * watch, or a watch for a key we do not care about, are both handled the same way. SIGTERM and
 * SIGINT close the device cleanly: Closing, drain in-flight I/O, Closed, exit 0. SIGHUP
 * re-reads the image size (online resize). @releaseDomain tells us a domain died.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "control.h"
#include "ctl.h"
#include "notify.h"
#include "xenblkd/log.h"

#define MAX_STEPS 8

enum { PFD_XS, PFD_SIG, PFD_DP, PFD_CTL, PFD_COUNT };

/* The control socket (ctl/ctl.h); NULL without one. */
static struct xbd_ctl *ctl;

static int watch_device(struct xbd_vbd *v)
{
	char path[512];
	int r = v->xen->xs_watch(v->xs, v->be_path, "be");

	if (r)
		return r;
	snprintf(path, sizeof(path), "%s/state", v->fe_path);
	r = v->xen->xs_watch(v->xs, path, "fe");
	if (!r)
		r = v->xen->xs_watch(v->xs, "@releaseDomain", "rel");
	return r;
}

static void drain_watch_events(struct xbd_vbd *v)
{
	char *path, *token;

	while (v->xen->xs_read_watch(v->xs, &path, &token) == 0) {
		free(path);
		free(token);
	}
}

/* Step the state machine until it is quiet. Returns 1 when the device is gone. */
static int evaluate(struct xbd_vbd *v)
{
	for (int i = 0; i < MAX_STEPS; i++) {
		struct xbd_fsm_facts f;
		struct xbd_fsm_actions a;
		int r = xbd_vbd_read_facts(v, &f);

		if (r) {
			xbd_err(v->prefix, "reading xenstore: %s", strerror(-r));
			return r;
		}
		xbd_fsm_step(&f, &a);
		if (a.exit) {
			xbd_vbd_disconnect(v);
			return 1;
		}
		if (!a.connect && !a.disconnect && a.set_state == XenbusStateUnknown)
			return 0;
		if (xbd_vbd_apply(v, &a) == 0 && a.set_state != XenbusStateUnknown)
			xbd_notify_state(a.set_state);
	}
	return 0;
}

static void close_for_shutdown(struct xbd_vbd *v)
{
	xbd_notify_stopping();
	xbd_xb_switch_state(v, XenbusStateClosing);
	xbd_vbd_disconnect(v);
	xbd_xb_switch_state(v, XenbusStateClosed);
}

static int make_signalfd(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL))
		return -errno;
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

/* True when the signal asks us to stop; SIGHUP is a resize. */
static bool take_signal(struct xbd_vbd *v, int sfd)
{
	struct signalfd_siginfo si;

	if (read(sfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
		return false;
	if (si.ssi_signo == SIGHUP) {
		xbd_vbd_resize(v);
		return false;
	}
	xbd_info(v->prefix, "signal %u received: closing", si.ssi_signo);
	return true;
}

static int loop(struct xbd_vbd *v, int sfd)
{
	struct pollfd p[PFD_COUNT] = {
		[PFD_XS] = { .fd = v->xen->xs_fd(v->xs), .events = POLLIN },
		[PFD_SIG] = { .fd = sfd, .events = POLLIN },
		[PFD_DP] = { .fd = v->dp_notify_fd, .events = POLLIN },
		[PFD_CTL] = { .fd = xbd_ctl_fd(ctl), .events = POLLIN },
	};

	for (;;) {
		int r;

		/* The closing timer needs a tick; otherwise sleep until something happens. */
		if (poll(p, PFD_COUNT, xbd_vbd_closing_pending(v) ? 1000 : -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (p[PFD_SIG].revents && take_signal(v, sfd)) {
			close_for_shutdown(v);
			return 0;
		}
		if (p[PFD_CTL].revents) {
			xbd_ctl_dispatch(ctl);
			if (!p[PFD_SIG].revents && !p[PFD_DP].revents && !p[PFD_XS].revents)
				continue;
		}
		if (p[PFD_DP].revents)
			xbd_vbd_check_dataplanes(v);
		if (p[PFD_XS].revents)
			drain_watch_events(v);
		r = evaluate(v);
		if (r)
			return r > 0 ? 0 : r;
	}
}

int xbd_control_run(struct xbd_vbd *v, struct xbd_ctl *control)
{
	int sfd = make_signalfd();
	int r;

	if (sfd < 0)
		return sfd;
	ctl = control;
	r = watch_device(v);
	/* A device left live by a daemon that died is taken over, not reconnected. */
	if (!r)
		r = xbd_vbd_try_resume(v);
	if (!r)
		r = evaluate(v);
	if (!r)
		xbd_notify_ready();
	if (r == 0)
		r = loop(v, sfd);
	else if (r > 0)
		r = 0;
	close(sfd);
	return r;
}
