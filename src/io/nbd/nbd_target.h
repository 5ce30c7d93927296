/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * NBD targets: the `params` string that names an NBD export (docs/storage.md, "NBD"), parsed
 * strictly into where to connect, which export, how long to wait and whether TLS is required.
 * The forms are QEMU's and libnbd's: `nbd:unix:/path[:exportname=NAME][:key=value...]`,
 * `nbd://host[:port]/export[?key=value&...]`, `nbd+unix:///export?socket=/path[&...]`, and the
 * TLS variants `nbds://` and `nbds+unix://`. Pure: no libnbd, no I/O, so it is fuzzed alone.
 */
#ifndef XENBLKD_NBD_TARGET_H
#define XENBLKD_NBD_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define XBD_NBD_MAX_TARGET 8192
#define XBD_NBD_MAX_EXPORT 4096  /* the protocol's limit on an export name */
#define XBD_NBD_MAX_SOCKET 108   /* sun_path, with its NUL */
#define XBD_NBD_MAX_HOST 256
#define XBD_NBD_MAX_PATH 1024    /* a TLS certificate directory or PSK file */
#define XBD_NBD_DEFAULT_TIMEOUT_S 30
#define XBD_NBD_MAX_TIMEOUT_S 3600

enum xbd_nbd_transport {
	XBD_NBD_UNIX,
	XBD_NBD_TCP,
};

struct xbd_nbd_target {
	enum xbd_nbd_transport transport;
	char socket[XBD_NBD_MAX_SOCKET];     /* UNIX: an absolute path */
	char host[XBD_NBD_MAX_HOST];         /* TCP: a name, an IPv4 or an IPv6 address */
	char port[6];                        /* TCP: 1..65535, default 10809 */
	char export_name[XBD_NBD_MAX_EXPORT + 1];
	uint32_t timeout_s;                  /* how long an I/O may wait for the server */
	bool tls;                            /* TLS required (nbds, or a tls-* key) */
	char tls_certificates[XBD_NBD_MAX_PATH]; /* "" or a directory */
	char tls_psk[XBD_NBD_MAX_PATH];      /* "" or a PSK file */
	char tls_username[64];               /* "" or the PSK user name */
	bool cleartext_ok;                   /* cleartext=yes: TCP to a remote host without TLS */
};

/* Does `s` name an NBD target (by its scheme), whether or not it is valid? */
bool xbd_nbd_is_target(const char *s);

/*
 * Parse `s` into *t. 0, or -EINVAL with one line saying why in `why` (never echoing more than
 * a bounded, escaped part of the input). Refused: anything but the forms above; a relative
 * or overlong socket path; a host, port or export out of bounds; control characters and bad
 * percent escapes; unknown, empty or repeated keys; a timeout outside 1..3600 s; TLS keys
 * with cleartext=yes; and plain TCP to a host that is not loopback, unless cleartext=yes.
 */
int xbd_nbd_target_parse(const char *s, struct xbd_nbd_target *t, char *why, size_t len);

/* Is `host` a loopback name or address (localhost, 127.0.0.0/8, ::1)? */
bool xbd_nbd_host_is_loopback(const char *host);

#endif
