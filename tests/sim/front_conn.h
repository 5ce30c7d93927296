/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One connection of the simulated blkfront to its backend: one front ring per queue
 * (front_ring.h), the xenstore keys that describe them (`ring-ref` or `ring-page-order` and
 * `ring-refN`, `event-channel`, and with several queues `multi-queue-num-queues` and the same
 * keys under `queue-N/`, as blkif.h and Linux blkfront lay them out), and waiting for any of
 * the rings' event channels. Each queue has its own frames: its ring pages and the pool its
 * requests' pages come from.
 */
#ifndef XBD_SIM_FRONT_CONN_H
#define XBD_SIM_FRONT_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include "front_ring.h"
#include "front_xs.h"

#define FCONN_MAX_QUEUES 16u

struct fconn_conf {
	struct sim_domain *dom;
	struct fring_stats *stats;
	uint8_t *frame_leaked;
	unsigned int order;
	unsigned int queues;
	enum fabi abi;
	bool persistent;
	uint32_t ring_frames; /* queues << order frames for the rings, queue after queue */
	uint32_t pool_first[FCONN_MAX_QUEUES]; /* each queue's request pages */
	uint32_t pool_frames[FCONN_MAX_QUEUES];
	uint16_t be_domid;
	uint16_t handle;
	int aux_fd; /* another fd to watch while waiting (the xenstore watch), or -1 */
	int (*aux_cb)(void *aux_ctx); /* 0 to go on waiting, -errno to stop */
	void *aux_ctx;
	bool quiet;
};

struct fconn_key {
	char key[40];
	char value[24];
};

struct fconn {
	struct fconn_conf conf;
	struct fring ring[FCONN_MAX_QUEUES];
	unsigned int nr_rings; /* connected so far */
	struct fconn_key *keys;
	unsigned int nr_keys;
};

int fconn_connect(struct fconn *c, const struct fconn_conf *conf);
/* The transport keys to publish (not `protocol`, `feature-persistent` or `state`), in a
 * malloc'ed array with room for FCONN_SPARE_KEYS more that the caller may append. */
#define FCONN_SPARE_KEYS 4u
int fconn_keys(struct fconn *c, struct fxs_kv **kv, unsigned int *n);
/* Keys a previous connection may have left behind that this one must remove. */
extern const char *const fconn_stale_keys[];
extern const unsigned int fconn_nr_stale_keys;

int fconn_kick(struct fconn *c);
/* Reap every ring; the number completed or -EPROTO. */
int fconn_reap(struct fconn *c, fring_done_fn *done, void *ctx);
/* Wait up to timeout_ms for any ring's event (or the aux fd). 0 when something may have
 * arrived; -ETIMEDOUT when nothing did; a -errno from aux_cb. Call only after fconn_reap(). */
int fconn_wait(struct fconn *c, int timeout_ms);
/* fring_disconnect() on every ring; -EBUSY if a ring page stayed mapped. */
int fconn_disconnect(struct fconn *c, unsigned int timeout_ms, fring_done_fn *done, void *ctx);
int fconn_retry_ring_release(struct fconn *c);
/* Persistent grants the backend maps right now, over all rings. */
unsigned int fconn_count_mapped(struct fconn *c);
void fconn_release_persistent(struct fconn *c, unsigned int timeout_ms);
void fconn_free(struct fconn *c);

#endif
