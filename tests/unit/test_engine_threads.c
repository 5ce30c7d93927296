/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The threads engine: the tests every engine passes (test_engine_suite.c), a buffered file
 * (what it is for), and the number of workers it starts.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "test_engine_suite.h"
#include "test_storage_util.h"
#include "io/io.h"

static void run_buffered(unsigned int workers, const char *expect)
{
	struct xbd_disk_config cfg = { .format = XBD_FORMAT_RAW, .no_direct = true,
				       .io_threads = workers };
	unsigned char *buf = t_buf(64 * TBLK);
	struct xbd_sq_stats st;
	struct tio t[16];
	struct xbd_disk *d;
	struct xbd_sq *q;
	char path[64];

	t_make_image("/dev/shm", 1 << 20, path);
	d = t_open(path, "threads", NULL, &cfg);
	assert_true(xbd_disk_get_info(d)->buffered);
	assert_int_equal(xbd_sq_open(d, 16, &q), 0);
	for (unsigned int i = 0; i < 16; i++) {
		t_fill(buf + i * 4 * TBLK, 4 * TBLK, i);
		t_io(&t[i], XBD_IO_WRITE, (uint64_t)i * 4 * TBLK, buf + i * 4 * TBLK, 4 * TBLK);
		assert_int_equal(t_queue(q, &t[i]), 0);
	}
	t_run(q, t, 16);
	assert_int_equal(t_sync(q, XBD_IO_FLUSH, 0, NULL, 0), 0);
	memset(buf, 0, 64 * TBLK);
	assert_int_equal(t_sync(q, XBD_IO_READ, 0, buf, 64 * TBLK), 0);
	for (unsigned int i = 0; i < 16; i++)
		assert_true(t_check(buf + i * 4 * TBLK, 4 * TBLK, i));
	xbd_sq_get_stats(q, &st);
	assert_string_equal(st.engine_features, expect);
	xbd_sq_close(q);
	xbd_disk_close(d);
	unlink(path);
	free(buf);
}

static void test_buffered_workers(void **state)
{
	(void)state;
	run_buffered(0, "threads: 4 workers");
	run_buffered(1, "threads: 1 workers");
	run_buffered(64, "threads: 16 workers"); /* never more than the depth */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buffered_workers),
	};

	return engine_suite_run("threads", 1, tests, sizeof(tests) / sizeof(tests[0]));
}
