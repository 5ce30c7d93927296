/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The storage plane as the data plane sees it: a disk (opened once, on the control thread) and,
 * per data thread, a storage queue onto that disk. The queue takes I/Os without a syscall,
 * submits them in one batch, and completes them from xbd_sq_wait() on its own thread, which
 * also waits for the caller's wake-up fds (the event channel) so one wait covers both.
 * Everything below this header (drivers, engines) lives in src/io/ and may change freely.
 * Conventions: 0 / -errno. A completion reports 0 or -errno: a short transfer is -EIO (on a
 * buffered descriptor the rest is done first). docs/storage.md has the durability rules.
 */
#ifndef XENBLKD_STORAGE_H
#define XENBLKD_STORAGE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

/* An image's format. Chosen by the toolstack (the `params` prefix), never by the image's
 * bytes, which a guest controls. */
enum xbd_format {
	XBD_FORMAT_RAW,
	XBD_FORMAT_QCOW2,
	XBD_FORMAT_NBD,   /* not a format: an NBD export; the path is the whole target */
	XBD_FORMAT_RBD,   /* a Ceph RBD image: the "path" is the rbd target, not a file */
};

/* One backing file of a configured qcow2 chain: the administrator's format and path. */
struct xbd_backing_file {
	enum xbd_format format;
	const char *path;
};

#define XBD_MAX_BACKING_CHAIN 16 /* backing files below the top image */

enum xbd_io_op {
	XBD_IO_READ,
	XBD_IO_WRITE,
	XBD_IO_FLUSH,        /* every write completed before it is durable when it completes */
	XBD_IO_DISCARD,      /* the range may read back as anything (files: zeros) */
	XBD_IO_SECURE_ERASE, /* discard that really erases (BLKSECDISCARD) */
	XBD_IO_WRITE_ZEROES,
};

#define XBD_IO_FUA (1u << 0) /* WRITE: durable when it completes */

struct xbd_io;

/* The storage layer's bookkeeping while an I/O is inside it: src/io/ owns every field, the
 * caller never touches any (src/io/driver.h says who uses which). */
struct xbd_io_private {
	uint32_t caller_mark;      /* a caller's I/O, between xbd_sq_queue() and its completion */
	int32_t soft_result;       /* a software completion's result, until it is delivered */
	struct xbd_io *soft_next;  /* the queue's FIFO of software completions */
	struct xbd_io *range_next; /* the queue's FIFO of ranges done in steps (range.c) */
	uint64_t driver;           /* the driver's own per-I/O word */
	uint64_t filter;           /* a filter's own per-I/O word */
};

struct xbd_io {
	enum xbd_io_op op;
	uint32_t flags;
	uint64_t offset;   /* bytes; sector_size aligned */
	uint64_t len;      /* bytes; sector_size aligned; 0 for FLUSH */
	struct iovec *iov; /* READ/WRITE: buffers totalling len, each aligned to mem_align */
	unsigned int niov;
	void (*done)(struct xbd_io *io, int res);
	struct xbd_io_private storage_private; /* the caller never touches it */
};

struct xbd_disk_config {
	const char *path;
	enum xbd_format format;
	bool readonly;
	const char *engine;       /* "io_uring" (default), "libaio", "threads"; NULL: default */
	const char *driver;       /* NULL: from format; else "name[:key=value,...]" (storage.md) */
	uint32_t sector_size;     /* 0: from the backing store; 4096 forces 4K on a file */
	const char *log_prefix;
	/* qcow2 backing files are followed only as configured (docs/images.md), either as the
	 * exact chain (the top image's backing file first; the format of each comes from here)
	 * or through allowed directories (NULL-terminated; never derived from the image's own
	 * location), with the format given by backing_dir_format (when has_backing_dir_format),
	 * or by the header's backing-format extension when backing_trust_header_format; raw
	 * backing files found through a directory need backing_raw_ok. Neither: refused. */
	const struct xbd_backing_file *backing_chain;
	unsigned int backing_chain_len;
	const char *const *backing_dirs;
	bool has_backing_dir_format;
	enum xbd_format backing_dir_format;
	bool backing_trust_header_format;
	bool backing_raw_ok;
	uint64_t l2_cache_bytes;  /* qcow2 L2 cache in bytes (0: the default) */
	/* How the store is used (docs/storage.md); the zero value of each is the default. */
	bool no_direct;           /* through dom0's page cache, as when O_DIRECT is refused */
	bool no_flush;            /* offer no FLUSH: every write is O_DSYNC, durable when done */
	bool no_lock;             /* take no image lock (something else arbitrates access) */
	/* Image formats (qcow2) write the metadata a request changed (L2, L1) to the file before
	 * the request completes, so a crash of the process loses no completed write: what a VBD
	 * that resumes needs (docs/restart.md). Off: written back at a flush or eviction. */
	bool meta_write_through;
	bool sqpoll;              /* io_uring: a kernel thread polls the submission queue */
	unsigned int io_threads;  /* threads engine: workers per storage queue; 0: 4 */
	/* Where a driver keeps per-VBD state across restarts (the rbd driver's lock owner):
	 * the daemon's run directory and the VBD's backend path; NULL when there is none. */
	const char *run_dir;
	const char *backend_path;
};

