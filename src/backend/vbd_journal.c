/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Where a VBD's in-flight journal lives (docs/restart.md, contract F): the file
 * <run dir>/journal/<kind>-<fe>-<devid>, in a directory only root reads (0700), created 0600
 * and opened with O_NOFOLLOW, mapped shared so the data path writes it with plain stores. Which
 * drivers may have one: those whose completed writes outlive the process. Created at a
 * connect, checked at a restart, removed at every clean end of the connection.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xenblkd/log.h"
#include "xenblkd/vbd.h"

bool xbd_vbd_resumable(const struct xbd_vbd *v, const char **why)
{
	const char *drv = v->opt->driver;

	/* qcow2 resumes when its metadata is written through (base_config() in vbd.c): refcount
	 * raises always are; L2 and L1 changes then reach the file before a request completes.
	 * A crash leaves at most leaked clusters (docs/qcow2.md). */
	if (v->image_format == XBD_FORMAT_QCOW2 && v->opt->qcow2_write_back)
		*why = "qcow2 keeps L2 table updates of acknowledged writes in the process until it "
		       "writes them back (--qcow2-write-back)";
	else if (v->image_format == XBD_FORMAT_RBD)
		*why = "librbd may keep acknowledged writes in its cache, in the process";
	else if (drv && !strncmp(drv, "memory", 6))
		*why = "the memory driver's data lives in the process";
	else
		return true;
	return false;
}

/* <run dir>/journal, 0700, ours and not a link; then the file's path. */
static int journal_path(const struct xbd_vbd *v, char *buf, size_t len, bool mk)
{
	const char *kind = strstr(v->be_path, "/backend/");
	struct stat st;
	int n;

	if (!v->opt->run_dir || !kind)
		return -ENOENT;
	kind += strlen("/backend/");
	n = snprintf(buf, len, "%s/journal", v->opt->run_dir);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	if (mk && mkdir(buf, 0700) && errno != EEXIST)
		return -errno;
	if (lstat(buf, &st))
		return -errno;
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077))
		return -EPERM;
	/* kind/fe/devid of the backend path, with '-' for '/': [A-Za-z0-9_.-] only (checked). */
	n = snprintf(buf + n, len - (size_t)n, "/%s", kind);
	if (n < 0 || strlen(buf) >= len)
		return -ENAMETOOLONG;
	for (char *p = buf + strlen(buf) - strlen(kind); *p; p++) {
		if (*p == '/')
			*p = '-';
		else if (!isalnum((unsigned char)*p) && !strchr("_.-", *p))
			return -EINVAL;
	}
	return 0;
}

/* The fd store's name: journal-<kind>-<fe>-<devid> (contract E), [A-Za-z0-9_.-] only. */
static int journal_name(const struct xbd_vbd *v, char *buf, size_t len)
{
	const char *kind = strstr(v->be_path, "/backend/");
	int n;

	if (!kind)
		return -EINVAL;
	n = snprintf(buf, len, "journal-%s", kind + strlen("/backend/"));
	if (n < 0 || (size_t)n >= len || n > 255)
		return -ENAMETOOLONG;
	for (char *p = buf; *p; p++) {
		if (*p == '/')
			*p = '-';
		else if (!isalnum((unsigned char)*p) && !strchr("_.-", *p))
			return -EINVAL;
	}
	return 0;
}

static void geometry(const struct xbd_vbd *v, const struct xbd_fe_params *p,
		     struct xbd_journal_geom *g)
{
	size_t bytes = (size_t)XBD_BLKIF_PAGE_SIZE << p->ring_order;

	*g = (struct xbd_journal_geom){
		.nr_queues = p->nr_queues, .ring_pages = 1u << p->ring_order, .proto = p->proto,
		.nr_ents = xbd_ring_nr_ents(p->proto, bytes), .max_segs = v->opt->max_indirect_segs,
		.fe_domid = v->fe_domid, .devid = v->devid,
	};
	for (unsigned int q = 0; q < p->nr_queues && q < XBD_JOURNAL_MAX_QUEUES; q++) {
		g->ring_ref0[q] = p->ring_refs[q][0];
		g->port[q] = p->ports[q];
	}
}

static int map_fd(struct xbd_vbd *v, int fd, size_t size)
{
	void *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	if (m == MAP_FAILED)
		return -errno;
	v->jmem = m;
	v->jsize = size;
	return 0;
}

