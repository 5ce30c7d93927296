/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xenblkctl's commands other than top (see xenblkctl.h): each sends one request to a daemon
 * and prints its reply, as a table or, with --json, as the daemon wrote it.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "util/conf.h"
#include "ctl_print.h"
#include "util/run.h"
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
		fprintf(stderr, "xenblkctl: %s: %s%s\n", sock, strerror(-r),
			r == -ENOENT || r == -ECONNREFUSED ? " (no xenblkd serves this VBD)"
			: r == -EACCES && geteuid() ? " (the control sockets are root's: run "
						      "xenblkctl as root)" : "");
		return 1;
	}
	if (!xbd_client_ok(*reply, &err)) {
		fprintf(stderr, "xenblkctl: %s\n", err);
		json_object_put(*reply);
		return 1;
	}
	return 0;
}

static int socket_of(const struct ctl_args *a, char *sock, size_t len)
{
	if (xbd_client_socket(a->run_dir, a->argv[1], sock, len)) {
		fprintf(stderr, "xenblkctl: '%s' is too long for a VBD name\n", a->argv[1]);
		return 2;
	}
	return 0;
}

static void print_json(struct json_object *o)
{
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
							 JSON_C_TO_STRING_SPACED));
}

int xbd_cmd_list(const struct ctl_args *a)
{
	struct json_object *all = json_object_new_array();
	char **names;
	int n;

	if (xbd_ctl_sockets(a->run_dir, &names, &n)) {
		fprintf(stderr, "xenblkctl: cannot read %s\n", a->run_dir);
		return 1;
	}
	if (!a->json)
		xbd_print_list_row(stdout, NULL, NULL);
	for (int i = 0; i < n; i++) {
		struct json_object *r;

		if (xbd_client_call(names[i], "info", &r))
			continue; /* a daemon that died and left its socket */
		if (a->json)
			json_object_array_add(all, r);
		else
			xbd_print_list_row(stdout, names[i], r);
		if (!a->json)
			json_object_put(r);
	}
	if (a->json)
		print_json(all);
	json_object_put(all);
	xbd_ctl_sockets_free(names, n);
	return 0;
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

int xbd_cmd_simple(const struct ctl_args *a)
{
	struct json_object *r;
	char sock[4096], req[256];
	const char *verb = a->argv[0];
	uint64_t ms;
	int rc = socket_of(a, sock, sizeof(sock));

	if (rc)
		return rc;
	if (!strcmp(verb, "set-log-level"))
		snprintf(req, sizeof(req), "log-level %.64s", a->argv[2]);
	else if (!strcmp(verb, "pause") && a->timeout) {
		if (xbd_conf_uint(a->timeout, 600000, &ms)) {
			fprintf(stderr, "xenblkctl: --timeout: '%s' is not a number of "
				"milliseconds in 0..600000\n", a->timeout);
			return 2;
		}
		snprintf(req, sizeof(req), "pause %llu", (unsigned long long)ms);
	} else
		snprintf(req, sizeof(req), "%s", verb);
	rc = call(sock, req, &r);
	if (rc)
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
		return 2;
	}
	if (a->bps && xbd_conf_bytes(a->bps, &bps)) {
		fprintf(stderr, "xenblkctl: --bps: '%s' is not a number of bytes (e.g. 50M)\n",
			a->bps);
		return 2;
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
