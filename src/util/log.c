/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Logging to stderr with a per-device prefix, and the rate limiter for guest-triggered lines.
 * A line is formatted into one buffer and written with one write() so that lines from the
 * control and data threads never interleave.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xenblkd/log.h"

static enum xbd_log_level max_level = XBD_LOG_INFO;

void xbd_log_set_level(enum xbd_log_level max)
{
	max_level = max;
}

static bool under_journald(void)
{
	return getenv("JOURNAL_STREAM") != NULL;
}

static void vlog(enum xbd_log_level level, const char *prefix, uint64_t missed, const char *fmt,
		 va_list ap)
{
	char line[1024];
	size_t n = 0;
	int r;

	if (level > max_level)
		return;
	if (under_journald())
		n += (size_t)snprintf(line, sizeof(line), "<%d>", (int)level);
	n += (size_t)snprintf(line + n, sizeof(line) - n, "xenblkd[%s]: ", prefix ? prefix : "-");
	if (n < sizeof(line)) {
		r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
		n = r < 0 ? n : n + (size_t)r;
	}
	if (missed && n < sizeof(line))
		n += (size_t)snprintf(line + n, sizeof(line) - n, " (%llu similar suppressed)",
				      (unsigned long long)missed);
	if (n >= sizeof(line) - 1)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	/* One write per line: atomic with respect to other threads' lines. */
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}

void xbd_log(enum xbd_log_level level, const char *prefix, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, prefix, 0, fmt, ap);
	va_end(ap);
}

bool xbd_ratelimit_allow(struct xbd_ratelimit *rl, uint64_t *missed)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec - rl->window_start >= (time_t)rl->interval_s) {
		rl->window_start = now.tv_sec;
		rl->in_window = 0;
	}
	if (rl->in_window >= rl->burst) {
		rl->suppressed++;
		rl->total_suppressed++;
		return false;
	}
	rl->in_window++;
	*missed = rl->suppressed;
	rl->suppressed = 0;
	return true;
}

void xbd_log_guest(struct xbd_ratelimit *rl, enum xbd_log_level level, const char *prefix,
		   const char *fmt, ...)
{
	uint64_t missed;
	va_list ap;

	if (!xbd_ratelimit_allow(rl, &missed))
		return;
	va_start(ap, fmt);
	vlog(level, prefix, missed, fmt, ap);
	va_end(ap);
}
