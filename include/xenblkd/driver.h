/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Backing drivers: what a virtual disk is stored in. A driver opens the image named by the
 * toolstack and says what it offers (size, sector sizes, read-only, O_DIRECT); the data plane
 * then submits I/O on the driver's file descriptor through an engine. Raw files and block
 * devices are the first driver; image formats come later behind the same interface.
 */
#ifndef XENBLKD_DRIVER_H
#define XENBLKD_DRIVER_H

#include <stdbool.h>
#include <stdint.h>

struct xbd_disk {
	int fd;
	bool readonly;
	bool direct;            /* opened with O_DIRECT */
	bool is_blockdev;
	uint64_t size;          /* bytes */
	uint32_t sector_size;   /* logical: the smallest I/O unit the guest may issue */
	uint32_t physical_sector_size;
	uint32_t mem_align;     /* buffer alignment O_DIRECT needs */
};

/* Open a raw file or block device. `readonly` comes from the toolstack's mode.
 * -EINVAL with a logged reason if O_DIRECT is refused (no buffered fallback yet). */
int xbd_disk_open_raw(struct xbd_disk *d, const char *path, bool readonly, const char *log_prefix);
void xbd_disk_close(struct xbd_disk *d);

#endif
