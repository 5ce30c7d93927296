/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The daemon's fd store (src/daemon/fdstore.c), built twice: on libsystemd (test_fdstore) and
 * on its own lines of the protocol (test_fdstore_nosd). Sending is checked on a socket of ours
 * standing for NOTIFY_SOCKET; receiving by placing memfds at fds 3.. and setting LISTEN_* the
 * way a supervisor would, right or wrong, then running the collection the constructor runs.
 * The file is included so the tests can run the collection again with a clean table.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/mman.h>

#include "daemon/fdstore.c"

#define STAGE_FD 600

static char sock_path[108];
static int sock_fd = -1;

static void reset_collection(void)
{
	for (unsigned int i = 0; i < nr_passed; i++)
		if (passed[i].fd >= 0)
			close(passed[i].fd);
	nr_passed = 0;
	collect_problem[0] = '\0';
	problem_logged = false;
}

/* n memfds holding "fd<i>" at fds 3.., staged high first so none lands on a target early. */
static void place_fds(int n)
{
	for (int i = 0; i < n; i++) {
		char text[16];
		int fd = memfd_create("t", MFD_CLOEXEC);

		assert_true(fd >= 0);
		snprintf(text, sizeof(text), "fd%d", i);
		assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
		assert_int_equal(dup2(fd, STAGE_FD + i), STAGE_FD + i);
		close(fd);
	}
	for (int i = 0; i < n; i++) {
		assert_false(fd_open(LISTEN_FDS_START + i) && LISTEN_FDS_START + i != STAGE_FD + i);
		assert_int_equal(dup2(STAGE_FD + i, LISTEN_FDS_START + i), LISTEN_FDS_START + i);
		close(STAGE_FD + i);
	}
}

static void close_placed(int n)
{
	for (int i = 0; i < n; i++)
		close(LISTEN_FDS_START + i);
}

static void set_listen(long pid, const char *fds, const char *names)
{
	char p[24];

	snprintf(p, sizeof(p), "%ld", pid);
	setenv("LISTEN_PID", p, 1);
	setenv("LISTEN_FDS", fds, 1);
	if (names)
		setenv("LISTEN_FDNAMES", names, 1);
	else
		unsetenv("LISTEN_FDNAMES");
}

static void assert_content(int fd, int i)
{
	char want[16], got[16] = "";

	snprintf(want, sizeof(want), "fd%d", i);
	assert_int_equal(pread(fd, got, sizeof(got) - 1, 0), (ssize_t)strlen(want));
	assert_string_equal(got, want);
}

static int setup_socket(void **state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	snprintf(sock_path, sizeof(sock_path), "/tmp/test_fdstore.%ld", (long)getpid());
	unlink(sock_path);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	sock_fd = fcntl(fd, F_DUPFD_CLOEXEC, 500);
	close(fd);
	setenv("NOTIFY_SOCKET", sock_path, 1);
	setenv("FDSTORE", "8", 1);
	reset_collection();
	return 0;
}

static int teardown_socket(void **state)
{
	close(sock_fd);
	unlink(sock_path);
	unsetenv("NOTIFY_SOCKET");
	unsetenv("FDSTORE");
	reset_collection();
	return 0;
}

/* One datagram: its text in buf, the fd it carried (or -1). */
static int receive(char *buf, size_t len)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(4 * sizeof(int))];
	} ctl;
	struct iovec iov = { .iov_base = buf, .iov_len = len - 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b,
			     .msg_controllen = sizeof(ctl.b) };
	ssize_t n = recvmsg(sock_fd, &mh, MSG_CMSG_CLOEXEC);
	int fd = -1;

	assert_true(n >= 0);
	buf[n] = '\0';
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			assert_int_equal(c->cmsg_len, CMSG_LEN(sizeof(int)));
			memcpy(&fd, CMSG_DATA(c), sizeof(int));
		}
	return fd;
}

static void test_unavailable_without_socket(void **state)
{
	unsetenv("NOTIFY_SOCKET");
	setenv("FDSTORE", "8", 1);
	assert_false(xbd_fdstore_available());
	assert_int_equal(xbd_fdstore_put("journal-vbd-1-51712", 0), -ENOTSUP);
	assert_int_equal(xbd_fdstore_remove("journal-vbd-1-51712"), -ENOTSUP);
	unsetenv("FDSTORE");
}

/* systemd < 254 does not say whether the unit has a store; without FDSTORE a put would be
 * dropped without a word, so no FDSTORE (or a nonsense one) means no store. */
static void test_unavailable_without_store_size(void **state)
{
	static const char *const bad[] = { "0", "", "x", "-3", "8x", " 8" };

	unsetenv("FDSTORE");
	assert_false(xbd_fdstore_available());
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		setenv("FDSTORE", bad[i], 1);
		assert_false(xbd_fdstore_available());
	}
	setenv("FDSTORE", "8", 1);
	setenv("NOTIFY_SOCKET", "relative/path", 1);
	assert_false(xbd_fdstore_available());
	setenv("NOTIFY_SOCKET", sock_path, 1);
	assert_true(xbd_fdstore_available());
}

