/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Parsing NBD targets (nbd_target.h). The string comes from the toolstack's `params` (root's
 * configuration, not a guest's), but it still decides where the daemon connects and with
 * which credentials, so it is parsed strictly: every field is bounded, percent escapes are
 * decoded once and the result checked, unknown or repeated keys are errors, and cleartext TCP
 * to another machine is refused unless the administrator says so.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nbd_target.h"
#include "xenblkd/storage.h"

struct parse {
	struct xbd_nbd_target *t;
	char *why;
	size_t len;
	unsigned int seen;  /* bit per key, against repeats */
	bool tls_key;       /* a tls-* key was given */
};

static int refuse(struct parse *p, const char *fmt, const char *what, size_t n)
{
	char shown[80];
	size_t k = 0;

	for (size_t i = 0; i < n && what && what[i] && k + 5 < sizeof(shown); i++) {
		unsigned char c = (unsigned char)what[i];

		if (c < 0x20 || c >= 0x7f)
			k += (size_t)snprintf(shown + k, sizeof(shown) - k, "\\x%02x", c);
		else
			shown[k++] = (char)c;
	}
	shown[k] = '\0';
	snprintf(p->why, p->len, fmt, shown);
	return -EINVAL;
}

static bool has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool xbd_nbd_is_target(const char *s)
{
	return s && (has_prefix(s, "nbd:") || has_prefix(s, "nbds:") ||
		     has_prefix(s, "nbd+unix:") || has_prefix(s, "nbds+unix:"));
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Copy [s, s + n) into out[size], decoding %XX when `decode`; refuse control characters
 * (escaped or not) and an overflow. */
static int copy_value(struct parse *p, const char *name, const char *s, size_t n, bool decode,
		      char *out, size_t size)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i];

		if (decode && c == '%') {
			if (i + 2 >= n || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0)
				return refuse(p, "a bad percent escape in '%s'", s, n);
			c = hexval(s[i + 1]) * 16 + hexval(s[i + 2]);
			i += 2;
		}
		if (c < 0x20 || c == 0x7f)
			return refuse(p, "a control character in '%s'", s, n);
		if (k + 1 >= size) {
			snprintf(p->why, p->len, "the %s is longer than %zu bytes", name, size - 1);
			return -EINVAL;
		}
		out[k++] = (char)c;
	}
	out[k] = '\0';
	return 0;
}

enum key_id { K_EXPORT, K_SOCKET, K_TIMEOUT, K_TLS_CERTS, K_TLS_PSK, K_TLS_USER, K_CLEARTEXT,
	      K_COUNT };

static const char *const key_names[K_COUNT] = {
	[K_EXPORT] = "exportname", [K_SOCKET] = "socket", [K_TIMEOUT] = "timeout",
	[K_TLS_CERTS] = "tls-certificates", [K_TLS_PSK] = "tls-psk",
	[K_TLS_USER] = "tls-username", [K_CLEARTEXT] = "cleartext",
};

static int set_timeout(struct parse *p, const char *v)
{
	char *end;
	unsigned long n;

	if (v[0] < '0' || v[0] > '9')
		return refuse(p, "timeout '%s' is not a number of seconds", v, 32);
	n = strtoul(v, &end, 10);
	if (*end || n < 1 || n > XBD_NBD_MAX_TIMEOUT_S)
		return refuse(p, "timeout '%s' is not 1..3600 seconds", v, 32);
	p->t->timeout_s = (uint32_t)n;
	return 0;
}

static int set_bool_yes(struct parse *p, const char *v)
{
	if (strcmp(v, "yes") && strcmp(v, "on") && strcmp(v, "1"))
		return refuse(p, "cleartext '%s': only cleartext=yes means anything", v, 32);
	p->t->cleartext_ok = true;
	return 0;
}

/* The value of key `id` (already decoded into v). */
static int set_key(struct parse *p, enum key_id id, const char *v)
{
	struct xbd_nbd_target *t = p->t;

	switch (id) {
	case K_TIMEOUT: return set_timeout(p, v);
	case K_CLEARTEXT: return set_bool_yes(p, v);
	case K_TLS_USER:
		p->tls_key = true;
		if (strlen(v) >= sizeof(t->tls_username))
			return refuse(p, "tls-username '%s' is too long", v, 32);
		strcpy(t->tls_username, v);
		return 0;
	case K_TLS_CERTS:
	case K_TLS_PSK:
		p->tls_key = true;
		if (v[0] != '/')
			return refuse(p, "'%s' is not an absolute path", v, 64);
		strcpy(id == K_TLS_CERTS ? t->tls_certificates : t->tls_psk, v);
		return 0;
	case K_SOCKET:
		if (v[0] != '/')
			return refuse(p, "socket '%s' is not an absolute path", v, 64);
		strcpy(t->socket, v);
		return 0;
	default:
		strcpy(t->export_name, v);
		return 0;
	}
}

