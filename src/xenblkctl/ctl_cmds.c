/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xenblkctl's commands other than top (see xenblkctl.h): each sends one request to a daemon
 * and prints its reply, as a table or, with --json, as the daemon wrote it.
 */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "util/conf.h"
#include "ctl_print.h"
#include "util/run.h"
#include "vbd_names.h"
#include "xenblkctl.h"

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int xbd_ctl_sockets(const char *run_dir, char ***names, int *n)
{
	DIR *d = opendir(run_dir);
	struct dirent *e;
	char **v = NULL;
	int count = 0;

	*names = NULL;
	*n = 0;
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name), sl = strlen(XBD_RUN_SOCK_SUFFIX);
		char **nv;

		if (len <= sl || strcmp(e->d_name + len - sl, XBD_RUN_SOCK_SUFFIX))
			continue;
		nv = realloc(v, (size_t)(count + 1) * sizeof(*v));
		if (!nv || asprintf(&nv[count], "%s/%s", run_dir, e->d_name) < 0) {
			closedir(d);
			xbd_ctl_sockets_free(nv ? nv : v, count);
			return -ENOMEM;
		}
		v = nv;
		count++;
	}
	closedir(d);
	if (count)
		qsort(v, (size_t)count, sizeof(*v), cmp_names);
	*names = v;
	*n = count;
	return 0;
}

void xbd_ctl_sockets_free(char **names, int n)
{
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* Send and check: 0 and *reply, or 1 after printing why. */
static int call(const char *sock, const char *request, struct json_object **reply)
{
	const char *err;
	int r = xbd_client_call(sock, request, reply);

	if (r) {
		xbd_client_complain(sock, r);
		return XBD_EXIT_FAILED;
	}
	if (!xbd_client_ok(*reply, &err)) {
		fprintf(stderr, "xenblkctl: %s\n", err);
		json_object_put(*reply);
		return XBD_EXIT_FAILED;
	}
	return XBD_EXIT_OK;
}

static int socket_of(const struct ctl_args *a, char *sock, size_t len)
{
	return xbd_vbd_socket(a->run_dir, a->argv[1], sock, len);
}

static void print_json(struct json_object *o)
{
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
							 JSON_C_TO_STRING_SPACED |
							 JSON_C_TO_STRING_NOSLASHESCAPE));
}

/* Every VBD, or nothing and 1 when a daemon could not be asked: an empty table must mean
 * that nothing is served, never that we may not look. */
int xbd_cmd_list(const struct ctl_args *a)
{
	struct json_object *all;
	struct vbd_entry *e;
	int n, rc = xbd_vbd_scan(a->run_dir, &e, &n);

	if (rc) {
		xbd_vbd_scan_free(e, n);
		return rc;
	}
	if (!a->json) {
		xbd_print_list_row(stdout, NULL, NULL);
		for (int i = 0; i < n; i++)
			xbd_print_list_row(stdout, e[i].sock, e[i].info);
	} else {
		all = json_object_new_array();
		for (int i = 0; i < n; i++)
			json_object_array_add(all, json_object_get(e[i].info));
		print_json(all);
		json_object_put(all);
	}
	xbd_vbd_scan_free(e, n);
	return XBD_EXIT_OK;
}

int xbd_cmd_stats(const struct ctl_args *a)
{
	struct json_object *r;
	char sock[4096];
	int rc = socket_of(a, sock, sizeof(sock));

	if (rc || (rc = call(sock, "stats", &r)))
		return rc;
	if (a->json)
		print_json(r);
	else
		xbd_print_stats(stdout, r);
	json_object_put(r);
	return 0;
}

static bool log_level_known(const char *level)
{
	static const char *const levels[] = { "err", "warn", "info", "debug" };

	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (!strcmp(level, levels[i]))
			return true;
	return false;
}

int xbd_cmd_simple(const struct ctl_args *a)
{
	struct json_object *r;
	char sock[4096], req[256];
	const char *verb = a->argv[0];
	uint64_t ms;
	int rc;

	if (!strcmp(verb, "set-log-level")) {
		if (!log_level_known(a->argv[2])) {
			fprintf(stderr, "xenblkctl: set-log-level: '%s' is not err, warn, info or "
				"debug\n", a->argv[2]);
			return XBD_EXIT_USAGE;
		}
		snprintf(req, sizeof(req), "log-level %s", a->argv[2]);
	} else if (!strcmp(verb, "pause") && a->timeout) {
		if (xbd_conf_uint(a->timeout, 600000, &ms)) {
			fprintf(stderr, "xenblkctl: --timeout: '%s' is not a number of "
				"milliseconds in 0..600000\n", a->timeout);
			return XBD_EXIT_USAGE;
		}
		snprintf(req, sizeof(req), "pause %llu", (unsigned long long)ms);
	} else {
		snprintf(req, sizeof(req), "%s", verb);
	}
	rc = socket_of(a, sock, sizeof(sock));
	if (rc || (rc = call(sock, req, &r)))
		return rc;
	if (a->json)
		print_json(r);
	else if (!strcmp(verb, "resize"))
		printf("%s: %llu sectors\n", a->argv[1], xbd_json_u64(r, "sectors"));
	json_object_put(r);
	return 0;
}

/* limits VBD [--iops N] [--bps N]: a value not given keeps the daemon's. */
int xbd_cmd_limits(const struct ctl_args *a)
{
	struct json_object *r;
	char sock[4096], req[128];
	uint64_t iops = 0, bps = 0;
	int rc;

	if (a->iops && xbd_conf_uint(a->iops, UINT32_MAX, &iops)) {
		fprintf(stderr, "xenblkctl: --iops: '%s' is not a number in 0..4294967295\n",
			a->iops);
		return XBD_EXIT_USAGE;
	}
	if (a->bps && xbd_conf_bytes(a->bps, &bps)) {
		fprintf(stderr, "xenblkctl: --bps: '%s' is not a number of bytes (e.g. 50M)\n",
			a->bps);
		return XBD_EXIT_USAGE;
	}
	rc = socket_of(a, sock, sizeof(sock));
	if (rc || (rc = call(sock, "limits", &r)))
		return rc;
	if (!a->iops)
		iops = xbd_json_u64(r, "iops");
	if (!a->bps)
		bps = xbd_json_u64(r, "bps");
	json_object_put(r);
	if (a->iops || a->bps) {
		snprintf(req, sizeof(req), "limits %llu %llu", (unsigned long long)iops,
			 (unsigned long long)bps);
		if ((rc = call(sock, req, &r)))
			return rc;
	} else if ((rc = call(sock, "limits", &r))) {
		return rc;
	}
	if (a->json)
		print_json(r);
	else
		printf("iops %llu\nbps %llu\n", xbd_json_u64(r, "iops"), xbd_json_u64(r, "bps"));
	json_object_put(r);
	return 0;
}
