/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Where the journal lives (src/backend/vbd_journal.c, docs/restart.md): the /run file (0700
 * directory, 0600 file, no symlink followed, owner and size checked), the supervisor's fd
 * store through a fake keeper, removal, and which drivers may have a journal at all.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "xenblkd/vbd.h"

struct fx {
	char dir[64];
	char file[160];
	struct xbd_vbd_options opt;
	struct xbd_vbd v;
	struct xbd_fe_params p;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/xbd-vj.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->file, sizeof(f->file), "%s/journal/vbd-3-51712", f->dir);
	f->opt.run_dir = f->dir;
	f->opt.max_indirect_segs = 32;
	f->v.opt = &f->opt;
	f->v.be_path = strdup("/local/domain/0/backend/vbd/3/51712");
	f->v.fe_domid = 3;
	f->v.devid = 51712;
	f->p = (struct xbd_fe_params){ .nr_queues = 2, .ring_order = 1, .proto = XBD_PROTO_NATIVE };
	f->p.ring_refs[0][0] = 8;
	f->p.ring_refs[1][0] = 9;
	f->p.ports[0] = 5;
	f->p.ports[1] = 6;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[100];

	xbd_vbd_journal_remove(&f->v);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f->v.be_path);
	free(f);
	return 0;
}

static void test_create_open_remove(void **state)
{
	struct fx *f = *state;
	const char *why = NULL;
	struct stat st;

	assert_int_equal(xbd_vbd_journal_create(&f->v, &f->p), 0);
	assert_non_null(f->v.jmem);
	assert_int_equal(stat(f->file, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(f->file, sizeof(f->file), "%s/journal", f->dir);
	assert_int_equal(stat(f->file, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	/* A record survives an unmap and a new open, as it survives the process. */
	f->v.jq[1].hdr->req_cons = 0;
	munmap(f->v.jmem, f->v.jsize);
	f->v.jmem = NULL;
	assert_int_equal(xbd_vbd_journal_open(&f->v, &f->p, &why), 0);
	assert_int_equal(f->v.jq[1].hdr->port, 6);
	assert_true(xbd_vbd_journal_remove(&f->v));
	assert_false(xbd_vbd_journal_remove(&f->v));
	assert_int_equal(xbd_vbd_journal_open(&f->v, &f->p, &why), -ENOENT);
}

static void test_open_other_connection(void **state)
{
	struct fx *f = *state;
	const char *why = NULL;

	assert_int_equal(xbd_vbd_journal_create(&f->v, &f->p), 0);
	munmap(f->v.jmem, f->v.jsize);
	f->v.jmem = NULL;
	f->p.ports[1] = 7; /* the frontend reconnected: another event channel */
	assert_int_equal(xbd_vbd_journal_open(&f->v, &f->p, &why), -EUCLEAN);
	assert_non_null(strstr(why, "reconnected"));
	assert_null(f->v.jmem);
	f->p.ports[1] = 6;
	f->p.ring_order = 2; /* another size: refused before it is mapped */
	assert_int_equal(xbd_vbd_journal_open(&f->v, &f->p, &why), -EUCLEAN);
	assert_non_null(strstr(why, "size"));
}

static void test_symlink_refused(void **state)
{
	struct fx *f = *state;
	const char *why = NULL;
	char target[200];

	assert_int_equal(xbd_vbd_journal_create(&f->v, &f->p), 0);
	munmap(f->v.jmem, f->v.jsize);
	f->v.jmem = NULL;
	snprintf(target, sizeof(target), "%s.real", f->file);
	assert_int_equal(rename(f->file, target), 0);
	assert_int_equal(symlink(target, f->file), 0);
	assert_int_equal(xbd_vbd_journal_open(&f->v, &f->p, &why), -ELOOP);
	unlink(target);
}

static void test_open_dir_refused(void **state)
{
	struct fx *f = *state;
	const char *why = NULL;
	char jdir[100];

	snprintf(jdir, sizeof(jdir), "%s/journal", f->dir);
	assert_int_equal(mkdir(jdir, 0755), 0);
	assert_int_equal(xbd_vbd_journal_create(&f->v, &f->p), -EPERM);
	assert_int_equal(xbd_vbd_journal_open(&f->v, &f->p, &why), -EPERM);
}

static void test_truncated_refused(void **state)
{
	struct fx *f = *state;
	const char *why = NULL;

	assert_int_equal(xbd_vbd_journal_create(&f->v, &f->p), 0);
	munmap(f->v.jmem, f->v.jsize);
	f->v.jmem = NULL;
	assert_int_equal(truncate(f->file, 4096), 0);
	assert_int_equal(xbd_vbd_journal_open(&f->v, &f->p, &why), -EUCLEAN);
	assert_non_null(strstr(why, "size"));
}

/* A fake supervisor store: one name, one fd. */
static int kept_fd = -1, nr_puts, removes;
static char kept_name[300];

static int fake_take(const char *name)
{
	int fd = kept_fd >= 0 && !strcmp(name, kept_name) ? dup(kept_fd) : -1;

	return fd >= 0 ? fd : -ENOENT;
}

static int fake_put(const char *name, int fd)
{
	nr_puts++;
	snprintf(kept_name, sizeof(kept_name), "%s", name);
	kept_fd = dup(fd);
	return 0;
}

static int fake_remove(const char *name)
{
	removes++;
	if (kept_fd >= 0 && !strcmp(name, kept_name)) {
		close(kept_fd);
		kept_fd = -1;
	}
	return 0;
}

static const struct xbd_fd_keeper fake_keeper = { fake_take, fake_put, fake_remove };

static void test_fd_store(void **state)
{
	struct fx *f = *state;
	const char *why = NULL;
	struct stat st;

	f->opt.fd_keeper = &fake_keeper;
	assert_int_equal(xbd_vbd_journal_create(&f->v, &f->p), 0);
	assert_int_equal(nr_puts, 1);
	assert_string_equal(kept_name, "journal-vbd-3-51712");
	assert_int_not_equal(stat(f->file, &st), 0); /* no file beside the store */
	f->v.jq[0].hdr->req_cons = 0;
	munmap(f->v.jmem, f->v.jsize);
	f->v.jmem = NULL;
	assert_int_equal(xbd_vbd_journal_open(&f->v, &f->p, &why), 0);
	assert_int_equal(nr_puts, 1); /* the store keeps it: not put again */
	xbd_vbd_journal_remove(&f->v);
	assert_int_equal(kept_fd, -1);
	assert_true(removes >= 2);
}

static void test_resumable(void **state)
{
	struct fx *f = *state;
	const char *why = NULL;

	f->v.image_format = XBD_FORMAT_RAW;
	assert_true(xbd_vbd_resumable(&f->v, &why));
	/* qcow2 resumes with its metadata written through (the default), not written back. */
	f->v.image_format = XBD_FORMAT_QCOW2;
	assert_true(xbd_vbd_resumable(&f->v, &why));
	f->opt.qcow2_write_back = true;
	assert_false(xbd_vbd_resumable(&f->v, &why));
	assert_non_null(strstr(why, "qcow2"));
	assert_non_null(strstr(why, "--qcow2-write-back"));
	f->opt.qcow2_write_back = false;
	f->v.image_format = XBD_FORMAT_RBD;
	assert_false(xbd_vbd_resumable(&f->v, &why));
	f->v.image_format = XBD_FORMAT_RAW;
	f->opt.driver = "memory:size=1M";
	assert_false(xbd_vbd_resumable(&f->v, &why));
	f->opt.driver = "null";
	assert_true(xbd_vbd_resumable(&f->v, &why));
}

static void test_bad_kind_refused(void **state)
{
	struct fx *f = *state;

	free(f->v.be_path);
	f->v.be_path = strdup("/local/domain/0/backend/v bd/3/51712");
	assert_int_equal(xbd_vbd_journal_create(&f->v, &f->p), -EINVAL);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_create_open_remove), T(test_open_other_connection), T(test_symlink_refused),
		T(test_open_dir_refused), T(test_truncated_refused), T(test_fd_store),
		T(test_resumable), T(test_bad_kind_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
