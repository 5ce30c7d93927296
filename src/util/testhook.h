/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Crash points for the restart tests (docs/restart.md, contract F). In a build with
 * -Dtest_hooks=true, XBD_TEST_POINT("name") kills the process with SIGKILL the count-th time
 * it is reached when XENBLKD_TEST_CRASH_AT=name[:count] is set; otherwise it costs one load
 * and a branch. Without test hooks it compiles to nothing.
 */
#ifndef XENBLKD_UTIL_TESTHOOK_H
#define XENBLKD_UTIL_TESTHOOK_H

#ifdef XBD_TEST_HOOKS
#include <stdbool.h>

extern bool xbd_test_hooks_armed;
void xbd_test_point_hit(const char *name);

#define XBD_TEST_POINT(name)                                                                     \
	do {                                                                                     \
		if (__builtin_expect(xbd_test_hooks_armed, 0))                                   \
			xbd_test_point_hit(name);                                                \
	} while (0)
#else
#define XBD_TEST_POINT(name) ((void)0)
#endif

#endif
