/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * sim-blkfront's command line: what a test asks the simulated guest to negotiate and do.
 * Every option that turns a blkif feature on makes the frontend use it and count it in the
 * summary, so a test can assert that the feature really went over the ring.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blkfront.h"
#include "front_hostile.h"

static void front_usage_features(FILE *out)
{
	fprintf(out,
		"Features (each is used and counted in the summary when negotiated):\n"
		"  --ring-order N   ask for a ring of 2^N pages, 0..%u (default 0)\n"
		"  --queues N       ask for N queues, 1..%u, requests spread over them\n"
		"  --abi A          native, x86_32 or x86_64 (default native)\n"
		"  --no-protocol    leave out the `protocol` key (native layout)\n"
		"  --indirect N     BLKIF_OP_INDIRECT for requests of more than 11 segments, up to\n"
		"                   min(N, the backend's feature-max-indirect-segments), N <= %u\n"
		"  --persistent     feature-persistent=1: request pages keep their grants\n"
		"  --persistent-pool N  pages per queue kept granted (default: as Linux sizes it)\n"
		"  --discard        send discards (secure ones too, when offered)\n"
		"  --barrier        send barriers without data too (with data they always go)\n"
		"  --expect-readonly  the disk must be read-only: writes, barriers and discards\n"
		"                   must fail with BLKIF_RSP_ERROR, reads succeed\n"
		"  --expect-resize  after the first workload, wait for `sectors` to grow, then\n"
		"                   write and verify the new area\n"
		"  --trim-at-end    after the last check, discard the whole span\n"
		"  --die-after N    exit abruptly after N requests, leaving grants and rings\n"
		"  --ack-log FILE   append `SECTOR NSECT GEN` for every write the backend\n"
		"                   acknowledged, at once (a crash test checks the disk against it)\n"
		"  --stop-file FILE  end the random workload early once FILE exists (looked for\n"
		"                   every 64 requests): what is in flight completes, then as usual\n"
		"  --stay-closing   at close, stay in Closing: the backend must time us out\n"
		"  --hang           after the workload, stay Connected and ignore the backend (a\n"
		"                   hung guest) until it is Closed or gone, then end all grants\n"
		"  --expect-unplug  the toolstack detaches the disk during the workload: drain\n"
		"                   what is in flight and close, as a guest's blkfront does\n"
		"  --matrix         walk ring order 0..4 x queues 1,2,4 x ABI x indirect x\n"
		"                   persistent, reconnecting between configurations\n"
		"  --matrix-requests N  random requests per configuration (default 100)\n"
		"  --attack NAME    a hostile guest: connect, run one attack, report its outcome\n"
		"                   as `attack:` lines (--list-attacks names them)\n"
		"  --watch-pid PID  with --attack: report this process's CPU time per phase\n"
		"  --full-min-rings N  ring-full-forever counts as served when more than N rings'\n"
		"                   worth were answered in its 2 s refill phase (default 10; a\n"
		"                   real Xen under emulation maps slower than the simulation)\n"
		"  --discard-flood N  keep every ring slot busy with discards of the whole disk,\n"
		"                   N in all (0: until the backend closes); a `flood:` summary\n"
		"  --discard-sectors N  with --discard-flood: discards of N sectors from sector 0\n"
		"  --dump FILE      instead of the workload, read the span (written by another\n"
		"                   path, unchecked) into FILE at the same offsets\n",
		FRING_MAX_ORDER, FCONN_MAX_QUEUES, FRING_MAX_SEGS);
}

