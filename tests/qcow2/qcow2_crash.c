/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qcow2-crash: crash safety of the qcow2 driver's metadata ordering. The driver's file I/O goes
 * through a power-cut model (its qcow2_file_ops hook): writes since the last sync are pending;
 * at a cut, a random subset of their 512-byte sectors reaches the "disk", in random order, and
 * the rest is lost. After each cut, `qemu-img check` must find no corruption (leaks allowed),
 * and every sector that was not written after the last completed flush must read back, both
 * through qemu-img and through the driver, as it was at that flush.
 * This model stands in for the storage layer's power-cut filter, which only sees I/O through
 * the engine, while the qcow2 driver writes its metadata on its own descriptor. Half the cuts
 * run with the metadata written through at the end of every operation (qcow2_request_done, as
 * for a VBD that resumes after a crash): the power-loss guarantees must be the same.
 * usage: qcow2-crash TEMPLATE.qcow2 CUTS SEED   (exit 77 without qemu-img)
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qcow2.h"

#define SECTOR 512u

struct pending {
	uint64_t off;
	uint64_t len;
	uint8_t *data;
};

/* The power-cut model: `cur` is what reads see, `durable` what survives any cut. */
struct pcfile {
	uint8_t *cur, *durable;
	uint64_t size, cap;
	struct pending *p;
	size_t np, pcap;
	uint64_t calls, die_after; /* the power goes at the die_after-th write or sync */
	bool dead;
};

/* Count a write or sync; past the cut point, nothing more reaches the file. */
static bool power_on(struct pcfile *f)
{
	if (!f->dead && ++f->calls >= f->die_after)
		f->dead = true;
	return !f->dead;
}

static uint64_t rng_state;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void grow(struct pcfile *f, uint64_t end)
{
	if (end > f->cap) {
		uint64_t cap = f->cap * 2 > end ? f->cap * 2 : end;

		f->cur = realloc(f->cur, cap);
		f->durable = realloc(f->durable, cap);
		memset(f->cur + f->cap, 0, cap - f->cap);
		memset(f->durable + f->cap, 0, cap - f->cap);
		f->cap = cap;
	}
	if (end > f->size)
		f->size = end;
}

static ssize_t pc_pread(void *ctx, void *buf, size_t len, uint64_t off)
{
	struct pcfile *f = ctx;

	if (off >= f->size)
		return 0;
	if (len > f->size - off)
		len = f->size - off;
	memcpy(buf, f->cur + off, len);
	return (ssize_t)len;
}

static ssize_t pc_pwrite(void *ctx, const void *buf, size_t len, uint64_t off)
{
	struct pcfile *f = ctx;
	struct pending *p;

	if (!power_on(f))
		return (ssize_t)len; /* the driver cannot tell */
	grow(f, off + len);
	memcpy(f->cur + off, buf, len);
	if (f->np == f->pcap) {
		f->pcap = f->pcap ? f->pcap * 2 : 256;
		f->p = realloc(f->p, f->pcap * sizeof(*f->p));
	}
	p = &f->p[f->np++];
	p->off = off;
	p->len = len;
	p->data = malloc(len);
	memcpy(p->data, buf, len);
	return (ssize_t)len;
}

static void drop_pending(struct pcfile *f)
{
	for (size_t i = 0; i < f->np; i++)
		free(f->p[i].data);
	f->np = 0;
}

static int pc_sync(void *ctx)
{
	struct pcfile *f = ctx;

	/* Often the power goes just as a sync is asked for: the cut then falls between the
	 * steps of a metadata flush, where ordering mistakes would show. */
	if (!f->dead && rnd() % 16 == 0)
		f->dead = true;
	if (!power_on(f))
		return 0;
	memcpy(f->durable, f->cur, f->size);
	drop_pending(f);
	return 0;
}

static uint64_t pc_size(void *ctx)
{
	return ((struct pcfile *)ctx)->size;
}

static const struct qcow2_file_ops pc_ops = {
	.pread = pc_pread, .pwrite = pc_pwrite, .sync = pc_sync, .size = pc_size,
};

/* The disk after a power cut: durable, plus a random subset of pending sectors, in a random
 * order (a later write to a sector may land while an earlier one is lost). */
