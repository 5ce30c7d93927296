/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xenblkd-watch's command line and the [watch] section of the configuration file, with the
 * same names (the command line wins). Every bad value is reported with its option's name.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/conf.h"
#include "watch.h"
#include "xenblkd/log.h"

#ifndef XBD_CONF_DEFAULT
#define XBD_CONF_DEFAULT "/etc/xenblkd/xenblkd.conf"
#endif
#ifndef XBD_SBINDIR
#define XBD_SBINDIR "/usr/sbin"
#endif

static void usage(FILE *out)
{
	fprintf(out,
		"usage: xenblkd-watch [options]\n"
		"Start one xenblkd per virtual block device as soon as the toolstack creates its\n"
		"backend directory in xenstore.\n\n"
		"  -c, --config FILE          configuration file ([watch] section; default\n"
		"                             " XBD_CONF_DEFAULT ", read when it exists)\n"
		"  -k, --kind KIND[:DOMIDS]   serve backend/KIND (qdisk, vbd or vbd3), only for the\n"
		"                             frontend domains DOMIDS (e.g. 0 or 0,7) when given;\n"
		"                             repeatable (default: qdisk:0, dom0 local attach,\n"
		"                             and vbd3, Xen 4.19's backendtype=tap)\n"
		"  -m, --mode MODE            auto (default: systemd when it runs the machine),\n"
		"                             systemd (systemctl start xenblkd@PATH.service) or\n"
		"                             supervise (start and restart the daemons ourselves)\n"
		"      --xenblkd PATH         the daemon (default " XBD_SBINDIR "/xenblkd)\n"
		"      --xenblkd-arg ARG      one more argument for each daemon (supervise mode;\n"
		"                             repeatable)\n"
		"      --systemctl PATH       systemctl (default: systemctl from PATH)\n"
		"      --unit TEMPLATE        the template unit (default xenblkd@.service)\n"
		"      --run-dir DIR          the daemons' lock files and sockets (default\n"
		"                             /run/xenblkd)\n"
		"      --device-model-pid yes|no  write /local/domain/<self>/image/device-model-pid,\n"
		"                             which libxl wants for qdisk in dom0 (default yes)\n"
		"      --restart-delay-ms N   first restart of a daemon that died (default 500;\n"
		"                             doubles up to --restart-delay-max-ms)\n"
		"      --restart-delay-max-ms N  the longest restart delay (default 30000)\n"
		"      --restart-limit N/SECONDS  restarts of one VBD within SECONDS before giving\n"
		"                             up on it and dropping the fds its daemon kept\n"
		"                             (default 5/60, systemd's StartLimitBurst/Interval)\n"
		"      --max-restarts N       the same as --restart-limit N/60\n"
		"      --fdstore-max N        fds each daemon may keep across its restarts\n"
		"                             (FDSTORE=1; default 16, 0 for none; at most 256)\n"
		"      --watchdog-sec N       kill (SIGABRT) a daemon that sends no WATCHDOG=1 for\n"
		"                             N s, as systemd's WatchdogSec= (default 0: off)\n"
		"      --domid N              this backend domain's id (default: xenstore's domid)\n"
		"      --claims-local-qdisk   exit 0 if the kinds configured include qdisk for\n"
		"                             frontend 0 (then the dom0 QEMU must be stopped), 1 if\n"
		"                             not; start nothing\n"
		"  -v, --verbose              debug logging\n"
		"  -h, --help\n"
		"  -V, --version\n"
		"Exit status: 2 for a bad option or configuration value (one line says which).\n");
}

enum {
	OPT_XENBLKD = 256, OPT_XENBLKD_ARG, OPT_SYSTEMCTL, OPT_UNIT, OPT_RUN_DIR, OPT_DM_PID,
	OPT_RESTART_DELAY, OPT_MAX_RESTARTS, OPT_DOMID, OPT_CRASH_AFTER, OPT_QUERY_QDISK,
	OPT_RESTART_LIMIT, OPT_FDSTORE_MAX, OPT_WATCHDOG_SEC, OPT_RESTART_DELAY_MAX,
};

static const struct option long_opts[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "kind", required_argument, NULL, 'k' },
	{ "mode", required_argument, NULL, 'm' },
	{ "xenblkd", required_argument, NULL, OPT_XENBLKD },
	{ "xenblkd-arg", required_argument, NULL, OPT_XENBLKD_ARG },
	{ "systemctl", required_argument, NULL, OPT_SYSTEMCTL },
	{ "unit", required_argument, NULL, OPT_UNIT },
	{ "run-dir", required_argument, NULL, OPT_RUN_DIR },
	{ "device-model-pid", required_argument, NULL, OPT_DM_PID },
	{ "restart-delay-ms", required_argument, NULL, OPT_RESTART_DELAY },
	{ "max-restarts", required_argument, NULL, OPT_MAX_RESTARTS },
	{ "restart-limit", required_argument, NULL, OPT_RESTART_LIMIT },
	{ "restart-delay-max-ms", required_argument, NULL, OPT_RESTART_DELAY_MAX },
	{ "fdstore-max", required_argument, NULL, OPT_FDSTORE_MAX },
	{ "watchdog-sec", required_argument, NULL, OPT_WATCHDOG_SEC },
	{ "domid", required_argument, NULL, OPT_DOMID },
	{ "test-crash-after", required_argument, NULL, OPT_CRASH_AFTER }, /* tests only */
	{ "claims-local-qdisk", no_argument, NULL, OPT_QUERY_QDISK },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static const char *where; /* "file:line: " while reading the file */

