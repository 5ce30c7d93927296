// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tests/xen/domain-kill.c: destroys a domain behind the toolstack's back (xenlab-domain-kill).
 *
 * `xl destroy` removes a guest's device directories from xenstore before it asks Xen to destroy
 * the domain, so a backend that watches its directory leaves before the domain is gone and never
 * has to rely on @releaseDomain. A toolstack that crashed, or a domain that Xen kills, gives no
 * such notice. This calls XEN_DOMCTL_destroydomain (xc_domain_destroy) directly, as the
 * toolstack's last step would, so that the backend's only news is @releaseDomain. Xen keeps the
 * domain as a zombie while anyone still maps its pages; pv-guest.sh (part vanish) checks that it
 * disappears once xenblkd has seen it go.
 *
 * Usage: xenlab-domain-kill DOMID. Built by tests/xen/run.sh for dom0.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xenctrl.h>

int main(int argc, char **argv)
{
	xc_interface *xc;
	char *end;
	unsigned long domid;
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DOMID\n", argv[0]);
		return 2;
	}
	errno = 0;
	domid = strtoul(argv[1], &end, 10);
	if (errno || *end || end == argv[1] || domid == 0 || domid >= DOMID_FIRST_RESERVED) {
		fprintf(stderr, "%s: not a guest domain id: %s\n", argv[0], argv[1]);
		return 2;
	}
	xc = xc_interface_open(NULL, NULL, 0);
	if (!xc) {
		fprintf(stderr, "%s: cannot open the Xen control interface: %s\n", argv[0],
			strerror(errno));
		return 1;
	}
	rc = xc_domain_destroy(xc, (uint32_t)domid);
	if (rc)
		fprintf(stderr, "%s: destroying domain %lu: %s\n", argv[0], domid, strerror(errno));
	xc_interface_close(xc);
	return rc ? 1 : 0;
}
