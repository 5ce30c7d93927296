#!/usr/bin/env bash
# Writes: a verified random workload (sub-cluster and multi-cluster writes, FUA, reads checked
# against the expected content, flushes, discards, zeroing) through the driver, from empty
# images of every version, cluster size and refcount width, from images with backing files,
# internal snapshots and compressed clusters, with a tiny L2 cache, with writes that grow the
# refcount table, and after a resize. Afterwards qemu-img check must find no error and no leak,
# qemu-img compare must match the expected content, and snapshots must be unchanged.
# usage: writes.sh QCOW2_IO [OPS]
source "$(dirname "$0")/lib.sh"
OPS=${1:-3000}

workload() { # name img [qcow2-io options...]: expected content = qemu-img's reading now
    local name=$1 img=$2; shift 2
    qemu-img convert -O raw "$img" expect.raw
    if ! "$QIO" "$@" workload "$img" expect.raw final.raw >wl.log 2>&1; then
        bad "$name: $(grep -v '^xenblkd' wl.log | tail -n 3 | tr '\n' ' ')"; return
    fi
    check_and_compare "$name" "$img" final.raw
}

seed=1
for compat in 0.10 1.1; do
    for cs in 512 4096 65536 2M; do
        for rb in 1 16 64; do
            [ $compat = 0.10 ] && [ $rb != 16 ] && continue
            qemu-img create -q -f qcow2 -o compat=$compat,cluster_size=$cs,refcount_bits=$rb \
                w.qcow2 32M
            workload "empty v$compat cluster $cs refcount_bits $rb" w.qcow2 --ops $OPS \
                --seed $((seed++))
        done
    done
done

# Refcount table growth: 512-byte clusters and 64-bit refcounts cover 2 MiB per table cluster.
qemu-img create -q -f qcow2 -o cluster_size=512,refcount_bits=64 g.qcow2 64M
before=$(hdr g.qcow2 56 4)
workload "refcount table growth" g.qcow2 --ops $OPS --seed 77 --max-len 1048576
after=$(hdr g.qcow2 56 4)
if [ "$after" -gt "$before" ]; then ok "refcount table grew from $before to $after clusters"
else bad "refcount table did not grow ($before -> $after clusters)"; fi

# Tiny L2 cache: dirty tables are evicted (and written back in order) all the time.
qemu-img create -q -f qcow2 -o cluster_size=4096 t.qcow2 64M
workload "L2 cache of 4 tables" t.qcow2 --ops $OPS --l2-cache 1 --seed 5

# Backing chains: partial-cluster writes copy from the backing file.
qemu-img create -q -f raw base.raw 32M
qemu-io -f raw -c "write -P 0x77 0 8M" -c "write -P 0x78 24M 8M" base.raw >/dev/null
qemu-img create -q -f qcow2 -b base.raw -F raw mid.qcow2 32M
qemu-io -f qcow2 -c "write -P 0x88 1M 1M" -c "write -z 4M 64k" mid.qcow2 >/dev/null
for compat in 0.10 1.1; do
    qemu-img create -q -f qcow2 -o compat=$compat,cluster_size=65536 -b mid.qcow2 -F qcow2 \
        top.qcow2 32M
    workload "v$compat over a qcow2 <- raw chain" top.qcow2 --ops $OPS --seed 9 \
        --backing "qcow2:$WORK/mid.qcow2" --backing "raw:$WORK/base.raw"
done
sha=$(sha256sum base.raw mid.qcow2)
[ "$(sha256sum base.raw mid.qcow2)" = "$sha" ] && ok "backing files unchanged"

