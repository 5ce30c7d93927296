/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The file driver: what it reports (size, sector size from statx DIOALIGN or forced to 4 KiB,
 * features), O_DIRECT by default and buffered when asked, O_DSYNC without flush, discard as a
 * punched hole, write-zeroes with ZERO_RANGE on ext4 and by writing zeros on tmpfs (which has
 * no ZERO_RANGE), no secure erase, refusal of writes on a read-only disk and of paths that are
 * not regular files, resize, and the driver-spec parser.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "test_storage_util.h"
#include "io/driver.h"

#define SIZE (1u << 20)

static int fd_flags(const struct xbd_disk *d)
{
	return fcntl(d->fd, F_GETFL);
}

static void test_geometry_and_features(void **state)
{
	struct xbd_disk_config cfg4k = { .format = XBD_FORMAT_RAW, .sector_size = 4096 };
	char path[64];
	struct xbd_disk *d;
	const struct xbd_disk_info *in;

	(void)state;
	t_make_image(NULL, SIZE, path);
	d = t_open(path, NULL, NULL, NULL);
	in = xbd_disk_get_info(d);
	assert_string_equal(d->drv->name, "file");
	assert_int_equal(in->size, SIZE);
	assert_int_equal(in->sector_size, 512); /* ext4's DIO alignment here */
	assert_int_equal(in->physical_sector_size, 512);
	assert_true(in->mem_align >= 512);
	assert_true(in->can_flush && in->can_discard && in->can_write_zeroes);
	assert_false(in->can_secure_erase);
	assert_false(in->readonly || in->buffered);
	assert_true(in->discard_granularity >= 512);
	assert_true(fd_flags(d) & O_DIRECT);
	assert_false(fd_flags(d) & (O_DSYNC | O_NONBLOCK));
	assert_string_equal(in->engine_name, "io_uring");
	xbd_disk_close(d);
	d = t_open(path, NULL, NULL, &cfg4k);
	assert_int_equal(xbd_disk_get_info(d)->sector_size, 4096);
	assert_int_equal(xbd_disk_get_info(d)->physical_sector_size, 4096);
	xbd_disk_close(d);
	unlink(path);
}

static void test_buffered_and_dsync(void **state)
{
	struct xbd_disk_config cfg = { .format = XBD_FORMAT_RAW, .no_direct = true,
				       .no_flush = true };
	char path[64];
	struct xbd_disk *d;

	(void)state;
	t_make_image(NULL, SIZE, path);
	d = t_open(path, NULL, NULL, &cfg);
	assert_true(xbd_disk_get_info(d)->buffered);
	assert_false(xbd_disk_get_info(d)->can_flush);
	assert_false(fd_flags(d) & O_DIRECT);
	assert_true(fd_flags(d) & O_DSYNC);
	xbd_disk_close(d);
	/* The driver spec: plain "raw" is the default, its options say the same as above. */
	d = t_open(path, NULL, "raw", NULL);
	assert_true(fd_flags(d) & O_DIRECT);
	xbd_disk_close(d);
	d = t_open(path, NULL, "raw:direct=off,flush=off", NULL);
	assert_true(xbd_disk_get_info(d)->buffered);
	assert_false(xbd_disk_get_info(d)->can_flush);
	assert_true(fd_flags(d) & O_DSYNC);
	xbd_disk_close(d);
	d = t_open(path, NULL, "file:direct=on,lock=off", NULL);
	assert_true(fd_flags(d) & O_DIRECT);
	xbd_disk_close(d);
	d = NULL;
	assert_int_equal(t_try_open(path, NULL, "raw:direct=maybe", NULL, &d), -EINVAL);
	assert_int_equal(t_try_open(path, NULL, "raw:size=1G", NULL, &d), -EINVAL);
	assert_null(d);
	unlink(path);
}

static uint64_t allocated(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return (uint64_t)st.st_blocks * 512;
}

/* Fill [0, 64 KiB), then run `op` on [16, 48 KiB) and check that it reads back as zeros and
 * the rest is intact. */
static void zeroing_op(const char *dir, enum xbd_io_op op, bool expect_hole)
{
	char path[64];
	struct xbd_disk *d;
	struct xbd_sq *q;
	unsigned char *buf = t_buf(16 * TBLK), *want = t_buf(16 * TBLK);
	uint64_t before;

	t_make_image(dir, SIZE, path);
	d = t_open(path, NULL, NULL, NULL);
	assert_int_equal(xbd_sq_open(d, 4, &q), 0);
	t_fill(buf, 16 * TBLK, 3);
	assert_int_equal(t_sync(q, XBD_IO_WRITE, 0, buf, 16 * TBLK), 0);
	assert_int_equal(t_sync(q, XBD_IO_FLUSH, 0, NULL, 0), 0);
	before = allocated(path);
	assert_int_equal(t_sync(q, op, 4 * TBLK, NULL, 8 * TBLK), 0);
	if (expect_hole)
		assert_true(allocated(path) + 8 * TBLK <= before);
	memset(buf, 0xff, 16 * TBLK);
	assert_int_equal(t_sync(q, XBD_IO_READ, 0, buf, 16 * TBLK), 0);
	assert_true(t_is_zero(buf + 4 * TBLK, 8 * TBLK));
	t_fill(want, 16 * TBLK, 3);
	assert_memory_equal(buf, want, 4 * TBLK);
	assert_memory_equal(buf + 12 * TBLK, want + 12 * TBLK, 4 * TBLK);
	xbd_sq_close(q);
	xbd_disk_close(d);
	unlink(path);
	free(buf);
	free(want);
}

