# tests/xen/lib.sh: host-side helpers shared by tests/xen/run.sh and tests/xen/build-cache.sh.
# Source it (". tests/xen/lib.sh"); it is not run on its own. Nothing here changes the cache
# recipe: the cache key is a hash of build-cache.sh and stage1-init.sh only.

XENLAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
XENLAB_CACHE_ROOT=${XENBLKD_XENLAB_CACHE:-/var/cache/xenblkd-xenlab}
XENLAB_SKIP=77

xenlab_log() { echo "xenlab: $*" >&2; }
xenlab_die() { echo "xenlab: error: $*" >&2; exit 1; }
# A missing capability is a skip (exit 77), never a failure.
xenlab_skip() { echo "xenlab: SKIP: $*" >&2; exit "$XENLAB_SKIP"; }

# The cache key: a hash of everything that decides what the cache holds.
xenlab_cache_key() {
	cat "$XENLAB_DIR/build-cache.sh" "$XENLAB_DIR/stage1-init.sh" | sha256sum | cut -c1-16
}

xenlab_cache_dir() {
	echo "$XENLAB_CACHE_ROOT/$(xenlab_cache_key)"
}

# True when the cache for the current recipe is complete.
xenlab_cache_ready() {
	[ -f "$(xenlab_cache_dir)/complete" ]
}

# Prints "SITE" for a release (e.g. bookworm, bookworm-security) as the host's apt sources
# configure it. XENBLKD_XENLAB_MIRROR / XENBLKD_XENLAB_SECURITY_MIRROR override.
xenlab_host_mirror() {
	local release=$1
	apt-get indextargets --format '$(SITE) $(RELEASE)' 2>/dev/null \
		| awk -v r="$release" '$2 == r { print $1; exit }'
}

xenlab_mirror() {
	local m=${XENBLKD_XENLAB_MIRROR:-$(xenlab_host_mirror bookworm)}
	[ -n "$m" ] || xenlab_die "no bookworm mirror in the host's apt sources; set XENBLKD_XENLAB_MIRROR"
	echo "$m"
}

xenlab_security_mirror() {
	local m=${XENBLKD_XENLAB_SECURITY_MIRROR:-$(xenlab_host_mirror bookworm-security)}
	[ -n "$m" ] || xenlab_die "no bookworm-security source on the host; set XENBLKD_XENLAB_SECURITY_MIRROR"
	echo "$m"
}

# True when the mirror answers (the first build needs it).
xenlab_mirror_reachable() {
	local m
	m=$(xenlab_host_mirror bookworm)
	m=${XENBLKD_XENLAB_MIRROR:-$m}
	[ -n "$m" ] || return 1
	wget -q -T 15 -t 1 -O /dev/null "$m/dists/bookworm/Release" 2>/dev/null
}

xenlab_human_size() {
	du -sh --apparent-size "$1" 2>/dev/null | cut -f1
}

xenlab_disk_usage() {
	du -sh "$1" 2>/dev/null | cut -f1
}
