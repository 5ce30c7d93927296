/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Helpers the storage and engine unit tests share: scratch images, I/O records that remember
 * their result, running a storage queue until I/Os complete, and recognisable data patterns.
 * Each test program links test_storage_util.c.
 */
#ifndef XBD_TEST_STORAGE_UTIL_H
#define XBD_TEST_STORAGE_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "xenblkd/storage.h"

#define TBLK 4096u

/* One I/O and what became of it. */
struct tio {
	struct xbd_io io;
	struct iovec iov[4];
	int res;
	bool done;
};

/* A scratch image of `size` bytes in `dir` (NULL: /var/tmp, which does O_DIRECT here). The
 * path is written to path[64]; the caller unlinks it. */
void t_make_image(const char *dir, uint64_t size, char *path);

/* Open `path` with this engine (NULL: default) and driver spec (NULL: raw), else as `base`. */
struct xbd_disk *t_open(const char *path, const char *engine, const char *driver,
			const struct xbd_disk_config *base);
int t_try_open(const char *path, const char *engine, const char *driver,
	       const struct xbd_disk_config *base, struct xbd_disk **d);

/* Fill in a READ/WRITE (buf, len) or a FLUSH/DISCARD/... (buf NULL). */
void t_io(struct tio *t, enum xbd_io_op op, uint64_t off, void *buf, uint64_t len);
/* Queue it; 0 or the xbd_sq_queue() error. */
int t_queue(struct xbd_sq *q, struct tio *t);
/* Submit and wait (up to ~5 s) until all `n` are done. */
void t_run(struct xbd_sq *q, struct tio *t, unsigned int n);
/* Queue one I/O, run it, return its result. */
int t_sync(struct xbd_sq *q, enum xbd_io_op op, uint64_t off, void *buf, uint64_t len);

void *t_buf(uint64_t len);                  /* 4 KiB aligned; free() it */
void t_fill(void *buf, uint64_t len, uint64_t tag);  /* a pattern from tag and offset */
bool t_check(const void *buf, uint64_t len, uint64_t tag);
bool t_is_zero(const void *buf, uint64_t len);

#endif
