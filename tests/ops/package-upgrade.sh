#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# A package upgrade must not stop or restart a running xenblkd@ unit: SIGTERM closes the
# device (Closing) and the guest loses its disk (issue 18, docs/restart-ops.md). The watcher
# may be restarted: its daemons outlive it (KillMode=process).
#
# The maintainer scripts are those debhelper generates from debian/rules: the package tree is
# staged with the units where the package installs them, debian/rules's dh_installsystemd
# and dh_installdeb run on it, and then
#  - no script names xenblkd@;
#  - prerm upgrade, postinst configure OLD-VERSION (an upgrade), and postrm upgrade run with
#    deb-systemd-invoke, deb-systemd-helper and systemctl replaced by recorders, and
#    /run/systemd/system pointed at a directory of ours (systemd "running"): nothing is
#    stopped, and the only unit (re)started is xenblkd-watch.service.
# With --deb FILE the scripts of a built package are checked the same way (.ci/run).
#
# usage: package-upgrade.sh SOURCE_DIR | --deb FILE.deb
set -euo pipefail
command -v dh_installsystemd >/dev/null ||
    { echo "package-upgrade: SKIP: no debhelper (dh_installsystemd)" >&2; exit 77; }
work=$(mktemp -d "${TMPDIR:-/var/tmp}/xbd-pkg.XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() { echo "package-upgrade: FAIL: $*" >&2; exit 1; }

if [ "$1" = --deb ]; then
    dpkg-deb -e "$2" "$work/DEBIAN"
    scripts=$work/DEBIAN
else
    src=$(realpath "$1")
    mkdir -p "$work/pkg"
    cp -r "$src/debian" "$work/pkg/"
    rm -rf "$work/pkg/debian/xenblkd" "$work/pkg/debian/.debhelper"
    sys=$work/pkg/debian/xenblkd/lib/systemd/system
    mkdir -p "$sys" "$work/pkg/debian/xenblkd/usr/sbin"
    cp "$src/systemd/xenblkd@.service" "$src/systemd/xenblkd-watch.service" "$sys/"
    (cd "$work/pkg" && debian/rules override_dh_installsystemd >"$work/dh.log" 2>&1 &&
        dh_installdeb >>"$work/dh.log" 2>&1) || { cat "$work/dh.log" >&2; fail "debhelper failed"; }
    scripts=$work/pkg/debian/xenblkd/DEBIAN
fi

found=0
for s in preinst postinst prerm postrm; do
    [ -f "$scripts/$s" ] || continue
    found=1
    if grep -n "xenblkd@" "$scripts/$s" >&2; then
        fail "$s names xenblkd@ (above)"
    fi
done
[ "$found" = 1 ] || fail "no maintainer script was generated (debian/rules changed?)"

# Recorders for what the scripts would do to systemd.
mkdir -p "$work/bin" "$work/run-systemd"
for cmd in deb-systemd-invoke deb-systemd-helper systemctl; do
    printf '#!/bin/sh\necho "%s $*" >>"%s"\n' "$cmd" "$work/calls" >"$work/bin/$cmd"
    chmod +x "$work/bin/$cmd"
done
: >"$work/calls"
run() { # SCRIPT ARGS...
    local s=$1
    shift
    [ -f "$scripts/$s" ] || return 0
    sed "s#/run/systemd/system#$work/run-systemd#g" "$scripts/$s" >"$work/$s"
    PATH=$work/bin:$PATH DPKG_ROOT= sh -e "$work/$s" "$@" ||
        fail "$s $* failed"
}
# dpkg's order for an upgrade from 0.0.9: old prerm upgrade, new postinst configure 0.0.9;
# the old postrm upgrade in between (the same package's scripts stand for the old ones).
run prerm upgrade 0.1.0
run postrm upgrade 0.1.0
run postinst configure 0.0.9
echo "package-upgrade: calls during an upgrade:" >&2
sed 's/^/  /' "$work/calls" >&2
if grep -E "deb-systemd-invoke (stop|kill)|systemctl .*(stop|kill)" "$work/calls"; then
    fail "an upgrade stops a unit (above)"
fi
if grep -v "systemctl --system daemon-reload" "$work/calls" |
    grep -E "(deb-systemd-invoke|systemctl) .*(start|reload)" | grep -v "xenblkd-watch.service"; then
    fail "an upgrade (re)starts a unit other than the watcher (above)"
fi
grep -q "deb-systemd-invoke restart xenblkd-watch.service" "$work/calls" ||
    fail "the watcher is not restarted into the new version"
echo "package-upgrade: PASS: an upgrade leaves xenblkd@ units running; restarts the watcher" >&2
