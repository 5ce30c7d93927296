# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# Helpers of tests/hostile/hostile.sh, sourced by it. One simulated Xen platform per test
# (tests/sim/simplat.sh) with two virtual block devices, each served by its own xenblkd: the
# victim "a" (guest domain 1), attacked by sim-blkfront --attack, and the bystander "b" (guest
# domain 2), on which an honest, verifying sim-blkfront runs in a loop during the attack. Also:
# the daemon's fds, threads and mappings of a guest's memory, its log window around the attack,
# and assertions that name what was expected and what was found.
#
# Needs: hl_build (meson build directory), hl_src (source tree), hl_case. XENBLKD may name
# another daemon binary or a wrapper (tests/valgrind/xenblkd-memcheck.sh).

# shellcheck source=tests/sim/simplat.sh
. "$hl_src/tests/sim/simplat.sh"
sp_init "$hl_build"

hl_work=
hl_loop_pid=
declare -A hl_pid hl_be hl_fe hl_img hl_log

hl_msg() { echo "hostile[$hl_case]: $*" >&2; }

hl_show_logs() {
    local v
    for v in a b; do
        if [ -z "${hl_log[$v]:-}" ] || [ ! -s "${hl_log[$v]}" ]; then
            continue
        fi
        hl_msg "xenblkd $v log (${hl_log[$v]}, last 25 lines):"
        tail -n 25 "${hl_log[$v]}" | cut -c1-300 >&2
    done
}

hl_fail() {
    hl_msg "FAIL: $*"
    hl_show_logs
    exit 1
}

hl_start_platform() {
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
    SP_LOG_PREFIX="hostile[$hl_case]"
    SP_KEEP=${HOSTILE_KEEP:-0}
    SP_KEEP_FAILED=${HOSTILE_KEEP_FAILED:-}
    sp_work xbd-hostile
    hl_work=$SP_WORK
    sp_on_exit hl_stop_honest_loop
    # xenstored's trace only where a case counts the daemon's writes (hl_xs_trace=1).
    XENBLKD_SIM_TRACE=${hl_xs_trace:-0} sp_start
}

hl_stop_honest_loop() {
    [ -z "$hl_loop_pid" ] || { kill "$hl_loop_pid" 2>/dev/null && wait "$hl_loop_pid" 2>/dev/null; }
}

# hl_attach V DOMID DEVID MIB [sp_attach options...]: a fresh zeroed image.
hl_attach() {
    local v=$1 domid=$2 devid=$3 mib=$4
    shift 4
    hl_img[$v]=$hl_work/$v.img
    truncate -s "${mib}M" "${hl_img[$v]}"
    hl_be[$v]=$(sp_attach --fe-domid "$domid" --devid "$devid" --kind vbd \
        --params "aio:${hl_img[$v]}" "$@") || hl_fail "attach (sp_attach) failed for $v"
    hl_fe[$v]=/local/domain/$domid/device/vbd/$devid
}

hl_state() {
    sp_state "${hl_be[$1]}"
}

# hl_wait_state V STATE SECS
hl_wait_state() {
    local v=$1 rc=0
    sp_wait_state "${hl_be[$v]}" "$2" "$3" "${hl_pid[$v]}" || rc=$?
    case $rc in
    0) ;;
    2) hl_fail "xenblkd $v exited while we waited for state $2 (it is '$SP_STATE')" ;;
    *) hl_fail "xenblkd $v is in state '$SP_STATE', not $2, after $3 s" ;;
    esac
}

# hl_start_daemon V [xenblkd options...]: start it and wait for InitWait.
hl_start_daemon() {
    local v=$1
    shift
    [ -x "$SP_XENBLKD" ] || hl_fail "no daemon binary at $SP_XENBLKD"
    hl_log[$v]=$hl_work/xenblkd.$v.log
    sp_start_daemon "${hl_log[$v]}" --backend-path "${hl_be[$v]}" "$@"
    hl_pid[$v]=$SP_DAEMON_PID
    hl_wait_state "$v" 2 30
}

