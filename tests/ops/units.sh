#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The systemd units pass `systemd-analyze verify`: the watcher unit and an instance of the
# template (xenblkd@<escaped backend path>.service). systemd is not PID 1 here, so the units
# are verified as files; their /usr/sbin paths point at this build's binaries for the check,
# and man pages are not looked up (the installed package is verified in CI, see
# docs/admin.md). Also checks that the escaped instance name our code builds is systemd's.
#
# usage: units.sh BUILD_DIR
set -euo pipefail
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
echo "units: PASS: xenblkd-watch.service and $inst verify cleanly" >&2
