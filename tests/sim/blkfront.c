/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * sim-blkfront: a guest's xen-blkfront on the simulated Xen platform, so that xenblkd is
 * tested end to end without Xen. It walks the xenbus handshake as Linux blkfront does (wait for
 * the backend's InitWait, publish ring-ref/event-channel/protocol and Initialised in one
 * transaction, wait for Connected, read the disk's size), runs a verified random workload
 * (workload.c), closes cleanly, and with --reconnect goes back to Initialising and does it all
 * again, checking the data written before. It links nothing from src/: the simulated guest
 * kernel is tests/sim/sim_guest.c, and requests are built with <xen/io/ring.h>.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xenstore.h>
#include <xen/io/protocols.h>
#include <xen/io/xenbus.h>

#include "front_ring.h"
#include "front_stats.h"
#include "front_xs.h"
#include "sim_guest.h"
#include "workload.h"

#define FRONT_RING_FRAMES 2u /* a fresh ring page for each of the (at most) two connections */
#define FRONT_DATA_FRAMES 1024u /* 4 MiB of data pages to scatter requests over */
#define FRONT_NR_GRANTS 2048u
#define FRONT_RING_RELEASE_MS 5000u

struct front_opts {
	const char *fe_dir;
	const char *sim_dir;
	long domid; /* -1: from the frontend path */
	unsigned int timeout_s;
	bool reconnect;
	struct wl_config wl;
};

struct front {
	struct front_opts opt;
	struct xs_handle *xs;
	char *be_dir;
	uint16_t domid;
	uint16_t be_domid;
	uint16_t devid;
	struct sim_domain *dom;
	struct fring ring;
	struct fring_stats rstats;
	struct fstats stats;
	struct wl_disk disk;
	struct workload *wl;
	unsigned int connections; /* made so far */
	bool watching;
};

#define LOG(f, ...)                                                                              \
	do {                                                                                     \
		if (!(f)->opt.wl.quiet)                                                          \
			fprintf(stderr, "sim-blkfront: " __VA_ARGS__);                           \
	} while (0)
#define ERR(...) fprintf(stderr, "sim-blkfront: " __VA_ARGS__)

/* ---- command line ---- */

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
		"  --requests N     random requests per connection (default 20000)\n"
		"  --seed N         seed of the request stream (default 1)\n"
		"  --depth N        most requests in flight, 1..%u (default %u)\n"
		"  --span N         use only the first N 512-byte sectors (default: the disk,\n"
		"                   up to 2 GiB)\n"
		"  --reconnect      after the workload close, go back to Initialising, reconnect,\n"
		"                   re-check all data written so far and run a second workload\n"
		"  --timeout S      longest wait for a backend state or a response (default 30)\n"
		"  --quiet          print only the summary\n"
		"\n"
		"The disk must start zeroed: sectors this program has not written are expected to\n"
		"read as zeros. Xenstore is reached through XENSTORED_PATH.\n"
		"The same seed gives the same requests and data; only page placement varies.\n"
		"Exit status: 0 and a last line `RESULT: PASS` when every request succeeded and every\n"
		"sector read back as expected; 1 and `RESULT: FAIL ...` otherwise; 2 for bad usage.\n",
		(unsigned int)FRING_SLOTS, (unsigned int)FRING_SLOTS);
}

static int front_parse_ul(const char *s, unsigned long long max, unsigned long long *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	*out = strtoull(s, &end, 0);
	if (errno || *end || *out > max)
		return -EINVAL;
	return 0;
}

/* In the order of front_longopts[], which error messages index with (opt - OPT_FRONTEND). */
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
	{ NULL, 0, NULL, 0 },
};

/* One option with a number; 0 or -EINVAL. */
static int front_number_opt(struct front_opts *o, int opt, const char *arg)
{
	unsigned long long v;

	switch (opt) {
	case OPT_DOMID:
		if (front_parse_ul(arg, 32751, &v))
			return -EINVAL;
		o->domid = (long)v;
		return 0;
	case OPT_REQUESTS:
		if (front_parse_ul(arg, ULONG_MAX, &v))
			return -EINVAL;
		o->wl.requests = (unsigned long)v;
		return 0;
	case OPT_SEED:
		if (front_parse_ul(arg, UINT64_MAX, &v))
			return -EINVAL;
		o->wl.seed = v;
		return 0;
	case OPT_DEPTH:
		if (front_parse_ul(arg, FRING_SLOTS, &v) || v == 0)
			return -EINVAL;
		o->wl.depth = (unsigned int)v;
		return 0;
	case OPT_SPAN:
		if (front_parse_ul(arg, UINT64_MAX, &v))
			return -EINVAL;
		o->wl.span = v;
		return 0;
	case OPT_TIMEOUT:
		if (front_parse_ul(arg, 86400, &v) || v == 0)
			return -EINVAL;
		o->timeout_s = (unsigned int)v;
		return 0;
	default:
		return -EINVAL;
	}
}

