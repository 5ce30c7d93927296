#!/bin/bash
# scripts/trixie-root.sh: builds and tests this tree on Debian 13 (trixie) from a Debian 12
# host. It debootstraps a trixie root once (about a minute) into
# ${XENBLKD_TRIXIE_ROOT:-/var/cache/xenblkd-trixie-root}, outside the tree, installs the build
# dependencies there with the project's own scripts/install-deps.sh (again whenever that file
# changes), and runs commands in it with this tree bind-mounted at the same path, so a build
# dir made there is usable by path from the host too (tests/xen/run.sh --flavour 4.20 copies
# its binaries into the Debian 13 dom0). /proc, /sys, /dev, /dev/pts and /dev/shm are mounted
# in a private mount namespace (unshare -m): they vanish with the command, whatever happens.
# Run as root:
#   scripts/trixie-root.sh setup                    create or refresh the root only
#   scripts/trixie-root.sh build [DIR] [-- TESTARGS]  meson setup+ninja in DIR (default
#                                                   build-trixie), then `meson test TESTARGS`
#                                                   when TESTARGS are given
#   scripts/trixie-root.sh deb                      dpkg-buildpackage -b on a copy of the tree;
#                                                   the .debs land in build-trixie-deb/
#   scripts/trixie-root.sh run CMD...               any command in the root, cwd = the tree
# Environment: XENBLKD_TRIXIE_ROOT (where the root lives), XENBLKD_TRIXIE_MIRROR and
# XENBLKD_TRIXIE_SECURITY_MIRROR (default: the sites of the host's bookworm sources).
# Exit 77 when this machine cannot make the root (not root, no debootstrap, no mirror).
set -euo pipefail

TREE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROOT_DIR=${XENBLKD_TRIXIE_ROOT:-/var/cache/xenblkd-trixie-root}
ROOT=$ROOT_DIR/root
SUITE=trixie

log() { echo "trixie-root: $*" >&2; }
die() { echo "trixie-root: error: $*" >&2; exit 1; }
skip() { echo "trixie-root: SKIP: $*" >&2; exit 77; }

usage() { sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; }

host_site() {
	apt-get indextargets --format '$(SITE) $(RELEASE)' 2>/dev/null |
		awk -v r="$1" '$2 == r { print $1; exit }'
}

mirror() { echo "${XENBLKD_TRIXIE_MIRROR:-$(host_site bookworm)}"; }
security_mirror() { echo "${XENBLKD_TRIXIE_SECURITY_MIRROR:-$(host_site bookworm-security)}"; }

# The dependencies stamp: install-deps.sh's hash, so a new dependency reaches the root.
deps_stamp() { sha256sum "$TREE/scripts/install-deps.sh" | cut -c1-16; }

# One stamp per version of install-deps.sh that ran, so checkouts of different versions
# sharing the root do not reinstall in turn.
root_ready() {
	[ -f "$ROOT_DIR/complete" ] && [ -f "$ROOT_DIR/deps.$(deps_stamp)" ]
}

check_capabilities() {
	[ "$(id -u)" -eq 0 ] || skip "needs root (debootstrap, chroot, mounts)"
	command -v debootstrap >/dev/null || skip "debootstrap is not installed (apt-get install debootstrap)"
	command -v unshare >/dev/null || skip "unshare (util-linux) is missing"
	[ -n "$(mirror)" ] || skip "no Debian mirror known: set XENBLKD_TRIXIE_MIRROR"
}

debootstrap_root() {
	local m
	m=$(mirror)
	rm -rf --one-file-system "$ROOT" "$ROOT_DIR/complete" "$ROOT_DIR"/deps.*
	mkdir -p "$ROOT_DIR/debs"
	log "debootstrap --variant=minbase $SUITE from $m (about a minute)"
	debootstrap --variant=minbase --cache-dir="$ROOT_DIR/debs" "$SUITE" "$ROOT" "$m" \
		>"$ROOT_DIR/debootstrap.log" 2>&1 || {
		tail -n 30 "$ROOT_DIR/debootstrap.log" >&2
		die "debootstrap failed (log above, $ROOT_DIR/debootstrap.log)"
	}
	cat >"$ROOT/etc/apt/sources.list" <<-EOF
	deb $m $SUITE main
	deb $m $SUITE-updates main
	deb $(security_mirror) $SUITE-security main
	EOF
	printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
	chmod +x "$ROOT/usr/sbin/policy-rc.d"
	echo trixie-root >"$ROOT/etc/debian_chroot"
	touch "$ROOT_DIR/complete"
}

