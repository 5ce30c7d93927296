/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The simulated blkfront's xenstore access, on libxenstore directly (the simulated xenstored is
 * reached through XENSTORED_PATH): reading typed keys, writing a group of keys in one
 * transaction retried on EAGAIN, and waiting on a watch for the other end's `state`.
 */
#ifndef XBD_SIM_FRONT_XS_H
#define XBD_SIM_FRONT_XS_H

#include <stdbool.h>
#include <stdint.h>

struct xs_handle;

struct fxs_kv {
	const char *key;
	const char *value;
};

/* Bit of a XenbusState in a mask. */
#define FXS_STATE(s) (1u << (s))

/* Read dir/key as a string (malloc'ed). 0, -ENOENT, -errno. */
int fxs_read(struct xs_handle *h, const char *dir, const char *key, char **out);
/* Read dir/key as an unsigned decimal number. 0, -ENOENT, -EINVAL (not a number). */
int fxs_read_ull(struct xs_handle *h, const char *dir, const char *key, unsigned long long *out);
/* As fxs_read_ull, but an absent key reads as `dflt`. */
int fxs_read_ull_or(struct xs_handle *h, const char *dir, const char *key,
		    unsigned long long dflt, unsigned long long *out);
/* Write all pairs under dir in one transaction, retried while it ends with EAGAIN. */
int fxs_write_tx(struct xs_handle *h, const char *dir, const struct fxs_kv *kv, unsigned int n);
/* The same, after removing the keys (or directories) in rm[] in the same transaction. */
int fxs_update_tx(struct xs_handle *h, const char *dir, const char *const *rm, unsigned int n_rm,
		  const struct fxs_kv *kv, unsigned int n);
int fxs_write_state(struct xs_handle *h, const char *dir, int state);

/* Watch dir/state. The watch fd is xs_fileno(h). */
int fxs_watch_state(struct xs_handle *h, const char *dir);
void fxs_unwatch_state(struct xs_handle *h, const char *dir);
/* Drop queued watch events (call when the watch fd is readable). */
void fxs_drain_watch(struct xs_handle *h);
/*
 * Wait until dir/state is in `want` (a mask of FXS_STATE bits); *state gets what it is.
 * -ECONNRESET as soon as it is in `fail`, -ETIMEDOUT after timeout_ms. An absent or unreadable
 * state counts as Unknown (0). Needs fxs_watch_state(h, dir).
 */
int fxs_wait_state(struct xs_handle *h, const char *dir, unsigned int want, unsigned int fail,
		   unsigned int timeout_ms, int *state);
/* The XenbusState's name, for messages. */
const char *fxs_state_name(int state);

#endif
