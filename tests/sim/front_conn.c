/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One connection of the simulated blkfront (front_conn.h): the rings of all queues, their
 * xenstore keys, and one wait over all their event channels. The simulated guest kernel has
 * one pollable fd for all of a domain's ports; each pending port is credited to its ring.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "front_conn.h"
#include "sim_guest.h"

const char *const fconn_stale_keys[] = {
	"ring-ref", "ring-page-order", "event-channel", "multi-queue-num-queues",
	"ring-ref0", "ring-ref1", "ring-ref2", "ring-ref3", "ring-ref4", "ring-ref5",
	"ring-ref6", "ring-ref7", "ring-ref8", "ring-ref9", "ring-ref10", "ring-ref11",
	"ring-ref12", "ring-ref13", "ring-ref14", "ring-ref15",
	"queue-0", "queue-1", "queue-2", "queue-3", "queue-4", "queue-5", "queue-6", "queue-7",
	"queue-8", "queue-9", "queue-10", "queue-11", "queue-12", "queue-13", "queue-14",
	"queue-15",
};
const unsigned int fconn_nr_stale_keys = sizeof(fconn_stale_keys) / sizeof(fconn_stale_keys[0]);

int fconn_connect(struct fconn *c, const struct fconn_conf *conf)
{
	unsigned int q;
	int rc;

	memset(c, 0, sizeof(*c));
	c->conf = *conf;
	if (conf->queues < 1 || conf->queues > FCONN_MAX_QUEUES || conf->order > FRING_MAX_ORDER)
		return -EINVAL;
	for (q = 0; q < conf->queues; q++) {
		struct fring_conf rc_conf = {
			.dom = conf->dom,
			.stats = conf->stats,
			.frame_leaked = conf->frame_leaked,
			.ring_frame = conf->ring_frames + (q << conf->order),
			.order = conf->order,
			.abi = conf->abi,
			.persistent = conf->persistent,
			.pool_first = conf->pool_first[q],
			.pool_frames = conf->pool_frames[q],
			.be_domid = conf->be_domid,
			.handle = conf->handle,
			.queue = q,
			.quiet = conf->quiet,
		};

		rc = fring_connect(&c->ring[q], &rc_conf);
		c->nr_rings = q + 1; /* a half-made ring is torn down too */
		if (rc)
			return rc;
	}
	return 0;
}

static struct fconn_key *fconn_add(struct fconn *c, const char *prefix, const char *key)
{
	struct fconn_key *k = &c->keys[c->nr_keys++];

	snprintf(k->key, sizeof(k->key), "%s%s", prefix, key);
	return k;
}

/* One ring's keys, under `prefix` ("" for a single queue, "queue-N/" otherwise). */
static void fconn_ring_keys(struct fconn *c, const struct fring *r, const char *prefix)
{
	unsigned int i, pages = 1u << c->conf.order;
	char name[24];

	if (pages == 1) {
		snprintf(fconn_add(c, prefix, "ring-ref")->value, sizeof(c->keys[0].value), "%u",
			 r->ring_ref[0]);
	} else {
		for (i = 0; i < pages; i++) {
			snprintf(name, sizeof(name), "ring-ref%u", i);
			snprintf(fconn_add(c, prefix, name)->value, sizeof(c->keys[0].value), "%u",
				 r->ring_ref[i]);
		}
	}
	snprintf(fconn_add(c, prefix, "event-channel")->value, sizeof(c->keys[0].value), "%u",
		 r->port);
}

int fconn_keys(struct fconn *c, struct fxs_kv **kv, unsigned int *n)
{
	/* ring-page-order, multi-queue-num-queues, each ring's refs and event channel, and
	 * FCONN_SPARE_KEYS for the caller. */
	unsigned int q, i, max = 2 + c->conf.queues * (FRING_MAX_PAGES + 1) + FCONN_SPARE_KEYS;
	char prefix[24];

	free(c->keys);
	c->nr_keys = 0;
	c->keys = calloc(max, sizeof(*c->keys));
	*kv = calloc(max, sizeof(**kv));
	if (!c->keys || !*kv) {
		free(*kv);
		return -ENOMEM;
	}
	/* ring-page-order once, for all queues; only for a ring of more than one page. */
	if (c->conf.order > 0)
		snprintf(fconn_add(c, "", "ring-page-order")->value, sizeof(c->keys[0].value),
			 "%u", c->conf.order);
	if (c->conf.queues == 1) {
		fconn_ring_keys(c, &c->ring[0], "");
	} else {
		snprintf(fconn_add(c, "", "multi-queue-num-queues")->value,
			 sizeof(c->keys[0].value), "%u", c->conf.queues);
		for (q = 0; q < c->conf.queues; q++) {
			snprintf(prefix, sizeof(prefix), "queue-%u/", q);
			fconn_ring_keys(c, &c->ring[q], prefix);
		}
	}
	for (i = 0; i < c->nr_keys; i++)
		(*kv)[i] = (struct fxs_kv){ c->keys[i].key, c->keys[i].value };
	*n = c->nr_keys;
	return 0;
}

