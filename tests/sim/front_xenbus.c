/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * sim-blkfront's xenbus side, as Linux blkfront walks it: at the backend's InitWait, read the
 * transport limits and decide the ring order, queues and persistent grants; set up the rings
 * and publish them with `protocol`, `feature-persistent` and Initialised in one transaction;
 * at Connected read the disk and the optional features; at the end Closing, wait for the
 * backend, end access, Closed. Also the waits for an online resize and for a backend that
 * must time a stuck frontend out.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xenstore.h>
#include <xen/io/xenbus.h>

#include "blkfront.h"
#include "front_data.h"
#include "sim_guest.h"

#define FRONT_RING_RELEASE_MS 5000u

static bool front_dir_gone(struct front *f, const char *dir)
{
	char *v;

	if (fxs_read(f->xs, dir, "backend-id", &v) && fxs_read(f->xs, dir, "frontend-id", &v))
		return true;
	free(v);
	return false;
}

int front_set_state(struct front *f, int state)
{
	int rc;

	/* After an unplug the toolstack may have removed our directory: leave it gone. */
	if (f->unplugged && front_dir_gone(f, f->opt.fe_dir))
		return 0;
	rc = fxs_write_state(f->xs, f->opt.fe_dir, state);

	if (rc) {
		f->stats.xenbus_errors++;
		ERR("cannot write state %s: %s\n", fxs_state_name(state), strerror(-rc));
	}
	return rc;
}

/* A new incarnation of the guest's driver starts in Initialising, whatever the last one
 * left behind (a kexec'd or rebooted guest finds its old Closed there). */
int front_reset_state(struct front *f)
{
	unsigned long long state = 0;

	if (fxs_read_ull(f->xs, f->opt.fe_dir, "state", &state) == 0 &&
	    state == XenbusStateInitialising)
		return 0;
	return front_set_state(f, XenbusStateInitialising);
}

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

static unsigned long long front_number(struct front *f, const char *key, unsigned long long dflt)
{
	unsigned long long v;

	return fxs_read_ull_or(f->xs, f->be_dir, key, dflt, &v) == 0 ? v : dflt;
}

/* At InitWait, as Linux does: the transport limits, and what we take of them. */
static void front_negotiate(struct front *f)
{
	struct front_offer *o = &f->offer;
	struct front_ask *got = &f->agreed.got;

	o->max_order = front_number(f, "max-ring-page-order", 0);
	o->max_queues = front_number(f, "multi-queue-max-queues", 1);
	o->max_indirect = front_number(f, "feature-max-indirect-segments", 0);
	o->persistent = front_flag(f, "feature-persistent");
	*got = f->ask;
	if (got->order > o->max_order)
		got->order = (unsigned int)o->max_order;
	if (got->queues > o->max_queues)
		got->queues = o->max_queues ? (unsigned int)o->max_queues : 1;
	got->persistent = f->ask.persistent && o->persistent;
	LOG(f, "backend %s is InitWait: max-ring-page-order=%llu multi-queue-max-queues=%llu "
	       "max-indirect-segments=%llu persistent=%d; using order %u, %u queues%s\n",
	    f->be_dir, o->max_order, o->max_queues, o->max_indirect, o->persistent, got->order,
	    got->queues, got->persistent ? ", persistent grants" : "");
}

/* While a workload runs, the backend must stay Connected (it may rewrite the state). */
static int front_backend_changed(void *ctx)
{
	struct front *f = ctx;
	unsigned long long state = 0;

	fxs_drain_watch(f->xs);
	f->state_events++;
	if (fxs_read_ull(f->xs, f->be_dir, "state", &state) == 0 &&
	    state == XenbusStateConnected)
		return 0;
	if (f->opt.expect_unplug) {
		if (!f->unplugged)
			LOG(f, "the backend left Connected: unplugged, as expected\n");
		f->unplugged = true;
		return -ECONNRESET;
	}
	f->stats.xenbus_errors++;
	ERR("backend left Connected during the workload (now %s)\n",
	    fxs_state_name(state > INT_MAX ? -1 : (int)state));
	front_show_backend_error(f);
	return -ECONNRESET;
}

/* Each queue's request pages: an equal share of the data frames. */
static void front_pools(struct front *f, struct fconn_conf *cc)
{
	unsigned int q;

	for (q = 0; q < cc->queues; q++) {
		cc->pool_first[q] = f->data_first + q * f->pool_cap;
		cc->pool_frames[q] = f->pool_cap;
	}
}