static int bad(int o, const char *arg, const char *what)
{
	const char *name = "?";

	for (const struct option *p = long_opts; p->name; p++)
		if (p->val == o)
			name = p->name;
	xbd_err("watch", "%s%s%s: '%s' %s", where ? where : "", where ? "" : "--", name, arg, what);
	return -EINVAL;
}

/* qdisk, vbd:3 or qdisk:0,7 */
static int parse_kind(struct watch_opts *o, const char *arg)
{
	struct watch_kind *k = &o->kinds[o->nr_kinds];
	const char *colon = strchr(arg, ':');
	size_t len = colon ? (size_t)(colon - arg) : strlen(arg);
	char doms[256];

	if (o->nr_kinds == WATCH_MAX_KINDS)
		return bad('k', arg, "is one kind too many (at most 4)");
	memset(k, 0, sizeof(*k));
	if (len < sizeof(k->name))
		memcpy(k->name, arg, len);
	if (strcmp(k->name, "vbd") && strcmp(k->name, "qdisk") && strcmp(k->name, "vbd3"))
		return bad('k', arg, "is not qdisk, vbd or vbd3 (optionally :DOMID,...)");
	if (colon) {
		snprintf(doms, sizeof(doms), "%s", colon + 1);
		for (char *save = NULL, *t = strtok_r(doms, ",", &save); t;
		     t = strtok_r(NULL, ",", &save)) {
			uint64_t d;

			if (k->nr_doms == WATCH_MAX_DOMS || xbd_conf_uint(t, 0x7fef, &d))
				return bad('k', arg, "has a bad domain id list");
			k->doms[k->nr_doms++] = (unsigned int)d;
		}
		if (!k->nr_doms)
			return bad('k', arg, "has an empty domain id list");
	}
	o->nr_kinds++;
	return 0;
}

static int number(int o, const char *arg, uint64_t max, uint64_t *v)
{
	char what[64];

	if (!xbd_conf_uint(arg, max, v))
		return 0;
	snprintf(what, sizeof(what), "is not a number in 0..%llu", (unsigned long long)max);
	return bad(o, arg, what);
}

/* N/SECONDS: at most N restarts within SECONDS. */
static int restart_limit(struct watch_opts *o, const char *arg)
{
	const char *slash = strchr(arg, '/');
	char n[24];
	uint64_t burst, secs;

	if (!slash || (size_t)(slash - arg) >= sizeof(n))
		return bad(OPT_RESTART_LIMIT, arg, "is not N/SECONDS (e.g. 5/60)");
	memcpy(n, arg, (size_t)(slash - arg));
	n[slash - arg] = '\0';
	if (xbd_conf_uint(n, 100000, &burst) || xbd_conf_uint(slash + 1, 86400, &secs) || !secs)
		return bad(OPT_RESTART_LIMIT, arg,
			   "is not N/SECONDS with N in 0..100000 and SECONDS in 1..86400");
	o->max_restarts = (unsigned int)burst;
	o->restart_window_ms = (unsigned int)secs * 1000;
	return 0;
}

static int mode_option(struct watch_opts *o, const char *arg)
{
	if (!strcmp(arg, "auto"))
		o->mode = WATCH_AUTO;
	else if (!strcmp(arg, "systemd"))
		o->mode = WATCH_SYSTEMD;
	else if (!strcmp(arg, "supervise"))
		o->mode = WATCH_SUPERVISE;
	else
		return bad('m', arg, "is not auto, systemd or supervise");
	return 0;
}

