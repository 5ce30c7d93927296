/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Between the logger (log.c) and its journal sink (log_journal.c): one formatted message on
 * its way out, the text every destination shares, and the hook a test uses to put a fake
 * journal in place of sd_journal_sendv().
 */
#ifndef XENBLKD_UTIL_LOG_INTERNAL_H
#define XENBLKD_UTIL_LOG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "xenblkd/log.h"

struct xbd_log_msg {
	enum xbd_log_level level;
	const char *prefix;     /* "d<domid>/<devid>[ q<queue>]", another name, or NULL */
	const char *message_id; /* XBD_MSGID_*, or NULL */
	const char *body;       /* formatted, not yet escaped */
	size_t len;
	bool truncated;         /* the body did not fit its buffer */
	uint64_t missed;        /* lines the rate limiter suppressed before this one */
};

/* Room kept at the end of a line for the cut mark, the suppressed count and the newline. */
#define XBD_LOG_TAIL 64

/* Appends the escaped body at line[*n], within `size` bytes: cut (and marked `\...`) where it
 * would leave less than XBD_LOG_TAIL bytes, then the suppressed count. NUL-terminated. */
void xbd_log_put_message(char *line, size_t *n, size_t size, const struct xbd_log_msg *m);

/* The journal's native protocol, when stderr is the journal (log_journal.c). */
typedef int (*xbd_journal_sink)(const struct iovec *iov, int n);

/* Is stderr the journal (JOURNAL_STREAM names its device and inode) and is there a way to
 * send to it? Decided at the first line, and again after xbd_log_set_journal_sink(). */
bool xbd_journal_active(void);
/* One entry with structured fields; 0, or -errno (the caller then writes the line). */
int xbd_journal_send(const struct xbd_log_msg *m);
/* For tests: send through `sink` instead of sd_journal_sendv() (NULL: the default again);
 * the next line decides afresh whether stderr is the journal. */
void xbd_log_set_journal_sink(xbd_journal_sink sink);

#endif