/* 0 to run, 1 after --help, -EINVAL on bad usage. */
static int front_parse_args(struct front_opts *o, int argc, char **argv)
{
	int opt;

	*o = (struct front_opts){ .domid = -1, .timeout_s = 30, .sim_dir = getenv("XENBLKD_SIM_DIR"),
				  .wl = { .seed = 1, .requests = 20000, .depth = FRING_SLOTS } };
	while ((opt = getopt_long(argc, argv, "", front_longopts, NULL)) != -1) {
		if (opt == OPT_HELP) {
			front_usage(stdout);
			return 1;
		} else if (opt == OPT_FRONTEND) {
			o->fe_dir = optarg;
		} else if (opt == OPT_SIM_DIR) {
			o->sim_dir = optarg;
		} else if (opt == OPT_RECONNECT) {
			o->reconnect = true;
		} else if (opt == OPT_QUIET) {
			o->wl.quiet = true;
		} else if (front_number_opt(o, opt, optarg)) {
			if (opt != '?')
				ERR("bad value for --%s: %s\n", front_longopts[opt - OPT_FRONTEND].name, optarg);
			return -EINVAL;
		}
	}
	if (optind != argc || !o->fe_dir || !o->sim_dir || !*o->sim_dir) {
		ERR("%s\n", optind != argc ? "unexpected argument" :
			    !o->fe_dir ? "--frontend is required" :
					 "no simulation directory (--sim-dir or XENBLKD_SIM_DIR)");
		return -EINVAL;
	}
	o->wl.timeout_ms = o->timeout_s * 1000;
	return 0;
}

/* ---- set-up ---- */

/* domid and devid from /local/domain/<domid>/device/vbd/<devid>. */
static int front_ids_from_path(struct front *f)
{
	unsigned int domid, devid;
	int end = 0;

	if (sscanf(f->opt.fe_dir, "/local/domain/%u/device/vbd/%u%n", &domid, &devid, &end) != 2 ||
	    f->opt.fe_dir[end] != '\0' || devid > UINT16_MAX) {
		ERR("%s is not /local/domain/<domid>/device/vbd/<devid>\n", f->opt.fe_dir);
		return -EINVAL;
	}
	f->devid = (uint16_t)devid;
	if (f->opt.domid < 0 && domid > 32751)
		return -EINVAL;
	f->domid = (uint16_t)(f->opt.domid >= 0 ? (unsigned int)f->opt.domid : domid);
	return 0;
}

/* What the toolstack wrote for us: where the backend is. */
static int front_find_backend(struct front *f)
{
	unsigned long long be_domid;
	int rc;

	rc = fxs_read(f->xs, f->opt.fe_dir, "backend", &f->be_dir);
	if (!rc)
		rc = fxs_read_ull(f->xs, f->opt.fe_dir, "backend-id", &be_domid);
	if (rc) {
		ERR("cannot read backend/backend-id in %s: %s\n", f->opt.fe_dir, strerror(-rc));
		return rc;
	}
	if (be_domid > 32751) {
		ERR("backend-id %llu is not a domid\n", be_domid);
		return -EINVAL;
	}
	f->be_domid = (uint16_t)be_domid;
	return 0;
}

static int front_setup(struct front *f)
{
	int rc;

	rc = front_ids_from_path(f);
	if (rc)
		return rc;
	f->xs = xs_open(0);
	if (!f->xs) {
		rc = errno ? -errno : -EIO;
		ERR("cannot reach xenstore (XENSTORED_PATH?): %s\n", strerror(-rc));
		return rc;
	}
	rc = front_find_backend(f);
	if (rc)
		return rc;
	rc = fxs_watch_state(f->xs, f->be_dir);
	if (rc) {
		ERR("cannot watch %s/state: %s\n", f->be_dir, strerror(-rc));
		return rc;
	}
	f->watching = true;
	rc = sim_domain_create(f->opt.sim_dir, f->domid, FRONT_NR_GRANTS,
			       FRONT_RING_FRAMES + FRONT_DATA_FRAMES, &f->dom);
	if (rc)
		ERR("cannot create simulated domain %u in %s: %s\n", f->domid, f->opt.sim_dir,
		    strerror(-rc));
	return rc;
}

