/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * sd_notify through libsystemd (see notify.h). The watchdog is pinged from the control thread,
 * so a wedged control loop (the one that answers the toolstack) is what systemd catches.
 */
#include <stdint.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "notify.h"
#include "xenblkd/xenbus_fsm.h"

static const char *vbd_name = "-";
static enum xenbus_state last_state = XenbusStateUnknown;

void xbd_notify_set_name(const char *name)
{
	vbd_name = name;
}

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>

void xbd_notify_ready(void)
{
	sd_notifyf(0, "READY=1\nSTATUS=%s: %s", vbd_name, xbd_fsm_state_name(last_state));
}

void xbd_notify_stopping(void)
{
	sd_notifyf(0, "STOPPING=1\nSTATUS=%s: stopping", vbd_name);
}

void xbd_notify_state(enum xenbus_state s)
{
	last_state = s;
	sd_notifyf(0, "STATUS=%s: %s", vbd_name, xbd_fsm_state_name(s));
}

void xbd_notify_status(const char *what)
{
	sd_notifyf(0, "STATUS=%s: %s, %s", vbd_name, xbd_fsm_state_name(last_state), what);
}

int xbd_notify_watchdog_open(void)
{
	uint64_t usec = 0;
	struct itimerspec its;
	int fd;

	if (sd_watchdog_enabled(0, &usec) <= 0 || !usec)
		return -1;
	usec /= 2; /* systemd's advice: ping at half the interval */
	its.it_value.tv_sec = (time_t)(usec / 1000000);
	its.it_value.tv_nsec = (long)(usec % 1000000) * 1000;
	if (!its.it_value.tv_sec && !its.it_value.tv_nsec)
		its.it_value.tv_nsec = 1000;
	its.it_interval = its.it_value;
	fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (fd >= 0 && timerfd_settime(fd, 0, &its, NULL)) {
		close(fd);
		return -1;
	}
	sd_notify(0, "WATCHDOG=1");
	return fd;
}

void xbd_notify_watchdog_ping(int fd)
{
	uint64_t n;

	if (read(fd, &n, sizeof(n)) == (ssize_t)sizeof(n))
		sd_notify(0, "WATCHDOG=1");
}
#else
void xbd_notify_ready(void)
{
}

void xbd_notify_stopping(void)
{
}

void xbd_notify_state(enum xenbus_state s)
{
	last_state = s;
}

void xbd_notify_status(const char *what)
{
	(void)what;
}

int xbd_notify_watchdog_open(void)
{
	return -1;
}

void xbd_notify_watchdog_ping(int fd)
{
	(void)fd;
}
#endif
