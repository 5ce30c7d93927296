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
	int result; /* 0: raw, 1: qcow2, else -errno */
};

static const struct format_prefix prefixes[] = {
	{ "aio:", 0 }, { "raw:", 0 }, { "file:", 0 }, { "phy:", 0 },
	{ "qcow2:", 1 },
	{ "qcow:", -EPROTONOSUPPORT }, { "vhd:", -EPROTONOSUPPORT }, { "qed:", -EPROTONOSUPPORT },
};

int xbd_parse_params(const char *params, enum xbd_format *fmt, const char **path)
{
	const char *p = NULL;
	int kind = 0;

	if (!params)
		return -EINVAL;
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
	if (!p || p[0] != '/')
		return -EINVAL;
	if (kind < 0)
		return kind;
	*fmt = kind == 1 ? XBD_FORMAT_QCOW2 : XBD_FORMAT_RAW;
	*path = p;
	return 0;
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