static void front_teardown(struct front *f)
{
	workload_destroy(f->wl);
	if (f->dom)
		sim_domain_destroy(f->dom);
	if (f->watching)
		fxs_unwatch_state(f->xs, f->be_dir);
	if (f->xs)
		xs_close(f->xs);
	free(f->be_dir);
}

/* ---- xenbus ---- */

static void front_show_backend_error(struct front *f)
{
	char *msg;

	if (fxs_read(f->xs, f->be_dir, "error", &msg) == 0) {
		ERR("backend error node: %s\n", msg);
		free(msg);
	}
}

/* Wait for the backend to reach a state in `want`; the failures count as xenbus errors. */
static int front_wait_backend(struct front *f, unsigned int want, unsigned int fail,
			      const char *what, int *state)
{
	int rc = fxs_wait_state(f->xs, f->be_dir, want, fail, f->opt.wl.timeout_ms, state);

	if (rc == 0)
		return 0;
	if (rc == -ETIMEDOUT) {
		f->stats.timeouts++;
		ERR("backend did not reach %s within %u s (it is %s)\n", what, f->opt.timeout_s,
		    fxs_state_name(*state));
	} else {
		f->stats.xenbus_errors++;
		ERR("backend went to %s while we waited for %s\n", fxs_state_name(*state), what);
	}
	front_show_backend_error(f);
	return rc;
}

static bool front_flag(struct front *f, const char *key)
{
	unsigned long long v = 0;

	/* blkif.h: absent means 0; a value that is no number counts as absent too. */
	return fxs_read_ull_or(f->xs, f->be_dir, key, 0, &v) == 0 && v != 0;
}

/* At InitWait, as Linux does: the transport limits. We use one page and one queue whatever
 * is offered, which every backend must accept. */
static void front_read_features(struct front *f)
{
	unsigned long long order = 0, queues = 0, indirect = 0;

	fxs_read_ull_or(f->xs, f->be_dir, "max-ring-page-order", 0, &order);
	fxs_read_ull_or(f->xs, f->be_dir, "multi-queue-max-queues", 0, &queues);
	fxs_read_ull_or(f->xs, f->be_dir, "feature-max-indirect-segments", 0, &indirect);
	LOG(f, "backend %s is InitWait: flush-cache=%d barrier=%d discard=%d persistent=%d "
	       "max-ring-page-order=%llu multi-queue-max-queues=%llu max-indirect-segments=%llu\n",
	    f->be_dir, front_flag(f, "feature-flush-cache"), front_flag(f, "feature-barrier"),
	    front_flag(f, "feature-discard"), front_flag(f, "feature-persistent"), order, queues,
	    indirect);
}

/* While a workload runs, the backend must stay Connected. */
static int front_backend_changed(void *ctx)
{
	struct front *f = ctx;
	unsigned long long state = 0;

	fxs_drain_watch(f->xs);
	if (fxs_read_ull(f->xs, f->be_dir, "state", &state) == 0 &&
	    state == XenbusStateConnected)
		return 0;
	f->stats.xenbus_errors++;
	ERR("backend left Connected during the workload (now %s)\n",
	    fxs_state_name(state > INT_MAX ? -1 : (int)state));
	front_show_backend_error(f);
	return -ECONNRESET;
}

static int front_setup_ring(struct front *f)
{
	struct fring_conf conf = {
		.dom = f->dom,
		.stats = &f->rstats,
		.ring_frame = f->connections % FRONT_RING_FRAMES,
		.be_domid = f->be_domid,
		.handle = f->devid,
		.aux_fd = xs_fileno(f->xs),
		.aux_cb = front_backend_changed,
		.aux_ctx = f,
		.quiet = f->opt.wl.quiet,
	};
	int rc = fring_connect(&f->ring, &conf);

	if (rc)
		ERR("cannot set up the ring: %s\n", strerror(-rc));
	return rc;
}

/* One transaction, as blkif.h asks: the backend sees all of it together with Initialised. */
static int front_publish(struct front *f)
{
	char ref[16], port[16], state[4];
	const struct fxs_kv kv[] = {
		{ "ring-ref", ref },
		{ "event-channel", port },
		{ "protocol", XEN_IO_PROTO_ABI_NATIVE },
		{ "state", state },
	};
	int rc;

	snprintf(ref, sizeof(ref), "%u", f->ring.ring_ref);
	snprintf(port, sizeof(port), "%u", f->ring.port);
	snprintf(state, sizeof(state), "%d", XenbusStateInitialised);
	rc = fxs_write_tx(f->xs, f->opt.fe_dir, kv, sizeof(kv) / sizeof(kv[0]));
	if (rc) {
		f->stats.xenbus_errors++;
		ERR("cannot publish the ring: %s\n", strerror(-rc));
	}
	return rc;
}

