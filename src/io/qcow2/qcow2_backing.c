/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Backing files: opening the one the policy found (qcow2_backing_find.c) and reading from it.
 * Opening has no side effects: the O_PATH descriptor's type is checked with fstat before
 * anything is opened (a regular file; a block device only when named in the configured
 * chain), so a FIFO, tty, socket or character device gets an error at once, never a hang and
 * never its driver's open; then that inode is opened read-only through /proc/self/fd/N and
 * locked as QEMU locks a backing file: shared, refusing a file that anyone holds for writing.
 * The chain is depth-limited and loops are refused. Backing files are read synchronously:
 * raw with pread, qcow2 through a read-only struct qcow2.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/driver.h"
#include "xenblkd/log.h"
#include "qcow2.h"

static int wrong_type(struct qcow2 *s, const struct qcow2_found *f, const struct stat *st)
{
	xbd_err(s->prefix, "backing file %s is %s, not an image file%s", f->shown,
		xbd_file_type_name(st->st_mode), S_ISBLK(st->st_mode) ? " (a block device "
		"must be named in the configured chain, qcow2-backing)" : "");
	return -EINVAL;
}

static int in_chain(struct qcow2 *s, const struct qcow2_chain *chain, const struct stat *st,
		    const char *shown)
{
	for (unsigned int i = 0; i < chain->depth; i++) {
		if (chain->dev[i] == st->st_dev && chain->ino[i] == st->st_ino) {
			xbd_err(s->prefix, "loop in the backing chain at %s", shown);
			return -ELOOP;
		}
	}
	return 0;
}

/* Check what f->pathfd is, then open it read-only and take the shared lock. */
static int open_found(struct qcow2 *s, const struct qcow2_config *cfg,
		      const struct qcow2_chain *chain, const struct qcow2_found *f, int *fd)
{
	struct stat st;
	int r = xbd_path_check_type(f->pathfd, f->block_ok, &st);

	if (r == -EINVAL || r == -EISDIR)
		return wrong_type(s, f, &st);
	if (!r)
		r = in_chain(s, chain, &st, f->shown);
	if (r)
		return r;
	*fd = xbd_path_reopen(f->pathfd, O_RDONLY);
	if (*fd < 0) {
		xbd_err(s->prefix, "cannot open backing file %s: %s%s", f->shown, strerror(-*fd),
			*fd == -ENOENT ? " (is /proc mounted?)" : "");
		return *fd;
	}
	if (!cfg->backing.no_lock) {
		r = xbd_image_lock(*fd, true, f->shown, s->prefix);
		if (r == -EBUSY)
			xbd_err(s->prefix, "backing file %s is refused: another program holds it "
				"for writing", f->shown);
	}
	if (r) {
		close(*fd);
		*fd = -1;
	}
	return r;
}

static int open_raw(struct qcow2_backing *b, int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISBLK(st.st_mode))
		return ioctl(fd, BLKGETSIZE64, &b->size) < 0 ? -errno : 0;
	b->size = (uint64_t)st.st_size;
	return 0;
}

static int open_qcow2(struct qcow2 *s, const struct qcow2_config *cfg,
		      struct qcow2_chain *chain, const struct qcow2_found *f, int fd)
{
	struct qcow2_config sub = {
		.path = f->path,
		.readonly = true,
		.backing = cfg->backing,
		.level = cfg->level + 1,
		.l2_cache_bytes = cfg->l2_cache_bytes,
		.log_prefix = cfg->log_prefix,
	};
	int r = qcow2_open_chain(&sub, chain, fd, &s->backing.q);

	if (!r)
		s->backing.size = s->backing.q->size;
	return r;
}

/* A configured chain longer than the real one costs nothing: say so, quietly. */
static int no_backing(struct qcow2 *s, const struct qcow2_config *cfg)
{
	if (cfg->backing.chain_len > cfg->level)
		xbd_info(s->prefix, "%s has no backing file; the configured chain lists %u more",
			 cfg->path, cfg->backing.chain_len - cfg->level);
	return 0;
}

int qcow2_backing_open(struct qcow2 *s, const struct qcow2_config *cfg,
		       struct qcow2_chain *chain)
{
	struct qcow2_found f;
	int fd = -1, r;

	if (!s->h.backing_file[0])
		return no_backing(s, cfg);
	if (cfg->level >= QCOW2_MAX_CHAIN) {
		xbd_err(s->prefix, "backing chain deeper than %d images (or a loop)",
			QCOW2_MAX_CHAIN);
		return -ELOOP;
	}
	r = qcow2_backing_find(s, cfg, &f);
	if (!r)
		r = open_found(s, cfg, chain, &f, &fd);
	if (f.pathfd >= 0)
		close(f.pathfd);
	if (r)
		return r;
	s->backing.is_qcow2 = f.format == XBD_FORMAT_QCOW2;
	s->backing.fd = s->backing.is_qcow2 ? -1 : fd;
	r = s->backing.is_qcow2 ? open_qcow2(s, cfg, chain, &f, fd) : open_raw(&s->backing, fd);
	if (r) {
		if (!s->backing.is_qcow2)
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
