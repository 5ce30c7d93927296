/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * stderr into a pipe and back, for the logger's tests (stderr_capture.h). The pipe holds what
 * one test logs (well under the pipe's 64 KiB), so nothing blocks while stderr points at it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "stderr_capture.h"

static int saved_stderr = -1, pipe_rd = -1;

void capture_begin(void)
{
	int p[2];

	assert_int_equal(pipe(p), 0);
	saved_stderr = dup(STDERR_FILENO);
	assert_true(saved_stderr >= 0);
	assert_true(dup2(p[1], STDERR_FILENO) >= 0);
	close(p[1]);
	pipe_rd = p[0];
}

size_t capture_end(char *buf, size_t len)
{
	size_t n = 0;
	ssize_t r;

	assert_true(dup2(saved_stderr, STDERR_FILENO) >= 0);
	close(saved_stderr);
	while (n < len - 1 && (r = read(pipe_rd, buf + n, len - 1 - n)) > 0)
		n += (size_t)r;
	close(pipe_rd);
	buf[n] = '\0';
	return n;
}
