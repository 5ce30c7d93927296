/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The block device driver on loop devices this test makes (LOOP_CONFIGURE, auto-cleared when
 * the test's descriptor closes): size and logical sector size (512 and 4096), discard and
 * write-zeroes reading back as zeros, no secure erase (loop has none, and the probe must say
 * so without erasing anything), verified I/O through every engine, a read-only device refused
 * for writing and served read-only, the O_EXCL claim, and resize. Skips (77) where loop devices
 * cannot be made.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <cmocka.h>

#include "test_storage_util.h"
#include "io/driver.h"

#define SIZE (8u << 20)

struct loopdev {
	char backing[64];
	char dev[32];
	int fd;           /* held open: the device goes away when it closes */
};

/* 0, or -errno if no loop device can be made here. */
static int loop_make(struct loopdev *l, unsigned int block_size, bool readonly)
{
	int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	int r = -ENODEV;

	if (ctl < 0)
		return -errno;
	t_make_image(NULL, SIZE, l->backing);
	for (int tries = 0; tries < 10 && r; tries++) {
		struct loop_config c = { .block_size = block_size };
		int n = ioctl(ctl, LOOP_CTL_GET_FREE);

		r = n < 0 ? -errno : 0;
		if (r)
			break;
		snprintf(l->dev, sizeof(l->dev), "/dev/loop%d", n);
		l->fd = open(l->dev, O_RDWR | O_CLOEXEC);
		c.fd = (unsigned int)open(l->backing, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
		c.info.lo_flags = LO_FLAGS_AUTOCLEAR | (readonly ? LO_FLAGS_READ_ONLY : 0);
		r = l->fd < 0 ? -errno : ioctl(l->fd, LOOP_CONFIGURE, &c) < 0 ? -errno : 0;
		close((int)c.fd);
		if (r && l->fd >= 0)
			close(l->fd);
		if (r == -ENOENT)
			break; /* no device node for it in this /dev */
	}
	close(ctl);
	if (r)
		unlink(l->backing);
	return r;
}

static void loop_free(struct loopdev *l)
{
	close(l->fd);
	unlink(l->backing);
}

static struct loopdev *make(unsigned int block_size, bool readonly)
{
	struct loopdev *l = calloc(1, sizeof(*l));

	assert_non_null(l);
	assert_int_equal(loop_make(l, block_size, readonly), 0);
	return l;
}

static void test_geometry(void **state)
{
	struct loopdev *l = make(512, false), *k = make(4096, false);
	struct xbd_disk *d = t_open(l->dev, NULL, NULL, NULL);
	const struct xbd_disk_info *in = xbd_disk_get_info(d);

	(void)state;
	assert_string_equal(d->drv->name, "blockdev");
	assert_int_equal(in->size, SIZE);
	assert_int_equal(in->sector_size, 512);
	assert_true(in->physical_sector_size >= 512);
	assert_true(in->can_flush && in->can_write_zeroes);
	assert_true(in->can_discard); /* loop on ext4 discards by punching holes */
	assert_true(in->discard_granularity >= 512);
	assert_false(in->can_secure_erase);
	assert_false(in->readonly || in->buffered);
	assert_true(fcntl(d->fd, F_GETFL) & O_DIRECT);
	xbd_disk_close(d);
	d = t_open(k->dev, NULL, NULL, NULL);
	assert_int_equal(xbd_disk_get_info(d)->sector_size, 4096);
	assert_true(xbd_disk_get_info(d)->mem_align >= 512);
	xbd_disk_close(d);
	loop_free(l);
	loop_free(k);
	free(l);
	free(k);
}

static void rw_through(const char *dev, const char *engine)
{
	struct xbd_disk *d = t_open(dev, engine, NULL, NULL);
	unsigned char *buf = t_buf(32 * TBLK);
	struct tio t[8];
	struct xbd_sq *q;

	assert_string_equal(xbd_disk_get_info(d)->engine_name, engine);
	assert_int_equal(xbd_sq_open(d, 8, &q), 0);
	for (unsigned int i = 0; i < 8; i++) {
		t_fill(buf + i * 4 * TBLK, 4 * TBLK, i + 40);
		t_io(&t[i], XBD_IO_WRITE, (uint64_t)i * 64 * TBLK, buf + i * 4 * TBLK, 4 * TBLK);
		assert_int_equal(t_queue(q, &t[i]), 0);
	}
	t_run(q, t, 8);
	assert_int_equal(t_sync(q, XBD_IO_FLUSH, 0, NULL, 0), 0);
	memset(buf, 0, 32 * TBLK);
	for (unsigned int i = 0; i < 8; i++) {
		assert_int_equal(t[i].res, 0);
		assert_int_equal(t_sync(q, XBD_IO_READ, (uint64_t)i * 64 * TBLK, buf, 4 * TBLK), 0);
		assert_true(t_check(buf, 4 * TBLK, i + 40));
	}
	xbd_sq_close(q);
	xbd_disk_close(d);
	free(buf);
}

static void test_engines(void **state)
{
	static const char *const engines[] = { "io_uring", "libaio", "threads" };
	struct loopdev *l = make(512, false);

	(void)state;
	for (unsigned int i = 0; i < 3; i++)
		if (xbd_engine_find(engines[i]))
			rw_through(l->dev, engines[i]);
	loop_free(l);
	free(l);
}

static void test_zeroing_ops(void **state)
{
	struct loopdev *l = make(512, false);
	struct xbd_disk *d = t_open(l->dev, NULL, NULL, NULL);
	unsigned char *buf = t_buf(16 * TBLK);
	struct xbd_sq *q;

	(void)state;
	assert_int_equal(xbd_sq_open(d, 4, &q), 0);
	t_fill(buf, 16 * TBLK, 5);
	assert_int_equal(t_sync(q, XBD_IO_WRITE, 0, buf, 16 * TBLK), 0);
	assert_int_equal(t_sync(q, XBD_IO_DISCARD, 0, NULL, 4 * TBLK), 0);
	assert_int_equal(t_sync(q, XBD_IO_WRITE_ZEROES, 8 * TBLK, NULL, 4 * TBLK), 0);
	assert_int_equal(t_sync(q, XBD_IO_SECURE_ERASE, 12 * TBLK, NULL, 4 * TBLK), -EOPNOTSUPP);
	assert_int_equal(t_sync(q, XBD_IO_READ, 0, buf, 16 * TBLK), 0);
	assert_true(t_is_zero(buf, 4 * TBLK));
	assert_true(t_is_zero(buf + 8 * TBLK, 4 * TBLK));
	assert_false(t_is_zero(buf + 4 * TBLK, TBLK));
	assert_false(t_is_zero(buf + 12 * TBLK, TBLK)); /* the secure-erase probe erased nothing */
	xbd_sq_close(q);
	xbd_disk_close(d);
	loop_free(l);
	free(l);
	free(buf);
}

static void test_readonly_device(void **state)
{
	struct xbd_disk_config ro = { .format = XBD_FORMAT_RAW, .readonly = true };
	struct loopdev *l = make(512, true);
	struct xbd_disk *d = NULL;

	(void)state;
	assert_int_equal(t_try_open(l->dev, NULL, NULL, NULL, &d), -EROFS);
	d = t_open(l->dev, NULL, NULL, &ro);
	assert_true(xbd_disk_get_info(d)->readonly);
	assert_false(xbd_disk_get_info(d)->can_discard || xbd_disk_get_info(d)->can_write_zeroes);
	xbd_disk_close(d);
	loop_free(l);
	free(l);
}

/* A writable device is claimed with O_EXCL too: even without our lock, a second writable
 * open (or a mount) is refused by the kernel. */
static void test_exclusive_claim(void **state)
{
	struct xbd_disk_config nolock = { .format = XBD_FORMAT_RAW, .no_lock = true };
	struct loopdev *l = make(512, false);
	struct xbd_disk *d = t_open(l->dev, NULL, NULL, NULL), *e = NULL;

	(void)state;
	assert_int_equal(t_try_open(l->dev, NULL, NULL, &nolock, &e), -EBUSY);
	assert_int_equal(t_try_open(l->dev, NULL, NULL, NULL, &e), -EBUSY);
	xbd_disk_close(d);
	d = t_open(l->dev, NULL, NULL, NULL);
	xbd_disk_close(d);
	loop_free(l);
	free(l);
}

static void test_resize(void **state)
{
	struct loopdev *l = make(512, false);
	struct xbd_disk *d = t_open(l->dev, NULL, NULL, NULL);

	(void)state;
	assert_int_equal(truncate(l->backing, 2 * SIZE), 0);
	assert_int_equal(ioctl(l->fd, LOOP_SET_CAPACITY, 0), 0);
	assert_int_equal(xbd_disk_refresh(d), 0);
	assert_int_equal(xbd_disk_get_info(d)->size, 2 * SIZE);
	xbd_disk_close(d);
	loop_free(l);
	free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_geometry),
		cmocka_unit_test(test_engines),
		cmocka_unit_test(test_zeroing_ops),
		cmocka_unit_test(test_readonly_device),
		cmocka_unit_test(test_exclusive_claim),
		cmocka_unit_test(test_resize),
	};
	struct loopdev probe;
	int r = loop_make(&probe, 512, false);

	if (r) {
		printf("no loop devices here (%s): skipped\n", strerror(-r));
		return 77;
	}
	loop_free(&probe);
	return cmocka_run_group_tests_name("storage_blockdev", tests, NULL, NULL);
}