static int front_setup_rings(struct front *f)
{
	const struct front_ask *got = &f->agreed.got;
	struct fconn_conf cc = {
		.dom = f->dom,
		.stats = &f->rstats,
		.frame_leaked = f->frame_leaked,
		.order = got->order,
		.queues = got->queues,
		.abi = got->abi,
		.persistent = got->persistent,
		.ring_frames = (f->connections % 2) * f->ring_area,
		.be_domid = f->be_domid,
		.handle = f->devid,
		.aux_fd = xs_fileno(f->xs),
		.aux_cb = front_backend_changed,
		.aux_ctx = f,
		.quiet = f->opt.wl.quiet,
	};
	int rc;

	front_pools(f, &cc);
	rc = fconn_connect(&f->conn, &cc);
	if (rc)
		ERR("cannot set up the rings: %s\n", strerror(-rc));
	return rc;
}

/* One transaction, as blkif.h asks: the backend sees all of it together with Initialised.
 * Keys of an earlier connection that this one does not use go in the same transaction. */
static int front_publish(struct front *f)
{
	const char *rm[64];
	struct fxs_kv *kv;
	unsigned int n, n_rm = 0, i;
	char state[4];
	int rc;

	rc = fconn_keys(&f->conn, &kv, &n);
	if (rc)
		return rc;
	for (i = 0; i < fconn_nr_stale_keys; i++)
		rm[n_rm++] = fconn_stale_keys[i];
	if (f->agreed.got.protocol)
		kv[n++] = (struct fxs_kv){ "protocol", fabi_protocol(f->agreed.got.abi) };
	else
		rm[n_rm++] = "protocol";
	kv[n++] = (struct fxs_kv){ "feature-persistent", f->ask.persistent ? "1" : "0" };
	snprintf(state, sizeof(state), "%d", XenbusStateInitialised);
	kv[n++] = (struct fxs_kv){ "state", state };
	rc = fxs_update_tx(f->xs, f->opt.fe_dir, rm, n_rm, kv, n);
	free(kv);
	if (rc) {
		f->stats.xenbus_errors++;
		ERR("cannot publish the rings: %s\n", strerror(-rc));
	}
	return rc;
}

static void front_read_features(struct front *f, struct wl_disk *d)
{
	unsigned long long indirect = front_number(f, "feature-max-indirect-segments", 0);

	d->flush = front_flag(f, "feature-flush-cache");
	d->barrier = front_flag(f, "feature-barrier");
	d->discard = front_flag(f, "feature-discard");
	d->discard_secure = d->discard && front_flag(f, "discard-secure");
	d->discard_granularity = (uint32_t)front_number(f, "discard-granularity", 0);
	d->discard_alignment = (uint32_t)front_number(f, "discard-alignment", 0);
	/* As Linux: indirect segments are read at Connected, and fewer than a direct request
	 * holds means no indirect requests. */
	if (indirect > f->ask.indirect)
		indirect = f->ask.indirect;
	f->agreed.got.indirect = indirect > FRING_DIRECT_SEGS ? (unsigned int)indirect : 0;
	d->max_segs = f->agreed.got.indirect ? f->agreed.got.indirect : FRING_DIRECT_SEGS;
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
	memset(d, 0, sizeof(*d));
	d->sectors = sectors;
	d->sector_size = ss <= UINT_MAX ? (unsigned int)ss : 0;
	d->readonly = (info & VDISK_READONLY) != 0;
	front_read_features(f, d);
	f->agreed.info = info;
	f->agreed.physical_sector_size = pss;
	LOG(f, "backend is Connected: sectors=%llu sector-size=%llu physical-sector-size=%llu "
	       "info=%#llx flush=%d barrier=%d discard=%d secure=%d indirect=%u\n",
	    sectors, ss, pss, info, d->flush, d->barrier, d->discard, d->discard_secure,
	    f->agreed.got.indirect);
	return 0;
}

static int front_check_readonly(struct front *f, const struct wl_disk *d)
{
	if (!f->opt.wl.expect_readonly || d->readonly)
		return 0;
	f->stats.xenbus_errors++;
	ERR("the disk should be read-only, but `info` (%#llx) lacks VDISK_READONLY\n",
	    f->agreed.info);
	return -EINVAL;
}

