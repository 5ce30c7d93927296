# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# A throwaway single-node Ceph cluster for the rbd tests and benchmarks, started without
# systemd: one monitor and one OSD (bluestore on a sparse file), pool size 1, on 127.0.0.1
# with cephx; every daemon in the foreground of a background job, stopped by its pid. The
# recipe follows go-ceph's CI script micro-osd.sh (monmap, mkfs, one OSD), written anew with
# authentication on and bluestore instead of memstore (about 0.5 GiB of OSD memory, not 3).
#
# Sourced (the tests) or run as a command (by hand: `ceph-micro.sh start DIR` / `stop DIR`):
#   cm_available             0 when ceph-mon, ceph-osd, ceph, rbd and monmaptool exist; else 1
#                            with the missing program in $CM_MISSING.
#   cm_start DIR [PORT]      Creates the cluster in DIR (empty or absent, at most 80 bytes),
#                            waits until the OSD is up and pool "rbd" answers (120 s), sets
#                            CM_DIR, CM_CONF, CM_KEYRING (client.xenblkd's, mode 0600),
#                            CM_MON_PID, CM_OSD_PID, CM_START_SECONDS. Port: 3300 + pid % 1000.
#   cm_kill_mon / cm_kill_osd   SIGKILL that daemon (a storage outage) and reap it.
#   cm_start_mon / cm_start_osd Start it again on the same data (after a kill).
#   cm_wait_osd_up SECS      0 when the OSD is up again in the osd map.
#   cm_ceph ARGS...          The ceph command line as the cluster's admin; cm_rbd for rbd.
#   cm_stop                  Stops both daemons by pid (TERM, KILL after 10 s). The data stays
#                            in DIR for the caller to remove.
#
# CM_TIMEOUT_SCALE (default 1) multiplies every bound: the real-Xen lab runs this in a dom0
# under QEMU TCG, several times slower than the host.
#
# The client key the daemon uses (client.xenblkd) may do what an rbd client does on pool
# rbd, including blocklisting a dead lock owner (profile rbd).

CM_LOG_PREFIX=${CM_LOG_PREFIX:-ceph-micro}
CM_TIMEOUT_SCALE=${CM_TIMEOUT_SCALE:-1}

cm_available() {
	local p
	for p in ceph-mon ceph-osd ceph rbd monmaptool ceph-authtool; do
		if ! command -v "$p" >/dev/null 2>&1; then
			CM_MISSING=$p
			return 1
		fi
	done
	return 0
}

cm_ceph() {
	timeout $((60 * CM_TIMEOUT_SCALE)) ceph --conf "$CM_CONF" --name client.admin \
		--keyring "$CM_DIR/admin.keyring" --connect-timeout $((20 * CM_TIMEOUT_SCALE)) "$@"
}

cm_rbd() {
	timeout $((60 * CM_TIMEOUT_SCALE)) rbd --conf "$CM_CONF" --name client.admin \
		--keyring "$CM_DIR/admin.keyring" "$@"
}

_cm_conf() {
	cat >"$CM_CONF" <<EOF
[global]
fsid = $CM_FSID
mon host = v2:127.0.0.1:$CM_PORT
ms bind msgr1 = false
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
run dir = $CM_DIR/run
admin socket = $CM_DIR/run/\$name.asok
log file = $CM_DIR/log/\$name.log
crash dir = $CM_DIR/crash
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
osd crush chooseleaf type = 0
mon data avail crit = 0
mon data avail warn = 0
mon warn on pool no redundancy = false
auth allow insecure global id reclaim = false
# A killed client's watch (and so its claim on an image's exclusive lock) ends after 5 s,
# not 30: the tests restart daemons after kill -9.
osd client watch timeout = 5

[mon.a]
mon data = $CM_DIR/mon
chdir = ""

[osd.0]
osd data = $CM_DIR/osd
osd objectstore = bluestore
bluestore block path = $CM_DIR/osd.block
bluestore block create = true
bluestore block size = 21474836480
bluestore block db create = false
bluestore block wal create = false
bluestore fsck on mount = false
bluestore cache autotune = false
bluestore cache size = 134217728
osd memory target = 939524096
osd op num shards = 1
osd op num threads per shard = 2
osd heartbeat grace = 5
chdir = ""
EOF
}

# The monitor's and admin's keys, and the monmap naming one monitor on 127.0.0.1.
_cm_keys() {
	local d=$CM_DIR
	ceph-authtool --create-keyring "$d/mon.keyring" --gen-key -n mon. --cap mon 'allow *' \
		>/dev/null &&
	ceph-authtool --create-keyring "$d/admin.keyring" --gen-key -n client.admin \
		--cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' >/dev/null &&
	ceph-authtool "$d/mon.keyring" --import-keyring "$d/admin.keyring" >/dev/null &&
	monmaptool --create --fsid "$CM_FSID" --addv a "[v2:127.0.0.1:$CM_PORT]" \
		"$d/monmap" >/dev/null
}

cm_start_mon() {
	ceph-mon -f --conf "$CM_CONF" -i a >>"$CM_DIR/log/mon.stdout" 2>&1 &
	CM_MON_PID=$!
}

