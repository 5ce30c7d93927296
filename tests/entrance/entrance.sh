#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The entrance fails fast (issue 19, section 3), one case per meson test, each on a private
# simulated platform (docs/simulation.md) with a disk attached the way libxl does:
#   - a bad option or configuration value exits 2 with one line, through the logger (a
#     journal priority under journald), and leaves xenstore exactly as the toolstack left it;
#   - a missing backend directory exits 1, says "missing", and creates nothing;
#   - a fault of the toolstack's (an unserved format, a bad key) or an image that does not open
#     (missing, read-only for a read-write disk) exits 1 and writes the device's error node,
#     which says what to do;
#   - the real platform on a machine without Xen, a daemon without root, and --xen sim without
#     the simulator each exit 1 at once with one line, before xenstore is touched;
#   - every program answers --version with the project's version;
#   - and a good start still serves (the control case: the checks above stop bad starts only).
#
# usage: entrance.sh BUILD_DIR VERSION CASE     (entrance.sh BUILD_DIR VERSION --list)
set -euo pipefail
build=$(realpath "$1")
version=$2
case_name=$3
src=$(realpath "$(dirname "$0")/../..")
XENBLKD=$build/src/xenblkd
XENBLKCTL=$build/src/xenblkctl/xenblkctl
XENBLKD_WATCH=$build/src/watcher/xenblkd-watch
work=
be=

