#!/bin/busybox sh
# tests/xen/stage1-init.sh: /init of the tiny busybox initramfs (stage1) that build-cache.sh
# packs. Not run by hand. It loads the virtio, ext4 and 9p modules listed in /modules.order,
# mounts the dom0 root (/dev/vda) and the 9p share (tag "share") under it, and switch_roots
# into the dom0 init that the harness put in the share (/mnt/share/init).
# Any failure prints why and powers off, so QEMU exits instead of hanging.
set -euo pipefail

fail() {
	echo "stage1: FAILED: $*"
	/bin/busybox poweroff -f
	sleep 10
}

setup_busybox() {
	/bin/busybox mkdir -p /bin /sbin /usr/bin /usr/sbin /proc /sys /dev /newroot
	/bin/busybox --install -s
}

mount_pseudo() {
	mount -t proc proc /proc
	mount -t sysfs sys /sys
	mount -t devtmpfs dev /dev
}

load_modules() {
	local m
	for m in $(cat /modules.order); do
		insmod "/modules/$m" 2>/dev/null || echo "stage1: insmod $m failed (built in or loaded?)"
	done
}

wait_for() {
	local path=$1 tries=100
	while [ ! -e "$path" ] && [ "$tries" -gt 0 ]; do
		sleep 0.1
		tries=$((tries - 1))
	done
	[ -e "$path" ]
}

mount_root() {
	wait_for /dev/vda || fail "no /dev/vda (virtio disk) after 10 s"
	mount -t ext4 -o rw /dev/vda /newroot || fail "cannot mount /dev/vda as ext4"
	mkdir -p /newroot/mnt/share
	mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 share /newroot/mnt/share \
		|| fail "cannot mount the 9p share"
	[ -x /newroot/mnt/share/init ] || fail "no executable init in the share"
}

main() {
	setup_busybox
	mount_pseudo
	echo "stage1: loading modules"
	load_modules
	mount_root
	umount /proc /sys
	mount --move /dev /newroot/dev
	echo "stage1: switch_root to /mnt/share/init"
	exec switch_root /newroot /mnt/share/init
}

main || fail "stage1 init"
