#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The hostile attacks' exact expected outcomes, one case_<attack> function each, and the list
# of attacks (hx_cases). Sourced by tests/hostile/hostile.sh (the simulated platform) and by
# tests/xen/scenarios/attacker.sh (the same attacks on a real Xen). The caller sets hx_fe (the
# attacker's frontend path), hx_slots and hl_case before calling a case function.
# shellcheck disable=SC2034 # the variables are read by the sourcing script

# One expected `attack:` line.
X() { hx_expect+="attack: name=$hl_case $*"$'\n'; }
# The attack connection's "N errors" and "N bad requests", exactly.
counters() { hx_errors=$1; hx_bad=$2; }
# A refused request reported, then flooded 199 times: the usual shape.
refused() {
    local step=$1 id=$2 op=$3 status=$4
    X "step=$step outcome=error-response id=$id op=$op status=$status"
    [ "${5:-}" = noflood ] || X "flood=199 status=$status uniform=yes"
}
ok() { X "step=$1 outcome=ok-response id=$2 op=$3 status=0"; }
halted() {
    X "step=1 outcome=ring-halted backend=Closing error=\"71 impossible req_prod from the" \
        "frontend (more than a ring ahead, or moved backwards)\""
    counters 0 0
}
xs_closed() { X "step=1 outcome=closed backend=Closing error=\"$*\""; }

# ---- ring indices and requests ----
case_req_prod_ahead() { halted; }
case_req_prod_backwards() { halted; }
case_rsp_prod_tampered() {
    local i
    for i in 1 2 3 4 5 6 7 8 9; do ok "$i" "0x485400000000000$i" 0; done
    X after=served
    counters 0 0
}
case_id_reuse() {
    ok 1 0x4854000000000001 0
    ok 2 0x4854000000000001 0
    X data=both-reads-right
    X after=served
    counters 0 0
}
case_nr_segs_zero_read() { refused 1 0x4854000000000001 0 -1; X after=served; counters 200 200; }
case_nr_segs_zero_write() { refused 1 0x4854000000000001 1 -1; X after=served; counters 200 200; }
case_nr_segs_12() { refused 1 0x4854000000000001 0 -1; X after=served; counters 200 200; }
case_nr_segs_255() { refused 1 0x4854000000000001 0 -1; X after=served; counters 200 200; }
case_first_after_last() { refused 1 0x4854000000000001 0 -1; X after=served; counters 200 200; }
case_last_sect_8() { refused 1 0x4854000000000001 0 -1; X after=served; counters 200 200; }
case_sector_overflow() {
    refused 1 0x4854000000000001 0 -1
    refused 2 0x48540000000000c9 1 -1
    X after=served
    counters 400 400
}
case_range_past_end() {
    refused 1 0x4854000000000001 0 -1
    refused 2 0x48540000000000c9 1 -1
    ok 3 0x4854000000000191 0
    X after=served
    counters 400 400
}
case_unknown_op() {
    refused 1 0x4854000000000001 4 -2
    refused 2 0x48540000000000c9 7 -2
    refused 3 0x4854000000000191 200 -2
    X after=served
    counters 600 600
}
case_write_readonly() {
    hx_attach_opts=(--mode r)
    refused 1 0x4854000000000001 1 -1
    refused 2 0x48540000000000c9 2 -1
    ok 3 0x4854000000000191 3
    X after=served
    counters 400 400
}
case_discard_overflow() {
    refused 1 0x4854000000000001 5 -1
    refused 2 0x48540000000000c9 5 -1 noflood
    refused 3 0x48540000000000ca 5 -1 noflood
    X after=served
    counters 202 202
}

# ---- double fetch (the proof is tests/unit/test_double_fetch.c; this races a thread) ----
case_double_fetch() {
    X step=1 outcome=consistent rounds=2000 inconsistent=0
    X after=served
    hx_check_extra=race_counters
}
case_indirect_rewrite() {
    X step=1 outcome=consistent rounds=1000 inconsistent=0
    X after=served
    hx_check_extra=race_counters
}

# ---- grants ----
grant_untouched() { X page=untouched disk=unchanged; X after=served; }
case_grant_unknown_ref() {
    refused 1 0x4854000000000001 0 -1
    refused 2 0x48540000000000c9 1 -1 noflood
    refused 3 0x48540000000000ca 0 -1 noflood
    refused 4 0x48540000000000cb 1 -1 noflood
    grant_untouched
    counters 203 0
}
case_grant_readonly_read() { refused 1 0x4854000000000001 0 -1; grant_untouched; counters 200 0; }
case_grant_ended_early() {
    refused 1 0x4854000000000001 0 -1
    refused 2 0x48540000000000c9 1 -1 noflood
    grant_untouched
    counters 201 0
}
case_grant_wrong_domid() { case_grant_ended_early; }
case_grant_same_page_twice() {
    ok 1 0x4854000000000001 0
    X data=right
    ok 2 0x4854000000000002 0
    X data=later-segment
    ok 3 0x4854000000000003 1
    X data=page-written-twice
    X after=served
    counters 0 0
}

