/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Naming VBDs (see vbd_names.h). A socket's file name is its escaped backend path, so a
 * backend path, an escaped name and the short name d<fe>/<devid> resolve without asking any
 * daemon; DOMAIN:DEVICE asks every daemon for its `info`, as only the daemons know whom they
 * serve. A name that fits several VBDs is refused with the candidates, never guessed.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "util/escape.h"
#include "util/run.h"
#include "vbd_names.h"
#include "xenblkctl.h"

static void cannot_read(const char *run_dir, int err)
{
	fprintf(stderr, "xenblkctl: cannot read %s: %s%s\n", run_dir, strerror(-err),
		(err == -EACCES || err == -EPERM) && geteuid() ? " (run xenblkctl as root)" : "");
}

int xbd_vbd_scan(const char *run_dir, struct vbd_entry **out, int *n)
{
	struct vbd_entry *e;
	char **names;
	int count, r, rc = XBD_EXIT_OK;

	*out = NULL;
	*n = 0;
	r = xbd_ctl_sockets(run_dir, &names, &count);
	if (r) {
		cannot_read(run_dir, r);
		return XBD_EXIT_FAILED;
	}
	e = calloc(count ? (size_t)count : 1, sizeof(*e));
	for (int i = 0; e && i < count; i++) {
		struct json_object *info;
		const char *why;

		r = xbd_client_call(names[i], "info", &info);
		if (r == -ENOENT || r == -ECONNREFUSED)
			continue; /* a daemon that died and left its socket */
		if (r || !xbd_client_ok(info, &why)) {
			if (r)
				xbd_client_complain(names[i], r);
			else
				fprintf(stderr, "xenblkctl: %s: %s\n", names[i], why);
			if (!r)
				json_object_put(info);
			rc = XBD_EXIT_FAILED;
			if (r == -EACCES || r == -EPERM)
				break; /* all the sockets are alike: say it once */
			continue;
		}
		e[*n] = (struct vbd_entry){ .sock = names[i], .info = info };
		names[i] = NULL;
		(*n)++;
	}
	xbd_ctl_sockets_free(names, count);
	if (!e) {
		fprintf(stderr, "xenblkctl: out of memory\n");
		return XBD_EXIT_FAILED;
	}
	*out = e;
	return rc;
}

void xbd_vbd_scan_free(struct vbd_entry *e, int n)
{
	for (int i = 0; e && i < n; i++) {
		free(e[i].sock);
		json_object_put(e[i].info);
	}
	free(e);
}