# Internal snapshots: shared clusters and shared L2 tables are copied on write.
for cs in 4096 65536; do
    qemu-img create -q -f qcow2 -o cluster_size=$cs s.qcow2 32M
    qemu-io -f qcow2 -c "write -P 0x01 0 20M" -c "write -z 24M 1M" s.qcow2 >/dev/null
    qemu-img snapshot -c s1 s.qcow2
    qemu-io -f qcow2 -c "write -P 0x02 2M 1M" s.qcow2 >/dev/null
    qemu-img snapshot -c s2 s.qcow2
    qemu-img convert -O raw -l snapshot.name=s1 s.qcow2 s1.raw
    workload "snapshots, cluster $cs" s.qcow2 --ops $OPS --seed 11
    qemu-img convert -O raw -l snapshot.name=s1 s.qcow2 s1.after.raw
    if cmp -s s1.raw s1.after.raw; then ok "snapshot s1 unchanged (cluster $cs)"
    else bad "snapshot s1 changed (cluster $cs)"; fi
done

# Compressed clusters are rewritten as normal ones.
python3 -c "open('src.raw','wb').write(b''.join((b'%08d' % i) * 512 for i in range(8192)))"
for ct in zlib zstd; do
    qemu-img convert -q -c -f raw -O qcow2 -o compression_type=$ct src.raw c.qcow2
    workload "over compressed clusters ($ct)" c.qcow2 --ops $OPS --seed 13
done

# Lazy refcounts allowed (we update refcounts eagerly), and a bitmap's autoclear bit.
qemu-img create -q -f qcow2 -o lazy_refcounts=on l.qcow2 16M
workload "lazy_refcounts=on image" l.qcow2 --ops 1000 --seed 15
# We do not maintain bitmaps: the autoclear bit is cleared before the first write, so QEMU then
# treats the bitmap as inconsistent and reports its clusters as leaked (exit 3), which is the
# specification's intent; anything worse fails.
qemu-img create -q -f qcow2 b.qcow2 16M
qemu-img bitmap --add b.qcow2 b0
qemu-img convert -O raw b.qcow2 expect.raw
if "$QIO" workload b.qcow2 expect.raw final.raw --ops 1000 --seed 16 >wl.log 2>&1; then
    rc=0; qemu-img check b.qcow2 >chk.log 2>&1 || rc=$?
    if [ $rc -le 3 ] && qemu-img compare -q -f qcow2 -F raw b.qcow2 final.raw; then
        ok "image with a bitmap (check exit $rc: only the bitmap's clusters leak)"
    else bad "image with a bitmap: check exit $rc"; fi
else bad "image with a bitmap: $(tail -n 2 wl.log | tr '\n' ' ')"; fi
[ "$(hdr b.qcow2 88 8)" = 0 ] && ok "autoclear bits cleared before writing" ||
    bad "autoclear bits still set"

# Other engines.
for engine in threads libaio; do
    qemu-img create -q -f qcow2 e.qcow2 32M
    workload "engine $engine" e.qcow2 --ops $OPS --engine $engine --seed 17
done

# Resize: grow (with a larger L1 table), then write all over the new size.
for cs in 512 4096 65536; do
    qemu-img create -q -f qcow2 -o cluster_size=$cs r.qcow2 32M
    qemu-io -f qcow2 -c "write -P 0x31 0 1M" -c "write -P 0x32 31M 1M" r.qcow2 >/dev/null
    if "$QIO" resize r.qcow2 $((100 << 20)) 2>rs.log; then
        size=$(qemu-img info --output=json r.qcow2 | python3 -c \
            "import json,sys;print(json.load(sys.stdin)['virtual-size'])")
        [ "$size" = $((100 << 20)) ] && ok "resize to 100 MiB (cluster $cs)" ||
            bad "resize: qemu-img sees $size bytes"
        workload "writes after resize (cluster $cs)" r.qcow2 --ops $OPS --seed 19
    else
        bad "resize (cluster $cs): $(tr '\n' ' ' <rs.log)"
    fi
done
"$QIO" resize r.qcow2 $((50 << 20)) 2>/dev/null && bad "shrink accepted" || ok "shrink refused"
finish
