# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# Helpers of tests/e2e/features.sh, sourced by it: one simulated Xen platform per test in a
# private directory (tests/sim/simplat.sh: disks attached the way libxl does, the daemon
# started on a backend and stopped through a toolstack detach, everything undone at exit), the
# simulated blkfront run to a summary, and assertions on that summary's `key: name=value`
# lines. Every failure names what was expected and what was found, and the daemon's log is
# shown.
#
# Needs: feat_build (the meson build directory) and feat_src (the source tree). XENBLKD may
# name another daemon binary (e.g. another build's) to test against.

# shellcheck source=tests/sim/simplat.sh
. "$feat_src/tests/sim/simplat.sh"
sp_init "$feat_build"

feat_work=
feat_img=
feat_loopdev=
feat_daemon_pid=
feat_daemon_log=
feat_be=
feat_fe=
feat_devid=51712
feat_fe_domid=1
feat_summary=
feat_keep=${FEAT_KEEP:-0}

feat_log() { echo "feat[$feat_case]: $*" >&2; }

feat_show_daemon_log() {
    [ -n "$feat_daemon_log" ] && [ -s "$feat_daemon_log" ] || return 0
    feat_log "xenblkd log ($feat_daemon_log, last 30 lines):"
    tail -n 30 "$feat_daemon_log" >&2
}

feat_fail() {
    feat_log "FAIL: $*"
    feat_show_daemon_log
    exit 1
}

# Wait (up to 30 s) until a background sim-blkfront (pid $1) printed $2 on its stderr (file $3).
feat_wait_front_says() {
    local i
    for ((i = 0; i < 600; i++)); do
        grep -q "$2" "$3" && return 0
        kill -0 "$1" 2>/dev/null || break
        sleep 0.05
    done
    feat_fail "sim-blkfront never said '$2': $(tail -n 5 "$3")"
}

feat_skip() {
    feat_log "SKIP: $*"
    exit 77
}

# A private simulation: xenstored, grant tables and event channels under $feat_work/xen.
# In a sanitizer build, any report makes the process fail instead of scrolling by.
feat_start_platform() {
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
    SP_LOG_PREFIX="feat[$feat_case]"
    SP_KEEP=$feat_keep
    SP_KEEP_FAILED=${FEAT_KEEP_FAILED:-}
    sp_work xbd-feat
    feat_work=$SP_WORK
    sp_on_exit feat_release_loop
    XENBLKD_SIM_TRACE=0 sp_start
}

# A loop device a case set up (feat_loopdev) goes at exit.
feat_release_loop() {
    [ -z "$feat_loopdev" ] || losetup -d "$feat_loopdev" 2>/dev/null
}

# A new device id and a fresh sparse (zeroed) image of $1 MiB for it, at $feat_img. A case
# may attach several disks one after the other.
feat_new_image() {
    feat_devid=$((feat_devid + 16))
    feat_img=$feat_work/disk.$feat_devid.img
    rm -f "$feat_img"
    truncate -s "${1}M" "$feat_img"
}

# Attach the current device: feat_attach PARAMS [sp_attach options...].
feat_attach() {
    local params=$1
    shift
    feat_be=$(sp_attach --fe-domid "$feat_fe_domid" --devid "$feat_devid" --kind vbd \
        --params "$params" "$@") || feat_fail "attach (sp_attach) failed"
    feat_fe=/local/domain/$feat_fe_domid/device/vbd/$feat_devid
}

feat_be_read() {
    xenstore-read "$feat_be/$1" 2>/dev/null
}

# Poll until the backend's state is $1, for at most $2 seconds.
feat_wait_be_state() {
    local rc=0
    sp_wait_state "$feat_be" "$1" "$2" "$feat_daemon_pid" || rc=$?
    case $rc in
    0) ;;
    2) feat_fail "xenblkd exited while we waited for backend state $1 (it is '$SP_STATE')" ;;
    *) feat_fail "backend state is '$SP_STATE', not $1, after $2 s" ;;
    esac
}

feat_wait_fe_state() {
    sp_wait_state "$feat_fe" "$1" "$2" ||
        feat_fail "frontend state is '$SP_STATE', not $1, after $2 s"
}

# Start xenblkd on the current backend with extra options, and wait for its InitWait.
feat_start_daemon() {
    [ -x "$SP_XENBLKD" ] || feat_fail "no daemon binary at $SP_XENBLKD"
    feat_daemon_log=$feat_work/xenblkd.$feat_devid.log
    sp_start_daemon "$feat_daemon_log" --backend-path "$feat_be" "$@"
    feat_daemon_pid=$SP_DAEMON_PID
    feat_wait_be_state 2 10
}

# Run the simulated blkfront on the current frontend; its summary goes to $feat_summary.
# Returns its exit status (the caller decides whether a failure is expected).
feat_front() {
    local rc=0
    feat_summary=$feat_work/front.$feat_devid.$RANDOM.out
    "$SP_BLKFRONT" --frontend "$feat_fe" --quiet "$@" >"$feat_summary" || rc=$?
    sed 's/^/    /' "$feat_summary" >&2
    return $rc
}

# The same, but the run must pass.
feat_front_pass() {
    feat_front "$@" || feat_fail "sim-blkfront $* did not pass (exit $?)"
    feat_expect_line "RESULT: PASS"
}

feat_expect_line() {
    [ "$(tail -n 1 "$feat_summary")" = "$1" ] ||
        feat_fail "the summary's last line is '$(tail -n 1 "$feat_summary")', not '$1'"
}

