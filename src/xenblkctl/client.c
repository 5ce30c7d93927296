/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The control socket client (see client.h): one connection per request, as the server closes
 * it after its reply.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "client.h"
#include "util/ctl_proto.h"
#include "util/run.h"

#define MAX_REPLY (4u << 20)
/* A pause may take its whole timeout (at most 600 s) before the daemon answers. */
#define REPLY_TIMEOUT_MS 660000

static int ends_with(const char *s, const char *tail)
{
	size_t a = strlen(s), b = strlen(tail);

	return a >= b && !strcmp(s + a - b, tail);
}

int xbd_client_socket(const char *run_dir, const char *vbd, char *out, size_t len)
{
	char name[512];
	size_t n;

	if (strchr(vbd, '/') && ends_with(vbd, XBD_RUN_SOCK_SUFFIX))
		return (size_t)snprintf(out, len, "%s", vbd) >= len ? -ENAMETOOLONG : 0;
	if (vbd[0] == '/')
		return xbd_run_file(out, len, run_dir, vbd, XBD_RUN_SOCK_SUFFIX);
	if (!strncmp(vbd, "xenblkd@", 8))
		vbd += 8;
	n = strlen(vbd);
	if (ends_with(vbd, ".service"))
		n -= strlen(".service");
	if (n >= sizeof(name))
		return -ENAMETOOLONG;
	snprintf(name, sizeof(name), "%.*s", (int)n, vbd);
	if ((size_t)snprintf(out, len, "%s/%s%s", run_dir, name, XBD_RUN_SOCK_SUFFIX) >= len)
		return -ENAMETOOLONG;
	return 0;
}

static int connect_to(const char *sock)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(sock) >= sizeof(a.sun_path))
		return -ENAMETOOLONG;
	strcpy(a.sun_path, sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}

static int read_reply(int fd, char **out)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	size_t n = 0, cap = 65536;
	char *buf = malloc(cap + 1);

	while (buf) {
		ssize_t r;

		if (poll(&p, 1, REPLY_TIMEOUT_MS) <= 0)
			break;
		r = read(fd, buf + n, cap - n);
		if (r < 0) {
			/* ECONNRESET: a daemon gone mid-reply (its exec, in an upgrade). */
			r = -errno;
			free(buf);
			return (int)r;
		}
		if (r == 0) {
			buf[n] = '\0';
			*out = buf;
			return 0;
		}
		n += (size_t)r;
		if (n == cap) {
			char *b = cap < MAX_REPLY ? realloc(buf, cap * 2 + 1) : NULL;

			if (!b)
				break;
			buf = b;
			cap *= 2;
		}
	}
	if (!buf)
		return -ENOMEM;
	free(buf);
	return -ETIMEDOUT;
}

int xbd_client_call(const char *sock, const char *request, struct json_object **reply)
{
	char line[XBD_CTL_MAX_REQUEST + 2];
	char *text = NULL;
	int len = snprintf(line, sizeof(line), "%s\n", request);
	int fd, r;

	if (len < 0 || (size_t)len >= sizeof(line))
		return -E2BIG;
	fd = connect_to(sock);
	if (fd < 0)
		return fd;
	r = write(fd, line, (size_t)len) == len ? 0 : -EIO;
	if (!r)
		r = read_reply(fd, &text);
	close(fd);
	if (r)
		return r;
	*reply = json_tokener_parse(text);
	free(text);
	return *reply ? 0 : -EPROTO;
}

void xbd_client_complain(const char *sock, int err)
{
	const char *hint = "";

	if (err == -ENOENT || err == -ECONNREFUSED)
		hint = " (no xenblkd serves this VBD)";
	else if ((err == -EACCES || err == -EPERM) && geteuid())
		hint = " (the control sockets are root's: run xenblkctl as root)";
	fprintf(stderr, "xenblkctl: %s: %s%s\n", sock, strerror(-err), hint);
}

int xbd_client_ok(struct json_object *reply, const char **error)
{
	struct json_object *v;

	*error = "the daemon's reply has no \"ok\"";
	if (!json_object_object_get_ex(reply, "ok", &v))
		return 0;
	if (json_object_get_boolean(v))
		return 1;
	*error = json_object_object_get_ex(reply, "error", &v) ? json_object_get_string(v)
								 : "failed";
	return 0;
}

unsigned long long xbd_json_u64(struct json_object *o, const char *path)
{
	char key[64];
	const char *dot;

	/* "a.b": one level of nesting is all the callers need. */
	while (o && (dot = strchr(path, '.'))) {
		snprintf(key, sizeof(key), "%.*s", (int)(dot - path), path);
		if (!json_object_object_get_ex(o, key, &o))
			return 0;
		path = dot + 1;
	}
	if (!o || !json_object_object_get_ex(o, path, &o))
		return 0;
	return (unsigned long long)json_object_get_uint64(o);
}

const char *xbd_json_str(struct json_object *o, const char *key)
{
	struct json_object *v;
	const char *s;

	if (!o || !json_object_object_get_ex(o, key, &v))
		return "";
	s = json_object_get_string(v); /* NULL for a JSON null */
	return s ? s : "";
}
