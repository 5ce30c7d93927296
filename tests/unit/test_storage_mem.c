/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The null and memory drivers: their specs (size, sector, bad options), that they run without
 * an engine (engine "none", completions at the next wait, wake fds polled directly), that the
 * memory driver keeps data and zeroes discarded ranges, and that null reads zeros whatever was
 * written. Also that a filter refuses a driver without a descriptor.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <cmocka.h>

#include "test_storage_util.h"
#include "xenblkd/storage.h"

static struct xbd_disk *open_spec(const char *spec)
{
	return t_open(NULL, NULL, spec, NULL);
}

static void test_specs(void **state)
{
	struct xbd_disk_config ro = { .readonly = true };
	struct xbd_disk *d = NULL;

	(void)state;
	d = open_spec("memory");
	assert_int_equal(xbd_disk_get_info(d)->size, 256u << 20);
	assert_int_equal(xbd_disk_get_info(d)->sector_size, 512);
	assert_string_equal(xbd_disk_get_info(d)->engine_name, "none");
	xbd_disk_close(d);
	d = open_spec("memory:size=8M,sector=4096");
	assert_int_equal(xbd_disk_get_info(d)->size, 8u << 20);
	assert_int_equal(xbd_disk_get_info(d)->sector_size, 4096);
	assert_true(xbd_disk_get_info(d)->can_secure_erase);
	xbd_disk_close(d);
	d = open_spec("null:size=1T");
	assert_int_equal(xbd_disk_get_info(d)->size, 1ull << 40);
	assert_true(xbd_disk_get_info(d)->can_flush);
	xbd_disk_close(d);
	d = t_open(NULL, NULL, "null", &ro);
	assert_true(xbd_disk_get_info(d)->readonly);
	assert_false(xbd_disk_get_info(d)->can_discard);
	xbd_disk_close(d);
	d = NULL;
	assert_int_equal(t_try_open(NULL, NULL, "memory:size=3", NULL, &d), -EINVAL);
	assert_int_equal(t_try_open(NULL, NULL, "memory:sector=1024", NULL, &d), -EINVAL);
	assert_int_equal(t_try_open(NULL, NULL, "memory:colour=blue", NULL, &d), -EINVAL);
	assert_int_equal(t_try_open(NULL, NULL, "null:size=0", NULL, &d), -EINVAL);
	assert_int_equal(t_try_open(NULL, NULL, "memory:size=", NULL, &d), -EINVAL);
	assert_null(d);
}

static void test_memory_keeps_data(void **state)
{
	struct xbd_disk *d = open_spec("memory:size=1M");
	unsigned char *buf = t_buf(16 * TBLK), *want = t_buf(4 * TBLK);
	struct tio t[4];
	struct xbd_sq *q;

	(void)state;
	assert_int_equal(xbd_sq_open(d, 8, &q), 0);
	for (unsigned int i = 0; i < 4; i++) {
		t_fill(buf + i * 4 * TBLK, 4 * TBLK, i);
		t_io(&t[i], XBD_IO_WRITE, (uint64_t)i * 4 * TBLK, buf + i * 4 * TBLK, 4 * TBLK);
		assert_int_equal(t_queue(q, &t[i]), 0);
		assert_false(t[i].done); /* never inside the queue call */
	}
	assert_int_equal(xbd_sq_inflight(q), 4);
	t_run(q, t, 4);
	memset(buf, 0, 16 * TBLK);
	assert_int_equal(t_sync(q, XBD_IO_READ, 0, buf, 16 * TBLK), 0);
	for (unsigned int i = 0; i < 4; i++)
		assert_true(t_check(buf + i * 4 * TBLK, 4 * TBLK, i));
	/* Discard (page aligned and not), write-zeroes, secure erase: zeros. */
	assert_int_equal(t_sync(q, XBD_IO_DISCARD, 512, NULL, 3 * TBLK), 0);
	assert_int_equal(t_sync(q, XBD_IO_WRITE_ZEROES, 8 * TBLK, NULL, TBLK), 0);
	assert_int_equal(t_sync(q, XBD_IO_SECURE_ERASE, 12 * TBLK, NULL, 1024), 0);
	assert_int_equal(t_sync(q, XBD_IO_FLUSH, 0, NULL, 0), 0);
	assert_int_equal(t_sync(q, XBD_IO_READ, 0, buf, 16 * TBLK), 0);
	assert_true(t_check(buf, 512, 0));
	assert_true(t_is_zero(buf + 512, 3 * TBLK));
	assert_true(t_is_zero(buf + 8 * TBLK, TBLK));
	assert_true(t_is_zero(buf + 12 * TBLK, 1024));
	t_fill(want, 4 * TBLK, 3);
	assert_memory_equal(buf + 12 * TBLK + 1024, want + 1024, 4 * TBLK - 1024);
	/* Past the end. */
	assert_int_equal(t_sync(q, XBD_IO_READ, (1u << 20) - TBLK, buf, 2 * TBLK), -EIO);
	assert_int_equal(xbd_sq_inflight(q), 0);
	xbd_sq_close(q);
	xbd_disk_close(d);
	free(buf);
	free(want);
}

