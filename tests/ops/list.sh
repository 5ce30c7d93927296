#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# xenblkctl as an operator uses it, on five VBDs of two named domains (web: xvda rw raw,
# xvdb ro raw; db: xvda rw qcow2, hda by the IDE numbering, xvdaa by the extended one):
# 1. list and list --json: every column of every VBD (short name, pid, state, queues, paused,
#    mode, domain, device, format, image, backend), the same fields in both;
# 2. naming: d1/51728, web:xvdb, db:hda, 2:xvdaa (a domid), web:51712 (a device number),
#    the escaped name and the backend path all reach the right daemon, in stats, pause,
#    resume, limits and set-log-level; a renamed domain answers to its new name; a name that
#    fits two VBDs (two domains called web) is refused with both (exit 2), one that fits none
#    exits 1, a malformed one 2;
# 3. percentiles: after a workload, stats --json has p50 <= p99 <= p999, each inside the
#    histogram bucket that holds its rank (counted here from the histogram), and the table
#    prints them; top shows the interval's p50 and p99 while a workload runs;
# 4. exit codes: usage errors and bad values 2 (set-log-level loud, an option the command
#    does not take, missing arguments), runtime errors 1;
# 5. without permission (uid 65534): list, stats and top fail with status 1 and say why, and
#    print no table.
#
# usage: list.sh BUILD_DIR
set -euo pipefail
ops_build=$(realpath "$1")
ops_src=$(realpath "$(dirname "$0")/../..")
ops_case=list
. "$ops_src/tests/ops/ops-lib.sh"
command -v qemu-img >/dev/null || ops_skip "qemu-img (qemu-utils) is needed for the qcow2 VBD"
command -v setpriv >/dev/null || ops_skip "setpriv (util-linux) is needed for the non-root run"
ops_start_platform
ctl() { "$XENBLKCTL" "$@"; }

# expect_status WHAT STATUS 'message part' command...: stderr in $ops_work/err.
expect_status() {
    local what=$1 want=$2 msg=$3 rc=0
    shift 3
    "$@" >"$ops_work/out" 2>"$ops_work/err" || rc=$?
    [ "$rc" = "$want" ] || ops_fail "$what: exit status $rc, not $want ($(cat "$ops_work/err"))"
    grep -qF -- "$msg" "$ops_work/err" ||
        ops_fail "$what: the error '$(head -n 1 "$ops_work/err")' does not say '$msg'"
}

# The VBDs: name FE DEVID KIND MODE FORMAT DEVICE.
xenstore-write /local/domain/1/name web /local/domain/2/name db
declare -A be pid img
vbds=(
    "w-a 1 51712 vbd w raw xvda"
    "w-b 1 51728 vbd r raw xvdb"
    "d-a 2 51712 qdisk w qcow2 xvda"
    "d-h 2 768 vbd w raw hda"
    "d-x 2 $(((1 << 28) | (26 << 8))) vbd w raw xvdaa"
)
for v in "${vbds[@]}"; do
    read -r name fe devid kind mode format dev <<<"$v"
    img[$name]=$ops_work/$name.$format
    if [ "$format" = qcow2 ]; then
        qemu-img create -q -f qcow2 "${img[$name]}" 64M
    else
        truncate -s 64M "${img[$name]}"
    fi
    be[$name]=$(sp_attach --fe-domid "$fe" --devid "$devid" --kind "$kind" --mode "$mode" \
        --dev "$dev" --params "$format:${img[$name]}") || ops_fail "attach of $name failed"
    ops_start_daemon "${be[$name]}"
    pid[$name]=$ops_daemon_pid
done
for v in "${vbds[@]}"; do
    read -r name _ <<<"$v"
    ops_wait_state "${be[$name]}" 2 10
done

# 1. Every column, in the table and in the JSON.
ctl list >"$ops_work/list.txt" || ops_fail "list failed"
ctl list --json >"$ops_work/list.json" || ops_fail "list --json failed"
[ "$(head -n 1 "$ops_work/list.txt" | tr -s ' ')" = \
    "VBD PID STATE QUEUES PAUSED MODE DOMAIN DEVICE FORMAT IMAGE BACKEND" ] ||
    ops_fail "list header: $(head -n 1 "$ops_work/list.txt")"
ops_expect_eq "list rows" "$(($(wc -l <"$ops_work/list.txt") - 1))" "${#vbds[@]}"
ops_expect_eq "list --json entries" "$(ops_json "$ops_work/list.json" "len(j)")" "${#vbds[@]}"
for v in "${vbds[@]}"; do
    read -r name fe devid kind mode format dev <<<"$v"
    domain=$([ "$fe" = 1 ] && echo web || echo db)
    ro=$([ "$mode" = r ] && echo ro || echo rw)
    want="d$fe/$devid ${pid[$name]} InitWait 0 no $ro $domain $dev $format ${img[$name]}"
    want="$want ${be[$name]}"
    got=$(awk -v be="${be[$name]}" '$NF == be' "$ops_work/list.txt" | tr -s ' ')
    ops_expect_eq "list row of $name" "$got" "$want"
    got=$(ops_json "$ops_work/list.json" "' '.join(str(x) for x in next(
        (v['vbd'], v['pid'], v['state'], v['queues'], v['paused'], v['mode'], v['domain'],
         v['device'], v['format'], v['image'], v['backend'], v['frontend_id'], v['devid'])
        for v in j if v['backend'] == '${be[$name]}'))")
    want="d$fe/$devid ${pid[$name]} InitWait 0 False $ro $domain $dev $format ${img[$name]}"
    ops_expect_eq "list --json of $name" "$got" "$want ${be[$name]} $fe $devid"
