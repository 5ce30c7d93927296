/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Parsing the rbd target "pool/image[@snap][:option=value...]" (rbd_target.h). The string
 * comes from the toolstack through xenstore; it is parsed strictly, field by field, into fixed
 * buffers: anything unexpected is refused rather than passed on to librados, which would take
 * a key=, an auth override or a debug setting from it. Each field is first unescaped into a
 * scratch buffer, then checked against the characters its kind may hold.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "rbd_target.h"

enum field_kind { NAME, PATH, HOSTS };

/* Copy s[0..n) into out (size cap), removing backslash escapes. -EINVAL if too long or a
 * backslash ends the field. */
static int unescape(const char *s, size_t n, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\\' && ++i == n)
			return -EINVAL;
		if (o + 1 >= cap)
			return -EINVAL;
		out[o++] = s[i];
	}
	out[o] = '\0';
	return 0;
}

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '.' || c == '+' || c == '-';
}

static bool valid_field(const char *v, enum field_kind kind)
{
	if (!*v)
		return false;
	if (kind == PATH && (v[0] != '/' || strstr(v, "/../") ||
			     (strlen(v) >= 3 && !strcmp(v + strlen(v) - 3, "/.."))))
		return false;
	for (const char *p = v; *p; p++) {
		char c = *p;

		if (kind == NAME && !name_char(c))
			return false;
		if (kind == PATH && (c <= 0x20 || c >= 0x7f))
			return false;
		if (kind == HOSTS && !name_char(c) && !strchr(":[],;/", c))
			return false;
	}
	/* "." and ".." are no names, and a leading '-' reads as an option to the ceph tools. */
	return kind != NAME || (strcmp(v, ".") && strcmp(v, "..") && v[0] != '-');
}

/* Length of the next field: up to an unescaped `stop` character or the end. */
static size_t field_len(const char *s, const char *stops)
{
	size_t i = 0;

	while (s[i] && !strchr(stops, s[i])) {
		if (s[i] == '\\' && s[i + 1])
			i++;
		i++;
	}
	return i;
}

static int take(const char *s, size_t n, char *out, size_t cap, enum field_kind kind)
{
	return unescape(s, n, out, cap) || !valid_field(out, kind) ? -EINVAL : 0;
}

/* "pool/image[@snap]" up to the first unescaped ':'; returns its length, or -EINVAL. */
static int parse_location(const char *s, struct xbd_rbd_target *t, char *why, size_t len)
{
	size_t end = field_len(s, ":"), p = field_len(s, "/:@"), i;

	if (s[p] != '/' || take(s, p, t->pool, sizeof(t->pool), NAME)) {
		snprintf(why, len, "rbd target is not pool/image[@snap] with a valid pool name "
			 "(letters, digits, _ . + -)");
		return -EINVAL;
	}
	i = p + 1 + field_len(s + p + 1, "/:@");
	if (take(s + p + 1, i - p - 1, t->image, sizeof(t->image), NAME) ||
	    (s[i] == '@' && (i + 1 + field_len(s + i + 1, ":@/") != end ||
			     take(s + i + 1, end - i - 1, t->snap, sizeof(t->snap), NAME))) ||
	    (s[i] != '@' && i != end)) {
		snprintf(why, len, "rbd target is not pool/image[@snap] with valid image and "
			 "snapshot names (letters, digits, _ . + -)");
		return -EINVAL;
	}
	return (int)end;
}

struct option_slot {
	const char *name;
	size_t off;
	size_t cap;
	enum field_kind kind;
};

static const struct option_slot slots[] = {
	{ "id", offsetof(struct xbd_rbd_target, id), XBD_RBD_NAME_MAX, NAME },
	{ "conf", offsetof(struct xbd_rbd_target, conf), XBD_RBD_PATH_MAX, PATH },
	{ "mon_host", offsetof(struct xbd_rbd_target, mon_host), XBD_RBD_PATH_MAX, HOSTS },
	{ "keyring", offsetof(struct xbd_rbd_target, keyring), XBD_RBD_PATH_MAX, PATH },
};

