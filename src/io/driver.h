/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Backing drivers: what a virtual disk is stored in (a raw file or block device, an image
 * format, or test drivers). A driver is a small vtable in the style of nbdkit's plugins; the
 * storage queue (storage.c) calls it and owns completion delivery. Drivers see the disk and
 * queue structures defined here; the data plane never does (it uses storage.h only). The
 * contracts, with durability and locking, are written out in docs/storage.md.
 */
#ifndef XENBLKD_DRIVER_H
#define XENBLKD_DRIVER_H

#include <sys/stat.h>

#include "io.h"
#include "xenblkd/storage.h"

/*
 * How the storage queue cuts a DISCARD, SECURE_ERASE or WRITE_ZEROES for a driver's range_step
 * (range.c): into chunks of `cur` bytes, a power of two adapted between min and max from the
 * time each call took, ending at multiples of `cur` so a chunk boundary never splits a discard
 * granule. max 0: the driver bounds each call itself and is handed the whole remainder.
 */
struct xbd_range_chunk {
	uint64_t min, max, cur;
};

#define XBD_RANGE_KINDS 3

/* Index into range_chunk[] for DISCARD, SECURE_ERASE, WRITE_ZEROES; -1 for other ops. */
static inline int xbd_range_kind(enum xbd_io_op op)
{
	return op == XBD_IO_DISCARD ? 0 : op == XBD_IO_SECURE_ERASE ? 1 :
	       op == XBD_IO_WRITE_ZEROES ? 2 : -1;
}

struct xbd_disk {
	struct xbd_disk_config cfg;   /* path, engine and driver strings owned by the disk */
	struct xbd_disk_info info;    /* filled by the driver's open */
	const struct xbd_driver_ops *drv;
	const struct xbd_engine_ops *engine; /* chosen at open, after the driver's open */
	const struct xbd_filter_ops *filter; /* stacked on the engine, or NULL */
	void *filter_state;
	const char *opts;             /* the driver's options: the spec after "name:", or "" */
	const char *filter_opts;      /* the filter's, when the spec names a filter */
	int fd;                       /* for drivers on a file descriptor, else -1 */
	bool fd_direct;               /* fd has O_DIRECT (set by storage.c after open) */
	unsigned int extra_depth;     /* engine slots a driver wants for its own I/Os */
	/* A driver with range_step: where each queue's chunk sizes start (set at open). */
	struct xbd_range_chunk range_chunk[XBD_RANGE_KINDS];
	void *priv;                   /* the driver's */
	char log_prefix[48];
};

struct xbd_sq {
	struct xbd_disk *disk;
	struct xbd_engine *eng;       /* on disk->fd; NULL for drivers without a descriptor */
	const struct xbd_engine_ops *eng_ops; /* the filter's engine, or the disk's */
	unsigned int depth;           /* as given to xbd_sq_open() */
	void *priv;                   /* the driver's per-queue state */
	unsigned int inflight;        /* caller I/Os accepted and not yet completed */
	struct xbd_io *soft_head;     /* completions waiting for the next wait() */
	struct xbd_io **soft_tail;
	uint64_t soft_completions;
	/* DISCARD, SECURE_ERASE, WRITE_ZEROES waiting for range_step, oldest first (range.c). */
	struct xbd_io *range_head;
	struct xbd_io **range_tail;
	uint64_t range_done;          /* bytes of range_head's range done so far */
	bool ranges_stopped;          /* xbd_sq_stop_ranges(): abandon what is left */
	struct xbd_range_chunk range_chunk[XBD_RANGE_KINDS]; /* this queue's, adapted */
};

/*
 * struct xbd_io.storage_private, while an I/O is inside the storage layer: caller_mark,
 * soft_result and soft_next are storage.c's, range_next range.c's; `driver` is the driver's, for its own per-I/O
 * state; `filter` is a filter's. A driver that builds I/Os of its own (metadata reads of an
 * image format) builds them fresh with a designated initialiser, never by copying a caller's
 * I/O, so they carry no mark.
 */

struct xbd_driver_ops {
	const char *name;
	/* Required. Control thread. Open d->cfg.path, fill d->info (and d->fd if any). */
	int (*open)(struct xbd_disk *d);
	/* Required. Control thread, after every queue is closed. */
	void (*close)(struct xbd_disk *d);
	/* Optional. Control thread. Re-read the size into d->info.size. */
	int (*refresh)(struct xbd_disk *d);
	/* Optional. Data thread. Per-queue state in q->priv. */
	int (*queue_open)(struct xbd_sq *q);
	void (*queue_close)(struct xbd_sq *q);
	/*
	 * Required. Data thread. Start one I/O. It completes later through xbd_sq_complete() or
	 * through the engine (xbd_sq_engine_queue()). A negative return means the I/O was not
	 * accepted; the queue then completes it with that error.
	 */
	int (*submit)(struct xbd_sq *q, struct xbd_io *io);
	/*
	 * Optional. Data thread. One bounded part of a DISCARD, SECURE_ERASE or WRITE_ZEROES `io`:
	 * the range [off, off + len) from its start, done synchronously. Returns the bytes done
	 * (at least one sector, at most len: a driver that bounds its own work may stop short) or
	 * -errno (-EOPNOTSUPP for an op it does not do). With it, the storage queue never hands
	 * these ops to submit: it calls range_step again for the rest in later waits, so other
	 * requests and a stop interleave, and cuts len by d->range_chunk. One call should take
	 * well under a second on a slow store: nothing can interrupt it.
	 */
	int64_t (*range_step)(struct xbd_sq *q, const struct xbd_io *io, uint64_t off,
			      uint64_t len);
	/*
	 * Optional. Data thread. For drivers whose completions arrive on a descriptor of their
	 * own (network storage): the fd this queue's wait must also watch and the poll events it
	 * wants now (POLLIN, POLLOUT), or -1 for none.
	 */
	int (*wait_fd)(struct xbd_sq *q, short *events);
	/* Optional. Data thread. The wait saw wait_fd ready: make progress, complete I/Os. */
	void (*fd_ready)(struct xbd_sq *q, short revents);
};

