/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The daemon's only door to Xen: xenstore, grant tables and event channels behind one ops
 * table. xbd_xen_real_ops, built in, uses libxenstore, libxengnttab and libxenevtchn. Another
 * platform is a module the daemon loads only when asked for it by name (--xen sim): the
 * simulated platform of the tests (src/sim/, docs/simulation.md) uses the same libxenstore
 * against a real xenstored started by the test tooling, and simulated grant tables and event
 * channels, so the whole daemon runs end to end on a machine without Xen. Every function
 * returns 0 or -errno unless it says otherwise. Handles are per thread: a data thread opens its
 * own gnt and evtchn handles, so no call here needs a lock.
 */
#ifndef XENBLKD_XEN_OPS_H
#define XENBLKD_XEN_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct xbd_xs;
struct xbd_gnt;
struct xbd_evtchn;

/* One xenstore permission entry, as in libxenstore's struct xs_permissions. */
enum xbd_xs_perm_bits {
	XBD_XS_PERM_NONE = 0,
	XBD_XS_PERM_READ = 1,
	XBD_XS_PERM_WRITE = 2,
};
struct xbd_xs_perm {
	uint16_t domid;
	unsigned int perms; /* XBD_XS_PERM_* */
};

/* The most segments the data plane hands gnt_copy at once (a loop pass's batch); the real
 * ops pass that many to the kernel in one ioctl. */
#define XBD_GNT_COPY_BATCH 512u

/* One grant-copy segment. Offset + len must stay within one 4 KiB guest page. */
struct xbd_gnt_copy_seg {
	void *buf;       /* local memory: source when to_guest, destination otherwise */
	uint32_t ref;    /* grant reference in the granting domain's table */
	uint16_t domid;  /* granting domain */
	uint16_t offset; /* byte offset within the granted page */
	uint16_t len;    /* bytes */
	bool to_guest;   /* true: buf -> guest page (a READ's data); false: guest page -> buf */
	int16_t status;  /* out: GNTST_okay (0) or a negative GNTST_* code */
};

/* Transaction id; XBD_XS_NO_TX means "not in a transaction" (libxenstore's XBT_NULL). */
#define XBD_XS_NO_TX 0u

struct xbd_xen_ops {
	const char *name; /* "real", or the module's platform ("sim") */

	/* Can the daemon run on this platform? Checked at start-up, before anything else touches
	 * xenstore. 0, or -errno with one line in `why` that says what to do. */
	int (*probe)(char *why, size_t len);

	/* --- xenstore --- */
	int (*xs_open)(struct xbd_xs **out);
	void (*xs_close)(struct xbd_xs *xs);
	/* *val is malloc'd and NUL-terminated; the caller frees it. -ENOENT if absent. */
	int (*xs_read)(struct xbd_xs *xs, uint32_t tx, const char *path, char **val);
	int (*xs_write)(struct xbd_xs *xs, uint32_t tx, const char *path, const char *val);
	int (*xs_rm)(struct xbd_xs *xs, uint32_t tx, const char *path);
	/* *names is one malloc'd block (free it once), *n entries. */
	int (*xs_directory)(struct xbd_xs *xs, uint32_t tx, const char *path, char ***names,
			    unsigned int *n);
	int (*xs_set_perms)(struct xbd_xs *xs, uint32_t tx, const char *path,
			    const struct xbd_xs_perm *perms, unsigned int n);
	int (*xs_watch)(struct xbd_xs *xs, const char *path, const char *token);
	int (*xs_unwatch)(struct xbd_xs *xs, const char *path, const char *token);
	/* Non-blocking. 0 with malloc'd *path and *token (caller frees both), -EAGAIN if none. */
	int (*xs_read_watch)(struct xbd_xs *xs, char **path, char **token);
	int (*xs_fd)(struct xbd_xs *xs); /* readable when a watch event may be waiting */
	int (*xs_tx_begin)(struct xbd_xs *xs, uint32_t *tx);
	int (*xs_tx_end)(struct xbd_xs *xs, uint32_t tx, bool abort); /* -EAGAIN: redo it */
	/* 1 if the domain exists (is introduced to xenstore), 0 if it is gone, or -errno. */
	int (*xs_domain_exists)(struct xbd_xs *xs, uint16_t domid);

	/* --- grant tables --- */
	int (*gnt_open)(struct xbd_gnt **out);
	void (*gnt_close)(struct xbd_gnt *gnt);
	/* Map n refs of one domain contiguously at *addr (n * 4096 bytes). All or nothing. */
	int (*gnt_map)(struct xbd_gnt *gnt, uint16_t domid, const uint32_t *refs, unsigned int n,
		       bool writable, void **addr);
	int (*gnt_unmap)(struct xbd_gnt *gnt, void *addr, unsigned int n);
	/* Returns 0 when the batch was attempted: each segment's status says how it went.
	 * A negative return means no segment was attempted. */
	int (*gnt_copy)(struct xbd_gnt *gnt, struct xbd_gnt_copy_seg *segs, unsigned int n);

	/* --- event channels --- */
	int (*evtchn_open)(struct xbd_evtchn **out);
	void (*evtchn_close)(struct xbd_evtchn *evt);
	int (*evtchn_bind)(struct xbd_evtchn *evt, uint16_t domid, uint32_t remote_port,
			   uint32_t *local_port);
	int (*evtchn_unbind)(struct xbd_evtchn *evt, uint32_t local_port);
	int (*evtchn_notify)(struct xbd_evtchn *evt, uint32_t local_port);
	/* Non-blocking. 0 and *port for a delivered event, after which that port is masked until
	 * evtchn_unmask; -EAGAIN if nothing is pending. Kicks coalesce while masked. */
	int (*evtchn_pending)(struct xbd_evtchn *evt, uint32_t *port);
	int (*evtchn_unmask)(struct xbd_evtchn *evt, uint32_t port);
	int (*evtchn_fd)(struct xbd_evtchn *evt);
};

extern const struct xbd_xen_ops xbd_xen_real_ops;

/* A platform module exports this function: given the real table (whose xenstore client it may
 * reuse), it returns its own table, or NULL. */
#define XBD_XEN_MODULE_ENTRY "xbd_xen_module_ops"
typedef const struct xbd_xen_ops *xbd_xen_module_fn(const struct xbd_xen_ops *real);

#endif
