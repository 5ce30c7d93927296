/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A response's id against the requests sent (see front_match.h). */
#include "front_match.h"

enum fmatch fmatch_response(uint64_t id, uint32_t first_seq, uint32_t next_seq,
			    uint32_t nr_slots, bool slot_busy, uint64_t slot_id)
{
	uint32_t slot = (uint32_t)id, seq = (uint32_t)(id >> 32);

	if (slot >= nr_slots)
		return FMATCH_UNKNOWN;
	if (slot_busy && slot_id == id)
		return FMATCH_OUTSTANDING;
	/* Sent: its sequence lies in [first_seq, next_seq), wrap-safe. */
	if ((uint32_t)(seq - first_seq) < (uint32_t)(next_seq - first_seq))
		return FMATCH_TWICE;
	return FMATCH_UNKNOWN;
}
