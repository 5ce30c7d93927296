/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the parts of sim-blkfront's hostile mode share (front_hostile*.c): the attack context,
 * raw access to queue 0's ring behind the honest ring code's back (requests written straight
 * into slots, responses read straight out of them, every response's padding checked), the
 * attacker's own grants and pages, data patterns that name their sector, and the outcome
 * lines. Raw requests are only made while the honest ring code has nothing in flight, and they
 * move its indices the same way, so honest requests can follow.
 */
#ifndef XBD_SIM_FRONT_HOSTILE_INT_H
#define XBD_SIM_FRONT_HOSTILE_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "blkfront.h"
#include "front_hostile.h"

struct hctx;

enum hkind {
	HK_RING, /* runs on a connected ring; closed cleanly afterwards unless it says so */
	HK_XS,   /* does its own handshake (xenstore attacks) */
};

struct hattack {
	const char *name;
	enum hkind kind;
	int (*run)(struct hctx *h);
	const char *what;
};

/* A raw response, as read out of its slot once. */
struct hrsp {
	uint64_t id;
	uint8_t op;
	int16_t status;
};

struct hctx {
	struct front *f;
	const struct hattack *a;
	struct fring *r; /* queue 0 */
	struct sim_domain *dom;
	uint64_t cap; /* disk size, 512-byte sectors */
	uint64_t area; /* first sector of the attack area: the disk's last HAREA_SECTORS */
	uint32_t frame0; /* the attacker's pages: frame0 .. frame0 + FHOSTILE_FRAMES - 1 */
	uint64_t next_id;
	unsigned int step; /* outcome lines printed */
	bool closed; /* the attack closed the connection itself */
	bool persistent; /* the backend may keep our grants mapped after a response */
	uint32_t *deferred; /* grants the backend still mapped after their response */
	unsigned int nr_deferred, cap_deferred;
	unsigned long responses; /* read raw, padding checked */
	unsigned long padding_bad;
	unsigned int failures; /* checks of our own that failed: the run fails */
};

#define HAREA_SECTORS 4096u /* 2 MiB at the end of the disk; honest runs stay below it */
#define HID_BASE 0x4854000000000000ull /* "HT": ids of attack requests */
#define HTIMEOUT_MS 10000u
#define HSECT 512u
#define HPAGE 4096u

/* front_hostile.c */
void hfail(struct hctx *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void hout(struct hctx *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void hout_rsp(struct hctx *h, const struct hrsp *rsp);
/* The backend left Connected by itself: wait for Closing/Closed, print the error node as the
 * outcome (`ring-halted` or `closed`), and remember that the connection is over. */
int hexpect_backend_close(struct hctx *h, const char *outcome);
/* Read the backend's error node (malloc'ed), or NULL. */
char *hread_error_node(struct hctx *h);
/* CPU time (user + system) the --watch-pid process has used, in ms; 0 if unknown. */
uint64_t hcpu_ms(struct hctx *h);
uint64_t hnow_ms(void);

/* front_hostile_raw.c: requests and responses */
void hreq_init(struct hctx *h, struct fabi_req *q, uint8_t op, uint64_t sector);
void hreq_seg(struct fabi_req *q, unsigned int i, uint32_t ref, uint8_t first, uint8_t last);
void *hslot(struct hctx *h, RING_IDX idx);
/* Lay q out in the next free slot (not yet published). */
void hraw_put(struct hctx *h, const struct fabi_req *q);
/* Publish what was put and kick, whatever req_event says. */
void hraw_kick(struct hctx *h);
/* Wait for n responses, reading each once (padding checked); 0 or -ETIMEDOUT. */
int hraw_collect(struct hctx *h, unsigned int n, struct hrsp *out, unsigned int timeout_ms);
/* One request, its response. */
int hraw_do(struct hctx *h, const struct fabi_req *q, struct hrsp *rsp);
/* Send `count` copies of q (fresh ids) in ring-sized batches; prints a `flood:` line. */
int hflood(struct hctx *h, const struct fabi_req *q, unsigned int count);
/* One request sent once and reported as an outcome line, then flooded `more` times. */
int hsend_report(struct hctx *h, const struct fabi_req *q, unsigned int more);
void hdrain_events(struct hctx *h);

/* front_hostile_raw.c: pages, grants, data */
void *hpage(struct hctx *h, unsigned int i); /* the attacker's page i */
uint32_t hframe(struct hctx *h, unsigned int i);
int hgrant(struct hctx *h, unsigned int page, bool readonly, uint32_t *ref);
int hgrant_to(struct hctx *h, uint16_t domid, unsigned int page, bool readonly, uint32_t *ref);
/* End access after the response; a grant the backend keeps (persistent) is ended at close. */
int hungrant(struct hctx *h, uint32_t ref);
/* At close, with the backend Closed: end the kept grants; how many would not end. */
unsigned int hungrant_deferred(struct hctx *h);
void hpat_fill(void *sector_buf, uint64_t lba);
bool hpat_check(const void *sector_buf, uint64_t lba);
void hcanary(void *page);
bool hcanary_intact(const void *buf, size_t len);
/* Write the pattern of sectors [lba, lba + nsect) through the ring (whole pages). */
int hio_write_pattern(struct hctx *h, uint64_t lba, unsigned int nsect);
/* Read [lba, lba + nsect) back; the number of sectors not holding their pattern, or -errno. */
int hio_read_check(struct hctx *h, uint64_t lba, unsigned int nsect);
/* A write and a read-back in the attack area: 0 when the ring still serves correctly. */
int hsanity(struct hctx *h);

/* The attacks, by family. */
int hatk_req_prod_ahead(struct hctx *h);
int hatk_req_prod_backwards(struct hctx *h);
int hatk_rsp_prod_tampered(struct hctx *h);
int hatk_id_reuse(struct hctx *h);
int hatk_nr_segs_zero_read(struct hctx *h);
int hatk_nr_segs_zero_write(struct hctx *h);
int hatk_nr_segs_12(struct hctx *h);
int hatk_nr_segs_255(struct hctx *h);
int hatk_first_after_last(struct hctx *h);
int hatk_last_sect_8(struct hctx *h);
int hatk_sector_overflow(struct hctx *h);
int hatk_range_past_end(struct hctx *h);
int hatk_unknown_op(struct hctx *h);
int hatk_write_readonly(struct hctx *h);
int hatk_discard_overflow(struct hctx *h);

int hatk_double_fetch(struct hctx *h);
int hatk_indirect_rewrite(struct hctx *h);

int hatk_grant_unknown_ref(struct hctx *h);
int hatk_grant_readonly_read(struct hctx *h);
int hatk_grant_ended_early(struct hctx *h);
int hatk_grant_wrong_domid(struct hctx *h);
int hatk_grant_same_page_twice(struct hctx *h);
int hatk_indirect_too_many(struct hctx *h);
int hatk_indirect_bad_page(struct hctx *h);
int hatk_indirect_bad_op(struct hctx *h);

int hatk_xs_order_nonnumeric(struct hctx *h);
int hatk_xs_order_huge(struct hctx *h);
int hatk_xs_queues_nonnumeric(struct hctx *h);
int hatk_xs_queues_huge(struct hctx *h);
int hatk_xs_queues_zero(struct hctx *h);
int hatk_xs_evtchn_nonnumeric(struct hctx *h);
int hatk_xs_evtchn_huge(struct hctx *h);
int hatk_xs_evtchn_unbound(struct hctx *h);
int hatk_xs_missing_ring_ref(struct hctx *h);
int hatk_xs_ring_ref_ungranted(struct hctx *h);
int hatk_xs_ring_ref_readonly(struct hctx *h);
int hatk_xs_unknown_protocol(struct hctx *h);
int hatk_xs_protocol_huge(struct hctx *h);
int hatk_xs_protocol_forged_line(struct hctx *h);
int hatk_xs_state_flap(struct hctx *h);
int hatk_xs_state_cycle(struct hctx *h);
int hatk_xs_keys_rewritten(struct hctx *h);

int hatk_event_storm(struct hctx *h);
int hatk_ring_full_forever(struct hctx *h);
int hatk_frontend_death(struct hctx *h);

/* front_hostile_res.c */
int hatk_queues_max_reconnect(struct hctx *h);

/* front_hostile_xen.c */
int hatk_unshare_mapped(struct hctx *h);

#endif