static void set_queues(struct xbd_vbd *v, unsigned int n)
{
	for (unsigned int q = 0; q < n; q++)
		xbd_journal_queue(v->jmem, q, &v->jq[q]);
}

/* A memfd for the supervisor's store, or the run dir's file: open, sized. */
static int journal_new_fd(struct xbd_vbd *v, size_t size, bool *stored)
{
	char path[4096];
	int fd, r;

	*stored = v->opt->fd_keeper != NULL;
	if (*stored)
		fd = memfd_create("xenblkd-journal", MFD_CLOEXEC);
	else {
		r = journal_path(v, path, sizeof(path), true);
		if (r)
			return r;
		unlink(path);
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	}
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size)) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

/* Into the store, replacing whatever it kept under the name (one file per name). */
static int journal_store(struct xbd_vbd *v, int fd)
{
	char name[300];
	int r = journal_name(v, name, sizeof(name));

	if (!r) {
		v->opt->fd_keeper->remove(name);
		r = v->opt->fd_keeper->put(name, fd);
	}
	return r;
}

int xbd_vbd_journal_create(struct xbd_vbd *v, const struct xbd_fe_params *p)
{
	struct xbd_journal_geom g;
	bool stored;
	size_t size;
	int fd, r;

	geometry(v, p, &g);
	size = xbd_journal_size(&g);
	if (!size)
		return -EINVAL;
	fd = journal_new_fd(v, size, &stored);
	if (fd < 0)
		return fd;
	r = map_fd(v, fd, size);
	if (!r)
		r = xbd_journal_format(v->jmem, v->jsize, &g);
	/* Formatted first: what the store keeps is a valid (empty) journal from the start. */
	if (!r && stored)
		r = journal_store(v, fd);
	close(fd);
	if (r) {
		xbd_vbd_journal_remove(v);
		return r;
	}
	set_queues(v, g.nr_queues);
	return 0;
}

/* The journal the supervisor passed back at our start, if any. */
static int journal_taken_fd(struct xbd_vbd *v, const char **why)
{
	char name[300];
	int r;

	if (!v->opt->fd_keeper)
		return -ENOENT;
	r = journal_name(v, name, sizeof(name));
	if (!r)
		r = v->opt->fd_keeper->take(name);
	if (r == -ENOTUNIQ)
		*why = "the fd store kept two journals for this device: neither is trusted";
	return r;
}

int xbd_vbd_journal_open(struct xbd_vbd *v, const struct xbd_fe_params *p, const char **why)
{
	const char *why_store = NULL;
	struct xbd_journal_geom g;
	struct stat st;
	char path[4096];
	int fd, r;

	geometry(v, p, &g);
	*why = "no journal";
	fd = journal_taken_fd(v, &why_store);
	if (fd == -ENOTUNIQ)
		*why = why_store;
	if (fd == -ENOENT) {
		r = journal_path(v, path, sizeof(path), false);
		if (r)
			return r;
		fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
		fd = fd < 0 ? -errno : fd;
	}
	if (fd < 0)
		return fd;
	r = fstat(fd, &st) ? -errno : 0;
	if (!r && (!S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
		   (size_t)st.st_size != xbd_journal_size(&g) || !st.st_size)) {
		*why = "journal file not ours, or not the size of this connection's";
		r = -EUCLEAN;
	}
	if (!r)
		r = map_fd(v, fd, (size_t)st.st_size);
	close(fd);
	if (!r)
		r = xbd_journal_check(v->jmem, v->jsize, &g, why);
	if (r) {
		if (v->jmem)
			munmap(v->jmem, v->jsize);
		v->jmem = NULL;
		return r;
	}
	set_queues(v, g.nr_queues);
	return 0;
}

bool xbd_vbd_journal_remove(struct xbd_vbd *v)
{
	char path[4096];

	if (v->jmem) {
		xbd_journal_invalidate(v->jmem);
		munmap(v->jmem, v->jsize);
	}
	v->jmem = NULL;
	v->jsize = 0;
	memset(v->jq, 0, sizeof(v->jq));
	if (v->opt->fd_keeper && !journal_name(v, path, sizeof(path)))
		v->opt->fd_keeper->remove(path);
	return !journal_path(v, path, sizeof(path), false) && unlink(path) == 0;
}
