/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * `xenblkctl upgrade VBD [--to BINARY]`: the daemon drains its rings, checks that the
 * binary (default: the path it was started from, i.e. the installed one after a package
 * upgrade) reads its journal, answers, and execs it keeping its pid; the new image resumes the
 * live connection (docs/restart-ops.md). We then wait for the control socket to answer again
 * from the same pid and say how long the daemon was away.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "vbd_names.h"
#include "xenblkctl.h"

#define BACK_WITHIN_MS 30000

static long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

/* The new image answers `info` with our pid: 0, or 1 after saying why not. */
static int wait_back(const char *sock, long long pid, long long since)
{
	struct timespec pause = { .tv_nsec = 2 * 1000000L };

	while (now_ms() - since < BACK_WITHIN_MS) {
		struct json_object *r = NULL;
		const char *err;

		if (!xbd_client_call(sock, "info", &r) && xbd_client_ok(r, &err) &&
		    (long long)xbd_json_u64(r, "pid") == pid) {
			printf("xenblkd pid %lld upgraded in place: answering again after %lld ms, "
			       "state %s\n", pid, now_ms() - since, xbd_json_str(r, "state"));
			json_object_put(r);
			return XBD_EXIT_OK;
		}
		if (r)
			json_object_put(r);
		nanosleep(&pause, NULL);
	}
	fprintf(stderr, "xenblkctl: upgrade: pid %lld does not answer %d ms after its exec\n",
		pid, BACK_WITHIN_MS);
	return XBD_EXIT_FAILED;
}

int xbd_cmd_upgrade(const struct ctl_args *a)
{
	char sock[4096], req[4200];
	struct json_object *r = NULL;
	const char *err;
	long long start = now_ms(), pid;
	int rc = xbd_vbd_socket(a->run_dir, a->argv[1], sock, sizeof(sock));

	if (rc)
		return rc;
	if (a->to && (a->to[0] != '/' || strpbrk(a->to, " \t\n"))) {
		fprintf(stderr, "xenblkctl: upgrade: --to wants an absolute path without blanks\n");
		return XBD_EXIT_USAGE;
	}
	snprintf(req, sizeof(req), "upgrade%s%s", a->to ? " " : "", a->to ? a->to : "");
	rc = xbd_client_call(sock, req, &r);
	if (rc) {
		xbd_client_complain(sock, rc);
		return XBD_EXIT_FAILED;
	}
	if (!xbd_client_ok(r, &err)) {
		fprintf(stderr, "xenblkctl: %s\n", err);
		json_object_put(r);
		return XBD_EXIT_FAILED;
	}
	pid = (long long)xbd_json_u64(r, "pid");
	printf("xenblkd pid %lld drained; exec %s\n", pid, xbd_json_str(r, "binary"));
	json_object_put(r);
	return wait_back(sock, pid, start);
}
