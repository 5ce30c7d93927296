/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * sim-blkfront's hostile mode (front_hostile.h): the table of attacks, the session around a
 * ring attack (honest handshake, a sanity check of the ring, the attack, the same check again,
 * a clean close), and what is checked after every attack whatever the backend decided: the
 * padding of every response read, and that no grant of ours is still pinned by the backend
 * once it is Closed (the simulated grant table shows GTF_reading/GTF_writing only while a
 * mapper holds the page). The attacks themselves live in front_hostile_*.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xenstore.h>
#include <xen/io/xenbus.h>

#include "front_hostile_int.h"
#include "sim_guest.h"

static const struct hattack hattacks[] = {
	{ "req-prod-ahead", HK_RING, hatk_req_prod_ahead, "req_prod far more than a ring ahead" },
	{ "req-prod-backwards", HK_RING, hatk_req_prod_backwards, "req_prod moved backwards" },
	{ "rsp-prod-tampered", HK_RING, hatk_rsp_prod_tampered, "rsp_prod rewritten" },
	{ "id-reuse", HK_RING, hatk_id_reuse, "two requests in flight with one id" },
	{ "nr-segs-zero-read", HK_RING, hatk_nr_segs_zero_read, "READ with no segment" },
	{ "nr-segs-zero-write", HK_RING, hatk_nr_segs_zero_write, "WRITE with no segment" },
	{ "nr-segs-12", HK_RING, hatk_nr_segs_12, "12 segments in a direct request" },
	{ "nr-segs-255", HK_RING, hatk_nr_segs_255, "255 segments in a direct request" },
	{ "first-after-last", HK_RING, hatk_first_after_last, "first_sect > last_sect" },
	{ "last-sect-8", HK_RING, hatk_last_sect_8, "a segment with last_sect 8" },
	{ "sector-overflow", HK_RING, hatk_sector_overflow, "sector + length wraps at 2^64" },
	{ "range-past-end", HK_RING, hatk_range_past_end, "a range past the end of the disk" },
	{ "unknown-op", HK_RING, hatk_unknown_op, "operation codes 4, 7 and 200" },
	{ "write-readonly", HK_RING, hatk_write_readonly, "a write to a read-only disk" },
	{ "discard-overflow", HK_RING, hatk_discard_overflow, "discards whose range wraps" },
	{ "double-fetch", HK_RING, hatk_double_fetch, "slot fields flipped while being read" },
	{ "grant-unknown-ref", HK_RING, hatk_grant_unknown_ref, "refs not granted or past the table" },
	{ "grant-readonly-read", HK_RING, hatk_grant_readonly_read, "a read into a read-only page" },
	{ "grant-ended-early", HK_RING, hatk_grant_ended_early, "access ended before the request" },
	{ "grant-wrong-domid", HK_RING, hatk_grant_wrong_domid, "pages granted to another domain" },
	{ "grant-same-page-twice", HK_RING, hatk_grant_same_page_twice, "one page twice (valid)" },
	{ "indirect-too-many", HK_RING, hatk_indirect_too_many, "more segments than advertised" },
	{ "indirect-bad-page", HK_RING, hatk_indirect_bad_page, "an indirect page not granted" },
	{ "indirect-bad-op", HK_RING, hatk_indirect_bad_op, "indirect_op not READ or WRITE" },
	{ "indirect-rewrite", HK_RING, hatk_indirect_rewrite, "segment lists flipped under copy" },
	{ "xs-order-nonnumeric", HK_XS, hatk_xs_order_nonnumeric, "ring-page-order=two" },
	{ "xs-order-huge", HK_XS, hatk_xs_order_huge, "ring-page-order=4294967296" },
	{ "xs-queues-nonnumeric", HK_XS, hatk_xs_queues_nonnumeric, "multi-queue-num-queues=-1" },
	{ "xs-queues-huge", HK_XS, hatk_xs_queues_huge, "multi-queue-num-queues=65536" },
	{ "xs-queues-zero", HK_XS, hatk_xs_queues_zero, "multi-queue-num-queues=0" },
	{ "xs-evtchn-nonnumeric", HK_XS, hatk_xs_evtchn_nonnumeric, "event-channel=0x5" },
	{ "xs-evtchn-huge", HK_XS, hatk_xs_evtchn_huge, "event-channel=4294967296" },
	{ "xs-evtchn-unbound", HK_XS, hatk_xs_evtchn_unbound, "event-channel=4294967295" },
	{ "xs-missing-ring-ref", HK_XS, hatk_xs_missing_ring_ref, "no ring-ref at all" },
	{ "xs-ring-ref-ungranted", HK_XS, hatk_xs_ring_ref_ungranted, "ring-ref never granted" },
	{ "xs-ring-ref-readonly", HK_XS, hatk_xs_ring_ref_readonly, "the ring granted read-only" },
	{ "xs-unknown-protocol", HK_XS, hatk_xs_unknown_protocol, "protocol=x86_16-abi" },
	{ "xs-protocol-huge", HK_XS, hatk_xs_protocol_huge, "a 3000-byte protocol" },
	{ "xs-protocol-forged-line", HK_XS, hatk_xs_protocol_forged_line,
	  "a protocol forging a log line" },
	{ "xs-state-flap", HK_XS, hatk_xs_state_flap, "Initialised <-> Closing 1000 times" },
	{ "xs-state-cycle", HK_XS, hatk_xs_state_cycle, "full reconnect cycles, 300 times" },
	{ "xs-keys-rewritten", HK_RING, hatk_xs_keys_rewritten, "keys rewritten once Connected" },
	{ "event-storm", HK_RING, hatk_event_storm, "10^6 kicks for nothing" },
	{ "ring-full-forever", HK_RING, hatk_ring_full_forever, "a full ring, responses unread" },
	{ "frontend-death", HK_RING, hatk_frontend_death, "dies with requests in flight" },
	{ "queues-max-reconnect", HK_XS, hatk_queues_max_reconnect,
	  "10 connections with every queue offered" },
	{ "unshare-mapped", HK_RING, hatk_unshare_mapped,
	  "--xen real: pages unshared (gntalloc) the backend may hold" },
};