static void front_usage(FILE *out)
{
	fprintf(out,
		"Usage: sim-blkfront --frontend PATH [options]\n"
		"Acts as a guest's xen-blkfront on the simulated Xen platform (tests/sim/sim-xen.sh):\n"
		"handshake with the backend, a verified random workload, a clean close.\n"
		"\n"
		"  --frontend PATH  the frontend directory, e.g. /local/domain/1/device/vbd/51712\n"
		"  --domid N        this guest's domid (default: from PATH)\n"
		"  --sim-dir DIR    the simulation directory (default: $XENBLKD_SIM_DIR)\n"
		"  --xen PLATFORM   sim (the simulated platform, the default) or real: a real Xen,\n"
		"                   pages shared through gntalloc (docs/simulation.md)\n"
		"  --unmap-notify OFFSET  --xen real, one-page rings: gntalloc zeroes this byte of\n"
		"                   the ring page and kicks its event channel when we unmap or die\n"
		"  --requests N     random requests per connection (default 20000)\n"
		"  --seed N         seed of the request stream (default 1)\n"
		"  --depth N        most requests in flight (default: what the rings hold)\n"
		"  --span N         use only the first N 512-byte sectors (default: the disk,\n"
		"                   up to 2 GiB)\n"
		"  --reconnect      after the workload close, go back to Initialising, reconnect,\n"
		"                   re-check all data written so far and run a second workload\n"
		"  --timeout S      longest wait for a backend state or a response (default 30)\n"
		"  --quiet          print only the summary\n"
		"\n");
	front_usage_features(out);
	fprintf(out,
		"\n"
		"Benchmark: --pattern randread|randwrite|seqread --bs BYTES --duration S\n"
		"  [--no-verify]: IOPS, MiB/s and latency percentiles, at --depth.\n"
		"\n"
		"The disk must start zeroed: sectors this program has not written are expected to\n"
		"read as zeros. Xenstore is reached through XENSTORED_PATH.\n"
		"Exit status: 0 and a last line `RESULT: PASS` when every request got the status it\n"
		"had to and every sector read back as expected; 1 and `RESULT: FAIL ...` otherwise;\n"
		"2 for bad usage.\n");
}

enum {
	OPT_FRONTEND = 256,
	OPT_DOMID,
	OPT_SIM_DIR,
	OPT_REQUESTS,
	OPT_SEED,
	OPT_DEPTH,
	OPT_SPAN,
	OPT_RECONNECT,
	OPT_TIMEOUT,
	OPT_QUIET,
	OPT_HELP,
	OPT_RING_ORDER,
	OPT_QUEUES,
	OPT_ABI,
	OPT_NO_PROTOCOL,
	OPT_INDIRECT,
	OPT_PERSISTENT,
	OPT_PERSISTENT_POOL,
	OPT_DISCARD,
	OPT_BARRIER,
	OPT_EXPECT_READONLY,
	OPT_EXPECT_RESIZE,
	OPT_TRIM_AT_END,
	OPT_DIE_AFTER,
	OPT_STAY_CLOSING,
	OPT_HANG,
	OPT_EXPECT_UNPLUG,
	OPT_MATRIX,
	OPT_MATRIX_REQUESTS,
	OPT_PATTERN,
	OPT_BS,
	OPT_DURATION,
	OPT_NO_VERIFY,
	OPT_ATTACK,
	OPT_LIST_ATTACKS,
	OPT_WATCH_PID,
	OPT_FULL_MIN_RINGS,
	OPT_DISCARD_FLOOD,
	OPT_DISCARD_SECTORS,
	OPT_DUMP,
	OPT_XEN,
	OPT_UNMAP_NOTIFY,
	OPT_ACK_LOG,
	OPT_STOP_FILE,
};

