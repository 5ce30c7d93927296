/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Pure string work on a backing file name, which the image chose and which is therefore
 * hostile: cutting it for the log, joining it to the directory of the image that names it
 * the way QEMU does (lexically: nothing here looks at the file system; the kernel's
 * RESOLVE_BENEATH walk decides what is finally reached), finding which allowed directory it
 * falls under, comparing it with a configured chain entry, and the directories that may never
 * be allowed. Unit-tested and fuzzed on its own (tests/unit/test_qcow2.c, tests/fuzz).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "qcow2.h"

/*
 * At most 200 bytes of `name`, marked "..." when cut, for a log line. Not escaped here: the
 * logger escapes every line it writes (xbd_log_escape), and escaping twice would show the
 * administrator \x5cx1b for an ESC. The cut keeps one hostile name from crowding the line.
 */
void qcow2_name_shown(const char *name, char *out, size_t cap)
{
	size_t n = strnlen(name, 200);

	if (n + 4 > cap)
		n = cap > 4 ? cap - 4 : 0;
	memcpy(out, name, n);
	if (name[n] && n + 4 <= cap) {
		memcpy(out + n, "...", 3);
		n += 3;
	}
	out[n] = '\0';
}

bool qcow2_name_has_protocol(const char *name)
{
	const char *colon = strchr(name, ':'), *slash = strchr(name, '/');

	return colon && (!slash || colon < slash);
}

/* Append one component to the normalised absolute path out[0..*len). */
static int push_component(char *out, size_t cap, size_t *len, const char *c, size_t n)
{
	if (n == 0 || (n == 1 && c[0] == '.'))
		return 0;
	if (n == 2 && c[0] == '.' && c[1] == '.') {
		while (*len > 0 && out[*len - 1] != '/')
			(*len)--;
		if (*len > 0)
			(*len)--; /* the slash; "/.." stays "/" like the kernel's walk */
		return 0;
	}
	if (*len + 1 + n + 1 > cap)
		return -ENAMETOOLONG;
	out[(*len)++] = '/';
	memcpy(out + *len, c, n);
	*len += n;
	return 0;
}

static int push_path(char *out, size_t cap, size_t *len, const char *p)
{
	while (*p) {
		const char *end = strchr(p, '/');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		int r = push_component(out, cap, len, p, n);

		if (r)
			return r;
		p += n + (end ? 1 : 0);
	}
	return 0;
}

/*
 * `name` as QEMU reads it: absolute, or relative to the directory of `image` (an absolute
 * path), normalised without looking at the file system ("." and ".." and repeated slashes
 * folded). 0, or -ENAMETOOLONG when it does not fit in `cap` bytes, -EINVAL when it is empty.
 */
int qcow2_name_join(const char *image, const char *name, char *out, size_t cap)
{
	size_t len = 0;
	int r = 0;

	if (!name[0] || image[0] != '/' || cap < 2)
		return -EINVAL;
	if (name[0] != '/') {
		r = push_path(out, cap, &len, image);
		while (len > 0 && out[len - 1] != '/') /* dirname: drop the image's own name */
			len--;
		if (len > 0)
			len--;
	}
	if (!r)
		r = push_path(out, cap, &len, name);
	if (r)
		return r;
	if (len == 0)
		out[len++] = '/';
	out[len] = '\0';
	return 0;
}

/* What follows `dir` in the normalised absolute `path`, or NULL when it is not beneath it. */
const char *qcow2_path_beneath(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	while (n > 1 && dir[n - 1] == '/')
		n--;
	if (n == 1 && dir[0] == '/')
		return path[0] == '/' && path[1] ? path + 1 : NULL;
	if (strncmp(path, dir, n) || path[n] != '/' || !path[n + 1])
		return NULL;
	return path + n + 1;
}

static const char *last_component(const char *p)
{
	const char *slash = strrchr(p, '/');

	return slash ? slash + 1 : p;
}

/*
 * The rule for a configured chain: what is opened is the configured file, never anything the
 * image names; the header's name only has to agree with it, by its last component, compared
 * with the configured path as written or as resolved (`real`, may be NULL).
 */
bool qcow2_name_matches_entry(const char *name, const char *entry, const char *real)
{
	const char *b = last_component(name);

	if (!b[0])
		return false;
	return !strcmp(b, last_component(entry)) || (real && !strcmp(b, last_component(real)));
}

/*
 * A directory that may never be an allowed backing directory, given resolved (realpath): the
 * root, /dev, /run (every device node and runtime socket), and anything in /proc or /sys.
 */
bool qcow2_backing_dir_forbidden(const char *resolved)
{
	static const char *const exact[] = { "/", "/dev", "/run" };
	static const char *const trees[] = { "/proc", "/sys" };

	for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
		if (!strcmp(resolved, exact[i]))
			return true;
	for (size_t i = 0; i < sizeof(trees) / sizeof(trees[0]); i++) {
		size_t n = strlen(trees[i]);

		if (!strncmp(resolved, trees[i], n) && (!resolved[n] || resolved[n] == '/'))
			return true;
	}
	return false;
}
