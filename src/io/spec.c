/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Driver options: the "key=value,key=value" part of a driver spec such as "memory:size=1G" or
 * "fault:op=write,error=ENOSPC". The spec comes from the daemon's command line (an operator,
 * not a guest), but it is still parsed strictly: an unknown key or a malformed value is an
 * error at open, never a silent default.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"
#include "xenblkd/log.h"

/* Find `key` in opts: its value (maybe empty) in *val and *len. 0 or -ENOENT. */
static int find_key(const char *opts, const char *key, const char **val, size_t *len)
{
	size_t klen = strlen(key);
	const char *p = opts;

	while (p && *p) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);

		if (n > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
			*val = p + klen + 1;
			*len = n - klen - 1;
			return 0;
		}
		p = end ? end + 1 : NULL;
	}
	return -ENOENT;
}

int xbd_opts_check(const char *opts, const char *const *known, const char *log_prefix)
{
	const char *p = opts;

	while (p && *p) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		const char *eq = memchr(p, '=', n);
		size_t klen = eq ? (size_t)(eq - p) : n;
		bool ok = false;

		for (unsigned int i = 0; eq && known[i]; i++)
			if (strlen(known[i]) == klen && strncmp(known[i], p, klen) == 0)
				ok = true;
		if (!ok) {
			xbd_err(log_prefix, "driver option '%.*s' is unknown or has no value",
				(int)n, p);
			return -EINVAL;
		}
		p = end ? end + 1 : NULL;
	}
	return 0;
}

int xbd_opts_get_str(const char *opts, const char *key, char *buf, size_t len)
{
	const char *v;
	size_t n;
	int r = find_key(opts, key, &v, &n);

	if (r)
		return r;
	if (n + 1 > len)
		return -EINVAL;
	memcpy(buf, v, n);
	buf[n] = '\0';
	return 0;
}

static int size_shift(char c)
{
	switch (c) {
	case '\0': return 0;
	case 'k': case 'K': return 10;
	case 'm': case 'M': return 20;
	case 'g': case 'G': return 30;
	case 't': case 'T': return 40;
	default: return -1;
	}
}

int xbd_opts_get_u64(const char *opts, const char *key, uint64_t *val)
{
	char buf[32], *end;
	unsigned long long v;
	int shift, r = xbd_opts_get_str(opts, key, buf, sizeof(buf));

	if (r)
		return r;
	if (buf[0] < '0' || buf[0] > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(buf, &end, 0);
	shift = size_shift(*end);
	if (errno || shift < 0 || (*end && end[1]))
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -EINVAL;
	*val = (uint64_t)v << shift;
	return 0;
}

int xbd_opts_get_bool(const char *opts, const char *key, bool *val)
{
	static const char *const yes[] = { "on", "yes", "1", "true" };
	static const char *const no[] = { "off", "no", "0", "false" };
	char buf[8];
	int r = xbd_opts_get_str(opts, key, buf, sizeof(buf));

	if (r)
		return r;
	for (unsigned int i = 0; i < 4; i++) {
		if (strcmp(buf, yes[i]) == 0) {
			*val = true;
			return 0;
		}
		if (strcmp(buf, no[i]) == 0) {
			*val = false;
			return 0;
		}
	}
	return -EINVAL;
}
