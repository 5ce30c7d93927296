/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unit tests of xbd_status_from_errno(): the only mapping from 0 / -errno to the status a guest
 * reads in a blkif response.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "xenblkd/blkif_abi.h"
#include "xenblkd/status.h"

static const struct {
	int err;
	int16_t status;
} status_cases[] = {
	{ 0, BLKIF_RSP_OKAY },
	{ -EOPNOTSUPP, BLKIF_RSP_EOPNOTSUPP },
	{ -ENOTSUP, BLKIF_RSP_EOPNOTSUPP }, /* the same value on Linux */
	{ -EIO, BLKIF_RSP_ERROR },
	{ -EINVAL, BLKIF_RSP_ERROR },
	{ -EROFS, BLKIF_RSP_ERROR },
	{ -ENOSPC, BLKIF_RSP_ERROR },
	{ -ENOMEM, BLKIF_RSP_ERROR },
	{ -EPROTO, BLKIF_RSP_ERROR },
	{ -EAGAIN, BLKIF_RSP_ERROR },
	{ EOPNOTSUPP, BLKIF_RSP_ERROR }, /* a positive errno is a caller bug: still an error */
	{ 1, BLKIF_RSP_ERROR },
	{ -4095, BLKIF_RSP_ERROR },
};

static void test_status_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(status_cases) / sizeof(status_cases[0]); i++) {
		int16_t got = xbd_status_from_errno(status_cases[i].err);

		if (got != status_cases[i].status)
			fail_msg("errno %d: status %d, want %d", status_cases[i].err, got,
				 status_cases[i].status);
	}
}

static void test_status_values_are_blkif(void **state)
{
	(void)state;
	/* The wire values of blkif.h, which a guest compares against. */
	assert_int_equal(BLKIF_RSP_OKAY, 0);
	assert_int_equal(BLKIF_RSP_ERROR, -1);
	assert_int_equal(BLKIF_RSP_EOPNOTSUPP, -2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_table),
		cmocka_unit_test(test_status_values_are_blkif),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
