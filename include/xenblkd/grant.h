/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * How a request's data gets between the guest's granted pages and the disk: one small table
 * per strategy.
 * - copy (default): the hypervisor copies into buffers the daemon owns, so direct I/O never
 *   runs on a page the daemon's own domain granted (the dom0 local-attach trap:
 *   docs/design.md, Dom0 local attach) and nothing stays mapped after a request;
 * - map: the request's pages are mapped in one batch and unmapped after the I/O completes;
 * - persistent: pages stay mapped across requests (feature-persistent), in a bounded cache
 *   with LRU purge of idle entries.
 * Every strategy unmaps a page only once no I/O on it is in flight. All run on the data thread.
 *
 * Mapped grants are bounded per queue and per daemon, cached and transient ones alike
 * (grant_budget.c): a request is admitted to map or persistent only after reserving what it
 * may map; one over the bound is served by grant copy.
 */
#ifndef XENBLKD_GRANT_H
#define XENBLKD_GRANT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <sys/uio.h>

#include "xenblkd/req.h"
#include "xenblkd/xen_ops.h"

enum xbd_grant_mode {
	XBD_GRANT_COPY,
	XBD_GRANT_MAP,
	XBD_GRANT_PERSISTENT,
};

int xbd_grant_mode_from_string(const char *s, enum xbd_grant_mode *out);
const char *xbd_grant_mode_name(enum xbd_grant_mode m);

struct xbd_persist_cache;

struct xbd_grant_stats {
	uint64_t copy_calls, map_calls, unmap_calls, persistent_hits, persistent_misses;
	uint64_t persistent_copied; /* requests copied: caching them would have thrashed */
	uint64_t bound_copied;      /* requests copied: mapping them would pass the bound */
	uint64_t mapped;            /* data pages mapped now (cached and transient) */
	uint64_t mapped_peak;       /* the most ever mapped at once */
	uint64_t mapped_bound;      /* this queue's bound */
};

/*
 * The mapped grants of one daemon, shared by its data threads without a lock: `used` counts
 * pages mapped plus pages reserved by requests about to map, and never exceeds `max`. Every
 * mapping holds a slot in the process's VMA table (vm.max_map_count) and, on Xen, in dom0's
 * maptrack table, which every backend in dom0 shares.
 */
struct xbd_grant_budget {
	unsigned int max;
	_Atomic unsigned int used;
	_Atomic unsigned int mapped, peak;
};

void xbd_grant_budget_init(struct xbd_grant_budget *b, unsigned int max);

/* One request's part of a copy batch: segments [first, first + n) belong to `owner`. */
struct xbd_copy_owner {
	void *owner;
	unsigned int first, n;
};

/*
 * Copy segments of several requests, sent in one gnt_copy call (grant_batch.c): a loop pass
 * gathers the writes it takes in, or the reads it completes, and copies them at once. At most
 * XBD_GNT_COPY_BATCH segments; the arrays are allocated on first use.
 */
struct xbd_copy_batch {
	struct xbd_gnt_copy_seg *segs;
	struct xbd_copy_owner *owners;
	unsigned int nr_segs, nr_owners;
};

/* Per data thread. */
struct xbd_grant_ctx {
	const struct xbd_xen_ops *xen;
	struct xbd_gnt *gnt;
	uint16_t domid;
	uint16_t queue;                     /* with domid and devid: for trace points */
	uint32_t devid;
	struct xbd_gnt_copy_seg *copy_segs; /* scratch: max segments of one request */
	uint32_t *refs;                     /* scratch: max segments of one request */
	unsigned int max_segs;
	struct xbd_persist_cache *cache;    /* persistent only */
	/* Mapped-grant bound (grant_budget.c): this queue's pages mapped plus reserved, and its
	 * bound; the daemon's budget, or NULL for none. */
	unsigned int used, max_mapped;
	struct xbd_grant_budget *budget;
	struct xbd_copy_batch copy_in;      /* writes' data, guest -> bounce buffers */
	struct xbd_copy_batch copy_out;     /* reads' data, bounce buffers -> guest */
	struct xbd_copy_batch indirect_in;  /* indirect requests' descriptor pages -> ours */
	struct xbd_grant_stats stats;
};

/* One request's data. */
struct xbd_grant_io {
	const struct xbd_req *req;
	bool to_disk;        /* the guest's pages are read (a write to the disk) */
	void *bounce;        /* copy: req->nr_sectors * 512 bytes, contiguous */
	struct iovec *iov;   /* out: where the data is; room for req->nr_segs entries */
	unsigned int niov;
	void *map_addr;      /* map, and persistent's transient pages: this request's mapping */
	unsigned int map_pages; /* pages at map_addr */
	unsigned int credits;   /* pages reserved by xbd_grant_choose, for prepare to map */
	void **held;         /* persistent: cache entries held; room for req->nr_segs */
};

struct xbd_grant_ops {
	enum xbd_grant_mode mode;
	bool needs_bounce;
	/* Required. Make the data reachable through io->iov; for a write, bring it in.
	 * 0, or -errno (nothing is left held). */
	int (*prepare)(struct xbd_grant_ctx *g, struct xbd_grant_io *io);
	/* Required. Once per successful prepare, after the I/O: push a read's data out when
	 * `copy_out`, and release what prepare took. 0 or -errno. */
	int (*finish)(struct xbd_grant_ctx *g, struct xbd_grant_io *io, bool copy_out);
};

