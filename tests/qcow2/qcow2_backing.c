/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The backing-file policy of the qcow2 driver on real files (issue 15), with images written
 * byte by byte (no qemu-img needed): a tenant image naming a sibling guest's raw disk is
 * refused by default with the exact message, and followed only when configured (the exact
 * chain, or an allowed directory with a configured format); the header's format counts only
 * when trusted; hostile files named as the backing file (a FIFO without a writer, /dev/zero,
 * a pty, a character device node, symlinks out of the directory) are refused within a second
 * and never opened, which inotify proves (an O_PATH lookup raises no IN_OPEN, an open does);
 * a backing file someone holds for writing is refused; the external data file feature is
 * refused before its file is looked at; forbidden allowed directories. Each hostile open runs
 * in a child with an alarm, so a hang fails the test instead of blocking it.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "io/driver.h"
#include "qcow2.h"

#define CS 65536u
#define DISK (1u << 20)

static char dir[64];     /* the allowed directory */
static char outside[96]; /* a directory beside it */

static void path_in(char *out, size_t cap, const char *d, const char *name)
{
	snprintf(out, cap, "%s/%s", d, name);
}

static void put(uint8_t *b, uint64_t off, uint64_t v, int bytes)
{
	for (int i = bytes - 1; i >= 0; i--, v >>= 8)
		b[off + (uint64_t)i] = (uint8_t)v;
}

/* A header extension at *pos: type, length, data padded to 8. */
static void extension(uint8_t *b, size_t *pos, uint32_t type, const char *data)
{
	size_t n = strlen(data);

	put(b, *pos, type, 4);
	put(b, *pos + 4, n, 4);
	memcpy(b + *pos + 8, data, n);
	*pos += 8 + ((n + 7) & ~(size_t)7);
}

/* A v3 image of 1 MiB, nothing allocated, naming `backing` (NULL: none) with the backing
 * format extension `fmt` (NULL: none); `incompat` bits and a data-file extension optional. */
static void make_image(const char *path, const char *backing, const char *fmt,
		       uint64_t incompat, const char *data_file)
{
	uint8_t *b = calloc(1, 4 * CS);
	size_t pos = 104;
	FILE *f;

	assert_non_null(b);
	put(b, 0, QCOW2_MAGIC, 4);
	put(b, 4, 3, 4);
	put(b, 20, 16, 4);
	put(b, 24, DISK, 8);
	put(b, 36, 1, 4);
	put(b, 40, 3 * CS, 8);
	put(b, 48, CS, 8);
	put(b, 56, 1, 4);
	put(b, 72, incompat, 8);
	put(b, 96, 4, 4);
	put(b, 100, 104, 4);
	if (fmt)
		extension(b, &pos, QCOW2_EXT_BACKING_FMT, fmt);
	if (data_file)
		extension(b, &pos, QCOW2_EXT_DATA_FILE, data_file);
	if (backing) {
		put(b, 8, 1024, 8);
		put(b, 16, strlen(backing), 4);
		memcpy(b + 1024, backing, strlen(backing));
	}
	put(b, CS, 2 * CS, 8);            /* refcount table -> refcount block */
	for (unsigned int c = 0; c < 4; c++)
		put(b, 2 * CS + 2 * c, 1, 2); /* clusters 0..3 used once */
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(b, 1, 4 * CS, f), 4 * CS);
	fclose(f);
	free(b);
}

static void make_raw(const char *path, uint8_t fill)
{
	uint8_t *b = malloc(DISK);
	FILE *f = fopen(path, "wb");

	assert_non_null(b);
	assert_non_null(f);
	memset(b, fill, DISK);
	assert_int_equal(fwrite(b, 1, DISK, f), DISK);
	fclose(f);
	free(b);
}

/* stderr (the log) into a file while `fn` runs; the text in `out`. */
static int captured(int (*fn)(const struct qcow2_config *), const struct qcow2_config *cfg,
		    char *out, size_t cap)
{
	char tmpl[] = "/tmp/xbd-log.XXXXXX";
	int fd = mkstemp(tmpl), saved = dup(2), r;
	ssize_t n;

	assert_true(fd >= 0 && saved >= 0);
	unlink(tmpl);
	dup2(fd, 2);
	r = fn(cfg);
	dup2(saved, 2);
	close(saved);
	n = pread(fd, out, cap - 1, 0);
	out[n > 0 ? n : 0] = '\0';
	close(fd);
	fputs(out, stderr);
	return r;
}

static int open_close(const struct qcow2_config *cfg)
{
	struct qcow2 *s = NULL;
	int r = qcow2_open(cfg, &s);

	qcow2_close(s);
	return r;
}

