/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * LD_PRELOAD shim that lets Debian's C xenstored (4.17 or 4.20) run on a machine without a
 * hypervisor,
 * for the simulated Xen platform (docs/simulation.md). It replaces what xenstored imports from
 * libxenctrl, libxengnttab and libxenevtchn (found with nm -D and strace) and the two dom0
 * files it opens at start-up: /proc/xen/xsd_port and /proc/xen/xsd_kva. Every domid below
 * DOMID_FIRST_RESERVED exists and runs, unless $XENSTORED_RUNDIR/dead/<domid> exists: creating
 * or removing a file there raises the VIRQ_DOM_EXC event, so xenstored rescans its domains and
 * fires @releaseDomain for an introduced domain that died. Interfaces of introduced domains are
 * private zeroed pages (their rings never carry a request), and their event channels are
 * numbers only. xenstored is single threaded, so the shim keeps its state in the handles it
 * hands out. It is built without sanitizers: it is loaded into a binary that has none.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xenctrl.h>
#include <xenevtchn.h>
#include <xengnttab.h>

#define SHIM_PAGE_SIZE 4096
#define SHIM_XSD_PORT "/proc/xen/xsd_port"
#define SHIM_XSD_KVA "/proc/xen/xsd_kva"
/* The dom0 xenbus port xsd_port announces, and the first local port the shim hands out. */
#define SHIM_DOM0_REMOTE_PORT 1
#define SHIM_FIRST_LOCAL_PORT 1

#define SHIM_EXPORT __attribute__((visibility("default")))

/* What xc_interface_open hands out: where the liveness files live. */
struct shim_xc {
	char dead_dir[PATH_MAX];
};

/* What xenevtchn_open hands out. */
struct shim_evtchn {
	int inotify_fd;          /* readable when a file in dead_dir came or went */
	int virq_port;           /* the port bound to VIRQ_DOM_EXC, 0 if none */
	unsigned int next_port;  /* local ports are handed out in order, never reused */
};

struct shim_gnttab {
	int unused;
};

static void shim_dead_dir(char *buf, size_t len)
{
	const char *rundir = getenv("XENSTORED_RUNDIR");

	snprintf(buf, len, "%s/dead", rundir && *rundir ? rundir : "/var/run/xenstored");
}

/* ---------------- libxenctrl ---------------- */

SHIM_EXPORT xc_interface *xc_interface_open(xentoollog_logger *logger,
					    xentoollog_logger *dombuild_logger,
					    unsigned open_flags)
{
	struct shim_xc *xc = calloc(1, sizeof(*xc));

	if (!xc)
		return NULL;
	shim_dead_dir(xc->dead_dir, sizeof(xc->dead_dir));
	return (xc_interface *)xc;
}

SHIM_EXPORT int xc_interface_close(xc_interface *xch)
{
	free(xch);
	return 0;
}

static bool shim_domain_alive(const struct shim_xc *xc, unsigned int domid)
{
	char path[PATH_MAX + 16];

	snprintf(path, sizeof(path), "%s/%u", xc->dead_dir, domid);
	return access(path, F_OK) != 0;
}

/* The next live domid >= first, or DOMID_FIRST_RESERVED if there is none. */
static unsigned int shim_next_domain(const struct shim_xc *xc, unsigned int first)
{
	while (first < DOMID_FIRST_RESERVED && !shim_domain_alive(xc, first))
		first++;
	return first;
}

/*
 * Xen 4.17's xenstored asks xc_domain_getinfo, whose xc_dominfo_t Xen 4.18 removed (4.20's
 * xenstored asks xc_domain_getinfo_single); meson defines SHIM_HAVE_XC_DOMINFO when the
 * installed <xenctrl.h> still has the type.
 */
#ifdef SHIM_HAVE_XC_DOMINFO
static void shim_fill_dominfo(xc_dominfo_t *info, unsigned int domid)
{
	memset(info, 0, sizeof(*info));
	info->domid = domid;
	info->running = 1;
	info->nr_online_vcpus = 1;
	info->max_vcpu_id = 0;
	info->nr_pages = 1024;
	info->max_memkb = 4096;
}

/* As in Xen: up to max_doms existing domains with domid >= first_domid, in order. */
SHIM_EXPORT int xc_domain_getinfo(xc_interface *xch, uint32_t first_domid,
				  unsigned int max_doms, xc_dominfo_t *info)
{
	const struct shim_xc *xc = (const struct shim_xc *)xch;
	unsigned int n = 0, domid = first_domid;

	while (n < max_doms) {
		domid = shim_next_domain(xc, domid);
		if (domid >= DOMID_FIRST_RESERVED)
			break;
		shim_fill_dominfo(&info[n++], domid++);
	}
	return n;
}

#endif

