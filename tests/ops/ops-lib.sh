# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# Helpers of the operations tests (tests/ops/*.sh), sourced by them: a private simulated Xen
# platform per test (docs/simulation.md), disks attached the way libxl does
# (tests/sim/sim-toolstack.sh), the watcher and daemons started and always stopped, the
# simulated blkfront's summary lines, and JSON read with python3 (which meson needs anyway).
# Every failure says what was expected and what was found, and shows the logs.
#
# Needs: ops_build (the meson build directory) and ops_src (the source tree).

ops_work=
ops_run=
ops_pids=()
ops_summary=
ops_case=${ops_case:-ops}

ops_log() { echo "ops[$ops_case]: $*" >&2; }

ops_show_logs() {
    local f
    for f in "$ops_work"/*.log; do
        [ -s "$f" ] || continue
        ops_log "--- $f (last 25 lines)"
        tail -n 25 "$f" >&2
    done
}

ops_fail() {
    ops_log "FAIL: $*"
    ops_show_logs
    exit 1
}

ops_skip() {
    ops_log "SKIP: $*"
    exit 77
}

# Pids of the daemons that hold locks in the run directory.
ops_daemon_pids() {
    local f pid
    for f in "$ops_run"/*.lock; do
        [ -f "$f" ] || continue
        pid=$(cat "$f" 2>/dev/null) || continue
        [ -n "$pid" ] && [ -d "/proc/$pid" ] && echo "$pid"
    done
    return 0
}

# Every live xenblkd whose environment names this test's simulation.
ops_all_daemons() {
    local p
    for p in /proc/[0-9]*; do
        [ "$(cat "$p/comm" 2>/dev/null)" = xenblkd ] || continue
        # Zombies (orphans whose reaper is slow) are gone for our purposes.
        case "$(cut -d' ' -f3 "$p/stat" 2>/dev/null)" in Z|X|"") continue ;; esac
        { tr '\0' '\n' <"$p/environ"; } 2>/dev/null |
            grep -qx "XENBLKD_SIM_DIR=$XENBLKD_SIM_DIR" && echo "${p#/proc/}"
    done
    return 0
}

ops_cleanup() {
    local rc=$? pid
    set +e
    for pid in "${ops_pids[@]}"; do
        kill -9 "$pid" 2>/dev/null
    done
    if [ -n "${XENBLKD_SIM_DIR:-}" ]; then
        for pid in $(ops_all_daemons); do kill -9 "$pid" 2>/dev/null; done
    fi
    wait 2>/dev/null
    "$ops_src/tests/sim/sim-xen.sh" stop "$ops_work/xen" >/dev/null 2>&1 || true
    if [ $rc -ne 0 ] && [ $rc -ne 77 ] && [ -n "${OPS_KEEP_FAILED:-}" ]; then
        ops_log "kept $ops_work"
    else
        rm -rf "$ops_work"
    fi
    exit $rc
}

ops_start_platform() {
    ops_work=$(mktemp -d "${TMPDIR:-/var/tmp}/xbd-ops.XXXXXX")
    trap ops_cleanup EXIT
    trap 'exit 1' INT TERM
    export XENBLKD_SHIM="$ops_build/tests/sim/libxenstored-shim.so"
    XENBLKD_SIM_TRACE=0 eval "$("$ops_src/tests/sim/sim-xen.sh" start "$ops_work/xen")"
    ops_run=$XENBLKD_SIM_DIR/run
    XENBLKD=$ops_build/src/xenblkd
    XENBLKCTL=$ops_build/src/xenblkctl/xenblkctl
    XENBLKD_WATCH=$ops_build/src/watcher/xenblkd-watch
    export XENBLKD XENBLKCTL
}

# ops_attach FE DEVID KIND [sim-toolstack attach options]: a fresh zeroed 64 MiB image;
# prints the backend path.
ops_attach() {
    local fe=$1 devid=$2 kind=$3
    shift 3
    truncate -s 64M "$ops_work/disk.$fe.$devid.img"
    "$ops_src/tests/sim/sim-toolstack.sh" attach --fe-domid "$fe" --devid "$devid" \
        --kind "$kind" --params "aio:$ops_work/disk.$fe.$devid.img" "$@" ||
        ops_fail "sim-toolstack.sh attach $fe/$devid failed"
}

ops_detach() {
    "$ops_src/tests/sim/sim-toolstack.sh" detach --backend "$1" --timeout "${2:-20}" ||
        ops_fail "detach of $1 failed"
}

ops_state() {
    xenstore-read "$1/state" 2>/dev/null || echo ""
}

# ops_wait_state BACKEND STATE SECONDS
ops_wait_state() {
    local be=$1 want=$2 secs=$3 i state=""
    for ((i = 0; i < secs * 50; i++)); do
        state=$(ops_state "$be")
        [ "$state" = "$want" ] && return 0
        sleep 0.02
    done
    ops_fail "$be: state '$state', not $want, after $secs s"
}

# Start the watcher (supervise mode, simulated Xen); extra arguments follow.
ops_start_watcher() {
    local log=$ops_work/watch.$RANDOM.log
    "$XENBLKD_WATCH" --mode supervise --xenblkd "$XENBLKD" --xenblkd-arg=--xen \
        --xenblkd-arg=sim "$@" 2>>"$log" &
    ops_pids+=($!)
    ops_watch_pid=$!
    ops_watch_log=$log
}

# Start one daemon on BACKEND with extra arguments; its log is $ops_work/xenblkd.<n>.log.
ops_start_daemon() {
    local be=$1
    shift
    ops_daemon_log=$ops_work/xenblkd.${#ops_pids[@]}.log
    "$XENBLKD" --backend-path "$be" --xen sim "$@" 2>"$ops_daemon_log" &
    ops_pids+=($!)
    ops_daemon_pid=$!
}

# ops_front FE DEVID [sim-blkfront options]: the summary goes to $ops_summary.
ops_front() {
    local fe=$1 devid=$2 rc=0
    shift 2
    ops_summary=$ops_work/front.$fe.$devid.$RANDOM.out
    "$ops_build/tests/sim/sim-blkfront" --frontend "/local/domain/$fe/device/vbd/$devid" \
        --quiet "$@" >"$ops_summary" 2>"$ops_summary.err" || rc=$?
    return $rc
}

# ops_front_bg FE DEVID [options]: in the background (pid $ops_bg_pid); $ops_summary names
# its summary at once, so the caller can `wait` and then read it.
ops_front_bg() {
    local fe=$1 devid=$2
    shift 2
    ops_summary=$ops_work/front.$fe.$devid.$RANDOM.out
    "$ops_build/tests/sim/sim-blkfront" --frontend "/local/domain/$fe/device/vbd/$devid" \
        --quiet "$@" >"$ops_summary" 2>"$ops_summary.err" &
    ops_bg_pid=$!
}

ops_front_pass() {
    ops_front "$@" || { cat "$ops_summary" "$ops_summary.err" >&2;
        ops_fail "sim-blkfront $* did not pass"; }
    [ "$(tail -n 1 "$ops_summary")" = "RESULT: PASS" ] || ops_fail "sim-blkfront: no PASS"
}

# The value of NAME on the summary line KEY: (e.g. ops_get requests read).
ops_get() {
    local line
    line=$(grep -m1 "^$1: " "$ops_summary") || ops_fail "no '$1:' line in the summary"
    line=" ${line#*: } "
    line=${line#* "$2"=}
    echo "${line%% *}"
}

# ops_json FILE EXPR: a Python expression over `j`, the file's JSON.
ops_json() {
    python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
        "$1" "$2" || ops_fail "cannot read $2 from $1"
}

ops_expect_eq() {
    [ "$2" = "$3" ] || ops_fail "$1: got '$2', expected '$3'"
}