/* The first byte the top image reads, through its backing file. */
static int first_byte(const struct qcow2_config *cfg)
{
	struct qcow2 *s = NULL;
	uint8_t buf[512];
	int r = qcow2_open(cfg, &s);

	if (r)
		return r;
	r = qcow2_read_sync(s, buf, 0, sizeof(buf));
	qcow2_close(s);
	return r ? r : buf[0];
}

static void test_sibling_refused_by_default(void **state)
{
	char top[128], other[128], want[512], log[4096];
	struct xbd_backing_file chain[] = { { XBD_FORMAT_RAW, other } };
	const char *dirs[] = { dir, NULL };
	struct qcow2_config cfg = { .path = top, .readonly = true, .log_prefix = "t" };

	(void)state;
	path_in(top, sizeof(top), dir, "tenant.qcow2");
	path_in(other, sizeof(other), dir, "other-guest.raw");
	make_raw(other, 0x5e);
	make_image(top, "other-guest.raw", "raw", 0, NULL);
	snprintf(want, sizeof(want), "backing file 'other-guest.raw' named by %s is not "
		 "followed: configure the chain (qcow2-backing = FORMAT:PATH in a [vbd] section "
		 "of xenblkd.conf, or the backend key xenblkd-backing) or allow a directory "
		 "(--qcow2-backing-dir DIR); see xenblkd.conf(5)\n", top);
	assert_int_equal(captured(open_close, &cfg, log, sizeof(log)), -EPERM);
	assert_non_null(strstr(log, want));
	/* The exact chain: the configured file, in the configured format. */
	cfg.backing = (struct qcow2_backing_policy){ .chain = chain, .chain_len = 1 };
	assert_int_equal(first_byte(&cfg), 0x5e);
	/* An allowed directory: needs a format, and raw needs its own permission. */
	cfg.backing = (struct qcow2_backing_policy){ .dirs = dirs };
	assert_int_equal(captured(open_close, &cfg, log, sizeof(log)), -EPERM);
	assert_non_null(strstr(log, "its format is not configured"));
	cfg.backing.has_dir_format = true;
	cfg.backing.dir_format = XBD_FORMAT_RAW;
	assert_int_equal(captured(open_close, &cfg, log, sizeof(log)), -EPERM);
	assert_non_null(strstr(log, "needs --qcow2-allow-raw-backing"));
	cfg.backing.raw_ok = true;
	assert_int_equal(first_byte(&cfg), 0x5e);
	/* The image's name reaches the log escaped: no terminal escapes, no forged lines. */
	make_image(top, "x\x1b[2J\nxenblkd[d9/51712]: fake", "raw", 0, NULL);
	cfg.backing = (struct qcow2_backing_policy){ 0 };
	assert_int_equal(captured(open_close, &cfg, log, sizeof(log)), -EPERM);
	assert_non_null(strstr(log, "'x\\x1b[2J\\x0axenblkd[d9/51712]: fake'"));
	assert_null(strchr(log, '\x1b'));
	assert_int_equal(strchr(log, '\n') - log, (long)strlen(log) - 1);
	unlink(top);
	unlink(other);
}

static void test_chain_entry_must_agree(void **state)
{
	char top[128], base[128], mid[128], log[4096];
	struct xbd_backing_file chain[] = { { XBD_FORMAT_QCOW2, mid },
					    { XBD_FORMAT_RAW, base } };
	struct qcow2_config cfg = { .path = top, .readonly = true, .log_prefix = "t",
				    .backing = { .chain = chain, .chain_len = 2 } };

	(void)state;
	path_in(top, sizeof(top), dir, "top.qcow2");
	path_in(mid, sizeof(mid), dir, "mid.qcow2");
	path_in(base, sizeof(base), dir, "base.raw");
	make_raw(base, 0x42);
	/* The header's directory part does not count: the configured file is opened. */
	make_image(mid, "/elsewhere/base.raw", NULL, 0, NULL);
	make_image(top, "mid.qcow2", "qcow2", 0, NULL);
	assert_int_equal(first_byte(&cfg), 0x42);
	/* Another file name than the configured one: refused. */
	make_image(mid, "base2.raw", NULL, 0, NULL);
	assert_int_equal(captured(open_close, &cfg, log, sizeof(log)), -EPERM);
	assert_non_null(strstr(log, "does not match entry 2 of the configured chain"));
	/* Deeper than the configured chain: refused. */
	make_image(mid, "base.raw", NULL, 0, NULL);
	cfg.backing.chain_len = 1;
	assert_int_equal(captured(open_close, &cfg, log, sizeof(log)), -EPERM);
	assert_non_null(strstr(log, "lists 1 backing file, and this would be number 2"));
	unlink(top);
	unlink(mid);
	unlink(base);
}

