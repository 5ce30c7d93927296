/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The device object: one virtual block device served by this process. It holds what the
 * toolstack configured (backend path, image, mode), the open disk, and the running data plane,
 * and it carries out the state machine's actions: publish, connect, disconnect, report a fatal
 * error. xenbus.c holds its xenstore reads and writes; vbd.c the life cycle.
 */
#ifndef XENBLKD_VBD_H
#define XENBLKD_VBD_H

#include <stdbool.h>
#include <stdint.h>

#include <time.h>

#include "xenblkd/dataplane.h"
#include "xenblkd/journal.h"
#include "xenblkd/storage.h"
#include "xenblkd/vbd_config.h"
#include "xenblkd/xenbus_fsm.h"
#include "xenblkd/xen_ops.h"

#define XBD_MAX_QUEUES 64u

/* A supervisor that keeps fds across our death (the daemon's fd store, contract E). */
struct xbd_fd_keeper {
	int (*take)(const char *name);
	int (*put)(const char *name, int fd);
	int (*remove)(const char *name);
};

struct xbd_vbd_options {
	const char *backend_path; /* /local/domain/<be>/backend/<kind>/<fe-domid>/<devid> */
	const char *image;        /* overrides the backend's `params` when set */
	const char *engine;       /* I/O engine name; NULL: the default */
	const char *driver;       /* backing driver for tests ("null", "memory"); NULL: params */
	uint32_t sector_size;     /* force a logical sector size on a file; 0: the store's */
	enum xbd_grant_mode grant_mode; /* default; the backend key `grant-mode` overrides */
	unsigned int max_ring_order;    /* max-ring-page-order offered, 0..4 */
	unsigned int max_queues;        /* multi-queue-max-queues offered, 1..XBD_MAX_QUEUES */
	unsigned int max_indirect_segs; /* feature-max-indirect-segments; 0: none */
	unsigned int persistent_max;    /* persistent grants cached per queue */
	unsigned int max_mapped_queue;  /* data grants mapped at once per queue; 0: derived */
	unsigned int max_mapped;        /* ... and by the whole daemon; 0: derived */
	size_t pool_bytes;              /* memory budget per queue */
	unsigned int poll_us;           /* adaptive polling before a sleep; 0: none */
	bool no_flush, no_barrier, no_discard;
	bool allow_local_map;           /* map grants even when frontend and backend are one domain */
	unsigned int closing_timeout_s; /* a frontend stuck in Closing is disconnected */
	/* qcow2 backing files (see struct xbd_disk_config in storage.h) */
	const struct xbd_backing_file *backing_chain;
	unsigned int backing_chain_len;
	const char *const *backing_dirs;
	bool has_backing_dir_format;
	enum xbd_format backing_dir_format;
	bool backing_trust_header_format;
	bool backing_raw_ok;
	uint64_t l2_cache_bytes;
	/* qcow2 metadata written back lazily (--qcow2-write-back): fewer syncs on allocating
	 * writes, but the VBD cannot resume after a crash (docs/restart.md). */
	bool qcow2_write_back;
	/* The NBD export (xenblkd/export.h): on, and the directory of its sockets. */
	bool nbd_export;
	const char *nbd_dir;
	/* The daemon's run directory (util/run.h), for drivers' per-VBD state; NULL: none. */
	const char *run_dir;
	/* Keeps the in-flight journal's memfd when a supervisor can; NULL: the run dir's file. */
	const struct xbd_fd_keeper *fd_keeper;
	/* The top image's format when the administrator (image-format) or the toolstack
	 * (xenblkd-format) stated it: it replaces the params prefix's. Never probed. */
	bool has_image_format;
	enum xbd_format image_format;
};

struct xbd_export;

