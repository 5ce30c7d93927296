/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The pin ledger of a simulated grant handle (xen_sim_pins.c): what a mapper that dies
 * without unmapping leaves pinned, released by the next handle opened, as Xen's gntdev
 * releases a dead process's mappings.
 */
#ifndef XENBLKD_SIM_PINS_H
#define XENBLKD_SIM_PINS_H

#include <stdbool.h>
#include <stdint.h>

struct sim_ledger;

/* A new ledger under DIR/pins, locked for the life of the handle. 0 or -errno. */
int sim_ledger_open(const char *dir, struct sim_ledger **out);
void sim_ledger_close(struct sim_ledger *l);
/* Count one pin more (+1) or less (-1) of ref in the domain incarnation (domid, ino). */
void sim_ledger_add(struct sim_ledger *l, uint16_t domid, uint32_t ino, uint32_t ref,
		    bool write, int delta);

typedef void (*sim_release_fn)(void *ctx, uint16_t domid, uint32_t ino, uint32_t ref,
			       bool write, uint32_t count);
/* Release, through fn, what the ledgers of dead handles under DIR/pins hold, and remove them. */
void sim_ledger_reap(const char *dir, sim_release_fn fn, void *ctx);

#endif
