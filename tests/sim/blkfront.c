/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * sim-blkfront: a guest's xen-blkfront on the simulated Xen platform, so that xenblkd is
 * tested end to end without Xen. It walks the xenbus handshake as Linux blkfront does
 * (front_xenbus.c), over one or more queues of multi-page rings in any of the three ABIs, with
 * indirect requests and persistent grants when asked to and offered; runs a verified workload
 * (workload.c); closes cleanly, and with --reconnect goes back to Initialising and does it all
 * again, checking the data written before. Other modes walk a matrix of configurations or
 * measure throughput (front_modes.c). It links nothing from src/: the simulated guest kernel
 * is tests/sim/sim_guest.c, and requests are laid out by our own reading of blkif.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xenstore.h>
#include <xen/io/xenbus.h>

#include "blkfront.h"
#include "front_data.h"
#include "front_hostile.h"
#include "guest_xen.h"
#include "sim_guest.h"

#define FRONT_MAX_FRAMES (1u << 16) /* 256 MiB of guest memory at most */
#define FRONT_MAX_MATRIX_QUEUES 4u

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

/*
 * Request pages per queue. As Linux sizes its grant lists: a ring's worth of requests (up
 * to 128 of them) of up to 11 pages, but always room for the largest request. With
 * --persistent-pool the test sets the working set itself. A benchmark gets room for its
 * --depth requests of --bs bytes on each queue, so that the pages never cap the depth (a
 * 1 MiB request takes 258 pages: Linux's sizing would keep one in flight).
 */
static uint32_t front_pool_size(const struct front_opts *o, unsigned int order,
				unsigned int queues)
{
	unsigned int max_segs = o->wl.max_segs;
	uint32_t need = max_segs + fring_indirect_pages(max_segs) + 1;
	uint32_t slots = FRING_SLOTS << order, per;

	per = (slots < 128 ? slots : 128) * FRING_DIRECT_SEGS;
	if (o->persistent_pool)
		per = o->persistent_pool;
	if (o->bench && o->wl.depth && !o->persistent_pool) {
		uint32_t segs = (o->wl.bs + 4095) / 4096;
		uint32_t depth = (o->wl.depth + queues - 1) / queues;
		uint32_t bench = depth * (segs + fring_indirect_pages(segs) + 1);

		per = per > bench ? per : bench;
	}
	return per > need ? per : need;
}

/* The guest's memory: two sets of ring pages (a fresh set for each connection in turn,
 * so a backend still holding the old ring cannot touch the new one), then request pages. */
static int front_size_memory(struct front *f, unsigned int *frames)
{
	const struct front_opts *o = &f->opt;
	unsigned int order = o->matrix ? FRING_MAX_ORDER : o->ring_order;
	unsigned int queues = o->matrix ? FRONT_MAX_MATRIX_QUEUES : o->queues;
	uint64_t total;

	f->ring_area = queues << order;
	f->data_first = 2 * f->ring_area;
	f->pool_cap = front_pool_size(o, order, queues);
	total = f->data_first + (uint64_t)queues * f->pool_cap;
	f->hostile_first = (uint32_t)total;
	if (o->attack)
		total += FHOSTILE_FRAMES;
	if (total > FRONT_MAX_FRAMES) {
		ERR("%llu pages of guest memory needed; lower --queues, --indirect, --depth or "
		    "--persistent-pool\n", (unsigned long long)total);
		return -E2BIG;
	}
	*frames = (unsigned int)total;
	return 0;
}

/* --xen real: the same frames, shared with the backend's domain through gntalloc. */
static int front_make_xen_domain(struct front *f, unsigned int frames)
{
	struct xen_guest_conf c = {
		.domid = f->domid,
		.be_domid = f->be_domid,
		.nr_frames = frames,
		.ring_frames = f->data_first,
		.ring_pages = 1u << f->opt.ring_order,
		.notify_offset = f->opt.unmap_notify,
	};
	int rc = sim_domain_create_xen(&c, &f->dom);

	if (rc)
		ERR("cannot share %u pages with domain %u through gntalloc (/dev/xen/gntalloc, "
		    "its `limit` parameter): %s\n", frames, f->be_domid, strerror(-rc));
	return rc;
}

static int front_make_domain(struct front *f)
{
	unsigned int frames, grants;
	int rc = front_size_memory(f, &frames);

	if (rc)
		return rc;
	grants = frames + 64;
	f->frame_leaked = calloc(frames, 1);
	f->rstats.pgnt.ref_seen = calloc(grants, 1);
	f->rstats.pgnt.nr_refs = grants;
	if (!f->frame_leaked || !f->rstats.pgnt.ref_seen)
		return -ENOMEM;
	if (f->opt.real_xen)
		return front_make_xen_domain(f, frames);
	rc = sim_domain_create(f->opt.sim_dir, f->domid, grants, frames, &f->dom);
	if (rc)
		ERR("cannot create simulated domain %u in %s: %s\n", f->domid, f->opt.sim_dir,
		    strerror(-rc));
	return rc;
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
	rc = front_make_domain(f);
	if (!rc)
		rc = front_reset_state(f);
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
	free(f->frame_leaked);
	free(f->rstats.pgnt.ref_seen);
}

/* ---- one session ---- */

