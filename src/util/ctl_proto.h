/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The control socket's protocol, the one thing the daemon (src/daemon/ctl_server.c) and
 * xenblkctl (src/xenblkctl/client.c) share about it: a client sends one line, "verb [args]",
 * of at most XBD_CTL_MAX_REQUEST bytes, reads one JSON object back, and the server closes the
 * connection. Either side gives up on a peer that stalls for XBD_CTL_IO_TIMEOUT_MS. The socket
 * itself is named by run.h.
 */
#ifndef XENBLKD_UTIL_CTL_PROTO_H
#define XENBLKD_UTIL_CTL_PROTO_H

#define XBD_CTL_MAX_REQUEST 8448 /* two paths of PATH_MAX and a verb (resume --image) */
#define XBD_CTL_IO_TIMEOUT_MS 2000

#endif
