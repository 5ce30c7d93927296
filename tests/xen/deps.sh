#!/bin/bash
# tests/xen/deps.sh: installs the Debian host packages that the real-Xen harness needs
# (tests/xen/run.sh) to build its cache and to boot Xen + dom0 in QEMU under TCG.
# Run as root, e.g. from CI:  tests/xen/deps.sh
# It is idempotent. The kernel and the hypervisor are not installed on the host: the cache
# build downloads them as .debs inside the dom0 chroot, so they match the dom0 tools.
set -euo pipefail

PACKAGES=(
	qemu-system-x86   # boots Xen under TCG
	debootstrap       # builds the dom0 root filesystem
	busybox-static    # the stage1 initramfs
	cpio              # packs the stage1 initramfs
	gzip
	e2fsprogs         # mke2fs -d for the rootfs image
	coreutils
	util-linux        # flock, timeout helpers
)

die() { echo "deps.sh: $*" >&2; exit 1; }

need_root() {
	[ "$(id -u)" -eq 0 ] || die "must run as root (apt-get install)"
}

missing_packages() {
	local p
	for p in "${PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' \
			|| echo "$p"
	done
}

main() {
	local missing
	missing=$(missing_packages)
	if [ -z "$missing" ]; then
		echo "deps.sh: all host packages present"
		return 0
	fi
	need_root
	echo "deps.sh: installing:" $missing
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	# shellcheck disable=SC2086
	apt-get install -y -q --no-install-recommends $missing
}

main "$@"
