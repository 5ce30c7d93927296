# tests/xen/lib.sh: host-side helpers shared by tests/xen/run.sh and tests/xen/build-cache.sh.
# Source it (". tests/xen/lib.sh"); it is not run on its own. It also defines the lab flavours:
# which Xen, which Debian release and where its tools live. Flavour: $XENBLKD_XENLAB_FLAVOUR
# (4.17, the default, or 4.20); run.sh --flavour sets it.

XENLAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
XENLAB_CACHE_ROOT=${XENBLKD_XENLAB_CACHE:-/var/cache/xenblkd-xenlab}
XENLAB_SKIP=77
XENLAB_FLAVOURS="4.17 4.20"

xenlab_log() { echo "xenlab: $*" >&2; }
xenlab_die() { echo "xenlab: error: $*" >&2; exit 1; }
# A missing capability is a skip (exit 77), never a failure.
xenlab_skip() { echo "xenlab: SKIP: $*" >&2; exit "$XENLAB_SKIP"; }

# Sets the flavour's variables (XENLAB_FLAVOUR, its Debian release, Xen version and tool
# paths) from $1 or $XENBLKD_XENLAB_FLAVOUR, default 4.17. The tool paths go into dom0 through
# the share's config (run.sh), so scenarios never name a Xen version.
xenlab_set_flavour() {
	XENLAB_FLAVOUR=${1:-${XENBLKD_XENLAB_FLAVOUR:-4.17}}
	case "$XENLAB_FLAVOUR" in
	4.17) XENLAB_SUITE=bookworm ;;  # Debian 12, Linux 6.1
	4.20) XENLAB_SUITE=trixie ;;    # Debian 13, Linux 6.12
	*) xenlab_die "unknown lab flavour '$XENLAB_FLAVOUR' (known: $XENLAB_FLAVOURS)" ;;
	esac
	XENLAB_XEN_VERSION=$XENLAB_FLAVOUR
	XENLAB_XEN_DIR=/usr/lib/xen-$XENLAB_FLAVOUR
	XENLAB_XEN_TOOLS=$XENLAB_XEN_DIR/bin
	export XENBLKD_XENLAB_FLAVOUR=$XENLAB_FLAVOUR
}

# The Debian release of the host (VERSION_CODENAME), e.g. bookworm.
xenlab_host_suite() {
	(. /etc/os-release && echo "${VERSION_CODENAME:-}")
}

# The cache key: a hash of everything that decides what the cache holds, and the flavour.
xenlab_cache_key() {
	{ cat "$XENLAB_DIR/build-cache.sh" "$XENLAB_DIR/stage1-init.sh"; echo "$XENLAB_FLAVOUR"; } |
		sha256sum | cut -c1-16
}

# Each flavour's caches live in a directory of their own (flavour-4.17/<key>), so one
# flavour's rebuild never prunes the other's.
xenlab_flavour_root() {
	echo "$XENLAB_CACHE_ROOT/flavour-$XENLAB_FLAVOUR"
}

xenlab_cache_dir() {
	echo "$(xenlab_flavour_root)/$(xenlab_cache_key)"
}

# True when the cache for the current recipe is complete.
xenlab_cache_ready() {
	[ -f "$(xenlab_cache_dir)/complete" ]
}

# Prints "SITE" for a release (e.g. bookworm, bookworm-security) as the host's apt sources
# configure it. XENBLKD_XENLAB_MIRROR / XENBLKD_XENLAB_SECURITY_MIRROR override. A flavour of
# another release uses the same sites (the mirror serves bookworm and trixie alike).
xenlab_host_mirror() {
	local release=$1
	apt-get indextargets --format '$(SITE) $(RELEASE)' 2>/dev/null \
		| awk -v r="$release" '$2 == r { print $1; exit }'
}

xenlab_host_site() {
	local suite=$1 m
	m=$(xenlab_host_mirror "$suite")
	[ -n "$m" ] || m=$(xenlab_host_mirror "$(xenlab_host_suite)${suite#"${suite%%-*}"}")
	echo "$m"
}

xenlab_mirror() {
	local m=${XENBLKD_XENLAB_MIRROR:-$(xenlab_host_site "$XENLAB_SUITE")}
	[ -n "$m" ] || xenlab_die "no Debian mirror in the host's apt sources; set XENBLKD_XENLAB_MIRROR"
	echo "$m"
}

xenlab_security_mirror() {
	local m=${XENBLKD_XENLAB_SECURITY_MIRROR:-$(xenlab_host_site "$XENLAB_SUITE-security")}
	[ -n "$m" ] || xenlab_die "no security source on the host; set XENBLKD_XENLAB_SECURITY_MIRROR"
	echo "$m"
}

# True when the mirror answers (the first build needs it).
xenlab_mirror_reachable() {
	local m=${XENBLKD_XENLAB_MIRROR:-$(xenlab_host_site "$XENLAB_SUITE")}
	[ -n "$m" ] || return 1
	wget -q -T 15 -t 1 -O /dev/null "$m/dists/$XENLAB_SUITE/Release" 2>/dev/null
}

xenlab_human_size() {
	du -sh --apparent-size "$1" 2>/dev/null | cut -f1
}

xenlab_disk_usage() {
	du -sh "$1" 2>/dev/null | cut -f1
}

xenlab_set_flavour
