/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Backing files. The name comes from the image, which a guest may have written (a qcow2
 * header in a raw disk), so it is treated as hostile: it must be a plain file name (no
 * "protocol:" prefix), it must resolve, after every symlink, inside a directory the
 * configuration allows (by default the top image's own directory), the descriptor we read
 * through is checked again after open so a swapped symlink cannot redirect it, it is opened
 * read-only, and its format comes only from the header's backing-format extension (raw without
 * one only if the configuration says so). The chain is depth-limited and loops are refused.
 * Backing files are read synchronously: raw with pread, qcow2 through a read-only struct qcow2.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xenblkd/log.h"
#include "qcow2.h"

static bool is_inside(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (n == 1 && dir[0] == '/')
		return true;
	return strncmp(path, dir, n) == 0 && path[n] == '/';
}

static bool allowed(const char *resolved, const struct qcow2_config *cfg,
		    const struct qcow2_chain *chain)
{
	char rd[PATH_MAX];

	if (!cfg->backing_dirs)
		return chain->top_dir && is_inside(resolved, chain->top_dir);
	for (const char *const *d = cfg->backing_dirs; *d; d++)
		if (realpath(*d, rd) && is_inside(resolved, rd))
			return true;
	return false;
}

/* The name relative to the directory of the image that names it, then resolved. */
static int resolve_name(struct qcow2 *s, const char *img_path, char *resolved)
{
	const char *name = s->h.backing_file;
	const char *colon = strchr(name, ':'), *slash = strchr(name, '/');
	char joined[PATH_MAX + 1100], dir[PATH_MAX];

	if (colon && (!slash || colon < slash)) {
		xbd_err(s->prefix, "backing file '%s' names a protocol; only file names are "
			"allowed", name);
		return -EPERM;
	}
	snprintf(dir, sizeof(dir), "%s", img_path);
	if (name[0] == '/')
		snprintf(joined, sizeof(joined), "%s", name);
	else
		snprintf(joined, sizeof(joined), "%s/%s", dirname(dir), name);
	if (!realpath(joined, resolved)) {
		int r = -errno;

		xbd_err(s->prefix, "backing file '%s' cannot be resolved: %s", name,
			strerror(errno));
		return r;
	}
	return 0;
}

/* Open read-only, then check that the descriptor really is the allowed file. */
static int open_checked(struct qcow2 *s, const char *resolved, const struct qcow2_config *cfg,
			const struct qcow2_chain *chain, int *fd)
{
	char proc[64], actual[PATH_MAX];
	ssize_t n;

	if (!allowed(resolved, cfg, chain)) {
		xbd_err(s->prefix, "backing file '%s' resolves to %s, outside the allowed "
			"directories", s->h.backing_file, resolved);
		return -EPERM;
	}
	*fd = open(resolved, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (*fd < 0) {
		xbd_err(s->prefix, "cannot open backing file %s: %s", resolved, strerror(errno));
		return -errno;
	}
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", *fd);
	n = readlink(proc, actual, sizeof(actual) - 1);
	if (n < 0 || (actual[n] = '\0', !allowed(actual, cfg, chain))) {
		xbd_err(s->prefix, "backing file %s moved outside the allowed directories",
			resolved);
		close(*fd);
		*fd = -1;
		return -EPERM;
	}
	return 0;
}

static int backing_format(struct qcow2 *s, const struct qcow2_config *cfg, bool *is_qcow2)
{
	if (s->h.has_backing_fmt) {
		*is_qcow2 = strcmp(s->h.backing_fmt, "qcow2") == 0;
		if (*is_qcow2 || strcmp(s->h.backing_fmt, "raw") == 0)
			return 0;
		xbd_err(s->prefix, "backing file format '%s' is not supported (qcow2 or raw)",
			s->h.backing_fmt);
		return -EOPNOTSUPP;
	}
	*is_qcow2 = false;
	if (cfg->backing_raw_ok)
		return 0;
	xbd_err(s->prefix, "backing file '%s' has no backing-format extension; refusing to guess "
		"(allowing raw backing files is a configuration choice)", s->h.backing_file);
	return -EPERM;
}

static int open_raw(struct qcow2_backing *b, int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISBLK(st.st_mode))
		return ioctl(fd, BLKGETSIZE64, &b->size) < 0 ? -errno : 0;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	b->size = (uint64_t)st.st_size;
	return 0;
}

static int open_qcow2(struct qcow2 *s, const struct qcow2_config *cfg,
		      struct qcow2_chain *chain, const char *resolved, int fd)
{
	struct qcow2_config sub = {
		.path = resolved,
		.readonly = true,
		.backing_dirs = cfg->backing_dirs,
		.backing_raw_ok = cfg->backing_raw_ok,
		.l2_cache_bytes = cfg->l2_cache_bytes,
		.log_prefix = cfg->log_prefix,
	};
	int r = qcow2_open_chain(&sub, chain, fd, &s->backing.q);

	if (!r)
		s->backing.size = s->backing.q->size;
	return r;
}

int qcow2_backing_open(struct qcow2 *s, const struct qcow2_config *cfg,
		       struct qcow2_chain *chain)
{
	char resolved[PATH_MAX];
	bool is_qcow2;
	int fd = -1, r;

	if (!s->h.backing_file[0])
		return 0;
	if (chain->depth > QCOW2_MAX_CHAIN) { /* the top image and QCOW2_MAX_CHAIN below it */
		xbd_err(s->prefix, "backing chain deeper than %d images (or a loop)",
			QCOW2_MAX_CHAIN);
		return -ELOOP;
	}
	r = backing_format(s, cfg, &is_qcow2);
	if (!r && cfg->fops) {
		xbd_err(s->prefix, "backing files are not followed from an image in memory");
		r = -EPERM;
	}
	if (!r)
		r = resolve_name(s, cfg->path, resolved);
	if (!r)
		r = open_checked(s, resolved, cfg, chain, &fd);
	if (r)
		return r;
	s->backing.is_qcow2 = is_qcow2;
	s->backing.fd = is_qcow2 ? -1 : fd;
	r = is_qcow2 ? open_qcow2(s, cfg, chain, resolved, fd) : open_raw(&s->backing, fd);
	if (r) {
		if (!is_qcow2)
			close(fd);
		s->backing.fd = -1;
		return r;
	}
	s->has_backing = true;
	return 0;
}

void qcow2_backing_close(struct qcow2 *s)
{
	if (!s->has_backing)
		return;
	if (s->backing.is_qcow2)
		qcow2_close(s->backing.q);
	else if (s->backing.fd >= 0)
		close(s->backing.fd);
	s->has_backing = false;
}

static int raw_read(int fd, uint8_t *p, uint64_t len, uint64_t off)
{
	while (len > 0) {
		ssize_t n = pread(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0) {
			memset(p, 0, len); /* the file shrank under us: zeros */
			return 0;
		}
		p += n;
		len -= (uint64_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* Guest bytes [off, off + len) of the backing file; past its end they read as zeros. */
int qcow2_backing_read(struct qcow2 *s, void *buf, uint64_t off, uint64_t len)
{
	struct qcow2_backing *b = &s->backing;
	uint64_t n = off >= b->size ? 0 : (b->size - off < len ? b->size - off : len);
	int r = 0;

	if (n && b->is_qcow2) {
		pthread_mutex_lock(&b->q->lock);
		r = qcow2_read_sync(b->q, buf, off, n);
		pthread_mutex_unlock(&b->q->lock);
	} else if (n) {
		r = raw_read(b->fd, buf, n, off);
	}
	memset((uint8_t *)buf + n, 0, len - n);
	return r;
}