int front_run(struct front *f, const char *what, int (*run)(struct workload *wl))
{
	uint64_t busy = f->stats.busy_ns;
	size_t done = f->stats.nr_lat;
	int rc;

	rc = run(f->wl);
	LOG(f, "%s: %zu requests in %.3f s%s%s\n", what, f->stats.nr_lat - done,
	    (double)(f->stats.busy_ns - busy) / 1e9, rc ? ", stopped: " : "",
	    rc ? strerror(-rc) : "");
	/* Stopping for an expected unplug, or to die, is no failure. */
	if (rc && rc != -ECANCELED && !(rc == -ECONNRESET && f->unplugged))
		f->stats.stopped++;
	return rc;
}

/* The backend left Connected under us (a toolstack detach): it must still answer what it
 * took, so wait for that before closing, instead of revoking grants it may be copying. */
static void front_drain(struct front *f)
{
	int (*aux_cb)(void *aux_ctx) = f->conn.conf.aux_cb;

	f->conn.conf.aux_cb = NULL; /* its state changes are expected now */
	front_run(f, "wait for the requests in flight", workload_drain);
	f->conn.conf.aux_cb = aux_cb;
}

static int front_resize_phase(struct front *f)
{
	uint64_t old_span = workload_span(f->wl);
	int rc = front_wait_resize(f);

	if (!rc && workload_span(f->wl) <= old_span) {
		f->stats.xenbus_errors++;
		ERR("the disk grew, but not the part this run may use (--span?)\n");
		rc = -EINVAL;
	}
	if (rc)
		return rc;
	/* Write the new area; the sweep afterwards reads it back with everything else. */
	rc = workload_fill(f->wl, old_span);
	LOG(f, "write of the new area from sector %llu%s%s\n", (unsigned long long)old_span,
	    rc ? ": " : "", rc ? strerror(-rc) : "");
	if (rc)
		f->stats.stopped++;
	return rc;
}

/* --dump: the span, as the backend serves it, into the file (front_run passes only the
 * workload). */
static const char *front_dump_path;

static int front_dump(struct workload *wl)
{
	int fd = open(front_dump_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int rc;

	if (fd < 0)
		return -errno;
	rc = workload_dump(wl, fd);
	if (close(fd) && !rc)
		rc = -EIO;
	return rc;
}

static int front_workloads(struct front *f)
{
	int rc = 0;

	if (f->opt.dump) {
		front_dump_path = f->opt.dump;
		return front_run(f, "dump of the span", front_dump);
	}

	if (f->connections > 1)
		rc = front_run(f, "re-check of the data written before", workload_sweep);
	if (!rc && f->disk.sector_size > FDATA_SECTOR)
		rc = front_run(f, "requests not aligned to the sector size",
			       workload_probe_misaligned);
	if (!rc)
		rc = front_run(f, "random workload", workload_random);
	if (!rc && f->opt.expect_resize && f->connections == 1)
		rc = front_resize_phase(f);
	if (!rc)
		rc = front_run(f, "re-check of all data written", workload_sweep);
	if (!rc && f->opt.trim_at_end)
		rc = front_run(f, "discard of the whole span", workload_trim_all);
	return rc;
}

int front_session(struct front *f)
{
	int rc, rc_close;

	rc = front_connect(f);
	if (rc) {
		front_abandon(f);
		return rc;
	}
	rc = front_workloads(f);
	if (rc == -ECANCELED)
		return rc; /* --die-after: the caller dies right here */
	if (rc == -ECONNRESET)
		front_drain(f);
	if (rc == -ECONNRESET && f->unplugged)
		rc = 0;
	if (!rc && f->opt.hang)
		return front_hang(f);
	if (f->opt.expect_unplug && !f->unplugged) {
		f->stats.xenbus_errors++;
		ERR("the disk was never unplugged during the workload\n");
	}
	front_check_eopnotsupp(f);
	rc_close = front_close(f);
	return rc ? rc : rc_close;
}

static int front_main_run(struct front *f)
{
	int rc;

	if (f->opt.attack)
		return fhostile_run(f);
	if (f->opt.discard_flood >= 0)
		return front_discard_flood(f);
	if (f->opt.matrix)
		return front_matrix(f);
	if (f->opt.bench)
		return front_bench(f);
	rc = front_session(f);
	if (!rc && f->opt.reconnect) {
		rc = front_set_state(f, XenbusStateInitialising);
		if (!rc)
			rc = front_session(f);
	}
	return rc;
}

/* --die-after: the guest is gone in an instant, its grants, rings and ports left behind. */
static void front_die(struct front *f)
{
	unsigned int q, inflight = 0;

	for (q = 0; q < f->conn.nr_rings; q++)
		inflight += f->conn.ring[q].inflight;
	printf("died: after_requests=%lu inflight=%u\n", f->opt.wl.die_after, inflight);
	front_print_summary(f, stdout);
	fflush(stdout);
	fflush(stderr);
	_exit(fstats_passed(&f->stats, &f->rstats) ? 0 : 1);
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
	f.ask = (struct front_ask){ .order = f.opt.ring_order, .queues = f.opt.queues,
				    .abi = f.opt.abi, .protocol = !f.opt.no_protocol,
				    .indirect = f.opt.indirect, .persistent = f.opt.persistent };
	rc = front_setup(&f);
	if (!rc)
		rc = front_main_run(&f);
	if (rc == -ECANCELED)
		front_die(&f);
	/* Whatever stopped the run must show in the result, even if nothing else counted it. */
	if (rc && fstats_passed(&f.stats, &f.rstats))
		f.stats.stopped++;
	front_teardown(&f);
	front_print_summary(&f, stdout);
	passed = fstats_passed(&f.stats, &f.rstats);
	fstats_free(&f.stats);
	return passed ? 0 : 1;
}
