#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# One hostile-frontend scenario end to end (issue 7): the real daemon, on the simulated Xen
# platform, serves a guest that attacks it (sim-blkfront --attack NAME), while a second daemon
# serves an honest guest that verifies its data in a loop. The test checks:
#  1. the victim daemon lives and still serves (an honest guest reconnects and verifies data
#     afterwards), and every honest run on the bystander passed, one of them during the attack;
#  2. the exact outcome: the `attack:` lines the attacker printed, compared with the ones
#     written below for each case (responses with their id and status, the ring halted or the
#     device closed with the error node's text, data checks);
#  3. nothing leaks: the attack connection's counters in the daemon's log are exactly the
#     refused requests sent; every connect has its disconnect; once Closed the daemon has the
#     same fds and threads as after an honest session and maps nothing of the guest; none of
#     the guest's grants is still pinned (GTF_reading/GTF_writing) once the backend is Closed;
#  4. every response the attacker read had zero padding;
#  5. the guest-triggered log lines of the attack stay within the rate limit (10 per 5 s);
#  6. for some cases, more: guest strings escaped in the log, fds, threads and mappings within
#     their bounds while connected (the hx_check_extra functions of hostile-run.sh).
# One process serves one VBD, so "another VBD of the same process" does not exist here: the
# bystander is another daemon. See docs/simulation.md for how each attack maps onto Xen.
#
# usage: hostile.sh BUILD_DIR ATTACK [VARIANT]    VARIANT: map, persistent (grant modes),
#        hostile.sh BUILD_DIR --list               x86_32 (ABI), order4 (16-page ring)
# XENBLKD=path tests another daemon binary or a wrapper; HOSTILE_KEEP=1 keeps the work dir.
# Exit 0 pass, 1 fail, 77 skip.
set -euo pipefail

hl_build=$(realpath "$1")
hl_case=$2
hx_variant=${3:-}
hl_src=$(realpath "$(dirname "$0")/../..")
# shellcheck source=tests/hostile/hostile-lib.sh
. "$hl_src/tests/hostile/hostile-lib.sh"

hx_fe=/local/domain/1/device/vbd/51728
hx_disk_sectors=$((64 * 2048))
hx_area=$((hx_disk_sectors - 4096)) # the attacker's area; honest runs on a stay below it
hx_daemon_opts=(--max-queues 4)
hx_attach_opts=()
hx_front_opts=()
hx_expect=
hx_errors=
hx_bad=
hx_flow=ring
hx_slots=32

# shellcheck source=tests/hostile/hostile-cases.sh
. "$hl_src/tests/hostile/hostile-cases.sh"

# shellcheck source=tests/hostile/hostile-run.sh
. "$hl_src/tests/hostile/hostile-run.sh"

if [ "$hl_case" = --list ]; then
    echo "${hx_cases[@]}"
    exit 0
fi
case " ${hx_cases[*]} " in
*" $hl_case "*) ;;
*) echo "hostile.sh: unknown attack '$hl_case'; one of: ${hx_cases[*]}" >&2; exit 2 ;;
esac
hx_main