extern const struct xbd_grant_ops xbd_grant_copy_ops;
extern const struct xbd_grant_ops xbd_grant_map_ops;
extern const struct xbd_grant_ops xbd_grant_persistent_ops;

const struct xbd_grant_ops *xbd_grant_ops_for(enum xbd_grant_mode m);

/* The strategy a connection really uses (grant_policy.c); *why says why it differs. */
enum xbd_grant_mode xbd_grant_effective_mode(enum xbd_grant_mode wanted, bool fe_persistent,
					     bool same_domain, bool allow_local_map,
					     const char **why);

/* Per data thread set-up: scratch for `max_segs` segments; a cache of `persist_max` grants
 * when the mode is persistent. */
int xbd_grant_ctx_init(struct xbd_grant_ctx *g, const struct xbd_xen_ops *xen,
		       struct xbd_gnt *gnt, uint16_t domid, unsigned int max_segs,
		       enum xbd_grant_mode mode, unsigned int persist_max);
/* Unmap everything still cached. Nothing may be in flight. */
void xbd_grant_ctx_fini(struct xbd_grant_ctx *g);

/* Bound this queue's mapped grants to `max_mapped`, and the daemon's with `budget` (may be
 * NULL). Without a call, a context is unbounded. */
void xbd_grant_set_bound(struct xbd_grant_ctx *g, unsigned int max_mapped,
			 struct xbd_grant_budget *budget);

/*
 * Admission, once per request with segments, before prepare: the strategy that serves it, and
 * in *credits the pages reserved for prepare to map (io->credits). Map and persistent reserve
 * what the request may map; when that would pass the queue's or the daemon's bound (or, in
 * persistent mode, the cache thrashes) the answer is copy, with nothing reserved.
 */
const struct xbd_grant_ops *xbd_grant_choose(struct xbd_grant_ctx *g,
					     const struct xbd_grant_ops *ops,
					     const struct xbd_req *req, unsigned int *credits);
/* Give back reserved pages that were not mapped (a request that ended before prepare). */
void xbd_grant_unreserve(struct xbd_grant_ctx *g, unsigned int n);

/* For the strategies (grant_budget.c): reserve n pages (false: over a bound); count n reserved
 * pages as mapped, or as unmapped (still reserved: xbd_grant_unreserve gives them back). */
bool xbd_grant_reserve(struct xbd_grant_ctx *g, unsigned int n);
void xbd_grant_mapped(struct xbd_grant_ctx *g, unsigned int n);
void xbd_grant_unmapped(struct xbd_grant_ctx *g, unsigned int n);

/* Copy `n` pages granted by refs[i] (whole pages) into `buf`: indirect descriptor pages. */
int xbd_grant_copy_pages(struct xbd_grant_ctx *g, const uint32_t *refs, unsigned int n,
			 void *buf);

/*
 * Batched grant copy (grant_batch.c), for requests served by xbd_grant_copy_ops: instead of
 * its prepare (and finish), xbd_grant_copy_layout points io->iov at the bounce buffer, and
 * the data moves through a batch.
 */
void xbd_grant_copy_layout(struct xbd_grant_io *io);
/* Copy io's segments between the guest and io->bounce now, in one call of its own. */
int xbd_grant_copy_now(struct xbd_grant_ctx *g, const struct xbd_grant_io *io, bool to_guest);
/* Queue io's segments (to the guest: a read's data) for `owner`. 0; -ENOSPC: the batch is
 * full, flush it first; -E2BIG: more than a batch holds, use xbd_grant_copy_now. */
int xbd_copy_batch_add(struct xbd_grant_ctx *g, struct xbd_copy_batch *b,
		       const struct xbd_grant_io *io, bool to_guest, void *owner);
/* Queue n whole pages granted by refs[i] into buf (indirect descriptor pages) for `owner`:
 * 0, or -ENOSPC / -E2BIG as xbd_copy_batch_add (then use xbd_grant_copy_pages). */
int xbd_copy_batch_add_pages(struct xbd_grant_ctx *g, struct xbd_copy_batch *b,
			     const uint32_t *refs, unsigned int n, void *buf, void *owner);
/* Copy everything queued in one call, then done(owner, 0 or -errno) for each owner in order:
 * a segment the hypervisor refused fails its own owner only (-EIO). A call that fails as a
 * whole (EFAULT) is retried one call per owner. `done` must not add to `b`. */
void xbd_copy_batch_flush(struct xbd_grant_ctx *g, struct xbd_copy_batch *b,
			  void (*done)(void *owner, int err));
static inline bool xbd_copy_batch_empty(const struct xbd_copy_batch *b)
{
	return b->nr_owners == 0;
}
void xbd_copy_batch_free(struct xbd_copy_batch *b);

/* persistent cache (grant_persist.c) */
int xbd_persist_cache_new(unsigned int max, struct xbd_persist_cache **out);
void xbd_persist_cache_free(struct xbd_grant_ctx *g);
unsigned int xbd_persist_cache_size(const struct xbd_grant_ctx *g);
/* Persistent mode: may this request's pages go through the cache? False when it would evict
 * while the cache is thrashing, or would map more than the bounds allow (see
 * grant_persist.c): serve it with grant copy instead. When true, *credits pages are reserved
 * for prepare. */
bool xbd_persist_admit(struct xbd_grant_ctx *g, const struct xbd_req *req,
		       unsigned int *credits);

#endif
