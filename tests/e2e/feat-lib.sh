# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# Helpers of tests/e2e/features.sh, sourced by it: one simulated Xen platform per test in a
# private directory, disks attached the way libxl does (sim-toolstack.sh), the daemon started
# on a backend and stopped through a toolstack detach, the simulated blkfront run to a summary,
# and assertions on that summary's `key: name=value` lines. Every failure names what was
# expected and what was found, and the daemon's log is shown.
#
# Needs: feat_build (the meson build directory) and feat_src (the source tree). XENBLKD may
# name another daemon binary (e.g. another build's) to test against.

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

feat_skip() {
    feat_log "SKIP: $*"
    exit 77
}

feat_cleanup() {
    local rc=$?
    if [ -n "$feat_daemon_pid" ] && kill -0 "$feat_daemon_pid" 2>/dev/null; then
        kill "$feat_daemon_pid" 2>/dev/null
        wait "$feat_daemon_pid" 2>/dev/null
    fi
    if [ -n "${feat_loopdev:-}" ]; then
        losetup -d "$feat_loopdev" 2>/dev/null || true
    fi
    "$feat_src/tests/sim/sim-xen.sh" stop "$feat_work/xen" >/dev/null 2>&1 || true
    if [ "$feat_keep" = 1 ] || { [ $rc -ne 0 ] && [ $rc -ne 77 ] && [ -n "${FEAT_KEEP_FAILED:-}" ]; }; then
        feat_log "kept $feat_work"
    else
        rm -rf "$feat_work"
    fi
    exit $rc
}

# A private simulation: xenstored, grant tables and event channels under $feat_work/xen.
# In a sanitizer build, any report makes the process fail instead of scrolling by.
feat_start_platform() {
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
    feat_work=$(mktemp -d "${TMPDIR:-/var/tmp}/xbd-feat.XXXXXX")
    trap feat_cleanup EXIT
    trap 'exit 1' INT TERM
    export XENBLKD_SHIM="$feat_build/tests/sim/libxenstored-shim.so"
    XENBLKD_SIM_TRACE=0 eval "$("$feat_src/tests/sim/sim-xen.sh" start "$feat_work/xen")"
}

# A new device id and a fresh sparse (zeroed) image of $1 MiB for it, at $feat_img. A case
# may attach several disks one after the other.
feat_new_image() {
    feat_devid=$((feat_devid + 16))
    feat_img=$feat_work/disk.$feat_devid.img
    rm -f "$feat_img"
    truncate -s "${1}M" "$feat_img"
}

# Attach the current device: feat_attach PARAMS [sim-toolstack attach options...].
feat_attach() {
    local params=$1
    shift
    feat_be=$("$feat_src/tests/sim/sim-toolstack.sh" attach --fe-domid "$feat_fe_domid" \
        --devid "$feat_devid" --kind vbd --params "$params" "$@") ||
        feat_fail "sim-toolstack.sh attach failed"
    feat_fe=/local/domain/$feat_fe_domid/device/vbd/$feat_devid
}

feat_be_read() {
    xenstore-read "$feat_be/$1" 2>/dev/null
}

# Poll until the backend's state is $1, for at most $2 seconds.
feat_wait_be_state() {
    local want=$1 secs=$2 state="" i
    for ((i = 0; i < secs * 20; i++)); do
        state=$(feat_be_read state || true)
        [ "$state" = "$want" ] && return 0
        if [ -n "$feat_daemon_pid" ] && ! kill -0 "$feat_daemon_pid" 2>/dev/null; then
            feat_fail "xenblkd exited while we waited for backend state $want (it is '$state')"
        fi
        sleep 0.05
    done
    feat_fail "backend state is '$state', not $want, after $secs s"
}

feat_wait_fe_state() {
    local want=$1 secs=$2 state="" i
    for ((i = 0; i < secs * 20; i++)); do
        state=$(xenstore-read "$feat_fe/state" 2>/dev/null || true)
        [ "$state" = "$want" ] && return 0
        sleep 0.05
    done
    feat_fail "frontend state is '$state', not $want, after $secs s"
}

# Start xenblkd on the current backend with extra options, and wait for its InitWait.
feat_start_daemon() {
    local bin=${XENBLKD:-$feat_build/src/xenblkd}
    [ -x "$bin" ] || feat_fail "no daemon binary at $bin"
    feat_daemon_log=$feat_work/xenblkd.$feat_devid.log
    "$bin" --backend-path "$feat_be" --xen sim "$@" 2>"$feat_daemon_log" &
    feat_daemon_pid=$!
    feat_wait_be_state 2 10
}

# Run the simulated blkfront on the current frontend; its summary goes to $feat_summary.
# Returns its exit status (the caller decides whether a failure is expected).
feat_front() {
    local rc=0
    feat_summary=$feat_work/front.$feat_devid.$RANDOM.out
    "$feat_build/tests/sim/sim-blkfront" --frontend "$feat_fe" --quiet "$@" \
        >"$feat_summary" || rc=$?
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
    local rc=0 i
    "$feat_src/tests/sim/sim-toolstack.sh" detach --backend "$feat_be" --timeout 20 ||
        feat_fail "detach: the backend did not reach Closed"
    for ((i = 0; i < 100; i++)); do
        kill -0 "$feat_daemon_pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$feat_daemon_pid" 2>/dev/null && feat_fail "xenblkd still runs after the detach"
    wait "$feat_daemon_pid" || rc=$?
    feat_daemon_pid=
    [ $rc -eq 0 ] || feat_fail "xenblkd exited $rc after the detach"
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
