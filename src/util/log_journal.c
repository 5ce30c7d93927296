/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The logger's way into the journal when stderr is the journal. systemd says so in
 * JOURNAL_STREAM, "<device>:<inode>" of the stream it connected (systemd.exec(5)); while stderr
 * is still that stream, each line goes out through sd_journal_sendv() as one entry with
 * structured fields: MESSAGE without the "xenblkd[d1/51712]: " prefix that only repeated the
 * identifier, PRIORITY, SYSLOG_IDENTIFIER=xenblkd, MESSAGE_ID for the kinds an operator
 * filters for (log.h), and for a device's lines VBD=d<domid>/<devid>, DOMID, DEVID (and QUEUE
 * for a queue's). Those come from the prefix every device already logs with, so no caller
 * changed. Every value goes through xbd_log_escape(), exactly as a log line does, so a guest's
 * text cannot forge a field or an entry. One datagram per entry keeps entries whole.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-journal.h>
#define DEFAULT_SINK sd_journal_sendv
/* Where sd_journal_sendv() sends (sd-journal(3)); it reports success without sending when
 * nothing is there, so that case keeps to the stream. */
#define JOURNAL_SOCKET "/run/systemd/journal/socket"
#else
#define DEFAULT_SINK NULL /* no libsystemd: the stream, with <N> priorities, as before */
#endif

#include "log_internal.h"

enum { UNDECIDED, JOURNAL, NOT_JOURNAL };

static atomic_int decision = UNDECIDED;
static xbd_journal_sink sink = DEFAULT_SINK;

void xbd_log_set_journal_sink(xbd_journal_sink s)
{
	sink = s ? s : DEFAULT_SINK;
	atomic_store(&decision, UNDECIDED);
}

/* systemd's documented test: JOURNAL_STREAM names stderr's device and inode. A shell that
 * redirected stderr inherits the variable, but not the stream. */
static bool stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	char end;

	if (!e || sscanf(e, "%llu:%llu%c", &dev, &ino, &end) != 2)
		return false;
	return fstat(STDERR_FILENO, &st) == 0 && st.st_dev == dev && st.st_ino == ino;
}

static bool sink_reachable(void)
{
#ifdef HAVE_LIBSYSTEMD
	if (sink == DEFAULT_SINK)
		return access(JOURNAL_SOCKET, W_OK) == 0;
#endif
	return sink != NULL;
}

bool xbd_journal_active(void)
{
	int d = atomic_load_explicit(&decision, memory_order_relaxed);

	if (d == UNDECIDED) {
		/* Two threads may both decide: they find the same answer. */
		d = sink_reachable() && stderr_is_journal() ? JOURNAL : NOT_JOURNAL;
		atomic_store_explicit(&decision, d, memory_order_relaxed);
	}
	return d == JOURNAL;
}

/* A device's prefix, "d<domid>/<devid>" and maybe " q<queue>" (vbd.c makes them). */
struct vbd_id {
	unsigned long domid, devid, queue;
	bool has_queue;
};

static bool parse_number(const char **p, unsigned long max, unsigned long *out)
{
	const char *s = *p;
	unsigned long v = 0;

	if (*s < '0' || *s > '9')
		return false;
	for (; *s >= '0' && *s <= '9'; s++) {
		v = v * 10 + (unsigned long)(*s - '0');
		if (v > max)
			return false;
	}
	*out = v;
	*p = s;
	return true;
}

static bool parse_prefix(const char *p, struct vbd_id *id)
{
	if (!p || *p++ != 'd' || !parse_number(&p, 0xffff, &id->domid) || *p != '/')
		return false;
	p++;
	if (!parse_number(&p, 0xffffffff, &id->devid))
		return false;
	id->has_queue = strncmp(p, " q", 2) == 0;
	if (id->has_queue) {
		p += 2;
		if (!parse_number(&p, 0xffff, &id->queue))
			return false;
	}
	return *p == '\0';
}

#define FIELDS_MAX 8

struct entry {
	struct iovec iov[FIELDS_MAX];
	int n;
	size_t used;
	char buf[XBD_LOG_LINE_MAX + 256];
};

/* NAME=value, the value escaped as a log line's text is. */
static void add_field(struct entry *e, const char *name, const char *value)
{
	char *start = e->buf + e->used;
	size_t room = sizeof(e->buf) - e->used;
	size_t n = (size_t)snprintf(start, room, "%s=", name);

	xbd_log_escape(value, strlen(value), start + n, room - n);
	n += strlen(start + n);
	e->iov[e->n++] = (struct iovec){ .iov_base = start, .iov_len = n };
	e->used += n + 1;
}

static void add_number(struct entry *e, const char *name, unsigned long v)
{
	char num[24];

	snprintf(num, sizeof(num), "%lu", v);
	add_field(e, name, num);
}

/* MESSAGE: the text of the line after "xenblkd[prefix]: ", with the same escaping, cut and
 * count; a prefix that names no device (the watcher's "watch") stays in front of it. */
static void add_message(struct entry *e, const struct xbd_log_msg *m, bool device)
{
	char *start = e->buf;
	size_t n = (size_t)snprintf(start, XBD_LOG_LINE_MAX, "MESSAGE=");

	if (!device && m->prefix) {
		xbd_log_escape(m->prefix, strlen(m->prefix), start + n, 64);
		n += strlen(start + n);
		n += (size_t)snprintf(start + n, XBD_LOG_LINE_MAX - n, ": ");
	}
	xbd_log_put_message(start, &n, XBD_LOG_LINE_MAX, m);
	e->iov[e->n++] = (struct iovec){ .iov_base = start, .iov_len = n };
	e->used = n + 1;
}

int xbd_journal_send(const struct xbd_log_msg *m)
{
	struct entry e = { .n = 0 };
	struct vbd_id id;
	bool device = parse_prefix(m->prefix, &id);
	char vbd[32];

	if (!sink)
		return -ENOSYS;
	add_message(&e, m, device);
	add_number(&e, "PRIORITY", (unsigned long)m->level);
	add_field(&e, "SYSLOG_IDENTIFIER", "xenblkd");
	if (m->message_id)
		add_field(&e, "MESSAGE_ID", m->message_id);
	if (device) {
		snprintf(vbd, sizeof(vbd), "d%lu/%lu", id.domid, id.devid);
		add_field(&e, "VBD", vbd);
		add_number(&e, "DOMID", id.domid);
		add_number(&e, "DEVID", id.devid);
		if (id.has_queue)
			add_number(&e, "QUEUE", id.queue);
	}
	return sink(e.iov, e.n);
}
