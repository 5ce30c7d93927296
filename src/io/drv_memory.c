/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The memory driver: a disk held in the daemon's own anonymous memory, for tests that verify
 * data without a file and for measuring the daemon without storage. Spec: "memory" or
 * "memory:size=SIZE" (default 256 MiB), "sector=512|4096". The mapping is MAP_NORESERVE and
 * starts as zeros, so only written blocks cost memory; discard gives whole pages back (in
 * chunks the storage queue sizes, range_step: a disk may be 64 TiB). Every I/O completes in
 * software at the next wait; flush has nothing to do. Its contents live as long as the disk
 * is open.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "driver.h"
#include "xenblkd/log.h"

#define MEMORY_DEFAULT_SIZE (256ull << 20)
#define MIB (1ull << 20)

static const char *const memory_keys[] = { "size", "sector", NULL };

struct memory {
	unsigned char *base;
};

static int memory_geometry(struct xbd_disk *d)
{
	uint64_t size = MEMORY_DEFAULT_SIZE, sector = d->cfg.sector_size ? d->cfg.sector_size : 512;
	int r = xbd_opts_check(d->opts, memory_keys, d->log_prefix);

	if (!r && xbd_opts_get_u64(d->opts, "size", &size) == -EINVAL)
		r = -EINVAL;
	if (!r && xbd_opts_get_u64(d->opts, "sector", &sector) == -EINVAL)
		r = -EINVAL;
	if (!r && ((sector != 512 && sector != 4096) || size == 0 || size % sector ||
		   size > (1ull << 46))) {
		xbd_err(d->log_prefix, "memory: size %llu and sector %llu do not fit",
			(unsigned long long)size, (unsigned long long)sector);
		r = -EINVAL;
	}
	if (r)
		return r;
	d->info = (struct xbd_disk_info){
		.size = size,
		.sector_size = (uint32_t)sector,
		.physical_sector_size = (uint32_t)sector,
		.mem_align = 512,
		.readonly = d->cfg.readonly,
		.can_flush = true,
		.can_discard = !d->cfg.readonly,
		.can_secure_erase = !d->cfg.readonly, /* zeroing our own memory really erases */
		.can_write_zeroes = !d->cfg.readonly,
		.discard_granularity = (uint32_t)sector,
	};
	for (unsigned int k = 0; k < XBD_RANGE_KINDS; k++)
		d->range_chunk[k] = (struct xbd_range_chunk){ .min = MIB, .max = 1024 * MIB,
							      .cur = 64 * MIB };
	return 0;
}

static int memory_open(struct xbd_disk *d)
{
	struct memory *m;
	int r = memory_geometry(d);

	if (r)
		return r;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->base = mmap(NULL, d->info.size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m->base == MAP_FAILED) {
		r = -errno;
		free(m);
		xbd_err(d->log_prefix, "memory: cannot map %llu bytes: %s",
			(unsigned long long)d->info.size, strerror(-r));
		return r;
	}
	d->priv = m;
	return 0;
}

static void memory_close(struct xbd_disk *d)
{
	struct memory *m = d->priv;

	if (!m)
		return;
	munmap(m->base, d->info.size);
	free(m);
	d->priv = NULL;
}

static void copy_iov(struct memory *m, const struct xbd_io *io, bool to_disk)
{
	unsigned char *p = m->base + io->offset;

	for (unsigned int i = 0; i < io->niov; i++) {
		if (to_disk)
			memcpy(p, io->iov[i].iov_base, io->iov[i].iov_len);
		else
			memcpy(io->iov[i].iov_base, p, io->iov[i].iov_len);
		p += io->iov[i].iov_len;
	}
}

/* Zero a range, giving whole pages of this host back to the kernel (they read as zeros
 * again). */
static void zero_range(struct memory *m, uint64_t off, uint64_t len)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t first = (off + page - 1) & ~(page - 1);
	uint64_t last = (off + len) & ~(page - 1);

	if (last <= first || madvise(m->base + first, last - first, MADV_DONTNEED) < 0) {
		memset(m->base + off, 0, len);
		return;
	}
	memset(m->base + off, 0, first - off);
	memset(m->base + last, 0, off + len - last);
}

static bool iov_fits(const struct xbd_io *io, uint64_t size)
{
	uint64_t total = 0;

	for (unsigned int i = 0; i < io->niov; i++)
		total += io->iov[i].iov_len;
	return total == io->len && io->len <= size && io->offset <= size - io->len;
}

static int memory_submit(struct xbd_sq *q, struct xbd_io *io)
{
	struct memory *m = q->disk->priv;

	if (io->op != XBD_IO_FLUSH && (io->len > q->disk->info.size ||
				       io->offset > q->disk->info.size - io->len))
		return -EIO;
	switch (io->op) {
	case XBD_IO_READ:
	case XBD_IO_WRITE:
		if (!iov_fits(io, q->disk->info.size))
			return -EINVAL;
		copy_iov(m, io, io->op == XBD_IO_WRITE);
		break;
	case XBD_IO_FLUSH:
		break;
	default:
		return -EOPNOTSUPP;
	}
	xbd_sq_complete(q, io, 0);
	return 0;
}

/* Discard, secure erase, write-zeroes: all zero the range (the queue checked it). */
static int64_t memory_range_step(struct xbd_sq *q, const struct xbd_io *io, uint64_t off,
				 uint64_t len)
{
	(void)io;
	zero_range(q->disk->priv, off, len);
	return (int64_t)len;
}

const struct xbd_driver_ops xbd_driver_memory = {
	.name = "memory",
	.open = memory_open,
	.close = memory_close,
	.submit = memory_submit,
	.range_step = memory_range_step,
};
