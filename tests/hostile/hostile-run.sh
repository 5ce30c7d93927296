# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# The course of one hostile scenario, sourced by tests/hostile/hostile.sh once the case's
# expectations are set: two daemons, a baseline of what the victim holds after an honest
# session, the attack (with the honest loop on the bystander, or for the event storm an IOPS
# benchmark of the bystander against a quiet baseline), then every check the header of
# hostile.sh lists, a liveness run on the victim, the leak checks, and both detaches.

hx_front=$SP_BLKFRONT
hx_check_extra=

hx_apply_variant() {
    case "$hx_variant" in
    "") ;;
    map) hx_daemon_opts+=(--grant-mode map) ;;
    persistent) hx_daemon_opts+=(--grant-mode persistent) && hx_front_opts+=(--persistent) ;;
    x86_32) hx_front_opts+=(--abi x86_32) ;;
    order4) hx_front_opts+=(--ring-order 4) && hx_slots=512 ;;
    *) echo "hostile.sh: unknown variant '$hx_variant'" >&2 && exit 2 ;;
    esac
}

hx_readonly() {
    [[ " ${hx_attach_opts[*]} " == *" --mode r "* ]]
}

# An honest read-only session, then Closed: what the victim holds when idle.
hx_baseline() {
    "$hx_front" --frontend "$hx_fe" --quiet --pattern randread --bs 4096 --duration 1 \
        >"$hl_work/baseline.out" 2>&1 || hl_fail "the baseline session failed"
    hl_wait_state a 6 10
    hx_base_fds=$(hl_fd_kinds "${hl_pid[a]}")
    hx_base_threads=$(hl_threads "${hl_pid[a]}")
}

# What the attacker saw, without the honest mode's summary.
hx_show_attack() {
    local keys='attack|grants|padding|hostile|storm|ring-full|death|double-fetch|indirect-rewrite'
    keys+='|resources'
    grep -E "^($keys|RESULT):" "$hl_work/attack.out" | sed 's/^/    /' >&2 || true
}

hx_attack() {
    local rc=0
    hx_fe_keys=$(xenstore-ls -f "$hx_fe")
    hx_n0=$(hl_log_lines a)
    hx_x0=$(hx_trace_lines)
    hx_t0=$(date +%s%N)
    "$hx_front" --frontend "$hx_fe" --quiet --attack "$hl_case" --watch-pid "${hl_pid[a]}" \
        "${hx_front_opts[@]}" >"$hl_work/attack.out" 2>"$hl_work/attack.err" || rc=$?
    hx_show_attack
    [ $rc -eq 0 ] || hl_fail "sim-blkfront --attack exited $rc: $(tail -n 5 "$hl_work/attack.err")"
    if [ "$hx_flow" = death ]; then
        # The toolstack destroys the dead guest: @releaseDomain (xenstored drops its nodes).
        sp_destroy_domain 1
    fi
    hl_wait_state a 6 30
    hx_t1=$(date +%s%N)
    hx_n1=$(hl_log_lines a)
    hx_x1=$(hx_trace_lines)
}

hx_check_outcome() {
    local got
    got=$(grep '^attack:' "$hl_work/attack.out" || true)
    if [ "$got"$'\n' != "$hx_expect" ]; then
        hl_msg "expected:"
        printf '%s' "$hx_expect" >&2
        hl_msg "got:"
        echo "$got" >&2
        hl_fail "the attack's outcome is not the one expected"
    fi
    [ "$hx_flow" = death ] && return 0
    grep -qx 'grants: pinned=0 live=0' "$hl_work/attack.out" ||
        hl_fail "grants pinned or live after the close: $(grep '^grants:' "$hl_work/attack.out")"
    grep -qE '^padding: responses=[0-9]+ nonzero=0$' "$hl_work/attack.out" ||
        hl_fail "responses with padding not zero: $(grep '^padding:' "$hl_work/attack.out")"
    grep -qx "hostile: attack=$hl_case failures=0" "$hl_work/attack.out" ||
        hl_fail "the attacker's own checks failed: $(cat "$hl_work/attack.err")"
    [ "$(tail -n 1 "$hl_work/attack.out")" = "RESULT: PASS" ] ||
        hl_fail "the attacker's run did not pass: $(tail -n 1 "$hl_work/attack.out")"
}

