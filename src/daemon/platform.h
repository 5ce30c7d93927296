/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Which Xen the daemon talks to. The real one (libxengnttab, libxenevtchn, libxenstore) is
 * built in and is the default. Any other platform is a loadable module that the daemon opens
 * only when asked for it by name: today the simulated platform of the tests (src/sim/,
 * docs/simulation.md), xenblkd-sim.so, which the package does not install. A production daemon
 * therefore never runs on the simulator by accident.
 */
#ifndef XENBLKD_DAEMON_PLATFORM_H
#define XENBLKD_DAEMON_PLATFORM_H

#include <stdbool.h>
#include <stddef.h>

#include "xenblkd/xen_ops.h"

/* The platform names --xen accepts. */
bool xbd_platform_name_ok(const char *name);

/*
 * The ops table for `name` (NULL: real), ready to use: its module loaded if it has one, and its
 * probe passed (devices present, xenstore reachable, root). 0, or -errno with one line in
 * `why` that says what to do.
 */
int xbd_platform_open(const char *name, const struct xbd_xen_ops **out, char *why, size_t len);

#endif
