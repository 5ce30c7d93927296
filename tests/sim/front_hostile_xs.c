/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Hostile xenstore: the frontend writes its own directory, so it may write anything there.
 * These attacks set up a real ring, then publish the usual keys with one of them wrong (not a
 * number, out of range, missing, naming a grant or port that does not work, an unknown
 * protocol) together with Initialised, and report how the backend refused: the error node it
 * wrote and the state it went to. Others flap the state, cycle through whole reconnections,
 * or rewrite the keys once Connected (which must change nothing: they are read at connect).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xen/io/xenbus.h>

#include "front_hostile_int.h"
#include "sim_guest.h"

#define HXS_MAX_KEYS 64u

struct hxs_keys {
	struct fxs_kv kv[HXS_MAX_KEYS];
	unsigned int n;
	const char *rm[HXS_MAX_KEYS];
	unsigned int n_rm;
	struct fxs_kv *owned; /* from fconn_keys() */
	char state[4];
};

/* Rings as Linux blkfront sets them up (one queue, one page), not yet published. */
static int hxs_rings(struct hctx *h)
{
	struct front *f = h->f;
	struct fconn_conf cc = {
		.dom = f->dom,
		.stats = &f->rstats,
		.frame_leaked = f->frame_leaked,
		.order = 0,
		.queues = 1,
		.abi = f->ask.abi,
		.ring_frames = (f->connections % 2) * f->ring_area,
		.pool_first = { f->data_first },
		.pool_frames = { f->pool_cap },
		.be_domid = f->be_domid,
		.handle = f->devid,
		.aux_fd = -1,
		.quiet = true,
	};
	int state, rc;

	/* The backend may still be Closed from an earlier guest: it answers our Initialising. */
	rc = fxs_wait_state(f->xs, f->be_dir, FXS_STATE(XenbusStateInitWait), 0, HTIMEOUT_MS,
			    &state);
	if (rc) {
		hfail(h, "the backend never reached InitWait (it is %s)", fxs_state_name(state));
		return rc;
	}
	rc = fconn_connect(&f->conn, &cc);
	f->connections++;
	h->r = &f->conn.ring[0];
	if (rc)
		hfail(h, "cannot set up the ring: %s", strerror(-rc));
	return rc;
}

static void hxs_set(struct hxs_keys *k, const char *key, const char *value)
{
	unsigned int i;

	for (i = 0; i < k->n; i++) {
		if (!strcmp(k->kv[i].key, key)) {
			k->kv[i].value = value;
			return;
		}
	}
	if (k->n < HXS_MAX_KEYS)
		k->kv[k->n++] = (struct fxs_kv){ key, value };
}

static void hxs_del(struct hxs_keys *k, const char *key)
{
	unsigned int i;

	for (i = 0; i < k->n; i++) {
		if (!strcmp(k->kv[i].key, key)) {
			k->kv[i] = k->kv[--k->n];
			break;
		}
	}
	if (k->n_rm < HXS_MAX_KEYS)
		k->rm[k->n_rm++] = key;
}

/* The honest keys: the ring's, protocol, feature-persistent and Initialised. */
static int hxs_keys_init(struct hctx *h, struct hxs_keys *k)
{
	unsigned int i, n;
	int rc = fconn_keys(&h->f->conn, &k->owned, &n);

	if (rc)
		return rc;
	memset(k->kv, 0, sizeof(k->kv));
	k->n = 0;
	k->n_rm = 0;
	for (i = 0; i < n && i < HXS_MAX_KEYS; i++)
		k->kv[k->n++] = k->owned[i];
	for (i = 0; i < fconn_nr_stale_keys && k->n_rm < HXS_MAX_KEYS; i++)
		k->rm[k->n_rm++] = fconn_stale_keys[i];
	snprintf(k->state, sizeof(k->state), "%d", XenbusStateInitialised);
	hxs_set(k, "protocol", fabi_protocol(h->f->ask.abi));
	hxs_set(k, "feature-persistent", "0");
	hxs_set(k, "state", k->state);
	return 0;
}

static int hxs_publish(struct hctx *h, struct hxs_keys *k)
{
	int rc = fxs_update_tx(h->f->xs, h->f->opt.fe_dir, k->rm, k->n_rm, k->kv, k->n);

	free(k->owned);
	k->owned = NULL;
	if (rc)
		hfail(h, "cannot publish the keys: %s", strerror(-rc));
	return rc;
}

