/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Helpers the storage and engine unit tests share (test_storage_util.h).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "test_storage_util.h"

void t_make_image(const char *dir, uint64_t size, char *path)
{
	int fd;

	snprintf(path, 64, "%s/xbd-storage-XXXXXX", dir ? dir : "/var/tmp");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	close(fd);
}

int t_try_open(const char *path, const char *engine, const char *driver,
	       const struct xbd_disk_config *base, struct xbd_disk **d)
{
	struct xbd_disk_config cfg = { .format = XBD_FORMAT_RAW, .log_prefix = "test" };

	if (base)
		cfg = *base;
	cfg.path = path;
	cfg.engine = engine;
	cfg.driver = driver;
	return xbd_disk_open(&cfg, d);
}

struct xbd_disk *t_open(const char *path, const char *engine, const char *driver,
			const struct xbd_disk_config *base)
{
	struct xbd_disk *d = NULL;

	assert_int_equal(t_try_open(path, engine, driver, base, &d), 0);
	return d;
}

static void on_done(struct xbd_io *io, int res)
{
	struct tio *t = (struct tio *)((char *)io - offsetof(struct tio, io));

	assert_false(t->done);
	t->res = res;
	t->done = true;
}

void t_io(struct tio *t, enum xbd_io_op op, uint64_t off, void *buf, uint64_t len)
{
	memset(t, 0, sizeof(*t));
	t->iov[0] = (struct iovec){ .iov_base = buf, .iov_len = len };
	t->io = (struct xbd_io){ .op = op, .offset = off, .len = len, .iov = t->iov,
				 .niov = buf ? 1 : 0, .done = on_done };
}

int t_queue(struct xbd_sq *q, struct tio *t)
{
	t->done = false;
	return xbd_sq_queue(q, &t->io);
}

void t_run(struct xbd_sq *q, struct tio *t, unsigned int n)
{
	unsigned int ready;

	assert_int_equal(xbd_sq_submit(q), 0);
	for (int tries = 0; tries < 500; tries++) {
		bool all = true;

		for (unsigned int i = 0; i < n; i++)
			all &= t[i].done;
		if (all)
			return;
		assert_true(xbd_sq_wait(q, NULL, 0, &ready, true, 10) >= 0);
	}
	fail_msg("I/O did not complete");
}

int t_sync(struct xbd_sq *q, enum xbd_io_op op, uint64_t off, void *buf, uint64_t len)
{
	struct tio t;

	t_io(&t, op, off, buf, len);
	assert_int_equal(t_queue(q, &t), 0);
	t_run(q, &t, 1);
	return t.res;
}

void *t_buf(uint64_t len)
{
	void *p = NULL;

	assert_int_equal(posix_memalign(&p, 4096, len ? len : 1), 0);
	memset(p, 0, len);
	return p;
}

static uint8_t pattern(uint64_t tag, uint64_t i)
{
	uint64_t x = (tag + 1) * 0x9e3779b97f4a7c15ull + (i / 8) * 0xbf58476d1ce4e5b9ull;

	return (uint8_t)(x >> ((i % 8) * 8));
}

void t_fill(void *buf, uint64_t len, uint64_t tag)
{
	uint8_t *p = buf;

	for (uint64_t i = 0; i < len; i++)
		p[i] = pattern(tag, i);
}

bool t_check(const void *buf, uint64_t len, uint64_t tag)
{
	const uint8_t *p = buf;

	for (uint64_t i = 0; i < len; i++)
		if (p[i] != pattern(tag, i))
			return false;
	return true;
}

bool t_is_zero(const void *buf, uint64_t len)
{
	const uint8_t *p = buf;

	for (uint64_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}