static const struct option front_longopts[] = {
	{ "frontend", required_argument, NULL, OPT_FRONTEND },
	{ "domid", required_argument, NULL, OPT_DOMID },
	{ "sim-dir", required_argument, NULL, OPT_SIM_DIR },
	{ "requests", required_argument, NULL, OPT_REQUESTS },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "depth", required_argument, NULL, OPT_DEPTH },
	{ "span", required_argument, NULL, OPT_SPAN },
	{ "reconnect", no_argument, NULL, OPT_RECONNECT },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "quiet", no_argument, NULL, OPT_QUIET },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "ring-order", required_argument, NULL, OPT_RING_ORDER },
	{ "queues", required_argument, NULL, OPT_QUEUES },
	{ "abi", required_argument, NULL, OPT_ABI },
	{ "no-protocol", no_argument, NULL, OPT_NO_PROTOCOL },
	{ "indirect", required_argument, NULL, OPT_INDIRECT },
	{ "persistent", no_argument, NULL, OPT_PERSISTENT },
	{ "persistent-pool", required_argument, NULL, OPT_PERSISTENT_POOL },
	{ "discard", no_argument, NULL, OPT_DISCARD },
	{ "barrier", no_argument, NULL, OPT_BARRIER },
	{ "expect-readonly", no_argument, NULL, OPT_EXPECT_READONLY },
	{ "expect-resize", no_argument, NULL, OPT_EXPECT_RESIZE },
	{ "trim-at-end", no_argument, NULL, OPT_TRIM_AT_END },
	{ "die-after", required_argument, NULL, OPT_DIE_AFTER },
	{ "stay-closing", no_argument, NULL, OPT_STAY_CLOSING },
	{ "hang", no_argument, NULL, OPT_HANG },
	{ "expect-unplug", no_argument, NULL, OPT_EXPECT_UNPLUG },
	{ "matrix", no_argument, NULL, OPT_MATRIX },
	{ "matrix-requests", required_argument, NULL, OPT_MATRIX_REQUESTS },
	{ "pattern", required_argument, NULL, OPT_PATTERN },
	{ "bs", required_argument, NULL, OPT_BS },
	{ "duration", required_argument, NULL, OPT_DURATION },
	{ "no-verify", no_argument, NULL, OPT_NO_VERIFY },
	{ "attack", required_argument, NULL, OPT_ATTACK },
	{ "list-attacks", no_argument, NULL, OPT_LIST_ATTACKS },
	{ "watch-pid", required_argument, NULL, OPT_WATCH_PID },
	{ "full-min-rings", required_argument, NULL, OPT_FULL_MIN_RINGS },
	{ "discard-flood", required_argument, NULL, OPT_DISCARD_FLOOD },
	{ "discard-sectors", required_argument, NULL, OPT_DISCARD_SECTORS },
	{ "dump", required_argument, NULL, OPT_DUMP },
	{ "xen", required_argument, NULL, OPT_XEN },
	{ "unmap-notify", required_argument, NULL, OPT_UNMAP_NOTIFY },
	{ "ack-log", required_argument, NULL, OPT_ACK_LOG },
	{ "stop-file", required_argument, NULL, OPT_STOP_FILE },
	{ NULL, 0, NULL, 0 },
};

/* The options without an argument: where each one's flag lives. */
static bool *front_flag_of(struct front_opts *o, int opt)
{
	switch (opt) {
	case OPT_RECONNECT: return &o->reconnect;
	case OPT_QUIET: return &o->wl.quiet;
	case OPT_NO_PROTOCOL: return &o->no_protocol;
	case OPT_PERSISTENT: return &o->persistent;
	case OPT_DISCARD: return &o->wl.discard;
	case OPT_BARRIER: return &o->wl.barrier;
	case OPT_EXPECT_READONLY: return &o->wl.expect_readonly;
	case OPT_EXPECT_RESIZE: return &o->expect_resize;
	case OPT_TRIM_AT_END: return &o->trim_at_end;
	case OPT_STAY_CLOSING: return &o->stay_closing;
	case OPT_HANG: return &o->hang;
	case OPT_EXPECT_UNPLUG: return &o->expect_unplug;
	case OPT_MATRIX: return &o->matrix;
	case OPT_NO_VERIFY: return &o->wl.no_verify;
	default: return NULL;
	}
}

static int front_parse_ul(const char *s, unsigned long long min, unsigned long long max,
			  unsigned long long *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	*out = strtoull(s, &end, 0);
	if (errno || *end || *out < min || *out > max)
		return -EINVAL;
	return 0;
}

/* Where a numeric option goes, and its range. */
struct front_num {
	int opt;
	unsigned long long min, max;
	size_t size; /* of the destination: 4 or 8 bytes */
	size_t offset;
};

#define FRONT_NUM(o, lo, hi, field)                                                              \
	{ o, lo, hi, sizeof(((struct front_opts *)0)->field), offsetof(struct front_opts, field) }