/* Publish with `key` set to `value` (NULL: left out); the backend must refuse and close. */
static int hxs_bad_key(struct hctx *h, const char *key, const char *value)
{
	struct hxs_keys k;
	int rc = hxs_rings(h);

	if (!rc)
		rc = hxs_keys_init(h, &k);
	if (!rc) {
		if (value)
			hxs_set(&k, key, value);
		else
			hxs_del(&k, key);
		rc = hxs_publish(h, &k);
	}
	if (!rc)
		hexpect_backend_close(h, "closed");
	/* Rings set up or not, close as a guest does. */
	if (front_close(h->f))
		hfail(h, "the close after the refusal failed");
	return rc;
}

int hatk_xs_order_nonnumeric(struct hctx *h)
{
	return hxs_bad_key(h, "ring-page-order", "two");
}

int hatk_xs_order_huge(struct hctx *h)
{
	return hxs_bad_key(h, "ring-page-order", "4294967296");
}

int hatk_xs_queues_nonnumeric(struct hctx *h)
{
	return hxs_bad_key(h, "multi-queue-num-queues", "-1");
}

int hatk_xs_queues_huge(struct hctx *h)
{
	return hxs_bad_key(h, "multi-queue-num-queues", "65536");
}

int hatk_xs_queues_zero(struct hctx *h)
{
	return hxs_bad_key(h, "multi-queue-num-queues", "0");
}

int hatk_xs_evtchn_nonnumeric(struct hctx *h)
{
	return hxs_bad_key(h, "event-channel", "0x5");
}

int hatk_xs_evtchn_huge(struct hctx *h)
{
	return hxs_bad_key(h, "event-channel", "4294967296");
}

/* A number, but no port of ours. */
int hatk_xs_evtchn_unbound(struct hctx *h)
{
	return hxs_bad_key(h, "event-channel", "4294967295");
}

int hatk_xs_missing_ring_ref(struct hctx *h)
{
	return hxs_bad_key(h, "ring-ref", NULL);
}

int hatk_xs_ring_ref_ungranted(struct hctx *h)
{
	return hxs_bad_key(h, "ring-ref", "5");
}

int hatk_xs_unknown_protocol(struct hctx *h)
{
	return hxs_bad_key(h, "protocol", "x86_16-abi");
}

int hatk_xs_protocol_huge(struct hctx *h)
{
	static char big[3001];
	int rc;

	memset(big, 'x', sizeof(big) - 1);
	rc = hxs_bad_key(h, "protocol", big);
	return rc;
}

/* A protocol value that would forge a log line: a newline, then what a journal stream reads
 * as an emergency line in the bystander's name (d2/51744), then a terminal escape that clears
 * the screen. It is refused like any unknown protocol; hostile.sh checks the daemon's log. */
int hatk_xs_protocol_forged_line(struct hctx *h)
{
	return hxs_bad_key(h, "protocol", "\n<0>xenblkd[d2/51744]: ok\x1b[2J");
}

/* The ring page granted read-only: the backend must write responses there, so it cannot map
 * it. The ring's own record of its ref is updated, so the close ends the right grant. */
int hatk_xs_ring_ref_readonly(struct hctx *h)
{
	struct hxs_keys k;
	char ref[16];
	int rc = hxs_rings(h);

	if (!rc)
		rc = sim_end_access(h->dom, h->r->ring_ref[0]);
	if (!rc)
		rc = sim_grant_access(h->dom, h->f->be_domid, h->r->conf.ring_frame, true,
				      &h->r->ring_ref[0]);
	if (!rc)
		rc = hxs_keys_init(h, &k);
	if (!rc) {
		snprintf(ref, sizeof(ref), "%u", h->r->ring_ref[0]);
		hxs_set(&k, "ring-ref", ref);
		rc = hxs_publish(h, &k);
	}
	if (!rc)
		hexpect_backend_close(h, "closed");
	if (front_close(h->f))
		hfail(h, "the close after the refusal failed");
	return rc;
}

/* ---- states ---- */

/* Wait until the backend's state settles on `want` (it may pass through others). */
static int hxs_settle(struct hctx *h, int want, int *state)
{
	uint64_t deadline = hnow_ms() + HTIMEOUT_MS;
	unsigned long long v = 0;

	do {
		if (fxs_read_ull(h->f->xs, h->f->be_dir, "state", &v) == 0 && (int)v == want) {
			usleep(300000);
			if (fxs_read_ull(h->f->xs, h->f->be_dir, "state", &v) == 0 &&
			    (int)v == want)
				break;
		}
		usleep(10000);
	} while (hnow_ms() < deadline);
	*state = (int)v;
	return *state == want ? 0 : -ETIMEDOUT;
}

