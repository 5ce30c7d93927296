#!/usr/bin/env bash
# Refusals, each with a clear error naming the reason: features we do not implement
# (encryption, external data file, extended L2 entries, unknown incompatible bits, an unknown
# compression type), states we must not write (dirty, corrupt: read-only opens still work),
# invalid headers, and every backing-file rule of an allowed directory (outside it, through a
# symlink, '..' or a /proc magic link, a protocol name, no format, an unknown backing format,
# a loop, a chain too deep). Also: a raw disk holding a qcow2 header is served as raw, never
# probed.
# usage: refusals.sh QCOW2_IO
source "$(dirname "$0")/lib.sh"

qemu-img create -q -f qcow2 plain.qcow2 16M
# LUKS creation times its key derivation and can fail on a loaded machine: then patch.
if ! qemu-img create -q --object secret,id=sec0,data=xyzzy -f qcow2 \
        -o encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10 enc.qcow2 16M; then
    cp plain.qcow2 enc.qcow2; hexpatch enc.qcow2 32 "$(be32 2)"
fi
refused "encryption (LUKS)" "encryption" enc.qcow2
cp plain.qcow2 aes.qcow2; hexpatch aes.qcow2 32 "$(be32 1)"
refused "encryption (old AES)" "encryption" aes.qcow2
qemu-img create -q -f qcow2 -o data_file=ext.raw ext.qcow2 16M
refused "external data file" "external data file" ext.qcow2
qemu-img create -q -f qcow2 -o extended_l2=on,cluster_size=65536 xl2.qcow2 16M
refused "extended L2 entries" "extended L2" xl2.qcow2
cp plain.qcow2 unk.qcow2; hexpatch unk.qcow2 72 "$(be64 $((1 << 5)))"
refused "unknown incompatible bit 5" "incompatible feature bit 5" unk.qcow2
cp plain.qcow2 unk2.qcow2; hexpatch unk2.qcow2 72 "$(be64 $((1 << 40)))"
refused "unknown incompatible bit 40" "incompatible feature bit 40" unk2.qcow2
cp plain.qcow2 ct.qcow2; hexpatch ct.qcow2 72 "$(be64 8)"
refused "compression type bit with zlib in the field" "compression type" ct.qcow2

cp plain.qcow2 dirty.qcow2; hexpatch dirty.qcow2 72 "$(be64 1)"
refused "dirty image, read-write" "dirty" dirty.qcow2 --rw
opens "dirty image, read-only" dirty.qcow2
cp plain.qcow2 corrupt.qcow2; hexpatch corrupt.qcow2 72 "$(be64 2)"
refused "corrupt bit, read-write" "marked corrupt" corrupt.qcow2 --rw
opens "corrupt bit, read-only" corrupt.qcow2

cp plain.qcow2 v4.qcow2; hexpatch v4.qcow2 4 "$(be32 4)"
refused "version 4" "version" v4.qcow2
cp plain.qcow2 cb.qcow2; hexpatch cb.qcow2 20 "$(be32 22)"
refused "4 MiB clusters" "cluster size" cb.qcow2
cp plain.qcow2 ro.qcow2; hexpatch ro.qcow2 96 "$(be32 7)"
refused "refcount_order 7" "refcount_order" ro.qcow2
printf 'QFI\373' > short.qcow2
refused "truncated header" "valid qcow2" short.qcow2
refused "raw file opened as qcow2" "magic" "$(truncate -s 1M r.raw; echo r.raw)"

# Backing files (the policy itself, with its exact messages, is in backing.sh). Here: every
# rule of an allowed directory, with formats taken from the headers (DIRS).
mkdir -p imgs outside
DIRS=(--backing-dir "$WORK/imgs" --trust-backing-format --raw-ok)
qemu-img create -q -f raw outside/secret.raw 16M
qemu-io -f raw -c "write -P 0x5e 0 1M" outside/secret.raw >/dev/null
qemu-img create -q -f raw imgs/base.raw 16M
qemu-img create -q -f qcow2 -b "$WORK/outside/secret.raw" -F raw imgs/abs.qcow2 16M
refused "backing file named, nothing configured" "is not followed: configure the chain" \
    imgs/abs.qcow2
refused "backing file outside the allowed directory" "outside the allowed" imgs/abs.qcow2 \
    "${DIRS[@]}"
opens "the same, with its directory allowed" imgs/abs.qcow2 --backing-dir "$WORK/outside" \
    --trust-backing-format --raw-ok
