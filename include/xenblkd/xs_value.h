/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Parsers for xenstore values, in pure code. The frontend (a guest) writes some of these keys
 * and may write anything: numbers are strict decimal with an explicit upper bound, nothing is
 * trimmed, and nothing is accepted by accident (no sign, no spaces, no hex, no trailing bytes).
 */
#ifndef XENBLKD_XS_VALUE_H
#define XENBLKD_XS_VALUE_H

#include <stdbool.h>
#include <stdint.h>

#include "xenblkd/storage.h" /* enum xbd_format, struct xbd_backing_file */

/* Strict decimal: 1..20 digits, value <= max. 0, -EINVAL (malformed) or -ERANGE (> max). */
int xbd_parse_uint(const char *s, uint64_t max, uint64_t *out);

/*
 * The toolstack's `params`: "<format>:<path>" as libxl writes it ("aio:", "raw:", "qcow2:"), or
 * a bare absolute path (raw), or "rbd:<target>" (XBD_FORMAT_RBD; *path is the target, which
 * only has to be printable here: the rbd driver parses it). The format comes from this prefix only, never from the image's
 * bytes. *path points into `params`. -EINVAL if malformed, -EPROTONOSUPPORT for a known format
 * the daemon cannot serve. An NBD target (nbd:..., nbds:..., nbd+unix:..., nbds+unix:...)
 * is XBD_FORMAT_NBD with *path the whole string (after a raw prefix such as "aio:", which
 * libxl puts before a qdisk target): the nbd driver parses it at open.
 */
int xbd_parse_params(const char *params, enum xbd_format *fmt, const char **path);

/*
 * A qcow2 backing chain as the administrator writes it (option qcow2-backing, backend key
 * xenblkd-backing): "FORMAT:PATH" entries separated by '|', the top image's backing file
 * first. FORMAT is qcow2 or raw; PATH is absolute, without control characters or '|'. The
 * string is cut in place: the paths point into `s`. Entries are appended to out[*n...];
 * -EINVAL if malformed (nothing appended), -E2BIG past `max` entries in all.
 */
int xbd_parse_backing_chain(char *s, struct xbd_backing_file *out, unsigned int max,
			    unsigned int *n);

/* The toolstack's `mode`: "r" (read-only) or "w" (read-write; libxl also writes "w!"). */
int xbd_parse_mode(const char *mode, bool *readonly);
/* An image format named by the administrator or the toolstack (image-format, xenblkd-format,
 * qcow2-backing-format): exactly "qcow2" or "raw". 0 or -EINVAL. */
int xbd_parse_format(const char *s, enum xbd_format *fmt);
/* "qcow2" or "raw", as xbd_parse_format() reads it. */
const char *xbd_format_name(enum xbd_format fmt);

#endif
