/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Hostile frontends that drive the daemon's host resources to their bounds (docs/security.md):
 * here, whole connections with as many queues as the backend offers, over and over. Each
 * queue costs the daemon a data thread, a few descriptors and a few memory mappings; the
 * attack samples the daemon's /proc entries (--watch-pid) idle, at the peak of every
 * connection and after every close, and reports them on a `resources:` line that hostile.sh
 * compares with the documented bounds. A guest can do exactly this on Xen: reconnect is what a
 * reboot or kexec does, and the queue count is its own choice up to what the backend offers.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/types.h>
#include <xen/io/xenbus.h>

#include "front_hostile_int.h"

#define HRES_CYCLES 10u

/* What the daemon holds: descriptors, its own threads, io_uring's kernel workers (iou-*,
 * which show up among its tasks) and memory mappings. */
struct hres {
	unsigned int fds, threads, iowq, maps;
};

static unsigned int hres_count_dir(const char *path)
{
	unsigned int n = 0;
	struct dirent *e;
	DIR *d = opendir(path);

	if (!d)
		return 0;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static bool hres_is_iowq(long pid, const char *tid)
{
	char path[320], comm[32] = "";
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%ld/task/%s/comm", pid, tid);
	fp = fopen(path, "r");
	if (!fp)
		return false;
	if (!fgets(comm, sizeof(comm), fp))
		comm[0] = '\0';
	fclose(fp);
	return strncmp(comm, "iou-", 4) == 0;
}

static void hres_sample(long pid, struct hres *r)
{
	char path[64], line[512];
	struct dirent *e;
	FILE *fp;
	DIR *d;

	memset(r, 0, sizeof(*r));
	snprintf(path, sizeof(path), "/proc/%ld/fd", pid);
	r->fds = hres_count_dir(path);
	snprintf(path, sizeof(path), "/proc/%ld/task", pid);
	d = opendir(path);
	while (d && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (hres_is_iowq(pid, e->d_name))
			r->iowq++;
		else
			r->threads++;
	}
	if (d)
		closedir(d);
	snprintf(path, sizeof(path), "/proc/%ld/maps", pid);
	fp = fopen(path, "r");
	while (fp && fgets(line, sizeof(line), fp))
		r->maps += strchr(line, '\n') != NULL;
	if (fp)
		fclose(fp);
}

static void hres_max(struct hres *acc, const struct hres *r)
{
	acc->fds = r->fds > acc->fds ? r->fds : acc->fds;
	acc->threads = r->threads > acc->threads ? r->threads : acc->threads;
	acc->iowq = r->iowq > acc->iowq ? r->iowq : acc->iowq;
	acc->maps = r->maps > acc->maps ? r->maps : acc->maps;
}

/* One connection: the handshake with every queue offered, a check that queue 0 serves, the
 * close. The peak is sampled once connected and again after the I/O. */
/*
 * After a close, sampled until the daemon is back to its idle threads and fds, for up to 2 s:
 * the backend writes Closed once its data threads are joined, but a thread on its way out
 * (seen under ASan, about one close in four) is not a leak. What is left after 2 s is.
 */
static void hres_settle(long pid, const struct hres *idle, struct hres *now)
{
	struct timespec tick = { .tv_nsec = 20 * 1000000L };

	for (int i = 0; i < 100; i++) {
		hres_sample(pid, now);
		if (now->threads <= idle->threads && now->fds <= idle->fds)
			return;
		nanosleep(&tick, NULL);
	}
}

static int hres_cycle(struct hctx *h, long pid, const struct hres *idle, struct hres *peak,
		      struct hres *closed)
{
	struct front *f = h->f;
	struct hres now;
	int rc = front_set_state(f, XenbusStateInitialising);

	if (!rc)
		rc = front_connect(f);
	if (rc) {
		front_abandon(f);
		hfail(h, "the handshake failed: %s", strerror(-rc));
		return rc;
	}
	hres_sample(pid, &now);
	hres_max(peak, &now);
	h->r = &f->conn.ring[0];
	h->cap = f->disk.sectors;
	h->area = h->cap - HAREA_SECTORS;
	if (hsanity(h))
		hfail(h, "queue 0 did not serve correctly");
	hres_sample(pid, &now);
	hres_max(peak, &now);
	rc = front_close(f);
	if (rc) {
		hfail(h, "the close failed: %s", strerror(-rc));
		return rc;
	}
	hres_settle(pid, idle, &now);
	hres_max(closed, &now);
	return 0;
}

/* HRES_CYCLES connections with the most queues the backend offers (ask for more with
 * --queues; the frontend takes what is offered, as Linux does). */
int hatk_queues_max_reconnect(struct hctx *h)
{
	long pid = h->f->opt.watch_pid;
	struct hres idle, peak = { 0 }, closed = { 0 };
	unsigned int i;
	int rc = 0;

	if (pid <= 0) {
		hfail(h, "needs --watch-pid (the daemon's pid)");
		return -EINVAL;
	}
	hres_sample(pid, &idle);
	for (i = 0; i < HRES_CYCLES && !rc; i++)
		rc = hres_cycle(h, pid, &idle, &peak, &closed);
	hout(h, "step=1 outcome=%s cycles=%u queues=%u", rc ? "failed" : "reconnected", i,
	     h->f->agreed.got.queues);
	printf("resources: queues=%u idle_fds=%u idle_threads=%u idle_maps=%u peak_fds=%u "
	       "peak_threads=%u peak_iowq=%u peak_maps=%u closed_fds=%u closed_threads=%u "
	       "closed_iowq=%u closed_maps=%u\n",
	       h->f->agreed.got.queues, idle.fds, idle.threads, idle.maps, peak.fds, peak.threads,
	       peak.iowq, peak.maps, closed.fds, closed.threads, closed.iowq, closed.maps);
	return rc;
}
