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
 */
#ifndef XENBLKD_GRANT_H
#define XENBLKD_GRANT_H

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
};

/* Per data thread. */
struct xbd_grant_ctx {
	const struct xbd_xen_ops *xen;
	struct xbd_gnt *gnt;
	uint16_t domid;
	struct xbd_gnt_copy_seg *copy_segs; /* scratch: max segments of one request */
	uint32_t *refs;                     /* scratch: max segments of one request */
	unsigned int max_segs;
	struct xbd_persist_cache *cache;    /* persistent only */
	struct xbd_grant_stats stats;
};

/* One request's data. */
struct xbd_grant_io {
	const struct xbd_req *req;
	bool to_disk;        /* the guest's pages are read (a write to the disk) */
	void *bounce;        /* copy: req->nr_sectors * 512 bytes, contiguous */
	struct iovec *iov;   /* out: where the data is; room for req->nr_segs entries */
	unsigned int niov;
	void *map_addr;      /* map: this request's mapping */
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

/* Copy `n` pages granted by refs[i] (whole pages) into `buf`: indirect descriptor pages. */
int xbd_grant_copy_pages(struct xbd_grant_ctx *g, const uint32_t *refs, unsigned int n,
			 void *buf);

/* persistent cache (grant_persist.c) */
int xbd_persist_cache_new(unsigned int max, struct xbd_persist_cache **out);
void xbd_persist_cache_free(struct xbd_grant_ctx *g);
unsigned int xbd_persist_cache_size(const struct xbd_grant_ctx *g);
/* Persistent mode: may this request's pages go through the cache? False when it would evict
 * while the cache is thrashing (see grant_persist.c): serve it with grant copy instead. */
bool xbd_persist_admit(struct xbd_grant_ctx *g, const struct xbd_req *req);

#endif
