#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The nbd driver end to end (issue 16): the real daemon on the simulated platform, its disk an
# export of a real NBD server that the test starts itself (nbdkit's memory and file plugins,
# qemu-nbd) on a Unix socket. Every case runs the simulated blkfront's verified workload and
# checks, on its summary, that what the case is about was negotiated and used.
#
# usage: nbd.sh BUILD_DIR CASE | --list     (FEAT_KEEP=1 keeps the work directory)
# Exit 0 pass, 1 fail, 77 skip (only when nbdkit or qemu-nbd is missing).
set -euo pipefail

feat_build=$(realpath "$1")
feat_case=$2
feat_src=$(realpath "$(dirname "$0")/../..")
# shellcheck source=tests/e2e/feat-lib.sh
. "$feat_src/tests/e2e/feat-lib.sh"
# shellcheck source=tests/nbd/nbd-lib.sh
. "$feat_src/tests/nbd/nbd-lib.sh"

# The three target forms, each against another server; multi-conn gives one queue each.
case_workload() {
    nbd_nbdkit mem memory size=64M
    nbd_serve "nbd:unix:$nbd_sock" -- --max-queues 2
    feat_front_pass --queues 2 --requests 4000 --indirect 32
    feat_expect features queues = 2
    feat_expect_log 'multi-conn yes'
    feat_detach
    nbd_stop_server
    nbd_need qemu-nbd
    nbd_new_file 64
    nbd_qemu_nbd qn disk0 "$nbd_file"
    nbd_serve "nbd+unix:///disk0?socket=$nbd_sock" -- --max-queues 2
    feat_front_pass --queues 2 --requests 4000 --indirect 32
    feat_detach
    nbd_stop_server
    nbd_new_file 64
    nbd_nbdkit file file "$nbd_file"
    nbd_serve "nbd:unix:$nbd_sock:exportname=ignored:timeout=10" --
    feat_front_pass --requests 3000
    feat_detach
}

feat_cases=(workload)

if [ "$feat_case" = --list ]; then
    echo "${feat_cases[@]}"
    exit 0
fi
case " ${feat_cases[*]} " in
*" $feat_case "*) ;;
*) echo "nbd.sh: unknown case '$feat_case'; one of: ${feat_cases[*]}" >&2; exit 2 ;;
esac
feat_start_platform
"case_${feat_case//-/_}"
feat_log "PASS"