static void test_header_format_only_when_trusted(void **state)
{
	char top[128], base[128];
	const char *dirs[] = { dir, NULL };
	struct qcow2_config cfg = {
		.path = top, .readonly = true, .log_prefix = "t",
		.backing = { .dirs = dirs, .has_dir_format = true, .dir_format = XBD_FORMAT_RAW,
			     .raw_ok = true },
	};

	(void)state;
	path_in(top, sizeof(top), dir, "liar.qcow2");
	path_in(base, sizeof(base), dir, "plain.raw");
	make_raw(base, 0x33);
	make_image(top, "plain.raw", "qcow2", 0, NULL); /* the header says qcow2 */
	assert_int_equal(first_byte(&cfg), 0x33);       /* configured raw wins */
	cfg.backing.trust_header_format = true;         /* now the header counts */
	assert_int_equal(open_close(&cfg), -EINVAL);    /* and plain.raw is no qcow2 */
	make_image(top, "plain.raw", "raw", 0, NULL);
	cfg.backing.trust_header_format = false;
	cfg.backing.dir_format = XBD_FORMAT_QCOW2;      /* header raw, configured qcow2 */
	assert_int_equal(open_close(&cfg), -EINVAL);
	unlink(top);
	unlink(base);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Open cfg in a child with a 5 s alarm: it must give `expect` within 1 s, and nothing watched
 * by `ino` may have been opened (an O_PATH lookup raises no IN_OPEN; an open does).
 */
static void refused_fast(const struct qcow2_config *cfg, int expect, int ino, const char *what)
{
	double t0 = now(), took;
	char events[4096];
	int status = 0;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		alarm(5);
		_exit(open_close(cfg) == expect ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	took = now() - t0;
	fprintf(stderr, "%s: refused in %.3f s\n", what, took);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		fail_msg("%s: %s", what, WIFSIGNALED(status) ? "hung (killed by the alarm)" :
			 "not refused with the expected error");
	if (took >= 1.0)
		fail_msg("%s: took %.3f s", what, took);
	if (ino >= 0 && read(ino, events, sizeof(events)) > 0)
		fail_msg("%s: the file was opened", what);
}

struct hostile {
	int ino;
	int master;
	char fifo[128], pty[64], node[128];
	bool have_node;
};

static void hostile_files(struct hostile *h)
{
	char link[128];

	h->ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	assert_true(h->ino >= 0);
	path_in(h->fifo, sizeof(h->fifo), dir, "fifo");
	assert_int_equal(mkfifo(h->fifo, 0600), 0);
	h->master = posix_openpt(O_RDWR | O_NOCTTY);
	assert_true(h->master >= 0);
	assert_int_equal(grantpt(h->master), 0);
	assert_int_equal(unlockpt(h->master), 0);
	assert_int_equal(ptsname_r(h->master, h->pty, sizeof(h->pty)), 0);
	path_in(h->node, sizeof(h->node), dir, "zero-node"); /* /dev/zero's numbers, private */
	h->have_node = mknod(h->node, S_IFCHR | 0600, makedev(1, 5)) == 0;
	if (!h->have_node)
		fprintf(stderr, "no CAP_MKNOD: the character device node case is left out\n");
	assert_true(inotify_add_watch(h->ino, h->fifo, IN_OPEN) >= 0);
	assert_true(inotify_add_watch(h->ino, h->pty, IN_OPEN) >= 0);
	if (h->have_node)
		assert_true(inotify_add_watch(h->ino, h->node, IN_OPEN) >= 0);
	path_in(link, sizeof(link), dir, "zero-link");
	assert_int_equal(symlink("/dev/zero", link), 0);
	path_in(link, sizeof(link), dir, "pty-link");
	assert_int_equal(symlink(h->pty, link), 0);
}

static void hostile_cleanup(struct hostile *h)
{
	char link[128];

	close(h->ino);
	close(h->master);
	unlink(h->fifo);
	if (h->have_node)
		unlink(h->node);
	path_in(link, sizeof(link), dir, "zero-link");
	unlink(link);
	path_in(link, sizeof(link), dir, "pty-link");
	unlink(link);
}

/* With the directory allowed and raw backing allowed, so the default refusal cannot help. */
static void test_hostile_backing_files(void **state)
{
	static const struct { const char *name; int err; } named[] = {
		{ "fifo", -EINVAL }, { "zero-node", -EINVAL }, { "/dev/zero", -EPERM },
		{ "zero-link", -EPERM }, { "pty-link", -EPERM }, { "pty", -EPERM },
	};
	const char *dirs[] = { dir, NULL };
	char top[128];
	struct qcow2_config cfg = {
		.path = top, .readonly = true, .log_prefix = "t",
		.backing = { .dirs = dirs, .has_dir_format = true, .dir_format = XBD_FORMAT_RAW,
			     .raw_ok = true },
	};
	struct hostile h;

	(void)state;
	hostile_files(&h);
	path_in(top, sizeof(top), dir, "hostile.qcow2");
	for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
		const char *name = !strcmp(named[i].name, "pty") ? h.pty : named[i].name;

		if (!strcmp(name, "zero-node") && !h.have_node)
			continue;
		make_image(top, name, "raw", 0, NULL);
		refused_fast(&cfg, named[i].err, h.ino, name);
	}
	/* The top image itself a FIFO or a device: refused as fast, never opened. */
	cfg.path = h.fifo;
	refused_fast(&cfg, -EINVAL, h.ino, "top image a FIFO");
	cfg.path = h.pty;
	refused_fast(&cfg, -EINVAL, h.ino, "top image a pty");
	unlink(top);
	hostile_cleanup(&h);
}

/* The administrator may name a block device in a chain, but never a FIFO or a tty. */
static void test_hostile_files_in_configured_chain(void **state)
{
	struct xbd_backing_file chain[1];
	char top[128];
	struct qcow2_config cfg = { .path = top, .readonly = true, .log_prefix = "t",
				    .backing = { .chain = chain, .chain_len = 1 } };
	struct hostile h;

	(void)state;
	hostile_files(&h);
	path_in(top, sizeof(top), dir, "hostile.qcow2");
	chain[0] = (struct xbd_backing_file){ XBD_FORMAT_RAW, h.fifo };
	make_image(top, "fifo", NULL, 0, NULL);
	refused_fast(&cfg, -EINVAL, h.ino, "configured FIFO");
	chain[0].path = h.pty;
	make_image(top, strrchr(h.pty, '/') + 1, NULL, 0, NULL);
	refused_fast(&cfg, -EINVAL, h.ino, "configured pty");
	chain[0].path = "/dev/zero";
	make_image(top, "zero", NULL, 0, NULL);
	refused_fast(&cfg, -EINVAL, -1, "configured /dev/zero");
	unlink(top);
	hostile_cleanup(&h);
}

static void test_symlink_escape(void **state)
{
	const char *dirs[] = { dir, NULL };
	char top[128], secret[160], link[128], rel[160];
	struct qcow2_config cfg = {
		.path = top, .readonly = true, .log_prefix = "t",
		.backing = { .dirs = dirs, .has_dir_format = true, .dir_format = XBD_FORMAT_RAW,
			     .raw_ok = true },
	};

	(void)state;
	path_in(top, sizeof(top), dir, "esc.qcow2");
	path_in(secret, sizeof(secret), outside, "secret.raw");
	path_in(link, sizeof(link), dir, "esc.raw");
	make_raw(secret, 0x77);
	snprintf(rel, sizeof(rel), "..%s/secret.raw", strrchr(outside, '/'));
	assert_int_equal(symlink(rel, link), 0);
	make_image(top, "esc.raw", NULL, 0, NULL);
	assert_int_equal(open_close(&cfg), -EPERM);
	make_image(top, rel, NULL, 0, NULL);
	assert_int_equal(open_close(&cfg), -EPERM);
	make_image(top, secret, NULL, 0, NULL);
	assert_int_equal(open_close(&cfg), -EPERM);
	unlink(link);
	assert_int_equal(symlink("/proc/self/fd/0", link), 0);
	make_image(top, "esc.raw", NULL, 0, NULL);
	assert_int_equal(open_close(&cfg), -EPERM);
	/* A symlink that stays inside is fine. */
	unlink(link);
	path_in(secret, sizeof(secret), dir, "inside.raw");
	make_raw(secret, 0x78);
	assert_int_equal(symlink("inside.raw", link), 0);
	assert_int_equal(first_byte(&cfg), 0x78);
	unlink(link);
	unlink(secret);
	path_in(secret, sizeof(secret), outside, "secret.raw");
	unlink(secret);
	unlink(top);
}

/* QEMU's (and our) lock bytes: a writer holds byte 101. */
static void test_write_locked_backing_refused(void **state)
{
	char top[128], base[128], log[4096];
	struct xbd_backing_file chain[] = { { XBD_FORMAT_RAW, base } };
	struct qcow2_config cfg = { .path = top, .readonly = true, .log_prefix = "t",
				    .backing = { .chain = chain, .chain_len = 1 } };
	struct qcow2 *s = NULL;
	int writer, reader;

	(void)state;
	path_in(top, sizeof(top), dir, "locked.qcow2");
	path_in(base, sizeof(base), dir, "locked.raw");
	make_raw(base, 0x11);
	make_image(top, "locked.raw", "raw", 0, NULL);
	writer = open(base, O_RDWR | O_CLOEXEC);
	assert_int_equal(xbd_image_lock(writer, false, base, "writer"), 0);
	assert_int_equal(captured(open_close, &cfg, log, sizeof(log)), -EBUSY);
	assert_non_null(strstr(log, "another program holds it for writing"));
	close(writer);
	reader = open(base, O_RDONLY | O_CLOEXEC); /* readers share it */
	assert_int_equal(xbd_image_lock(reader, true, base, "reader"), 0);
	assert_int_equal(qcow2_open(&cfg, &s), 0);
	writer = open(base, O_RDWR | O_CLOEXEC);  /* and we keep writers out while open */
	assert_int_equal(xbd_image_lock(writer, false, base, "writer"), -EBUSY);
	close(writer);
	qcow2_close(s);
	close(reader);
	unlink(top);
	unlink(base);
}

/* External data files stay refused, before the file the extension names is looked at. */
static void test_data_file_refused(void **state)
{
	const char *dirs[] = { dir, NULL };
	char top[128], fifo[128], events[4096];
	struct qcow2_config cfg = {
		.path = top, .readonly = true, .log_prefix = "t",
		.backing = { .dirs = dirs, .trust_header_format = true, .raw_ok = true },
	};
	int ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);

	(void)state;
	path_in(top, sizeof(top), dir, "ext.qcow2");
	path_in(fifo, sizeof(fifo), dir, "data-fifo");
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_true(inotify_add_watch(ino, fifo, IN_OPEN) >= 0);
	make_image(top, NULL, NULL, QCOW2_INCOMPAT_DATA_FILE, "data-fifo");
	refused_fast(&cfg, -EOPNOTSUPP, ino, "external data file");
	cfg.readonly = false;
	refused_fast(&cfg, -EOPNOTSUPP, ino, "external data file, read-write");
	assert_true(read(ino, events, sizeof(events)) < 0);
	close(ino);
	unlink(fifo);
	unlink(top);
}

