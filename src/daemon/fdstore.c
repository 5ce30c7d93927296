/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The sd_notify fd store (see fdstore.h). Sending goes through libsystemd's
 * sd_pid_notify_with_fds and receiving through sd_listen_fds_with_names when the build has
 * libsystemd, otherwise through the few lines of the same protocol below. Either way what comes
 * back is checked again here: the supervisor is trusted, but an environment is easy to get
 * wrong (a stale LISTEN_PID after an exec, a count that does not match the names), and a wrong
 * fd taken for a journal would replay the wrong requests. So: LISTEN_PID must be ours, every
 * fd in LISTEN_FDS must be open, the names must match the count, each name must be one of
 * ours ([A-Za-z0-9_.-], at most 255); everything taken is CLOEXEC; an fd without a usable
 * name is closed; an fd whose name came back twice is never used.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "fdstore.h"
#include "xenblkd/log.h"

#define LISTEN_FDS_START 3

struct passed_fd {
	char name[XBD_FDSTORE_NAME_MAX + 1];
	int fd;                       /* -1 once taken or closed */
};

static struct passed_fd passed[XBD_FDSTORE_MAX_FDS];
static unsigned int nr_passed;
/* What went wrong while collecting, logged at the first call (the log is not set up yet). */
static char collect_problem[200];
static bool problem_logged;

/* "unknown" and "stored" are what systemd calls an fd given without a name: not a name. */
static bool name_valid(const char *name)
{
	size_t n = strnlen(name, XBD_FDSTORE_NAME_MAX + 1);

	if (!n || n > XBD_FDSTORE_NAME_MAX || !strcmp(name, "unknown") || !strcmp(name, "stored"))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

/* A decimal without sign, spaces or leading zeros' tricks beyond INT_MAX: the value or -1. */
static long parse_count(const char *s)
{
	char *end;
	long v;

	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v > INT_MAX)
		return -1;
	return v;
}

static void note_problem(const char *what)
{
	if (!collect_problem[0])
		snprintf(collect_problem, sizeof(collect_problem), "%s", what);
}

static void log_problem_once(void)
{
	if (collect_problem[0] && !problem_logged) {
		problem_logged = true;
		xbd_warn("fdstore", "fds passed back at start ignored: %s", collect_problem);
	}
}

static bool fd_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>

/* <0 error, 0 nothing for us, n fds at 3.. with n names (freed by the caller). */
static int listen_fds(char ***names)
{
	return sd_listen_fds_with_names(1, names);
}

static int notify_with_fd(const char *msg, int fd)
{
	int r = sd_pid_notify_with_fds(0, 0, msg, &fd, fd >= 0 ? 1 : 0);

	return r > 0 ? 0 : r == 0 ? -ENOTSUP : r;
}
#else
static void unset_listen_env(void)
{
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
}

/* Splits LISTEN_FDNAMES at ':' (empty names kept, as libsystemd does): the count, or -errno. */
static int split_names(const char *e, char ***out)
{
	size_t n = 1, i = 0;
	char **v, *copy, *p, *colon;

	for (const char *c = e; *c; c++)
		n += *c == ':';
	if (n > XBD_FDSTORE_MAX_FDS * 64)
		return -E2BIG;
	v = calloc(n + 1, sizeof(*v));
	copy = strdup(e);
	if (!v || !copy) {
		free(v);
		free(copy);
		return -ENOMEM;
	}
	for (p = copy; i < n; p = colon + 1) {
		colon = strchr(p, ':');
		if (colon)
			*colon = '\0';
		v[i++] = strdup(p);
		if (!colon)
			break;
	}
	free(copy);
	for (i = 0; i < n; i++)
		if (!v[i]) {
			for (size_t j = 0; j < n; j++)
				free(v[j]);
			free(v);
			return -ENOMEM;
		}
	*out = v;
	return (int)n;
}

/* The same contract as sd_listen_fds_with_names(1, names). */
static int listen_fds(char ***names)
{
	const char *e_pid = getenv("LISTEN_PID"), *e_fds = getenv("LISTEN_FDS");
	const char *e_names = getenv("LISTEN_FDNAMES");
	long pid = parse_count(e_pid), n = parse_count(e_fds);
	char **v = NULL;
	int r = 0;

	if (!e_pid)
		goto out;
	if (pid <= 0) {
		r = -EINVAL;
		goto out;
	}
	if (pid != getpid())
		goto out;
	if (n == 0)
		goto out;
	if (n < 0 || n > INT_MAX - LISTEN_FDS_START) {
		r = -EINVAL;
		goto out;
	}
	for (long i = 0; i < n; i++)
		if (fcntl(LISTEN_FDS_START + (int)i, F_SETFD, FD_CLOEXEC) < 0) {
			r = -errno;
			goto out;
		}
	if (e_names) {
		int k = split_names(e_names, &v);

		if (k < 0 || k != n) {
			r = k < 0 ? k : -EINVAL;
			goto out_free;
		}
	} else {
		v = calloc((size_t)n + 1, sizeof(*v));
		for (long i = 0; v && i < n; i++)
			if (!(v[i] = strdup("unknown")))
				r = -ENOMEM;
		if (!v || r)
			goto out_free;
	}
	*names = v;
	unset_listen_env();
	return (int)n;
out_free:
	if (!v && !r)
		r = -ENOMEM;
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
out:
	unset_listen_env();
	return r;
}

static int notify_socket_addr(struct sockaddr_un *sa, socklen_t *len)
{
	const char *e = getenv("NOTIFY_SOCKET");
	size_t n;

	if (!e || !*e)
		return -ENOTSUP;
	n = strlen(e);
	if ((e[0] != '/' && e[0] != '@') || n >= sizeof(sa->sun_path))
		return -EINVAL;
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path, e, n);
	if (e[0] == '@')
		sa->sun_path[0] = '\0';
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (e[0] == '/'));
	return 0;
}