ln -sf ../outside/secret.raw imgs/link.raw
qemu-img create -q -f qcow2 -b link.raw -F raw imgs/sym.qcow2 16M
refused "backing symlink pointing outside" "leads out of the allowed directory" \
    imgs/sym.qcow2 "${DIRS[@]}"
ln -sf /proc/self/root/etc/passwd imgs/magic.raw
qemu-img create -q -f qcow2 -u -b magic.raw -F raw imgs/magic.qcow2 16M
refused "backing symlink through /proc" "leads out|magic link" imgs/magic.qcow2 "${DIRS[@]}"
qemu-img create -q -f qcow2 -u -b ../outside/secret.raw -F raw imgs/dotdot.qcow2 16M
refused "backing name with .. leading out" "outside the allowed" imgs/dotdot.qcow2 "${DIRS[@]}"
qemu-img create -q -f qcow2 -u -b /dev/sda -F raw imgs/dev.qcow2 16M
refused "backing_file=/dev/sda" "outside the allowed" imgs/dev.qcow2 "${DIRS[@]}"
qemu-img create -q -f qcow2 -u -b /dev/zero -F raw imgs/zero.qcow2 16M
refused "backing_file=/dev/zero" "outside the allowed" imgs/zero.qcow2 "${DIRS[@]}"
qemu-img create -q -f qcow2 -u -b "nbd:localhost:10809" -F raw imgs/nbd.qcow2 16M
refused "protocol backing name" "protocol" imgs/nbd.qcow2 "${DIRS[@]}"
qemu-img create -q -f qcow2 -u -b "json:{\"file.filename\":\"/etc/passwd\"}" -F raw \
    imgs/json.qcow2 16M
refused "json: backing name" "protocol" imgs/json.qcow2 "${DIRS[@]}"
qemu-img create -q -f qcow2 -b base.raw -F raw imgs/nofmt.qcow2 16M
# Turn the backing-format extension into an unknown one (its type is at offset 72 + 8 in a
# v2 header; in v3 right after header_length).
hl=$(hdr imgs/nofmt.qcow2 100 4)
[ "$(hdr imgs/nofmt.qcow2 "$hl" 4)" = $((0xe2792aca)) ] || bad "test set-up: extension not first"
hexpatch imgs/nofmt.qcow2 "$hl" "$(be32 $((0x12345678)))"
refused "no backing-format extension, header trusted" "format is not configured" \
    imgs/nofmt.qcow2 "${DIRS[@]}"
opens "no backing-format extension, raw configured" imgs/nofmt.qcow2 --backing-dir "$WORK/imgs" \
    --backing-format raw --raw-ok
qemu-img create -q -f qcow2 -u -b base.raw -F vmdk imgs/vmdk.qcow2 16M
refused "backing format vmdk" "format 'vmdk'" imgs/vmdk.qcow2 "${DIRS[@]}"
qemu-img create -q -f qcow2 -u -b missing.qcow2 -F qcow2 imgs/nobase.qcow2 16M
refused "missing backing file" "No such file" imgs/nobase.qcow2 "${DIRS[@]}"

# Loops and depth.
qemu-img create -q -f qcow2 imgs/a.qcow2 16M
qemu-img create -q -f qcow2 -b a.qcow2 -F qcow2 imgs/b.qcow2 16M
qemu-img rebase -q -u -b b.qcow2 -F qcow2 imgs/a.qcow2
refused "backing chain loop a -> b -> a" "loop" imgs/a.qcow2 "${DIRS[@]}"
qemu-img create -q -f qcow2 imgs/self.qcow2 16M
qemu-img rebase -q -u -b self.qcow2 -F qcow2 imgs/self.qcow2
refused "image backed by itself" "loop" imgs/self.qcow2 "${DIRS[@]}"
qemu-img create -q -f qcow2 imgs/c0.qcow2 16M
for i in $(seq 1 17); do
    qemu-img create -q -f qcow2 -b c$((i - 1)).qcow2 -F qcow2 imgs/c$i.qcow2 16M
done
opens "chain of 16 backing files" imgs/c16.qcow2 "${DIRS[@]}"
refused "chain of 17 backing files" "deeper" imgs/c17.qcow2 "${DIRS[@]}"

# The format comes from configuration only: a raw disk whose first sector is a qcow2 header
# naming /dev/sda is served as raw bytes.
cp imgs/dev.qcow2 guest.raw; truncate -s 16M guest.raw
if "$QIO" --raw read guest.raw got.raw 2>/dev/null && cmp -s got.raw guest.raw; then
    ok "qcow2 header inside a raw disk is served as raw data"
else bad "raw disk with a qcow2 header was not served as raw"; fi
finish
