#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Runs xenblkd ($XENBLKD_REAL) in the sandbox that systemd/xenblkd@.service describes, as far as
# tests/ops/unit_sandbox.py can build it without systemd: root without capabilities, the
# unit's system call filter, a private network namespace, read-only /usr and /etc, /proc with
# subset=pid. tests/ops/unit-sandbox.sh starts the daemon through it, as $XENBLKD. Not a
# `meson test --setup` for every end-to-end test: the simulator reaches a guest's memory through
# /proc/PID/fd, which the daemon without capabilities may open only for a simulated guest
# without capabilities, and those tests start their guests as plain root.
# exec keeps the pid, so the tests look at the daemon itself. XENBLKD_UNIT names another unit
# file (to try a change to the unit).
[ -x "${XENBLKD_REAL:-}" ] || { echo "xenblkd-unit-sandbox.sh: XENBLKD_REAL is not set" >&2; exit 2; }
here=$(dirname "$0")
exec /usr/bin/python3 "$here/unit_sandbox.py" "${XENBLKD_UNIT:-$here/../../systemd/xenblkd@.service}" \
    "$XENBLKD_REAL" "$@"
