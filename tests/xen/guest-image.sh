# SPDX-License-Identifier: GPL-2.0-or-later
# tests/xen/guest-image.sh: guest image tooling and domU helpers for the real-Xen scenarios
# (pygrub.sh, pv-guest.sh). run.sh puts it in the share; a scenario sources it after lib.sh:
#   . "$XENLAB_SHARE/guest-image.sh"
# build_guest_image makes, inside dom0 and from dom0's own files, a raw disk image with an MBR
# partition table: partition 1 (bootable, ext4) is /boot with grub/grub.cfg, the Debian kernel
# dom0 runs and an initrd; partition 2 (ext4) is the guest's root, a static busybox and an init
# script; partition 3 is raw space for the guest's verifying I/O loop. The initrd is a small
# busybox initramfs built here: it insmods xen-blkfront and ext4 (with their dependencies, as
# dom0's modprobe resolves them), mounts root= and switch_roots to the root's /sbin/init. That
# init runs the task named by `xenlab=` on the kernel command line (marker, verify or loop) and
# prints XENLAB-* lines on the console, which xenconsoled logs (start_console_log). It is not
# run on its own.

GUEST_DIR=/var/lib/xenlab/guest          # kernel, initrd, grub.cfg and work files
GUEST_KVER=""                             # set by build_guest_image
GUEST_KERNEL=""                           # the kernel put in /boot (dom0's own)
GUEST_INITRD=""                           # the initrd put in /boot
GUEST_INITRD_MODULES=""                   # the modules it loads, in order
GUEST_CONSOLE_DIR=/var/log/xen/console    # xenconsoled --log=guest: guest-NAME.log (ext4)
# Partition layout in MiB: 1 MiB alignment gap, /boot, root, raw loop area.
GUEST_BOOT_MIB=24
GUEST_ROOT_MIB=64
GUEST_RAW_MIB=8
GUEST_RAW_START_MIB=$((1 + GUEST_BOOT_MIB + GUEST_ROOT_MIB))

# The guest's /sbin/init: runs the task named by xenlab= and powers the guest off.
guest_root_init() {
	cat <<'EOF'
#!/bin/busybox sh
# The xenlab guest's init (partition 2). Tasks (kernel argument xenlab=):
#   marker  print XENLAB-GUEST-BOOTED, hold 15 s (the host looks at the running guest), off
#   verify  write 16 MiB to /data and 8 MiB raw to /dev/xvda3, drop caches, verify, off
#   loop    /bin/xenlab-loop (tests/xen/guest-loop.c): 4 workers write, read back and re-check
#           128 KiB slots of /dev/xvda3 with O_DIRECT forever; after the host writes
#           XENLAB-FINISH into the mailbox (first 4 KiB of xvda3) and every worker has done 2
#           more rounds, it prints XENLAB-LOOP-RESULT PASS (or FAIL)
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
mount -t tmpfs tmp /tmp
RAW=/dev/xvda3
task=$(sed -n 's/.*xenlab=\([a-z]*\).*/\1/p' /proc/cmdline)
echo "XENLAB-GUEST-BOOTED kernel=$(uname -r) task=${task:-marker} cpus=$(nproc)" \
	"hwqueues=$(ls /sys/block/xvda/mq 2>/dev/null | wc -l) root=$(sed -n 's/.*root=\([^ ]*\).*/\1/p' /proc/cmdline)"

off() {
	sync
	mount -o remount,ro / 2>/dev/null
	sync
	echo "XENLAB-GUEST-POWEROFF $*"
	poweroff -f
	sleep 30
}

# The verifying loop: tests/xen/guest-loop.c (xenlab-loop), on the raw partition; its first
# 4 KiB are the mailbox, slots 1-16 the workers'. It runs until the host ends the guest.
loop_task() {
	xenlab-loop $RAW 4 4
	echo "XENLAB-LOOP-FAIL the loop program ended (status $?)"
	sleep 3600
}

verify_task() {
	echo "XENLAB-VERIFY-START"
	sleep 3
	mkdir -p /data
	dd if=/dev/urandom of=/data/random bs=1M count=16 2>/dev/null
	sha256sum /data/random >/data/random.sha256
	dd if=/dev/urandom of=/tmp/raw bs=1M count=8 2>/dev/null
	dd if=/tmp/raw of=$RAW bs=1M oflag=direct conv=notrunc,fsync 2>/dev/null
	sync
	echo 3 >/proc/sys/vm/drop_caches
	ok=1
	cd /data
	sha256sum -c -s random.sha256 || { echo "XENLAB-VERIFY-FAIL /data/random"; ok=0; }
	cd /
	dd if=$RAW of=/tmp/raw.back bs=1M count=8 iflag=direct 2>/dev/null &&
		cmp -s /tmp/raw.back /tmp/raw || { echo "XENLAB-VERIFY-FAIL raw"; ok=0; }
	[ $ok = 1 ] && echo "XENLAB-VERIFY-OK data=$(cut -d' ' -f1 /data/random.sha256)" \
		"raw=$(sha256sum /tmp/raw | cut -d' ' -f1)"
}

case "$task" in
loop) loop_task ;;
verify) verify_task; off verify ;;
*)
	mkdir -p /data && date >/data/booted
	sleep 15
	off marker
	;;