say() { echo "entrance[$case_name]: $*" >&2; }
fail() {
    say "FAIL: $*"
    for f in "$work"/*.err; do [ -s "$f" ] && { say "--- $f"; cat "$f" >&2; }; done
    exit 1
}
skip() { say "SKIP: $*"; exit 77; }

cleanup() {
    local rc=$?
    set +e
    [ -n "$work" ] && chattr -i "$work"/ro/* 2>/dev/null
    [ -n "$work" ] && "$src/tests/sim/sim-xen.sh" stop "$work/xen" >/dev/null 2>&1
    [ -n "$work" ] && rm -rf "$work"
    exit $rc
}

platform() {
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
    work=$(mktemp -d "${TMPDIR:-/var/tmp}/xbd-entrance.XXXXXX")
    trap cleanup EXIT
    trap 'exit 1' INT TERM
    export XENBLKD_SHIM="$build/tests/sim/libxenstored-shim.so"
    XENBLKD_SIM_TRACE=0 eval "$("$src/tests/sim/sim-xen.sh" start "$work/xen")"
}

# attach DEVID PARAMS [sim-toolstack options]: a disk of frontend domain 1; sets $be.
attach() {
    local devid=$1 params=$2
    shift 2
    be=$("$src/tests/sim/sim-toolstack.sh" attach --fe-domid 1 --devid "$devid" --kind vbd \
        --params "$params" "$@") || fail "sim-toolstack.sh attach failed"
}

image() {
    truncate -s 16M "$work/disk.img"
    echo "aio:$work/disk.img"
}

# The whole xenstore below /local, to prove that a refused start wrote nothing.
snapshot() { xenstore-ls -f /local 2>/dev/null | sort; }

# run NAME EXPECTED-STATUS command...: stdout to $work/NAME.out, stderr to $work/NAME.err.
run() {
    local name=$1 want=$2 rc=0
    shift 2
    "$@" >"$work/$name.out" 2>"$work/$name.err" </dev/null || rc=$?
    [ "$rc" = "$want" ] || fail "$name: exit status $rc, not $want"
}

one_line() {
    local n
    n=$(wc -l <"$work/$1.err")
    [ "$n" = 1 ] || fail "$1: $n lines on stderr, not one"
    grep -qF -- "$2" "$work/$1.err" ||
        fail "$1: '$(cat "$work/$1.err")' does not say '$2'"
}

error_node() {
    local node=/local/domain/0/error${be#/local/domain/0}/error got
    got=$(xenstore-read "$node" 2>/dev/null) || fail "no error node $node"
    [[ "$got" == *"$1"* ]] || fail "error node '$got' does not say '$1'"
    [ "$(xenstore-read "$be/state")" = 5 ] || fail "the device is not Closing"
}

# A usage error: exit 2, one line that says `words`, xenstore as it was.
expect_usage() {
    local name=$1 words=$2 before
    shift 2
    before=$(snapshot)
    run "$name" 2 "$@"
    one_line "$name" "$words"
    [ "$(snapshot)" = "$before" ] || fail "$name: xenstore changed"
    say "ok: $name -> exit 2: $(cat "$work/$name.err")"
}

d() { "$XENBLKD" --backend-path "$be" --xen sim --run-dir "$work/run" "$@"; }

case_good_start() {
    attach 51712 "$(image)"
    "$XENBLKD" --backend-path "$be" --xen sim --run-dir "$work/run" \
        >"$work/good.out" 2>"$work/good.err" &
    local pid=$! i
    for ((i = 0; i < 500; i++)); do
        [ "$(xenstore-read "$be/state" 2>/dev/null)" = 2 ] && break
        sleep 0.02
    done
    [ "$(xenstore-read "$be/state")" = 2 ] || fail "a good start did not reach InitWait"
    kill -TERM "$pid"
    wait "$pid" || fail "the daemon did not exit 0 on SIGTERM"
    say "ok: a good start reaches InitWait and stops cleanly"
}

case_usage() {
    attach 51712 "$(image)"
    expect_usage engine-typo "--engine: 'iouring' is not an I/O engine" d --engine iouring
    expect_usage unknown-option "unknown option '--frobnicate'" d --frobnicate
    expect_usage missing-value "option '--max-queues' needs a value" d --max-queues
    expect_usage bad-number "--max-queues: '0' is not a number in 1..64" d --max-queues 0
    expect_usage stray-argument "unexpected argument 'extra'" d extra
    expect_usage driver-typo "--driver: 'nul' names no driver or filter" d --driver nul
    expect_usage xen-name "--xen: 'xen' is not real or sim" d --xen xen
    expect_usage no-backend "--backend-path is required" "$XENBLKD" --xen sim
    expect_usage bad-backend "--backend-path: '/local/domain/0/vbd' is not" \
        "$XENBLKD" --xen sim --backend-path /local/domain/0/vbd
    printf '[vbd]\nmatch-domain = nobody\nengine = iouring\n' >"$work/a.conf"
    expect_usage file-vbd-engine "a.conf:3: engine: 'iouring' is not an I/O engine" \
        d --config "$work/a.conf"
    printf '[vbd]\nmatch-bakend = *\n' >"$work/b.conf"
    expect_usage file-match-typo "b.conf:2: unknown key 'match-bakend'" d --config "$work/b.conf"
    printf '[vbd]\nxen = real\n' >"$work/c.conf"
    expect_usage file-vbd-xen "c.conf:2: xen: the platform cannot be chosen per VBD" \
        d --config "$work/c.conf"
    expect_usage ctl-unknown "unknown option '--frobnicate'" "$XENBLKCTL" --frobnicate list
    expect_usage watch-unknown "unknown option '--frobnicate'" "$XENBLKD_WATCH" --frobnicate
}

# Under journald (JOURNAL_STREAM set), the line carries the error priority <3>.
case_priority() {
    attach 51712 "$(image)"
    run priority 2 env JOURNAL_STREAM=8:8 "$XENBLKD" --backend-path "$be" --xen sim \
        --engine iouring
    one_line priority "--engine: 'iouring'"
    grep -q '^<3>' "$work/priority.err" || fail "no <3> priority: $(cat "$work/priority.err")"
    run watch-priority 2 env JOURNAL_STREAM=8:8 "$XENBLKD_WATCH" --kind floppy
    grep -q '^<3>.*--kind: .floppy.' "$work/watch-priority.err" ||
        fail "watcher: no <3> priority: $(cat "$work/watch-priority.err")"
    say "ok: option errors reach the journal as priority 3 (err)"
}

case_missing_backend() {
    local before
    be=/local/domain/0/backend/vbd/1/51712
    before=$(snapshot)
    run missing 1 d
    one_line missing "backend directory $be is missing"
    [ "$(snapshot)" = "$before" ] || fail "xenstore changed"
    ! xenstore-exists "$be" || fail "the daemon created $be"
    say "ok: $(cat "$work/missing.err")"
}

case_missing_image() {
    attach 51712 "aio:$work/nowhere.img"
    run missing-image 1 d
    error_node "image $work/nowhere.img does not exist"
    say "ok: missing image -> error node"
}

# A read-only file served read-write: the error node suggests access=ro. Root opens a 0444
# file for writing, so the file lives on a read-only bind mount (EROFS) in a mount namespace
# of its own, or failing that is immutable (EPERM).
case_readonly_image() {
    mkdir "$work/ro"
    truncate -s 16M "$work/ro/disk.img"
    attach 51712 "aio:$work/ro/disk.img"
    if unshare -m true 2>/dev/null; then
        run readonly 1 unshare -m sh -c 'mount --bind -o ro "$1" "$1" && shift && exec "$@"' \
            sh "$work/ro" "$XENBLKD" --backend-path "$be" --xen sim --run-dir "$work/run"
    elif chattr +i "$work/ro/disk.img" 2>/dev/null; then
        run readonly 1 d
    else
        skip "no way to make a read-only file here (no mount namespace, no chattr +i)"
    fi
    error_node "give the disk access=ro"
    say "ok: read-only file, mode w -> error node suggests access=ro"
}

case_unserved_format() {
    attach 51712 "vhd:$work/disk.vhd"
    run vhd 1 d
    error_node "format vhd is not served: convert it with qemu-img convert -O qcow2"
    say "ok: params vhd: -> error node with the conversion"
}

case_bad_toolstack_key() {
    attach 51712 "$(image)" --backend-key grant-mode=fast
    run bad-key 1 d
    error_node "grant-mode 'fast' is not copy, map or persistent"
    say "ok: a bad toolstack key -> error node naming it"
}

case_real_without_xen() {
    local before
    [ ! -e /dev/xen/gntdev ] || skip "this machine has /dev/xen/gntdev"
    attach 51712 "$(image)"
    before=$(snapshot)
    run real 1 "$XENBLKD" --xen real --backend-path "$be"
    one_line real "no /dev/xen/gntdev: load the xen-gntdev module"
    [ "$(snapshot)" = "$before" ] || fail "xenstore changed"
    # And without --xen: the real platform, never the simulator.
    run default 1 "$XENBLKD" --backend-path "$be"
    one_line default "no /dev/xen/gntdev"
    [ "$(snapshot)" = "$before" ] || fail "xenstore changed"
    say "ok: $(cat "$work/real.err")"
}

case_not_root() {
    local before
    [ "$(id -u)" = 0 ] || skip "needs root to drop it"
    attach 51712 "$(image)"
    before=$(snapshot)
    run not-root 1 setpriv --reuid=65534 --regid=65534 --clear-groups \
        "$XENBLKD" --xen real --backend-path "$be"
    one_line not-root "xenblkd must run as root"
    [ "$(snapshot)" = "$before" ] || fail "xenstore changed"
    say "ok: $(cat "$work/not-root.err")"
}

case_sim_not_installed() {
    local before
    attach 51712 "$(image)"
    before=$(snapshot)
    run no-module 1 env XENBLKD_SIM_MODULE="$work/none.so" "$XENBLKD" --backend-path "$be" \
        --xen sim
    one_line no-module "the simulated platform is not installed"
    env -u XENBLKD_SIM_DIR "$XENBLKD" --backend-path "$be" --xen sim \
        >"$work/no-dir.out" 2>"$work/no-dir.err" && fail "no-dir: exit 0"
    one_line no-dir "XENBLKD_SIM_DIR is not set"
    [ "$(snapshot)" = "$before" ] || fail "xenstore changed"
    say "ok: $(cat "$work/no-module.err")"
}

case_version() {
    local p
    for p in "$XENBLKD" "$XENBLKCTL" "$XENBLKD_WATCH"; do
        run version 0 "$p" --version
        [ "$(cat "$work/version.out")" = "$(basename "$p") $version" ] ||
            fail "$p --version: '$(cat "$work/version.out")', not '$(basename "$p") $version'"
    done
    say "ok: xenblkd, xenblkctl and xenblkd-watch --version say $version"
}

cases=(good-start usage priority missing-backend missing-image readonly-image unserved-format
       bad-toolstack-key real-without-xen not-root sim-not-installed version)
if [ "$case_name" = --list ]; then
    printf '%s\n' "${cases[@]}"
    exit 0
fi
for c in "${cases[@]}"; do
    if [ "$c" = "$case_name" ]; then
        platform
        "case_${c//-/_}"
        exit 0
    fi
done
echo "entrance.sh: unknown case '$case_name'; one of: ${cases[*]}" >&2
exit 2
