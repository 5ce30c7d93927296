/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the parts of sim-blkfront share: its options (front_opts.c), the frontend object, the
 * xenbus handshake and close (front_xenbus.c), one session and the run modes (blkfront.c,
 * front_modes.c, front_flood.c). Internal to the program.
 */
#ifndef XBD_SIM_BLKFRONT_H
#define XBD_SIM_BLKFRONT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "front_conn.h"
#include "front_stats.h"
#include "workload.h"

struct front_opts {
	const char *fe_dir;
	const char *sim_dir;
	bool real_xen; /* --xen real: guest_xen.c instead of the simulated platform */
	int unmap_notify; /* --unmap-notify: the ring page's byte gntalloc zeroes; -1 none */
	long domid; /* -1: from the frontend path */
	unsigned int timeout_s;
	bool reconnect;
	unsigned int ring_order; /* asked for; the backend's maximum may lower it */
	unsigned int queues;
	enum fabi abi;
	bool no_protocol; /* leave `protocol` out: native, as a backend must assume */
	unsigned int indirect; /* most segments per request asked for; 0: direct only */
	bool persistent;
	unsigned int persistent_pool; /* pages per queue kept granted; 0: as Linux sizes it */
	bool expect_resize;
	bool stay_closing; /* at close, never go Closed: the backend must time us out */
	bool hang; /* after the workload, ignore the backend until it gives up on us */
	bool expect_unplug; /* the toolstack unplugs the disk during the workload */
	bool trim_at_end;
	bool matrix;
	unsigned long matrix_requests;
	bool bench;
	const char *attack; /* --attack: the hostile mode (front_hostile.h) */
	long watch_pid; /* --watch-pid: the backend process whose CPU time attacks report */
	unsigned int full_min_rings; /* ring-full-forever: rings answered in 2 s for "served" */
	long discard_flood; /* --discard-flood N: -1 off, 0 until the backend closes */
	uint64_t discard_sectors; /* --discard-sectors: each flood discard's length; 0 the disk */
	const char *dump; /* --dump FILE: read the span into FILE instead of the workload */
	struct wl_config wl;
};

/* What one connection asks for. */
struct front_ask {
	unsigned int order;
	unsigned int queues;
	enum fabi abi;
	bool protocol; /* write the `protocol` key */
	unsigned int indirect;
	bool persistent;
};

/* What the backend offered at InitWait. */
struct front_offer {
	unsigned long long max_order;
	unsigned long long max_queues; /* 1 when absent */
	unsigned long long max_indirect; /* 0 when absent */
	bool persistent;
};

/* What was agreed and published, for the summary. */
struct front_agreed {
	struct front_ask got;
	unsigned long long physical_sector_size;
	unsigned long long info;
};

struct front {
	struct front_opts opt;
	struct xs_handle *xs;
	char *be_dir;
	uint16_t domid;
	uint16_t be_domid;
	uint16_t devid;
	struct sim_domain *dom;
	uint32_t ring_area; /* frames per connection's rings */
	uint32_t data_first;
	uint32_t pool_cap; /* most request pages a queue gets */
	uint32_t hostile_first; /* --attack: the attacker's own FHOSTILE_FRAMES pages */
	uint8_t *frame_leaked;
	struct fconn conn;
	struct fring_stats rstats;
	struct fstats stats;
	struct wl_disk disk;
	struct workload *wl;
	struct front_ask ask;
	struct front_offer offer;
	struct front_agreed agreed;
	unsigned int connections; /* made so far */
	unsigned long state_events; /* backend state watch firings since Connected */
	uint64_t resize_from, resize_to;
	uint64_t closing_ms; /* --stay-closing, --hang: how long the backend took to close */
	bool unplugged; /* the backend left Connected under us, as --expect-unplug said */
	unsigned long matrix_configs;
	unsigned long matrix_clamped; /* configurations the backend gave less than asked */
	uint64_t bench_ns;
	uint64_t bench_inflight_area; /* request-nanoseconds in flight during the run */
	unsigned long bench_requests;
	unsigned int bench_depth;
	bool watching;
};

#define LOG(f, ...)                                                                              \
	do {                                                                                     \
		if (!(f)->opt.wl.quiet)                                                          \
			fprintf(stderr, "sim-blkfront: " __VA_ARGS__);                           \
	} while (0)
#define ERR(...) fprintf(stderr, "sim-blkfront: " __VA_ARGS__)

/* front_opts.c: 0 to run, 1 after --help, -EINVAL on bad usage. */
int front_parse_args(struct front_opts *o, int argc, char **argv);

/* front_xenbus.c */
int front_set_state(struct front *f, int state);
int front_reset_state(struct front *f);
int front_connect(struct front *f);
int front_close(struct front *f);
int front_close_with(struct front *f, fring_done_fn *done, void *ctx);
void front_abandon(struct front *f);
int front_wait_resize(struct front *f);
int front_check_eopnotsupp(struct front *f);
int front_hang(struct front *f);

/* blkfront.c */
int front_run(struct front *f, const char *what, int (*run)(struct workload *wl));
int front_session(struct front *f);

/* front_flood.c */
int front_discard_flood(struct front *f);

/* front_modes.c */
int front_matrix(struct front *f);
int front_bench(struct front *f);
void front_print_summary(struct front *f, FILE *out);

#endif