# Detach as libxl does; the daemon must reach Closed and exit 0 (under valgrind, an error
# or a definite leak makes it exit otherwise).
hl_detach() {
    local v=$1
    sp_detach "${hl_be[$v]}" 30 || hl_fail "detach of $v: the backend did not reach Closed"
    sp_wait_exit "${hl_pid[$v]}" 30 || hl_fail "xenblkd $v still runs after the detach"
    hl_pid[$v]=
    [ "$SP_EXIT_STATUS" -eq 0 ] || hl_fail "xenblkd $v exited $SP_EXIT_STATUS after the detach"
}

# ---- what a daemon holds ----

# Normalised targets of a process's fds: what kind of thing each one is.
hl_fd_kinds() {
    local fd
    for fd in /proc/"$1"/fd/*; do
        readlink "$fd" 2>/dev/null | sed -e 's/:\[[0-9]*\]$//' -e 's/^socket:.*/socket/' \
            -e 's|^/proc/[0-9]*/fd/.*|procfd|'
    done | sort
}

hl_threads() {
    find "/proc/$1/task" -mindepth 1 -maxdepth 1 | wc -l
}

# Ranges of a guest's memory (the simulated domain's memfd) the daemon maps.
hl_mapped() {
    grep -c "memfd:xbd-sim-dom$2 " "/proc/$1/maps" || true
}

hl_log_lines() {
    wc -l <"${hl_log[$1]}"
}

# Lines (from, to] of V's log.
hl_log_window() {
    sed -n "$(($2 + 1)),$3p" "${hl_log[$1]}"
}

# ---- the honest bystander ----

# An honest, verifying run on b. The disk must start zeroed; afterwards it is zeroed again.
hl_honest_once() {
    local out=$1 rc=0
    "$SP_BLKFRONT" --frontend "${hl_fe[b]}" --quiet --requests 1500 \
        --discard --indirect 32 >"$out" 2>&1 || rc=$?
    fallocate --punch-hole --offset 0 --length "$(stat -c %s "${hl_img[b]}")" "${hl_img[b]}" ||
        dd if=/dev/zero of="${hl_img[b]}" bs=1M count="$(($(stat -c %s "${hl_img[b]}") >> 20))" \
            conv=notrunc status=none
    return $rc
}

# Honest runs on b, one after the other, until $hl_work/honest.stop exists. Each leaves a line
# `N START_NS END_NS RC` in $hl_work/honest.runs.
hl_honest_loop_start() {
    rm -f "$hl_work/honest.stop" "$hl_work/honest.runs"
    (
        i=0
        while [ ! -e "$hl_work/honest.stop" ]; do
            i=$((i + 1))
            start=$(date +%s%N)
            rc=0
            hl_honest_once "$hl_work/honest.$i.out" || rc=$?
            echo "$i $start $(date +%s%N) $rc" >>"$hl_work/honest.runs"
        done
    ) &
    hl_loop_pid=$!
    # The first run is connected before the attack starts, so it overlaps it.
    local i
    for ((i = 0; i < 600; i++)); do
        [ "$(xenstore-read "${hl_fe[b]}/state" 2>/dev/null)" = 4 ] && return 0
        sleep 0.05
    done
    hl_fail "the honest run on b never connected"
}

# hl_honest_loop_stop T0_NS T1_NS: every honest run passed, and one overlapped [T0, T1].
hl_honest_loop_stop() {
    local t0=$1 t1=$2 n ok overlap
    touch "$hl_work/honest.stop"
    wait "$hl_loop_pid" || hl_fail "the honest loop on b failed"
    hl_loop_pid=
    n=$(wc -l <"$hl_work/honest.runs")
    ok=$(awk '$4 == 0' "$hl_work/honest.runs" | wc -l)
    overlap=$(awk -v a="$t0" -v b="$t1" '$2 < b && $3 > a' "$hl_work/honest.runs" | wc -l)
    if [ "$ok" != "$n" ]; then
        hl_msg "honest runs: $(tr '\n' ';' <"$hl_work/honest.runs")"
        tail -n 5 "$hl_work"/honest.*.out >&2
        hl_fail "$((n - ok)) of $n honest runs on b failed during the attack"
    fi
    [ "$overlap" -ge 1 ] || hl_fail "no honest run on b overlapped the attack"
    hl_msg "bystander b: $n honest verified runs, all passed, $overlap during the attack"
}
