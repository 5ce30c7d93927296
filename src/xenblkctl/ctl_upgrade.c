/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * `xenblkctl upgrade VBD [--to BINARY]`: the daemon drains its rings, checks that the
 * binary (default: the path it was started from, i.e. the installed one after a package
 * upgrade) reads its journal, answers, and execs it keeping its pid; the new image resumes the
 * live connection (docs/restart-ops.md). We then wait (--timeout MS, counted from the
 * daemon's answer) for the control socket to answer again from the same pid, and say how long
 * that took; a pid that ends meanwhile is reported at once.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "util/conf.h"
#include "vbd_names.h"
#include "xenblkctl.h"

/*
 * How long the new image may take to answer by default: systemd's default start timeout
 * (DefaultTimeoutStartSec, 90 s), the time a supervisor itself gives a daemon to start. The
 * new image starts as after a crash (loading its libraries, reading xenstore, opening the
 * image), which takes milliseconds on a host at rest but took over 30 s on real Xen under
 * TCG; giving up earlier only reports a failure while the daemon is still coming up.
 */
#define BACK_WITHIN_MS_DEFAULT 90000
#define BACK_WITHIN_MS_MAX 3600000
#define NOTE_EVERY_MS 10000

static long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

/* The process is gone (the new image failed to start): no use waiting any longer. EPERM
 * (another user's process) means it exists. */
static bool pid_gone(long long pid)
{
	return kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

/* The new image answers `info` with our pid: 0, or 1 after saying why not. `since`: the
 * command's start; `replied`: the daemon's answer, right before its exec. */
static int wait_back(const char *sock, long long pid, long long since, long long replied,
		     unsigned int within_ms)
{
	struct timespec pause = { .tv_nsec = 2 * 1000000L };
	long long next_note = replied + NOTE_EVERY_MS;

	while (now_ms() - replied < within_ms) {
		struct json_object *r = NULL;
		const char *err;

		if (!xbd_client_call(sock, "info", &r) && xbd_client_ok(r, &err) &&
		    (long long)xbd_json_u64(r, "pid") == pid) {
			long long t = now_ms();

			printf("xenblkd pid %lld upgraded in place: answering again after %lld ms "
			       "(%lld ms after its exec), state %s\n", pid, t - since,
			       t - replied, xbd_json_str(r, "state"));
			json_object_put(r);
			return XBD_EXIT_OK;
		}
		if (r)
			json_object_put(r);
		if (pid_gone(pid)) {
			fprintf(stderr, "xenblkctl: upgrade: pid %lld ended %lld ms after its exec "
				"without answering: the new image failed to start (its log says why; "
				"a supervisor restarts it)\n", pid, now_ms() - replied);
			return XBD_EXIT_FAILED;
		}
		if (now_ms() >= next_note) {
			fprintf(stderr, "xenblkctl: upgrade: still waiting for pid %lld after %lld "
				"ms (--timeout %u)\n", pid, now_ms() - replied, within_ms);
			next_note += NOTE_EVERY_MS;
		}
		nanosleep(&pause, NULL);
	}
	fprintf(stderr, "xenblkctl: upgrade: pid %lld does not answer %u ms after its exec "
		"(--timeout); it may still be starting\n", pid, within_ms);
	return XBD_EXIT_FAILED;
}

int xbd_cmd_upgrade(const struct ctl_args *a)
{
	char sock[4096], req[4200];
	struct json_object *r = NULL;
	const char *err;
	long long start = now_ms(), pid;
	uint64_t within = BACK_WITHIN_MS_DEFAULT;
	int rc = xbd_vbd_socket(a->run_dir, a->argv[1], sock, sizeof(sock));

	if (rc)
		return rc;
	if (a->to && (a->to[0] != '/' || strpbrk(a->to, " \t\n"))) {
		fprintf(stderr, "xenblkctl: upgrade: --to wants an absolute path without blanks\n");
		return XBD_EXIT_USAGE;
	}
	if (a->timeout && (xbd_conf_uint(a->timeout, BACK_WITHIN_MS_MAX, &within) || !within)) {
		fprintf(stderr, "xenblkctl: --timeout: '%s' is not a number of milliseconds in "
			"1..%u\n", a->timeout, BACK_WITHIN_MS_MAX);
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
	printf("xenblkd pid %lld checked the binary and drained in %lld ms; exec %s\n", pid,
	       now_ms() - start,
	       xbd_json_str(r, "binary"));
	fflush(stdout);
	json_object_put(r);
	return wait_back(sock, pid, start, now_ms(), (unsigned int)within);
}