done
ops_log "list and list --json show every column of ${#vbds[@]} VBDs of two domains"

# 2. Naming. field NAME KEY: that member of the stats reply reached by NAME.
field() { ctl stats "$1" --json | ops_json /dev/stdin "j['$2']"; }
backend_of() { field "$1" backend; }
ops_expect_eq "d1/51728" "$(backend_of d1/51728)" "${be[w-b]}"
ops_expect_eq "web:xvdb" "$(backend_of web:xvdb)" "${be[w-b]}"
ops_expect_eq "web:xvda" "$(backend_of web:xvda)" "${be[w-a]}"
ops_expect_eq "db:xvda" "$(backend_of db:xvda)" "${be[d-a]}"
ops_expect_eq "db:hda" "$(backend_of db:hda)" "${be[d-h]}"
ops_expect_eq "2:xvdaa" "$(backend_of 2:xvdaa)" "${be[d-x]}"
ops_expect_eq "web:51712" "$(backend_of web:51712)" "${be[w-a]}"
esc=$(basename "$(ls "$ops_run"/*-2-768.sock)" .sock)
ops_expect_eq "escaped name" "$(backend_of "$esc")" "${be[d-h]}"
ops_expect_eq "unit name" "$(backend_of "xenblkd@$esc.service")" "${be[d-h]}"
ops_expect_eq "backend path" "$(backend_of "${be[d-x]}")" "${be[d-x]}"
ctl pause web:xvdb --timeout 2000 || ops_fail "pause web:xvdb failed"
ops_expect_eq "paused by web:xvdb" "$(field d1/51728 paused)" True
ops_expect_eq "others still running" "$(field d1/51712 paused)" False
ctl resume d1/51728 || ops_fail "resume d1/51728 failed"
ctl limits d2/768 --iops 123 >/dev/null || ops_fail "limits d2/768 failed"
ops_expect_eq "limits by short name" \
    "$(ctl limits db:hda --json | ops_json /dev/stdin "j['iops']")" 123
ctl set-log-level db:xvdaa debug || ops_fail "set-log-level db:xvdaa failed"
ops_expect_eq "log level by DOM:DEV" "$(field "${be[d-x]}" log_level)" debug
expect_status "no such device" 1 "no VBD served here is named 'web:xvdz'" ctl stats web:xvdz
expect_status "no such domain" 1 "no VBD served here is named 'mail:xvda'" ctl pause mail:xvda
expect_status "no such short name" 1 "no VBD served here is named 'd1/51744'" ctl resume d1/51744
expect_status "malformed DOM:DEV" 2 "is not DOMAIN:DEVICE" ctl stats web:
# Domain 2 renamed to web: its new name counts at once, and web:xvda fits two VBDs.
xenstore-write /local/domain/2/name web
expect_status "ambiguous web:xvda" 2 "'web:xvda' names 2 VBDs" ctl stats web:xvda
{ grep -qxF "  ${be[w-a]}" "$ops_work/err" && grep -qxF "  ${be[d-a]}" "$ops_work/err"; } ||
    ops_fail "the ambiguity does not list both VBDs: $(cat "$ops_work/err")"
ops_expect_eq "renamed domain" "$(backend_of web:hda)" "${be[d-h]}"
xenstore-write /local/domain/2/name db
ops_log "VBDs named by short name, DOM:DEV, domid, devid, escaped name and path; errors clear"

