/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The configuration file's syntax (see conf.h). The whole file is read into one buffer and
 * cut in place, so entries point into it and live as long as the struct: the programs keep
 * option values as pointers, exactly like argv strings.
 */
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

#define CONF_MAX_BYTES (1u << 20)

static char *trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

static int read_all(const char *path, char **out, char *why, size_t len)
{
	FILE *f = fopen(path, "re");
	char *buf;
	size_t n;

	if (!f) {
		int r = -errno;

		snprintf(why, len, "%s: %s", path, strerror(-r));
		return r;
	}
	buf = malloc(CONF_MAX_BYTES + 1);
	n = buf ? fread(buf, 1, CONF_MAX_BYTES + 1, f) : 0;
	fclose(f);
	if (!buf)
		return -ENOMEM;
	if (n > CONF_MAX_BYTES) {
		snprintf(why, len, "%s: larger than %u bytes", path, CONF_MAX_BYTES);
		free(buf);
		return -EFBIG;
	}
	buf[n] = '\0';
	*out = buf;
	return 0;
}

static int section_of(const char *name, enum xbd_conf_section *s)
{
	if (!strcmp(name, "xenblkd"))
		*s = XBD_CONF_DAEMON;
	else if (!strcmp(name, "watch"))
		*s = XBD_CONF_WATCH;
	else if (!strcmp(name, "vbd"))
		*s = XBD_CONF_VBD;
	else
		return -EINVAL;
	return 0;
}

struct parse_state {
	char *why;
	size_t len;
	struct xbd_conf *c;
	enum xbd_conf_section section;
	unsigned int vbd_sections;
	unsigned int line;
};

static int syntax(const struct parse_state *p, const char *what, const char *text)
{
	snprintf(p->why, p->len, "%s:%u: %s '%s'", p->c->path, p->line, what, text);
	return -EINVAL;
}

static int header(struct parse_state *p, char *s)
{
	char *end = strchr(s, ']');

	if (!end || trim(end + 1)[0])
		return syntax(p, "bad section header", s);
	*end = '\0';
	s = trim(s + 1);
	if (section_of(s, &p->section))
		return syntax(p, "unknown section (xenblkd, watch or vbd)", s);
	if (p->section == XBD_CONF_VBD)
		p->vbd_sections++;
	return 0;
}

static int entry(struct parse_state *p, char *s)
{
	struct xbd_conf *c = p->c;
	char *eq = strchr(s, '=');
	const char *key = s, *value = "";
	struct xbd_conf_entry *e;

	if (eq) {
		*eq = '\0';
		value = trim(eq + 1);
	}
	key = trim(s);
	if (!*key || strspn(key, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(key))
		return syntax(p, "bad option name", key);
	e = realloc(c->e, (c->n + 1) * sizeof(*c->e));
	if (!e)
		return -ENOMEM;
	c->e = e;
	c->e[c->n++] = (struct xbd_conf_entry){
		.section = p->section,
		.section_no = p->section == XBD_CONF_VBD ? p->vbd_sections : 0,
		.line = p->line, .key = key, .value = value,
	};
	return 0;
}

static int parse(struct parse_state *p, char *text)
{
	char *save = NULL;
	int r = 0;

	/* strtok_r would merge empty lines and lose the line numbers: cut by hand. */
	for (char *line = text; line && !r; line = save) {
		char *nl = strchr(line, '\n');
		char *s;

		save = nl ? nl + 1 : NULL;
		if (nl)
			*nl = '\0';
		p->line++;
		s = trim(line);
		if (!*s || *s == '#' || *s == ';')
			continue;
		r = *s == '[' ? header(p, s) : entry(p, s);
	}
	return r;
}

int xbd_conf_load(const char *path, struct xbd_conf *c, char *why, size_t len)
{
	struct parse_state p = { .why = why, .len = len, .c = c, .section = XBD_CONF_DAEMON };
	int r;

	memset(c, 0, sizeof(*c));
	snprintf(why, len, "%s: out of memory", path);
	c->path = strdup(path);
	if (!c->path)
		return -ENOMEM;
	r = read_all(path, &c->text, why, len);
	if (!r)
		r = parse(&p, c->text);
	if (r)
		xbd_conf_free(c);
	return r;
}

void xbd_conf_free(struct xbd_conf *c)
{
	free(c->path);
	free(c->text);
	free(c->e);
	memset(c, 0, sizeof(*c));
}

static bool match(const char *pattern, const char *fact)
{
	return fact && fnmatch(pattern, fact, 0) == 0;
}

bool xbd_conf_vbd_matches(const struct xbd_conf *c, unsigned int no, const char *backend,
			  const char *image, const char *domain)
{
	for (size_t i = 0; i < c->n; i++) {
		const struct xbd_conf_entry *e = &c->e[i];

		if (e->section != XBD_CONF_VBD || e->section_no != no)
			continue;
		if ((!strcmp(e->key, "match-backend") && !match(e->value, backend)) ||
		    (!strcmp(e->key, "match-image") && !match(e->value, image)) ||
		    (!strcmp(e->key, "match-domain") && !match(e->value, domain)))
			return false;
	}
	return true;
}

int xbd_conf_bool(const char *value, bool *out)
{
	static const char *const yes[] = { "", "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		if (!strcmp(value, yes[i])) {
			*out = true;
			return 0;
		}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (!strcmp(value, no[i])) {
			*out = false;
			return 0;
		}
	return -EINVAL;
}

int xbd_conf_uint(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!*s || strlen(s) > 20)
		return -EINVAL;
	for (; *s; s++) {
		uint64_t d = (uint64_t)(*s - '0');

		if (*s < '0' || *s > '9' || d > max || v > (max - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int xbd_conf_bytes(const char *s, uint64_t *out)
{
	static const char suffixes[] = "KMGT";
	char num[24];
	size_t len = strlen(s);
	const char *suf = len ? strchr(suffixes, s[len - 1]) : NULL;
	unsigned int shift = suf && *suf ? 10u * (unsigned int)(suf - suffixes + 1) : 0;

	if (!len || len >= sizeof(num) || (shift && len == 1))
		return -EINVAL;
	snprintf(num, sizeof(num), "%.*s", (int)(shift ? len - 1 : len), s);
	if (xbd_conf_uint(num, (UINT64_MAX >> 1) >> shift, out))
		return -EINVAL;
	*out <<= shift;
	return 0;
}
