/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qcow2-io: drives the qcow2 driver at the storage level (xbd_disk_open, a storage queue,
 * xbd_sq_wait), without Xen, for the scripts beside it that use qemu-img as the oracle:
 *   open IMG               open (refusals: exit 3 with the reason in the log)
 *   read IMG OUT           read the whole disk with many I/Os in flight into a raw file
 *   workload IMG EXPECT OUT  random verified writes, reads, flushes, discards and zeroing,
 *                          starting from EXPECT (the disk's content as raw), writing the
 *                          expected final content to OUT for `qemu-img compare`
 *   resize IMG BYTES       grow the disk
 *   bench IMG SECONDS      4 KiB random reads, --depth in flight: IOPS
 * Requests use several iovecs of random sizes, so the driver's splitting is exercised too.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "xenblkd/storage.h"
#include "xenblkd/xs_value.h"
#include "qcow2.h"

#define MAX_DEPTH 64
#define MAX_IOV 16

struct opts {
	bool rw;
	const char *dirs[8];
	unsigned int ndirs;
	bool raw_ok;
	struct xbd_backing_file chain[XBD_MAX_BACKING_CHAIN];
	unsigned int chain_len;
	bool has_format, trust_format;
	enum xbd_format format;
	uint64_t l2_cache;
	const char *engine;
	unsigned int depth;
	uint64_t max_len;
	uint64_t seed;
	uint64_t ops;
	uint64_t span;
	bool no_direct;
	bool raw_format;
};

struct slot {
	struct xbd_io io;
	struct iovec iov[MAX_IOV];
	uint8_t *buf;
	bool busy;
	bool verify;   /* a read to compare with the shadow */
	bool adopt;    /* a read whose data becomes the shadow (after a discard) */
	int res;
	bool done;
};

struct ctx {
	struct opts o;
	struct xbd_disk *d;
	struct xbd_sq *q;
	const struct xbd_disk_info *info;
	struct slot slots[MAX_DEPTH];
	uint8_t *shadow;
	uint64_t rng;
	uint64_t failures;
	uint64_t counts[8];
	int out_fd;
};

static uint64_t rnd(struct ctx *c)
{
	c->rng ^= c->rng << 13;
	c->rng ^= c->rng >> 7;
	c->rng ^= c->rng << 17;
	return c->rng;
}

static void on_done(struct xbd_io *io, int res)
{
	struct slot *s = (struct slot *)io;

	s->res = res;
	s->done = true;
}

static int open_disk(struct ctx *c, const char *path)
{
	const char *dirs[9] = { 0 };
	struct xbd_disk_config cfg = {
		.path = path, .readonly = !c->o.rw,
		.engine = c->o.engine, .backing_raw_ok = c->o.raw_ok,
		.l2_cache_bytes = c->o.l2_cache, .log_prefix = "qcow2-io",
		.no_direct = c->o.no_direct,
		.format = c->o.raw_format ? XBD_FORMAT_RAW : XBD_FORMAT_QCOW2,
		.backing_chain = c->o.chain, .backing_chain_len = c->o.chain_len,
		.has_backing_dir_format = c->o.has_format, .backing_dir_format = c->o.format,
		.backing_trust_header_format = c->o.trust_format,
	};
	int r;

	for (unsigned int i = 0; i < c->o.ndirs; i++)
		dirs[i] = c->o.dirs[i];
	if (c->o.ndirs)
		cfg.backing_dirs = dirs;
	/* A previous run's io_uring may hold the image (and its lock) a moment after exit. */
	for (int tries = 0; tries < 100; tries++) {
		r = xbd_disk_open(&cfg, &c->d);
		if (r != -EBUSY)
			break;
		usleep(20000);
	}
	if (r) {
		c->d = NULL;
		return r;
	}
	c->info = xbd_disk_get_info(c->d);
	r = xbd_sq_open(c->d, c->o.depth, &c->q);
	if (r)
		return r;
	for (unsigned int i = 0; i < c->o.depth; i++)
		if (posix_memalign((void **)&c->slots[i].buf, 4096, c->o.max_len))
			return -ENOMEM;
	return 0;
}

static void close_disk(struct ctx *c)
{
	for (unsigned int i = 0; i < c->o.depth; i++)
		free(c->slots[i].buf);
	xbd_sq_close(c->q);
	xbd_disk_close(c->d);
}

/* Split buf into up to MAX_IOV pieces of random sector multiples. */
static unsigned int make_iov(struct ctx *c, struct slot *s, uint64_t len)
{
	uint32_t sec = c->info->sector_size;
	unsigned int n = 0;
	uint64_t pos = 0;

	while (pos < len) {
		uint64_t left = len - pos, piece = left;

		if (n + 1 < MAX_IOV && left > sec && rnd(c) % 2)
			piece = (1 + rnd(c) % (left / sec)) * sec;
		s->iov[n++] = (struct iovec){ s->buf + pos, piece };
		pos += piece;
	}
	return n;
}

static void start(struct ctx *c, struct slot *s, enum xbd_io_op op, uint64_t off, uint64_t len,
		  uint32_t flags)
{
	s->io = (struct xbd_io){ .op = op, .flags = flags, .offset = off, .len = len,
				 .done = on_done };
	if (op == XBD_IO_READ || op == XBD_IO_WRITE) {
		s->io.niov = make_iov(c, s, len);
		s->io.iov = s->iov;
	}
	s->busy = true;
	s->done = false;
	xbd_sq_queue(c->q, &s->io);
}

static int finish(struct ctx *c, struct slot *s);

/* Wait for at least one completion (or all with `all`) and process them. */
static int reap(struct ctx *c, bool all)
{
	unsigned int ready;

	for (;;) {
		bool any_busy = false, any_done = false;
		int r;

		xbd_sq_submit(c->q);
		r = xbd_sq_wait(c->q, NULL, 0, &ready, true, 1000);
		if (r < 0)
			return r;
		for (unsigned int i = 0; i < c->o.depth; i++) {
			struct slot *s = &c->slots[i];

			if (s->busy && s->done) {
				s->busy = false;
				any_done = true;
				r = finish(c, s);
				if (r)
					return r;
			}
			any_busy |= s->busy;
		}
		if (!any_busy || (!all && any_done))
			return 0;
	}
}

static struct slot *free_slot(struct ctx *c)
{
	for (;;) {
		for (unsigned int i = 0; i < c->o.depth; i++)
			if (!c->slots[i].busy)
				return &c->slots[i];
		if (reap(c, false))
			return NULL;
	}
}

/* ---- read ---- */

static int finish_read_to_file(struct ctx *c, struct slot *s)
{
	if (s->res) {
		fprintf(stderr, "qcow2-io: read at %" PRIu64 " failed: %s\n", s->io.offset,
			strerror(-s->res));
		return s->res;
	}
	if (pwrite(c->out_fd, s->buf, s->io.len, (off_t)s->io.offset) != (ssize_t)s->io.len)
		return -errno;
	return 0;
}

static int cmd_read(struct ctx *c, const char *img, const char *out)
{
	uint64_t off = 0, size;
	int r = open_disk(c, img);

	if (r)
		return r;
	size = c->info->size;
	c->out_fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (c->out_fd < 0 || ftruncate(c->out_fd, (off_t)size) < 0)
		return -errno;
	while (off < size && !r) {
		struct slot *s = free_slot(c);
		uint64_t sec = c->info->sector_size, len;

		if (!s)
			return -EIO;
		len = (1 + rnd(c) % (c->o.max_len / sec)) * sec;
		if (len > size - off)
			len = size - off;
		start(c, s, XBD_IO_READ, off, len, 0);
		off += len;
	}
	r = reap(c, true);
	close(c->out_fd);
	close_disk(c);
	return r;
}

/* ---- workload ---- */

static bool overlaps_inflight(struct ctx *c, uint64_t off, uint64_t len)
{
	for (unsigned int i = 0; i < c->o.depth; i++) {
		const struct slot *s = &c->slots[i];

		if (s->busy && s->io.op != XBD_IO_FLUSH && off < s->io.offset + s->io.len &&
		    s->io.offset < off + len)
			return true;
	}
	return false;
}

static int finish_workload(struct ctx *c, struct slot *s)
{
	struct xbd_io *io = &s->io;

	if (s->res) {
		fprintf(stderr, "qcow2-io: op %d at %" PRIu64 "+%" PRIu64 " failed: %s\n", io->op,
			io->offset, io->len, strerror(-s->res));
		return s->res;
	}
	if (io->op == XBD_IO_READ && s->adopt) {
		memcpy(c->shadow + io->offset, s->buf, io->len);
	} else if (io->op == XBD_IO_READ && memcmp(c->shadow + io->offset, s->buf, io->len)) {
		uint64_t i = 0;

		while (c->shadow[io->offset + i] == s->buf[i])
			i++;
		fprintf(stderr, "qcow2-io: MISMATCH reading %" PRIu64 "+%" PRIu64 " at byte %"
			PRIu64 "\n", io->offset, io->len, io->offset + i);
		return -EILSEQ;
	} else if (io->op == XBD_IO_DISCARD) {
		/* What a discarded range reads as is the driver's choice: learn it. */
		start(c, s, XBD_IO_READ, io->offset, io->len, 0);
		s->adopt = true;
	}
	return 0;
}

static int finish(struct ctx *c, struct slot *s)
{
	return c->out_fd >= 0 ? finish_read_to_file(c, s) : finish_workload(c, s);
}

static void pick_range(struct ctx *c, uint64_t *off, uint64_t *len)
{
	uint64_t sec = c->info->sector_size, span = c->o.span ? c->o.span : c->info->size;
	uint64_t nsec = span / sec, maxsec = c->o.max_len / sec, n;

	switch (rnd(c) % 4) {
	case 0: n = 1; break;
	case 1: n = 1 + rnd(c) % 16; break;
	default: n = 1 + rnd(c) % maxsec; break;
	}
	if (n > nsec)
		n = nsec;
	*off = rnd(c) % (nsec - n + 1) * sec;
	*len = n * sec;
}

static void one_op(struct ctx *c, struct slot *s)
{
	uint64_t off, len, k = rnd(c) % 100;

	for (int tries = 0; tries < 100; tries++) {
		pick_range(c, &off, &len);
		if (!overlaps_inflight(c, off, len))
			break;
		len = 0;
	}
	s->adopt = false;
	if (!len || k < 4) {
		c->counts[2]++;
		start(c, s, XBD_IO_FLUSH, 0, 0, 0);
	} else if (k < 50) {
		for (uint64_t i = 0; i < len; i += 8) {
			uint64_t v = rnd(c);

			memcpy(s->buf + i, &v, 8);
		}
		memcpy(c->shadow + off, s->buf, len);
		c->counts[0]++;
		start(c, s, XBD_IO_WRITE, off, len, k < 8 ? XBD_IO_FUA : 0);
	} else if (k < 90) {
		c->counts[1]++;
		start(c, s, XBD_IO_READ, off, len, 0);
	} else if (k < 95) {
		c->counts[3]++;
		start(c, s, XBD_IO_DISCARD, off, len, 0);
	} else {
		memset(c->shadow + off, 0, len);
		c->counts[4]++;
		start(c, s, XBD_IO_WRITE_ZEROES, off, len, 0);
	}
}

static int load_expect(struct ctx *c, const char *path)
{
	int fd = open(path, O_RDONLY);
	uint64_t size = c->info->size, done = 0;

	c->shadow = calloc(1, size ? size : 1);
	if (fd < 0 || !c->shadow)
		return -errno;
	while (done < size) {
		ssize_t n = pread(fd, c->shadow + done, size - done, (off_t)done);

		if (n <= 0)
			break; /* shorter: zeros */
		done += (uint64_t)n;
	}
	close(fd);
	return 0;
}

static int verify_all(struct ctx *c)
{
	uint64_t off = 0, size = c->info->size, sec = c->info->sector_size;

	while (off < size) {
		struct slot *s = free_slot(c);
		uint64_t len = c->o.max_len / sec * sec;

		if (!s)
			return -EIO;
		if (len > size - off)
			len = size - off;
		s->adopt = false;
		start(c, s, XBD_IO_READ, off, len, 0);
		off += len;
	}
	return reap(c, true);
}

static int cmd_workload(struct ctx *c, const char *img, const char *expect, const char *out)
{
	uint64_t size;
	int r = open_disk(c, img), fd;

	if (!r)
		r = load_expect(c, expect);
	for (uint64_t i = 0; i < c->o.ops && !r; i++) {
		struct slot *s = free_slot(c);

		if (!s)
			return -EIO;
		one_op(c, s);
	}
	if (!r)
		r = reap(c, true);
	if (!r)
		r = verify_all(c);
	if (!c->info)
		return r;
	size = c->info->size;
	close_disk(c);
	fprintf(stderr, "qcow2-io: %" PRIu64 " writes, %" PRIu64 " reads, %" PRIu64 " flushes, %"
		PRIu64 " discards, %" PRIu64 " zeroings: %s\n", c->counts[0], c->counts[1],
		c->counts[2], c->counts[3], c->counts[4], r ? "FAIL" : "ok");
	fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || pwrite(fd, c->shadow, size, 0) != (ssize_t)size)
		r = r ? r : -EIO;
	if (fd >= 0)
		close(fd);
	free(c->shadow);
	return r;
}