# 3. Percentiles, after a workload on web:xvda; top during one on db:xvda.
ops_front_pass 1 51712 --requests 3000
ctl stats web:xvda --json >"$ops_work/stats.json" || ops_fail "stats --json failed"
python3 - "$ops_work/stats.json" <<'EOF' || ops_fail "the percentiles do not fit the histogram"
import json, sys
t = json.load(open(sys.argv[1]))['total']
h, p = t['latency_us_log2'], t['latency_us_percentiles']
total = sum(h)
assert total == t['requests']['total'], (total, t['requests']['total'])
assert p['p50'] <= p['p99'] <= p['p999'], p
for key, ppm in (('p50', 500000), ('p99', 990000), ('p999', 999000)):
    rank = -(-total * ppm // 1000000)      # the request of this rank, counted from 1
    cum = 0
    for b, n in enumerate(h):
        cum += n
        if n and cum >= rank:
            break
    lo, hi = (2 ** b if b else 0), 2 ** (b + 1)
    assert lo <= p[key] <= hi, (key, p[key], b, lo, hi)
    print(f"{key} {p[key]} us in bucket {b} [{lo}, {hi})", file=sys.stderr)
EOF
ctl stats web:xvda >"$ops_work/stats.txt" || ops_fail "stats failed"
p=$(ops_json "$ops_work/stats.json" "'p50 %s us, p99 %s us, p999 %s us' % tuple(
    j['total']['latency_us_percentiles'][k] for k in ('p50', 'p99', 'p999'))")
grep -qF "latency (all rings, since start): $p" "$ops_work/stats.txt" ||
    { cat "$ops_work/stats.txt" >&2; ops_fail "stats does not print '$p'"; }
grep -qF "domain web (id 1), device xvda, rw, raw image ${img[w-a]}" "$ops_work/stats.txt" ||
    { cat "$ops_work/stats.txt" >&2; ops_fail "stats does not say whom the VBD serves"; }
# A fresh disk for this one: the frontend verifies against what it wrote itself.
ops_front_bg 2 51712 --requests 30000 --timeout 60
front=$ops_bg_pid
ctl top --interval 1 --iterations 2 >"$ops_work/top.out" || ops_fail "top failed"
wait "$front" ||
    { cat "$ops_summary" "$ops_summary.err" >&2; ops_fail "the workload under top failed"; }
head -n 1 "$ops_work/top.out" | grep -q "IOPS .* P50-US  *P99-US$" ||
    ops_fail "top has no latency columns: $(head -n 1 "$ops_work/top.out")"
awk '$1 == "d2/51712" { n++; if ($3 > 0 && $6 + 0 > 0 && $6 + 0 <= $7 + 0) ok++ }
    END { exit !(n == 2 && ok >= 1) }' "$ops_work/top.out" ||
    { cat "$ops_work/top.out" >&2; ops_fail "top shows no p50 <= p99 for d2/51712 under load"; }
ops_log "percentiles: $p, each in its rank's bucket; top shows them per interval"

# 4. Exit codes.
expect_status "set-log-level loud" 2 "'loud' is not err, warn, info or debug" \
    ctl set-log-level d1/51712 loud
expect_status "list --timeout" 2 "list takes no --timeout" ctl list --timeout 5
expect_status "resume --iops" 2 "resume takes no --iops" ctl resume d1/51712 --iops 5
expect_status "top --json" 2 "top takes no --json" ctl top --json
expect_status "stats without VBD" 2 "stats takes 1 argument(s)" ctl stats
expect_status "pause --timeout x" 2 "--timeout: 'x'" ctl pause d1/51712 --timeout x
expect_status "unknown command" 2 "unknown command 'frob'" ctl frob
expect_status "unknown option" 2 "unknown option '--frob'" ctl list --frob
expect_status "top --interval 0" 2 "--interval takes seconds" ctl top --interval 0
expect_status "no daemon" 1 "no xenblkd serves this VBD" \
    ctl stats /local/domain/0/backend/vbd/9/51712
ops_expect_eq "log level unchanged" "$(field d1/51712 log_level)" info

# 5. Without permission. The run directory is made reachable (o+x on it and on this test's
# directories above it), so this is the sockets' own refusal; the binary runs as that user
# (checked first).
nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups)
"${nobody[@]}" "$XENBLKCTL" --version >/dev/null || ops_fail "xenblkctl does not run as uid 65534"
d=$ops_run
while [ "${d#"$ops_work"}" != "$d" ]; do chmod o+x "$d"; d=$(dirname "$d"); done
why="the control sockets are root's: run xenblkctl as root"
"${nobody[@]}" test -r "$ops_run" -a -x "$ops_run" || {
    ops_log "note: uid 65534 cannot reach $ops_run (a parent of $ops_work is closed)"
    why="run xenblkctl as root"
}
expect_status "list as nobody" 1 "$why" \
    "${nobody[@]}" "$XENBLKCTL" --run-dir "$ops_run" list
[ ! -s "$ops_work/out" ] || ops_fail "list as nobody printed: $(cat "$ops_work/out")"
expect_status "list --json as nobody" 1 "Permission denied" \
    "${nobody[@]}" "$XENBLKCTL" --run-dir "$ops_run" list --json
[ ! -s "$ops_work/out" ] || ops_fail "list --json as nobody printed: $(cat "$ops_work/out")"
expect_status "stats as nobody" 1 "run xenblkctl as root" \
    "${nobody[@]}" "$XENBLKCTL" --run-dir "$ops_run" stats d1/51712
expect_status "DOM:DEV as nobody" 1 "run xenblkctl as root" \
    "${nobody[@]}" "$XENBLKCTL" --run-dir "$ops_run" stats web:xvda
expect_status "top as nobody" 1 "run xenblkctl as root" \
    "${nobody[@]}" "$XENBLKCTL" --run-dir "$ops_run" top --iterations 1
chmod 0700 "$ops_run"
expect_status "unreadable run dir" 1 "cannot read $ops_run" \
    "${nobody[@]}" "$XENBLKCTL" --run-dir "$ops_run" list
ops_log "PASS: list columns, VBD names, percentiles, exit codes, non-root errors"
