/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Strict parsers for xenstore values (see xs_value.h). Used on every key a frontend or the
 * toolstack writes before the value is trusted for anything.
 */
#include <errno.h>
#include <string.h>

#include "xenblkd/xs_value.h"

int xbd_parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	size_t n = 0;

	if (!s || !*s)
		return -EINVAL;
	for (; s[n]; n++) {
		unsigned int d = (unsigned int)(s[n] - '0');

		if (s[n] < '0' || s[n] > '9' || n >= 20)
			return -EINVAL;
		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	if (v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

struct format_prefix {
	const char *prefix;
	int result; /* 0: raw, 1: qcow2, 2: rbd, else -errno */
};

static const struct format_prefix prefixes[] = {
	{ "aio:", 0 }, { "raw:", 0 }, { "file:", 0 }, { "phy:", 0 },
	{ "qcow2:", 1 }, { "rbd:", 2 },
	{ "qcow:", -EPROTONOSUPPORT }, { "vhd:", -EPROTONOSUPPORT }, { "qed:", -EPROTONOSUPPORT },
};

/* An NBD target (nbd:unix:..., nbd://, nbd+unix://, nbds...): the nbd driver checks the rest. */
static bool nbd_target(const char *params)
{
	static const char *const schemes[] = { "nbd:", "nbds:", "nbd+unix:", "nbds+unix:" };

	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
		if (strncmp(params, schemes[i], strlen(schemes[i])) == 0)
			return true;
	return false;
}

/* Non-empty, printable ASCII, and not a path: the rbd driver parses the rest. */
static bool rbd_target_plausible(const char *p)
{
	if (!*p || *p == '/')
		return false;
	for (; *p; p++)
		if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e)
			return false;
	return true;
}

int xbd_parse_params(const char *params, enum xbd_format *fmt, const char **path)
{
	const char *p = NULL;
	int kind = 0;

	if (!params)
		return -EINVAL;
	if (nbd_target(params)) {
		*fmt = XBD_FORMAT_NBD;
		*path = params;
		return 0;
	}
	if (params[0] == '/') {
		p = params;
	} else {
		for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
			size_t n = strlen(prefixes[i].prefix);

			if (strncmp(params, prefixes[i].prefix, n) == 0) {
				p = params + n;
				kind = prefixes[i].result;
				break;
			}
		}
	}
	/* libxl writes a qdisk target as "aio:TARGET" (raw): QEMU's NBD syntax comes through. */
	if (p && kind == 0 && nbd_target(p)) {
		*fmt = XBD_FORMAT_NBD;
		*path = p;
		return 0;
	}
	/* libxl writes a qdisk target as "aio:TARGET", whatever the target is. */
	if (p && kind == 0 && strncmp(p, "rbd:", 4) == 0) {
		kind = 2;
		p += 4;
	}
	if (kind == 2) /* an rbd target, checked field by field when the disk opens */
		return rbd_target_plausible(p) ? (*fmt = XBD_FORMAT_RBD, *path = p, 0) : -EINVAL;
	if (!p || p[0] != '/')
		return -EINVAL;
	if (kind < 0)
		return kind;
	*fmt = kind == 1 ? XBD_FORMAT_QCOW2 : XBD_FORMAT_RAW;
	*path = p;
	return 0;
}

/* One "FORMAT:PATH" entry of `len` bytes at s (not NUL-terminated yet). */
static int backing_entry(const char *s, size_t len, struct xbd_backing_file *e)
{
	static const struct { const char *name; enum xbd_format fmt; } fmts[] = {
		{ "qcow2:", XBD_FORMAT_QCOW2 }, { "raw:", XBD_FORMAT_RAW },
	};

	for (size_t i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
		size_t n = strlen(fmts[i].name);

		if (len <= n || strncmp(s, fmts[i].name, n) || s[n] != '/' || len - n >= 4096)
			continue;
		for (size_t j = n; j < len; j++)
			if ((unsigned char)s[j] < 0x20 || s[j] == 0x7f)
				return -EINVAL;
		e->format = fmts[i].fmt;
		e->path = s + n;
		return 0;
	}
	return -EINVAL;
}

int xbd_parse_backing_chain(char *s, struct xbd_backing_file *out, unsigned int max,
			    unsigned int *n)
{
	struct xbd_backing_file tmp[XBD_MAX_BACKING_CHAIN];
	unsigned int k = 0;
	char *p = s;

	if (!s || *n > max)
		return -EINVAL;
	for (;;) {
		char *bar = strchr(p, '|');
		size_t len = bar ? (size_t)(bar - p) : strlen(p);

		if (*n + k >= max || k >= XBD_MAX_BACKING_CHAIN)
			return -E2BIG;
		if (backing_entry(p, len, &tmp[k]))
			return -EINVAL;
		k++;
		if (!bar)
			break;
		p = bar + 1;
	}
	/* Only now cut the string: a malformed chain leaves it as it was. */
	for (char *bar = strchr(s, '|'); bar; bar = strchr(bar + 1, '|'))
		*bar = '\0';
	memcpy(out + *n, tmp, k * sizeof(tmp[0]));
	*n += k;
	return 0;
}

int xbd_parse_format(const char *s, enum xbd_format *fmt)
{
	if (s && !strcmp(s, "qcow2"))
		*fmt = XBD_FORMAT_QCOW2;
	else if (s && !strcmp(s, "raw"))
		*fmt = XBD_FORMAT_RAW;
	else
		return -EINVAL;
	return 0;
}

const char *xbd_format_name(enum xbd_format fmt)
{
	switch (fmt) {
	case XBD_FORMAT_QCOW2: return "qcow2";
	case XBD_FORMAT_NBD: return "nbd";
	case XBD_FORMAT_RBD: return "rbd";
	default: return "raw";
	}
}

int xbd_parse_mode(const char *mode, bool *readonly)
{
	if (!mode)
		return -EINVAL;
	if (strcmp(mode, "r") == 0) {
		*readonly = true;
		return 0;
	}
	if (strcmp(mode, "w") == 0 || strcmp(mode, "w!") == 0) {
		*readonly = false;
		return 0;
	}
	return -EINVAL;
}