/* ---- bench: 4 KiB random reads, `depth` in flight, for a number of seconds ---- */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmd_bench(struct ctx *c, const char *img, const char *seconds)
{
	double end, start;
	uint64_t done = 0;
	unsigned int ready;
	int r = open_disk(c, img);

	if (r)
		return r;
	start = now_s();
	end = start + strtod(seconds, NULL);
	for (unsigned int i = 0; i < c->o.depth; i++)
		c->slots[i].busy = false;
	while (now_s() < end && !r) {
		for (unsigned int i = 0; i < c->o.depth; i++) {
			struct slot *s = &c->slots[i];

			if (s->busy && !s->done)
				continue;
			if (s->busy && s->res)
				r = s->res;
			done += s->busy;
			s->io = (struct xbd_io){ .op = XBD_IO_READ, .len = 4096, .iov = s->iov,
						 .niov = 1, .done = on_done,
						 .offset = rnd(c) % (c->info->size / 4096) * 4096 };
			s->iov[0] = (struct iovec){ s->buf, 4096 };
			s->busy = true;
			s->done = false;
			xbd_sq_queue(c->q, &s->io);
		}
		xbd_sq_submit(c->q);
		if (xbd_sq_wait(c->q, NULL, 0, &ready, true, 100) < 0)
			r = -EIO;
	}
	while (xbd_sq_inflight(c->q))
		xbd_sq_wait(c->q, NULL, 0, &ready, true, 100);
	printf("%.0f IOPS (%" PRIu64 " reads of 4 KiB in %.1f s, depth %u)\n",
	       (double)done / (now_s() - start), done, now_s() - start, c->o.depth);
	close_disk(c);
	return r;
}

