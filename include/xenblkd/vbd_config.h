/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the toolstack configured for one VBD: every key of its backend directory the daemon
 * uses, read from xenstore in one place (vbd_config.c), once, at start-up, and checked there.
 * The daemon's start-up matches [vbd] sections of its configuration file on it and layers the
 * per-VBD settings over its options; the device object serves what it says. A new toolstack
 * key is read there and nowhere else. The frontend's keys are not here: they are read at
 * connect time (xenbus.c).
 */
#ifndef XENBLKD_VBD_CONFIG_H
#define XENBLKD_VBD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xenblkd/grant.h"
#include "xenblkd/storage.h"
#include "xenblkd/xen_ops.h"

/* The longest a data thread polls before it sleeps (xenblkd-poll-us, --poll-us). */
#define XBD_POLL_US_MAX 1000u

struct xbd_vbd_config {
	/* Required keys. */
	char *frontend;            /* `frontend`: the frontend's directory */
	uint16_t frontend_id;      /* `frontend-id` */
	/* `params`, as written and parsed: the image, its format from the prefix only. */
	char *params;              /* NULL if absent */
	const char *image;         /* points into params; NULL if params is absent or bad */
	enum xbd_format format;
	int params_err;            /* 0, -ENOENT (absent), -EINVAL, -EPROTONOSUPPORT */
	/* Optional keys, with their defaults when absent. */
	bool readonly;             /* `mode` r (default w) */
	char *type;                /* `type` (phy, file, ...); NULL if absent; informational */
	bool cdrom;                /* `device-type` cdrom */
	bool removable;            /* `removable` 1 */
	bool discard_enable;       /* `discard-enable` (default 1) */
	bool direct_io_safe;       /* `direct-io-safe` (default 0) */
	bool has_grant_mode;       /* `grant-mode` given: it overrides the command line */
	enum xbd_grant_mode grant_mode;
	bool has_limit_iops;       /* `limit-iops`: requests per second; 0 is no limit */
	uint64_t limit_iops;
	bool has_limit_bps;        /* `limit-bps`: bytes per second, K/M/G suffixes; 0 is none */
	uint64_t limit_bps;
	bool has_nbd_export;       /* `nbd-export` (0 or 1) given: it overrides the options */
	bool nbd_export;
	bool has_poll_us;          /* `xenblkd-poll-us`: adaptive polling, 0..XBD_POLL_US_MAX */
	unsigned int poll_us;
	char *backing;             /* `xenblkd-backing`: the qcow2 backing chain, checked; NULL */
	/* `xenblkd-format` (qcow2 or raw): the toolstack says what the image is, whatever the
	 * params prefix (libxl's tap path can only say aio:, i.e. raw); it wins over the
	 * administrator's image-format. */
	bool has_format_key;
	enum xbd_format format_key;
	/* `xenblkd-active-image` (FORMAT:PATH) and `xenblkd-active-backing` (its chain, as
	 * xenblkd-backing): written by the daemon when it switched to another image (a resume
	 * with --image, a mirror's switch), served in preference to params and --image. */
	char *active;              /* the key as written; NULL if absent */
	const char *active_image;  /* points into active; NULL if absent */
	enum xbd_format active_format;
	char *active_backing;      /* the key as written; NULL if absent */
	char *active_chain_text;   /* parsed copy the chain's paths point into */
	struct xbd_backing_file active_chain[XBD_MAX_BACKING_CHAIN];
	unsigned int active_chain_len;
	/* Not in the backend directory: the frontend domain's `name`, for [vbd] match-domain. */
	char *domain;              /* NULL if unknown */
};

/*
 * Read the backend directory `backend` on a connection of its own, and check every value but
 * `params` (see below). 0; -ENOENT when the directory does not exist (nothing else is read);
 * -EINVAL when a value is bad, with one line in `why` that names the key and says what is
 * wrong (the first one found; the rest of the struct is filled as far as it could be); another
 * -errno when xenstore fails (`why` says so). Writes nothing. Free with xbd_vbd_config_free()
 * in every case.
 */
int xbd_vbd_config_read(const struct xbd_xen_ops *xen, const char *backend,
			struct xbd_vbd_config *c, char *why, size_t len);
/* For a daemon that serves `params` (not an image or driver of its own): 0, or -EINVAL
 * (absent or malformed) or -EPROTONOSUPPORT (a format not served, "convert it with ...") with
 * one line in `why`. */
int xbd_vbd_config_check_params(const struct xbd_vbd_config *c, char *why, size_t len);
void xbd_vbd_config_free(struct xbd_vbd_config *c);

#endif
