/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Logging to stderr with a per-device prefix, and the rate limiter for guest-triggered lines.
 * A line is formatted into one buffer and written with one write() so that lines from the
 * control and data threads never interleave. The formatted message is escaped as a whole
 * (log_escape.c) on its way into that buffer, so untrusted text in it cannot forge lines.
 */
#include <stdarg.h>
#include <stdbool.h>
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

/* Room kept at the end of a line for the cut mark, the suppressed count and the newline. */
#define LINE_TAIL 64
/* The formatted message before escaping; a longer one is cut (and marked). */
#define BODY_MAX 1024

/* Appends the escaped text; false if it had to be cut. */
static bool put_escaped(char *line, size_t *n, size_t room, const char *text, size_t len)
{
	size_t done = xbd_log_escape(text, len, line + *n, room - *n);

	*n += strlen(line + *n);
	return done == len;
}

static void vlog(enum xbd_log_level level, const char *prefix, uint64_t missed, const char *fmt,
		 va_list ap)
{
	char body[BODY_MAX], line[XBD_LOG_LINE_MAX];
	const size_t room = sizeof(line) - LINE_TAIL;
	size_t n = 0, len;
	bool whole;
	int r;

	if (level > max_level)
		return;
	if (under_journald())
		n += (size_t)snprintf(line, sizeof(line), "<%d>", (int)level);
	n += (size_t)snprintf(line + n, sizeof(line) - n, "xenblkd[");
	prefix = prefix ? prefix : "-";
	put_escaped(line, &n, n + 64, prefix, strlen(prefix));
	n += (size_t)snprintf(line + n, sizeof(line) - n, "]: ");
	r = vsnprintf(body, sizeof(body), fmt, ap);
	len = r < 0 ? 0 : (size_t)r < sizeof(body) ? (size_t)r : sizeof(body) - 1;
	/* The whole body, not only the arguments: nothing a caller prints can forge a line. */
	whole = put_escaped(line, &n, room, body, len) && (size_t)r == len;
	if (!whole)
		n += (size_t)snprintf(line + n, sizeof(line) - n, "\\...");
	if (missed)
		n += (size_t)snprintf(line + n, sizeof(line) - n, " (%llu similar suppressed)",
				      (unsigned long long)missed);
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