static int cmd_resize(struct ctx *c, const char *img, const char *bytes)
{
	int r;

	c->o.rw = true;
	r = open_disk(c, img);
	if (!r)
		r = xbd_qcow2_resize(c->d, strtoull(bytes, NULL, 0));
	if (c->info)
		close_disk(c);
	return r;
}

static const struct option longopts[] = {
	{ "rw", no_argument, NULL, 'w' },
	{ "backing-dir", required_argument, NULL, 'b' },
	{ "raw-ok", no_argument, NULL, 'r' },
	{ "backing", required_argument, NULL, 'c' },
	{ "backing-format", required_argument, NULL, 'f' },
	{ "trust-backing-format", no_argument, NULL, 't' },
	{ "l2-cache", required_argument, NULL, 'l' },
	{ "engine", required_argument, NULL, 'e' },
	{ "depth", required_argument, NULL, 'd' },
	{ "max-len", required_argument, NULL, 'm' },
	{ "seed", required_argument, NULL, 's' },
	{ "ops", required_argument, NULL, 'n' },
	{ "span", required_argument, NULL, 'p' },
	{ "no-direct", no_argument, NULL, 'D' },
	{ "raw", no_argument, NULL, 'R' },
	{ 0 },
};

static int parse(struct ctx *c, int argc, char **argv)
{
	int opt;

	c->o = (struct opts){ .depth = 16, .max_len = 256 << 10, .seed = 1, .ops = 2000 };
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'w': c->o.rw = true; break;
		case 'b': if (c->o.ndirs < 8) c->o.dirs[c->o.ndirs++] = optarg; break;
		case 'r': c->o.raw_ok = true; break;
		case 'c':
			if (xbd_parse_backing_chain(optarg, c->o.chain, XBD_MAX_BACKING_CHAIN,
						    &c->o.chain_len))
				return -EINVAL;
			break;
		case 'f':
			if (strcmp(optarg, "raw") && strcmp(optarg, "qcow2"))
				return -EINVAL;
			c->o.has_format = true;
			c->o.format = strcmp(optarg, "raw") ? XBD_FORMAT_QCOW2 : XBD_FORMAT_RAW;
			break;
		case 't': c->o.trust_format = true; break;
		case 'l': c->o.l2_cache = strtoull(optarg, NULL, 0); break;
		case 'e': c->o.engine = optarg; break;
		case 'd': c->o.depth = (unsigned int)strtoul(optarg, NULL, 0); break;
		case 'm': c->o.max_len = strtoull(optarg, NULL, 0); break;
		case 's': c->o.seed = strtoull(optarg, NULL, 0); break;
		case 'n': c->o.ops = strtoull(optarg, NULL, 0); break;
		case 'p': c->o.span = strtoull(optarg, NULL, 0); break;
		case 'D': c->o.no_direct = true; break;
		case 'R': c->o.raw_format = true; break;
		default: return -EINVAL;
		}
	}
	if (!c->o.depth || c->o.depth > MAX_DEPTH || c->o.max_len < 4096 || c->o.max_len % 4096)
		return -EINVAL;
	c->rng = c->o.seed * 0x9e3779b97f4a7c15ull + 1;
	c->out_fd = -1;
	return 0;
}