static void test_null_forgets(void **state)
{
	struct xbd_disk *d = open_spec("null");
	unsigned char *buf = t_buf(TBLK);
	struct xbd_sq_stats st;
	struct xbd_sq *q;

	(void)state;
	assert_int_equal(xbd_sq_open(d, 8, &q), 0);
	t_fill(buf, TBLK, 1);
	assert_int_equal(t_sync(q, XBD_IO_WRITE, 0, buf, TBLK), 0);
	assert_int_equal(t_sync(q, XBD_IO_READ, 0, buf, TBLK), 0);
	assert_true(t_is_zero(buf, TBLK));
	xbd_sq_get_stats(q, &st);
	assert_int_equal(st.ios, 2);
	assert_int_equal(st.syscalls, 0);
	assert_string_equal(st.engine_features, "none");
	assert_int_equal(xbd_sq_register_buffers(q, NULL, 0), -EOPNOTSUPP);
	xbd_sq_close(q);
	xbd_disk_close(d);
	free(buf);
}

/* Without an engine the queue polls the wake fds itself. */
static void test_wake_fds_without_engine(void **state)
{
	struct xbd_disk *d = open_spec("memory:size=64K");
	int efd = eventfd(0, EFD_NONBLOCK);
	unsigned char *buf = t_buf(TBLK);
	unsigned int ready = 0;
	struct xbd_sq *q;
	struct tio t;

	(void)state;
	assert_int_equal(xbd_sq_open(d, 2, &q), 0);
	assert_int_equal(xbd_sq_wait(q, &efd, 1, &ready, true, 20), 0);
	assert_int_equal(ready, 0);
	assert_int_equal(eventfd_write(efd, 1), 0);
	assert_int_equal(xbd_sq_wait(q, &efd, 1, &ready, true, 1000), 0);
	assert_int_equal(ready, 1);
	/* A pending completion makes a blocking wait return at once. */
	t_io(&t, XBD_IO_READ, 0, buf, TBLK);
	assert_int_equal(t_queue(q, &t), 0);
	assert_int_equal(xbd_sq_wait(q, NULL, 0, &ready, true, 10000), 1);
	assert_true(t.done);
	xbd_sq_close(q);
	xbd_disk_close(d);
	close(efd);
	free(buf);
}

static void test_filter_needs_a_file(void **state)
{
	struct xbd_disk *d = NULL;

	(void)state;
	/* A filter stacks on the image driver of the format, which needs a path... */
	assert_int_equal(t_try_open(NULL, NULL, "fault", NULL, &d), -EINVAL);
	assert_int_equal(t_try_open(NULL, NULL, "powercut:max-bytes=1M", NULL, &d), -EINVAL);
	assert_null(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_specs),
		cmocka_unit_test(test_memory_keeps_data),
		cmocka_unit_test(test_null_forgets),
		cmocka_unit_test(test_wake_fds_without_engine),
		cmocka_unit_test(test_filter_needs_a_file),
	};

	return cmocka_run_group_tests_name("storage_mem", tests, NULL, NULL);
}