static size_t value_limit(enum key_id id)
{
	switch (id) {
	case K_EXPORT: return XBD_NBD_MAX_EXPORT + 1;
	case K_SOCKET: return XBD_NBD_MAX_SOCKET;
	case K_TLS_CERTS: case K_TLS_PSK: return XBD_NBD_MAX_PATH;
	default: return 64;
	}
}

/* One "key=value" of n bytes; `allowed` is a bit mask of key_id. */
static int one_option(struct parse *p, const char *s, size_t n, unsigned int allowed,
		      bool decode)
{
	const char *eq = memchr(s, '=', n);
	size_t klen = eq ? (size_t)(eq - s) : n;
	char val[XBD_NBD_MAX_EXPORT + 1];
	int r;

	for (unsigned int id = 0; id < K_COUNT; id++) {
		if (strlen(key_names[id]) != klen || strncmp(key_names[id], s, klen))
			continue;
		if (!(allowed & (1u << id)))
			break;
		if (!eq || eq + 1 == s + n)
			return refuse(p, "option '%s' has no value", s, n);
		if (p->seen & (1u << id))
			return refuse(p, "option '%s' is given twice", s, klen);
		p->seen |= 1u << id;
		r = copy_value(p, key_names[id], eq + 1, n - klen - 1, decode, val,
			       value_limit(id));
		return r ? r : set_key(p, (enum key_id)id, val);
	}
	return refuse(p, "unknown option '%s' (known: exportname (nbd:unix: only), socket "
		      "(nbd+unix only), timeout, tls-certificates, tls-psk, tls-username, "
		      "cleartext)", s, klen);
}

#define COMMON_KEYS ((1u << K_TIMEOUT) | (1u << K_TLS_CERTS) | (1u << K_TLS_PSK) | \
		     (1u << K_TLS_USER) | (1u << K_CLEARTEXT))

/* nbd:unix:/path[:key=value]... (after "nbd:unix:"). Fields cannot contain ':'. */
static int parse_legacy(struct parse *p, const char *s)
{
	const char *colon = strchr(s, ':');
	size_t n = colon ? (size_t)(colon - s) : strlen(s);
	int r;

	p->t->transport = XBD_NBD_UNIX;
	if (n == 0 || s[0] != '/')
		return refuse(p, "nbd:unix: needs an absolute socket path, not '%s'", s, n);
	r = copy_value(p, "socket path", s, n, false, p->t->socket, sizeof(p->t->socket));
	while (!r && colon) {
		s = colon + 1;
		colon = strchr(s, ':');
		n = colon ? (size_t)(colon - s) : strlen(s);
		r = one_option(p, s, n, COMMON_KEYS | (1u << K_EXPORT), false);
	}
	return r;
}

/* host[:port] or [v6][:port], n bytes. */
static int parse_authority(struct parse *p, const char *s, size_t n)
{
	const char *port = NULL, *host = s;
	size_t hlen = n;

	if (n && s[0] == '[') {
		const char *close = memchr(s, ']', n);

		if (!close)
			return refuse(p, "no ']' after the IPv6 address in '%s'", s, n);
		host = s + 1;
		hlen = (size_t)(close - host);
		if (close + 1 < s + n) {
			if (close[1] != ':')
				return refuse(p, "'%s' is not [address]:port", s, n);
			port = close + 2;
		}
		if (strspn(host, "0123456789abcdefABCDEF:.") < hlen || hlen == 0)
			return refuse(p, "'%s' is not an IPv6 address", host, hlen);
	} else {
		const char *colon = memchr(s, ':', n);

		if (colon) {
			hlen = (size_t)(colon - s);
			port = colon + 1;
		}
		if (hlen == 0)
			return refuse(p, "nbd:// needs a host: '%s'", s, n);
		for (size_t i = 0; i < hlen; i++)
			if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-",
				    s[i]) || s[i] == '\0')
				return refuse(p, "'%s' is not a host name or address", s, hlen);
	}
	if (hlen >= sizeof(p->t->host))
		return refuse(p, "host '%s' is too long", host, 32);
	memcpy(p->t->host, host, hlen);
	p->t->host[hlen] = '\0';
	if (port) {
		size_t plen = (size_t)(s + n - port);
		unsigned long v = 0;

		if (plen == 0 || plen > 5 || strspn(port, "0123456789") < plen)
			return refuse(p, "port '%s' is not a number", port, plen);
		for (size_t i = 0; i < plen; i++)
			v = v * 10 + (unsigned long)(port[i] - '0');
		if (v < 1 || v > 65535)
			return refuse(p, "port '%s' is not 1..65535", port, plen);
		snprintf(p->t->port, sizeof(p->t->port), "%lu", v);
	}
	return 0;
}

