/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The data plane's counters as JSON, per ring and in total (xenblkctl stats --json). Names
 * follow blkif: requests by operation, sectors in 512-byte units, the latency histogram as
 * log2 buckets of microseconds (bucket i counts [2^i, 2^(i+1)) us; 0 also holds < 1 us), and
 * its p50, p99 and p999 as bucket-resolution estimates (util/latency.h; null with no requests).
 * grant.mapped / mapped_peak / mapped_bound are the data grants mapped now, at most, and the
 * bound: per ring that queue's, in the total the whole daemon's (over all its connections).
 */
#include <stdio.h>
#include <stdlib.h>

#include "ctl_internal.h"
#include "util/latency.h"

static void put_u64(struct json_object *o, const char *key, uint64_t v)
{
	json_object_object_add(o, key, json_object_new_uint64(v));
}

static struct json_object *requests_json(const struct xbd_dataplane_stats *s)
{
	struct json_object *o = json_object_new_object();

	put_u64(o, "read", s->reads);
	put_u64(o, "write", s->writes);
	put_u64(o, "flush", s->flushes);
	put_u64(o, "barrier", s->barriers);
	put_u64(o, "discard", s->discards);
	put_u64(o, "total", s->reads + s->writes + s->flushes + s->barriers + s->discards +
			     s->errors);
	put_u64(o, "indirect", s->indirect);
	return o;
}

static struct json_object *sectors_json(const struct xbd_dataplane_stats *s)
{
	struct json_object *o = json_object_new_object();

	put_u64(o, "read", s->read_sectors);
	put_u64(o, "write", s->write_sectors);
	put_u64(o, "discard", s->discard_sectors);
	return o;
}

static struct json_object *grant_json(const struct xbd_grant_stats *g)
{
	struct json_object *o = json_object_new_object();

	put_u64(o, "copy_calls", g->copy_calls);
	put_u64(o, "map_calls", g->map_calls);
	put_u64(o, "unmap_calls", g->unmap_calls);
	put_u64(o, "persistent_hits", g->persistent_hits);
	put_u64(o, "persistent_misses", g->persistent_misses);
	put_u64(o, "persistent_copied", g->persistent_copied);
	put_u64(o, "bound_copied", g->bound_copied);
	put_u64(o, "mapped", g->mapped);
	put_u64(o, "mapped_peak", g->mapped_peak);
	put_u64(o, "mapped_bound", g->mapped_bound);
	return o;
}

/* {"p50": us, "p99": us, "p999": us}, to 0.1 us, or nulls for an empty histogram. */
static struct json_object *percentiles_json(const uint64_t *hist)
{
	static const struct { const char *key; uint32_t ppm; } pct[] = {
		{ "p50", XBD_P50 }, { "p99", XBD_P99 }, { "p999", XBD_P999 },
	};
	struct json_object *o = json_object_new_object();

	for (size_t i = 0; i < sizeof(pct) / sizeof(pct[0]); i++) {
		char text[32];
		double us;

		if (xbd_latency_percentile(hist, XBD_LAT_BUCKETS, pct[i].ppm, &us)) {
			json_object_object_add(o, pct[i].key, NULL);
			continue;
		}
		snprintf(text, sizeof(text), "%.1f", us);
		json_object_object_add(o, pct[i].key, json_object_new_double_s(us, text));
	}
	return o;
}

struct json_object *xbd_ctl_stats_json(const struct xbd_dataplane_stats *s)
{
	struct json_object *o = json_object_new_object();
	struct json_object *h = json_object_new_array_ext(XBD_LAT_BUCKETS);

	json_object_object_add(o, "requests", requests_json(s));
	json_object_object_add(o, "sectors", sectors_json(s));
	put_u64(o, "inflight", s->inflight);
	put_u64(o, "errors", s->errors);
	put_u64(o, "bad_requests", s->bad_requests);
	put_u64(o, "events", s->events);
	put_u64(o, "notifies", s->notifies);
	put_u64(o, "polls", s->polls);
	put_u64(o, "poll_hits", s->poll_hits);
	put_u64(o, "stalls", s->stalls);
	json_object_object_add(o, "grant", grant_json(&s->grant));
	put_u64(o, "pool_bytes", s->pool_held);
	put_u64(o, "persistent_cached", s->persistent_cached);
	for (unsigned int i = 0; i < XBD_LAT_BUCKETS; i++)
		json_object_array_add(h, json_object_new_uint64(s->lat_hist[i]));
	json_object_object_add(o, "latency_us_log2", h);
	json_object_object_add(o, "latency_us_percentiles", percentiles_json(s->lat_hist));
	return o;
}

_Static_assert(sizeof(struct xbd_dataplane_stats) % sizeof(uint64_t) == 0,
	       "struct xbd_dataplane_stats holds uint64_t members only");

struct json_object *xbd_ctl_stats_reply(struct xbd_ctl *c)
{
	struct xbd_dataplane_stats *st = calloc(XBD_MAX_QUEUES, sizeof(*st));
	struct xbd_dataplane_stats total = c->v->past;
	struct json_object *o = json_object_new_object();
	struct json_object *rings = json_object_new_array();
	unsigned int n;

	if (!st)
		return o;
	n = xbd_vbd_get_stats(c->v, st, XBD_MAX_QUEUES);
	for (unsigned int q = 0; q < n; q++) {
		struct json_object *r = xbd_ctl_stats_json(&st[q]);

		json_object_object_add(r, "ring", json_object_new_int((int)q));
		json_object_array_add(rings, r);
		xbd_dataplane_stats_add(&total, &st[q], true);
	}
	free(st);
	/* The daemon's mapped grants: its own counters, not a sum of the queues' peaks. */
	total.grant.mapped = atomic_load_explicit(&c->v->grants.mapped, memory_order_relaxed);
	total.grant.mapped_peak = atomic_load_explicit(&c->v->grants.peak, memory_order_relaxed);
	total.grant.mapped_bound = c->v->grants.max;
	json_object_object_add(o, "rings", rings);
	json_object_object_add(o, "total", xbd_ctl_stats_json(&total));
	json_object_object_add(o, "connections_ended", json_object_new_int((int)c->v->connections_ended));
	return o;
}
