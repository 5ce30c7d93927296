#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# xenblkd works inside the sandbox of systemd/xenblkd@.service: root without capabilities, the
# unit's system call filter (io_uring included), MemoryDenyWriteExecute, Unix sockets only in a
# network namespace of its own, read-only /usr and /etc, /proc with subset=pid, UMask=0077
# (tests/ops/unit_sandbox.py builds it without systemd; docs/admin.md lists what it leaves
# out). Three verified workloads on the simulated platform, one per engine:
#   io_uring, grant copy, raw image: ring order 4, 2 queues, indirect descriptors;
#   libaio, grant copy, raw image, discards;
#   the thread pool, grant map, a qcow2 image, discards.
# First it checks that the sandbox bites: no capability, seccomp on, a call of @privileged
# (setuid) refused. The simulated guest runs without capabilities too: the simulator reaches a
# guest's memory through /proc/PID/fd, which a process without capabilities may open only for
# another one (on real Xen it is /dev/xen/gntdev, which needs none).
#
# usage: unit-sandbox.sh BUILD_DIR
set -euo pipefail
build=$(realpath "$1")
src=$(realpath "$(dirname "$0")/../..")
log() { echo "unit-sandbox: $*" >&2; }
fail() { log "FAIL: $*"; exit 1; }
/usr/bin/python3 -c 'import seccomp' 2>/dev/null ||
    fail "python3-seccomp is missing (scripts/install-deps.sh installs it)"
command -v systemd-analyze >/dev/null || { log "SKIP: no systemd-analyze"; exit 77; }

sandbox=$src/tests/ops/unit_sandbox.py
unit=$src/systemd/xenblkd@.service
# shellcheck source=tests/sim/simplat.sh
. "$src/tests/sim/simplat.sh"
sp_init "$build"
SP_LOG_PREFIX="unit-sandbox"
sp_work xbd-unit-sandbox
work=$SP_WORK
show_logs() {
    [ "$SP_RC" -eq 0 ] || for f in "$work"/*.log; do log "$f:"; tail -n 30 "$f" >&2; done
}
sp_on_exit show_logs

# The sandbox bites: a setuid(0), which root may do without any capability, is refused.
if /usr/bin/python3 "$sandbox" "$unit" /usr/bin/python3 -c 'import os; os.setuid(0)' \
    2>"$work/setuid.log"; then
    fail "setuid(0) ran inside the sandbox: the system call filter is not in force"
fi
grep -q "Operation not permitted" "$work/setuid.log" || fail "setuid(0): $(cat "$work/setuid.log")"

sp_start
export XENBLKD_REAL=$SP_XENBLKD_BUILT
# Under AddressSanitizer, LeakSanitizer stops the daemon's threads with ptrace at exit, which
# the unit's system call filter refuses (as systemd's would): the leak check cannot run inside
# the sandbox, and the daemon would abort after a clean run. Every other test checks leaks
# under ASan and memcheck; here only the sandbox is under test.
if ldd "$XENBLKD_REAL" 2>/dev/null | grep -q libasan; then
    export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
fi
SP_XENBLKD=$src/tests/ops/xenblkd-unit-sandbox.sh
guest=(setpriv --bounding-set -all --inh-caps -all "$SP_BLKFRONT")

# status FIELD VALUE: the daemon's /proc/PID/status says so.
status_is() {
    local got
    got=$(awk -v f="$1:" '$1 == f { print $2 }' "/proc/$SP_DAEMON_PID/status")
    [ "$got" = "$2" ] || fail "daemon's $1 is '$got', not $2"
}

# export_ok NAME: the NBD export listens from inside the sandbox, and serves (when nbdinfo is
# there: tests/ops/nbd-export.sh checks the rest).
export_ok() {
    local ro=$XENBLKD_SIM_DIR/run/nbd/vbd-1-51712-ro.sock
    [ -S "$ro" ] || fail "$1: no NBD socket $ro in the sandbox"
    if command -v nbdinfo >/dev/null; then
        nbdinfo --size "nbd+unix:///?socket=$ro" >"$work/$1-nbd.txt" 2>&1 ||
            fail "$1: nbdinfo on the sandboxed export: $(cat "$work/$1-nbd.txt")"
        log "$1: NBD export served from the sandbox ($(cat "$work/$1-nbd.txt") bytes)"
    fi
}

# run NAME IMAGE_SPEC DAEMON_ARGS FRONTEND_ARGS: one attach, workload with reconnect, detach.
run() {
    local name=$1 params=$2 dargs=$3 fargs=$4 be dlog="$work/$1.log"
    be=$(sp_attach --fe-domid 1 --devid 51712 --kind vbd --params "$params")
    # shellcheck disable=SC2086 # option lists
    sp_start_daemon "$dlog" --backend-path "$be" $dargs
    sp_wait_state "$be" 2 10 "$SP_DAEMON_PID" || fail "$name: not InitWait ('$SP_STATE')"
    for f in CapPrm CapEff CapBnd CapAmb; do status_is "$f" 0000000000000000; done
    status_is NoNewPrivs 1
    status_is Seccomp 2
    [ "$(readlink "/proc/$SP_DAEMON_PID/ns/net")" != "$(readlink /proc/self/ns/net)" ] ||
        fail "$name: the daemon shares the host's network namespace"
    grep -q " /proc proc .*subset=pid" "/proc/$SP_DAEMON_PID/mounts" ||
        fail "$name: the daemon's /proc is not subset=pid"
    case " $dargs " in *" --nbd-export "*) export_ok "$name" ;; esac
    # shellcheck disable=SC2086
    "${guest[@]}" --frontend /local/domain/1/device/vbd/51712 --requests 3000 --reconnect \
        --quiet $fargs >"$work/$name-front.log" 2>&1 || fail "$name: the workload failed"
    sp_detach "$be" 20 || fail "$name: detach did not reach Closed"
    sp_wait_exit "$SP_DAEMON_PID" 10 || fail "$name: xenblkd still runs after detach"
    [ "$SP_EXIT_STATUS" = 0 ] || fail "$name: xenblkd exited $SP_EXIT_STATUS"
    log "$name: $(grep -m1 '^features:' "$work/$name-front.log" | cut -d' ' -f2-7)"
}

truncate -s 256M "$work/disk.img"
run io_uring "aio:$work/disk.img" "--nbd-export" "--ring-order 4 --queues 2 --indirect 256"
grep -q ": serving .*, engine io_uring)$" "$work/io_uring.log" || fail "io_uring: the daemon fell back"
grep -q "io_uring: fixed-file" "$work/io_uring.log" || fail "io_uring: no fixed file"

rm -f "$work/disk.img"; truncate -s 256M "$work/disk.img"
run libaio "aio:$work/disk.img" "--engine libaio" "--queues 2 --discard"
grep -q ": serving .*, engine libaio)$" "$work/libaio.log" || fail "libaio: the daemon fell back"

qemu-img create -q -f qcow2 "$work/disk.qcow2" 256M
run qcow2-map "qcow2:$work/disk.qcow2" "--engine threads --grant-mode map" \
    "--ring-order 2 --queues 2 --discard"
grep -q "grant map" "$work/qcow2-map.log" || fail "qcow2-map: not served with grant map"
log "PASS: xenblkd served three verified workloads (io_uring, libaio, threads + qcow2 + map) in its unit's sandbox"