static uint8_t *cut(struct pcfile *f, uint64_t *kept, uint64_t *lost)
{
	uint8_t *img = malloc(f->size);

	memcpy(img, f->durable, f->size);
	*kept = *lost = 0;
	for (size_t n = 0; n < f->np * 2; n++) {
		const struct pending *p = &f->p[rnd() % f->np];

		for (uint64_t s = 0; s < p->len; s += SECTOR) {
			uint64_t l = p->len - s < SECTOR ? p->len - s : SECTOR;

			if (rnd() % 3 == 0) {
				memcpy(img + p->off + s, p->data + s, l);
				(*kept)++;
			} else {
				(*lost)++;
			}
		}
	}
	return img;
}

static int load_file(const char *path, struct pcfile *f)
{
	struct stat st;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || fstat(fd, &st) < 0)
		return -errno;
	memset(f, 0, sizeof(*f));
	grow(f, (uint64_t)st.st_size);
	if (pread(fd, f->cur, f->size, 0) != (ssize_t)f->size)
		return -EIO;
	memcpy(f->durable, f->cur, f->size);
	close(fd);
	return 0;
}

static int save_file(const char *path, const uint8_t *img, uint64_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	int r = fd >= 0 && pwrite(fd, img, size, 0) == (ssize_t)size ? 0 : -EIO;

	if (fd >= 0)
		close(fd);
	return r;
}

struct run {
	struct pcfile *f;
	struct qcow2 *s;
	uint8_t *flushed;  /* guest content at the last completed flush */
	uint8_t *current;  /* guest content now */
	uint8_t *touched;  /* per sector: written since the last completed flush */
	uint64_t size;
};

static int random_op(struct run *w)
{
	uint64_t nsec = w->size / SECTOR, n = 1 + rnd() % (rnd() % 4 ? 16 : 512), off, k;
	struct iovec iov;
	int r;

	if (n > nsec)
		n = nsec;
	off = rnd() % (nsec - n + 1) * SECTOR;
	k = rnd() % 100;
	memset(w->touched + off / SECTOR, 1, n);
	if (k < 80) {
		for (uint64_t i = 0; i < n * SECTOR; i += 8) {
			uint64_t v = rnd();

			memcpy(w->current + off + i, &v, 8);
		}
		iov = (struct iovec){ w->current + off, n * SECTOR };
		r = qcow2_write_sync(w->s, off, n * SECTOR, &iov, 1);
	} else {
		memset(w->current + off, 0, n * SECTOR);
		r = qcow2_zero_range(w->s, off, n * SECTOR, k < 90);
		if (k < 90) /* a discard reads back as zeros or the backing file: no backing here */
			memset(w->current + off, 0, n * SECTOR);
	}
	return r ? r : qcow2_request_done(w->s, false);
}

static int flush(struct run *w)
{
	int r = qcow2_meta_flush(w->s, true);

	if (!r && !w->f->dead) { /* acknowledged while the power was on */
		memcpy(w->flushed, w->current, w->size);
		memset(w->touched, 0, w->size / SECTOR);
	}
	return r;
}

/* Every sector not written since the last flush reads as it was then. */
static int verify(const struct run *w, const uint8_t *got, const char *who)
{
	for (uint64_t sct = 0; sct < w->size / SECTOR; sct++) {
		if (w->touched[sct] || !memcmp(got + sct * SECTOR, w->flushed + sct * SECTOR, SECTOR))
			continue;
		fprintf(stderr, "qcow2-crash: %s: flushed sector %" PRIu64 " lost\n", who, sct);
		return -EILSEQ;
	}
	return 0;
}

