/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Disk names from device numbers (util/vdev.h): known numbers of each form (xvd in major 202
 * and in the extended form, hd in majors 3 and 22, sd in major 8), partitions, the letters
 * after z, numbers of no form, a buffer too small; and every disk of the xvd forms against
 * letters counted up like an odometer (a..z, aa..), independently of the code's arithmetic.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "util/vdev.h"

static void expect(uint32_t devid, const char *name)
{
	char out[XBD_VDEV_NAME_MAX];

	assert_int_equal(xbd_vdev_name(devid, out, sizeof(out)), 0);
	assert_string_equal(out, name);
}

static void refused(uint32_t devid)
{
	char out[XBD_VDEV_NAME_MAX] = "junk";

	assert_int_equal(xbd_vdev_name(devid, out, sizeof(out)), -EINVAL);
	assert_string_equal(out, "");
}

static void test_xvd(void **state)
{
	(void)state;
	expect(51712, "xvda");      /* 202 << 8 */
	expect(51728, "xvdb");
	expect(51713, "xvda1");
	expect(51727, "xvda15");
	expect(51712 + (15 << 4), "xvdp");
	expect(51712 + (3 << 4) + 9, "xvdd9");
}

static void test_extended(void **state)
{
	(void)state;
	expect(1u << 28, "xvda");
	expect((1u << 28) | (16u << 8), "xvdq");
	expect((1u << 28) | (25u << 8), "xvdz");
	expect((1u << 28) | (26u << 8), "xvdaa");
	expect((1u << 28) | (27u << 8) | 3, "xvdab3");
	expect((1u << 28) | (701u << 8), "xvdzz");
	expect((1u << 28) | (702u << 8), "xvdaaa");
	expect((1u << 28) | (0xfffffu << 8) | 255, "xvdbgqcv255");
}

static void test_hd_sd(void **state)
{
	(void)state;
	expect(3u << 8, "hda");
	expect((3u << 8) | 64, "hdb");
	expect((3u << 8) | 63, "hda63");
	expect(22u << 8, "hdc");
	expect((22u << 8) | 64 | 1, "hdd1");
	expect(8u << 8, "sda");
	expect((8u << 8) | (1u << 4) | 2, "sdb2");
	expect((8u << 8) | (15u << 4), "sdp");
}

static void test_refused(void **state)
{
	(void)state;
	refused(0);
	refused(1);
	refused(201u << 8);
	refused(203u << 8);
	refused((3u << 8) | 128); /* IDE minor 128 and up: no disk */
	refused((22u << 8) | 192);
	refused((202u << 8) + 65536); /* a 202 "major" above 16 bits */
	refused(2u << 28);
	refused((1u << 28) | (1u << 29));
	refused(0xffffffffu);
}

static void test_small_buffer(void **state)
{
	char out[5] = "junk";

	(void)state;
	assert_int_equal(xbd_vdev_name(51712, out, 4), -ENAMETOOLONG);
	assert_string_equal(out, "");
	assert_int_equal(xbd_vdev_name(51712, out, 5), 0);
	assert_string_equal(out, "xvda");
	assert_int_equal(xbd_vdev_name(51712, out, 0), -ENAMETOOLONG);
}

/* a, b, ..., z, aa, ab, ...: add one to the last letter, carrying like an odometer whose
 * digits run a..z and which grows a new 'a' in front when every digit wraps. */
static void next_letters(char *s)
{
	size_t n = strlen(s);

	for (size_t i = n; i-- > 0;) {
		if (s[i] != 'z') {
			s[i]++;
			return;
		}
		s[i] = 'a';
	}
	memmove(s + 1, s, n + 1);
	s[0] = 'a';
}

static void test_every_disk(void **state)
{
	char letters[16] = "a", want[32], out[XBD_VDEV_NAME_MAX];

	(void)state;
	for (uint32_t disk = 0; disk < (1u << 20); disk++) {
		uint32_t part = disk % 256;

		snprintf(want, sizeof(want), part ? "xvd%s%u" : "xvd%s", letters, part);
		assert_int_equal(xbd_vdev_name((1u << 28) | (disk << 8) | part, out, sizeof(out)), 0);
		assert_string_equal(out, want);
		if (disk < 16) {
			snprintf(want, sizeof(want), "xvd%s%u", letters, disk);
			assert_int_equal(xbd_vdev_name((202u << 8) | (disk << 4) | disk, out,
						       sizeof(out)), 0);
			assert_string_equal(out, disk ? want : "xvda");
		}
		next_letters(letters);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xvd),
		cmocka_unit_test(test_extended),
		cmocka_unit_test(test_hd_sd),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_small_buffer),
		cmocka_unit_test(test_every_disk),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