struct xbd_vbd {
	const struct xbd_xen_ops *xen;
	struct xbd_xs *xs;
	const struct xbd_vbd_options *opt;
	const struct xbd_vbd_config *cfg; /* the toolstack's, read once at start-up */
	char *be_path;
	char *be_home;   /* /local/domain/<be>: where the error node goes */
	char *fe_path;   /* the toolstack's `frontend` (a copy) */
	uint16_t fe_domid;
	uint16_t be_domid;  /* from the backend path */
	uint32_t devid;     /* the backend path's last part (for trace points); 0 if not a number */
	char prefix[48]; /* log prefix: d<fe-domid>/<devid> */
	bool readonly;
	struct xbd_disk *disk;
	const struct xbd_disk_info *info;
	bool offer_flush, offer_barrier, offer_discard, offer_secure; /* what we publish */
	unsigned int info_flags;        /* VDISK_* */
	enum xbd_grant_mode grant_mode; /* in force for this connection */
	struct xbd_dataplane *dp[XBD_MAX_QUEUES];
	unsigned int nr_queues;         /* data planes running */
	char qprefix[XBD_MAX_QUEUES][64];
	int dp_notify_fd;
	time_t closing_since;           /* when we went Closing with the frontend still up */
	bool fe_gone_logged;            /* the frontend domain's death was logged */
	bool paused;                    /* a pause holds: new connections start paused too */
	struct xbd_dataplane_stats past; /* counters of the connections that ended */
	unsigned int max_mapped_queue;  /* in force: see xbd_vbd_mapped_bounds() */
	struct xbd_grant_budget grants; /* mapped grants of all queues, across connections */
	unsigned int connections_ended;
	uint64_t limit_iops, limit_bps; /* per VBD; 0: unlimited */
	/* The image served now (vbd_image.c): path (or driver), format, chain as configured. */
	char *image_path;
	enum xbd_format image_format;
	char *image_backing;            /* FORMAT:PATH|... or NULL */
	bool image_switched;            /* not params' (a swap, a mirror switch, or the key) */
	/* A swapped-in image's chain: the disk's configuration points into it. */
	char *chain_text;
	struct xbd_backing_file *chain_files;
	/* A live mirror (vbd_mirror.c) and how the last one ended. */
	struct xbd_mirror *mirror;
	struct xbd_disk *mirror_dst;
	char *mirror_dest;              /* FORMAT:PATH */
	char mirror_last[320];          /* "" or how the last mirror ended */
	struct xbd_export *export;      /* the NBD export (vbd_export.c), or NULL */
	/* The in-flight journal of the connection (vbd_journal.c, docs/restart.md). */
	void *jmem;
	size_t jsize;
	struct xbd_jq jq[XBD_MAX_QUEUES];
	bool resume_refused;            /* a restart found the device live and could not resume */
};

/* What the frontend asked for at connect time, read and validated by xenbus.c. */
struct xbd_fe_params {
	unsigned int nr_queues;
	unsigned int ring_order;
	uint32_t ring_refs[XBD_MAX_QUEUES][XBD_MAX_RING_PAGES];
	uint32_t ports[XBD_MAX_QUEUES];
	enum xbd_proto proto;
	bool persistent;
};

/* Is `path` a backend directory's path, /local/domain/<be>/backend/<kind>/<fe>/<devid>? */
bool xbd_vbd_path_valid(const char *path);

/* Take the toolstack's configuration (checked: see vbd_config.h; it must outlive the object)
 * and open the image. 0, or -errno (logged; an image that does not open is reported in
 * xenstore, with what to do, and the device moves to Closing). */
int xbd_vbd_init(struct xbd_vbd *v, const struct xbd_xen_ops *xen,
		 const struct xbd_vbd_options *opt, const struct xbd_vbd_config *cfg);
void xbd_vbd_fini(struct xbd_vbd *v);
/* Refuse to serve the device: report `why` in xenstore as xbd_xb_fatal does (the error node,
 * then Closing) without opening anything else. Returns err (a negative errno). */
int xbd_vbd_refuse(const struct xbd_xen_ops *xen, const struct xbd_vbd_options *opt, int err,
		   const char *why);

/* Read the facts the state machine needs. */
int xbd_vbd_read_facts(struct xbd_vbd *v, struct xbd_fsm_facts *f);
/* Carry out the actions. 0, or -errno after reporting a fatal error in xenstore. */
int xbd_vbd_apply(struct xbd_vbd *v, const struct xbd_fsm_actions *a);

/* At start-up: a device whose frontend and backend are both Connected was served by a daemon
 * that died: take over its rings (docs/restart.md), or say why not and leave it. A device in
 * any other state loses a journal left behind. 0, or -errno after a fatal error. */
int xbd_vbd_try_resume(struct xbd_vbd *v);
/* vbd_journal.c */
bool xbd_vbd_resumable(const struct xbd_vbd *v, const char **why);
int xbd_vbd_journal_create(struct xbd_vbd *v, const struct xbd_fe_params *p);
int xbd_vbd_journal_open(struct xbd_vbd *v, const struct xbd_fe_params *p, const char **why);
/* Unmap and delete it; true if a file was there. */
bool xbd_vbd_journal_remove(struct xbd_vbd *v);

/* Stop the data plane, answering what is in flight first. */
void xbd_vbd_disconnect(struct xbd_vbd *v);
/* The data planes signalled: a halted ring (report why, xenbus_dev_fatal style, and close) or
 * a feature the store refused (withdraw it). */
void xbd_vbd_check_dataplanes(struct xbd_vbd *v);
/* Online resize: re-read the image size, publish `sectors`, poke `state`. */
int xbd_vbd_resize(struct xbd_vbd *v);
/* Operations for the control socket. Pause quiesces every queue (no new requests, all in
 * flight answered, flushed) for snapshots; limits are per VBD, shared out over the queues. */
int xbd_vbd_pause(struct xbd_vbd *v, int timeout_ms);
void xbd_vbd_resume(struct xbd_vbd *v);
/* Paused, before an exec: every queue lets go of its engine's references to the images, so
 * that the exec's close releases their locks at once (the new image takes them without
 * waiting); restore after a failed exec. 0 or the first -errno. */
