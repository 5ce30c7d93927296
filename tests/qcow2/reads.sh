#!/usr/bin/env bash
# Reads: images made by qemu-img create (v2 and v3, cluster sizes 512 B..2 MiB, refcount
# widths), written by qemu-io (data, zero clusters, discards), compressed by qemu-img convert -c
# (zlib and zstd), with backing chains (qcow2 and raw), preallocated, with internal snapshots,
# and with a tiny L2 cache, all read back through the driver exactly as qemu-img convert reads
# them. A read-only open leaves the file byte-for-byte unchanged.
# usage: reads.sh QCOW2_IO
source "$(dirname "$0")/lib.sh"

fill() { # img cluster_size: a mix of data, zero clusters, sub-cluster writes and discards
    qemu-io -f qcow2 -c "write -P 0x11 0 1M" -c "write -P 0x22 3M 5k" -c "write -P 0x33 7M 512" \
        -c "write -z 512k 256k" -c "discard 768k 128k" -c "write -P 0x44 15M 1M" \
        -c "write -z 20M 2M" -c "write -P 0x55 $(( (32 << 20) - 4096 )) 4096" "$1" >/dev/null
}

for compat in 0.10 1.1; do
    for cs in 512 4096 65536 2M; do
        qemu-img create -q -f qcow2 -o compat=$compat,cluster_size=$cs img.qcow2 32M
        fill img.qcow2
        same_as_qemu "v$compat cluster $cs: data, zeros, discards" img.qcow2
        same_as_qemu "v$compat cluster $cs, L2 cache of 4 tables" img.qcow2 --l2-cache 1
    done
done
for rb in 1 8 64; do
    qemu-img create -q -f qcow2 -o refcount_bits=$rb,cluster_size=4096 img.qcow2 32M
    fill img.qcow2
    same_as_qemu "refcount_bits=$rb" img.qcow2
done

# Odd virtual size (not a whole number of clusters).
qemu-img create -q -f qcow2 img.qcow2 $(( 10 * 1024 * 1024 + 3 * 512 ))
qemu-io -f qcow2 -c "write -P 0x66 $(( 10 * 1024 * 1024 - 4096 )) 4096" img.qcow2 >/dev/null
same_as_qemu "virtual size not cluster-aligned" img.qcow2

# Compressed clusters: zlib (deflate) and zstd.
python3 -c "
import random; r = random.Random(7); out = bytearray()
for i in range(512):
    kind = i % 4
    out += bytes(r.getrandbits(8) for _ in range(65536)) if kind == 0 else \
           bytes([i & 0xff]) * 65536 if kind == 1 else bytes(65536) if kind == 2 else \
           (b'xenblkd qcow2 %d ' % i) * (65536 // 19) + bytes(65536 % 19)
open('src.raw', 'wb').write(out)"
for ct in zlib zstd; do
    for cs in 4096 65536 2M; do
        qemu-img convert -q -c -f raw -O qcow2 -o compression_type=$ct,cluster_size=$cs \
            src.raw comp.qcow2
        same_as_qemu "compressed $ct, cluster $cs" comp.qcow2
    done
done

# Backing chains: qcow2 over qcow2 over raw, with the format named by the extension.
qemu-img create -q -f raw base.raw 32M
qemu-io -f raw -c "write -P 0x77 0 8M" -c "write -P 0x78 30M 2M" base.raw >/dev/null
qemu-img create -q -f qcow2 -b base.raw -F raw mid.qcow2 32M
qemu-io -f qcow2 -c "write -P 0x88 1M 1M" -c "write -z 4M 64k" -c "write -P 0x89 6M 3k" \
    mid.qcow2 >/dev/null
qemu-img create -q -f qcow2 -o cluster_size=4096 -b mid.qcow2 -F qcow2 top.qcow2 40M
qemu-io -f qcow2 -c "write -P 0x99 2M 100k" -c "write -z 7M 1M" top.qcow2 >/dev/null
# Backing files are followed only as configured: the exact chain, or allowed directories.
same_as_qemu "backing chain raw <- qcow2 <- qcow2 (larger top), chain configured" top.qcow2 \
    --backing "qcow2:$WORK/mid.qcow2|raw:$WORK/base.raw"
same_as_qemu "backing raw <- qcow2, chain configured" mid.qcow2 --backing "raw:$WORK/base.raw"
mkdir -p sub
qemu-img create -q -f qcow2 -b ../mid.qcow2 -F qcow2 sub/rel.qcow2 32M
same_as_qemu "relative backing name, allowed directory, header formats trusted" sub/rel.qcow2 \
    --backing-dir "$WORK" --trust-backing-format --raw-ok

# Preallocated metadata, and an internal snapshot (the active layer is served).
qemu-img create -q -f qcow2 -o preallocation=metadata pre.qcow2 16M
qemu-io -f qcow2 -c "write -P 0xaa 1M 4k" pre.qcow2 >/dev/null
same_as_qemu "preallocation=metadata" pre.qcow2
qemu-img create -q -f qcow2 snap.qcow2 16M
qemu-io -f qcow2 -c "write -P 0x01 0 4M" snap.qcow2 >/dev/null
qemu-img snapshot -c s1 snap.qcow2
qemu-io -f qcow2 -c "write -P 0x02 1M 1M" -c "write -z 3M 64k" snap.qcow2 >/dev/null
same_as_qemu "internal snapshot, active layer" snap.qcow2

# A read-only open changes nothing, not even autoclear bits (a bitmap sets one).
qemu-img create -q -f qcow2 ro.qcow2 16M
qemu-io -f qcow2 -c "write -P 0x5a 0 1M" ro.qcow2 >/dev/null
qemu-img bitmap --add ro.qcow2 b0
before=$(sha256sum ro.qcow2)
"$QIO" read ro.qcow2 got.raw 2>/dev/null && "$QIO" open ro.qcow2 >/dev/null 2>&1
"$QIO" --backing "qcow2:$WORK/mid.qcow2|raw:$WORK/base.raw" read top.qcow2 got.raw 2>/dev/null
if [ "$(sha256sum ro.qcow2)" = "$before" ]; then ok "read-only open leaves the file unchanged"
else bad "read-only open changed the file"; fi
finish