static const struct front_num front_nums[] = {
	FRONT_NUM(OPT_REQUESTS, 0, ULONG_MAX, wl.requests),
	FRONT_NUM(OPT_SEED, 0, UINT64_MAX, wl.seed),
	FRONT_NUM(OPT_DEPTH, 1, FCONN_MAX_QUEUES * FRING_MAX_SLOTS, wl.depth),
	FRONT_NUM(OPT_SPAN, 0, UINT64_MAX, wl.span),
	FRONT_NUM(OPT_TIMEOUT, 1, 86400, timeout_s),
	FRONT_NUM(OPT_RING_ORDER, 0, FRING_MAX_ORDER, ring_order),
	FRONT_NUM(OPT_QUEUES, 1, FCONN_MAX_QUEUES, queues),
	FRONT_NUM(OPT_INDIRECT, 0, FRING_MAX_SEGS, indirect),
	FRONT_NUM(OPT_PERSISTENT_POOL, 1, 1u << 16, persistent_pool),
	FRONT_NUM(OPT_DIE_AFTER, 1, ULONG_MAX, wl.die_after),
	FRONT_NUM(OPT_MATRIX_REQUESTS, 0, ULONG_MAX, matrix_requests),
	FRONT_NUM(OPT_BS, 512, FRING_MAX_SEGS * FRING_PAGE_SIZE, wl.bs),
	FRONT_NUM(OPT_DURATION, 1, 86400, wl.duration_s),
	FRONT_NUM(OPT_DISCARD_SECTORS, 1, UINT64_MAX >> 9, discard_sectors),
};

static int front_number_opt(struct front_opts *o, int opt, const char *arg)
{
	unsigned long long v;
	unsigned int i;

	if (opt == OPT_WATCH_PID) {
		if (front_parse_ul(arg, 1, INT_MAX, &v))
			return -EINVAL;
		o->watch_pid = (long)v;
		return 0;
	}
	if (opt == OPT_DISCARD_FLOOD) {
		if (front_parse_ul(arg, 0, LONG_MAX, &v))
			return -EINVAL;
		o->discard_flood = (long)v;
		return 0;
	}
	if (opt == OPT_FULL_MIN_RINGS) {
		if (front_parse_ul(arg, 1, 1000, &v))
			return -EINVAL;
		o->full_min_rings = (unsigned int)v;
		return 0;
	}
	if (opt == OPT_UNMAP_NOTIFY) {
		if (front_parse_ul(arg, 0, FRING_PAGE_SIZE - 1, &v))
			return -EINVAL;
		o->unmap_notify = (int)v;
		return 0;
	}
	if (opt == OPT_DOMID) {
		if (front_parse_ul(arg, 0, 32751, &v))
			return -EINVAL;
		o->domid = (long)v;
		return 0;
	}
	for (i = 0; i < sizeof(front_nums) / sizeof(front_nums[0]); i++) {
		const struct front_num *n = &front_nums[i];
		char *field = (char *)o + n->offset;

		if (n->opt != opt)
			continue;
		if (front_parse_ul(arg, n->min, n->max, &v))
			return -EINVAL;
		if (n->size == sizeof(uint32_t))
			*(uint32_t *)(void *)field = (uint32_t)v;
		else
			*(uint64_t *)(void *)field = v;
		return 0;
	}
	return -EINVAL;
}

static int front_pattern_opt(struct front_opts *o, const char *arg)
{
	if (!strcmp(arg, "randread"))
		o->wl.pattern = WL_PATTERN_RANDREAD;
	else if (!strcmp(arg, "randwrite"))
		o->wl.pattern = WL_PATTERN_RANDWRITE;
	else if (!strcmp(arg, "seqread"))
		o->wl.pattern = WL_PATTERN_SEQREAD;
	else
		return -EINVAL;
	o->bench = true;
	return 0;
}