int xbd_vbd_release_files(struct xbd_vbd *v);
int xbd_vbd_restore_files(struct xbd_vbd *v);
void xbd_vbd_set_limits(struct xbd_vbd *v, uint64_t iops, uint64_t bytes_per_s);

/*
 * vbd_image.c. Swap: on a paused VBD, serve `spec` (FORMAT:PATH, the format as the
 * administrator gives it) from now on, with the qcow2 backing chain `chain` (FORMAT:PATH|...,
 * or NULL: none, or the daemon's backing directories), and record it in the backend keys
 * xenblkd-active-image and xenblkd-active-backing. Refused, with one line in `why`, unless
 * it opens (locked as any image), has the same size, sector size and abilities the guest was
 * offered; the old image then keeps serving, still paused. 0 or -errno.
 */
int xbd_vbd_swap_image(struct xbd_vbd *v, const char *spec, const char *chain, char *why,
		       size_t len);
/* Open the disk for `spec` as the VBD opens its images. 0 or -errno (logged). */
int xbd_vbd_open_disk(struct xbd_vbd *v, enum xbd_format fmt, const char *path,
		      const struct xbd_backing_file *chain, unsigned int chain_len,
		      struct xbd_disk **out);
/* Can `d` replace the disk the guest sees? 0, or -EINVAL with the reason in `why`. */
int xbd_vbd_check_replacement(struct xbd_vbd *v, struct xbd_disk *d, char *why, size_t len);
/* Switch every queue (paused) to `d`, record it, close the old disk; on failure everything
 * is as before. The text arguments are copied. */
int xbd_vbd_switch_disk(struct xbd_vbd *v, struct xbd_disk *d, const char *path,
			enum xbd_format fmt, const char *chain, char *why, size_t len);
/* FORMAT:PATH of the image served now, for info. */
void xbd_vbd_image_describe(const struct xbd_vbd *v, char *buf, size_t len);

/* vbd_mirror.c: a live mirror onto `spec` (FORMAT:PATH, an existing image of the same size);
 * its status; cancel; and what the control thread does when the mirror signals (ready:
 * switch; failed: clean up). 0 or -errno, with the reason in `why`. */
int xbd_vbd_mirror_start(struct xbd_vbd *v, const char *spec, char *why, size_t len);
int xbd_vbd_mirror_cancel(struct xbd_vbd *v, char *why, size_t len);
void xbd_vbd_mirror_poll(struct xbd_vbd *v);
/* Once no queue uses it any more (they are stopped): free the mirror, noting how it ended. */
void xbd_vbd_mirror_forget(struct xbd_vbd *v);
/* xenbus.c: write xenblkd-active-image / -backing (the latter removed when NULL). */
int xbd_xb_record_active(struct xbd_vbd *v, const char *image, const char *backing);
/* The mapped-grant bounds in force, per queue and per daemon (options, else derived from
 * the persistent cache's size: twice it per queue, four times it (at least a queue's bound)
 * per daemon). */
void xbd_vbd_mapped_bounds(const struct xbd_vbd_options *opt, unsigned int *per_queue,
			   unsigned int *per_daemon);
/* Per-queue statistics into out[0..nr_queues-1]; returns the number of queues. */
unsigned int xbd_vbd_get_stats(struct xbd_vbd *v, struct xbd_dataplane_stats *out,
			       unsigned int max);

/* vbd_export.c: when the options ask for it, export the disk on NBD sockets (before the
 * device is published: the hotplug script looks for them at InitWait). 0, or -errno after
 * reporting the failure in xenstore as a fatal error. */
int xbd_vbd_export_start(struct xbd_vbd *v);
/* The export's part of pause, resume and an image switch (the VBD is paused). */
int xbd_vbd_export_pause(struct xbd_vbd *v, int timeout_ms);
void xbd_vbd_export_resume(struct xbd_vbd *v);
void xbd_vbd_export_switch(struct xbd_vbd *v, struct xbd_disk *d);
void xbd_vbd_export_stop(struct xbd_vbd *v);

/* True while the closing timer runs (the control loop then wakes up every second). */
bool xbd_vbd_closing_pending(const struct xbd_vbd *v);

/* xenbus.c */
int xbd_xb_publish_features(struct xbd_vbd *v);
int xbd_xb_publish_disk(struct xbd_vbd *v);
int xbd_xb_switch_state(struct xbd_vbd *v, enum xenbus_state s);
int xbd_xb_read_frontend(struct xbd_vbd *v, struct xbd_fe_params *p);
/* Turn features the store refused off in xenstore. */
int xbd_xb_withdraw(struct xbd_vbd *v, unsigned int lost);
/* Like Linux's xenbus_dev_fatal: the reason goes to <be_home>/error/<rel path>/error and the
 * device moves to Closing. */
void xbd_xb_fatal(struct xbd_vbd *v, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* A key under the backend or frontend dir, read into a malloc'd string. */
int xbd_xb_read(struct xbd_vbd *v, const char *dir, const char *key, char **val);

#endif
