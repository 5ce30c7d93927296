/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Which file, in which format, backs an image: the policy. The header's name comes from the
 * image, which a tenant may have made (or a guest may have written, as a qcow2 header inside
 * its raw disk), so it decides nothing on its own. A backing file is followed only as the
 * administrator configured it:
 *  - the exact chain for the VBD: entry n is opened by its configured path, in its
 *    configured format, and the header's name must merely agree with it (by file name);
 *  - or allowed directories: the name, joined to its image's directory as QEMU does, must lie
 *    in one of them, and is resolved from that directory's descriptor with openat2
 *    (RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS); its format is configured, or the header's
 *    where the administrator trusts it, and raw needs its own permission.
 * Otherwise the image is refused with one message saying how to allow it. Everything found is
 * an O_PATH descriptor: nothing has been opened yet (qcow2_backing.c checks the type).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/driver.h"
#include "xenblkd/log.h"
#include "qcow2.h"

#define NAMED_BY "backing file '%s' named by %s"

/* The backing name and the path of the image naming it, cut for the log. */
struct named {
	char name[1024];
	char by[1024];
};

/* The image's path made absolute: relative backing names start from its directory. */
static int absolute(const char *path, char *out, size_t cap)
{
	char cwd[PATH_MAX];
	int n;

	if (path[0] != '/' && !getcwd(cwd, sizeof(cwd)))
		return -errno;
	n = path[0] == '/' ? snprintf(out, cap, "%s", path) :
			     snprintf(out, cap, "%s/%s", cwd, path);
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

static int not_configured(struct qcow2 *s, const struct qcow2_config *cfg, const struct named *n)
{
	xbd_err(s->prefix, NAMED_BY " is not followed: configure the chain (qcow2-backing = "
		"FORMAT:PATH in a [vbd] section of xenblkd.conf, or the backend key "
		"xenblkd-backing) or allow a directory (--qcow2-backing-dir DIR); see "
		"xenblkd.conf(5)", n->name, n->by);
	return -EPERM;
}

/* The exact chain: the configured entry for this level, opened by its configured path. */
static int from_chain(struct qcow2 *s, const struct qcow2_config *cfg, const struct named *n,
		      struct qcow2_found *f)
{
	const struct qcow2_backing_policy *p = &cfg->backing;
	const struct xbd_backing_file *e;
	char real[PATH_MAX];

	if (cfg->level >= p->chain_len) {
		xbd_err(s->prefix, NAMED_BY " is not followed: the chain configured for this VBD "
			"(qcow2-backing, xenblkd-backing) lists %u backing file%s, and this would "
			"be number %u", n->name, n->by, p->chain_len, p->chain_len == 1 ? "" : "s",
			cfg->level + 1);
		return -EPERM;
	}
	e = &p->chain[cfg->level];
	if (!qcow2_name_matches_entry(s->h.backing_file, e->path,
				      realpath(e->path, real) ? real : NULL)) {
		xbd_err(s->prefix, NAMED_BY " does not match entry %u of the configured chain, %s: "
			"the file names differ", n->name, n->by, cfg->level + 1, e->path);
		return -EPERM;
	}
	if (s->h.has_backing_fmt &&
	    strcmp(s->h.backing_fmt, e->format == XBD_FORMAT_QCOW2 ? "qcow2" : "raw")) {
		char fmt[sizeof(s->h.backing_fmt) * 4 + 8];

		qcow2_name_shown(s->h.backing_fmt, fmt, sizeof(fmt));
		xbd_warn(s->prefix, "the header of %s names backing format '%s'; the configured "
			 "one is used: %s", n->by, fmt,
			 e->format == XBD_FORMAT_QCOW2 ? "qcow2" : "raw");
	}
	f->pathfd = xbd_path_open(AT_FDCWD, e->path, false);
	if (f->pathfd < 0) {
		xbd_err(s->prefix, "cannot open the configured backing file %s: %s", e->path,
			strerror(-f->pathfd));
		return f->pathfd;
	}
	snprintf(f->path, sizeof(f->path), "%s", e->path);
	snprintf(f->shown, sizeof(f->shown), "%s", e->path);
	f->format = e->format;
	f->block_ok = true; /* the administrator named this very file */
	return 0;
}

/* Through a directory: the format comes from configuration, or from the header if trusted. */
static int dir_format(struct qcow2 *s, const struct qcow2_config *cfg, const struct named *n,
		      enum xbd_format *fmt)
{
	const struct qcow2_backing_policy *p = &cfg->backing;

	if (p->trust_header_format && s->h.has_backing_fmt) {
		char hf[sizeof(s->h.backing_fmt) * 4 + 8];

		*fmt = !strcmp(s->h.backing_fmt, "raw") ? XBD_FORMAT_RAW : XBD_FORMAT_QCOW2;
		if (strcmp(s->h.backing_fmt, "raw") && strcmp(s->h.backing_fmt, "qcow2")) {
			qcow2_name_shown(s->h.backing_fmt, hf, sizeof(hf));
			xbd_err(s->prefix, NAMED_BY ": backing format '%s' is not supported "
				"(qcow2 or raw)", n->name, n->by, hf);
			return -EOPNOTSUPP;
		}
	} else if (p->has_dir_format) {
		*fmt = p->dir_format;
	} else {
		xbd_err(s->prefix, NAMED_BY " is not followed: its format is not configured "
			"(--qcow2-backing-format qcow2|raw, or --qcow2-trust-backing-format to "
			"take the one its header names); formats are never guessed", n->name,
			n->by);
		return -EPERM;
	}
	if (*fmt == XBD_FORMAT_RAW && !p->raw_ok) {
		xbd_err(s->prefix, NAMED_BY " is not followed as raw: a raw backing file found "
			"through a directory needs --qcow2-allow-raw-backing", n->name, n->by);
		return -EPERM;
	}
	return 0;
}

static int beneath_failed(struct qcow2 *s, const struct qcow2_config *cfg, const struct named *n,
			  const char *dir, int r)
{
	const char *why = r == -EXDEV ? "it leads out of the allowed directory (through '..' "
					"or a symlink)" :
			  r == -ELOOP ? "it goes through a /proc magic link or too many "
					"symlinks" :
			  r == -ENOSYS ? "this kernel has no openat2(), which resolving it safely "
					 "needs (Linux 5.6 or later)" : NULL;

	if (why)
		xbd_err(s->prefix, NAMED_BY " is not followed: in %s, %s", n->name, n->by, dir,
			why);
	else
		xbd_err(s->prefix, NAMED_BY " cannot be opened in %s: %s", n->name, n->by, dir,
			strerror(-r));
	return r == -EXDEV || r == -ELOOP ? -EPERM : r;
}

/* Open `rest` beneath the allowed directory `dir` (resolved: `real`). */
static int open_beneath(struct qcow2 *s, const struct qcow2_config *cfg, const struct named *n,
			const char *dir, const char *real, const char *rest, struct qcow2_found *f)
{
	int len, dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (dfd < 0) {
		xbd_err(s->prefix, "cannot open the allowed backing directory %s: %s", dir,
			strerror(errno));
		return -errno;
	}
	f->pathfd = xbd_path_open(dfd, rest, true);
	close(dfd);
	if (f->pathfd < 0)
		return beneath_failed(s, cfg, n, dir, f->pathfd);
	len = snprintf(f->path, sizeof(f->path), "%s/%s", real, rest);
	if (len < 0 || (size_t)len >= sizeof(f->path)) {
		xbd_err(s->prefix, NAMED_BY " is not followed: %s", n->name, n->by,
			strerror(ENAMETOOLONG));
		return -ENAMETOOLONG;
	}
	qcow2_name_shown(f->path, f->shown, sizeof(f->shown));
	f->block_ok = false; /* a block device must be named in the configured chain */
	return 0;
}

/* An allowed directory, resolved; checked again here for callers other than the daemon. */
static int resolve_dir(struct qcow2 *s, const char *dir, char *real)
{
	if (!realpath(dir, real)) {
		int r = -errno;

		xbd_err(s->prefix, "allowed backing directory %s cannot be resolved: %s", dir,
			strerror(-r));
		return r;
	}
	if (qcow2_backing_dir_forbidden(real)) {
		xbd_err(s->prefix, "%s may never be an allowed backing directory: it is /, /dev or "
			"/run, or lies in /proc or /sys", dir);
		return -EPERM;
	}
	return 0;
}

static int from_dirs(struct qcow2 *s, const struct qcow2_config *cfg, const struct named *n,
		     struct qcow2_found *f)
{
	char image[PATH_MAX], joined[PATH_MAX], given[PATH_MAX], real[PATH_MAX], jshown[1024];
	int r;

	r = absolute(cfg->path, image, sizeof(image));
	if (!r)
		r = qcow2_name_join(image, s->h.backing_file, joined, sizeof(joined));
	if (r) {
		xbd_err(s->prefix, NAMED_BY " is not followed: %s", n->name, n->by,
			strerror(-r));
		return r;
	}
	r = dir_format(s, cfg, n, &f->format);
	for (const char *const *d = cfg->backing.dirs; !r && *d; d++) {
		const char *rest;

		r = resolve_dir(s, *d, real);
		if (r)
			return r;
		rest = qcow2_path_beneath(joined, real);
		if (!rest && (*d)[0] == '/' && !qcow2_name_join("/", *d, given, sizeof(given)))
			rest = qcow2_path_beneath(joined, given);
		if (rest)
			return open_beneath(s, cfg, n, *d, real, rest, f);
	}
	if (r)
		return r;
	qcow2_name_shown(joined, jshown, sizeof(jshown));
	xbd_err(s->prefix, NAMED_BY " is not followed: it is %s, outside the allowed directories "
		"(--qcow2-backing-dir)", n->name, n->by, jshown);
	return -EPERM;
}

int qcow2_backing_find(struct qcow2 *s, const struct qcow2_config *cfg, struct qcow2_found *f)
{
	const struct qcow2_backing_policy *p = &cfg->backing;
	struct named n;

	f->pathfd = -1;
	qcow2_name_shown(s->h.backing_file, n.name, sizeof(n.name));
	qcow2_name_shown(cfg->path, n.by, sizeof(n.by)); /* below the top, partly the image's */
	if (!p->chain_len && !p->dirs)
		return not_configured(s, cfg, &n);
	if (qcow2_name_has_protocol(s->h.backing_file)) {
		xbd_err(s->prefix, NAMED_BY " is not followed: it names a protocol; only files are "
			"backing files", n.name, n.by);
		return -EPERM;
	}
	return p->chain_len ? from_chain(s, cfg, &n, f) : from_dirs(s, cfg, &n, f);
}

int xbd_qcow2_backing_dir_check(const char *dir)
{
	char real[PATH_MAX];

	if (!realpath(dir, real))
		return -errno;
	return qcow2_backing_dir_forbidden(real) ? -EPERM : 0;
}
