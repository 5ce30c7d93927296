#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Disk space a guest can make a qcow2 image take (docs/security.md): at most its virtual size
# plus metadata, which `qemu-img measure` reports as the "fully allocated size", plus the
# clusters of the writes in flight (a write allocates before the cluster it replaces is
# freed). Rounds of random verified writes, discards and zeroing over the whole disk, as a
# guest rewriting and trimming its disk forever would do, at three cluster sizes; after every
# round the image checks clean (no leaked cluster: freed ones are reused), its allocated
# blocks and its length stay within the bound, and by the last round the writes have
# allocated most of the disk, so the bound is really approached.
# usage: space.sh QCOW2_IO_BINARY
. "$(dirname "$(realpath "$0")")/lib.sh"

DEPTH=16
MAXLEN=$((1 << 20))
ROUNDS=6
MIB=8

for cs in 512 4096 65536; do
    qemu-img create -q -f qcow2 -o cluster_size=$cs s.qcow2 ${MIB}M
    full=$(qemu-img measure -O qcow2 --size ${MIB}M -o cluster_size=$cs |
        awk '/fully allocated size/ { print $4 }')
    bound=$((full + DEPTH * (MAXLEN + 2 * cs)))
    qemu-img convert -O raw s.qcow2 expect.raw
    worst=0 alloc=0 size=0 failed=
    for round in $(seq 1 $ROUNDS); do
        if ! "$QIO" --depth $DEPTH --max-len $MAXLEN --ops 1500 --seed $((cs + round)) \
            workload s.qcow2 expect.raw final.raw >wl.log 2>&1; then
            failed="round $round: $(grep -v '^xenblkd' wl.log | tail -n 2 | tr '\n' ' ')"
            break
        fi
        mv final.raw expect.raw
        if ! out=$(qemu-img check s.qcow2 2>&1); then
            failed="round $round: qemu-img check: $(echo "$out" | head -n 3 | tr '\n' ' ')"
            break
        fi
        alloc=$(($(stat -c %b s.qcow2) * $(stat -c %B s.qcow2)))
        size=$(stat -c %s s.qcow2)
        [ "$alloc" -gt "$worst" ] && worst=$alloc
        [ "$size" -gt "$worst" ] && worst=$size
    done
    name="cluster $cs: $ROUNDS rounds, $alloc bytes allocated, length $size, worst $worst;"
    name+=" fully allocated $full, bound $bound"
    if [ -n "$failed" ]; then
        bad "cluster $cs: $failed"
    elif [ "$worst" -gt "$bound" ]; then
        bad "$name: over the bound"
    elif [ $((alloc * 2)) -lt "$full" ]; then
        bad "$name: the rounds allocated less than half the disk"
    elif ! qemu-img compare -q -f qcow2 -F raw s.qcow2 expect.raw; then
        bad "$name: content differs from the workload's"
    else
        ok "$name"
    fi
    rm -f s.qcow2 expect.raw
done
finish
