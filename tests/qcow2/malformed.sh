#!/usr/bin/env bash
# Malformed images: truncated tables, offsets past the end of the file, L1/L2 entries pointing
# at metadata, reserved bits, garbage compressed data, refcounts at their maximum or at zero
# for clusters in use, a bad refcount table, nonsense header fields. Each must give a clear
# error at open or an I/O error for the request that meets it, never a crash or a hang.
# (A loop in the backing chain is in refusals.sh.)
# usage: malformed.sh QCOW2_IO
source "$(dirname "$0")/lib.sh"

# Read a header field / table entry: q FILE OFFSET [SIZE]
q() { hdr "$1" "$2" "${3:-8}"; }

qemu-img create -q -f qcow2 -o cluster_size=65536 good.qcow2 16M
qemu-io -f qcow2 -c "write -P 0x41 0 1M" -c "write -P 0x42 8M 64k" good.qcow2 >/dev/null
L1=$(q good.qcow2 40); RT=$(q good.qcow2 48)
L2=$(( $(q good.qcow2 "$L1") & 0x00fffffffffffe00 ))
D0=$(( $(q good.qcow2 "$L2") & 0x00fffffffffffe00 ))
RB=$(q good.qcow2 "$RT")
SIZE=$(stat -c %s good.qcow2)
PAST=$(( (SIZE / 65536 + 16) * 65536 ))

# The request that meets the damage fails cleanly (exit 1, with a message), or the open does.
io_error() { # name pattern img command...
    local name=$1 pat=$2 img=$3 rc=0; shift 3
    "$QIO" "$@" >cmd.log 2>&1 || rc=$?
    if [ $rc -ge 128 ] || [ $rc -eq 0 ]; then
        bad "$name: exit $rc $(tail -n 3 cmd.log | tr '\n' ' ')"; return
    fi
    if ! grep -qiE "$pat" cmd.log; then bad "$name: no clear message: $(tr '\n' ' ' <cmd.log)"
    else ok "$name ($(grep -iE "$pat" cmd.log | head -n 1 | sed 's/^[^:]*: //'))"; fi
}

variant() { cp good.qcow2 "$1"; shift; [ $# -eq 0 ] || hexpatch "$@"; }
wl() { # a small write workload over the first MiB
    qemu-img convert -O raw "$1" e.raw 2>/dev/null || truncate -s 16M e.raw
    echo workload "$1" e.raw f.raw --ops 200 --span 1048576
}

variant trunc.qcow2; truncate -s 65536 trunc.qcow2
io_error "file truncated after the header" "past the end" trunc.qcow2 open trunc.qcow2
variant trunc2.qcow2; truncate -s $(( L2 + 4096 )) trunc2.qcow2
io_error "L2 table truncated" "corrupt|past the end" trunc2.qcow2 read trunc2.qcow2 out.raw
variant l1past.qcow2 l1past.qcow2 "$L1" "$(be64 $(( PAST | 1 << 63 )))"
io_error "L1 entry past the end of the file" "past the end" l1past.qcow2 read l1past.qcow2 out.raw
variant l1rt.qcow2 l1rt.qcow2 "$L1" "$(be64 $(( RT | 1 << 63 )))"
io_error "L1 entry pointing at the refcount table" "other metadata" l1rt.qcow2 \
    read l1rt.qcow2 out.raw
variant l1res.qcow2 l1res.qcow2 "$L1" "$(be64 $(( L2 | 1 << 63 | 1 << 60 )))"
io_error "L1 entry with reserved bits" "reserved" l1res.qcow2 read l1res.qcow2 out.raw
variant l2past.qcow2 l2past.qcow2 "$L2" "$(be64 $(( PAST | 1 << 63 )))"
io_error "L2 entry past the end of the file" "past the end" l2past.qcow2 read l2past.qcow2 out.raw
for what in L1 RT RB L2 HDR; do
    case $what in L1) t=$L1 ;; RT) t=$RT ;; RB) t=$RB ;; L2) t=$L2 ;; HDR) t=0 ;; esac
    variant meta.qcow2 meta.qcow2 "$L2" "$(be64 $(( t | 1 << 63 )))"
    io_error "L2 entry pointing at metadata ($what), read" "metadata|offset 0" meta.qcow2 \
        read meta.qcow2 out.raw
    before=$(q meta.qcow2 "$t" 8)
    io_error "L2 entry pointing at metadata ($what), write" "metadata|offset 0" meta.qcow2 \
        $(wl meta.qcow2)
    [ "$(q meta.qcow2 "$t" 8)" = "$before" ] ||
        bad "metadata at $t was overwritten through a data cluster"
