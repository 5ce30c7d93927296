#!/usr/bin/env bash
# Crash safety: qcow2-crash cuts the power (at random I/Os, and often right at a sync inside a
# metadata flush) at least 50 times per template image, and checks each crashed image with
# qemu-img check (no corruption; leaks allowed) and for data acknowledged by a flush. The
# templates cover small clusters (many L2 tables and refcount blocks), a snapshot (shared L2
# tables and clusters copied on write, frees), and 1-bit refcounts.
# usage: crash.sh QCOW2_IO QCOW2_CRASH [CUTS]
CRASH=$(realpath "$2")
source "$(dirname "$0")/lib.sh"
CUTS=${2:-60}

qemu-img create -q -f qcow2 -o cluster_size=512 t512.qcow2 8M
qemu-io -f qcow2 -c "write -P 0x5a 0 6M" t512.qcow2 >/dev/null
qemu-img create -q -f qcow2 -o cluster_size=4096 snap.qcow2 32M
qemu-io -f qcow2 -c "write -P 0x6b 0 32M" snap.qcow2 >/dev/null
qemu-img snapshot -c s1 snap.qcow2
qemu-img create -q -f qcow2 -o cluster_size=65536,refcount_bits=1 r1.qcow2 32M
qemu-io -f qcow2 -c "write -P 0x7c 0 16M" r1.qcow2 >/dev/null
qemu-img create -q -f qcow2 -o compat=0.10,cluster_size=4096 v2.qcow2 16M
qemu-io -f qcow2 -c "write -P 0x8d 4M 8M" v2.qcow2 >/dev/null
seed=1
for t in t512 snap r1 v2; do
    if "$CRASH" $t.qcow2 "$CUTS" $((seed++)) >crash.log 2>&1; then
        ok "$t: $(tail -n 1 crash.log)"
    else
        bad "$t: $(grep -v ' ok$' crash.log | tail -n 5 | tr '\n' ' ')"
    fi
done
finish
