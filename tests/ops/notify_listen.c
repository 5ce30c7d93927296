/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A stand-in for systemd's notification socket, for tests on machines where systemd is not
 * PID 1: binds a Unix datagram socket at PATH (what NOTIFY_SOCKET names) and prints every
 * message it receives on one line, its newlines shown as '|', until SECONDS have passed or
 * STOP-AFTER appears in a message.
 *
 * usage: notify-listen PATH SECONDS [STOP-AFTER]
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

static int bind_at(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || strlen(path) >= sizeof(a.sun_path))
		return -1;
	strcpy(a.sun_path, path);
	unlink(path);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)))
		return -1;
	return fd;
}

int main(int argc, char **argv)
{
	long long deadline;
	int fd;

	if (argc < 3) {
		fprintf(stderr, "usage: notify-listen PATH SECONDS [STOP-AFTER]\n");
		return 2;
	}
	fd = bind_at(argv[1]);
	if (fd < 0) {
		perror("notify-listen: bind");
		return 1;
	}
	deadline = now_ms() + atoll(argv[2]) * 1000;
	for (long long left; (left = deadline - now_ms()) > 0;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		char buf[4096];
		ssize_t n;

		if (poll(&p, 1, (int)left) <= 0)
			continue;
		n = recv(fd, buf, sizeof(buf) - 1, 0);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		for (char *c = buf; *c; c++)
			if (*c == '\n')
				*c = '|';
		printf("%s\n", buf);
		fflush(stdout);
		if (argc > 3 && strstr(buf, argv[3]))
			break;
	}
	unlink(argv[1]);
	return 0;
}