# The value of NAME on the summary line starting with KEY:.
feat_get() {
    local key=$1 name=$2 line
    line=$(grep -m1 "^$key: " "$feat_summary") || feat_fail "no '$key:' line in the summary"
    line=" ${line#*: } "
    case "$line" in
    *" $name="*) ;;
    *) feat_fail "no $name= on the summary's '$key:' line" ;;
    esac
    line=${line#* "$name"=}
    echo "${line%% *}"
}

# feat_expect KEY NAME OP VALUE, OP one of = != -gt -ge -lt -le.
feat_expect() {
    local key=$1 name=$2 op=$3 want=$4 got
    got=$(feat_get "$key" "$name")
    case "$op" in
    =) [ "$got" = "$want" ] ;;
    !=) [ "$got" != "$want" ] ;;
    -gt) [ "$got" -gt "$want" ] ;;
    -ge) [ "$got" -ge "$want" ] ;;
    -lt) [ "$got" -lt "$want" ] ;;
    -le) [ "$got" -le "$want" ] ;;
    *) false ;;
    esac || feat_fail "summary $key $name is '$got'; expected $op $want"
}

# The daemon's log must match an extended regular expression.
feat_expect_log() {
    grep -Eq "$1" "$feat_daemon_log" || feat_fail "xenblkd's log never says /$1/"
}

# The daemon's count of grant map calls over all its connections so far (from the
# `disconnected: ... N map calls` lines it logs).
feat_daemon_map_calls() {
    grep -o '[0-9]* map calls' "$feat_daemon_log" | awk '{ n += $1 } END { print n + 0 }'
}

# A flag key of the backend: absent or 0 both mean off.
feat_expect_be_flag() {
    local key=$1 want=$2 got
    got=$(feat_be_read "$key" || echo 0)
    [ "$got" = "$want" ] || feat_fail "backend $key is '$got', expected $want"
}

# Detach as libxl does; the daemon must reach Closed and exit 0.
feat_detach() {
    sp_detach "$feat_be" 20 || feat_fail "detach: the backend did not reach Closed"
    sp_wait_exit "$feat_daemon_pid" 10 || feat_fail "xenblkd still runs after the detach"
    feat_daemon_pid=
    [ "$SP_EXIT_STATUS" -eq 0 ] || feat_fail "xenblkd exited $SP_EXIT_STATUS after the detach"
}

# Serve a fresh image of $1 MiB with the daemon options that follow, until feat_detach.
feat_serve_image() {
    local size=$1
    shift
    feat_new_image "$size"
    feat_attach "aio:$feat_img"
    feat_start_daemon "$@"
}

# losetup a file; prints the device, or fails with the reason (for a skip message).
feat_loop_setup() {
    local file=$1
    shift
    losetup --find --show --direct-io=on "$@" "$file" 2>&1
}

# The network-storage suites' (tests/nbd, tests/rbd) outage detach, once the storage is gone
# ($2 names it: "server", "cluster") and guest $1 floods the ring (sim-blkfront --discard-flood,
# its output in $feat_work/od.out and od.err): the detach must take at most 5 s, the daemon
# exit 0, and the guest be answered or torn down, never left waiting.
feat_detach_storage_gone() {
    local flood=$1 what=$2 t0 ms rc=0 i
    t0=$(date +%s%N)
    sp_detach "$feat_be" 20 || feat_fail "detach: the backend did not reach Closed"
    sp_wait_exit "$feat_daemon_pid" 10 || feat_fail "xenblkd still runs 10 s after the detach"
    ms=$((($(date +%s%N) - t0) / 1000000))
    feat_daemon_pid=
    [ "$SP_EXIT_STATUS" -eq 0 ] || feat_fail "xenblkd exited $SP_EXIT_STATUS after the detach"
    [ "$ms" -le 5000 ] || feat_fail "the detach took $ms ms with the $what gone (bound 5000)"
    feat_log "detached in $ms ms with the $what gone and the ring full"
    for ((i = 0; i < 200; i++)); do
        kill -0 "$flood" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$flood" 2>/dev/null; then
        feat_fail "the guest still waits: $(tail -n 3 "$feat_work/od.err")"
    fi
    wait "$flood" || rc=$?
    sp_untrack "$flood"
    feat_summary=$feat_work/od.out
    sed 's/^/    /' "$feat_summary" >&2
    [ $rc -eq 0 ] || feat_fail "the flooding guest failed (exit $rc)"
    feat_expect flood closed = 1
}

# kill -9 of the daemon under a guest's writes on two queues: once the guest has 2000 writes
# acknowledged (sim-blkfront --ack-log $1), the daemon is killed, then the guest. The suites
# then check the acknowledged writes against their storage read back.
feat_kill9_under_writes() {
    local acks=$1 front i
    "$SP_BLKFRONT" --frontend "$feat_fe" --quiet --queues 2 --requests 1000000 \
        --ack-log "$acks" --timeout 5 >"$feat_work/k9.out" 2>"$feat_work/k9.err" &
    front=$!
    sp_track "$front"
    for ((i = 0; i < 600; i++)); do
        [ -f "$acks" ] && [ "$(wc -l <"$acks")" -ge 2000 ] && break
        sleep 0.05
    done
    kill -KILL "$feat_daemon_pid"
    sp_wait_exit "$feat_daemon_pid" 5 || feat_fail "xenblkd survived kill -9"
    feat_daemon_pid=
    kill -KILL "$front" 2>/dev/null || true
    wait "$front" 2>/dev/null || true
    sp_untrack "$front"
    feat_log "killed the daemon after $(wc -l <"$acks") acknowledged writes"
}