/* At Connected: the disk. `sectors` is in 512-byte units whatever `sector-size` says (the
 * rule of blkif.h since Xen 4.20, and what Linux always did). */
static int front_read_disk(struct front *f, struct wl_disk *d)
{
	unsigned long long sectors = 0, info = 0, ss = 0, pss = 0;
	int rc;

	rc = fxs_read_ull(f->xs, f->be_dir, "sectors", &sectors);
	if (!rc)
		rc = fxs_read_ull(f->xs, f->be_dir, "info", &info);
	if (!rc)
		rc = fxs_read_ull(f->xs, f->be_dir, "sector-size", &ss);
	if (!rc)
		rc = fxs_read_ull_or(f->xs, f->be_dir, "physical-sector-size", ss, &pss);
	if (rc) {
		f->stats.xenbus_errors++;
		ERR("connected backend lacks a valid sectors, info or sector-size: %s\n",
		    strerror(-rc));
		return rc;
	}
	*d = (struct wl_disk){
		.sectors = sectors,
		.sector_size = ss <= UINT_MAX ? (unsigned int)ss : 0,
		.readonly = (info & VDISK_READONLY) != 0,
		.flush = front_flag(f, "feature-flush-cache"),
		.barrier = front_flag(f, "feature-barrier"),
	};
	LOG(f, "backend is Connected: sectors=%llu sector-size=%llu physical-sector-size=%llu "
	       "info=%#llx flush-cache=%d barrier=%d\n",
	    sectors, ss, pss, info, d->flush, d->barrier);
	return 0;
}

static int front_start_workload(struct front *f, const struct wl_disk *d)
{
	int rc;

	if (f->wl) {
		if (d->sectors == f->disk.sectors && d->sector_size == f->disk.sector_size)
			return 0;
		f->stats.xenbus_errors++;
		ERR("the disk changed across the reconnection (%llu sectors of %u bytes, was "
		    "%llu of %u)\n", (unsigned long long)d->sectors, d->sector_size,
		    (unsigned long long)f->disk.sectors, f->disk.sector_size);
		return -EINVAL;
	}
	f->disk = *d;
	rc = workload_create(&f->opt.wl, d, f->dom, FRONT_RING_FRAMES, FRONT_DATA_FRAMES,
			     &f->stats, &f->wl);
	if (rc) {
		f->stats.xenbus_errors++;
		ERR("cannot run a workload on this disk (%llu sectors, sector-size %u; at least "
		    "88 sectors and a power of two from 512 to 4096 needed): %s\n",
		    (unsigned long long)d->sectors, d->sector_size, strerror(-rc));
	}
	return rc;
}

static int front_set_state(struct front *f, int state)
{
	int rc = fxs_write_state(f->xs, f->opt.fe_dir, state);

	if (rc) {
		f->stats.xenbus_errors++;
		ERR("cannot write state %s: %s\n", fxs_state_name(state), strerror(-rc));
	}
	return rc;
}

static int front_connect(struct front *f)
{
	struct wl_disk disk;
	int state, rc;

	rc = front_wait_backend(f, FXS_STATE(XenbusStateInitWait), FXS_STATE(XenbusStateClosing),
				"InitWait", &state);
	if (rc)
		return rc;
	front_read_features(f);
	rc = front_setup_ring(f);
	if (rc) {
		f->stats.xenbus_errors++;
		return rc;
	}
	f->connections++;
	rc = front_publish(f);
	if (!rc)
		rc = front_wait_backend(f, FXS_STATE(XenbusStateConnected),
					FXS_STATE(XenbusStateClosing) | FXS_STATE(XenbusStateClosed),
					"Connected", &state);
	if (!rc)
		rc = front_read_disk(f, &disk);
	if (!rc)
		rc = front_start_workload(f, &disk);
	if (!rc)
		rc = front_set_state(f, XenbusStateConnected);
	return rc;
}

