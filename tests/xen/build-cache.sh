#!/bin/bash
# tests/xen/build-cache.sh: builds (once) what the real-Xen harness boots for one lab flavour,
# from Debian packages only, into
# ${XENBLKD_XENLAB_CACHE:-/var/cache/xenblkd-xenlab}/flavour-<flavour>/<key>/, where <key> is a
# hash of this file, stage1-init.sh and the flavour, so a changed recipe rebuilds. Flavours
# (tests/xen/lib.sh): 4.17 = Xen 4.17 + Debian 12 (bookworm, Linux 6.1); 4.20 = Xen 4.20 +
# Debian 13 (trixie, Linux 6.12, merged-/usr, .ko.xz modules). Artefacts:
#   xen              the hypervisor (gunzipped xen-<version>-amd64.gz, an ELF32 multiboot image)
#   vmlinuz          the Debian kernel that dom0 runs
#   stage1.cpio.gz   a busybox initramfs: virtio/ext4/9p modules (decompressed) + stage1-init.sh
#   rootfs.img       the dom0 root: debootstrap minbase <suite> (+updates, +security,
#                    dist-upgraded) with the Xen tools, fio and xenblkd's run-time libraries
#   manifest.txt     package versions
# The hypervisor and kernel .debs are fetched with apt-get download inside the chroot, so the
# host's apt configuration is never touched.
# Run as root: tests/xen/build-cache.sh [--force] [--flavour F] (default $XENBLKD_XENLAB_FLAVOUR
# or 4.17). Prints the cache directory on stdout.
# Exit 77 when it cannot build here (not root, no mirror reachable, host tools missing).
# run.sh calls it; CI may call it on its own to warm the cache.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROOTFS_FREE_MB=1536
# What dom0 needs: the Xen tools, the dom0 QEMU for qdisk, the test tools, and xenblkd's
# run-time libraries; the flavour adds its versioned packages (set_flavour_recipe).
DOM0_PACKAGES=(
	xen-utils-common xenstore-utils qemu-system-xen
	kmod procps e2fsprogs util-linux mount fio initscripts
	fdisk qemu-utils     # partitioned and qcow2 guest images (pygrub, PV guest)
	liburing2 libsystemd0 libxenstore4 libxengnttab1 libxenevtchn1
	zlib1g libzstd1 libjson-c5 busybox-static
	libasan8 libubsan1   # so sanitizer builds of xenblkd run in dom0 too
	libnbd0 nbdkit       # NBD disks: xenblkd's client library, and a server
	librbd1              # Ceph RBD disks: xenblkd's client library (linked when built)
)
# Module trees dom0 never needs under QEMU (they take most of the image).
PRUNED_MODULE_DIRS=(sound drivers/gpu drivers/media drivers/net/wireless drivers/net/ethernet
	drivers/infiniband drivers/staging drivers/bluetooth drivers/iio net/wireless net/bluetooth)
# Modules stage1 loads (with their dependencies, in order); set by set_flavour_recipe.
STAGE1_MODULES=()
XEN_PACKAGE=""  # the hypervisor's .deb

# The parts of the recipe that differ between flavours (XENLAB.md: the 4.20 flavour).
set_flavour_recipe() {
	SUITE=$XENLAB_SUITE
	XEN_PACKAGE=xen-hypervisor-$XENLAB_XEN_VERSION-amd64
	DOM0_PACKAGES+=("xen-utils-$XENLAB_XEN_VERSION" "libxenmisc$XENLAB_XEN_VERSION")
	# Linux 6.12 (4.20) builds virtio_pci in; module_closure skips built-in modules.
	STAGE1_MODULES=(virtio_pci virtio_blk crc32c_generic ext4 9pnet_virtio 9p)
	case "$XENLAB_FLAVOUR" in
	# Ceph for the rbd-local-attach scenario (a one-mon one-OSD cluster in dom0).
	4.17) DOM0_PACKAGES+=(libaio1 ceph-mon ceph-osd ceph-common) ;;
	# t64 transition: libaio.so.1t64. xz-utils: the guest initrd's modules are .ko.xz.
	# libnbd-bin: nbdinfo and nbdcopy read xenblkd's NBD export (vbd3.sh --part export).
	4.20) DOM0_PACKAGES+=(libaio1t64 xz-utils libnbd-bin) ;;
	esac
}