static void test_put_sends_fd_and_name(void **state)
{
	char buf[512];
	struct stat a, b;
	int fd = memfd_create("journal", MFD_CLOEXEC), got;

	assert_int_equal(xbd_fdstore_put("journal-vbd-1-51712", fd), 0);
	got = receive(buf, sizeof(buf));
	assert_true(got >= 0);
	assert_non_null(strstr(buf, "FDSTORE=1\n"));
	assert_non_null(strstr(buf, "FDNAME=journal-vbd-1-51712"));
	assert_non_null(strstr(buf, "FDPOLL=0"));
	assert_int_equal(fstat(fd, &a), 0);
	assert_int_equal(fstat(got, &b), 0);
	assert_true(a.st_ino == b.st_ino && a.st_dev == b.st_dev);
	assert_true(fd_open(fd)); /* the caller keeps its own */
	close(got);
	close(fd);
}

static void test_remove_sends_name(void **state)
{
	char buf[512];

	assert_int_equal(xbd_fdstore_remove("journal-qdisk-3-768"), 0);
	assert_int_equal(receive(buf, sizeof(buf)), -1);
	assert_string_equal(buf, "FDSTOREREMOVE=1\nFDNAME=journal-qdisk-3-768");
}

/* A name is one line of the message: anything else could inject a command. */
static void test_bad_names_refused(void **state)
{
	char long_name[XBD_FDSTORE_NAME_MAX + 2];
	static const char *const bad[] = { "", "a:b", "a/b", "a\nFDSTOREREMOVE=1", "a b", "\xc3\xa9",
					    "unknown", "stored" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(xbd_fdstore_put(bad[i], 0), -EINVAL);
		assert_int_equal(xbd_fdstore_remove(bad[i]), -EINVAL);
		assert_int_equal(xbd_fdstore_take(bad[i]), -EINVAL);
	}
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	assert_int_equal(xbd_fdstore_put(long_name, 0), -EINVAL);
	long_name[XBD_FDSTORE_NAME_MAX] = '\0';
	assert_int_equal(xbd_fdstore_remove(long_name), 0);
	assert_int_equal(xbd_fdstore_put("ok", -1), -EINVAL);
}

static void test_take_passed_fds(void **state)
{
	int a, b;

	place_fds(2);
	set_listen(getpid(), "2", "journal-vbd-1-51712:journal-vbd3-2-1");
	collect_passed_fds();
	assert_null(getenv("LISTEN_PID"));
	assert_null(getenv("LISTEN_FDS"));
	assert_null(getenv("LISTEN_FDNAMES"));
	b = xbd_fdstore_take("journal-vbd3-2-1");
	a = xbd_fdstore_take("journal-vbd-1-51712");
	assert_int_equal(a, 3);
	assert_int_equal(b, 4);
	assert_content(a, 0);
	assert_content(b, 1);
	assert_true(fcntl(a, F_GETFD) & FD_CLOEXEC);
	assert_true(fcntl(b, F_GETFD) & FD_CLOEXEC);
	/* Each name once. */
	assert_int_equal(xbd_fdstore_take("journal-vbd-1-51712"), -ENOENT);
	assert_int_equal(xbd_fdstore_take("journal-vbd-9-9"), -ENOENT);
	close_placed(2);
}

/* LISTEN_PID of another process (an exec'd child inheriting the environment): not ours. */
static void test_other_pid_ignored(void **state)
{
	place_fds(1);
	set_listen(getpid() + 1, "1", "journal-vbd-1-1");
	collect_passed_fds();
	assert_int_equal(xbd_fdstore_take("journal-vbd-1-1"), -ENOENT);
	assert_true(fd_open(3));
	assert_null(getenv("LISTEN_FDS"));
	close_placed(1);
}

static void test_names_not_matching_count(void **state)
{
	place_fds(2);
	set_listen(getpid(), "2", "journal-vbd-1-1");
	collect_passed_fds();
	assert_int_equal(xbd_fdstore_take("journal-vbd-1-1"), -ENOENT);
	assert_false(fd_open(3));
	assert_false(fd_open(4));
	assert_true(collect_problem[0] != '\0');
}

/* Without LISTEN_FDNAMES every fd is "unknown": none is ours to use. */
static void test_unnamed_closed(void **state)
{
	place_fds(2);
	set_listen(getpid(), "2", NULL);
	collect_passed_fds();
	assert_int_equal(xbd_fdstore_take("unknown"), -EINVAL);
	assert_false(fd_open(3));
	assert_false(fd_open(4));
}

static void test_bad_name_closed_others_kept(void **state)
{
	int fd;

	place_fds(3);
	set_listen(getpid(), "3", "bad@name::journal-vbd-1-2");
	collect_passed_fds();
	assert_false(fd_open(3));
	assert_false(fd_open(4));
	fd = xbd_fdstore_take("journal-vbd-1-2");
	assert_int_equal(fd, 5);
	assert_content(fd, 2);
	close(fd);
}

