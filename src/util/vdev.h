/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A virtual disk's device number (the <devid> of its backend path, which the toolstack also
 * writes as the frontend's `virtual-device`) to the name an administrator gives the disk
 * (xvda, hdc, sdb2), as libxl numbers disks (docs/man/xen-vbd-interface.7 in Xen):
 *   xvd: 202 << 8 | disk << 4 | partition      (disk 0..15, partition 0..15)
 *        1 << 28 | disk << 8 | partition       (the extended form: disk 0..2^20-1, partition
 *                                               0..255)
 *   hd:  3 << 8 (hda, hdb) or 22 << 8 (hdc, hdd) | (disk & 1) << 6 | partition (0..63)
 *   sd:  8 << 8 | disk << 4 | partition        (disk 0..15, partition 0..15)
 * Disks are lettered the way Linux names them: a..z, then aa..zz, aaa... A partition number,
 * when not 0, follows the letters. xenblkctl shows and accepts these names (DOMAIN:xvda).
 */
#ifndef XENBLKD_UTIL_VDEV_H
#define XENBLKD_UTIL_VDEV_H

#include <stddef.h>
#include <stdint.h>

/* Longest name: "xvd" + 5 letters (disk < 2^20) + "255" + NUL. */
#define XBD_VDEV_NAME_MAX 16

/* The name of `devid`. 0, or -EINVAL for a number that is none of the forms above (out is
 * then ""), -ENAMETOOLONG when out is too small. */
int xbd_vdev_name(uint32_t devid, char *out, size_t len);

#endif