static int one_option(struct watch_opts *o, int opt, const char *arg)
{
	uint64_t v;
	int r = 0;

	switch (opt) {
	case 'c': o->config = arg; return 0;
	case 'k': return parse_kind(o, arg);
	case 'm': return mode_option(o, arg);
	case 'v': o->verbose = true; xbd_log_set_level(XBD_LOG_DEBUG); return 0;
	case OPT_XENBLKD: o->xenblkd = arg; return 0;
	case OPT_SYSTEMCTL: o->systemctl = arg; return 0;
	case OPT_UNIT: o->unit = arg; return 0;
	case OPT_RUN_DIR: o->run_dir = arg; return 0;
	case OPT_XENBLKD_ARG:
		if (o->nr_daemon_args == WATCH_MAX_ARGS)
			return bad(opt, arg, "is one argument too many (at most 32)");
		o->daemon_args[o->nr_daemon_args++] = arg;
		return 0;
	case OPT_DM_PID:
		return xbd_conf_bool(arg, &o->device_model_pid) ? bad(opt, arg, "is not yes or no")
								 : 0;
	case OPT_RESTART_DELAY: r = number(opt, arg, 600000, &v); o->restart_delay_ms = (unsigned)v; break;
	case OPT_MAX_RESTARTS:
		r = number(opt, arg, 1000, &v);
		o->max_restarts = (unsigned)v;
		o->restart_window_ms = 60000;
		break;
	case OPT_RESTART_LIMIT: return restart_limit(o, arg);
	case OPT_RESTART_DELAY_MAX:
		r = number(opt, arg, 600000, &v);
		o->restart_delay_max_ms = (unsigned)v;
		break;
	case OPT_FDSTORE_MAX: r = number(opt, arg, 256, &v); o->fdstore_max = (unsigned)v; break;
	case OPT_WATCHDOG_SEC: r = number(opt, arg, 3600, &v); o->watchdog_sec = (unsigned)v; break;
	case OPT_DOMID: r = number(opt, arg, 0x7fef, &v); o->self_domid = (long)v; break;
	case OPT_CRASH_AFTER: r = number(opt, arg, 1u << 20, &v); o->crash_after = (unsigned)v; break;
	case OPT_QUERY_QDISK: o->query_local_qdisk = true; return 0;
	case 'h': usage(stdout); return 1;
	case 'V': printf("xenblkd-watch %s\n", XBD_VERSION); return 1;
	default: return -EINVAL;
	}
	return r;
}

/* getopt's complaint, in one line through the logger. */
static int usage_error(int opt, char **argv)
{
	const char *word = argv[optind - 1];

	if (opt == ':')
		xbd_err("watch", "option '%s' needs a value (xenblkd-watch --help)", word);
	else
		xbd_err("watch", "unknown option '%s' (xenblkd-watch --help lists them)", word);
	return -EINVAL;
}

static int parse_argv(int argc, char **argv, struct watch_opts *o)
{
	int opt, r;

	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":c:k:m:vhV", long_opts, NULL)) != -1)
		if ((r = opt == '?' || opt == ':' ? usage_error(opt, argv)
						  : one_option(o, opt, optarg)))
			return r;
	if (optind != argc) {
		xbd_err("watch", "unexpected argument '%s' (xenblkd-watch --help)", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

static int apply_file(struct watch_opts *o, const char *path, bool must_exist)
{
	static struct xbd_conf conf;
	static char loc[4200];
	char why[4200];
	int r = xbd_conf_load(path, &conf, why, sizeof(why));

	if (r == -ENOENT && !must_exist)
		return 0;
	if (r)
		xbd_err("watch", "%s%s", r == -ENOENT ? "--config: " : "", why);
	for (size_t i = 0; !r && i < conf.n; i++) {
		const struct xbd_conf_entry *e = &conf.e[i];
		const struct option *p = long_opts;

		if (e->section != XBD_CONF_WATCH)
			continue;
		snprintf(loc, sizeof(loc), "%s:%u: ", path, e->line);
		where = loc;
		while (p->name && strcmp(p->name, e->key))
			p++;
		if (!p->name || p->val == 'c' || p->val == 'h' || p->val == OPT_QUERY_QDISK) {
			xbd_err("watch", "%sunknown option '%s'", loc, e->key);
			r = -EINVAL;
		} else if (p->has_arg == no_argument) {
			bool on = false;

			r = xbd_conf_bool(e->value, &on) ? bad(p->val, e->value, "is not yes or no")
							 : on ? one_option(o, p->val, NULL) : 0;
		} else {
			r = one_option(o, p->val, e->value);
		}
	}
	where = NULL;
	return r;
}

int watch_parse(int argc, char **argv, struct watch_opts *o)
{
	struct watch_opts first = { 0 };
	int r;

	*o = (struct watch_opts){
		.mode = WATCH_AUTO, .xenblkd = XBD_SBINDIR "/xenblkd", .systemctl = "systemctl",
		.unit = "xenblkd@.service", .device_model_pid = true, .restart_delay_ms = 500, .restart_delay_max_ms = 30000,
		.max_restarts = 5, .restart_window_ms = 60000, .fdstore_max = 16, .self_domid = -1,
	};
	first = *o;
	r = parse_argv(argc, argv, &first);
	if (r)
		return r;
	r = apply_file(o, first.config ? first.config : XBD_CONF_DEFAULT, first.config);
	if (!r && first.nr_kinds)
		o->nr_kinds = 0; /* kinds on the command line replace the file's */
	if (!r)
		r = parse_argv(argc, argv, o);
	/* dom0 local attach, and Xen 4.19's tap disks (backend/vbd3), which nothing else
	 * serves on a Debian dom0 and which 4.17 never creates. */
	if (!r && !o->nr_kinds) {
		r = parse_kind(o, "qdisk:0");
		if (!r)
			r = parse_kind(o, "vbd3");
	}
	return r;
}
