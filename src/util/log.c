/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Logging with a per-device prefix, and the rate limiter for guest-triggered lines. When
 * stderr is the journal (JOURNAL_STREAM), a line goes out as one journal entry with structured
 * fields (log_journal.c); otherwise, or if that fails, it is formatted into one buffer and
 * written to stderr with one write(), so lines from the control and data threads never
 * interleave. Either way the formatted message is escaped as a whole (log_escape.c), so
 * untrusted text in it cannot forge lines or fields.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log_internal.h"

static enum xbd_log_level max_level = XBD_LOG_INFO;

void xbd_log_set_level(enum xbd_log_level max)
{
	max_level = max;
}

static bool under_journald(void)
{
	return getenv("JOURNAL_STREAM") != NULL;
}

/* The formatted message before escaping; a longer one is cut (and marked). */
#define BODY_MAX 1024

/* Appends the escaped text; false if it had to be cut. */
static bool put_escaped(char *line, size_t *n, size_t room, const char *text, size_t len)
{
	size_t done = xbd_log_escape(text, len, line + *n, room - *n);

	*n += strlen(line + *n);
	return done == len;
}

void xbd_log_put_message(char *line, size_t *n, size_t size, const struct xbd_log_msg *m)
{
	/* The whole body, not only the arguments: nothing a caller prints can forge a line. */
	bool whole = put_escaped(line, n, size - XBD_LOG_TAIL, m->body, m->len) && !m->truncated;

	if (!whole)
		*n += (size_t)snprintf(line + *n, size - *n, "\\...");
	if (m->missed)
		*n += (size_t)snprintf(line + *n, size - *n, " (%llu similar suppressed)",
				       (unsigned long long)m->missed);
}

/* Today's stderr format: "[<N>]xenblkd[<prefix>]: <message>", <N> under journald. */
static void write_line(const struct xbd_log_msg *m)
{
	char line[XBD_LOG_LINE_MAX];
	const char *prefix = m->prefix ? m->prefix : "-";
	size_t n = 0;

	if (under_journald())
		n += (size_t)snprintf(line, sizeof(line), "<%d>", (int)m->level);
	n += (size_t)snprintf(line + n, sizeof(line) - n, "xenblkd[");
	put_escaped(line, &n, n + 64, prefix, strlen(prefix));
	n += (size_t)snprintf(line + n, sizeof(line) - n, "]: ");
	xbd_log_put_message(line, &n, sizeof(line), m);
	line[n++] = '\n';
	/* One write per line: atomic with respect to other threads' lines. */
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}

static void vlog(enum xbd_log_level level, const char *prefix, const char *message_id,
		 uint64_t missed, const char *fmt, va_list ap)
{
	char body[BODY_MAX];
	struct xbd_log_msg m = { .level = level, .prefix = prefix, .message_id = message_id,
				 .body = body, .missed = missed };
	int r;

	if (level > max_level)
		return;
	r = vsnprintf(body, sizeof(body), fmt, ap);
	m.len = r < 0 ? 0 : (size_t)r < sizeof(body) ? (size_t)r : sizeof(body) - 1;
	m.truncated = r < 0 || (size_t)r != m.len;
	if (xbd_journal_active() && xbd_journal_send(&m) == 0)
		return;
	write_line(&m);
}

void xbd_log(enum xbd_log_level level, const char *prefix, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, prefix, NULL, 0, fmt, ap);
	va_end(ap);
}

void xbd_log_id(enum xbd_log_level level, const char *prefix, const char *message_id,
		const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, prefix, message_id, 0, fmt, ap);
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
	vlog(level, prefix, NULL, missed, fmt, ap);
	va_end(ap);
}