/* May `dir` be an allowed qcow2 backing directory? 0; -EPERM for one that never may (it is
 * or resolves to /, /dev or /run, or lies in /proc or /sys); -errno if it cannot be resolved. */
int xbd_qcow2_backing_dir_check(const char *dir);

struct xbd_disk_info {
	uint64_t size;               /* bytes */
	uint32_t sector_size;        /* logical */
	uint32_t physical_sector_size;
	uint32_t mem_align;          /* buffer alignment the store needs */
	bool readonly;
	bool can_flush;              /* FLUSH means something and works */
	bool can_discard;
	bool can_secure_erase;
	bool can_write_zeroes;
	uint32_t discard_granularity; /* bytes */
	uint32_t discard_alignment;   /* bytes */
	const char *engine_name;     /* the engine that actually runs, after any fallback */
	bool buffered;               /* served through dom0's page cache (no O_DIRECT) */
	uint32_t max_queues;         /* the most queues it serves consistently; 0: any */
};

/* Counters of one storage queue, for statistics and benchmarks. */
struct xbd_sq_stats {
	uint64_t ios;              /* I/Os completed, by the engine or in software */
	uint64_t syscalls;         /* system calls the engine made to submit and wait */
	uint64_t fixed_buffer_ios; /* I/Os done from registered buffers */
	uint64_t poll_arms;        /* wake-up fd polls the engine armed */
	char engine_features[80];  /* e.g. "io_uring: fixed-file fixed-buffers single-issuer" */
};

struct xbd_disk;
struct xbd_sq;

/* For a caller that checks its configuration before it starts: is `engine` an I/O engine of
 * this build, and does `driver` ("name[:options]") name a driver or filter (its options are
 * checked when the disk opens)? NULL is the default for either. 0, or -EINVAL with one line
 * in `why`. */
int xbd_storage_check_names(const char *engine, const char *driver, char *why, size_t len);

/* For a caller that checks its configuration before it starts: is `target` (the path of an
 * XBD_FORMAT_NBD disk) a valid NBD target (docs/storage.md, NBD)? 0, or -EINVAL with one
 * line in `why`. */
int xbd_storage_check_nbd_target(const char *target, char *why, size_t len);

/* Control thread. 0 or -errno, with the reason logged. */
int xbd_disk_open(const struct xbd_disk_config *cfg, struct xbd_disk **out);
/* How long an image lock held by another program is waited for before the open fails
 * (default 0): the daemon waits for the locks of one killed a moment ago (docs/restart.md). */
void xbd_image_lock_set_wait(unsigned int ms);
void xbd_disk_close(struct xbd_disk *d);
/*
 * Whether a closed disk left work with a library's own threads (an rbd image whose close the
 * cluster did not answer in time). The process must then end with _exit(): exit()'s teardown
 * (C++ static destructors in librbd/librados) would free what those threads still use.
 */
bool xbd_storage_exit_must_skip_teardown(void);
const struct xbd_disk_info *xbd_disk_get_info(const struct xbd_disk *d);
/* Change a writable disk's image lock to read-only (shared) or back to read-write
 * (exclusive), e.g. while a paused disk becomes an overlay's backing file. 0 (also for a disk
 * without a lock), -EBUSY when another program holds a conflicting lock, or -errno. */
int xbd_disk_relock(struct xbd_disk *d, bool readonly);
/* Re-read the size (online resize). 0 or -errno. */
int xbd_disk_refresh(struct xbd_disk *d);

