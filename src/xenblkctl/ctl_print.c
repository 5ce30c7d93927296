/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xenblkctl's tables (see ctl_print.h). Columns are fixed-width so that scripts that prefer
 * text to --json can still cut them.
 */
#include <inttypes.h>
#include <string.h>

#include "client.h"
#include "ctl_print.h"

/* A table cell: "-" for an unknown value, spaces escaped as \x20 so that every row has the
 * same number of words (the daemon escaped the rest: log.h). */
static const char *cell(const char *v, char *buf, size_t len)
{
	size_t o = 0;

	if (!v || !*v)
		return "-";
	if (!buf || !strchr(v, ' '))
		return v;
	for (; *v && o + 5 < len; v++) {
		if (*v == ' ') {
			memcpy(buf + o, "\\x20", 4);
			o += 4;
		} else {
			buf[o++] = *v;
		}
	}
	buf[o] = '\0';
	return buf;
}

/* Columns kept in this order: scripts read PID as the 2nd word, QUEUES the 4th and BACKEND
 * the last. */
void xbd_print_list_row(FILE *out, const char *name, struct json_object *info)
{
	char dom[1100], image[1100];

	if (!info) {
		fprintf(out, "%-12s %-8s %-12s %-6s %-6s %-4s %-16s %-8s %-6s %-28s %s\n", "VBD",
			"PID", "STATE", "QUEUES", "PAUSED", "MODE", "DOMAIN", "DEVICE", "FORMAT",
			"IMAGE", "BACKEND");
		return;
	}
	fprintf(out, "%-12s %-8llu %-12s %-6llu %-6s %-4s %-16s %-8s %-6s %-28s %s\n",
		xbd_json_str(info, "vbd"), xbd_json_u64(info, "pid"),
		xbd_json_str(info, "state"), xbd_json_u64(info, "queues"),
		strcmp(xbd_json_str(info, "paused"), "true") ? "no" : "yes",
		cell(xbd_json_str(info, "mode"), NULL, 0),
		cell(xbd_json_str(info, "domain"), dom, sizeof(dom)),
		cell(xbd_json_str(info, "device"), NULL, 0), cell(xbd_json_str(info, "format"), NULL, 0),
		cell(xbd_json_str(info, "image"), image, sizeof(image)),
		*xbd_json_str(info, "backend") ? xbd_json_str(info, "backend") : name);
}

static void ring_row(FILE *out, const char *label, struct json_object *r)
{
	fprintf(out, "%-6s %10llu %10llu %8llu %8llu %8llu %12llu %12llu %8llu %7llu\n", label,
		xbd_json_u64(r, "requests.read"), xbd_json_u64(r, "requests.write"),
		xbd_json_u64(r, "requests.flush"), xbd_json_u64(r, "requests.barrier"),
		xbd_json_u64(r, "requests.discard"), xbd_json_u64(r, "sectors.read"),
		xbd_json_u64(r, "sectors.write"), xbd_json_u64(r, "inflight"),
		xbd_json_u64(r, "errors"));
}

/* " p50 X us, p99 Y us, p999 Z us (estimates)", or nothing before the first request. */
static void percentiles(FILE *out, struct json_object *total)
{
	struct json_object *p;

	if (!json_object_object_get_ex(total, "latency_us_percentiles", &p) ||
	    !*xbd_json_str(p, "p50"))
		return;
	fprintf(out, " p50 %s us, p99 %s us, p999 %s us (estimates at bucket resolution)",
		xbd_json_str(p, "p50"), xbd_json_str(p, "p99"), xbd_json_str(p, "p999"));
}

static void histogram(FILE *out, struct json_object *total)
{
	struct json_object *h;
	size_t n;

	if (!json_object_object_get_ex(total, "latency_us_log2", &h))
		return;
	n = json_object_array_length(h);
	fprintf(out, "latency (all rings, since start):");
	percentiles(out, total);
	fprintf(out, "\n  %-22s %12s\n", "microseconds", "requests");
	for (size_t i = 0; i < n; i++) {
		uint64_t count = json_object_get_uint64(json_object_array_get_idx(h, i));
		char range[48];

		if (!count)
			continue;
		if (i)
			snprintf(range, sizeof(range), "%llu .. %llu", 1ull << i,
				 (1ull << (i + 1)) - 1);
		else
			snprintf(range, sizeof(range), "< 2");
		fprintf(out, "  %-22s %12" PRIu64 "\n", range, count);
	}
}

