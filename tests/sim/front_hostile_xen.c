/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The attack only a real Xen can stage (sim-blkfront --xen real --attack unshare-mapped): the
 * guest takes back, through gntalloc, a page it granted, while the backend may still hold it.
 * Xen has no grant revocation: unsharing asks the kernel to end the grant, which it does only
 * once no mapper holds the page (gntalloc defers it). So a backend that still maps the page
 * (a persistent grant) keeps using a page the guest no longer has, harmlessly; one that copies,
 * or maps per request, finds the grant ended and must answer an error.
 *  step 1: a write from page P (granted writable): served;
 *  step 2: P unshared, then a read into P's old ref: what the backend answers says whether it
 *          still held the page (persistent: ok) or had to ask Xen again (error);
 *  step 3: a read into page P+1 published, kicked, and P+1 unshared at once, while the backend
 *          works on it: either answer is right, the backend must answer and keep serving.
 */
#include <errno.h>
#include <string.h>

#include "front_hostile_int.h"
#include "guest_xen.h"
#include "sim_guest.h"

#define HPG_UNSHARE (FHOSTILE_FRAMES - 2u) /* the last two pages: no other step uses them */

static void hux_fill(struct hctx *h, unsigned int page, uint64_t lba)
{
	uint8_t *p = hpage(h, page);
	unsigned int i;

	for (i = 0; i < HPAGE / HSECT; i++)
		hpat_fill(p + i * HSECT, lba + i);
}

static int hux_one(struct hctx *h, uint8_t op, uint32_t ref, uint64_t lba)
{
	struct fabi_req q;

	hreq_init(h, &q, op, lba);
	hreq_seg(&q, 0, ref, 0, 7);
	return hsend_report(h, &q, 0);
}

static int hux_in_flight(struct hctx *h, struct xen_guest *xg, uint64_t lba)
{
	struct fabi_req q;
	struct hrsp rsp;
	uint32_t ref;
	int rc = hgrant(h, HPG_UNSHARE + 1, false, &ref);

	if (rc)
		return rc;
	hreq_init(h, &q, BLKIF_OP_READ, lba);
	hreq_seg(&q, 0, ref, 0, 7);
	hraw_put(h, &q);
	hraw_kick(h);
	rc = xg_unshare_frame(xg, hframe(h, HPG_UNSHARE + 1));
	if (rc) {
		hfail(h, "cannot unshare page %u: %s", HPG_UNSHARE + 1, strerror(-rc));
		return rc;
	}
	rc = hraw_collect(h, 1, &rsp, HTIMEOUT_MS);
	if (rc) {
		hfail(h, "no response to the read whose page was unshared in flight");
		return rc;
	}
	hout(h, "step=%u outcome=in-flight-%s op=%u", ++h->step,
	     rsp.status == BLKIF_RSP_OKAY ? "ok" : "error", rsp.op);
	return 0;
}

int hatk_unshare_mapped(struct hctx *h)
{
	struct xen_guest *xg = sim_domain_xen(h->dom);
	uint64_t lba = h->area + 3072;
	uint32_t ref;
	int rc;

	if (!xg) {
		hfail(h, "unshare-mapped needs a real Xen (--xen real)");
		return -EINVAL;
	}
	hux_fill(h, HPG_UNSHARE, lba);
	rc = hgrant(h, HPG_UNSHARE, false, &ref);
	if (!rc)
		rc = hux_one(h, BLKIF_OP_WRITE, ref, lba);
	if (rc)
		return rc;
	rc = xg_unshare_frame(xg, hframe(h, HPG_UNSHARE));
	if (rc) {
		hfail(h, "cannot unshare page %u: %s", HPG_UNSHARE, strerror(-rc));
		return rc;
	}
	rc = hux_one(h, BLKIF_OP_READ, ref, lba);
	if (!rc)
		rc = hux_in_flight(h, xg, lba + 8);
	return rc;
}