static int notify_with_fd(const char *msg, int fd)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct sockaddr_un sa;
	struct iovec iov = { .iov_base = (void *)msg, .iov_len = strlen(msg) };
	struct msghdr mh = { .msg_name = &sa, .msg_iov = &iov, .msg_iovlen = 1 };
	socklen_t len;
	int s, r = notify_socket_addr(&sa, &len);

	if (r)
		return r;
	mh.msg_namelen = len;
	if (fd >= 0) {
		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = sizeof(ctl.buf);
		ctl.h.cmsg_level = SOL_SOCKET;
		ctl.h.cmsg_type = SCM_RIGHTS;
		ctl.h.cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(&ctl.h), &fd, sizeof(int));
	}
	s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	r = sendmsg(s, &mh, MSG_NOSIGNAL) < 0 ? -errno : 0;
	close(s);
	return r;
}
#endif

/* After a failed listen_fds(): the fds our own LISTEN_PID named are closed rather than leaked
 * (none of them can be trusted), as far as the count is plausible. */
static void close_untrusted(long pid, long n)
{
	if (pid != getpid() || n <= 0 || n > XBD_FDSTORE_MAX_FDS * 16)
		return;
	for (long i = 0; i < n; i++)
		if (fd_open(LISTEN_FDS_START + (int)i))
			close(LISTEN_FDS_START + (int)i);
}

static void keep_or_close(int fd, const char *name)
{
	char why[120];

	if (!name_valid(name) || !fd_open(fd)) {
		snprintf(why, sizeof(why), "fd %d has no usable name", fd);
		note_problem(why);
		close(fd);
		return;
	}
	if (nr_passed == XBD_FDSTORE_MAX_FDS) {
		note_problem("more fds than XBD_FDSTORE_MAX_FDS");
		close(fd);
		return;
	}
	snprintf(passed[nr_passed].name, sizeof(passed[0].name), "%s", name);
	passed[nr_passed++].fd = fd;
}

static void collect_passed_fds(void)
{
	const char *e_pid = getenv("LISTEN_PID"), *e_fds = getenv("LISTEN_FDS");
	long pid = parse_count(e_pid), n_env = parse_count(e_fds);
	char **names = NULL;
	int n;

	/* libsystemd reads numbers with strtol (a sign, spaces, hex): we take plain decimals. */
	if (e_pid && (pid <= 0 || n_env < 0)) {
		note_problem("LISTEN_PID or LISTEN_FDS is not a plain number");
		unsetenv("LISTEN_PID");
		unsetenv("LISTEN_FDS");
		unsetenv("LISTEN_FDNAMES");
		return;
	}
	n = listen_fds(&names);

	if (n < 0) {
		note_problem(strerror(-n));
		close_untrusted(pid, n_env);
		return;
	}
	for (int i = 0; i < n; i++) {
		keep_or_close(LISTEN_FDS_START + i, names[i]);
		free(names[i]);
	}
	free(names);
}

/* Before main(): see fdstore.h. */
__attribute__((constructor)) static void fdstore_collect_at_start(void)
{
	collect_passed_fds();
}

bool xbd_fdstore_available(void)
{
	const char *sock = getenv("NOTIFY_SOCKET");

	log_problem_once();
	/* systemd 254 and later set FDSTORE to FileDescriptorStoreMax=; our units set it for
	 * older ones, the watcher and the harness set it too. Without it a put would vanish. */
	return sock && (sock[0] == '/' || sock[0] == '@') && parse_count(getenv("FDSTORE")) > 0;
}

/* Every fd passed under name is closed and forgotten: the count of them. */
static unsigned int drop_passed(const char *name)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < nr_passed; i++)
		if (passed[i].fd >= 0 && !strcmp(passed[i].name, name)) {
			close(passed[i].fd);
			passed[i].fd = -1;
			n++;
		}
	return n;
}

int xbd_fdstore_take(const char *name)
{
	int found = -1;

	log_problem_once();
	if (!name_valid(name))
		return -EINVAL;
	for (unsigned int i = 0; i < nr_passed; i++) {
		if (passed[i].fd < 0 || strcmp(passed[i].name, name))
			continue;
		if (found >= 0) {
			unsigned int n = drop_passed(name);

			xbd_warn("fdstore", "%u fds came back as %s: none is used", n, name);
			if (xbd_fdstore_available())
				xbd_fdstore_remove(name);
			return -ENOTUNIQ;
		}
		found = (int)i;
	}
	if (found < 0)
		return -ENOENT;
	int fd = passed[found].fd;

	passed[found].fd = -1;
	return fd;
}

int xbd_fdstore_put(const char *name, int fd)
{
	char msg[64 + XBD_FDSTORE_NAME_MAX];

	if (!name_valid(name) || fd < 0)
		return -EINVAL;
	if (!xbd_fdstore_available())
		return -ENOTSUP;
	/* FDPOLL=0: a journal is not pollable, and a hang-up must never drop it from the store. */
	snprintf(msg, sizeof(msg), "FDSTORE=1\nFDNAME=%s\nFDPOLL=0", name);
	return notify_with_fd(msg, fd);
}

int xbd_fdstore_remove(const char *name)
{
	char msg[64 + XBD_FDSTORE_NAME_MAX];

	if (!name_valid(name))
		return -EINVAL;
	if (!xbd_fdstore_available())
		return -ENOTSUP;
	snprintf(msg, sizeof(msg), "FDSTOREREMOVE=1\nFDNAME=%s", name);
	return notify_with_fd(msg, -1);
}