/* Mapped grants against their bounds, per ring and for the daemon. */
static void mapped_grants(FILE *out, struct json_object *rings, struct json_object *total)
{
	fprintf(out, "mapped grants (now / peak / bound), requests copied over the bound:\n");
	for (size_t i = 0; rings && i < json_object_array_length(rings); i++) {
		struct json_object *r = json_object_array_get_idx(rings, i);

		fprintf(out, "  ring %-4zu %8llu / %8llu / %8llu  %10llu\n", i,
			xbd_json_u64(r, "grant.mapped"), xbd_json_u64(r, "grant.mapped_peak"),
			xbd_json_u64(r, "grant.mapped_bound"), xbd_json_u64(r, "grant.bound_copied"));
	}
	fprintf(out, "  daemon    %8llu / %8llu / %8llu  %10llu\n",
		xbd_json_u64(total, "grant.mapped"), xbd_json_u64(total, "grant.mapped_peak"),
		xbd_json_u64(total, "grant.mapped_bound"), xbd_json_u64(total, "grant.bound_copied"));
}

void xbd_print_stats(FILE *out, struct json_object *stats)
{
	struct json_object *rings = NULL, *total = NULL;
	char label[24];

	fprintf(out, "%s  %s\nstate %s, frontend %s, pid %llu, %llu queue(s), %s, "
		"limits %llu IOPS %llu B/s, %llu earlier connection(s)\n",
		xbd_json_str(stats, "vbd"), xbd_json_str(stats, "backend"),
		xbd_json_str(stats, "state"), xbd_json_str(stats, "frontend_state"),
		xbd_json_u64(stats, "pid"), xbd_json_u64(stats, "queues"),
		strcmp(xbd_json_str(stats, "paused"), "true") ? "running" : "PAUSED",
		xbd_json_u64(stats, "limits.iops"), xbd_json_u64(stats, "limits.bps"),
		xbd_json_u64(stats, "connections_ended"));
	fprintf(out, "domain %s (id %llu), device %s, %s, %s image %s\n",
		cell(xbd_json_str(stats, "domain"), NULL, 0), xbd_json_u64(stats, "frontend_id"),
		cell(xbd_json_str(stats, "device"), NULL, 0), cell(xbd_json_str(stats, "mode"), NULL, 0),
		cell(xbd_json_str(stats, "format"), NULL, 0), cell(xbd_json_str(stats, "image"), NULL, 0));
	fprintf(out, "%-6s %10s %10s %8s %8s %8s %12s %12s %8s %7s\n", "ring", "read", "write",
		"flush", "barrier", "discard", "rd-sectors", "wr-sectors", "inflight", "errors");
	if (json_object_object_get_ex(stats, "rings", &rings))
		for (size_t i = 0; i < json_object_array_length(rings); i++) {
			snprintf(label, sizeof(label), "%zu", i);
			ring_row(out, label, json_object_array_get_idx(rings, i));
		}
	json_object_object_get_ex(stats, "total", &total);
	ring_row(out, "total", total);
	mapped_grants(out, rings, total);
	histogram(out, total);
}

unsigned long long xbd_stats_requests(struct json_object *stats)
{
	struct json_object *t;

	return json_object_object_get_ex(stats, "total", &t) ?
		       xbd_json_u64(t, "requests.total") : 0;
}

unsigned long long xbd_stats_sectors(struct json_object *stats)
{
	struct json_object *t;

	if (!json_object_object_get_ex(stats, "total", &t))
		return 0;
	return xbd_json_u64(t, "sectors.read") + xbd_json_u64(t, "sectors.write");
}
