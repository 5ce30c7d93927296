/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Waiting on the caller's wake-up fds with poll(), for the engines that are not io_uring
 * (libaio and threads signal completions through an eventfd) and for queues without an engine,
 * whose driver may have a descriptor of its own to watch (a network connection).
 */
#include <errno.h>
#include <poll.h>

#include "io_internal.h"

int xbd_poll_wake_fds(int own_fd, short own_events, const int *fds, unsigned int nfds,
		      unsigned int *ready, int timeout_ms)
{
	struct pollfd p[XBD_ENGINE_MAX_WAKE_FDS + 1];
	unsigned int first = own_fd >= 0 ? 1 : 0;

	if (nfds > XBD_ENGINE_MAX_WAKE_FDS)
		return -EINVAL;
	if (first)
		p[0] = (struct pollfd){ .fd = own_fd, .events = own_events };
	for (unsigned int i = 0; i < nfds; i++)
		p[first + i] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
	if (poll(p, first + nfds, timeout_ms) < 0)
		return errno == EINTR ? 0 : -errno;
	for (unsigned int i = 0; i < nfds; i++)
		if (p[first + i].revents)
			*ready |= 1u << i;
	return first ? p[0].revents : 0;
}
