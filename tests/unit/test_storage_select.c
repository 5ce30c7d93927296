/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Choosing the engine: io_uring by default; when a seccomp filter makes io_uring_setup fail
 * (as a sandbox, an old kernel or io_uring_disabled would), the default falls back to libaio on
 * an O_DIRECT file and to threads on a buffered one, and to threads when io_setup fails too,
 * while an engine asked for by name must work or the open fails. Each case runs in a child,
 * since a seccomp filter cannot be removed.
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "test_storage_util.h"
#include "io/io.h"

static char path[64];

/* From now on io_uring_setup (and io_setup if `aio_too`) fail with ENOSYS. */
static int deny(bool aio_too)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, aio_too ? __NR_io_setup : ~0u, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

/* In a child: open with `engine` (NULL: default) under the filter; exit 0 if the result is
 * `want_err`, and, on success, the engine is `want` and does I/O. */
static void expect(bool aio_too, bool buffered, const char *engine, int want_err,
		   const char *want)
{
	struct xbd_disk_config cfg = { .format = XBD_FORMAT_RAW, .no_direct = buffered };
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		struct xbd_disk *d = NULL;
		struct xbd_sq *q;
		char buf[512] __attribute__((aligned(4096)));
		struct tio t;
		unsigned int ready;

		if (deny(aio_too))
			_exit(10);
		if (t_try_open(path, engine, NULL, &cfg, &d) != want_err)
			_exit(11);
		if (want_err)
			_exit(0);
		if (strcmp(xbd_disk_get_info(d)->engine_name, want) || xbd_sq_open(d, 2, &q))
			_exit(12);
		t_io(&t, XBD_IO_READ, 0, buf, sizeof(buf));
		xbd_sq_queue(q, &t.io);
		xbd_sq_submit(q);
		for (int i = 0; i < 100 && !t.done; i++)
			xbd_sq_wait(q, NULL, 0, &ready, true, 50);
		_exit(t.done && t.res == 0 ? 0 : 13);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_default_is_uring(void **state)
{
	struct xbd_disk *d = t_open(path, NULL, NULL, NULL);

	(void)state;
	assert_string_equal(xbd_disk_get_info(d)->engine_name, "io_uring");
	xbd_disk_close(d);
}

static void test_fallbacks(void **state)
{
	bool aio = xbd_engine_find("libaio") != NULL;

	(void)state;
	expect(false, false, NULL, 0, aio ? "libaio" : "threads");
	expect(false, true, NULL, 0, "threads");
	expect(true, false, NULL, 0, "threads");
	expect(false, false, "io_uring", -ENOSYS, NULL);
	expect(false, false, "threads", 0, "threads");
	if (aio)
		expect(true, false, "libaio", -ENOSYS, NULL);
}

static int setup(void **state)
{
	(void)state;
	t_make_image(NULL, 1 << 20, path);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_is_uring),
		cmocka_unit_test(test_fallbacks),
	};

	return cmocka_run_group_tests_name("storage_select", tests, setup, teardown);
}