static bool all_digits(const char *s, size_t n)
{
	if (!n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* d<digits>/<digits> */
static bool is_short_name(const char *name)
{
	const char *slash = strchr(name, '/');

	return name[0] == 'd' && slash && all_digits(name + 1, (size_t)(slash - name - 1)) &&
	       all_digits(slash + 1, strlen(slash + 1));
}

/* A socket's backend path, from its file name. 0 or -errno. */
static int backend_of(const char *sock, char *path, size_t len)
{
	const char *base = strrchr(sock, '/');
	char name[512];
	size_t n;

	base = base ? base + 1 : sock;
	n = strlen(base) - strlen(XBD_RUN_SOCK_SUFFIX); /* xbd_ctl_sockets checked the suffix */
	if (n >= sizeof(name))
		return -ENAMETOOLONG;
	snprintf(name, sizeof(name), "%.*s", (int)n, base);
	return xbd_unescape_path(name, path, len);
}

/* Does backend path .../backend/<kind>/<fe>/<devid> have the short name d<fe>/<devid>? */
static bool has_short_name(const char *path, const char *name)
{
	const char *devid = strrchr(path, '/'), *fe = devid;
	const char *slash = strchr(name, '/');

	if (!devid || !strstr(path, "/backend/"))
		return false;
	while (fe > path && fe[-1] != '/')
		fe--;
	return fe > path && (size_t)(devid - fe) == (size_t)(slash - name - 1) &&
	       !strncmp(fe, name + 1, (size_t)(devid - fe)) && !strcmp(devid + 1, slash + 1);
}

/* The outcome of a search: one match is the answer, none or several an error. */
static int pick(const char *name, char **found, int nfound, char *sock, size_t len)
{
	if (nfound == 1) {
		if ((size_t)snprintf(sock, len, "%s", found[0]) < len)
			return XBD_EXIT_OK;
		fprintf(stderr, "xenblkctl: %s: the socket's path is too long\n", found[0]);
		return XBD_EXIT_FAILED;
	}
	if (!nfound) {
		fprintf(stderr, "xenblkctl: no VBD served here is named '%s' (see xenblkctl "
			"list)\n", name);
		return XBD_EXIT_FAILED;
	}
	fprintf(stderr, "xenblkctl: '%s' names %d VBDs; give one of these backend paths:\n",
		name, nfound);
	for (int i = 0; i < nfound; i++) {
		char path[512];

		fprintf(stderr, "  %s\n", backend_of(found[i], path, sizeof(path)) ? found[i] : path);
	}
	return XBD_EXIT_USAGE;
}

static int by_short_name(const char *run_dir, const char *name, char *sock, size_t len)
{
	char **names, **found, path[512];
	int n, nfound = 0, r = xbd_ctl_sockets(run_dir, &names, &n);

	if (r) {
		cannot_read(run_dir, r);
		return XBD_EXIT_FAILED;
	}
	found = calloc(n ? (size_t)n : 1, sizeof(*found));
	for (int i = 0; found && i < n; i++)
		if (!backend_of(names[i], path, sizeof(path)) && has_short_name(path, name))
			found[nfound++] = names[i];
	r = found ? pick(name, found, nfound, sock, len) : XBD_EXIT_FAILED;
	free(found);
	xbd_ctl_sockets_free(names, n);
	return r;
}

/* DOMAIN is the frontend's name or id, DEVICE the guest's name of the disk or its number. */
static bool info_matches(struct json_object *info, const char *domain, const char *device)
{
	char id[24];
	bool dom, dev;

	snprintf(id, sizeof(id), "%llu", xbd_json_u64(info, "frontend_id"));
	dom = !strcmp(xbd_json_str(info, "domain"), domain) ||
	      (all_digits(domain, strlen(domain)) && !strcmp(id, domain));
	snprintf(id, sizeof(id), "%llu", xbd_json_u64(info, "devid"));
	dev = !strcmp(xbd_json_str(info, "device"), device) ||
	      (all_digits(device, strlen(device)) && !strcmp(id, device));
	return dom && dev;
}

static int by_domain_device(const char *run_dir, const char *name, char *sock, size_t len)
{
	const char *colon = strrchr(name, ':');
	struct vbd_entry *e;
	char **found, *domain;
	int n, nfound = 0, rc;

	if (colon == name || !colon[1]) {
		fprintf(stderr, "xenblkctl: '%s' is not DOMAIN:DEVICE (e.g. web:xvda)\n", name);
		return XBD_EXIT_USAGE;
	}
	rc = xbd_vbd_scan(run_dir, &e, &n);
	domain = strndup(name, (size_t)(colon - name));
	found = calloc(n ? (size_t)n : 1, sizeof(*found));
	for (int i = 0; !rc && domain && found && i < n; i++)
		if (info_matches(e[i].info, domain, colon + 1))
			found[nfound++] = e[i].sock;
	if (!rc)
		rc = domain && found ? pick(name, found, nfound, sock, len) : XBD_EXIT_FAILED;
	free(found);
	free(domain);
	xbd_vbd_scan_free(e, n);
	return rc;
}

int xbd_vbd_socket(const char *run_dir, const char *name, char *sock, size_t len)
{
	if (is_short_name(name))
		return by_short_name(run_dir, name, sock, len);
	if (xbd_client_socket(run_dir, name, sock, len)) {
		fprintf(stderr, "xenblkctl: '%s' is too long for a VBD name\n", name);
		return XBD_EXIT_USAGE;
	}
	/* An escaped name may hold ':' too: a socket of that name wins. */
	if (strchr(name, '/') || !strchr(name, ':') || !strncmp(name, "xenblkd@", 8) ||
	    !access(sock, F_OK))
		return XBD_EXIT_OK;
	return by_domain_device(run_dir, name, sock, len);
}
