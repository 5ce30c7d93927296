/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The live mirror's object and its copier (see mirror.h). The copier is a thread of its own
 * with its own storage queues on both disks: a copy step waits for a read and then a write,
 * which on the data thread would hold up guest requests, and on the control thread the
 * control socket and xenstore. Each step copies one 64 KiB region synchronously and checks
 * the stop flag, so a stop takes one step (well under the 5 s bound); between steps it yields
 * when guest writes keep every dirty region busy. Progress and the first failure are kept in
 * atomics and a reason string the control thread reads for --status.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mirror_map.h"
#include "xenblkd/log.h"
#include "xenblkd/mirror.h"

#define COPY_IDLE_NS 5000000L   /* nothing to take now: look again after 5 ms */
#define COPY_WAIT_MS 200

struct xbd_mirror {
	struct xbd_mirror_map map;
	struct xbd_disk *src, *dst;
	int notify_fd;
	char log_prefix[64];
	pthread_t thread;
	atomic_bool stop;
	atomic_bool failed;
	char why[256];            /* written once, before `failed` (release) */
	_Atomic uint64_t copied;
	_Atomic uint64_t writes;
	void *buf;
};

static void tell_control(struct xbd_mirror *m)
{
	uint64_t one = 1;

	if (write(m->notify_fd, &one, sizeof(one)) < 0)
		xbd_err(m->log_prefix, "mirror: cannot signal the control thread: %s",
			strerror(errno));
}

void xbd_mirror_fail(struct xbd_mirror *m, const char *why, int err)
{
	static pthread_mutex_t once = PTHREAD_MUTEX_INITIALIZER;

	pthread_mutex_lock(&once); /* failures are rare; two threads may race for the reason */
	if (!atomic_load(&m->failed)) {
		snprintf(m->why, sizeof(m->why), "%s: %s", why, strerror(err > 0 ? err : -err));
		atomic_store_explicit(&m->failed, true, memory_order_release);
		xbd_err(m->log_prefix, "mirror cancelled: %s; the source keeps serving", m->why);
		tell_control(m);
	}
	pthread_mutex_unlock(&once);
}

bool xbd_mirror_live(struct xbd_mirror *m)
{
	return !atomic_load_explicit(&m->failed, memory_order_acquire) && !atomic_load(&m->stop);
}

void xbd_mirror_write_begin(struct xbd_mirror *m, uint64_t off, uint64_t len, bool discard)
{
	xbd_mirror_map_write_begin(&m->map, off, len);
	if (discard)
		xbd_mirror_map_mark(&m->map, off, len);
	else
		atomic_fetch_add_explicit(&m->writes, 1, memory_order_relaxed);
}

void xbd_mirror_write_end(struct xbd_mirror *m, uint64_t off, uint64_t len)
{
	xbd_mirror_map_write_end(&m->map, off, len);
}

void xbd_mirror_mark(struct xbd_mirror *m, uint64_t off, uint64_t len)
{
	xbd_mirror_map_mark(&m->map, off, len);
}

struct sync_io {
	struct xbd_io io;
	bool done;
	int res;
};

static void sync_done(struct xbd_io *io, int res)
{
	struct sync_io *s = (struct sync_io *)io;

	s->res = res;
	s->done = true;
}

/* One I/O on the copier's queue, waited for. */
static int sync_io(struct xbd_sq *q, enum xbd_io_op op, void *buf, uint64_t off, uint64_t len)
{
	struct iovec iov = { buf, len };
	struct sync_io s = { .io = { .op = op, .offset = off, .len = len, .iov = &iov,
				     .niov = 1, .done = sync_done } };
	unsigned int ready;
	int r;

	xbd_sq_queue(q, &s.io);
	r = xbd_sq_submit(q);
	while (!s.done) {
		r = xbd_sq_wait(q, NULL, 0, &ready, true, COPY_WAIT_MS);
		if (r < 0 && !s.done)
			return r; /* the engine broke: the I/O cannot be waited for */
	}
	return s.res;
}

