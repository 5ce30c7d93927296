/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The libaio engine: the tests every engine passes (test_engine_suite.c), and its refusal of
 * a descriptor without O_DIRECT, on which io_submit would quietly block the data thread. Skips
 * when the build has no libaio.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>
#include <cmocka.h>

#include "test_engine_suite.h"
#include "test_storage_util.h"
#include "io/io.h"

static void test_refuses_buffered(void **state)
{
	struct xbd_disk_config cfg = { .format = XBD_FORMAT_RAW, .no_direct = true };
	struct xbd_disk *d = NULL;
	char path[64];

	(void)state;
	t_make_image(NULL, 1 << 20, path);
	assert_int_equal(t_try_open(path, "libaio", NULL, &cfg, &d), -EINVAL);
	assert_null(d);
	/* The default engine is not libaio's problem: it runs io_uring there. */
	d = t_open(path, NULL, NULL, &cfg);
	assert_true(xbd_disk_get_info(d)->buffered);
	xbd_disk_close(d);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refuses_buffered),
	};

	return engine_suite_run("libaio", 0, tests, sizeof(tests) / sizeof(tests[0]));
}