/* A count beyond the fds really open: nothing in the range can be trusted. */
static void test_count_beyond_open_fds(void **state)
{
	place_fds(1);
	set_listen(getpid(), "3", "a:b:c");
	collect_passed_fds();
	assert_int_equal(xbd_fdstore_take("a"), -ENOENT);
	assert_false(fd_open(3));
	assert_true(collect_problem[0] != '\0');
}

static void test_garbage_counts(void **state)
{
	static const char *const bad[] = { "1x", "-1", "", "+1", " 1", "99999999999", "0x1" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		reset_collection();
		place_fds(1);
		set_listen(getpid(), bad[i], "journal-vbd-1-1");
		collect_passed_fds();
		assert_int_equal(xbd_fdstore_take("journal-vbd-1-1"), -ENOENT);
		assert_null(getenv("LISTEN_FDS"));
		if (fd_open(3))
			close(3);
	}
	place_fds(1);
	setenv("LISTEN_PID", "12abc", 1);
	setenv("LISTEN_FDS", "1", 1);
	setenv("LISTEN_FDNAMES", "journal-vbd-1-1", 1);
	collect_passed_fds();
	assert_int_equal(xbd_fdstore_take("journal-vbd-1-1"), -ENOENT);
	close_placed(1);
}

/* Two fds under one name: neither is known to be the current journal. Both are closed and
 * the name is removed from the supervisor's store, so the next journal starts clean. */
static void test_duplicate_name_refused_and_removed(void **state)
{
	char buf[512];

	place_fds(3);
	set_listen(getpid(), "3", "journal-vbd-1-1:other:journal-vbd-1-1");
	collect_passed_fds();
	assert_int_equal(xbd_fdstore_take("journal-vbd-1-1"), -ENOTUNIQ);
	assert_false(fd_open(3));
	assert_false(fd_open(5));
	assert_int_equal(receive(buf, sizeof(buf)), -1);
	assert_string_equal(buf, "FDSTOREREMOVE=1\nFDNAME=journal-vbd-1-1");
	assert_int_equal(xbd_fdstore_take("journal-vbd-1-1"), -ENOENT);
	assert_int_equal(xbd_fdstore_take("other"), 4);
	close(4);
}

static void test_more_than_the_limit(void **state)
{
	enum { N = XBD_FDSTORE_MAX_FDS + 2 };
	char names[N * 8] = "", count[8];
	int fd;

	for (int i = 0; i < N; i++)
		snprintf(names + strlen(names), sizeof(names) - strlen(names), "%sn%d", i ? ":" : "",
			 i);
	snprintf(count, sizeof(count), "%d", N);
	place_fds(N);
	set_listen(getpid(), count, names);
	collect_passed_fds();
	fd = xbd_fdstore_take("n0");
	assert_int_equal(fd, 3);
	close(fd);
	assert_int_equal(xbd_fdstore_take("n64"), -ENOENT);
	assert_false(fd_open(3 + 64));
	assert_false(fd_open(3 + 65));
	assert_true(collect_problem[0] != '\0');
	for (int i = 1; i < XBD_FDSTORE_MAX_FDS; i++) {
		char n[8];

		snprintf(n, sizeof(n), "n%d", i);
		fd = xbd_fdstore_take(n);
		assert_int_equal(fd, 3 + i);
		close(fd);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unavailable_without_socket),
		cmocka_unit_test_setup_teardown(test_unavailable_without_store_size, setup_socket,
						teardown_socket),
		cmocka_unit_test_setup_teardown(test_put_sends_fd_and_name, setup_socket,
						teardown_socket),
		cmocka_unit_test_setup_teardown(test_remove_sends_name, setup_socket, teardown_socket),
		cmocka_unit_test_setup_teardown(test_bad_names_refused, setup_socket, teardown_socket),
		cmocka_unit_test_setup_teardown(test_take_passed_fds, setup_socket, teardown_socket),
		cmocka_unit_test_setup_teardown(test_other_pid_ignored, setup_socket, teardown_socket),
		cmocka_unit_test_setup_teardown(test_names_not_matching_count, setup_socket,
						teardown_socket),
		cmocka_unit_test_setup_teardown(test_unnamed_closed, setup_socket, teardown_socket),
		cmocka_unit_test_setup_teardown(test_bad_name_closed_others_kept, setup_socket,
						teardown_socket),
		cmocka_unit_test_setup_teardown(test_count_beyond_open_fds, setup_socket,
						teardown_socket),
		cmocka_unit_test_setup_teardown(test_garbage_counts, setup_socket, teardown_socket),
		cmocka_unit_test_setup_teardown(test_duplicate_name_refused_and_removed, setup_socket,
						teardown_socket),
		cmocka_unit_test_setup_teardown(test_more_than_the_limit, setup_socket,
						teardown_socket),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