esac
EOF
}

# The initrd's /init: load the modules, mount root=, switch_root.
guest_initrd_init() {
	cat <<'EOF'
#!/bin/busybox sh
# The xenlab guest's initrd: insmods /modules (xen-blkfront, ext4 and dependencies), mounts
# root= (ext4, read-write) and switch_roots to its /sbin/init.
/bin/busybox mkdir -p /bin /proc /sys /dev /newroot
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(cat /modules.order); do
	insmod /modules/$m || echo "xenlab-initrd: insmod $m failed"
done
root=$(sed -n 's/.*root=\([^ ]*\).*/\1/p' /proc/cmdline)
n=0
while [ ! -b "$root" ] && [ $n -lt 300 ]; do sleep 0.1; n=$((n + 1)); done
if ! mount -t ext4 -o rw "$root" /newroot; then
	echo "XENLAB-INITRD-FAIL cannot mount $root"
	poweroff -f
fi
umount /proc /sys /dev
exec switch_root /newroot /sbin/init
EOF
}

# module_files NAME...: the .ko files of the modules and their dependencies, dependencies
# first (modinfo answers whether or not dom0 has them loaded; built-in ones are left out).
module_files() {
	local n f d
	for n in "$@"; do
		f=$(modinfo -k "$GUEST_KVER" -F filename "$n") || die "no module $n for $GUEST_KVER"
		# Debian 13 (Linux 6.12) ships its modules xz-compressed.
		case "$f" in /*.ko | /*.ko.xz) ;; *) continue ;; esac
		for d in $(modinfo -k "$GUEST_KVER" -F depends "$n" | tr ',' ' '); do
			module_files "$d"
		done
		echo "$f"
	done
}

# Makes GUEST_DIR/initrd.img for kernel GUEST_KVER.
build_guest_initrd() {
	local dir=$GUEST_DIR/initrd path name
	rm -rf "$dir"
	mkdir -p "$dir/bin" "$dir/modules"
	cp /bin/busybox "$dir/bin/busybox"
	guest_initrd_init >"$dir/init"
	chmod 755 "$dir/init"
	: >"$dir/modules.order"
	# Dependencies first; crc32c for ext4's metadata checksums (a soft dependency).
	for path in $(module_files crc32c_generic xen-blkfront ext4); do
		name=$(basename "${path%.xz}")
		grep -qx "$name" "$dir/modules.order" && continue
		# busybox insmod hands the file to init_module as it is: decompress .ko.xz here.
		case "$path" in
		*.xz) xz -dc "$path" >"$dir/modules/$name" || die "initrd: cannot decompress $path" ;;
		*) cp "$path" "$dir/modules/" ;;
		esac
		echo "$name" >>"$dir/modules.order"
	done
	grep -q xen-blkfront "$dir/modules.order" ||
		[ "$(modinfo -k "$GUEST_KVER" -F filename xen-blkfront 2>/dev/null)" = "(builtin)" ] ||
		die "initrd: no xen-blkfront module for $GUEST_KVER"
	GUEST_INITRD_MODULES=$(paste -sd' ' "$dir/modules.order")
	(cd "$dir" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1) >"$GUEST_DIR/initrd.img"
	rm -rf "$dir"
}

# build_guest_image RAW_IMAGE: the partitioned raw image described above.
build_guest_image() {
	local img=$1 boot=$GUEST_DIR/boot root=$GUEST_DIR/root total a
	GUEST_KVER=$(basename "$(ls -d /lib/modules/*/ | head -n1)")
	GUEST_KERNEL=/boot/vmlinuz-$GUEST_KVER
	GUEST_INITRD=$GUEST_DIR/initrd.img
	[ -f "$GUEST_KERNEL" ] || die "no $GUEST_KERNEL in dom0"
	mkdir -p "$GUEST_DIR"
	build_guest_initrd
	rm -rf "$boot" "$root"
	mkdir -p "$boot/grub" "$root/bin" "$root/sbin" "$root/proc" "$root/sys" "$root/dev" \
		"$root/tmp" "$root/data"
	cp "$GUEST_KERNEL" "$boot/vmlinuz-$GUEST_KVER"
	cp "$GUEST_INITRD" "$boot/initrd.img-$GUEST_KVER"
	cat >"$boot/grub/grub.cfg" <<EOF