# Sum of "N WHAT" over the disconnect lines in the attack's window of the victim's log.
hx_window_sum() {
    hl_log_window a "$hx_n0" "$hx_n1" | grep ': disconnected: ' | grep -o "[0-9]* $1" |
        awk '{ n += $1 } END { print n + 0 }'
}

hx_check_window() {
    local win guest secs limit errors bad
    win=$(hl_log_window a "$hx_n0" "$hx_n1")
    # The lines a guest's requests cause (dp_request.c): refusals and failures.
    local pat='bad request id|request id [0-9]+ op [0-9]+ sector [0-9]+ failed|bad indirect request'
    guest=$(echo "$win" | grep -cE "$pat" || true)
    secs=$(((hx_t1 - hx_t0) / 1000000000))
    # 10 lines per 5 s window per queue; the attack may straddle one window boundary more.
    limit=$((10 * (secs / 5 + 2)))
    hl_msg "victim log: $(echo "$win" | wc -l) lines during the attack (${secs} s)," \
        "$guest of them guest-triggered (rate limit: at most $limit)"
    [ "$guest" -le "$limit" ] || hl_fail "$guest guest-triggered log lines in $secs s"
    [ -n "$hx_errors" ] || return 0
    errors=$(hx_window_sum errors)
    bad=$(hx_window_sum 'bad requests')
    if [ "$errors" != "$hx_errors" ] || [ "$bad" != "$hx_bad" ]; then
        hl_fail "the attack connection counted $errors errors and $bad bad requests;" \
            "expected $hx_errors and $hx_bad"
    fi
}