static int front_start_workload(struct front *f, const struct wl_disk *d)
{
	int rc = front_check_readonly(f, d);

	if (!rc && !f->wl)
		rc = workload_create(&f->opt.wl, f->dom, &f->stats, &f->wl);
	if (!rc)
		rc = workload_attach(f->wl, &f->conn, d);
	if (rc) {
		f->stats.xenbus_errors++;
		ERR("cannot run a workload on this disk (%llu sectors of %u bytes; it may not "
		    "shrink or change its sector size across connections): %s\n",
		    (unsigned long long)d->sectors, d->sector_size, strerror(-rc));
		return rc;
	}
	f->disk = *d;
	return 0;
}

int front_connect(struct front *f)
{
	struct wl_disk disk;
	int state, rc;

	rc = front_wait_backend(f, FXS_STATE(XenbusStateInitWait), FXS_STATE(XenbusStateClosing),
				"InitWait", &state);
	if (rc)
		return rc;
	front_negotiate(f);
	rc = front_setup_rings(f);
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
	f->state_events = 0;
	return rc;
}

/* ---- close ---- */

/* The ring was not freed before we went Closed: was it freed once the backend was Closed? */
static void front_check_ring_freed(struct front *f)
{
	int tries = 1000;

	while (fconn_retry_ring_release(&f->conn) == -EBUSY && --tries)
		usleep(1000);
	if (tries) {
		LOG(f, "warning: the backend unmapped the ring only after it was Closed\n");
		return;
	}
	f->rstats.grant_errors++;
	ERR("the backend never unmapped a ring page\n");
}

static uint64_t front_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* --stay-closing: we never go Closed; the backend must give up on us and go Closed. */
static int front_wait_timed_out(struct front *f)
{
	uint64_t start = front_now_ms();
	int state, rc;

	rc = front_wait_backend(f, FXS_STATE(XenbusStateClosed), 0, "Closed (closing timeout)",
				&state);
	f->closing_ms = front_now_ms() - start;
	LOG(f, "the backend went Closed %llu ms after it reached Closing\n",
	    (unsigned long long)f->closing_ms);
	return rc;
}

/* Closing -> backend Closing or Closed -> end ring access, close the event channels ->
 * Closed -> backend Closed. Requests still in flight complete as aborted through `done`. */
int front_close_with(struct front *f, fring_done_fn *done, void *ctx)
{
	/* Once unplugged, the toolstack removes the backend as soon as it is Closed. */
	unsigned int gone = f->unplugged ? FXS_STATE(XenbusStateUnknown) : 0;
	int state, rc, rc_ring;

	/* What the backend keeps mapped while connected, before closing makes it let go. */
	f->rstats.pgnt.mapped_connected = fconn_count_mapped(&f->conn);
	rc = front_set_state(f, XenbusStateClosing);
	if (!rc)
		rc = front_wait_backend(f, FXS_STATE(XenbusStateClosing) |
					FXS_STATE(XenbusStateClosed) | gone, 0, "Closing", &state);
	if (!rc && f->opt.stay_closing)
		rc = front_wait_timed_out(f);
	/* A backend that says Closing has drained and unmapped: ending access must work. One
	 * that never got there (already reported) is not waited for. */
	rc_ring = fconn_disconnect(&f->conn, rc ? 0 : FRONT_RING_RELEASE_MS, done, ctx);
	if (rc_ring && rc_ring != -EBUSY) {
		f->stats.xenbus_errors++;
		ERR("cannot close an event channel: %s\n", strerror(-rc_ring));
	}
	if (!rc)
		rc = front_set_state(f, XenbusStateClosed);
	if (!rc)
		rc = front_wait_backend(f, FXS_STATE(XenbusStateClosed) | gone, 0, "Closed",
					&state);
	if (rc_ring == -EBUSY && !rc)
		front_check_ring_freed(f);
	else if (rc_ring == -EBUSY)
		LOG(f, "the unresponsive backend still maps a ring page\n");
	/* Persistent grants too must all be unmapped now that the backend is Closed. */
	fconn_release_persistent(&f->conn, rc ? 0 : FRONT_RING_RELEASE_MS);
	fconn_free(&f->conn);
	LOG(f, "closed%s\n", rc ? " (not cleanly)" : "");
	return rc;
}

int front_close(struct front *f)
{
	return front_close_with(f, workload_complete, f->wl);
}

/* --hang: a guest that stopped responding. The backend, told to close by the toolstack,
 * must give up on us after its closing timeout: unmap everything and go Closed. */