static void test_forbidden_directories(void **state)
{
	static const char *const never[] = { "/", "/dev", "/dev/", "/run", "/proc", "/proc/self",
					     "/sys", "/sys/kernel", "/dev/fd" };
	const char *dirs[] = { "/dev", NULL };
	char top[128], link[128];
	struct qcow2_config cfg = {
		.path = top, .readonly = true, .log_prefix = "t",
		.backing = { .dirs = dirs, .has_dir_format = true, .dir_format = XBD_FORMAT_RAW,
			     .raw_ok = true },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++)
		assert_int_equal(xbd_qcow2_backing_dir_check(never[i]), -EPERM);
	path_in(link, sizeof(link), outside, "devlink");
	assert_int_equal(symlink("/dev", link), 0);
	assert_int_equal(xbd_qcow2_backing_dir_check(link), -EPERM);
	assert_int_equal(xbd_qcow2_backing_dir_check(dir), 0);
	assert_int_equal(xbd_qcow2_backing_dir_check("/nonexistent-xbd"), -ENOENT);
	/* And the library refuses one too, whoever configured it. */
	path_in(top, sizeof(top), dir, "dev.qcow2");
	make_image(top, "/dev/zero", NULL, 0, NULL);
	assert_int_equal(open_close(&cfg), -EPERM);
	unlink(top);
	unlink(link);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/var/tmp/xbd-backing.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(outside, sizeof(outside), "%s-outside", dir);
	return mkdir(outside, 0700);
}

static int teardown(void **state)
{
	(void)state;
	rmdir(outside);
	return rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sibling_refused_by_default),
		cmocka_unit_test(test_chain_entry_must_agree),
		cmocka_unit_test(test_header_format_only_when_trusted),
		cmocka_unit_test(test_hostile_backing_files),
		cmocka_unit_test(test_hostile_files_in_configured_chain),
		cmocka_unit_test(test_symlink_escape),
		cmocka_unit_test(test_write_locked_backing_refused),
		cmocka_unit_test(test_data_file_refused),
		cmocka_unit_test(test_forbidden_directories),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