int fconn_kick(struct fconn *c)
{
	unsigned int q;
	int rc;

	for (q = 0; q < c->nr_rings; q++) {
		rc = fring_kick(&c->ring[q]);
		if (rc)
			return rc;
	}
	return 0;
}

int fconn_reap(struct fconn *c, fring_done_fn *done, void *ctx)
{
	unsigned int q;
	int rc, n = 0;

	for (q = 0; q < c->nr_rings; q++) {
		rc = fring_reap(&c->ring[q], done, ctx);
		if (rc < 0)
			return rc;
		n += rc;
	}
	return n;
}

static struct fring *fconn_ring_of_port(struct fconn *c, uint32_t port)
{
	unsigned int q;

	for (q = 0; q < c->nr_rings; q++) {
		if (c->ring[q].port_open && c->ring[q].port == port)
			return &c->ring[q];
	}
	return NULL;
}

static int fconn_drain_events(struct fconn *c)
{
	uint32_t port;
	int rc;

	/* Unmask before the caller reads the rings, so an event sent meanwhile is not lost. */
	while ((rc = sim_evtchn_pending(c->conf.dom, &port)) == 0) {
		if (fconn_ring_of_port(c, port))
			c->conf.stats->events_received++;
		rc = sim_evtchn_unmask(c->conf.dom, port);
		if (rc)
			return rc;
	}
	return rc == -EAGAIN ? 0 : rc;
}

/* Nothing arrived in time. Responses waiting anyway were published without an event. */
static int fconn_check_lost_events(struct fconn *c)
{
	unsigned int q;
	bool lost = false;

	for (q = 0; q < c->nr_rings; q++)
		lost |= fring_check_lost_event(&c->ring[q]);
	return lost ? 0 : -ETIMEDOUT;
}

int fconn_wait(struct fconn *c, int timeout_ms)
{
	struct pollfd pfd[2];
	nfds_t n = 1;
	int rc;

	pfd[0] = (struct pollfd){ .fd = sim_evtchn_fd(c->conf.dom), .events = POLLIN };
	if (c->conf.aux_fd >= 0 && c->conf.aux_cb)
		pfd[n++] = (struct pollfd){ .fd = c->conf.aux_fd, .events = POLLIN };
	rc = poll(pfd, n, timeout_ms);
	if (rc < 0)
		return errno == EINTR ? 0 : -errno;
	if (rc == 0)
		return fconn_check_lost_events(c);
	if (n > 1 && pfd[1].revents) {
		rc = c->conf.aux_cb(c->conf.aux_ctx);
		if (rc < 0)
			return rc;
	}
	if (pfd[0].revents & (POLLERR | POLLNVAL))
		return -EIO;
	return pfd[0].revents ? fconn_drain_events(c) : 0;
}

int fconn_disconnect(struct fconn *c, unsigned int timeout_ms, fring_done_fn *done, void *ctx)
{
	unsigned int q;
	int rc = 0, rc2;

	for (q = 0; q < c->nr_rings; q++) {
		/* The first ring had the whole timeout; the backend unmaps all rings together. */
		rc2 = fring_disconnect(&c->ring[q], q ? timeout_ms / 10 : timeout_ms, done, ctx);
		if (rc2 && (rc == 0 || rc2 == -EBUSY))
			rc = rc2;
	}
	return rc;
}

int fconn_retry_ring_release(struct fconn *c)
{
	unsigned int q;
	int rc = 0;

	for (q = 0; q < c->nr_rings; q++) {
		if (fring_retry_ring_release(&c->ring[q]))
			rc = -EBUSY;
	}
	return rc;
}

unsigned int fconn_count_mapped(struct fconn *c)
{
	unsigned int q, n = 0;

	for (q = 0; q < c->nr_rings; q++)
		n += c->ring[q].gnt.persistent ? fgnt_count_mapped(&c->ring[q].gnt) : 0;
	return n;
}

void fconn_release_persistent(struct fconn *c, unsigned int timeout_ms)
{
	unsigned int q;

	for (q = 0; q < c->nr_rings; q++)
		fring_release_persistent(&c->ring[q], timeout_ms);
}

void fconn_free(struct fconn *c)
{
	unsigned int q;

	for (q = 0; q < c->nr_rings; q++)
		fring_free(&c->ring[q]);
	c->nr_rings = 0;
	free(c->keys);
	c->keys = NULL;
	c->nr_keys = 0;
}