static void shim_fill_domaininfo(xc_domaininfo_t *info, unsigned int domid)
{
	memset(info, 0, sizeof(*info));
	info->domain = domid;
	info->flags = XEN_DOMINF_running;
	info->max_vcpu_id = 0;
}

/* Xen >= 4.18: one domain; -1 with errno ESRCH when it does not exist (is dead). */
SHIM_EXPORT int xc_domain_getinfo_single(xc_interface *xch, uint32_t domid, xc_domaininfo_t *info)
{
	const struct shim_xc *xc = (const struct shim_xc *)xch;

	if (domid >= DOMID_FIRST_RESERVED || !shim_domain_alive(xc, domid)) {
		errno = ESRCH;
		return -1;
	}
	shim_fill_domaininfo(info, domid);
	return 0;
}

SHIM_EXPORT int xc_domain_getinfolist(xc_interface *xch, uint32_t first_domain,
				      unsigned int max_domains, xc_domaininfo_t *info)
{
	const struct shim_xc *xc = (const struct shim_xc *)xch;
	unsigned int n = 0, domid = first_domain;

	while (n < max_domains) {
		domid = shim_next_domain(xc, domid);
		if (domid >= DOMID_FIRST_RESERVED)
			break;
		shim_fill_domaininfo(&info[n++], domid++);
	}
	return n;
}

/* Nothing foreign is reachable: a private zeroed page stands for any frame. */
SHIM_EXPORT void *xc_map_foreign_range(xc_interface *xch, uint32_t dom, int size, int prot,
				       unsigned long mfn)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* ---------------- libxengnttab ---------------- */

SHIM_EXPORT xengnttab_handle *xengnttab_open(xentoollog_logger *logger, unsigned open_flags)
{
	return (xengnttab_handle *)calloc(1, sizeof(struct shim_gnttab));
}

SHIM_EXPORT int xengnttab_close(xengnttab_handle *xgt)
{
	free(xgt);
	return 0;
}

SHIM_EXPORT int xengnttab_set_max_grants(xengnttab_handle *xgt, uint32_t nr_grants)
{
	return 0;
}

/*
 * xenstored maps an introduced domain's xenstore ring (GNTTAB_RESERVED_XENSTORE). A zeroed page
 * is a connected, empty ring: the domain never sends a request, which is all the simulation
 * needs (simulated guests talk to xenstored through its socket).
 */
