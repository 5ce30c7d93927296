/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Per-request and persistent grants of the simulated blkfront (front_gnt.h). Whether the
 * backend maps a grant is read from the entry's GTF_reading/GTF_writing bits, which the mapper
 * holds for as long as it has the page pinned; that is what Linux's
 * gnttab_query_foreign_access() reads too.
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "front_gnt.h"
#include "sim_guest.h"

int fgnt_init(struct fgnt *g, struct sim_domain *dom, struct fgnt_stats *stats,
	      uint16_t be_domid, bool persistent, uint32_t first_frame, uint32_t nr_frames)
{
	uint32_t i;

	*g = (struct fgnt){ .dom = dom, .stats = stats, .be_domid = be_domid,
			    .persistent = persistent, .first_frame = first_frame,
			    .nr_frames = nr_frames };
	if (!persistent)
		return 0;
	g->ref_of = malloc((size_t)nr_frames * sizeof(*g->ref_of));
	if (!g->ref_of)
		return -ENOMEM;
	for (i = 0; i < nr_frames; i++)
		g->ref_of[i] = FGNT_NO_REF;
	return 0;
}

void fgnt_destroy(struct fgnt *g)
{
	free(g->ref_of);
	g->ref_of = NULL;
}

static bool fgnt_is_persistent_frame(const struct fgnt *g, uint32_t frame)
{
	return g->persistent && frame - g->first_frame < g->nr_frames;
}

static void fgnt_count_ref(struct fgnt *g, uint32_t ref)
{
	struct fgnt_stats *s = g->stats;

	if (!s->ref_seen || ref >= s->nr_refs || s->ref_seen[ref])
		return;
	s->ref_seen[ref] = 1;
	s->distinct_refs++;
}

int fgnt_get(struct fgnt *g, uint32_t frame, bool readonly, uint32_t *ref)
{
	uint32_t *slot;
	int rc;

	if (!fgnt_is_persistent_frame(g, frame))
		return sim_grant_access(g->dom, g->be_domid, frame, readonly, ref);
	slot = &g->ref_of[frame - g->first_frame];
	if (*slot != FGNT_NO_REF) {
		g->stats->reused++;
		*ref = *slot;
		return 0;
	}
	/* Persistent grants are writable: the backend may map them once for any direction. */
	rc = sim_grant_access(g->dom, g->be_domid, frame, false, slot);
	if (rc) {
		*slot = FGNT_NO_REF;
		return rc;
	}
	g->stats->new_grants++;
	fgnt_count_ref(g, *slot);
	*ref = *slot;
	return 0;
}

static bool fgnt_backend_maps(struct fgnt *g, uint32_t ref)
{
	grant_entry_v1_t *e = sim_grant_entry(g->dom, ref);
	uint16_t flags;

	if (!e)
		return false;
	/* Acquire: pairs with the mapper's release when it clears the bits after unmapping. */
	flags = __atomic_load_n(&e->flags, __ATOMIC_ACQUIRE);
	return (flags & (GTF_reading | GTF_writing)) != 0;
}

int fgnt_put(struct fgnt *g, uint32_t frame, uint32_t ref)
{
	uint32_t *slot;

	if (!fgnt_is_persistent_frame(g, frame))
		return sim_end_access(g->dom, ref) ? -EBUSY : 0;
	slot = &g->ref_of[frame - g->first_frame];
	if (fgnt_backend_maps(g, ref)) {
		g->stats->kept++;
		return 0;
	}
	/* Not mapped: end it now; if the backend mapped it in between, it stays persistent. */
	if (sim_end_access(g->dom, ref) == 0) {
		*slot = FGNT_NO_REF;
		g->stats->released++;
	} else {
		g->stats->kept++;
	}
	return 0;
}

unsigned int fgnt_count_mapped(struct fgnt *g)
{
	unsigned int n = 0;
	uint32_t i;

	for (i = 0; g->ref_of && i < g->nr_frames; i++) {
		if (g->ref_of[i] != FGNT_NO_REF && fgnt_backend_maps(g, g->ref_of[i]))
			n++;
	}
	return n;
}

static uint64_t fgnt_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static unsigned int fgnt_try_release(struct fgnt *g)
{
	unsigned int left = 0;
	uint32_t i;

	for (i = 0; g->ref_of && i < g->nr_frames; i++) {
		if (g->ref_of[i] == FGNT_NO_REF)
			continue;
		if (sim_end_access(g->dom, g->ref_of[i]) == 0)
			g->ref_of[i] = FGNT_NO_REF;
		else
			left++;
	}
	return left;
}

unsigned int fgnt_release_all(struct fgnt *g, unsigned int timeout_ms)
{
	uint64_t deadline = fgnt_now_ms() + timeout_ms;
	unsigned int left;

	while ((left = fgnt_try_release(g)) && fgnt_now_ms() < deadline)
		usleep(1000);
	return left;
}