# ---- indirect ----
case_indirect_too_many() {
    refused 1 0x4854000000000001 0 -1
    refused 2 0x48540000000000c9 0 -1 noflood
    refused 3 0x48540000000000ca 0 -1 noflood
    refused 4 0x48540000000000cb 0 -1 noflood
    X after=served
    counters 203 203
}
case_indirect_bad_page() {
    hx_daemon_opts+=(--max-indirect-segments 1024)
    refused 1 0x4854000000000001 0 -1
    refused 2 0x48540000000000c9 0 -1 noflood
    refused 3 0x48540000000000ca 0 -1 noflood
    X after=served
    counters 202 0
}
case_indirect_bad_op() {
    refused 1 0x4854000000000001 3 -1
    refused 2 0x48540000000000c9 5 -1 noflood
    refused 3 0x48540000000000ca 6 -1 noflood
    refused 4 0x48540000000000cb 200 -1 noflood
    X after=served
    counters 203 203
}

# ---- xenstore ----
case_xs_order_nonnumeric() { xs_closed "22 bad ring-page-order in $hx_fe (max 4)"; }
case_xs_order_huge() { xs_closed "34 bad ring-page-order in $hx_fe (max 4)"; }
case_xs_queues_nonnumeric() { xs_closed "22 bad multi-queue-num-queues in $hx_fe (max 4)"; }
case_xs_queues_huge() { xs_closed "34 bad multi-queue-num-queues in $hx_fe (max 4)"; }
case_xs_queues_zero() { xs_closed "22 multi-queue-num-queues is 0"; }
case_xs_evtchn_nonnumeric() { xs_closed "22 reading $hx_fe/event-channel"; }
case_xs_evtchn_huge() { xs_closed "34 reading $hx_fe/event-channel"; }
case_xs_evtchn_unbound() { xs_closed "22 mapping queue 0: ring-ref 8, port 4294967295"; }
case_xs_missing_ring_ref() { xs_closed "2 reading $hx_fe/ring-ref0"; }
case_xs_ring_ref_ungranted() { xs_closed "22 mapping queue 0: ring-ref 5, port 1"; }
case_xs_ring_ref_readonly() { xs_closed "22 mapping queue 0: ring-ref 8, port 1"; }
case_xs_unknown_protocol() { xs_closed "22 unknown protocol x86_16-abi"; }
case_xs_protocol_huge() { xs_closed "22 unknown protocol $(printf 'x%.0s' {1..32})"; }
# The value would forge an emergency line in the bystander's name under journald: the victim
# runs as under journald (JOURNAL_STREAM), and both the error node and the log must show it
# escaped (hx_forged_log in hostile-run.sh).
hx_forged='\x0a<0>xenblkd[d2/51744]: ok\x1b[2J'
case_xs_protocol_forged_line() {
    xs_closed "22 unknown protocol $hx_forged"
    export JOURNAL_STREAM=8:1
    hx_check_extra=forged_log
}
case_xs_state_flap() {
    X step=1 outcome=flapped flaps=1000 backend=Closing
    X step=2 outcome=reconnected after=served
    hl_xs_trace=1
    hx_check_extra=control_bounds
}
case_xs_state_cycle() {
    X step=1 outcome=cycled cycles=300 backend=InitWait
    X step=2 outcome=reconnected after=served
    hl_xs_trace=1
    hx_check_extra=control_bounds
}
case_xs_keys_rewritten() {
    X step=1 outcome=ignored backend=Connected served=yes
    X after=served
    counters 0 0
}

# ---- events and exhaustion ----
case_event_storm() {
    X step=1 outcome=served-after-storm
    X after=served
    counters 0 0
    hx_flow=storm
}
case_ring_full_forever() {
    X "step=1 outcome=served-never-halted last_ring_ok=$hx_slots/$hx_slots"
    X after=served
    counters 0 0
    hx_check_extra=ring_full_cpu
}
# Ten connections with every queue offered (8; the guest asks for 16), then Closed: threads,
# fds and mappings within their bounds at the peak and back to idle after each close
# (hx_resources in hostile-run.sh).
case_queues_max_reconnect() {
    hx_daemon_opts=(--max-queues 8)
    hx_front_opts+=(--queues 16 --ring-order 4)
    X step=1 outcome=reconnected cycles=10 queues=8
    hl_xs_trace=1
    hx_check_extra='resources control_bounds'
}
case_frontend_death() {
    local n=$hx_slots
    [ "$n" -gt 135 ] && n=135 # the attacker's pages: 8 per request
    X "step=1 outcome=died published=$n"
    hx_flow=death
}

hx_cases=(req-prod-ahead req-prod-backwards rsp-prod-tampered id-reuse nr-segs-zero-read
    nr-segs-zero-write nr-segs-12 nr-segs-255 first-after-last last-sect-8 sector-overflow
    range-past-end unknown-op write-readonly discard-overflow double-fetch indirect-rewrite
    grant-unknown-ref grant-readonly-read grant-ended-early grant-wrong-domid
    grant-same-page-twice indirect-too-many indirect-bad-page indirect-bad-op
    xs-order-nonnumeric xs-order-huge xs-queues-nonnumeric xs-queues-huge xs-queues-zero
    xs-evtchn-nonnumeric xs-evtchn-huge xs-evtchn-unbound xs-missing-ring-ref
    xs-ring-ref-ungranted xs-ring-ref-readonly xs-unknown-protocol xs-protocol-huge
    xs-protocol-forged-line xs-state-flap xs-state-cycle xs-keys-rewritten event-storm
    ring-full-forever frontend-death queues-max-reconnect)
