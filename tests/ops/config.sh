#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Configuration: every bad value is rejected (exit status 2) with a message that names the
# option, on the command line and in the configuration file, for xenblkd, xenblkd-watch and
# xenblkctl; and good values land where they should: the file's [xenblkd] options, a [vbd]
# section matched by backend path or by the frontend domain's name, the command line over
# the file, and a toolstack's backend key (limit-iops) over everything.
#
# usage: config.sh BUILD_DIR
set -euo pipefail
ops_build=$(realpath "$1")
ops_src=$(realpath "$(dirname "$0")/../..")
ops_case=config
. "$ops_src/tests/ops/ops-lib.sh"
ops_start_platform

# expect_reject 'what' 'message part' command...
expect_reject() {
    local what=$1 want=$2 rc=0
    shift 2
    "$@" >"$ops_work/out" 2>"$ops_work/err" || rc=$?
    [ "$rc" = 2 ] || ops_fail "$what: exit status $rc, not 2 ($(cat "$ops_work/err"))"
    grep -qF -- "$want" "$ops_work/err" ||
        ops_fail "$what: the error '$(head -n 1 "$ops_work/err")' does not say '$want'"
}

be=/local/domain/0/backend/vbd/1/51712
conf=$ops_work/bad.conf
d=("$XENBLKD" "${SP_XEN_ARGS[@]}" -b "$be" --run-dir "$ops_work/run")

expect_reject "--limit-iops abc" "--limit-iops: 'abc'" "${d[@]}" --limit-iops abc
expect_reject "--limit-bps 5Q" "--limit-bps: '5Q'" "${d[@]}" --limit-bps 5Q
expect_reject "--max-queues 0" "--max-queues: '0' is not a number in 1..64" "${d[@]}" --max-queues 0
expect_reject "--grant-mode" "--grant-mode: 'fast'" "${d[@]}" --grant-mode fast
expect_reject "--log-level" "--log-level: 'loud'" "${d[@]}" --log-level loud
expect_reject "--sector-size" "--sector-size: '1000' must be 512 or 4096" "${d[@]}" --sector-size 1000
expect_reject "--config missing" "--config: /nonexistent.conf" "${d[@]}" --config /nonexistent.conf

printf '[xenblkd]\n# a comment\nmax-queues = 99\n' >"$conf"
expect_reject "file max-queues" "$conf:3: max-queues: '99' is not a number in 1..64" \
    "${d[@]}" --config "$conf"
printf 'frobnicate = 1\n' >"$conf"
expect_reject "file unknown" "$conf:1: unknown option 'frobnicate'" "${d[@]}" --config "$conf"
printf 'no-flush = maybe\n' >"$conf"
expect_reject "file flag" "$conf:1: no-flush: 'maybe' is not yes or no" "${d[@]}" --config "$conf"
printf '[vbd]\nmatch-backend = *\nlimit-bps = lots\n' >"$conf"
expect_reject "file [vbd]" "$conf:3: limit-bps: 'lots'" "${d[@]}" --config "$conf"
printf '[disk]\n' >"$conf"
expect_reject "file section" "$conf:1: unknown section" "${d[@]}" --config "$conf"

w=("$XENBLKD_WATCH" --mode supervise)
expect_reject "watch --kind" "--kind: 'floppy'" "${w[@]}" --kind floppy
expect_reject "watch --kind domids" "--kind: 'qdisk:x'" "${w[@]}" --kind qdisk:x
expect_reject "watch --mode" "--mode: 'sometimes'" "$XENBLKD_WATCH" --mode sometimes
expect_reject "watch --max-restarts" "--max-restarts: '-1'" "${w[@]}" --max-restarts -1
printf '[watch]\nkind = qdisk:0\nrestart-delay-ms = soon\n' >"$conf"
expect_reject "watch file" "$conf:3: restart-delay-ms: 'soon'" "${w[@]}" --config "$conf"

expect_reject "xenblkctl --iops" "--iops: 'x'" "$XENBLKCTL" limits "$be" --iops x
expect_reject "xenblkctl --bps" "--bps: '1.5M'" "$XENBLKCTL" limits "$be" --bps 1.5M
expect_reject "xenblkctl --timeout" "--timeout: 'x'" "$XENBLKCTL" pause "$be" --timeout x
expect_reject "xenblkctl verb" "unknown command 'frob'" "$XENBLKCTL" frob
ops_log "bad values rejected, each naming its option"

# Good values: file, [vbd] sections, command line, backend key.
xenstore-write /local/domain/1/name web-1 /local/domain/2/name db-1
good=$ops_work/good.conf
cat >"$good" <<EOC
[xenblkd]
limit-iops = 123
[watch]
kind = vbd
[vbd]
match-backend = */1/51728
limit-iops = 77
[vbd]
match-domain = db-*
limit-bps = 1M
EOC
limits() { "$XENBLKCTL" limits "$1"; }
b1=$(ops_attach 1 51712 vbd)
b2=$(ops_attach 1 51728 vbd)
b3=$(ops_attach 2 51712 vbd)
b4=$(ops_attach 2 51728 vbd --backend-key limit-iops=55)
ops_start_daemon "$b1" --config "$good"
ops_start_daemon "$b2" --config "$good"
ops_start_daemon "$b3" --config "$good"
ops_start_daemon "$b4" --config "$good" --limit-iops 9
b5=$(ops_attach 2 51744 vbd)
ops_start_daemon "$b5" --config "$good" --limit-iops 9
for b in "$b1" "$b2" "$b3" "$b4" "$b5"; do ops_wait_state "$b" 2 5; done
ops_expect_eq "[xenblkd] limit-iops" "$(limits "$b1" | tr '\n' ' ')" "iops 123 bps 0 "
ops_expect_eq "[vbd] match-backend" "$(limits "$b2" | tr '\n' ' ')" "iops 77 bps 0 "
ops_expect_eq "[vbd] match-domain" "$(limits "$b3" | tr '\n' ' ')" "iops 123 bps 1048576 "
ops_expect_eq "backend key over all" "$(limits "$b4" | tr '\n' ' ')" "iops 55 bps 1048576 "
ops_expect_eq "command line over file" "$(limits "$b5" | tr '\n' ' ')" "iops 9 bps 1048576 "
ops_log "PASS: file, [vbd] by backend and by domain name, command line, backend key"
