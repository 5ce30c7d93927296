#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Runs xenblkd under valgrind's memcheck, for the end-to-end tests that honour $XENBLKD (the
# feature tests of tests/e2e/features.sh and every hostile-frontend test in tests/hostile/):
#   meson test -C BUILD --setup valgrind --suite hostile
# The real binary is $XENBLKD_REAL. exec keeps the pid, so the tests' checks of the daemon's
# fds, threads and mappings look at the daemon (valgrind's own fds are there before and after
# alike). Any memory error, and any definite leak at exit, makes the daemon exit 99, which the
# tests' detach turns into a failure; the report goes to the daemon's stderr, i.e. its log.
#
# The I/O engine is the thread pool unless the test chose one: valgrind 3.19 does not let
# other threads run while one blocks in io_uring_enter, so with io_uring the control thread
# starves and the daemon never connects. The thread engine's preadv/pwritev also let memcheck
# check every byte written to disk for definedness, which the kernel hides with io_uring.
[ -x "${XENBLKD_REAL:-}" ] || { echo "xenblkd-memcheck.sh: XENBLKD_REAL is not set" >&2; exit 2; }
engine="--engine threads"
for a in "$@"; do
    case "$a" in -e|--engine|--engine=*) engine= ;; esac
done
# shellcheck disable=SC2086 # $engine is two words or none
exec valgrind --tool=memcheck --error-exitcode=99 --leak-check=full \
    --show-leak-kinds=definite --errors-for-leak-kinds=definite --num-callers=30 \
    "$XENBLKD_REAL" "$@" $engine