set default=0
set timeout=0
menuentry 'xenlab guest (Debian $GUEST_KVER)' {
	linux /vmlinuz-$GUEST_KVER root=/dev/xvda2 console=hvc0 xenlab=marker
	initrd /initrd.img-$GUEST_KVER
}
EOF
	cp /bin/busybox "$root/bin/busybox"
	[ ! -x "$XENLAB_BIN/xenlab-loop" ] || cp "$XENLAB_BIN/xenlab-loop" "$root/bin/"
	for a in $(busybox --list); do
		[ -e "$root/bin/$a" ] || ln -s busybox "$root/bin/$a"
	done
	guest_root_init >"$root/sbin/init"
	chmod 755 "$root/sbin/init"
	mkfs.ext4 -q -F -L xlboot -d "$boot" "$GUEST_DIR/p1.img" "${GUEST_BOOT_MIB}M" || die "mkfs p1"
	mkfs.ext4 -q -F -L xlroot -d "$root" "$GUEST_DIR/p2.img" "${GUEST_ROOT_MIB}M" || die "mkfs p2"
	total=$((GUEST_RAW_START_MIB + GUEST_RAW_MIB))
	rm -f "$img"
	truncate -s "${total}M" "$img"
	# Sizes in 512-byte sectors (2048 per MiB).
	sfdisk -q "$img" <<EOF || die "sfdisk failed"
label: dos
start=2048, size=$((GUEST_BOOT_MIB * 2048)), type=83, bootable
start=$(((1 + GUEST_BOOT_MIB) * 2048)), size=$((GUEST_ROOT_MIB * 2048)), type=83
start=$((GUEST_RAW_START_MIB * 2048)), size=$((GUEST_RAW_MIB * 2048)), type=da
EOF
	dd if="$GUEST_DIR/p1.img" of="$img" bs=1M seek=1 conv=notrunc,fsync status=none
	dd if="$GUEST_DIR/p2.img" of="$img" bs=1M seek=$((1 + GUEST_BOOT_MIB)) conv=notrunc,fsync status=none
	rm -f "$GUEST_DIR/p1.img" "$GUEST_DIR/p2.img"
	say "guest image $img: $(sfdisk -d "$img" | grep -c '^/') partitions, kernel $GUEST_KVER," \
		"initrd $(stat -c %s "$GUEST_INITRD") bytes, modules: $GUEST_INITRD_MODULES"
}

# guest_mailbox IMAGE TEXT: writes TEXT into the first 4 KiB of partition 3 (the loop
# guest's mailbox), with O_DIRECT, while the guest runs.
guest_mailbox() {
	local img=$1 text=$2
	{ printf '%s' "$text"; head -c $((4096 - ${#text})) /dev/zero; } |
		dd of="$img" bs=4096 seek=$((GUEST_RAW_START_MIB * 256)) count=1 iflag=fullblock oflag=direct \
			conv=notrunc status=none
}

# Restarts xenconsoled so that it logs every guest's console to GUEST_CONSOLE_DIR.
start_console_log() {
	local pid
	mkdir -p "$GUEST_CONSOLE_DIR"
	pid=$(cat /run/xenconsoled.pid 2>/dev/null) || true
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null || true
		wait_until 10 "xenconsoled to exit" sh -c "! kill -0 $pid 2>/dev/null" || true
	fi
	"$XENLAB_XEN_TOOLS/xenconsoled" --pid-file /run/xenconsoled.pid --log=guest \
		--log-dir="$GUEST_CONSOLE_DIR" || die "xenconsoled did not start"
}

# undo_guest NAME: at the scenario's exit (lib.sh's clean-up) the guest is destroyed, if it
# still runs, and its console shown.
undo_guest() {
	at_exit "xl destroy $1 2>/dev/null"
	show_at_exit "guest console" "$(guest_console "$1")"
}

guest_console() {
	echo "$GUEST_CONSOLE_DIR/guest-$1.log"
}

# wait_up SECONDS DESCRIPTION COMMAND...: wait_until for dom0's unsteady clock. Under TCG the
# dom0 clock once jumped (a 240 s wait timed out after 6 s) and once seemed to stand still (a
# wait never ended), so the bound is /proc/uptime, but never fewer than SECONDS*2 polls
# (0.1 s apart) and never more than SECONDS*30.
wait_up() {
	local secs=$1 what=$2 polls=0 deadline
	shift 2
	deadline=$(($(cut -d. -f1 /proc/uptime) + secs))
	until "$@"; do
		polls=$((polls + 1))
		if [ "$polls" -ge $((secs * 30)) ] || { [ "$polls" -ge $((secs * 2)) ] &&
			[ "$(cut -d. -f1 /proc/uptime)" -ge "$deadline" ]; }; then
			say "timed out after ${secs} s ($polls polls) waiting for $what"
			return 1
		fi
		sleep 0.1
	done
}

# wait_console NAME SECS REGEX: waits for a console line matching REGEX.
wait_console() {
	local log
	log=$(guest_console "$1")
	wait_up "$2" "console of $1 to show '$3'" grep -qE "$3" "$log"
}

guest_domid() {
	xl domid "$1" 2>/dev/null
}

# wait_guest_gone NAME SECS
wait_guest_gone() {
	wait_up "$2" "domain $1 to go" sh -c "! xl domid $1 >/dev/null 2>&1"
}

# Fails when `xl list` shows anything but Domain-0 (a zombie shows as "(null)").
check_xl_list_clean() {
	local out
	out=$(xl list)
	echo "$out" | sed 's/^/    /'
	[ "$(echo "$out" | tail -n +2 | grep -vc '^Domain-0 ')" -eq 0 ] || return 1
}
