/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What workload.c (issuing, completion, verification) and wl_plan.c (the request streams)
 * share: the workload object, one planned request, and the random generator. Not for other
 * users; they have workload.h.
 */
#ifndef XBD_SIM_WL_INTERNAL_H
#define XBD_SIM_WL_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "front_data.h"
#include "workload.h"

#define WL_MAX_SPAN (1ull << 22) /* 2 GiB of 512-byte sectors: 28 MiB of tables */
#define WL_HOT_SECTORS 2048u /* half of all random requests go to the first 1 MiB */
#define WL_SWEEP_MAX_SECTORS 2048u /* a sweep reads at most 1 MiB per request */
#define WL_FILL_MAX_SECTORS (1u << 16) /* workload_fill writes at most 32 MiB */

struct wl_rng {
	uint64_t s[4];
};

enum wl_expect {
	WL_EXPECT_OKAY,
	WL_EXPECT_ERROR, /* BLKIF_RSP_ERROR is the right answer */
};

struct wl_seg {
	uint8_t first, last; /* 512-byte sectors of the page, inclusive */
};

/* One request as a stream decided it, before it has pages. */
struct wl_plan {
	uint8_t op;
	uint8_t flag; /* discard: BLKIF_DISCARD_SECURE */
	uint8_t expect; /* enum wl_expect */
	bool sweep;
	uint16_t nr_segs;
	uint32_t gen; /* of a request that writes data */
	uint64_t sector;
	uint64_t nsect; /* sectors covered: 0 for a flush or barrier without data */
	struct wl_seg *seg; /* nr_segs entries */
};

/* One request in flight. */
struct wl_io {
	bool busy;
	unsigned int queue;
	struct wl_plan plan;
	unsigned int seg_cap;
	struct fring_seg *fseg;
	uint64_t t_submit;
};

/* The free request pages of one queue. */
struct wl_pool {
	uint32_t *free;
	unsigned int nr_free;
};

typedef int wl_next_fn(struct workload *wl, struct wl_plan *p);

struct workload {
	struct wl_config cfg;
	struct wl_disk disk;
	struct sim_domain *dom;
	struct fstats *stats;
	struct fconn *conn;
	struct wl_rng plan_rng; /* the request streams: the seed alone decides them */
	struct wl_rng aux_rng; /* page placement and batching */
	unsigned int unit; /* sector-size in 512-byte sectors */
	uint64_t span; /* sectors in use: a multiple of a page */
	uint64_t hot;
	uint64_t tables; /* sectors the tables below cover */
	uint32_t *shadow; /* per sector: the generation of the last completed write */
	int ack_fd; /* --ack-log, or -1 */
	uint8_t *writing; /* per sector: a write or discard over it is in flight */
	uint16_t *reading; /* per sector: reads over it in flight */
	uint32_t next_gen;
	struct wl_pool pool[FCONN_MAX_QUEUES];
	unsigned int nr_queues;
	unsigned int next_queue;
	struct wl_io *io;
	unsigned int nr_io;
	unsigned int depth; /* of the current connection */
	unsigned int inflight;
	unsigned long submitted; /* over the whole run */
	unsigned int eopnotsupp;
	/* The current stream. */
	wl_next_fn *next;
	unsigned long random_left;
	uint64_t cursor; /* sweep, fill, trim, sequential benchmark */
	uint64_t cursor_end;
	unsigned int probe_step;
	uint64_t deadline_ns; /* benchmark */
	bool pend_valid;
	bool source_done;
	struct wl_plan pend;
	uint64_t last_progress;
};

/* workload.c: in-flight bookkeeping, also undone at completion */
void wl_mark(struct workload *wl, const struct wl_plan *p, bool in_flight);
void wl_return_frames(struct workload *wl, unsigned int q, const struct fring_req *req);

/* wl_plan.c */
void wl_seed(struct wl_rng *g, uint64_t seed);
uint64_t wl_rand(struct wl_rng *g, uint64_t n);
uint64_t wl_now_ns(void);
bool wl_plan_writes_data(const struct wl_plan *p);
bool wl_plan_changes_disk(const struct wl_plan *p); /* writes data or discards */
/* Discard granularity and alignment in 512-byte sectors, in whole disk sectors. */
uint64_t wl_discard_gran(const struct workload *wl);
uint64_t wl_discard_align(const struct workload *wl);
wl_next_fn wl_next_random;
wl_next_fn wl_next_sweep;
wl_next_fn wl_next_none;
wl_next_fn wl_next_probe;
wl_next_fn wl_next_fill;
wl_next_fn wl_next_trim;
wl_next_fn wl_next_bench;

#endif
