/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xenblkctl's commands that change the image a VBD serves (xenblkctl.h): resume with --image
 * (after an external snapshot), and mirror --to / --cancel / --status. The format is always
 * the administrator's (--format, or a FORMAT: prefix), never guessed; paths are absolute and
 * without blanks (the control protocol is one line of words).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "vbd_names.h"
#include "xenblkctl.h"

static int call_vbd(const struct ctl_args *a, const char *request, struct json_object **reply)
{
	char sock[4096];
	const char *err;
	int r;

	r = xbd_vbd_socket(a->run_dir, a->argv[1], sock, sizeof(sock));
	if (r)
		return r; /* said why: usage (2) or no such VBD (1) */
	r = xbd_client_call(sock, request, reply);
	if (r) {
		fprintf(stderr, "xenblkctl: %s: %s%s\n", sock, strerror(-r),
			r == -ENOENT || r == -ECONNREFUSED ? " (no xenblkd serves this VBD)" : "");
		return 1;
	}
	if (!xbd_client_ok(*reply, &err)) {
		fprintf(stderr, "xenblkctl: %s\n", err);
		json_object_put(*reply);
		return 1;
	}
	return 0;
}

/* FORMAT:PATH from --image/--to and --format: 0, or 2 after saying why. */
static int image_spec(const char *opt, const char *image, const char *format, char *out,
		      size_t len)
{
	bool prefixed = image[0] != '/';

	if (strpbrk(image, " \t\n") || (format && strpbrk(format, " \t\n:"))) {
		fprintf(stderr, "xenblkctl: %s: paths and formats may not contain blanks\n", opt);
		return 2;
	}
	if (prefixed && format) {
		fprintf(stderr, "xenblkctl: %s '%s' has a format prefix already; drop --format\n",
			opt, image);
		return 2;
	}
	if (!prefixed && !format) {
		fprintf(stderr, "xenblkctl: %s: give the format (--format raw|qcow2, or "
			"FORMAT:PATH): it is never guessed from the image\n", opt);
		return 2;
	}
	if (format && strcmp(format, "raw") && strcmp(format, "qcow2")) {
		fprintf(stderr, "xenblkctl: --format: '%s' is not raw or qcow2\n", format);
		return 2;
	}
	if ((size_t)snprintf(out, len, "%s%s%s", format ? format : "", format ? ":" : "", image) >=
	    len) {
		fprintf(stderr, "xenblkctl: %s: path too long\n", opt);
		return 2;
	}
	return 0;
}

int xbd_cmd_resume(const struct ctl_args *a)
{
	char spec[4200], req[8400];
	struct json_object *r;
	int rc;

	if (!a->image && (a->format || a->backing)) {
		fprintf(stderr, "xenblkctl: resume: --format and --backing go with --image\n");
		return 2;
	}
	if (!a->image) {
		snprintf(req, sizeof(req), "resume");
	} else {
		rc = image_spec("--image", a->image, a->format, spec, sizeof(spec));
		if (rc)
			return rc;
		if (a->backing && strpbrk(a->backing, " \t\n")) {
			fprintf(stderr, "xenblkctl: --backing may not contain blanks\n");
			return 2;
		}
		snprintf(req, sizeof(req), "resume %s%s%s", spec, a->backing ? " " : "",
			 a->backing ? a->backing : "");
	}
	rc = call_vbd(a, req, &r);
	if (!rc)
		json_object_put(r);
	return rc;
}

static void print_status(struct json_object *r)
{
	struct json_object *x;
	const char *state = json_object_object_get_ex(r, "state", &x) ? json_object_get_string(x)
				: "?";

	printf("state %s\n", state);
	json_object_object_foreach(r, key, val) {
		if (strcmp(key, "ok") && strcmp(key, "state"))
			printf("%s %s\n", key, json_object_get_string(val));
	}
}

int xbd_cmd_mirror(const struct ctl_args *a)
{
	char spec[4200], req[4300];
	struct json_object *r;
	int n = !!a->to + a->cancel + a->status, rc;

	if (n != 1) {
		fprintf(stderr, "xenblkctl: mirror: give one of --to DEST, --cancel, --status\n");
		return 2;
	}
	if (a->to) {
		rc = image_spec("--to", a->to, a->format, spec, sizeof(spec));
		if (rc)
			return rc;
		snprintf(req, sizeof(req), "mirror %s", spec);
	} else {
		snprintf(req, sizeof(req), "%s", a->cancel ? "mirror-cancel" : "mirror-status");
	}
	rc = call_vbd(a, req, &r);
	if (rc)
		return rc;
	if (a->json)
		printf("%s\n", json_object_to_json_string_ext(r, JSON_C_TO_STRING_PRETTY));
	else if (a->status)
		print_status(r);
	json_object_put(r);
	return 0;
}