/* Copy one region. 0, or the failure, with the mirror failed. */
static int copy_region(struct xbd_mirror *m, struct xbd_sq *sq, struct xbd_sq *dq, uint64_t r)
{
	uint64_t off, len;
	int e;

	xbd_mirror_map_region(&m->map, r, &off, &len);
	e = sync_io(sq, XBD_IO_READ, m->buf, off, len);
	if (e) {
		xbd_mirror_map_release(&m->map, r, false);
		xbd_mirror_fail(m, "reading the source for the copy", e);
		return e;
	}
	e = sync_io(dq, XBD_IO_WRITE, m->buf, off, len);
	xbd_mirror_map_release(&m->map, r, e == 0);
	if (e) {
		xbd_mirror_fail(m, "writing the destination", e);
		return e;
	}
	atomic_fetch_add_explicit(&m->copied, len, memory_order_relaxed);
	return 0;
}

static void copy_loop(struct xbd_mirror *m, struct xbd_sq *sq, struct xbd_sq *dq)
{
	const struct timespec idle = { 0, COPY_IDLE_NS };
	bool told = false; /* the control thread knows the copy is complete */

	while (xbd_mirror_live(m)) {
		int64_t r = xbd_mirror_map_claim(&m->map);

		if (r >= 0) {
			if (copy_region(m, sq, dq, (uint64_t)r))
				return;
			told = false;
			continue;
		}
		if (!told && xbd_mirror_map_clean(&m->map)) {
			xbd_info(m->log_prefix, "mirror: the destination holds the whole disk");
			tell_control(m);
			told = true;
		}
		nanosleep(&idle, NULL);
	}
}

static void *copier_main(void *arg)
{
	struct xbd_mirror *m = arg;
	struct xbd_sq *sq = NULL, *dq = NULL;
	int r = xbd_sq_open(m->src, 2, &sq);

	if (!r)
		r = xbd_sq_open(m->dst, 2, &dq);
	if (r)
		xbd_mirror_fail(m, "opening the copier's storage queues", r);
	else
		copy_loop(m, sq, dq);
	xbd_sq_close(dq);
	xbd_sq_close(sq);
	return NULL;
}

int xbd_mirror_start(struct xbd_disk *src, struct xbd_disk *dst, int notify_fd,
		     const char *log_prefix, struct xbd_mirror **out)
{
	struct xbd_mirror *m = calloc(1, sizeof(*m));
	const struct xbd_disk_info *si = xbd_disk_get_info(src);
	int r;

	if (!m)
		return -ENOMEM;
	m->src = src;
	m->dst = dst;
	m->notify_fd = notify_fd;
	snprintf(m->log_prefix, sizeof(m->log_prefix), "%s", log_prefix);
	r = xbd_mirror_map_init(&m->map, si->size, XBD_MIRROR_REGION_SHIFT);
	if (!r && posix_memalign(&m->buf, 4096, 1u << XBD_MIRROR_REGION_SHIFT))
		r = -ENOMEM;
	if (!r)
		r = -pthread_create(&m->thread, NULL, copier_main, m);
	if (r) {
		xbd_mirror_map_fini(&m->map);
		free(m->buf);
		free(m);
		return r;
	}
	*out = m;
	return 0;
}

void xbd_mirror_free(struct xbd_mirror *m)
{
	if (!m)
		return;
	atomic_store(&m->stop, true);
	pthread_join(m->thread, NULL);
	xbd_mirror_map_fini(&m->map);
	free(m->buf);
	free(m);
}

bool xbd_mirror_clean(struct xbd_mirror *m)
{
	return xbd_mirror_map_clean(&m->map);
}

void xbd_mirror_get_status(struct xbd_mirror *m, struct xbd_mirror_status *st)
{
	memset(st, 0, sizeof(*st));
	st->size = m->map.size;
	st->dirty_bytes = xbd_mirror_map_dirty(&m->map) << m->map.shift;
	if (st->dirty_bytes > st->size)
		st->dirty_bytes = st->size;
	st->copied_bytes = atomic_load(&m->copied);
	st->writes_mirrored = atomic_load(&m->writes);
	if (atomic_load_explicit(&m->failed, memory_order_acquire)) {
		st->state = XBD_MIRROR_FAILED;
		snprintf(st->why, sizeof(st->why), "%s", m->why);
	} else {
		st->state = xbd_mirror_map_clean(&m->map) ? XBD_MIRROR_READY : XBD_MIRROR_COPYING;
	}
}
