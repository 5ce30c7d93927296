#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The hotplug script for xl's script= option (scripts/xen-hotplug/block-xenblkd), run as
# libxl runs it (`add` with XENBUS_PATH): with no daemon serving the VBD it starts one, waits
# until it answers, and writes hotplug-status=connected; run again it finds the daemon and
# starts no second one; a VBD that cannot be served (its image is missing) gets
# hotplug-status=error, a hotplug-error message and a non-zero exit; `remove` exits 0.
#
# usage: hotplug.sh BUILD_DIR
set -euo pipefail
ops_build=$(realpath "$1")
ops_src=$(realpath "$(dirname "$0")/../..")
ops_case=hotplug
. "$ops_src/tests/ops/ops-lib.sh"
ops_start_platform
[ ! -d /run/systemd/system ] || ops_skip "systemd runs this machine: the script would use it"
script=$ops_src/scripts/xen-hotplug/block-xenblkd

# The script starts a plain `xenblkd`: give it the simulated platform through a wrapper.
cat >"$ops_work/xenblkd" <<EOS
#!/bin/sh
exec "$XENBLKD" ${SP_XEN_ARGS[*]} "\$@" 2>>"$ops_work/hotplug-daemon.log"
EOS
chmod +x "$ops_work/xenblkd"
run() {
    XENBUS_PATH=$1 XENBLKD=$ops_work/xenblkd XENBLKCTL=$XENBLKCTL XENBLKD_RUN_DIR=$ops_run \
        XENBLKD_HOTPLUG_TIMEOUT=5 "$script" "$2"
}

be=$(ops_attach 1 51712 vbd)
# libxl passes XENBUS_PATH relative to the backend domain's home (backend/vbd/1/51712).
[[ $be == /local/domain/0/* ]] || ops_fail "unexpected backend path $be"
run "${be#/local/domain/0/}" add || ops_fail "block-xenblkd add (relative path) failed"
ops_expect_eq "hotplug-status" "$(xenstore-read "$be/hotplug-status")" connected
ops_wait_state "$be" 2 5
run "$be" add || ops_fail "a second add failed"
ops_expect_eq "daemons after two adds" "$(ops_all_daemons | wc -l)" 1
ops_front_pass 1 51712 --requests 300
run "$be" remove || ops_fail "remove failed"
ops_detach "$be"

bad=$(ops_attach 1 51728 vbd)
rm "$ops_work/disk.1.51728.img"
! run "$bad" add 2>"$ops_work/err" || ops_fail "add succeeded without an image"
ops_expect_eq "hotplug-status" "$(xenstore-read "$bad/hotplug-status")" error
xenstore-read "$bad/hotplug-error" | grep -q "no xenblkd answered" ||
    ops_fail "hotplug-error is '$(xenstore-read "$bad/hotplug-error")'"
ops_log "PASS: add starts one daemon and reports connected; failure reported to libxl"
