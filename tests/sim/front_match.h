/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Which request a response's id names, as the simulated blkfront sees it. Ids are
 * (sequence << 32) | slot, the sequence counting up from a base for each request sent, so a
 * response that matches no request in flight can be told apart: an id the frontend did send
 * whose request is no longer outstanding was answered twice (a backend that replays what it
 * had published, e.g. after a restart), any other was never sent (unknown). Both are
 * protocol errors; the restart tests need to know which.
 */
#ifndef XBD_SIM_FRONT_MATCH_H
#define XBD_SIM_FRONT_MATCH_H

#include <stdbool.h>
#include <stdint.h>

enum fmatch {
	FMATCH_OUTSTANDING, /* the request in flight in that slot */
	FMATCH_TWICE,       /* sent, already answered */
	FMATCH_UNKNOWN,     /* never sent */
};

/* first_seq..next_seq-1 are the sequences sent on this ring; slot_busy/slot_id describe
 * the slot the id names (ignored when slot >= nr_slots). */
enum fmatch fmatch_response(uint64_t id, uint32_t first_seq, uint32_t next_seq,
			    uint32_t nr_slots, bool slot_busy, uint64_t slot_id);

#endif