/* Data thread: one queue per thread, `depth` I/Os in flight at most. */
int xbd_sq_open(struct xbd_disk *d, unsigned int depth, struct xbd_sq **out);
void xbd_sq_close(struct xbd_sq *q); /* nothing in flight */
int xbd_sq_queue(struct xbd_sq *q, struct xbd_io *io);
int xbd_sq_submit(struct xbd_sq *q);
/* Submit what is queued (as xbd_sq_submit; with io_uring in the same system call as the
 * wait), complete what is done (io->done), and if `block`, first wait up to timeout_ms (negative:
 * without a limit) for a completion or for one of `fds` to become readable (bit i of *ready).
 * Returns the number of completions or -errno. */
int xbd_sq_wait(struct xbd_sq *q, const int *fds, unsigned int nfds, unsigned int *ready,
		bool block, int timeout_ms);
/* The caller drains every fd xbd_sq_wait reports readable before it waits again: the wait
 * may then report an fd only when it becomes readable, which saves a system call per wake-up
 * (io_uring: one multishot poll). Without this call, an fd left readable is reported again. */
void xbd_sq_wake_edge(struct xbd_sq *q);
/* Without a system call: would xbd_sq_wait find work now (completions, range steps, or a wake
 * fd seen readable)? False when the engine cannot tell. For polling before a sleep. */
bool xbd_sq_ready(const struct xbd_sq *q);
unsigned int xbd_sq_inflight(const struct xbd_sq *q);
/*
 * A DISCARD, SECURE_ERASE or WRITE_ZEROES may name the whole disk, so the queue does it in
 * bounded steps over later waits (each wait does at most about 10 ms of such work, plus one
 * step), and every wait returns promptly while one is pending. The caller is stopping: those
 * not finished yet, and any queued from now on, complete at the next wait with -ECANCELED,
 * with the part already done left done. A step never runs concurrently with this call: each
 * is one synchronous call inside a wait.
 */
void xbd_sq_stop_ranges(struct xbd_sq *q);
/* Optional: buffers the caller will do I/O from, registered with the engine if it can use
 * them (io_uring fixed buffers). 0, or -EOPNOTSUPP when the engine has no use for them
 * (including when the kernel refuses to pin them, e.g. over RLIMIT_MEMLOCK: I/O then works
 * as before). Call with nothing in flight; the registration lasts until xbd_sq_close() or the
 * next call, and the buffers must stay allocated (the same mapping) for as long: the kernel
 * pinned their pages, and I/O into a registered range goes to those pages. */
int xbd_sq_register_buffers(struct xbd_sq *q, const struct iovec *bufs, unsigned int n);
/* Before an exec (upgrade in place), nothing in flight and nothing queued until the restore:
 * the engine lets go of its own reference to the image (io_uring's registered file), so that
 * the exec's close of the disk's fd releases the image's locks at once, not after the kernel
 * tears the ring down in the background, which the new image would wait for. Restore takes it
 * back (the exec failed). 0 or -errno; engines without such a reference do nothing. */
int xbd_sq_release_file(struct xbd_sq *q);
int xbd_sq_restore_file(struct xbd_sq *q);
/* The queue's counters so far. */
/*
 * Registered buffers for a pool that grows and shrinks (io_uring's sparse table): open a table
 * of n slots once (0; -EOPNOTSUPP when the engine has none or the kernel refused, logged
 * once), then add each buffer when it is allocated and drop it before it is freed. An I/O whose
 * one iovec lies in an added buffer reads or writes it without pinning its pages each time
 * (READ_FIXED/WRITE_FIXED). Add fails (-ENOSPC with the table full, -EOPNOTSUPP once the
 * kernel refused one, e.g. over RLIMIT_MEMLOCK: logged once) and the buffer simply serves
 * plain I/O. Drop a buffer only once no I/O of the caller's uses it, before freeing it.
 */
int xbd_sq_buffers_open(struct xbd_sq *q, unsigned int n);
int xbd_sq_buffer_add(struct xbd_sq *q, void *base, size_t len);
void xbd_sq_buffer_drop(struct xbd_sq *q, void *base);
void xbd_sq_get_stats(const struct xbd_sq *q, struct xbd_sq_stats *st);

#endif