/* After "SCHEME://": authority, then /export, then ?key=value&... */
static int parse_uri(struct parse *p, const char *s, bool unix_socket)
{
	size_t an = strcspn(s, "/?"), en;
	const char *q;
	int r = 0;

	p->t->transport = unix_socket ? XBD_NBD_UNIX : XBD_NBD_TCP;
	if (unix_socket && an)
		return refuse(p, "nbd+unix:// takes no host ('%s'): nbd+unix:///export?socket=/path",
			      s, an);
	if (!unix_socket)
		r = parse_authority(p, s, an);
	s += an;
	if (!r && *s == '/') {
		s++;
		en = strcspn(s, "?");
		r = copy_value(p, "export name", s, en, true, p->t->export_name,
			       sizeof(p->t->export_name));
		s += en;
	}
	q = *s == '?' ? s + 1 : NULL;
	while (!r && q && *q) {
		size_t n = strcspn(q, "&");

		r = one_option(p, q, n, COMMON_KEYS | (unix_socket ? 1u << K_SOCKET : 0), true);
		q = q[n] ? q + n + 1 : NULL;
	}
	if (!r && unix_socket && !p->t->socket[0])
		return refuse(p, "nbd+unix:// needs ?socket=/path%s", "", 0);
	return r;
}

bool xbd_nbd_host_is_loopback(const char *host)
{
	return strcmp(host, "localhost") == 0 || strcmp(host, "::1") == 0 ||
	       strcmp(host, "0:0:0:0:0:0:0:1") == 0 ||
	       (has_prefix(host, "127.") && strspn(host, "0123456789.") == strlen(host));
}

/* What holds whatever the form: TLS and cleartext. */
static int check_security(struct parse *p, bool tls_scheme)
{
	struct xbd_nbd_target *t = p->t;

	t->tls = tls_scheme || p->tls_key;
	if (t->tls && t->cleartext_ok)
		return refuse(p, "cleartext=yes contradicts TLS (nbds:// or tls-* options)%s", "",
			      0);
	if (t->tls_username[0] && !t->tls_psk[0])
		return refuse(p, "tls-username goes with tls-psk%s", "", 0);
	if (t->transport == XBD_NBD_TCP && !t->tls && !t->cleartext_ok &&
	    !xbd_nbd_host_is_loopback(t->host))
		return refuse(p, "nbd://%s is cleartext over the network: use nbds:// (with "
			      "tls-certificates= or tls-psk=), or add ?cleartext=yes", t->host, 64);
	return 0;
}

int xbd_nbd_target_parse(const char *s, struct xbd_nbd_target *t, char *why, size_t len)
{
	struct parse p = { .t = t, .why = why, .len = len };
	size_t n = s ? strnlen(s, XBD_NBD_MAX_TARGET + 1) : 0;
	bool tls = false;
	int r;

	memset(t, 0, sizeof(*t));
	t->timeout_s = XBD_NBD_DEFAULT_TIMEOUT_S;
	strcpy(t->port, "10809");
	if (!s || n > XBD_NBD_MAX_TARGET)
		return refuse(&p, "the NBD target is missing or too long%s", "", 0);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return refuse(&p, "a control character in the NBD target '%s'", s, 64);
	if (has_prefix(s, "nbd:unix:"))
		r = parse_legacy(&p, s + 9);
	else if (has_prefix(s, "nbd://") || (tls = has_prefix(s, "nbds://")))
		r = parse_uri(&p, s + (tls ? 7 : 6), false);
	else if (has_prefix(s, "nbd+unix://") || (tls = has_prefix(s, "nbds+unix://")))
		r = parse_uri(&p, s + (tls ? 12 : 11), true);
	else
		return refuse(&p, "'%s' is not an NBD target: nbd:unix:/path[:exportname=NAME], "
			      "nbd://host[:port]/export or nbd+unix:///export?socket=/path", s, 48);
	return r ? r : check_security(&p, tls);
}

int xbd_storage_check_nbd_target(const char *target, char *why, size_t len)
{
	static struct xbd_nbd_target t; /* control thread only; large for a stack */

	return xbd_nbd_target_parse(target, &t, why, len);
}