cm_start_osd() {
	ceph-osd -f --conf "$CM_CONF" -i 0 >>"$CM_DIR/log/osd.stdout" 2>&1 &
	CM_OSD_PID=$!
}

_cm_reap() {
	local pid=$1 sig=$2 i
	[ -n "$pid" ] || return 0
	kill "-$sig" "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	return 0
}

cm_kill_mon() { _cm_reap "$CM_MON_PID" KILL; CM_MON_PID=; }
cm_kill_osd() { _cm_reap "$CM_OSD_PID" KILL; CM_OSD_PID=; }

cm_wait_osd_up() {
	local secs=$1 i
	for ((i = 0; i < secs * CM_TIMEOUT_SCALE * 2; i++)); do
		if cm_ceph osd dump 2>/dev/null | grep -q '^osd\.0 up'; then
			return 0
		fi
		sleep 0.5
	done
	return 1
}

# osd.0: its id and key registered with the monitor, then its store made on the sparse file.
_cm_osd() {
	local d=$CM_DIR uuid
	uuid=$(cat /proc/sys/kernel/random/uuid)
	mkdir -p "$d/osd" &&
	ceph-authtool --create-keyring "$d/osd/keyring" --gen-key -n osd.0 >/dev/null &&
	[ "$(cm_ceph osd new "$uuid" 0 2>/dev/null)" = 0 ] &&
	cm_ceph auth add osd.0 osd 'allow *' mon 'allow profile osd' -i "$d/osd/keyring" \
		>/dev/null 2>&1 &&
	cm_ceph osd crush add osd.0 1 root=default >/dev/null 2>&1 &&
	ceph-osd --conf "$CM_CONF" -i 0 --mkfs --osd-uuid "$uuid" \
		--keyring "$d/osd/keyring" >>"$d/log/osd.stdout" 2>&1
}

# Pool rbd, and client.xenblkd's keyring (0600) for the daemon under test.
_cm_pool() {
	cm_ceph osd pool create rbd 8 8 >/dev/null 2>&1 &&
	cm_ceph osd pool set rbd size 1 --yes-i-really-mean-it >/dev/null 2>&1 &&
	cm_rbd pool init rbd &&
	(umask 077 && cm_ceph auth get-or-create client.xenblkd mon 'profile rbd' \
		osd 'profile rbd pool=rbd' -o "$CM_KEYRING") >/dev/null 2>&1 &&
	chmod 0600 "$CM_KEYRING"
}

cm_start() {
	local t0=$SECONDS i
	CM_DIR=$1
	CM_PORT=${2:-$((3300 + $$ % 1000))}
	CM_CONF=$CM_DIR/ceph.conf
	CM_KEYRING=$CM_DIR/client.xenblkd.keyring
	CM_FSID=$(cat /proc/sys/kernel/random/uuid)
	mkdir -p "$CM_DIR/run" "$CM_DIR/log" "$CM_DIR/mon" "$CM_DIR/crash" || return 1
	_cm_conf && _cm_keys || { echo "$CM_LOG_PREFIX: keys or monmap failed" >&2; return 1; }
	if ! ceph-mon --conf "$CM_CONF" --mkfs -i a --monmap "$CM_DIR/monmap" \
		--keyring "$CM_DIR/mon.keyring" >>"$CM_DIR/log/mon.stdout" 2>&1; then
		echo "$CM_LOG_PREFIX: ceph-mon --mkfs failed (log: $CM_DIR/log)" >&2
		return 1
	fi
	cm_start_mon
	if ! _cm_osd; then
		echo "$CM_LOG_PREFIX: the OSD could not be created (log: $CM_DIR/log)" >&2
		return 1
	fi
	cm_start_osd
	if ! cm_wait_osd_up 90 || ! _cm_pool; then
		echo "$CM_LOG_PREFIX: the OSD or pool rbd did not come up (log: $CM_DIR/log)" >&2
		return 1
	fi
	CM_START_SECONDS=$((SECONDS - t0))
	return 0
}

cm_stop() {
	_cm_reap "$CM_OSD_PID" TERM
	_cm_reap "$CM_MON_PID" TERM
	CM_OSD_PID=
	CM_MON_PID=
}

# As a command: start prints the variables to source, then waits; stop by the pids it wrote.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	case "${1:-}" in
	start)
		cm_available || { echo "$CM_LOG_PREFIX: $CM_MISSING is missing" >&2; exit 77; }
		cm_start "$2" "${3:-}" || { cm_stop; exit 1; }
		echo "$CM_MON_PID $CM_OSD_PID" >"$CM_DIR/pids"
		echo "CM_DIR=$CM_DIR CM_CONF=$CM_CONF CM_KEYRING=$CM_KEYRING up in ${CM_START_SECONDS}s"
		# The daemons are this shell's children: keep it until they end.
		wait
		;;
	stop)
		read -r mon osd <"$2/pids" && kill "$osd" "$mon"
		;;
	*)
		echo "usage: $0 start DIR [PORT] | stop DIR" >&2
		exit 2
		;;
	esac
fi
