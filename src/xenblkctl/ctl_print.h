/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xenblkctl's tables: the daemons' JSON replies as text for people.
 */
#ifndef XENBLKD_XENBLKCTL_PRINT_H
#define XENBLKD_XENBLKCTL_PRINT_H

#include <json-c/json.h>
#include <stdio.h>

/* One `info` reply as a `list` row; NULL info prints the header. `name` is the socket's. */
void xbd_print_list_row(FILE *out, const char *name, struct json_object *info);

/* A `stats` reply: identity, a row per ring and the total, then the latency histogram. */
void xbd_print_stats(FILE *out, struct json_object *stats);

/* The total number of requests and sectors in a stats reply (for top). */
unsigned long long xbd_stats_requests(struct json_object *stats);
unsigned long long xbd_stats_sectors(struct json_object *stats);

#endif
