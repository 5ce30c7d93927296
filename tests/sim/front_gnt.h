/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Grants of one ring's request pages, in the two ways a blkfront hands pages over:
 *  - per request: each page is granted for one request (read-only when the backend only reads
 *    it) and access is ended when the response arrives;
 *  - persistent (feature-persistent on both ends): a page keeps its grant, read-write, across
 *    requests. After each response, a grant the backend still maps is kept for reuse; one it
 *    does not map (it purged it, or it copies) is ended, and the page gets a fresh grant next
 *    time, exactly as Linux blkfront does. Grants are ended for good only at disconnect.
 * The counters say how often each happened, which is how a test sees from the guest's side
 * whether the backend really kept grants mapped.
 */
#ifndef XBD_SIM_FRONT_GNT_H
#define XBD_SIM_FRONT_GNT_H

#include <stdbool.h>
#include <stdint.h>

struct sim_domain;

/* Persistent-grant counters, kept by the caller across rings and connections. */
struct fgnt_stats {
	unsigned long new_grants; /* persistent grants made (each one a backend map) */
	unsigned long reused; /* uses of a grant made earlier */
	unsigned long kept; /* after a response, still mapped by the backend */
	unsigned long released; /* after a response, not mapped: ended, regranted later */
	unsigned long mapped_connected; /* mapped by the backend just before the last close */
	unsigned long distinct_refs; /* different grant refs ever used persistently */
	uint8_t *ref_seen; /* per grant ref, owned by the caller; NULL: not counted */
	unsigned int nr_refs;
};

struct fgnt {
	struct sim_domain *dom;
	struct fgnt_stats *stats;
	uint16_t be_domid;
	bool persistent;
	uint32_t first_frame; /* persistent: the frames whose grants are kept */
	uint32_t nr_frames;
	uint32_t *ref_of; /* persistent: the ref of each frame, or FGNT_NO_REF */
};

#define FGNT_NO_REF UINT32_MAX

/* 0, -ENOMEM. Per-request mode ignores the frame range. */
int fgnt_init(struct fgnt *g, struct sim_domain *dom, struct fgnt_stats *stats,
	      uint16_t be_domid, bool persistent, uint32_t first_frame, uint32_t nr_frames);
void fgnt_destroy(struct fgnt *g);

/* A grant for `frame` for one request; `readonly` when the backend only reads the page
 * (ignored for persistent grants, which the backend may map writable). 0 or -errno. */
int fgnt_get(struct fgnt *g, uint32_t frame, bool readonly, uint32_t *ref);
/* The request is over (response, or never submitted). 0, or -EBUSY when a per-request grant
 * could not be ended because the backend still holds the page. */
int fgnt_put(struct fgnt *g, uint32_t frame, uint32_t ref);
/* At disconnect, once the backend is done: end every persistent grant, retrying while the
 * backend still maps one, for up to timeout_ms. Returns how many could not be ended. */
unsigned int fgnt_release_all(struct fgnt *g, unsigned int timeout_ms);
/* How many persistent grants the backend maps right now. */
unsigned int fgnt_count_mapped(struct fgnt *g);

#endif
