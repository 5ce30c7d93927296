/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xenblkctl top: live IOPS and bandwidth per VBD. It samples every daemon's total counters
 * (which span connections, so a reconnect does not look like a negative rate) at each
 * interval and prints the rates of the interval, busiest first.
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
#include "xenblkctl.h"

#define TOP_MAX 4096

struct sample {
	char *sock;
	char vbd[48];
	char state[16];
	unsigned long long requests, sectors, inflight;
	double iops, mibs;
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
	snprintf(s->vbd, sizeof(s->vbd), "%s", xbd_json_str(r, "vbd"));
	snprintf(s->state, sizeof(s->state), "%s", xbd_json_str(r, "state"));
	s->seen = true;
}

static int sample_all(const char *run_dir, struct sample *s, int *n, double dt)
{
	char **names;
	int count;

	if (xbd_ctl_sockets(run_dir, &names, &count))
		return -EIO;
	for (int i = 0; i < *n; i++)
		s[i].seen = false;
	for (int i = 0; i < count; i++) {
		struct sample *x = find(s, *n, names[i]);
		struct json_object *r;
		bool fresh = !x;

		if (xbd_client_call(names[i], "stats", &r))
			continue;
		if (!x && *n < TOP_MAX) {
			x = &s[(*n)++];
			memset(x, 0, sizeof(*x));
			x->sock = strdup(names[i]);
		}
		if (x && x->sock)
			take(x, r, dt, fresh);
		json_object_put(r);
	}
	xbd_ctl_sockets_free(names, count);
	return 0;
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
	printf("%-14s %-12s %10s %10s %8s\n", "VBD", "STATE", "IOPS", "MiB/s", "INFLIGHT");
	for (int i = 0; i < n; i++) {
		if (!s[i].seen)
			continue;
		printf("%-14s %-12s %10.0f %10.2f %8llu\n", s[i].vbd, s[i].state, s[i].iops,
		       s[i].mibs, s[i].inflight);
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
	int n = 0;

	if (!s)
		return 1;
	if ((a->interval && xbd_conf_uint(a->interval, 3600, &interval_ms)) ||
	    (a->iterations && xbd_conf_uint(a->iterations, 1u << 30, &iterations)) ||
	    !interval_ms) {
		fprintf(stderr, "xenblkctl: top: --interval takes seconds in 1..3600 and "
			"--iterations a count\n");
		free(s);
		return 2;
	}
	if (a->interval)
		interval_ms *= 1000;
	t0 = now_s();
	sample_all(a->run_dir, s, &n, 0);
	for (uint64_t i = 0; !iterations || i < iterations; i++) {
		double t;

		usleep((useconds_t)(interval_ms * 1000));
		t = now_s();
		sample_all(a->run_dir, s, &n, t - t0);
		t0 = t;
		show(s, n, isatty(STDOUT_FILENO) && !iterations);
	}
	for (int i = 0; i < n; i++)
		free(s[i].sock);
	free(s);
	return 0;
}