static int check_crashed(const struct run *w, const char *img)
{
	char cmd[1200];
	struct qcow2_config cfg = { .path = img, .readonly = true, .log_prefix = "crashed" };
	struct qcow2 *s = NULL;
	uint8_t *got = malloc(w->size);
	int rc, r;

	snprintf(cmd, sizeof(cmd), "qemu-img check -q %s >/dev/null 2>&1", img);
	rc = WEXITSTATUS(system(cmd));
	if (rc != 0 && rc != 3) {
		fprintf(stderr, "qcow2-crash: qemu-img check exit %d on the crashed image\n", rc);
		snprintf(cmd, sizeof(cmd), "qemu-img check %s >&2", img);
		(void)!system(cmd);
		free(got);
		return -EUCLEAN;
	}
	snprintf(cmd, sizeof(cmd), "qemu-img convert -O raw %s %s.raw", img, img);
	r = system(cmd) == 0 ? 0 : -EIO;
	if (!r) {
		char raw[1100];
		int fd;

		snprintf(raw, sizeof(raw), "%s.raw", img);
		fd = open(raw, O_RDONLY);
		r = fd >= 0 && pread(fd, got, w->size, 0) == (ssize_t)w->size ? 0 : -EIO;
		if (fd >= 0)
			close(fd);
		unlink(raw);
	}
	if (!r)
		r = verify(w, got, "qemu-img");
	if (!r)
		r = qcow2_open(&cfg, &s);
	if (!r)
		r = qcow2_read_sync(s, got, 0, w->size);
	if (!r)
		r = verify(w, got, "xenblkd");
	qcow2_close(s);
	free(got);
	return r;
}

static int one_cut(const char *tmpl, const char *img, unsigned int i)
{
	struct pcfile f;
	struct qcow2_config cfg = { .path = tmpl, .fops = &pc_ops, .fops_ctx = &f,
				    .log_prefix = "crash", .l2_cache_bytes = rnd() % 2 ? 1 : 0 };
	struct run w = { 0 };
	uint64_t kept, lost, ops = 20 + rnd() % 400;
	uint8_t *crashed;
	int r = load_file(tmpl, &f);

	cfg.write_through = rnd() % 2;
	if (!r)
		r = qcow2_open(&cfg, &w.s);
	if (r)
		return r;
	w.size = w.s->size;
	w.current = malloc(w.size);
	w.flushed = malloc(w.size);
	w.touched = calloc(1, w.size / SECTOR);
	w.f = &f;
	r = qcow2_read_sync(w.s, w.current, 0, w.size);
	memcpy(w.flushed, w.current, w.size);
	f.die_after = 1 + rnd() % (ops * 8);
	for (uint64_t n = 0; n < ops && !r && !f.dead; n++)
		r = rnd() % 25 == 0 ? flush(&w) : random_op(&w);
	if (r && !f.dead) {
		fprintf(stderr, "qcow2-crash: cut %u: an operation failed: %s\n", i, strerror(-r));
		return r;
	}
	crashed = cut(&f, &kept, &lost);
	r = save_file(img, crashed, f.size);
	free(crashed);
	if (!r)
		r = check_crashed(&w, img);
	printf("cut %u%s: at I/O %" PRIu64 "%s, %" PRIu64 " pending sectors kept, %" PRIu64
	       " lost: %s\n", i, cfg.write_through ? " (write-through)" : "", f.calls,
	       f.dead ? "" : " (end)", kept, lost, r ? "FAIL" : "ok");
	w.s->writable = false; /* the "machine" is off: nothing more reaches the file */
	qcow2_close(w.s);
	drop_pending(&f);
	free(f.p);
	free(f.cur);
	free(f.durable);
	free(w.current);
	free(w.flushed);
	free(w.touched);
	return r;
}

int main(int argc, char **argv)
{
	unsigned int cuts, failed = 0;
	char img[256];

	if (argc != 4) {
		fprintf(stderr, "usage: qcow2-crash TEMPLATE.qcow2 CUTS SEED\n");
		return 2;
	}
	if (system("qemu-img --version >/dev/null 2>&1") != 0)
		return 77;
	cuts = (unsigned int)strtoul(argv[2], NULL, 0);
	rng_state = strtoull(argv[3], NULL, 0) * 0x9e3779b97f4a7c15ull + 1;
	snprintf(img, sizeof(img), "%s.crashed", argv[1]);
	for (unsigned int i = 0; i < cuts; i++)
		failed += one_cut(argv[1], img, i) != 0;
	unlink(img);
	printf("%u passed, %u failed\n", cuts - failed, failed);
	return failed ? 1 : 0;
}