int front_hang(struct front *f)
{
	unsigned int done = FXS_STATE(XenbusStateClosed) | FXS_STATE(XenbusStateUnknown);
	uint64_t start;
	int state, rc, rc_ring;

	f->rstats.pgnt.mapped_connected = fconn_count_mapped(&f->conn);
	/* Unconditional: the test waits for this line before it unplugs the disk. */
	fprintf(stderr, "sim-blkfront: hanging\n");
	rc = front_wait_backend(f, FXS_STATE(XenbusStateClosing) | done, 0, "Closing", &state);
	start = front_now_ms();
	if (!rc)
		rc = front_wait_backend(f, done, 0, "Closed (closing timeout)", &state);
	f->closing_ms = front_now_ms() - start;
	f->unplugged = true;
	/* Closed or removed: it must have let go of every page, so ending access works. */
	rc_ring = fconn_disconnect(&f->conn, rc ? 0 : FRONT_RING_RELEASE_MS, workload_complete,
				   f->wl);
	if (rc_ring == -EBUSY) {
		f->rstats.grant_errors++;
		ERR("the backend closed but still maps a ring page\n");
	}
	fconn_release_persistent(&f->conn, rc ? 0 : FRONT_RING_RELEASE_MS);
	fconn_free(&f->conn);
	front_set_state(f, XenbusStateClosed);
	return rc;
}

/* A connection that never reached Connected: drop the rings without the close handshake. */
void front_abandon(struct front *f)
{
	fconn_disconnect(&f->conn, 100, workload_complete, f->wl);
	fconn_release_persistent(&f->conn, 100);
	fconn_free(&f->conn);
}

/* ---- online resize ---- */

static int front_poll_watch(struct front *f, uint64_t deadline)
{
	struct pollfd pfd = { .fd = xs_fileno(f->xs), .events = POLLIN };
	uint64_t now = front_now_ms();
	int rc;

	if (now >= deadline)
		return -ETIMEDOUT;
	rc = poll(&pfd, 1, (int)(deadline - now));
	if (rc < 0)
		return errno == EINTR ? 0 : -errno;
	if (rc == 0)
		return -ETIMEDOUT;
	return front_backend_changed(f);
}

/* Wait, on the backend's state watch only, for `sectors` to grow: the backend must rewrite
 * its state after writing the new size, or we never look. */
int front_wait_resize(struct front *f)
{
	uint64_t deadline = front_now_ms() + f->opt.wl.timeout_ms;
	unsigned long long sectors = 0;
	int rc = 0;

	f->resize_from = f->disk.sectors;
	/* From here on, only a state write the backend makes for the resize wakes us.
	 * Unconditional: a test waits for this line before it grows the image. */
	fxs_drain_watch(f->xs);
	f->state_events = 0;
	fprintf(stderr, "sim-blkfront: waiting for the disk to grow\n");
	while (!rc) {
		if (fxs_read_ull(f->xs, f->be_dir, "sectors", &sectors) == 0 &&
		    sectors > f->disk.sectors)
			break;
		rc = front_poll_watch(f, deadline);
	}
	if (rc) {
		f->stats.timeouts++;
		ERR("the disk did not grow within %u s (sectors %llu, %lu state events)\n",
		    f->opt.timeout_s, (unsigned long long)f->disk.sectors, f->state_events);
		return rc;
	}
	f->resize_to = sectors;
	LOG(f, "the disk grew from %llu to %llu sectors (%lu state events)\n",
	    (unsigned long long)f->disk.sectors, sectors, f->state_events);
	rc = workload_resize(f->wl, sectors);
	if (!rc)
		f->disk.sectors = sectors;
	return rc;
}

/* An optional operation refused with EOPNOTSUPP must also be turned off in xenstore. */
int front_check_eopnotsupp(struct front *f)
{
	static const char *const keys[] = { "feature-flush-cache", "feature-barrier",
					    "feature-discard" };
	unsigned int mask = f->wl ? workload_eopnotsupp(f->wl) : 0, i;
	int rc = 0;

	for (i = 0; i < 3; i++) {
		if (!(mask & (1u << i)) || !front_flag(f, keys[i]))
			continue;
		f->stats.xenbus_errors++;
		ERR("the backend answered EOPNOTSUPP but still offers %s\n", keys[i]);
		rc = -EPROTO;
	}
	return rc;
}
