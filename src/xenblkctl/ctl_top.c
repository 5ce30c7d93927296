/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xenblkctl top: live IOPS, bandwidth and latency per VBD. It samples every daemon's total
 * counters (which span connections, so a reconnect does not look like a negative rate) at
 * each interval and prints the rates of the interval, busiest first, with the p50 and p99
 * latency of the requests that completed in the interval (from the difference of two samples
 * of the latency histogram: util/latency.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "util/conf.h"
#include "ctl_print.h"
#include "util/latency.h"
#include "xenblkctl.h"

#define TOP_MAX 4096
#define TOP_BUCKETS 64

struct sample {
	char *sock;
	char vbd[48];
	char state[16];
	unsigned long long requests, sectors, inflight;
	double iops, mibs;
	double p50, p99;               /* this interval's, in us; < 0: no request completed */
	uint64_t hist[TOP_BUCKETS];    /* the latency histogram at the last sample */
	unsigned int buckets;
	bool seen;
};

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static struct sample *find(struct sample *s, int n, const char *sock)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(s[i].sock, sock))
			return &s[i];
	return NULL;
}

/* The interval's latency percentiles, and the histogram kept for the next interval. */
static void take_latency(struct sample *s, struct json_object *total, bool fresh)
{
	uint64_t now[TOP_BUCKETS] = { 0 }, delta[TOP_BUCKETS];
	struct json_object *h = NULL;
	unsigned int n = 0;

	if (json_object_object_get_ex(total, "latency_us_log2", &h) && h)
		n = (unsigned int)json_object_array_length(h);
	n = n < TOP_BUCKETS ? n : TOP_BUCKETS;
	for (unsigned int i = 0; i < n; i++)
		now[i] = json_object_get_uint64(json_object_array_get_idx(h, i));
	s->p50 = s->p99 = -1;
	if (!fresh && n == s->buckets) {
		xbd_latency_delta(now, s->hist, delta, n);
		if (xbd_latency_percentile(delta, n, XBD_P50, &s->p50) ||
		    xbd_latency_percentile(delta, n, XBD_P99, &s->p99))
			s->p50 = s->p99 = -1;
	}
	memcpy(s->hist, now, sizeof(now));
	s->buckets = n;
}

static void take(struct sample *s, struct json_object *r, double dt, bool fresh)
{
	unsigned long long req = xbd_stats_requests(r), sec = xbd_stats_sectors(r);
	struct json_object *t = NULL;

	json_object_object_get_ex(r, "total", &t);
	s->iops = fresh || dt <= 0 || req < s->requests ? 0 : (double)(req - s->requests) / dt;
	s->mibs = fresh || dt <= 0 || sec < s->sectors ? 0 :
		  (double)(sec - s->sectors) * 512.0 / dt / 1048576.0;
	s->requests = req;
	s->sectors = sec;
	s->inflight = xbd_json_u64(t, "inflight");
	take_latency(s, t, fresh);
	snprintf(s->vbd, sizeof(s->vbd), "%s", xbd_json_str(r, "vbd"));
	snprintf(s->state, sizeof(s->state), "%s", xbd_json_str(r, "state"));
	s->seen = true;
}

/* 0, or 1 after saying why: the run directory or a daemon we may not read. */
static int sample_all(const char *run_dir, struct sample *s, int *n, double dt)
{
	char **names;
	int count, r;

	r = xbd_ctl_sockets(run_dir, &names, &count);
	if (r) {
		fprintf(stderr, "xenblkctl: cannot read %s: %s\n", run_dir, strerror(-r));
		return XBD_EXIT_FAILED;
	}
	for (int i = 0; i < *n; i++)
		s[i].seen = false;
	for (int i = 0; i < count; i++) {
		struct sample *x = find(s, *n, names[i]);
		struct json_object *reply;
		bool fresh = !x;

		r = xbd_client_call(names[i], "stats", &reply);
		if (r == -EACCES || r == -EPERM) {
			xbd_client_complain(names[i], r);
			xbd_ctl_sockets_free(names, count);
			return XBD_EXIT_FAILED;
		}
		if (r)
			continue; /* gone meanwhile, or stuck: it drops out of the table */
		if (!x && *n < TOP_MAX) {
			x = &s[(*n)++];
			memset(x, 0, sizeof(*x));
			x->sock = strdup(names[i]);
		}
		if (x && x->sock)
			take(x, reply, dt, fresh);
		json_object_put(reply);
	}
	xbd_ctl_sockets_free(names, count);
	return XBD_EXIT_OK;
}

static int by_iops(const void *a, const void *b)
{
	const struct sample *x = a, *y = b;

	return (x->iops < y->iops) - (x->iops > y->iops);
}

static void show(struct sample *s, int n, bool clear)
{
	double iops = 0, mibs = 0;

	qsort(s, (size_t)n, sizeof(*s), by_iops);
	if (clear)
		printf("\033[H\033[2J");
	printf("%-14s %-12s %10s %10s %8s %10s %10s\n", "VBD", "STATE", "IOPS", "MiB/s",
	       "INFLIGHT", "P50-US", "P99-US");
	for (int i = 0; i < n; i++) {
		char p50[24] = "-", p99[24] = "-";

		if (!s[i].seen)
			continue;
		if (s[i].p50 >= 0) {
			snprintf(p50, sizeof(p50), "%.1f", s[i].p50);
			snprintf(p99, sizeof(p99), "%.1f", s[i].p99);
		}
		printf("%-14s %-12s %10.0f %10.2f %8llu %10s %10s\n", s[i].vbd, s[i].state,
		       s[i].iops, s[i].mibs, s[i].inflight, p50, p99);
		iops += s[i].iops;
		mibs += s[i].mibs;
	}
	printf("%-14s %-12s %10.0f %10.2f\n\n", "total", "", iops, mibs);
	fflush(stdout);
}

int xbd_cmd_top(const struct ctl_args *a)
{
	uint64_t interval_ms = 1000, iterations = 0;
	struct sample *s = calloc(TOP_MAX, sizeof(*s));
	double t0;
	int n = 0, rc;

	if (!s)
		return XBD_EXIT_FAILED;
	if ((a->interval && xbd_conf_uint(a->interval, 3600, &interval_ms)) ||
	    (a->iterations && xbd_conf_uint(a->iterations, 1u << 30, &iterations)) ||
	    !interval_ms) {
		fprintf(stderr, "xenblkctl: top: --interval takes seconds in 1..3600 and "
			"--iterations a count\n");
		free(s);
		return XBD_EXIT_USAGE;
	}
	if (a->interval)
		interval_ms *= 1000;
	t0 = now_s();
	rc = sample_all(a->run_dir, s, &n, 0);
	for (uint64_t i = 0; !rc && (!iterations || i < iterations); i++) {
		double t;

		usleep((useconds_t)(interval_ms * 1000));
		t = now_s();
		rc = sample_all(a->run_dir, s, &n, t - t0);
		t0 = t;
		if (!rc)
			show(s, n, isatty(STDOUT_FILENO) && !iterations);
	}
	for (int i = 0; i < n; i++)
		free(s[i].sock);
	free(s);
	return rc;
}
