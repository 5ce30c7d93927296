#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The systemd units pass `systemd-analyze verify`: the watcher unit and an instance of the
# template (xenblkd@<escaped backend path>.service). systemd is not PID 1 here, so the units
# are verified as files; their /usr/sbin paths point at this build's binaries for the check,
# and man pages are not looked up (the installed package is verified in CI, see
# docs/admin.md). Also checks that the escaped instance name our code builds is systemd's.
#
# Then their sandboxes: `systemd-analyze security --offline=true --threshold=` holds each unit
# to the exposure it has now (issue 21 asks 3.0 at most for xenblkd@; a change that loosens a
# unit must raise its bound here, and say why in docs/admin.md). The network drop-in of
# docs/admin.md (systemd/network.conf.example) must really give the daemon the network, keep
# it within 3.0, and verify cleanly.
#
# usage: units.sh BUILD_DIR
set -euo pipefail
# Exposure x 10, as systemd-analyze prints it: what the units score today.
daemon_max=11
watch_max=9
# xenblkd@ with the network drop-in: the issue's bound for the daemon.
network_max=30
build=$(realpath "$1")
src=$(realpath "$(dirname "$0")/../..")
command -v systemd-analyze >/dev/null || { echo "units: SKIP: no systemd-analyze" >&2; exit 77; }
work=$(mktemp -d "${TMPDIR:-/var/tmp}/xbd-units.XXXXXX")
trap 'rm -rf "$work"' EXIT

be=/local/domain/0/backend/qdisk/0/51712
inst="xenblkd@$(systemd-escape --path "$be").service"
[ "$inst" = "xenblkd@local-domain-0-backend-qdisk-0-51712.service" ] ||
    { echo "units: FAIL: systemd-escape gave $inst" >&2; exit 1; }
sed -e "s#/usr/sbin/xenblkd-watch#$build/src/watcher/xenblkd-watch#" \
    "$src/systemd/xenblkd-watch.service" >"$work/xenblkd-watch.service"
sed -e "s#/usr/sbin/xenblkd #$build/src/xenblkd #" "$src/systemd/xenblkd@.service" \
    >"$work/$inst"
if ! systemd-analyze verify --man=no "$work/xenblkd-watch.service" "$work/$inst" \
    >"$work/out" 2>&1; then
    cat "$work/out" >&2
    echo "units: FAIL: systemd-analyze verify" >&2
    exit 1
fi
# Verify prints warnings without failing: there must be none.
if [ -s "$work/out" ]; then
    cat "$work/out" >&2
    echo "units: FAIL: systemd-analyze verify warned" >&2
    exit 1
fi

# The daemon learns that its unit keeps fds from FDSTORE= (systemd 252 does not set it):
# it must be the unit's FileDescriptorStoreMax=, and the unit must restart on a crash.
store_max=$(sed -n 's/^FileDescriptorStoreMax=//p' "$src/systemd/xenblkd@.service")
store_env=$(sed -n 's/^Environment=FDSTORE=//p' "$src/systemd/xenblkd@.service")
[ -n "$store_max" ] && [ "$store_max" -gt 0 ] && [ "$store_max" = "$store_env" ] ||
    { echo "units: FAIL: FileDescriptorStoreMax=$store_max, Environment=FDSTORE=$store_env" >&2; exit 1; }
grep -qx "Restart=on-failure" "$src/systemd/xenblkd@.service" ||
    { echo "units: FAIL: xenblkd@ does not restart on failure" >&2; exit 1; }

# security FILE MAX: the unit's overall exposure is at most MAX/10.
security() {
    local score
    if ! systemd-analyze security --offline=true --threshold="$2" --no-pager "$1" \
        >"$work/sec" 2>&1; then
        grep -E "✗|Overall" "$work/sec" >&2 || cat "$work/sec" >&2
        echo "units: FAIL: $(basename "$1") is over its exposure bound $2 (x 10)" >&2
        exit 1
    fi
    score=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' "$work/sec")
    echo "units: $(basename "$1"): exposure $score (bound $2 x 0.1)" >&2
}
security "$work/$inst" "$daemon_max"
security "$work/xenblkd-watch.service" "$watch_max"

# exposed FILE NAME...: systemd-analyze rates each named check as exposed (not restricted).
exposed() {
    local file=$1
    shift
    systemd-analyze security --offline=true --json=short "$file" 2>/dev/null |
        python3 -c 'import json, sys
rated = {c["name"]: float(c["exposure"] or 0) for c in json.load(sys.stdin)}
missing = [n for n in sys.argv[1:] if rated.get(n, 0) <= 0]
sys.exit(1 if missing else 0)' "$@"
}
net_checks=(PrivateNetwork= "RestrictAddressFamilies=~AF_(INET|INET6)")
if exposed "$work/$inst" "${net_checks[0]}" || exposed "$work/$inst" "${net_checks[1]}"; then
    echo "units: FAIL: xenblkd@ has the network without the drop-in" >&2
    exit 1
fi
mkdir "$work/xenblkd@.service.d"
cp "$src/systemd/network.conf.example" "$work/xenblkd@.service.d/network.conf"
exposed "$work/$inst" "${net_checks[@]}" ||
    { echo "units: FAIL: the network drop-in does not give xenblkd@ the network" >&2; exit 1; }
security "$work/$inst" "$network_max"
if ! systemd-analyze verify --man=no "$work/$inst" >"$work/out" 2>&1 || [ -s "$work/out" ]; then
    cat "$work/out" >&2
    echo "units: FAIL: xenblkd@ with the network drop-in does not verify cleanly" >&2
    exit 1
fi
echo "units: PASS: xenblkd-watch.service and $inst verify cleanly, within their exposure bounds; the network drop-in works" >&2