/* "raw" picks file or blockdev by the path's type at open (and replaces itself in d->drv). */
extern const struct xbd_driver_ops xbd_driver_raw;
extern const struct xbd_driver_ops xbd_driver_file;
extern const struct xbd_driver_ops xbd_driver_blockdev;
extern const struct xbd_driver_ops xbd_driver_null;
extern const struct xbd_driver_ops xbd_driver_memory;
extern const struct xbd_driver_ops xbd_driver_qcow2;
extern const struct xbd_driver_ops xbd_driver_nbd; /* builds with libnbd (src/io/nbd/) */
/* Only in builds with librbd (XBD_HAVE_RBD). */
extern const struct xbd_driver_ops xbd_driver_rbd;

/* Complete `io` with res (0 / -errno) at the next xbd_sq_wait(), never from inside submit. */
void xbd_sq_complete(struct xbd_sq *q, struct xbd_io *io, int res);
/* Hand a READ, WRITE or FLUSH of disk->fd to the queue's engine. 0 or -errno (-EBUSY: full). */
int xbd_sq_engine_queue(struct xbd_sq *q, struct xbd_io *io);

/*
 * For drivers on image files (image_fd.c). Open `path` the way d->cfg asks: O_DIRECT unless
 * cfg.no_direct (and without it, logged, when the file system refuses it), O_DSYNC when
 * cfg.no_flush, O_EXCL on a writable block device; refuse anything but a regular file or a
 * block device; then the image lock (exclusive when writable, shared when read-only) unless
 * cfg.no_lock. *direct tells whether O_DIRECT is on. 0 or -errno, logged; -EBUSY when
 * another program holds a conflicting lock or claim.
 */
int xbd_image_open(struct xbd_disk *d, const char *path, bool readonly, int *fd, bool *direct);
/* Driver options of image drivers: direct=off, flush=off, lock=off set cfg.no_direct,
 * no_flush, no_lock (on leaves the configuration alone). 0 or -EINVAL, logged. */
int xbd_image_apply_opts(struct xbd_disk *d);
/* The image lock alone (lock.c), compatible with QEMU's; released when fd is closed. */
int xbd_image_lock(int fd, bool readonly, const char *path, const char *log_prefix);
/* Drop the locks fd holds and take them again for `readonly`. */
int xbd_image_relock(int fd, bool readonly, const char *path, const char *log_prefix);

/*
 * Opening an image without side effects (image_path.c): resolve with O_PATH only, check the
 * type with fstat, then open that inode through /proc/self/fd/N. xbd_path_open: the O_PATH
 * descriptor of `name` relative to dirfd (AT_FDCWD, or a directory), following symlinks; with
 * `beneath`, by openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS), so nothing outside dirfd is
 * reached (-EXDEV, -ELOOP; -ENOSYS before Linux 5.6). xbd_path_check_type: 0 for a regular
 * file (or a block device when block_ok), -EISDIR for a directory, -EINVAL for anything
 * else, with *st filled either way (xbd_file_type_name says what it is). xbd_path_reopen: a
 * new descriptor with `flags` (O_RDONLY, O_RDWR, O_DIRECT...) on the O_PATH descriptor's
 * inode, or -errno (-ENOENT without /proc).
 */
int xbd_path_open(int dirfd, const char *name, bool beneath);
int xbd_path_check_type(int pathfd, bool block_ok, struct stat *st);
int xbd_path_reopen(int pathfd, int flags);
const char *xbd_file_type_name(mode_t mode);

/*
 * Driver options, "key=value,key=value" (spec.c). xbd_opts_check: -EINVAL (logged) for a key
 * not in the NULL-terminated `known`. The getters: 0, -ENOENT when absent, -EINVAL when
 * malformed. Sizes take K, M, G, T suffixes (powers of 1024); booleans on/off, yes/no, 1/0.
 */
int xbd_opts_check(const char *opts, const char *const *known, const char *log_prefix);
int xbd_opts_get_str(const char *opts, const char *key, char *buf, size_t len);
int xbd_opts_get_u64(const char *opts, const char *key, uint64_t *val);
int xbd_opts_get_bool(const char *opts, const char *key, bool *val);

/* A driver's close left work with a library's own threads (storage.c): the process must end
 * without exit()'s teardown (xbd_storage_exit_must_skip_teardown). Any thread. */
void xbd_storage_note_abandoned_work(void);

#endif