FLAVOUR_ROOT="" # this flavour's caches: $XENLAB_CACHE_ROOT/flavour-<flavour>
BUILD=""        # temporary build directory, removed on exit
ROOT=""         # the dom0 root filesystem being built
MOUNTS=()       # chroot mounts to undo

usage() {
	sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'
}

cleanup() {
	local i
	for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
		umount -l "${MOUNTS[$i]}" 2>/dev/null || true
	done
	MOUNTS=()
	if [ -n "$BUILD" ] && [ -d "$BUILD" ]; then
		rm -rf --one-file-system "$BUILD"
	fi
}

check_capabilities() {
	[ "$(id -u)" -eq 0 ] || xenlab_skip "building the cache needs root (debootstrap, chroot)"
	local tool
	for tool in debootstrap busybox cpio mke2fs gzip wget; do
		command -v "$tool" >/dev/null \
			|| xenlab_skip "host tool '$tool' missing: run tests/xen/deps.sh"
	done
	file_is_static /bin/busybox || xenlab_skip "/bin/busybox is not static: run tests/xen/deps.sh (busybox-static)"
	xenlab_mirror_reachable || xenlab_skip "no cache at $(xenlab_cache_dir) and the Debian mirror is not reachable"
}

file_is_static() {
	! ldd "$1" >/dev/null 2>&1
}

chroot_mount() {
	local type=$1 src=$2 dst=$ROOT$3
	shift 3
	mkdir -p "$dst"
	mount -t "$type" "$@" "$src" "$dst"
	MOUNTS+=("$dst")
}

in_chroot() {
	chroot "$ROOT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
		LC_ALL=C HOME=/root "$@"
}

debootstrap_root() {
	local mirror=$1
	mkdir -p "$FLAVOUR_ROOT/debs"
	xenlab_log "debootstrap --variant=minbase $SUITE from $mirror"
	debootstrap --variant=minbase --cache-dir="$FLAVOUR_ROOT/debs" "$SUITE" "$ROOT" "$mirror" \
		>"$BUILD/debootstrap.log" 2>&1 || {
		tail -n 30 "$BUILD/debootstrap.log" >&2
		xenlab_die "debootstrap failed (log above)"
	}
}

configure_apt() {
	local mirror=$1 security=$2
	cat >"$ROOT/etc/apt/sources.list" <<-EOF
	deb $mirror $SUITE main
	deb $mirror $SUITE-updates main
	deb $security $SUITE-security main
	EOF
	# No service may start inside the chroot.
	printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
	chmod +x "$ROOT/usr/sbin/policy-rc.d"
	cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
}

mount_chroot() {
	chroot_mount proc proc /proc
	chroot_mount sysfs sys /sys
	chroot_mount devpts devpts /dev/pts
	mkdir -p "$FLAVOUR_ROOT/apt-archives/partial"
	chroot_mount none "$FLAVOUR_ROOT/apt-archives" /var/cache/apt/archives -o bind
}

install_packages() {
	xenlab_log "apt-get update, dist-upgrade, install ${#DOM0_PACKAGES[@]} packages"
	{
		in_chroot apt-get update -q
		in_chroot apt-get dist-upgrade -y -q
		in_chroot apt-get install -y -q --no-install-recommends "${DOM0_PACKAGES[@]}"
	} >"$BUILD/apt.log" 2>&1 || {
		tail -n 30 "$BUILD/apt.log" >&2
		xenlab_die "apt-get in the chroot failed (log above)"
	}
}

# The .deb of PKG's candidate version in the (cached, bind-mounted) apt archive.
deb_for() {
	local pkg=$1 ver f
	ver=$(in_chroot apt-cache show --no-all-versions "$pkg" | awk '/^Version:/ { print $2; exit }')
	for f in "$ROOT/var/cache/apt/archives/${pkg}_"*.deb; do
		[ -f "$f" ] && [ "$(dpkg-deb -f "$f" Version)" = "$ver" ] && { echo "$f"; return 0; }
	done
	xenlab_die "no .deb of $pkg $ver after apt-get download"
}

