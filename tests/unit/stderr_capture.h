/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * For the logger's tests: stderr redirected into a pipe between capture_begin() and
 * capture_end(), so a test reads back the exact lines the logger wrote (one write() each).
 */
#ifndef XENBLKD_TEST_STDERR_CAPTURE_H
#define XENBLKD_TEST_STDERR_CAPTURE_H

#include <stddef.h>

void capture_begin(void);
/* Everything written to stderr since capture_begin(), NUL-terminated in buf; its length. */
size_t capture_end(char *buf, size_t len);

#endif
