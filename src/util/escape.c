/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * systemd path escaping (see escape.h), written out because libsystemd does not export its
 * unit_name_path_escape(). The rules are systemd.unit(5)'s "String Escaping for Inclusion in
 * Unit Names": drop duplicate and outer slashes, '/' becomes '-', a leading '.' and every byte
 * outside [A-Za-z0-9:_.] becomes "\xNN"; the root is "-".
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "escape.h"

static bool plain(char ch, bool first)
{
	if (ch == '.')
		return !first;
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == ':' || ch == '_';
}

/* Append one escaped byte; false when the output is full. */
static bool put(char *out, size_t len, size_t *o, unsigned char ch, bool first)
{
	if (ch == '/' || plain((char)ch, first)) {
		if (*o + 1 >= len)
			return false;
		out[(*o)++] = ch == '/' ? '-' : (char)ch;
		return true;
	}
	if (*o + 4 >= len)
		return false;
	snprintf(out + *o, 5, "\\x%02x", ch);
	*o += 4;
	return true;
}

int xbd_escape_path(const char *path, char *out, size_t len)
{
	size_t o = 0;
	bool slash = true; /* skips leading and repeated slashes */

	if (!len)
		return -ENAMETOOLONG;
	for (const char *p = path; *p; p++) {
		if (*p == '/') {
			slash = true;
			continue;
		}
		if (slash && o && !put(out, len, &o, '/', false))
			return -ENAMETOOLONG;
		slash = false;
		if (!put(out, len, &o, (unsigned char)*p, o == 0))
			return -ENAMETOOLONG;
	}
	if (!o) {
		if (len < 2)
			return -ENAMETOOLONG;
		out[o++] = '-';
	}
	out[o] = '\0';
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int xbd_unescape_path(const char *name, char *out, size_t len)
{
	size_t o = 0;

	if (len < 2)
		return -ENAMETOOLONG;
	out[o++] = '/';
	if (strcmp(name, "-") == 0) {
		out[o] = '\0';
		return 0;
	}
	for (const char *p = name; *p; p++) {
		int ch = (unsigned char)*p;

		if (*p == '-') {
			ch = '/';
		} else if (p[0] == '\\' && p[1] == 'x') {
			int hi = hexval(p[2]), lo = hi < 0 ? -1 : hexval(p[3]);

			if (lo < 0)
				return -EINVAL;
			ch = hi << 4 | lo;
			p += 3;
		}
		if (o + 1 >= len)
			return -ENAMETOOLONG;
		out[o++] = (char)ch;
	}
	out[o] = '\0';
	return 0;
}
