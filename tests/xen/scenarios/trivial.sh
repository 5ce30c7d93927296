#!/bin/bash
# tests/xen/scenarios/trivial.sh: proves the harness: prints the dom0 kernel, `xl info` and the
# Xen device nodes, and fails when dom0 is not a working Xen control domain.
# Runs inside dom0 through the harness:
#   tests/xen/run.sh --build-dir build --scenario tests/xen/scenarios/trivial.sh
set -euo pipefail
. "$XENLAB_SHARE/lib.sh"

run uname -a
run xl info
run ls -l /dev/xen/
grep -q control_d /proc/xen/capabilities || die "dom0 is not the control domain"
xs_is /local/domain/0/name Domain-0 || die "xenstore has no Domain-0"
for node in gntdev gntalloc evtchn privcmd; do
	[ -e "/dev/xen/$node" ] || die "/dev/xen/$node missing"
done
if dom0_qemu_pid >/dev/null; then
	say "dom0 QEMU (qdisk backend) running, pid $(dom0_qemu_pid)"
else
	die "the dom0 QEMU did not start"
fi
say "PASS"