static int front_one_opt(struct front_opts *o, int opt, const char *arg)
{
	bool *flag = front_flag_of(o, opt);

	if (flag) {
		*flag = true;
		return 0;
	}
	switch (opt) {
	case OPT_FRONTEND:
		o->fe_dir = arg;
		return 0;
	case OPT_SIM_DIR:
		o->sim_dir = arg;
		return 0;
	case OPT_XEN:
		/* Named, never guessed: a test on one platform never runs on the other. */
		if (strcmp(arg, "sim") && strcmp(arg, "real"))
			return -EINVAL;
		o->real_xen = !strcmp(arg, "real");
		return 0;
	case OPT_STOP_FILE:
		o->wl.stop_file = arg;
		return 0;
	case OPT_ACK_LOG:
		o->wl.ack_log = arg;
		return 0;
	case OPT_ABI:
		return fabi_parse(arg, &o->abi);
	case OPT_PATTERN:
		return front_pattern_opt(o, arg);
	case OPT_ATTACK:
		o->attack = arg;
		return fhostile_check_name(arg);
	case OPT_DUMP:
		o->dump = arg;
		return 0;
	default:
		return front_number_opt(o, opt, arg);
	}
}

static int front_check_args(struct front_opts *o)
{
	const char *why = NULL;

	if (!o->fe_dir)
		why = "--frontend is required";
	else if (!o->real_xen && (!o->sim_dir || !*o->sim_dir))
		why = "no simulation directory (--sim-dir or XENBLKD_SIM_DIR)";
	else if (o->real_xen && o->matrix)
		why = "--matrix changes the ring size per connection: not with --xen real";
	else if (o->unmap_notify >= 0 && (!o->real_xen || o->ring_order))
		why = "--unmap-notify is for --xen real with a one-page ring";
	else if (o->bench && !o->wl.bs)
		why = "a benchmark needs --bs";
	else if (o->wl.no_verify && !o->bench)
		why = "--no-verify is for benchmarks (--pattern) only";
	else if (o->matrix && (o->bench || o->expect_resize || o->stay_closing || o->hang ||
			       o->expect_unplug))
		why = "--matrix runs alone";
	else if (o->attack && (o->matrix || o->bench || o->reconnect || o->hang ||
			       o->expect_unplug || o->stay_closing || o->expect_resize))
		why = "--attack runs alone";
	else if (o->discard_flood >= 0 && (o->attack || o->matrix || o->bench || o->reconnect ||
					   o->hang || o->expect_unplug || o->stay_closing ||
					   o->expect_resize))
		why = "--discard-flood runs alone";
	else if (o->discard_sectors && o->discard_flood < 0)
		why = "--discard-sectors goes with --discard-flood";
	else if ((o->hang || o->expect_unplug) && (o->reconnect || o->stay_closing))
		why = "--hang and --expect-unplug end the run: no --reconnect or --stay-closing";
	if (why) {
		ERR("%s\n", why);
		return -EINVAL;
	}
	o->wl.timeout_ms = o->timeout_s * 1000;
	if (o->bench && !o->wl.duration_s)
		o->wl.duration_s = 10;
	if (o->matrix && !o->wl.span)
		o->wl.span = 8192; /* 4 MiB: each configuration re-checks all of it */
	o->wl.max_segs = o->indirect > FRING_DIRECT_SEGS ? o->indirect : FRING_DIRECT_SEGS;
	if (o->matrix && o->wl.max_segs < 256)
		o->wl.max_segs = 256; /* the matrix's indirect configurations ask for 256 */
	return 0;
}

int front_parse_args(struct front_opts *o, int argc, char **argv)
{
	int opt;

	*o = (struct front_opts){ .domid = -1, .timeout_s = 30, .queues = 1, .discard_flood = -1,
				  .matrix_requests = 100, .unmap_notify = -1, .full_min_rings = 10, .sim_dir = getenv("XENBLKD_SIM_DIR"),
				  .wl = { .seed = 1, .requests = 20000 } };
	while ((opt = getopt_long(argc, argv, "", front_longopts, NULL)) != -1) {
		if (opt == OPT_HELP) {
			front_usage(stdout);
			return 1;
		}
		if (opt == OPT_LIST_ATTACKS) {
			fhostile_list(stdout);
			return 1;
		}
		if (opt == '?')
			return -EINVAL;
		if (front_one_opt(o, opt, optarg)) {
			ERR("bad value for --%s: %s\n", front_longopts[opt - OPT_FRONTEND].name,
			    optarg);
			return -EINVAL;
		}
	}
	if (optind != argc) {
		ERR("unexpected argument %s\n", argv[optind]);
		return -EINVAL;
	}
	return front_check_args(o);
}