static int front_run(struct front *f, const char *what,
		     int (*run)(struct workload *wl, struct fring *r))
{
	uint64_t busy = f->stats.busy_ns;
	size_t done = f->stats.nr_lat;
	int rc;

	rc = run(f->wl, &f->ring);
	LOG(f, "%s: %zu requests in %.3f s%s%s\n", what, f->stats.nr_lat - done,
	    (double)(f->stats.busy_ns - busy) / 1e9, rc ? ", stopped: " : "",
	    rc ? strerror(-rc) : "");
	if (rc)
		f->stats.stopped++;
	return rc;
}

/* The backend left Connected under us (a toolstack detach): it must still answer what it
 * took, so wait for that before closing, instead of revoking grants it may be copying. */
static void front_drain(struct front *f)
{
	int (*aux_cb)(void *aux_ctx) = f->ring.conf.aux_cb;

	f->ring.conf.aux_cb = NULL; /* its state changes are expected now */
	front_run(f, "wait for the requests in flight", workload_drain);
	f->ring.conf.aux_cb = aux_cb;
}

/* The ring was not freed before we went Closed: was it freed once the backend was Closed? */
static void front_check_ring_freed(struct front *f)
{
	int tries = 1000;

	while (fring_retry_ring_release(&f->ring) == -EBUSY && --tries)
		usleep(1000);
	if (tries) {
		LOG(f, "warning: the backend unmapped the ring only after it was Closed\n");
		return;
	}
	f->rstats.grant_errors++;
	ERR("the backend never unmapped the ring page (grant %u)\n", f->ring.ring_ref);
}

/* Closing -> backend Closing or Closed -> end ring access, close the event channel ->
 * Closed -> backend Closed. */
static int front_close(struct front *f)
{
	int state, rc, rc_ring;

	rc = front_set_state(f, XenbusStateClosing);
	if (!rc)
		rc = front_wait_backend(f, FXS_STATE(XenbusStateClosing) |
					FXS_STATE(XenbusStateClosed), 0, "Closing", &state);
	/* A backend that says Closing has drained and unmapped: ending access must work. One
	 * that never got there (already reported) is not waited for. */
	rc_ring = fring_disconnect(&f->ring, rc ? 0 : FRONT_RING_RELEASE_MS, workload_complete,
				   f->wl);
	if (rc_ring && rc_ring != -EBUSY) {
		f->stats.xenbus_errors++;
		ERR("cannot close the event channel: %s\n", strerror(-rc_ring));
	}
	if (!rc)
		rc = front_set_state(f, XenbusStateClosed);
	if (!rc)
		rc = front_wait_backend(f, FXS_STATE(XenbusStateClosed), 0, "Closed", &state);
	if (rc_ring == -EBUSY && !rc)
		front_check_ring_freed(f);
	else if (rc_ring == -EBUSY)
		LOG(f, "the unresponsive backend still maps the ring page\n");
	LOG(f, "closed%s\n", rc ? " (not cleanly)" : "");
	return rc;
}

/* A connection that never reached Connected: drop the ring without the close handshake. */
static void front_abandon_ring(struct front *f)
{
	if (f->ring.ring_granted || f->ring.port_open)
		fring_disconnect(&f->ring, 100, workload_complete, f->wl);
}

static int front_session(struct front *f)
{
	int rc, rc_close;

	rc = front_connect(f);
	if (rc) {
		front_abandon_ring(f);
		return rc;
	}
	if (f->connections > 1)
		rc = front_run(f, "re-check of the data written before", workload_sweep);
	if (!rc)
		rc = front_run(f, "random workload", workload_random);
	if (!rc)
		rc = front_run(f, "re-check of all data written", workload_sweep);
	if (rc == -ECONNRESET)
		front_drain(f);
	rc_close = front_close(f);
	return rc ? rc : rc_close;
}

int main(int argc, char **argv)
{
	struct front f;
	bool passed;
	int rc;

	memset(&f, 0, sizeof(f));
	rc = front_parse_args(&f.opt, argc, argv);
	if (rc)
		return rc > 0 ? 0 : 2;
	rc = front_setup(&f);
	if (!rc)
		rc = front_session(&f);
	if (!rc && f.opt.reconnect) {
		rc = front_set_state(&f, XenbusStateInitialising);
		if (!rc)
			rc = front_session(&f);
	}
	/* Whatever stopped the run must show in the result, even if nothing else counted it. */
	if (rc && fstats_passed(&f.stats, &f.rstats))
		f.stats.stopped++;
	front_teardown(&f);
	fstats_print(&f.stats, &f.rstats, stdout);
	passed = fstats_passed(&f.stats, &f.rstats);
	fstats_free(&f.stats);
	return passed ? 0 : 1;
}