#define HNR_ATTACKS (sizeof(hattacks) / sizeof(hattacks[0]))

static const struct hattack *hfind(const char *name)
{
	unsigned int i;

	for (i = 0; name && i < HNR_ATTACKS; i++) {
		if (!strcmp(hattacks[i].name, name))
			return &hattacks[i];
	}
	return NULL;
}

int fhostile_check_name(const char *name)
{
	return hfind(name) ? 0 : -EINVAL;
}

void fhostile_list(FILE *out)
{
	unsigned int i;

	for (i = 0; i < HNR_ATTACKS; i++)
		fprintf(out, "%-24s %s\n", hattacks[i].name, hattacks[i].what);
}

/* blkif.h: id (8), operation (1), pad, status (2), and on x86_64 four more bytes of pad. */
bool fhostile_rsp_padding_zero(enum fabi abi, const void *slot)
{
	const uint8_t *b = slot;
	size_t size = abi == FABI_X86_32 || (abi == FABI_NATIVE && sizeof(blkif_response_t) == 12)
			      ? 12 : 16;
	size_t i;

	if (b[9])
		return false;
	for (i = 12; i < size; i++) {
		if (b[i])
			return false;
	}
	return true;
}

/* ---- outcome lines ---- */

void hfail(struct hctx *h, const char *fmt, ...)
{
	va_list ap;

	h->failures++;
	fprintf(stderr, "sim-blkfront: attack %s: ", h->a->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void hout(struct hctx *h, const char *fmt, ...)
{
	va_list ap;

	printf("attack: name=%s ", h->a->name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

void hout_rsp(struct hctx *h, const struct hrsp *rsp)
{
	hout(h, "step=%u outcome=%s id=%#llx op=%u status=%d", ++h->step,
	     rsp->status == BLKIF_RSP_OKAY ? "ok-response" : "error-response",
	     (unsigned long long)rsp->id, rsp->op, rsp->status);
}

uint64_t hnow_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* utime + stime of the whole process, fields 14 and 15 of /proc/PID/stat. */
uint64_t hcpu_ms(struct hctx *h)
{
	unsigned long long ut = 0, st = 0;
	char path[64], buf[1024], *p;
	FILE *fp;
	size_t n;

	if (h->f->opt.watch_pid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%ld/stat", h->f->opt.watch_pid);
	fp = fopen(path, "r");
	if (!fp)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	/* After the command: state ppid pgrp session tty tpgid flags minflt cminflt majflt
	 * cmajflt utime stime. */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
			 &st) != 2)
		return 0;
	return (ut + st) * 1000ull / (unsigned long long)sysconf(_SC_CLK_TCK);
}

/* /local/domain/B/backend/vbd/F/D -> /local/domain/B/error/backend/vbd/F/D/error */
char *hread_error_node(struct hctx *h)
{
	const char *be = h->f->be_dir, *rel = strstr(be, "/backend/");
	char *dir, *msg = NULL;

	if (!rel || asprintf(&dir, "%.*s/error%s", (int)(rel - be), be, rel) < 0)
		return NULL;
	if (fxs_read(h->f->xs, dir, "error", &msg))
		msg = NULL;
	free(dir);
	return msg;
}

int hexpect_backend_close(struct hctx *h, const char *outcome)
{
	unsigned int want = FXS_STATE(XenbusStateClosing) | FXS_STATE(XenbusStateClosed);
	int state = 0, rc;
	char *err;

	h->closed = true;
	rc = fxs_wait_state(h->f->xs, h->f->be_dir, want, 0, HTIMEOUT_MS, &state);
	err = hread_error_node(h);
	hout(h, "step=%u outcome=%s backend=%s error=\"%s\"", ++h->step,
	     rc ? "still-open" : outcome, fxs_state_name(state), err ? err : "");
	free(err);
	return 0;
}

/* ---- after the attack ---- */

static void hscan_grants(struct hctx *h)
{
	unsigned int pinned = 0, live = 0;
	grant_entry_v1_t *e;
	uint32_t ref;

	for (ref = 0; (e = sim_grant_entry(h->dom, ref)) != NULL; ref++) {
		uint16_t flags = __atomic_load_n(&e->flags, __ATOMIC_ACQUIRE);

		pinned += (flags & (GTF_reading | GTF_writing)) != 0;
		live += (flags & GTF_type_mask) == GTF_permit_access;
	}
	printf("grants: pinned=%u live=%u\n", pinned, live);
	if (pinned)
		hfail(h, "%u grants still pinned by the backend after it closed", pinned);
	if (live)
		hfail(h, "%u grants could not be ended", live);
}

static void hreport(struct hctx *h)
{
	unsigned int stuck = hungrant_deferred(h);

	if (stuck)
		hfail(h, "%u grants the backend kept mapped never came free", stuck);
	hscan_grants(h);
	printf("padding: responses=%lu nonzero=%lu\n", h->responses, h->padding_bad);
	if (h->padding_bad)
		hfail(h, "%lu responses with non-zero padding (XSA-216)", h->padding_bad);
	printf("hostile: attack=%s failures=%u\n", h->a->name, h->failures);
}

/* Honest handshake, the attack on queue 0, then (if the ring survived) the ring must still
 * serve correctly, and we close as a guest would. */
static int hring_session(struct hctx *h)
{
	struct front *f = h->f;
	int rc = front_connect(f);

	if (rc) {
		front_abandon(f);
		hfail(h, "the honest handshake failed: %s", strerror(-rc));
		return rc;
	}
	h->r = &f->conn.ring[0];
	h->cap = f->disk.sectors;
	if (h->cap < 2 * HAREA_SECTORS) {
		hfail(h, "the disk (%llu sectors) is too small", (unsigned long long)h->cap);
		front_close(f);
		return -EINVAL;
	}
	h->area = h->cap - HAREA_SECTORS;
	if (hsanity(h))
		hfail(h, "the ring did not serve correctly before the attack");
	rc = h->a->run(h);
	if (rc)
		hfail(h, "the attack could not be carried out: %s", strerror(-rc));
	if (!h->closed) {
		rc = hsanity(h);
		hout(h, "after=%s", rc ? "broken" : "served");
	}
	rc = front_close(f);
	if (rc)
		hfail(h, "the close after the attack failed: %s", strerror(-rc));
	return 0;
}

int fhostile_run(struct front *f)
{
	struct hctx h;

	memset(&h, 0, sizeof(h));
	h.f = f;
	h.a = hfind(f->opt.attack);
	h.dom = f->dom;
	h.frame0 = f->hostile_first;
	h.next_id = HID_BASE + 1;
	h.persistent = f->ask.persistent;
	if (!h.a)
		return -EINVAL;
	if (h.a->kind == HK_RING)
		hring_session(&h);
	else
		h.a->run(&h);
	hreport(&h);
	free(h.deferred);
	f->stats.stopped += h.failures;
	return h.failures ? -EPROTO : 0;
}
