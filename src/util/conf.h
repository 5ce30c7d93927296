/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The configuration file (xenblkd.conf(5)): `name = value` lines whose names are the long
 * command-line options, in sections:
 *   (none) or [xenblkd]  every daemon's options;
 *   [watch]              the watcher's options;
 *   [vbd]                per-VBD options, applied to a daemon when all the section's
 *                        match-backend, match-image and match-domain patterns (fnmatch(3))
 *                        match its VBD; later sections win.
 * Blank lines and lines starting with '#' are ignored. This file only reads the syntax; each
 * program checks the names and values it owns, and names the file, line and option in errors.
 */
#ifndef XENBLKD_UTIL_CONF_H
#define XENBLKD_UTIL_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum xbd_conf_section {
	XBD_CONF_DAEMON,
	XBD_CONF_WATCH,
	XBD_CONF_VBD,
};

struct xbd_conf_entry {
	enum xbd_conf_section section;
	unsigned int section_no; /* counts [vbd] sections from 1; 0 for the others */
	unsigned int line;
	const char *key;
	const char *value;       /* "" when the line has no '=' (a flag) */
};

struct xbd_conf {
	char *path;
	char *text;              /* the file, cut into the entries' strings */
	struct xbd_conf_entry *e;
	size_t n;
};

/* Read and split the file. 0, -ENOENT when it does not exist, -EINVAL for a syntax error, or
 * another -errno; on failure `why` holds one line, "<path>:<line>: <what>" or "<path>: <what>",
 * for the caller to log. */
int xbd_conf_load(const char *path, struct xbd_conf *c, char *why, size_t len);
void xbd_conf_free(struct xbd_conf *c);

/* Does [vbd] section `no` match? Its patterns against the VBD's facts; a NULL fact never
 * matches a pattern. */
bool xbd_conf_vbd_matches(const struct xbd_conf *c, unsigned int no, const char *backend,
			  const char *image, const char *domain);

/* Strict decimal, <= max (no sign, no spaces). 0 or -EINVAL. */
int xbd_conf_uint(const char *s, uint64_t max, uint64_t *out);

/* A byte count with an optional binary suffix K, M, G or T ("50M" is 50 MiB). 0 or -EINVAL. */
int xbd_conf_bytes(const char *s, uint64_t *out);

/* A yes/no value: yes, true, on, 1 (or "", a bare flag) and no, false, off, 0. */
int xbd_conf_bool(const char *value, bool *out);

#endif