static void test_discard_punches_hole(void **state)
{
	(void)state;
	zeroing_op(NULL, XBD_IO_DISCARD, true);
}

static void test_write_zeroes(void **state)
{
	(void)state;
	zeroing_op(NULL, XBD_IO_WRITE_ZEROES, false);
	zeroing_op("/dev/shm", XBD_IO_WRITE_ZEROES, false); /* no ZERO_RANGE: writes zeros */
	zeroing_op("/dev/shm", XBD_IO_WRITE_ZEROES, false);
}

static void test_refusals(void **state)
{
	struct xbd_disk_config ro = { .format = XBD_FORMAT_RAW, .readonly = true };
	unsigned char *buf = t_buf(TBLK);
	struct xbd_disk *d = NULL;
	struct xbd_sq *q;
	char path[64];

	(void)state;
	t_make_image(NULL, SIZE, path);
	d = t_open(path, NULL, NULL, &ro);
	assert_true(xbd_disk_get_info(d)->readonly);
	assert_false(xbd_disk_get_info(d)->can_discard);
	assert_int_equal(xbd_sq_open(d, 4, &q), 0);
	assert_int_equal(t_sync(q, XBD_IO_READ, 0, buf, TBLK), 0);
	assert_int_equal(t_sync(q, XBD_IO_WRITE, 0, buf, TBLK), -EROFS);
	assert_int_equal(t_sync(q, XBD_IO_DISCARD, 0, NULL, TBLK), -EROFS);
	assert_int_equal(t_sync(q, XBD_IO_FLUSH, 0, NULL, 0), 0);
	/* Past the end, and secure erase which a file cannot promise. */
	assert_int_equal(t_sync(q, XBD_IO_READ, SIZE, buf, TBLK), -EIO);
	xbd_sq_close(q);
	xbd_disk_close(d);
	d = t_open(path, NULL, NULL, NULL);
	assert_int_equal(xbd_sq_open(d, 4, &q), 0);
	assert_int_equal(t_sync(q, XBD_IO_SECURE_ERASE, 0, NULL, TBLK), -EOPNOTSUPP);
	xbd_sq_close(q);
	xbd_disk_close(d);
	d = NULL;
	assert_int_equal(t_try_open("/var/tmp", NULL, NULL, NULL, &d), -EISDIR);
	assert_int_equal(t_try_open("/dev/null", NULL, NULL, NULL, &d), -EINVAL);
	assert_int_equal(t_try_open("/nonexistent/x", NULL, NULL, NULL, &d), -ENOENT);
	assert_int_equal(t_try_open(path, "nope", NULL, NULL, &d), -EINVAL);
	assert_int_equal(t_try_open(path, NULL, "nope", NULL, &d), -EINVAL);
	assert_null(d);
	unlink(path);
	free(buf);
}

static void test_refresh(void **state)
{
	char path[64];
	struct xbd_disk *d;

	(void)state;
	t_make_image(NULL, SIZE, path);
	d = t_open(path, NULL, NULL, NULL);
	assert_int_equal(truncate(path, 2 * SIZE), 0);
	assert_int_equal(xbd_disk_get_info(d)->size, SIZE);
	assert_int_equal(xbd_disk_refresh(d), 0);
	assert_int_equal(xbd_disk_get_info(d)->size, 2 * SIZE);
	xbd_disk_close(d);
	unlink(path);
}

static void test_options(void **state)
{
	static const char *const known[] = { "size", "on", "name", NULL };
	uint64_t v = 0;
	bool b = false;
	char s[8];

	(void)state;
	assert_int_equal(xbd_opts_check("size=1G,on=yes", known, "t"), 0);
	assert_int_equal(xbd_opts_check("", known, "t"), 0);
	assert_int_equal(xbd_opts_check("bogus=1", known, "t"), -EINVAL);
	assert_int_equal(xbd_opts_check("size", known, "t"), -EINVAL);
	assert_int_equal(xbd_opts_get_u64("size=1G,on=yes", "size", &v), 0);
	assert_int_equal(v, 1ull << 30);
	assert_int_equal(xbd_opts_get_u64("size=4096", "size", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(xbd_opts_get_u64("size=12Q", "size", &v), -EINVAL);
	assert_int_equal(xbd_opts_get_u64("size=-1", "size", &v), -EINVAL);
	assert_int_equal(xbd_opts_get_u64("size=99999999999T", "size", &v), -EINVAL);
	assert_int_equal(xbd_opts_get_u64("on=1", "size", &v), -ENOENT);
	assert_int_equal(xbd_opts_get_bool("size=1,on=off", "on", &b), 0);
	assert_false(b);
	assert_int_equal(xbd_opts_get_bool("on=maybe", "on", &b), -EINVAL);
	assert_int_equal(xbd_opts_get_str("name=abcdefgh", "name", s, sizeof(s)), -EINVAL);
	assert_int_equal(xbd_opts_get_str("name=abc", "name", s, sizeof(s)), 0);
	assert_string_equal(s, "abc");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_geometry_and_features),
		cmocka_unit_test(test_buffered_and_dsync),
		cmocka_unit_test(test_discard_punches_hole),
		cmocka_unit_test(test_write_zeroes),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_refresh),
		cmocka_unit_test(test_options),
	};

	return cmocka_run_group_tests_name("storage_file", tests, NULL, NULL);
}
