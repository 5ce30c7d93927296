# Shared by the qcow2 test scripts: qemu-img/qemu-io (Debian's qemu-utils) are the oracle.
# Sourced with QIO set to the qcow2-io binary; exits 77 (skip) without qemu-img.
set -euo pipefail

command -v qemu-img >/dev/null && command -v qemu-io >/dev/null || {
    echo "qemu-img/qemu-io not found (Debian: qemu-utils): skipping" >&2; exit 77; }
command -v python3 >/dev/null || { echo "python3 not found: skipping" >&2; exit 77; }

QIO=$(realpath "$1"); shift
HERE=$(dirname "$(realpath "${BASH_SOURCE[0]}")")
WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/xbd-qcow2.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
PASS=0 FAIL=0

ok() { PASS=$((PASS + 1)); echo "ok   $*"; }
bad() { FAIL=$((FAIL + 1)); echo "FAIL $*"; }

# The driver's reading of IMG equals qemu-img's.
same_as_qemu() { # name img [qcow2-io options...]
    local name=$1 img=$2; shift 2
    rm -f got.raw want.raw
    if ! "$QIO" "$@" read "$img" got.raw 2>qio.log; then
        bad "$name: qcow2-io read failed: $(tail -n 2 qio.log | tr '\n' ' ')"; return
    fi
    qemu-img convert -O raw "$img" want.raw
    if cmp -s got.raw want.raw; then ok "$name"; else bad "$name: content differs"; fi
}

# qemu-img check finds nothing (leaks count as errors unless allowed) and the content matches.
check_and_compare() { # name img expected.raw
    local name=$1 img=$2 raw=$3 out
    if ! out=$(qemu-img check "$img" 2>&1); then
        bad "$name: qemu-img check: $(echo "$out" | head -n 5 | tr '\n' ' ')"; return
    fi
    if ! qemu-img compare -q -f qcow2 -F raw "$img" "$raw"; then
        bad "$name: qemu-img compare differs"; return
    fi
    ok "$name"
}

# Expect qcow2-io open to be refused with a log line matching a pattern.
refused() { # name pattern img [qcow2-io options...]
    local name=$1 pat=$2 img=$3; shift 3
    local rc=0
    "$QIO" "$@" open "$img" >open.out 2>open.log || rc=$?
    if [ $rc -eq 0 ]; then
        bad "$name: opened, should have been refused"; return
    fi
    if [ $rc -ne 3 ] || ! grep -qiE "$pat" open.log; then
        bad "$name: refused without a clear reason: $(tr '\n' ' ' <open.log)"; return
    fi
    ok "$name ($(grep -iE "$pat" open.log | head -n 1 | sed 's/^[^:]*: //'))"
}

opens() { # name img [qcow2-io options...]
    local name=$1 img=$2; shift 2
    if "$QIO" "$@" open "$img" >open.out 2>open.log; then ok "$name"
    else bad "$name: refused: $(tr '\n' ' ' <open.log)"; fi
}

# Patch bytes of a file: hexpatch FILE OFFSET HEXBYTES
hexpatch() {
    python3 - "$@" <<'PY'
import sys
f, off, data = sys.argv[1], int(sys.argv[2], 0), bytes.fromhex(sys.argv[3])
with open(f, 'r+b') as fh:
    fh.seek(off); fh.write(data)
PY
}

be64() { printf '%016x' "$1"; }
be32() { printf '%08x' "$1"; }

# A header field: hdr FILE OFFSET SIZE -> decimal
hdr() {
    python3 -c "import sys;f=open(sys.argv[1],'rb');f.seek(int(sys.argv[2]));print(int.from_bytes(f.read(int(sys.argv[3])),'big'))" "$@"
}

finish() {
    echo "$PASS passed, $FAIL failed"
    [ "$FAIL" -eq 0 ]
}
