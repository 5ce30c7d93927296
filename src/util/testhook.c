/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Crash points for the restart tests (see testhook.h). The variable is read once, by a
 * constructor, before any thread starts; the count is shared by every thread that reaches the
 * point, so "the third response written" means the third in the process, whatever queue.
 */
#include "util/testhook.h"

#ifdef XBD_TEST_HOOKS
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool xbd_test_hooks_armed;
static char point[64];
static atomic_ulong remaining;

__attribute__((constructor)) static void test_hooks_arm(void)
{
	const char *v = getenv("XENBLKD_TEST_CRASH_AT");
	const char *colon;
	unsigned long count = 1;

	if (!v || !*v)
		return;
	colon = strchr(v, ':');
	if (colon)
		count = strtoul(colon + 1, NULL, 10);
	snprintf(point, sizeof(point), "%.*s", colon ? (int)(colon - v) : (int)strlen(v), v);
	atomic_store(&remaining, count ? count : 1);
	xbd_test_hooks_armed = true;
}

void xbd_test_point_hit(const char *name)
{
	static const char msg[] = "xenblkd: XENBLKD_TEST_CRASH_AT reached: SIGKILL\n";

	if (strcmp(name, point) != 0 || atomic_fetch_sub(&remaining, 1) != 1)
		return;
	/* Say so first (one write: async-signal-safe, no buffer to lose), then die as kill -9. */
	if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0)
		_exit(137);
	raise(SIGKILL);
	_exit(137);
}
#else
typedef int xbd_testhook_unused; /* ISO C wants something in a translation unit */
#endif