SHIM_EXPORT void *xengnttab_map_grant_ref(xengnttab_handle *xgt, uint32_t domid, uint32_t ref,
					  int prot)
{
	void *p = mmap(NULL, SHIM_PAGE_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

SHIM_EXPORT int xengnttab_unmap(xengnttab_handle *xgt, void *start_address, uint32_t count)
{
	return munmap(start_address, (size_t)count * SHIM_PAGE_SIZE);
}

/* ---------------- libxenevtchn ---------------- */

static xenevtchn_handle *shim_evtchn_new(void)
{
	struct shim_evtchn *e = calloc(1, sizeof(*e));
	char dir[PATH_MAX];

	if (!e)
		return NULL;
	shim_dead_dir(dir, sizeof(dir));
	/* The tooling creates the directory; do it here too so the watch cannot fail on it. */
	mkdir(dir, 0755);
	e->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (e->inotify_fd < 0 ||
	    inotify_add_watch(e->inotify_fd, dir, IN_CREATE | IN_DELETE | IN_MOVED_TO |
			      IN_MOVED_FROM | IN_ATTRIB) < 0) {
		fprintf(stderr, "xenstored-shim: cannot watch %s: %s\n", dir, strerror(errno));
		if (e->inotify_fd >= 0)
			close(e->inotify_fd);
		free(e);
		return NULL;
	}
	e->next_port = SHIM_FIRST_LOCAL_PORT;
	return (xenevtchn_handle *)e;
}

SHIM_EXPORT xenevtchn_handle *xenevtchn_open(xentoollog_logger *logger, unsigned open_flags)
{
	return shim_evtchn_new();
}

SHIM_EXPORT xenevtchn_handle *xenevtchn_fdopen(xentoollog_logger *logger, int fd,
					       unsigned open_flags)
{
	return shim_evtchn_new();
}

SHIM_EXPORT int xenevtchn_close(xenevtchn_handle *xce)
{
	struct shim_evtchn *e = (struct shim_evtchn *)xce;

	if (e) {
		close(e->inotify_fd);
		free(e);
	}
	return 0;
}

SHIM_EXPORT int xenevtchn_fd(xenevtchn_handle *xce)
{
	return ((struct shim_evtchn *)xce)->inotify_fd;
}

SHIM_EXPORT xenevtchn_port_or_error_t xenevtchn_bind_virq(xenevtchn_handle *xce,
							  unsigned int virq)
{
	struct shim_evtchn *e = (struct shim_evtchn *)xce;

	e->virq_port = e->next_port++;
	return e->virq_port;
}

SHIM_EXPORT xenevtchn_port_or_error_t xenevtchn_bind_interdomain(xenevtchn_handle *xce,
								 uint32_t domid,
								 evtchn_port_t remote_port)
{
	return ((struct shim_evtchn *)xce)->next_port++;
}

SHIM_EXPORT int xenevtchn_unbind(xenevtchn_handle *xce, evtchn_port_t port)
{
	return 0;
}

/* Interdomain channels lead nowhere: a domain's ring page is private to xenstored. */
SHIM_EXPORT int xenevtchn_notify(xenevtchn_handle *xce, evtchn_port_t port)
{
	return 0;
}

/*
 * Only VIRQ_DOM_EXC ever fires. Drain the inotify queue (the fd is non-blocking, so this never
 * waits) and report the virq port: xenstored then rescans every domain, as after a real one.
 */
SHIM_EXPORT xenevtchn_port_or_error_t xenevtchn_pending(xenevtchn_handle *xce)
{
	struct shim_evtchn *e = (struct shim_evtchn *)xce;
	char buf[4096];

	while (read(e->inotify_fd, buf, sizeof(buf)) > 0)
		;
	return e->virq_port;
}

SHIM_EXPORT int xenevtchn_unmask(xenevtchn_handle *xce, evtchn_port_t port)
{
	return 0;
}

/* ---------------- /proc/xen and rlimits ---------------- */

/* A memfd that holds `len` bytes of `data` followed by zeroes up to `size`. */
static int shim_memfd(const char *name, const void *data, size_t len, size_t size)
{
	int fd = memfd_create(name, MFD_CLOEXEC);

	if (fd < 0)
		return -1;
	if (ftruncate(fd, size) < 0 || (len && pwrite(fd, data, len, 0) != (ssize_t)len)) {
		int err = errno;

		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

/* The dom0 files xenstored reads at start-up, or -2 when `path` is not one of them. */
static int shim_open_xen_file(const char *path)
{
	char port[16];
	int len;

	if (strcmp(path, SHIM_XSD_PORT) == 0) {
		len = snprintf(port, sizeof(port), "%d", SHIM_DOM0_REMOTE_PORT);
		return shim_memfd("xsd_port", port, len, len);
	}
	/* dom0's xenstore ring page: zeroed, so dom0 never sends through it. */
	if (strcmp(path, SHIM_XSD_KVA) == 0)
		return shim_memfd("xsd_kva", NULL, 0, SHIM_PAGE_SIZE);
	return -2;
}

static int shim_open_common(const char *sym, const char *path, int flags, va_list ap)
{
	int (*real_open)(const char *, int, ...) = (int (*)(const char *, int, ...))
		dlsym(RTLD_NEXT, sym);
	mode_t mode = 0;
	int fd = shim_open_xen_file(path);

	if (fd != -2)
		return fd;
	if (flags & (O_CREAT | O_TMPFILE))
		mode = va_arg(ap, mode_t);
	if (!real_open) {
		errno = ENOSYS;
		return -1;
	}
	return real_open(path, flags, mode);
}

SHIM_EXPORT int open(const char *path, int flags, ...)
{
	va_list ap;
	int fd;

	va_start(ap, flags);
	fd = shim_open_common("open", path, flags, ap);
	va_end(ap);
	return fd;
}

SHIM_EXPORT int open64(const char *path, int flags, ...)
{
	va_list ap;
	int fd;

	va_start(ap, flags);
	fd = shim_open_common("open64", path, flags, ap);
	va_end(ap);
	return fd;
}

/*
 * Raising a hard limit needs CAP_SYS_RESOURCE, which root here lacks: keep every request within
 * the current hard limit so a quota setting cannot make xenstored exit.
 */
static void shim_clamp_rlimit(int resource, struct rlimit *want)
{
	struct rlimit cur;

	if (getrlimit(resource, &cur) != 0)
		return;
	if (want->rlim_max > cur.rlim_max)
		want->rlim_max = cur.rlim_max;
	if (want->rlim_cur > want->rlim_max)
		want->rlim_cur = want->rlim_max;
}

SHIM_EXPORT int setrlimit(__rlimit_resource_t resource, const struct rlimit *rlim)
{
	struct rlimit want = *rlim;

	shim_clamp_rlimit(resource, &want);
	return prlimit(0, resource, &want, NULL);
}

SHIM_EXPORT int setrlimit64(__rlimit_resource_t resource, const struct rlimit64 *rlim)
{
	struct rlimit want = { .rlim_cur = rlim->rlim_cur, .rlim_max = rlim->rlim_max };

	shim_clamp_rlimit(resource, &want);
	return prlimit(0, resource, &want, NULL);
}