# The kernel and the hypervisor come as .debs from the chroot's own apt, so their versions
# match the dom0 tools; they are unpacked, not installed (no initramfs-tools, no grub). They
# are downloaded into the shared apt archive so a rebuild does not fetch them again.
unpack_kernel_and_xen() {
	local kpkg pkg deb
	kpkg=$(in_chroot apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
	[ -n "$kpkg" ] || xenlab_die "cannot resolve linux-image-amd64 in the chroot"
	xenlab_log "downloading $kpkg and $XEN_PACKAGE"
	in_chroot sh -c "cd /var/cache/apt/archives && apt-get download -q $kpkg $XEN_PACKAGE" \
		>>"$BUILD/apt.log" 2>&1 || {
		tail -n 20 "$BUILD/apt.log" >&2
		xenlab_die "apt-get download in the chroot failed (log above)"
	}
	for pkg in "$kpkg" "$XEN_PACKAGE"; do
		deb=$(deb_for "$pkg")
		# Keep the merged-/usr symlinks (/lib -> usr/lib) that plain dpkg-deb -x would replace.
		dpkg-deb --fsys-tarfile "$deb" | tar -x --keep-directory-symlink -C "$ROOT"
		dpkg-deb -W --showformat '${Package} ${Version} (unpacked)\n' "$deb" >>"$BUILD/manifest.txt"
	done
	KVER=$(basename "$(ls -d "$ROOT"/lib/modules/*/ | head -n1)")
	prune_modules
	in_chroot depmod "$KVER"
	cp "$ROOT/boot/vmlinuz-$KVER" "$BUILD/vmlinuz"
	gunzip -c "$ROOT/boot/xen-$XENLAB_XEN_VERSION-amd64.gz" >"$BUILD/xen"
}

prune_modules() {
	local d
	for d in "${PRUNED_MODULE_DIRS[@]}"; do
		rm -rf "$ROOT/lib/modules/$KVER/kernel/$d"
	done
}

finish_root() {
	# /var/cache/apt/archives is the bind-mounted .deb cache: it stays outside the image.
	rm -f "$ROOT/usr/sbin/policy-rc.d"
	rm -rf "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/log/apt/* "$ROOT"/var/cache/apt/*.bin
	echo xenlab >"$ROOT/etc/hostname"
	mkdir -p "$ROOT/mnt/share" "$ROOT/var/lib/xenlab"
	in_chroot dpkg-query -W -f '${Package} ${Version}\n' >>"$BUILD/manifest.txt"
}

# Prints the module files for one module name, dependencies first, from modules.dep.
module_closure() {
	local name=$1 moddir=$ROOT/lib/modules/$KVER path dep
	path=$(awk -F: -v n="$name" '{ f = $1; sub(".*/", "", f); sub("\\.ko.*$", "", f);
		gsub("-", "_", f) } f == n { print $1; exit }' "$moddir/modules.dep")
	if [ -z "$path" ]; then
		grep -q "/$name.ko" "$moddir/modules.builtin" 2>/dev/null && return 0
		xenlab_die "module $name not found for $KVER"
	fi
	for dep in $(awk -F': ' -v p="$path" '$1 == p { print $2; exit }' "$moddir/modules.dep"); do
		dep=$(basename "$dep"); dep=${dep%%.ko*}
		module_closure "${dep//-/_}"
	done
	echo "$path"
}

build_stage1() {
	local dir=$BUILD/stage1 moddir=$ROOT/lib/modules/$KVER m path closure
	mkdir -p "$dir/bin" "$dir/modules"
	cp /bin/busybox "$dir/bin/busybox"
	cp "$XENLAB_DIR/stage1-init.sh" "$dir/init"
	chmod +x "$dir/init"
	: >"$dir/modules.order"
	for m in "${STAGE1_MODULES[@]}"; do
		# In a command substitution xenlab_die leaves only the subshell: pass its failure on.
		closure=$(module_closure "$m") || xenlab_die "cannot resolve module $m"
		for path in $closure; do
			grep -qx "$(basename "${path%.xz}")" "$dir/modules.order" && continue
			case "$path" in
			*.ko) cp "$moddir/$path" "$dir/modules/" ;;
			*.ko.xz) xz -dc "$moddir/$path" >"$dir/modules/$(basename "${path%.xz}")" ;;
			*) xenlab_die "unsupported module compression: $path" ;;
			esac
			basename "${path%.xz}" >>"$dir/modules.order"
		done
	done
	xenlab_log "stage1 modules: $(paste -sd' ' "$dir/modules.order")"
	(cd "$dir" && find . | cpio -o -H newc --quiet | gzip -9) >"$BUILD/stage1.cpio.gz"
	rm -rf "$dir"
}