# Runs "$@" inside the root in a private mount namespace (the mounts die with it).
in_root() {
	unshare --mount --propagation private -- "$0" __inside "$@"
}

inside() {
	cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
	# The root a mount point of its own, as / is on a machine: tests that remount / in a
	# namespace (ops-unit-sandbox, as systemd's sandbox does) get EINVAL otherwise.
	mount --bind "$ROOT" "$ROOT"
	mount -t proc proc "$ROOT/proc"
	mount -t sysfs sys "$ROOT/sys"
	mount --rbind /dev "$ROOT/dev"
	mkdir -p "$ROOT/dev/shm" "$ROOT$TREE"
	mountpoint -q "$ROOT/dev/shm" || mount -t tmpfs shm "$ROOT/dev/shm"
	mount --bind "$TREE" "$ROOT$TREE"
	exec chroot "$ROOT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 HOME=/root \
		TERM=dumb DEBIAN_FRONTEND=noninteractive TMPDIR=/tmp "${PASS_ENV[@]}" \
		sh -c 'cd "$0" && exec "$@"' "$TREE" "$@"
}

install_deps() {
	log "apt-get update + scripts/install-deps.sh in the root"
	in_root sh -c 'apt-get update -qq && apt-get dist-upgrade -y -qq &&
		XENBLKD_SKIP_APT_UPDATE=1 scripts/install-deps.sh' >"$ROOT_DIR/deps.log" 2>&1 || {
		tail -n 30 "$ROOT_DIR/deps.log" >&2
		die "installing the build dependencies failed (log above, $ROOT_DIR/deps.log)"
	}
	touch "$ROOT_DIR/deps.$(deps_stamp)"
}

# Creates or refreshes the root under a lock (concurrent callers wait, then find it ready).
setup() {
	root_ready && return 0
	check_capabilities
	mkdir -p "$ROOT_DIR"
	exec 8>"$ROOT_DIR/.lock"
	flock 8
	if ! root_ready; then
		local start=$SECONDS
		[ -f "$ROOT_DIR/complete" ] || debootstrap_root
		install_deps
		log "root ready in $((SECONDS - start)) s: $ROOT"
	fi
	exec 8>&-
}

build() {
	local dir=build-trixie
	if [ $# -gt 0 ] && [ "$1" != "--" ]; then dir=$1; shift; fi
	[ "${1:-}" != "--" ] || shift
	setup
	local start=$SECONDS
	# One build at a time (two lab runs of the 4.20 flavour may ask at once).
	exec 7>"$ROOT_DIR/.build.lock"
	flock 7
	in_root sh -c 'dir=$1; shift
		[ -f "$dir/build.ninja" ] || meson setup "$dir" -Dwerror=true >/dev/null || exit
		nice -n 10 ninja -C "$dir" >/dev/null || ninja -C "$dir" || exit
		[ $# -eq 0 ] || nice -n 10 meson test -C "$dir" "$@"' build "$dir" "$@"
	log "build${*:+ and test} in $dir: $((SECONDS - start)) s"
}

# dpkg-buildpackage on a clean copy (git ls-files) so the tree's own build dirs stay out.
deb() {
	setup
	local start=$SECONDS
	in_root sh -c 'set -e; out=$PWD/build-trixie-deb; rm -rf "$out" /tmp/pkg; mkdir -p "$out" /tmp/pkg/src
		git ls-files -z 2>/dev/null | xargs -0 cp --parents -t /tmp/pkg/src 2>/dev/null ||
			tar -c --exclude="./build*" --exclude=./.git . | tar -x -C /tmp/pkg/src
		cd /tmp/pkg/src && dpkg-buildpackage -us -uc -b >/tmp/pkg/dpkg.log 2>&1 ||
			{ tail -n 40 /tmp/pkg/dpkg.log; exit 1; }
		cp /tmp/pkg/*.deb "$out/"; ls "$out"'
	log "package built in $((SECONDS - start)) s"
}

main() {
	PASS_ENV=()
	local v
	for v in ASAN_OPTIONS UBSAN_OPTIONS MESON_TESTTHREADS; do
		[ -z "${!v:-}" ] || PASS_ENV+=("$v=${!v}")
	done
	case "${1:-}" in
	__inside) shift; inside "$@" ;;
	setup) setup; echo "$ROOT" ;;
	build) shift; build "$@" ;;
	deb) deb ;;
	run) shift; setup; in_root "$@" ;;
	-h | --help) usage ;;
	*) usage >&2; exit 2 ;;
	esac
}

main "$@"