done
variant l2res.qcow2 l2res.qcow2 "$L2" "$(be64 $(( D0 | 1 << 63 | 1 << 57 )))"
io_error "L2 entry with reserved bits" "reserved" l2res.qcow2 read l2res.qcow2 out.raw
variant comp.qcow2 comp.qcow2 "$L2" "$(be64 $(( 1 << 62 | (3 << 54) | D0 )))"
hexpatch comp.qcow2 "$D0" "$(head -c 2048 /dev/urandom | od -An -tx1 | tr -d ' \n')"
io_error "compressed cluster with garbage data" "Input/output" comp.qcow2 read comp.qcow2 out.raw
variant comp2.qcow2 comp2.qcow2 "$L2" "$(be64 $(( 1 << 62 | PAST )))"
io_error "compressed cluster past the end of the file" "past the end" comp2.qcow2 \
    read comp2.qcow2 out.raw

# Refcounts: 0 for a cluster in use (a write must not reuse it), and the maximum (a write
# copies the cluster; a refcount is never raised past its maximum).
DI=$(( D0 / 65536 ))
variant ref0.qcow2 ref0.qcow2 $(( RB + DI * 2 )) 0000
io_error "data cluster with refcount 0, write" "refcount 0" ref0.qcow2 $(wl ref0.qcow2)
variant refmax.qcow2 refmax.qcow2 $(( RB + DI * 2 )) ffff
rc=0; "$QIO" $(wl refmax.qcow2) >cmd.log 2>&1 || rc=$?
[ $rc -lt 128 ] && ok "data cluster with the maximum refcount, write (exit $rc)" ||
    bad "refcount maximum: exit $rc"
variant rtpast.qcow2 rtpast.qcow2 "$RT" "$(be64 "$PAST")"
io_error "refcount table entry past the end of the file, write" "refcount table entry" \
    rtpast.qcow2 $(wl rtpast.qcow2)
"$QIO" read rtpast.qcow2 out.raw >/dev/null 2>&1 && ok "... reads still work" ||
    bad "reads failed with a bad refcount table"

# Header fields.
variant h1.qcow2 h1.qcow2 36 "$(be32 0xffffffff)"
io_error "L1 size 2^32-1" "L1 table" h1.qcow2 open h1.qcow2
variant h2.qcow2 h2.qcow2 36 "$(be32 0)"
io_error "L1 size 0 for a 16 MiB disk" "L1 table too small" h2.qcow2 open h2.qcow2
variant h3.qcow2 h3.qcow2 48 "$(be64 "$L1")"
io_error "refcount table on the L1 table" "overlap" h3.qcow2 open h3.qcow2
variant h4.qcow2 h4.qcow2 40 "$(be64 12345)"
io_error "unaligned L1 table" "L1 table offset" h4.qcow2 open h4.qcow2
variant h5.qcow2 h5.qcow2 56 "$(be32 0x7fffffff)"
io_error "huge refcount table" "refcount table" h5.qcow2 open h5.qcow2
variant h6.qcow2 h6.qcow2 60 "$(be32 1000000)"
io_error "a million snapshots" "snapshot" h6.qcow2 open h6.qcow2
variant h7.qcow2 h7.qcow2 60 "$(be32 3)"
hexpatch h7.qcow2 64 "$(be64 $(( PAST )))"
io_error "snapshot table past the end" "snapshot" h7.qcow2 open h7.qcow2
variant h8.qcow2 h8.qcow2 8 "$(be64 65000)"
hexpatch h8.qcow2 16 "$(be32 1000)"
io_error "backing file name past the first cluster" "backing file name" h8.qcow2 open h8.qcow2
hl=$(q good.qcow2 100 4)
variant h9.qcow2 h9.qcow2 $(( hl + 4 )) "$(be32 0xfffffff0)"
io_error "header extension longer than the header area" "extension" h9.qcow2 open h9.qcow2
variant h10.qcow2 h10.qcow2 100 "$(be32 0x7ffffff8)"
io_error "header_length huge" "header_length" h10.qcow2 open h10.qcow2
variant h11.qcow2 h11.qcow2 24 "$(be64 $(( 1 << 62 )))"
io_error "virtual size 2^62" "virtual size" h11.qcow2 open h11.qcow2
finish