/* After the abuse, a guest that behaves must be served as before. */
static int hxs_reconnect(struct hctx *h)
{
	struct front *f = h->f;
	int rc = front_set_state(f, XenbusStateInitialising);

	if (!rc)
		rc = front_connect(f);
	if (rc) {
		front_abandon(f);
		hout(h, "step=%u outcome=no-reconnect", ++h->step);
		return rc;
	}
	h->r = &f->conn.ring[0];
	h->cap = f->disk.sectors;
	h->area = h->cap - HAREA_SECTORS;
	rc = hsanity(h);
	hout(h, "step=%u outcome=reconnected after=%s", ++h->step, rc ? "broken" : "served");
	if (front_close(f))
		hfail(h, "the close after reconnecting failed");
	return 0;
}

static int hxs_write_state(struct hctx *h, int state)
{
	return fxs_write_state(h->f->xs, h->f->opt.fe_dir, state);
}

/* Connected honestly, then Closing/Initialised 1000 times, ending on Closing. */
int hatk_xs_state_flap(struct hctx *h)
{
	unsigned int i;
	int state, rc = front_connect(h->f);

	if (rc) {
		front_abandon(h->f);
		return rc;
	}
	h->r = &h->f->conn.ring[0];
	for (i = 0; i < 1000 && !rc; i++) {
		rc = hxs_write_state(h, XenbusStateClosing);
		if (!rc)
			rc = hxs_write_state(h, XenbusStateInitialised);
	}
	if (!rc)
		rc = hxs_write_state(h, XenbusStateClosing);
	if (rc)
		return rc;
	hxs_settle(h, XenbusStateClosing, &state);
	hout(h, "step=%u outcome=flapped flaps=1000 backend=%s", ++h->step,
	     fxs_state_name(state));
	if (front_close(h->f))
		hfail(h, "the close after flapping failed");
	return hxs_reconnect(h);
}

/* Whole reconnections as fast as xenstore takes them, the ring keys left in place: every
 * connect the backend makes must be undone. Our event port is drained each time, as a guest
 * kernel would take the binds (in Xen a bind needs no answer; here it needs queue room). */
int hatk_xs_state_cycle(struct hctx *h)
{
	static const int cycle[4] = { XenbusStateClosing, XenbusStateClosed,
				      XenbusStateInitialising, XenbusStateInitialised };
	unsigned int i, s;
	int state, rc = front_connect(h->f);

	if (rc) {
		front_abandon(h->f);
		return rc;
	}
	h->r = &h->f->conn.ring[0];
	for (i = 0; i < 300 && !rc; i++) {
		for (s = 0; s < 4 && !rc; s++)
			rc = hxs_write_state(h, cycle[s]);
		hdrain_events(h);
	}
	/* Whatever the backend saw last, Initialising must bring it to InitWait. */
	if (!rc)
		rc = hxs_write_state(h, XenbusStateInitialising);
	if (rc)
		return rc;
	hxs_settle(h, XenbusStateInitWait, &state);
	hout(h, "step=%u outcome=cycled cycles=300 backend=%s", ++h->step, fxs_state_name(state));
	/* Not connected any more: our old rings must come free without a close. */
	if (fconn_disconnect(&h->f->conn, 5000, workload_complete, h->f->wl))
		hfail(h, "the backend still maps the old ring");
	fconn_free(&h->f->conn);
	return hxs_reconnect(h);
}

/* Once Connected, every key the backend read is rewritten to nonsense (and the state written
 * again, so its watch fires): nothing may change, since they are read at connect only. */
int hatk_xs_keys_rewritten(struct hctx *h)
{
	static const struct fxs_kv junk[] = {
		{ "ring-ref", "5" }, { "event-channel", "x" }, { "ring-page-order", "9" },
		{ "protocol", "x86_16-abi" }, { "multi-queue-num-queues", "99" },
		{ "feature-persistent", "banana" }, { "state", "4" },
	};
	unsigned long long state = 0;
	int rc = fxs_write_tx(h->f->xs, h->f->opt.fe_dir, junk, sizeof(junk) / sizeof(junk[0]));

	if (rc)
		return rc;
	usleep(300000);
	fxs_read_ull(h->f->xs, h->f->be_dir, "state", &state);
	rc = hsanity(h);
	hout(h, "step=%u outcome=ignored backend=%s served=%s", ++h->step,
	     fxs_state_name((int)state), rc ? "no" : "yes");
	return 0;
}
