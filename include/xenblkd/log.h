/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One logging module. Lines go to stderr as "xenblkd[<prefix>]: <message>"; with JOURNAL_STREAM
 * set each carries a <N> syslog priority prefix so the journal keeps the level. When stderr
 * really is the journal (JOURNAL_STREAM names its device and inode) and libsystemd is built
 * in, each line is a journal entry with structured fields instead (docs/logging.md): VBD,
 * DOMID, DEVID (QUEUE) from the prefix, PRIORITY, SYSLOG_IDENTIFIER=xenblkd, MESSAGE_ID for
 * the kinds below. Each device logs with its own prefix ("d<frontend-domid>/<devid>", a
 * queue's "d<frontend-domid>/<devid> q<n>"). Anything a guest can trigger goes through a rate
 * limiter so a hostile frontend cannot flood the log.
 *
 * Guests and disk images are untrusted, and their strings reach log lines (xenstore values,
 * names in image headers). So the logger escapes the whole formatted message, and the prefix,
 * with xbd_log_escape() before writing: no caller can forge a line, whatever it prints.
 * Callers print untrusted strings raw (never escaped twice) and cap each one with
 * "%.*s", XBD_LOG_STR(s), so one string cannot crowd the rest of the line out.
 */
#ifndef XENBLKD_LOG_H
#define XENBLKD_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

enum xbd_log_level {
	XBD_LOG_ERR = 3,
	XBD_LOG_WARN = 4,
	XBD_LOG_INFO = 6,
	XBD_LOG_DEBUG = 7,
};

void xbd_log_set_level(enum xbd_log_level max);

/* A line is cut at this many bytes, newline included; the cut is marked (see below). */
#define XBD_LOG_LINE_MAX 2048
/* The most bytes of one untrusted string a log call prints: "%.*s", XBD_LOG_STR(s). */
#define XBD_LOG_STR_MAX 256
#define XBD_LOG_STR(s) (int)XBD_LOG_STR_MAX, (s)

/*
 * Escapes in[0..inlen) (NUL bytes included) into out, NUL-terminated, for a log line or any
 * other record of untrusted text (structured journal fields, the xenstore error node):
 *  - printable ASCII is copied, except `\` and a `<` as the very first byte (which a journal
 *    stream would read as a priority);
 *  - well-formed UTF-8 is copied, except C1 controls (U+0080..U+009F), U+061C, U+200E,
 *    U+200F, U+2028..U+202E and U+2066..U+2069 (line separators and bidi controls);
 *  - everything else is written byte by byte as `\xNN` (two lower-case hex digits): control
 *    characters (ESC, tab, newline, NUL), DEL, the backslash itself (`\x5c`), the bytes of
 *    the dangerous characters above, and every byte of invalid UTF-8 (stray continuation
 *    bytes, overlong forms, surrogates, values above U+10FFFF, a sequence cut short), each
 *    invalid byte alone with decoding resumed at the next one.
 * So a backslash in the output always starts a 4-byte `\xNN`, and the input can be recovered
 * exactly: the escaping is unambiguous. The log marks a line it had to cut with `\...` at the
 * end, a backslash not followed by `x`, which escaped text can never contain.
 * The output holds only whole characters and whole escapes: when the next one does not fit
 * in outlen - 1 bytes it stops there. Returns the number of input bytes escaped (inlen when
 * everything fit). With outlen 0 nothing is written and 0 is returned.
 */
size_t xbd_log_escape(const char *in, size_t inlen, char *out, size_t outlen);

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

/* Journal MESSAGE_IDs (made once with `systemd-id128 new`; docs/logging.md lists them): one
 * per kind of event an operator looks for, `journalctl MESSAGE_ID=...` finds every one. */
#define XBD_MSGID_STATE "2d8c73381ed347428cf09349897f97da"     /* xenbus state written */
#define XBD_MSGID_RING_HALT "e342c2a248da4b0a9e98b24fc01dc3ab" /* a data plane halted its ring */
#define XBD_MSGID_FATAL "1c0ffc113f014583b4ed1bfbddf14961"     /* fatal error: device closing */

/* xbd_log with a MESSAGE_ID (XBD_MSGID_*) for the journal; the stderr line is the same. */
void xbd_log_id(enum xbd_log_level level, const char *prefix, const char *message_id,
		const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#define xbd_err(p, ...) xbd_log(XBD_LOG_ERR, p, __VA_ARGS__)
#define xbd_warn(p, ...) xbd_log(XBD_LOG_WARN, p, __VA_ARGS__)
#define xbd_info(p, ...) xbd_log(XBD_LOG_INFO, p, __VA_ARGS__)
#define xbd_debug(p, ...) xbd_log(XBD_LOG_DEBUG, p, __VA_ARGS__)

#endif