# The racing scenarios: the daemon's error count is exactly the attacker's.
hx_race_counters() {
    local line errors bad_want
    line=$(grep -E '^(double-fetch|indirect-rewrite): ' "$hl_work/attack.out")
    hl_msg "$line"
    errors=${line##*errors=}
    # A refused direct request is a bad request; a bad indirect segment list is an error.
    bad_want=$errors
    [ "$hl_case" = indirect-rewrite ] && bad_want=0
    hx_errors=$errors
    hx_bad=$bad_want
    hx_check_window
}

# The forged protocol: logged once, escaped, in the victim's own name; no line of the log is
# at a priority the daemon never uses (0-2: a forged one), none holds a raw ESC, and none is
# in the bystander's name. The old logger wrote "<0>xenblkd[d2/51744]: ok" as a line of its own.
hx_forged_log() {
    local log=${hl_log[a]} esc=$'\x1b' want
    want="<3>xenblkd[d1/51728]: fatal: unknown protocol $hx_forged"
    [ "$(grep -cxF "$want" "$log")" = 1 ] ||
        hl_fail "the victim's log does not hold the escaped protocol line: $want"
    ! grep -qE '^<[0-2]>' "$log" || hl_fail "a line of the victim's log is at priority 0-2"
    ! grep -qF "$esc" "$log" || hl_fail "the victim's log holds a raw ESC"
    ! grep -qE '^(<[0-9]>)?xenblkd\[d2/' "$log" ||
        hl_fail "the victim's log holds a line in the bystander's name"
    hl_msg "the forged protocol is logged escaped, as one line: $(grep -F 'unknown protocol' "$log")"
}

# ---- xenstore writes (xenstored's trace, hl_xs_trace=1) ----

hx_trace_lines() {
    if [ "${hl_xs_trace:-0}" = 1 ]; then wc -l <"$hl_work/xen/xenstored.trace"; else echo 0; fi
}

# WRITE requests in the attack's window of the trace to paths starting with $1.
hx_trace_writes() {
    sed -n "$((hx_x0 + 1)),${hx_x1}p" "$hl_work/xen/xenstored.trace" |
        grep -cF " WRITE ($1" || true
}

# docs/security.md: the daemon changes its state at most once per state the frontend writes;
# per state change of its own it writes at most 15 nodes (InitWait: 10 feature keys, 4 disk
# keys and the state; Connected: 4 disk keys and the state; a refusal: the error node and the
# state) and logs at most 3 + queues lines (the state; connected and a storage line per
# queue, or disconnected, or the refusal). So a guest cannot make the control thread write or
# log faster than it writes its own state; the data path's lines are rate-limited.
hx_control_bounds() {
    local be=${hl_be[a]} fe_states be_states be_all err lines q=1 secs
    err=${be%%/backend/*}/error/backend/${be#*/backend/}/
    grep -q '^resources: ' "$hl_work/attack.out" && q=$(hx_res queues)
    fe_states=$(hx_trace_writes "$hx_fe/state ")
    be_states=$(hx_trace_writes "$be/state ")
    be_all=$(($(hx_trace_writes "$be/") + $(hx_trace_writes "$err")))
    # The daemon's own lines (not valgrind's, under the memcheck wrapper).
    lines=$(hl_log_window a "$hx_n0" "$hx_n1" | grep -cE '^(<[0-7]>)?xenblkd\[' || true)
    secs=$(((hx_t1 - hx_t0) / 1000000000))
    hl_msg "during the attack the frontend wrote its state $fe_states times; the daemon" \
        "wrote its state $be_states times, $be_all nodes in all, and logged $lines lines"
    [ "$fe_states" -gt 0 ] || hl_fail "no frontend state write in xenstored's trace"
    [ "$be_states" -le "$fe_states" ] ||
        hl_fail "the daemon changed state $be_states times for $fe_states frontend states"
    [ "$be_all" -le $((15 * be_states)) ] ||
        hl_fail "the daemon wrote $be_all nodes for $be_states state changes (at most 15 each)"
    [ "$lines" -le $(((3 + q) * be_states + 10 * (secs / 5 + 2))) ] ||
        hl_fail "$lines log lines for $be_states state changes with $q queue(s)"
}

# One value of the attacker's `resources:` line.
hx_res() {
    grep '^resources: ' "$hl_work/attack.out" | grep -o " $1=[0-9]*" | cut -d= -f2
}

# The bounds of docs/security.md, per queue of the daemon: one data thread; at most 7 fds in
# the simulation (gnttab directory, the guest's memfd and pidfd, an epoll set and a socket
# for the event channel, the control eventfd, the io_uring; on Xen: gntdev, evtchn, eventfd,
# io_uring); at most 16 memory mappings for small requests (the ring, the guest's memory,
# io_uring's rings, the thread's stack and guard, its malloc arena). After every close: the
# idle fds and threads exactly, and at most the malloc arenas glibc keeps for reuse (3
# mappings each, at most 8 per CPU). io_uring's kernel workers (iou-wrk) are bounded by the
# kernel at 4 per CPU per ring for file I/O, and by the daemon at 16 per data thread for any
# I/O (engine_uring.c); the kernel's bound is the tighter one on this machine.
hx_resources() {
    local q ifd ith imp cpus pfd workers
    hl_msg "$(grep '^resources: ' "$hl_work/attack.out")"
    q=$(hx_res queues) ifd=$(hx_res idle_fds) ith=$(hx_res idle_threads) imp=$(hx_res idle_maps)
    cpus=$(getconf _NPROCESSORS_ONLN)
    # The threads engine (which the valgrind wrapper picks) adds its workers to each queue.
    workers=$(grep -m1 -o 'storage: threads: [0-9]* workers' "${hl_log[a]}" | grep -o '[0-9]*' ||
        echo 0)
    [ "$ith" = "$hx_base_threads" ] ||
        hl_fail "the attacker saw $ith idle threads, the harness $hx_base_threads"
    [ "$(hx_res peak_threads)" = $((ith + q * (1 + workers))) ] ||
        hl_fail "$(hx_res peak_threads) threads with $q queues of $workers engine workers:" \
            "not one data thread per queue and its workers"
    pfd=$(hx_res peak_fds)
    [ "$pfd" -le $((ifd + 7 * q)) ] && [ "$pfd" -ge $((ifd + 4 * q)) ] ||
        hl_fail "$pfd fds with $q queues, $ifd idle: not 4 to 7 per queue"
    # Under valgrind (a wrapper as XENBLKD) the address space is valgrind's: not measured.
    if [ -n "${XENBLKD:-}" ] && [ "$(basename "$XENBLKD")" != xenblkd ]; then
        hl_msg "mappings not measured under $XENBLKD"
        imp=
    fi
    [ -z "$imp" ] || [ "$(hx_res peak_maps)" -le $((imp + 16 * q)) ] ||
        hl_fail "$(hx_res peak_maps) mappings with $q queues, $imp idle: more than 16 per queue"
    [ "$(hx_res peak_iowq)" -le $((4 * cpus * q)) ] ||
        hl_fail "$(hx_res peak_iowq) io_uring workers: more than the kernel's bound"
    [ "$(hx_res closed_threads)" = "$ith" ] && [ "$(hx_res closed_fds)" = "$ifd" ] ||
        hl_fail "after a close: $(hx_res closed_threads) threads and $(hx_res closed_fds) fds," \
            "$ith and $ifd idle"
    [ -z "$imp" ] || [ "$(hx_res closed_maps)" -le $((imp + 3 * 8 * cpus)) ] ||
        hl_fail "after a close: $(hx_res closed_maps) mappings, $imp idle"
}

# While the ring is full and nothing comes, the daemon must idle: under 10% of a CPU.
hx_ring_full_cpu() {
    local line cpu
    line=$(grep '^ring-full: phase=hold' "$hl_work/attack.out")
    hl_msg "$line; $(grep '^ring-full: phase=refill' "$hl_work/attack.out")"
    cpu=${line##*daemon_cpu_ms=}
    [ "$cpu" -le 200 ] || hl_fail "the daemon used $cpu ms of CPU in 2 s with nothing to do"
}

# ---- the event storm ----

hx_bench_b() {
    local out=$1 secs=$2
    "$hx_front" --frontend "${hl_fe[b]}" --quiet --pattern randread --bs 4096 \
        --duration "$secs" >"$out" 2>&1 ||
        hl_fail "the bystander's benchmark failed: $(tail -n 3 "$out")"
    [ "$(tail -n 1 "$out")" = "RESULT: PASS" ] || hl_fail "the bystander's benchmark did not verify"
    grep '^bench: ' "$out" | grep -o ' iops=[0-9]*' | cut -d= -f2
}

# The storm lasts at least 3 s; the bystander is measured for 2 s inside it, and for as long
# before it, quiet. The victim daemon's CPU time over the storm must stay under 10% of the
# storm's length: after 32 empty wake-ups its unmask waits 1 ms doubling to 100 ms, so it
# wakes about ten times a second, each wake-up well under a millisecond even under ASan or
# valgrind. Without the back-off it would wake for every kick that got through (hundreds of
# thousands a second in the simulation).
hx_storm_attack() {
    local base storm rc=0 pid line cpu ms i events
    hx_bench_b "$hl_work/bench.warm-up" 1 >/dev/null
    base=$(hx_bench_b "$hl_work/bench.quiet" 2)
    hx_n0=$(hl_log_lines a)
    hx_t0=$(date +%s%N)
    "$hx_front" --frontend "$hx_fe" --quiet --attack "$hl_case" --watch-pid "${hl_pid[a]}" \
        "${hx_front_opts[@]}" >"$hl_work/attack.out" 2>"$hl_work/attack.err" &
    pid=$!
    for ((i = 0; i < 400; i++)); do
        grep -q 'storm begins' "$hl_work/attack.err" && break
        sleep 0.025
    done
    storm=$(hx_bench_b "$hl_work/bench.storm" 2)
    wait "$pid" || rc=$?
    hx_show_attack
    [ $rc -eq 0 ] || hl_fail "sim-blkfront --attack exited $rc: $(tail -n 5 "$hl_work/attack.err")"
    hl_wait_state a 6 30
    hx_t1=$(date +%s%N)
    hx_n1=$(hl_log_lines a)
    line=$(grep '^storm: ' "$hl_work/attack.out")
    cpu=$(echo "$line" | grep -o 'daemon_cpu_ms=[0-9]*' | cut -d= -f2)
    ms=$(echo "$line" | grep -o ' ms=[0-9]*' | cut -d= -f2)
    events=$(hx_window_sum events)
    hl_msg "$line; the victim took $events events in all"
    hl_msg "bystander 4k randread: $base IOPS quiet, $storm IOPS during the storm" \
        "($((storm * 100 / (base ? base : 1)))%)"
    [ $((cpu * 10)) -le "$ms" ] || hl_fail "the victim used $cpu ms of CPU over a $ms ms storm"
    [ $((storm * 4)) -ge "$base" ] ||
        hl_fail "the bystander fell below a quarter of its quiet IOPS during the storm"
}

# ---- after the attack ----

# An honest guest on the victim, below the attacker's area: data verified.
hx_liveness() {
    local opts=(--requests 1000 --span "$hx_area" --indirect 32)
    hx_readonly && opts+=(--expect-readonly)
    if [ "$hx_flow" = death ]; then
        [ "$(hl_mapped "${hl_pid[a]}" 1)" = 0 ] ||
            hl_fail "xenblkd still maps the dead guest's memory"
        # The toolstack builds a new guest, which happens to get domid 1 again, with the
        # same disk: its device directory as before.
        sp_revive_domain 1
        echo "$hx_fe_keys" | grep -v '/state = ' | while IFS= read -r line; do
            xenstore-write "${line%% = *}" "$(echo "${line#* = }" | sed 's/^"//; s/"$//')"
        done
        xenstore-write "$hx_fe/state" 1
    fi
    "$hx_front" --frontend "$hx_fe" --quiet "${opts[@]}" >"$hl_work/live.out" 2>&1 ||
        hl_fail "an honest guest on the victim failed: $(tail -n 3 "$hl_work/live.out")"
    hl_wait_state a 6 10
    hl_msg "victim after the attack: an honest guest verified" \
        "$(grep -o '^verify: sectors=[0-9]*' "$hl_work/live.out" | cut -d= -f2) sectors"
}

hx_check_leaks() {
    local fds threads conn disc
    kill -0 "${hl_pid[a]}" 2>/dev/null || hl_fail "the victim daemon died"
    fds=$(hl_fd_kinds "${hl_pid[a]}")
    if [ "$fds" != "$hx_base_fds" ]; then
        diff <(echo "$hx_base_fds") <(echo "$fds") >&2 || true
        hl_fail "the victim's fds differ from those after an honest session"
    fi
    threads=$(hl_threads "${hl_pid[a]}")
    [ "$threads" = "$hx_base_threads" ] ||
        hl_fail "the victim has $threads threads, $hx_base_threads after an honest session"
    [ "$(hl_mapped "${hl_pid[a]}" 1)" = 0 ] || hl_fail "the victim still maps guest memory"
    conn=$(grep -c ']: connected: ' "${hl_log[a]}" || true)
    disc=$(grep -c ']: disconnected: ' "${hl_log[a]}" || true)
    [ "$conn" = "$disc" ] || hl_fail "$conn connections but $disc disconnections"
    hl_msg "no leak: $(echo "$fds" | wc -l) fds and $threads threads as after an honest" \
        "session, $conn connections all torn down, no guest memory mapped"
}

hx_main() {
    hx_apply_variant
    "case_${hl_case//-/_}"
    hl_start_platform
    hl_attach b 2 51744 32
    hl_start_daemon b --max-queues 2
    hl_attach a 1 51728 64 "${hx_attach_opts[@]}"
    hl_start_daemon a "${hx_daemon_opts[@]}"
    hx_baseline
    if [ "$hx_flow" = storm ]; then
        hx_storm_attack
    else
        hl_honest_loop_start
        hx_attack
        hl_honest_loop_stop "$hx_t0" "$hx_t1"
    fi
    hx_check_outcome
    hx_check_window
    local extra
    for extra in $hx_check_extra; do "hx_$extra"; done
    hx_liveness
    hx_check_leaks
    hl_detach b
    hl_detach a
    hl_msg PASS
}
