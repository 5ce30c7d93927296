/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Picking the Xen platform (see platform.h). The simulated platform's module is found through
 * $XENBLKD_SIM_MODULE, else beside the binary as a build tree lays it out
 * (BUILD/src/xenblkd and BUILD/src/sim/xenblkd-sim.so): an installed daemon has no such file,
 * so --xen sim there says that the simulator is not installed. The module is opened once and
 * never closed: its code runs on the data threads until the process exits.
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "platform.h"

#define SIM_MODULE_ENV "XENBLKD_SIM_MODULE"
#define SIM_MODULE_FILE "sim/xenblkd-sim.so"

bool xbd_platform_name_ok(const char *name)
{
	return !name || !strcmp(name, "real") || !strcmp(name, "sim");
}

/* $XENBLKD_SIM_MODULE, or the module's place in the build tree next to this binary. */
static int module_path(char *buf, size_t len)
{
	const char *env = getenv(SIM_MODULE_ENV);
	char exe[PATH_MAX];
	ssize_t n;
	char *slash;

	if (env && *env)
		return (size_t)snprintf(buf, len, "%s", env) < len ? 0 : -ENAMETOOLONG;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return -errno;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (!slash)
		return -ENOENT;
	*slash = '\0';
	return (size_t)snprintf(buf, len, "%s/%s", exe, SIM_MODULE_FILE) < len ? 0 : -ENAMETOOLONG;
}

static int load_module(const struct xbd_xen_ops **out, char *why, size_t len)
{
	char path[PATH_MAX];
	xbd_xen_module_fn *entry = NULL;
	void *h, *sym;

	if (module_path(path, sizeof(path)) || access(path, R_OK)) {
		snprintf(why, len, "--xen sim: the simulated platform is not installed (no %s); it "
			 "is built for the tests: set " SIM_MODULE_ENV " to a build's "
			 SIM_MODULE_FILE, path);
		return -ENOENT;
	}
	h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		snprintf(why, len, "--xen sim: cannot load %s: %s", path, dlerror());
		return -ENOEXEC;
	}
	/* POSIX guarantees the conversion; ISO C does not, hence the copy. */
	sym = dlsym(h, XBD_XEN_MODULE_ENTRY);
	if (sym)
		memcpy(&entry, &sym, sizeof(entry));
	*out = entry ? entry(&xbd_xen_real_ops) : NULL;
	if (!*out) {
		snprintf(why, len, "--xen sim: %s is not a xenblkd platform module", path);
		dlclose(h);
		return -ENOEXEC;
	}
	return 0;
}

int xbd_platform_open(const char *name, const struct xbd_xen_ops **out, char *why, size_t len)
{
	int r = 0;

	why[0] = '\0';
	if (!xbd_platform_name_ok(name)) {
		snprintf(why, len, "--xen: '%s' is not real or sim", name);
		return -EINVAL;
	}
	if (name && !strcmp(name, "sim"))
		r = load_module(out, why, len);
	else
		*out = &xbd_xen_real_ops;
	if (!r)
		r = (*out)->probe(why, len);
	return r;
}