build_image() {
	local used_mb size_mb
	used_mb=$(du -sm "$ROOT" | cut -f1)
	size_mb=$((used_mb + used_mb / 5 + ROOTFS_FREE_MB))
	xenlab_log "rootfs: ${used_mb} MiB used, image ${size_mb} MiB"
	mke2fs -q -t ext4 -L xenlab-root -d "$ROOT" "$BUILD/rootfs.img" "${size_mb}M" >&2 \
		|| xenlab_die "mke2fs -d failed"
}

# Removes this flavour's caches of older recipes (not the shared .deb caches) and builds that
# were killed (the caller holds the lock, so no other build is running). The other flavour's
# directory, and caches of the older flat layout that other checkouts still use, stay.
prune_old() {
	local keep=$1 d
	for d in "$FLAVOUR_ROOT"/.build.*; do
		[ -d "$d" ] && [ "$d" != "$BUILD" ] || continue
		xenlab_log "removing an interrupted build: $d"
		rm -rf --one-file-system "$d"
	done
	for d in "$FLAVOUR_ROOT"/*/; do
		d=${d%/}
		case "$(basename "$d")" in debs | apt-archives | "$keep") continue ;; esac
		[ -f "$d/complete" ] || [ -d "$d/rootfs" ] || continue
		xenlab_log "removing the cache of an older recipe: $d"
		rm -rf --one-file-system "$d"
	done
}

build() {
	local key dest mirror security start
	key=$(xenlab_cache_key)
	dest=$FLAVOUR_ROOT/$key
	mirror=$(xenlab_mirror)
	security=$(xenlab_security_mirror)
	start=$SECONDS
	prune_old "$key"
	BUILD=$FLAVOUR_ROOT/.build.$key.$$
	ROOT=$BUILD/rootfs
	mkdir -p "$ROOT"
	: >"$BUILD/manifest.txt"
	debootstrap_root "$mirror"
	configure_apt "$mirror" "$security"
	mount_chroot
	install_packages
	unpack_kernel_and_xen
	finish_root
	cleanup_mounts_only
	build_stage1
	build_image
	rm -rf --one-file-system "$ROOT" "$BUILD"/*.log
	echo "built $(date -u +%FT%TZ) in $((SECONDS - start)) s, kernel $KVER" >"$BUILD/complete"
	rm -rf "$dest"
	mv "$BUILD" "$dest"
	BUILD=""
	prune_old "$key"
	xenlab_log "cache ready in $((SECONDS - start)) s: $dest"
}

cleanup_mounts_only() {
	local i
	for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
		umount "${MOUNTS[$i]}" || umount -l "${MOUNTS[$i]}"
	done
	MOUNTS=()
}

main() {
	local force=0
	while [ $# -gt 0 ]; do
		case "$1" in
		--force) force=1; shift ;;
		--flavour) xenlab_set_flavour "${2:?--flavour needs a value}"; shift 2 ;;
		-h | --help) usage; return 0 ;;
		*) usage >&2; return 2 ;;
		esac
	done
	FLAVOUR_ROOT=$(xenlab_flavour_root)
	set_flavour_recipe
	if [ "$force" -eq 0 ] && xenlab_cache_ready; then
		xenlab_cache_dir
		return 0
	fi
	check_capabilities
	mkdir -p "$FLAVOUR_ROOT"
	exec 9>"$FLAVOUR_ROOT/.lock"
	flock 9
	# Another run may have built it while this one waited for the lock.
	if [ "$force" -eq 1 ] || ! xenlab_cache_ready; then
		trap cleanup EXIT
		trap 'exit 130' INT TERM
		build
	fi
	xenlab_cache_dir
}

main "$@"