static void refuse_option(const char *opt, size_t klen, char *why, size_t len)
{
	if (klen == 3 && !strncmp(opt, "key", 3))
		snprintf(why, len, "rbd option key= is refused: a secret must not travel through "
			 "xenstore; put the key in a keyring file owned by root with mode 0600 "
			 "(/etc/ceph/ceph.client.ID.keyring) and give keyring=PATH, or load it "
			 "with the unit's LoadCredential=ceph-keyring:PATH");
	else
		snprintf(why, len, "rbd option '%.*s' is refused: only id, conf, mon_host, "
			 "keyring and lock are accepted (a key goes in a keyring file owned by root with "
			 "mode 0600, /etc/ceph/ceph.client.ID.keyring, given as keyring=PATH)",
			 (int)(klen < 32 ? klen : 32), opt);
}

/* "lock=VALUE" (n bytes at s): only "exclusive", once. The value is never echoed. */
static int parse_lock(const char *s, size_t n, struct xbd_rbd_target *t, char *why,
		      size_t len)
{
	if (t->lock_exclusive) {
		snprintf(why, len, "rbd option lock= is given twice");
		return -EINVAL;
	}
	if (n != strlen("lock=exclusive") || strncmp(s, "lock=exclusive", n)) {
		snprintf(why, len, "rbd option lock= has a malformed value: only lock=exclusive "
			 "is accepted (leave it out for librbd's cooperative lock)");
		return -EINVAL;
	}
	t->lock_exclusive = true;
	return 0;
}

/* One "name=value" of length n at s. */
static int parse_option(const char *s, size_t n, struct xbd_rbd_target *t, char *why,
			size_t len)
{
	const char *eq = memchr(s, '=', n);
	size_t klen = eq ? (size_t)(eq - s) : n;

	if (eq && klen == 4 && !strncmp(s, "lock", 4))
		return parse_lock(s, n, t, why, len);
	for (size_t i = 0; i < sizeof(slots) / sizeof(slots[0]); i++) {
		char *dst = (char *)t + slots[i].off;

		if (strlen(slots[i].name) != klen || strncmp(slots[i].name, s, klen) || !eq)
			continue;
		if (*dst) {
			snprintf(why, len, "rbd option %s= is given twice", slots[i].name);
			return -EINVAL;
		}
		if (take(eq + 1, n - klen - 1, dst, slots[i].cap, slots[i].kind)) {
			snprintf(why, len, "rbd option %s= has a malformed value (%s)",
				 slots[i].name, slots[i].kind == PATH ? "an absolute path" :
				 slots[i].kind == NAME ? "letters, digits, _ . + -" :
				 "addresses and ports");
			dst[0] = '\0';
			return -EINVAL;
		}
		return 0;
	}
	for (size_t i = 0; i < klen; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			klen = i; /* never echo control bytes into the log */
	refuse_option(s, klen, why, len);
	return -EINVAL;
}

int xbd_rbd_parse_target(const char *spec, struct xbd_rbd_target *t, char *why, size_t len)
{
	const char *s = spec;
	int end;

	memset(t, 0, sizeof(*t));
	if (!spec) {
		snprintf(why, len, "no rbd target");
		return -EINVAL;
	}
	end = parse_location(s, t, why, len);
	if (end < 0)
		return end;
	s += end;
	while (*s == ':') {
		size_t n = field_len(s + 1, ":");
		int r = parse_option(s + 1, n, t, why, len);

		if (r)
			return r;
		s += 1 + n;
	}
	if (t->lock_exclusive && t->snap[0]) {
		/* A snapshot is served read-only, and a read-only open takes no lock: refused
		 * rather than ignored, so nobody believes a guarantee that is not there. */
		snprintf(why, len, "rbd option lock=exclusive is refused on a snapshot: it is "
			 "served read-only and excludes nobody");
		return -EINVAL;
	}
	return 0;
}