int main(int argc, char **argv)
{
	static struct ctx c;
	const char *cmd;
	int r = parse(&c, argc, argv);

	if (r || optind >= argc)
		goto usage;
	cmd = argv[optind++];
	if (!strcmp(cmd, "open") && argc - optind == 1) {
		r = open_disk(&c, argv[optind]);
		if (!r)
			close_disk(&c);
		printf("%s\n", r ? strerror(-r) : "opened");
		return r ? 3 : 0;
	}
	if (!strcmp(cmd, "read") && argc - optind == 2)
		r = cmd_read(&c, argv[optind], argv[optind + 1]);
	else if (!strcmp(cmd, "workload") && argc - optind == 3)
		r = (c.o.rw = true, cmd_workload(&c, argv[optind], argv[optind + 1],
						 argv[optind + 2]));
	else if (!strcmp(cmd, "bench") && argc - optind == 2)
		r = cmd_bench(&c, argv[optind], argv[optind + 1]);
	else if (!strcmp(cmd, "resize") && argc - optind == 2)
		r = cmd_resize(&c, argv[optind], argv[optind + 1]);
	else
		goto usage;
	if (r)
		fprintf(stderr, "qcow2-io: %s failed: %s\n", cmd, strerror(-r));
	return r ? 1 : 0;
usage:
	fprintf(stderr, "usage: qcow2-io [--rw] [--backing FMT:PATH[|FMT:PATH...]]... "
		"[--backing-dir D]... [--backing-format raw|qcow2] [--trust-backing-format] "
		"[--raw-ok]\n  [--l2-cache N] "
		"[--engine E] [--depth N] [--max-len N] [--seed N] [--ops N] [--span N]\n"
		"  [--no-direct] [--raw (open as a raw disk: the format is never probed)]\n"
		"  open IMG | read IMG OUT | workload IMG EXPECT OUT | resize IMG BYTES |\n"
		"  bench IMG SECONDS (4 KiB random reads)\n");
	return 2;
}
