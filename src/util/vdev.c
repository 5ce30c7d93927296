/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Device numbers to disk names (see vdev.h). Written from the numbering's description in
 * Xen's xen-vbd-interface.7 and Linux's disk lettering.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "vdev.h"

#define XVD_MAJOR 202u
#define HD0_MAJOR 3u  /* hda, hdb */
#define HD1_MAJOR 22u /* hdc, hdd */
#define SD_MAJOR 8u
#define EXTENDED (1u << 28)

struct vdev {
	const char *prefix;
	uint32_t disk, partition;
};

/* Bijective base 26 (a..z, aa..zz, aaa...), most significant letter first. */
static void disk_letters(uint32_t disk, char *out)
{
	char rev[8];
	size_t n = 0;

	for (;;) {
		rev[n++] = (char)('a' + disk % 26);
		if (disk < 26)
			break;
		disk = disk / 26 - 1;
	}
	for (size_t i = 0; i < n; i++)
		out[i] = rev[n - 1 - i];
	out[n] = '\0';
}

static bool decode(uint32_t devid, struct vdev *d)
{
	uint32_t major = devid >> 8, minor = devid & 0xff;

	if ((devid & ~(EXTENDED - 1)) == EXTENDED) {
		*d = (struct vdev){ "xvd", (devid >> 8) & 0xfffff, devid & 0xff };
		return true;
	}
	if (devid >> 16)
		return false;
	if (major == XVD_MAJOR || major == SD_MAJOR) {
		*d = (struct vdev){ major == SD_MAJOR ? "sd" : "xvd", minor >> 4, minor & 15 };
		return true;
	}
	if ((major == HD0_MAJOR || major == HD1_MAJOR) && minor >> 6 <= 1) {
		*d = (struct vdev){ "hd", (major == HD1_MAJOR ? 2u : 0u) + (minor >> 6), minor & 63 };
		return true;
	}
	return false;
}

int xbd_vdev_name(uint32_t devid, char *out, size_t len)
{
	char letters[8];
	struct vdev d;
	int n;

	if (len)
		out[0] = '\0';
	if (!decode(devid, &d))
		return -EINVAL;
	disk_letters(d.disk, letters);
	if (d.partition)
		n = snprintf(out, len, "%s%s%u", d.prefix, letters, (unsigned int)d.partition);
	else
		n = snprintf(out, len, "%s%s", d.prefix, letters);
	if ((size_t)n >= len) {
		if (len)
			out[0] = '\0';
		return -ENAMETOOLONG;
	}
	return 0;
}
