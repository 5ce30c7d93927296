/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One logging module. Lines go to stderr, which systemd hands to the journal; under journald
 * (JOURNAL_STREAM set) each line carries a <N> syslog priority prefix so the journal keeps the
 * level. Each device logs with its own prefix ("d<frontend-domid>/<devid>"). Anything a guest
 * can trigger goes through a rate limiter so a hostile frontend cannot flood the log.
 */
#ifndef XENBLKD_LOG_H
#define XENBLKD_LOG_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

enum xbd_log_level {
	XBD_LOG_ERR = 3,
	XBD_LOG_WARN = 4,
	XBD_LOG_INFO = 6,
	XBD_LOG_DEBUG = 7,
};

void xbd_log_set_level(enum xbd_log_level max);

void xbd_log(enum xbd_log_level level, const char *prefix, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* At most `burst` lines per `interval_s`; the number suppressed is reported with the next line
 * that passes. Not thread-safe: one limiter per thread (per ring, or the control thread). */
struct xbd_ratelimit {
	unsigned int interval_s;
	unsigned int burst;
	time_t window_start;
	unsigned int in_window;
	uint64_t suppressed;
	uint64_t total_suppressed; /* for tests and statistics */
};

#define XBD_RATELIMIT_INIT(interval, nburst) { .interval_s = (interval), .burst = (nburst) }

/* True if a line may be printed now. *missed gets the count suppressed since the last one. */
bool xbd_ratelimit_allow(struct xbd_ratelimit *rl, uint64_t *missed);

/* Log through a rate limiter, for messages a guest can cause. */
void xbd_log_guest(struct xbd_ratelimit *rl, enum xbd_log_level level, const char *prefix,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#define xbd_err(p, ...) xbd_log(XBD_LOG_ERR, p, __VA_ARGS__)
#define xbd_warn(p, ...) xbd_log(XBD_LOG_WARN, p, __VA_ARGS__)
#define xbd_info(p, ...) xbd_log(XBD_LOG_INFO, p, __VA_ARGS__)
#define xbd_debug(p, ...) xbd_log(XBD_LOG_DEBUG, p, __VA_ARGS__)

#endif
