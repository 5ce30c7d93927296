/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Simulated grant tables, mapper side: what Xen and gntdev do for the daemon when it maps or
 * copies a page that a simulated guest granted (src/sim/sim_abi.h, docs/simulation.md).
 * A guest's table and memory are one sealed memfd. Map is a real MAP_SHARED mmap of the guest's
 * pages, copy a real memcpy, and both pin the grant entry the way Xen does, so the guest cannot
 * end access while the page is in use. The guest owns every byte of that memfd and is hostile:
 * the header is validated once, entries are read once per use, and no guest write can make the
 * daemon crash, hang or touch memory outside a granted page.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <linux/magic.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>
#include <xen/grant_table.h>

#include "sim_abi.h"
#include "xen_sim.h"
#include "xen_sim_pins.h"

#define SIM_PAGE XBD_SIM_PAGE_SIZE
#define SIM_REQUIRED_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)
#define SIM_FORBIDDEN_SEALS (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)
/* Like Xen: a guest that keeps changing its entry must not livelock us. */
#define SIM_CMPXCHG_RETRIES 5
/* A legitimate holder keeps the lock for a few instructions; a hostile guest forever. */
#define SIM_LOCK_SPINS 128
#define SIM_LOCK_TIMEOUT_NS (100 * 1000 * 1000L)
#define SIM_MAP_BUCKETS 1024u
#define SIM_MAP_MAX_PAGES (1u << 20)

/*
 * A grant entry as the mapper accesses it: Xen's grant_entry_v1_t, whose flags and domid form
 * one 32-bit word that Xen updates with cmpxchg (flags in the low half on x86).
 */
struct sim_entry {
	uint32_t combo;
	uint32_t frame;
};
static_assert(sizeof(struct sim_entry) == sizeof(grant_entry_v1_t), "entry size");
static_assert(offsetof(grant_entry_v1_t, domid) == 2, "domid after flags");
static_assert(offsetof(grant_entry_v1_t, frame) == 4, "frame after domid");
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "flags in the low half");

#define SIM_COMBO_FLAGS(c) ((uint16_t)((c) & 0xffffu))
#define SIM_COMBO_DOMID(c) ((uint16_t)((c) >> 16))

/* One open incarnation of a granting domain: its memfd, validated, mapped whole. */
struct sim_dom {
	struct sim_dom *next; /* in the handle's cache */
	unsigned int users;   /* the cache's reference and one per mapping */
	uint16_t domid;
	int fd;
	dev_t dev;
	ino_t ino;
	ino_t link_ino;       /* the registry link itself: a new incarnation makes a new link, */
	struct timespec link_ctime; /* whose inode number may be recycled, but not its ctime */
	int pidfd;            /* the guest process, readable once it died; -1 if unknown */
	const uint32_t *life; /* the liveness word (sim_abi.h), in the header page */
	uint32_t life_owner;  /* its value while this incarnation stands; 0: not usable */
	uint32_t nr_grants;
	uint32_t nr_frames;
	uint64_t frames_offset;
	uint8_t *base;
	size_t size;
	struct sim_entry *entries;
	struct xbd_sim_active *active;
	uint8_t *frames;
};

/* One gnt_map call that has not been unmapped yet. */
struct sim_mapping {
	struct sim_mapping *next; /* hash chain */
	uint8_t *addr;
	unsigned int n;
	bool writable;
	struct sim_dom *dom;
	uint32_t refs[];
};

struct xbd_gnt {
	char dir[PATH_MAX];
	int gnttab_fd;         /* DIR/gnttab, for short lookups on the hot path */
	uint16_t self; /* the mapping domain */
	struct sim_dom *doms;
	struct sim_mapping *maps[SIM_MAP_BUCKETS];
	struct sim_ledger *ledger; /* what we pin, for the next handle if we die (pins.c) */
};

/* ---------------- opening a granting domain ---------------- */

static bool sim_area_ok(uint64_t off, uint64_t len, uint64_t total)
{
	return off % SIM_PAGE == 0 && off <= total && len <= total - off;
}

static bool sim_areas_disjoint(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a + alen <= b || b + blen <= a;
}

/* The header as read from the file; every later access relies on what this checks. */
static int sim_hdr_check(const struct xbd_sim_gnttab_hdr *h, uint16_t domid, uint64_t size)
{
	uint64_t elen, alen, flen;

	if (memcmp(h->magic, XBD_SIM_MAGIC, sizeof(h->magic)) || h->version != XBD_SIM_VERSION ||
	    h->domid != domid || h->total_size != size)
		return -EINVAL;
	if (h->nr_grants <= XBD_SIM_NR_RESERVED_GRANTS || h->nr_grants > XBD_SIM_MAX_GRANTS ||
	    !h->nr_frames || h->nr_frames > XBD_SIM_MAX_FRAMES)
		return -EINVAL;
	elen = (uint64_t)h->nr_grants * sizeof(struct sim_entry);
	alen = (uint64_t)h->nr_grants * sizeof(struct xbd_sim_active);
	flen = (uint64_t)h->nr_frames * SIM_PAGE;
	if (!sim_area_ok(h->entries_offset, elen, size) ||
	    !sim_area_ok(h->active_offset, alen, size) ||
	    !sim_area_ok(h->frames_offset, flen, size))
		return -EINVAL;
	/* The header page is area 0. */
	if (!sim_areas_disjoint(0, SIM_PAGE, h->entries_offset, elen) ||
	    !sim_areas_disjoint(0, SIM_PAGE, h->active_offset, alen) ||
	    !sim_areas_disjoint(0, SIM_PAGE, h->frames_offset, flen) ||
	    !sim_areas_disjoint(h->entries_offset, elen, h->active_offset, alen) ||
	    !sim_areas_disjoint(h->entries_offset, elen, h->frames_offset, flen) ||
	    !sim_areas_disjoint(h->active_offset, alen, h->frames_offset, flen))
		return -EINVAL;
	return 0;
}

/*
 * Only a sealed shmem file will do: without F_SEAL_SHRINK the guest could truncate it under
 * our mappings (SIGBUS); hugetlbfs could SIGBUS on a fault; F_SEAL_WRITE would break our
 * writable mappings.
 */
static int sim_fd_check(int fd, const struct stat *st)
{
	struct statfs sfs;
	int seals;

	if (!S_ISREG(st->st_mode) || fstatfs(fd, &sfs) || sfs.f_type != TMPFS_MAGIC)
		return -EINVAL;
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0 || (seals & SIM_REQUIRED_SEALS) != SIM_REQUIRED_SEALS ||
	    (seals & SIM_FORBIDDEN_SEALS))
		return -EINVAL;
	if (st->st_size < (off_t)SIM_PAGE || st->st_size % SIM_PAGE)
		return -EINVAL;
	return 0;
}

static void sim_dom_fill(struct sim_dom *d, const struct xbd_sim_gnttab_hdr *h)
{
	d->nr_grants = h->nr_grants;
	d->nr_frames = h->nr_frames;
	d->frames_offset = h->frames_offset;
	d->entries = (struct sim_entry *)(d->base + h->entries_offset);
	d->active = (struct xbd_sim_active *)(d->base + h->active_offset);
	d->frames = d->base + h->frames_offset;
}

/* Opens the memfd behind an already stat'ed link, validates it and maps it whole. */
static int sim_dom_open(const char *path, uint16_t domid, const struct stat *lst,
			struct sim_dom **out)
{
	struct xbd_sim_gnttab_hdr h;
	struct sim_dom *d;
	struct stat st;
	int rc;

	/* Never open what is not a regular file: opening a device can have side effects. */
	if (!S_ISREG(lst->st_mode))
		return -EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->domid = domid;
	d->users = 1;
	/* O_NONBLOCK: a hostile link to a FIFO or device must not block us; checked below. */
	d->fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (d->fd < 0) {
		rc = errno == ENOENT ? -ESRCH : -errno;
		goto err_free;
	}
	rc = -EINVAL;
	if (fstat(d->fd, &st) || st.st_dev != lst->st_dev || st.st_ino != lst->st_ino)
		goto err_close;
	rc = sim_fd_check(d->fd, &st);
	if (rc)
		goto err_close;
	/* Read the header once into a local: the guest may rewrite it at any time. */
	if (pread(d->fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h))
		goto err_close;
	rc = sim_hdr_check(&h, domid, (uint64_t)st.st_size);
	if (rc)
		goto err_close;
	d->size = (size_t)st.st_size;
	d->base = mmap(NULL, d->size, PROT_READ | PROT_WRITE, MAP_SHARED, d->fd, 0);
	if (d->base == MAP_FAILED) {
		rc = -errno;
		goto err_close;
	}
	d->dev = st.st_dev;
	d->ino = st.st_ino;
	sim_dom_fill(d, &h);
	*out = d;
	return 0;

err_close:
	close(d->fd);
err_free:
	free(d);
	return rc;
}

static void sim_dom_put(struct sim_dom *d)
{
	if (--d->users)
		return;
	if (d->pidfd >= 0)
		close(d->pidfd);
	munmap(d->base, d->size);
	close(d->fd);
	free(d);
}

static void sim_dom_uncache(struct xbd_gnt *gnt, struct sim_dom *d)
{
	struct sim_dom **pp;

	for (pp = &gnt->doms; *pp; pp = &(*pp)->next) {
		if (*pp == d) {
			*pp = d->next;
			sim_dom_put(d);
			return;
		}
	}
}

/*
 * Who the guest behind `d` is: the registry link's own inode, and a pidfd for the process the
 * link names (/proc/<pid>/fd/<n>), which becomes readable when it dies. Without them every call
 * takes the slow path, which is exact too.
 */
static void sim_dom_identify(struct xbd_gnt *gnt, struct sim_dom *d)
{
	char name[16], target[PATH_MAX];
	struct stat lst;
	ssize_t n;
	int pid;

	d->pidfd = -1;
	snprintf(name, sizeof(name), "%u", d->domid);
	if (gnt->gnttab_fd < 0 || fstatat(gnt->gnttab_fd, name, &lst, AT_SYMLINK_NOFOLLOW))
		return;
	d->link_ino = lst.st_ino;
	d->link_ctime = lst.st_ctim;
	n = readlinkat(gnt->gnttab_fd, name, target, sizeof(target) - 1);
	if (n <= 0)
		return;
	target[n] = '\0';
	if (sscanf(target, "/proc/%d/fd/", &pid) != 1 || pid <= 0)
		return;
	d->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	/* Read after the pidfd: a word still naming a live owner now names this process. */
	d->life = (const uint32_t *)(d->base + XBD_SIM_LIFE_OFFSET);
	if (d->pidfd >= 0 && __atomic_load_n(d->life, __ATOMIC_ACQUIRE) == (uint32_t)pid)
		d->life_owner = (uint32_t)pid;
}

/*
 * The cached incarnation still stands: its owner holds the liveness word as when we opened it
 * (one load, no system call: the kernel rewrites the word when the owner dies, and the guest
 * when it retires the table), or else the same link still names it and the guest process
 * lives (two short syscalls instead of the full path walk through /proc of the slow path).
 */
static bool sim_dom_still_current(struct xbd_gnt *gnt, const struct sim_dom *d)
{
	struct pollfd p = { .fd = d->pidfd, .events = POLLIN };
	struct stat lst;
	char name[16];

	if (d->life_owner && __atomic_load_n(d->life, __ATOMIC_ACQUIRE) == d->life_owner)
		return true;
	if (d->pidfd < 0)
		return false;
	snprintf(name, sizeof(name), "%u", d->domid);
	if (fstatat(gnt->gnttab_fd, name, &lst, AT_SYMLINK_NOFOLLOW) || lst.st_ino != d->link_ino ||
	    lst.st_ctim.tv_sec != d->link_ctime.tv_sec ||
	    lst.st_ctim.tv_nsec != d->link_ctime.tv_nsec)
		return false;
	return poll(&p, 1, 0) == 0;
}

/*
 * The current incarnation of `domid`: a dangling or missing link means the domain is gone (new
 * grant operations fail, existing mappings stay), a link to another file means a new
 * incarnation (the old one lives on while mapped). Checked on every call, cheaply when the
 * cached incarnation still stands, with one stat through the link otherwise.
 */
static int sim_dom_get(struct xbd_gnt *gnt, uint16_t domid, struct sim_dom **out)
{
	char path[PATH_MAX + 32];
	struct sim_dom *d;
	struct stat st;
	int rc;

	for (d = gnt->doms; d; d = d->next)
		if (d->domid == domid)
			break;
	if (d && sim_dom_still_current(gnt, d)) {
		*out = d;
		return 0;
	}
	snprintf(path, sizeof(path), "%s/gnttab/%u", gnt->dir, domid);
	rc = stat(path, &st) ? -ESRCH : 0;
	if (d && !rc && d->dev == st.st_dev && d->ino == st.st_ino) {
		*out = d;
		return 0;
	}
	if (d)
		sim_dom_uncache(gnt, d);
	if (rc)
		return rc;
	rc = sim_dom_open(path, domid, &st, &d);
	if (rc)
		return rc;
	sim_dom_identify(gnt, d);
	d->next = gnt->doms;
	gnt->doms = d;
	*out = d;
	return 0;
}

/* ---------------- the pin protocol (sim_abi.h) ---------------- */

static void sim_reduce_status(struct sim_entry *e, uint32_t pin_read, uint32_t pin_write);

static void sim_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static int64_t sim_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Our pid, the lock word's value while we hold a lock (read once: getpid is a system call). */
static uint32_t sim_lock_owner(void)
{
	static uint32_t self;
	uint32_t p = __atomic_load_n(&self, __ATOMIC_RELAXED);

	if (!p) {
		p = (uint32_t)getpid();
		__atomic_store_n(&self, p, __ATOMIC_RELAXED);
	}
	return p;
}

/*
 * The holder `owner` was killed holding the lock (the restart tests kill -9 a daemon at random
 * moments; Xen has no such state to lose, since a hypercall is never cut off halfway): take the
 * lock over, then put the entry's flags back in line with the counts it left. Its half-done
 * pin either raised no count (then the flags it set are cleared here) or raised one that its
 * ledger records for the next handle to release (xen_sim_pins.c).
 */
static bool sim_lock_steal(struct xbd_sim_active *act, struct sim_entry *e, uint32_t owner)
{
	if (!owner || owner == sim_lock_owner() || kill((pid_t)owner, 0) == 0 || errno != ESRCH)
		return false;
	if (!__atomic_compare_exchange_n(&act->lock, &owner, sim_lock_owner(), false,
					 __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
		return false;
	sim_reduce_status(e, __atomic_load_n(&act->pin_read, __ATOMIC_RELAXED),
			  __atomic_load_n(&act->pin_write, __ATOMIC_RELAXED));
	return true;
}

/*
 * The lock word holds its holder's pid (0: free). Acquire on success: the pin counts and entry
 * we read next are the ones the previous holder left, since it released the lock after
 * writing them.
 */
static bool sim_lock(struct xbd_sim_active *act, struct sim_entry *e)
{
	int64_t deadline = 0;
	unsigned int i;

	for (i = 0;; i++) {
		uint32_t holder = 0;

		if (__atomic_compare_exchange_n(&act->lock, &holder, sim_lock_owner(), false,
						__ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
			return true;
		if (i < SIM_LOCK_SPINS) {
			sim_cpu_relax();
			continue;
		}
		if (sim_lock_steal(act, e, holder))
			return true;
		if (!deadline)
			deadline = sim_now_ns() + SIM_LOCK_TIMEOUT_NS;
		else if (sim_now_ns() > deadline)
			return false;
		sched_yield();
	}
}

/* Release: our updates of the counts and flags are visible before the next holder's. */
static void sim_unlock(struct xbd_sim_active *act)
{
	__atomic_store_n(&act->lock, 0, __ATOMIC_RELEASE);
}

/*
 * Xen's _set_status_v1: check that the entry grants access to `self` (and allows writing, for
 * a write) and set GTF_reading [| GTF_writing] with a cmpxchg of the flags+domid word, so the
 * check and the update see the same entry. A mapping also refuses GTF_sub_page. Acq_rel: the
 * frame we read next was written before the guest's flags (it writes them last, after a
 * barrier).
 */
static int sim_set_status(struct sim_entry *e, uint16_t self, bool write, bool map)
{
	uint16_t mask = GTF_type_mask | (map ? GTF_sub_page : 0);
	uint32_t old = __atomic_load_n(&e->combo, __ATOMIC_ACQUIRE);
	uint32_t want;
	int tries;

	for (tries = 0; tries < SIM_CMPXCHG_RETRIES; tries++) {
		if ((SIM_COMBO_FLAGS(old) & mask) != GTF_permit_access ||
		    SIM_COMBO_DOMID(old) != self)
			return GNTST_general_error;
		if (write && (SIM_COMBO_FLAGS(old) & GTF_readonly))
			return GNTST_general_error;
		want = old | GTF_reading | (write ? GTF_writing : 0);
		if (want == old ||
		    __atomic_compare_exchange_n(&e->combo, &old, want, false, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE))
			return GNTST_okay;
	}
	return GNTST_general_error;
}

/*
 * Xen's reduce_status_for_pin: drop GTF_writing once no writer is left and GTF_reading once
 * nobody is. Release: every access we made to the page happens before the guest can see the
 * bits clear and end access.
 */
static void sim_reduce_status(struct sim_entry *e, uint32_t pin_read, uint32_t pin_write)
{
	uint32_t clear = 0;

	if (!pin_write)
		clear |= GTF_writing;
	if (!pin_read && !pin_write)
		clear |= GTF_reading;
	if (clear)
		__atomic_fetch_and(&e->combo, ~clear, __ATOMIC_RELEASE);
}

/*
 * Pins `ref` of `d` for `self` and returns its frame in *frame: GNTST_okay or the GNTST_* code
 * Xen would give. The counts live in guest-writable memory: read once under the lock, checked
 * for overflow, written back with plain atomic stores.
 */
static int sim_pin(struct sim_dom *d, uint32_t ref, uint16_t self, bool write, bool map,
		   uint32_t *frame)
{
	struct xbd_sim_active *act;
	struct sim_entry *e;
	uint32_t rd, wr, f;
	int st;

	if (ref >= d->nr_grants)
		return GNTST_bad_gntref;
	act = &d->active[ref];
	e = &d->entries[ref];
	if (!sim_lock(act, e))
		return GNTST_general_error;
	rd = __atomic_load_n(&act->pin_read, __ATOMIC_RELAXED);
	wr = __atomic_load_n(&act->pin_write, __ATOMIC_RELAXED);
	if ((write ? wr : rd) == UINT32_MAX) {
		st = GNTST_general_error;
		goto out;
	}
	st = sim_set_status(e, self, write, map);
	if (st != GNTST_okay)
		goto out;
	f = __atomic_load_n(&e->frame, __ATOMIC_RELAXED);
	if (f >= d->nr_frames) {
		sim_reduce_status(e, rd, wr);
		st = GNTST_bad_page;
		goto out;
	}
	if (write)
		__atomic_store_n(&act->pin_write, wr + 1, __ATOMIC_RELAXED);
	else
		__atomic_store_n(&act->pin_read, rd + 1, __ATOMIC_RELAXED);
	*frame = f;
out:
	sim_unlock(act);
	return st;
}

/* If the guest holds the lock for ever, the pin leaks: only that guest's grant stays busy. */
static void sim_unpin(struct sim_dom *d, uint32_t ref, bool write)
{
	struct xbd_sim_active *act = &d->active[ref];
	uint32_t rd, wr;

	if (!sim_lock(act, &d->entries[ref]))
		return;
	rd = __atomic_load_n(&act->pin_read, __ATOMIC_RELAXED);
	wr = __atomic_load_n(&act->pin_write, __ATOMIC_RELAXED);
	/* A guest may have zeroed the counts: never wrap below 0. */
	if (write && wr)
		__atomic_store_n(&act->pin_write, --wr, __ATOMIC_RELAXED);
	else if (!write && rd)
		__atomic_store_n(&act->pin_read, --rd, __ATOMIC_RELAXED);
	sim_reduce_status(&d->entries[ref], rd, wr);
	sim_unlock(act);
}

/*
 * A pin of ours, recorded before it is taken and forgotten after it is dropped. A kill between
 * the two steps then leaves the ledger one above the count, and the next handle releases one
 * pin too many, which sim_unpin clamps at 0; the other order leaked the pin for ever, and a
 * guest whose grant stays in use must treat its backend as broken (as Linux blkfront does).
 * The clamp can only take a pin from another process mapping the same grant at that moment.
 */
static int sim_pin_ours(struct xbd_gnt *gnt, struct sim_dom *d, uint32_t ref, bool write,
			bool map, uint32_t *frame)
{
	int st;

	sim_ledger_add(gnt->ledger, d->domid, (uint32_t)d->ino, ref, write, 1);
	st = sim_pin(d, ref, gnt->self, write, map, frame);
	if (st != GNTST_okay)
		sim_ledger_add(gnt->ledger, d->domid, (uint32_t)d->ino, ref, write, -1);
	return st;
}

static void sim_unpin_ours(struct xbd_gnt *gnt, struct sim_dom *d, uint32_t ref, bool write)
{
	sim_unpin(d, ref, write);
	sim_ledger_add(gnt->ledger, d->domid, (uint32_t)d->ino, ref, write, -1);
}

/* What a dead handle's ledger holds, in the incarnation it pinned. */
static void sim_release_dead(void *ctx, uint16_t domid, uint32_t ino, uint32_t ref, bool write,
			     uint32_t count)
{
	struct xbd_gnt *gnt = ctx;
	struct sim_dom *d;

	if (sim_dom_get(gnt, domid, &d) || (uint32_t)d->ino != ino || ref >= d->nr_grants)
		return;
	while (count--)
		sim_unpin(d, ref, write);
}

/* ---------------- the handle ---------------- */

int xbd_sim_gnt_open(struct xbd_gnt **out)
{
	struct xbd_gnt *gnt;
	int rc;

	if (sysconf(_SC_PAGESIZE) != SIM_PAGE)
		return -EOPNOTSUPP;
	gnt = calloc(1, sizeof(*gnt));
	if (!gnt)
		return -ENOMEM;
	rc = xbd_sim_env(gnt->dir, &gnt->self);
	if (rc) {
		free(gnt);
		return rc;
	}
	gnt->gnttab_fd = openat(AT_FDCWD, gnt->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (gnt->gnttab_fd >= 0) {
		int dir = gnt->gnttab_fd;

		gnt->gnttab_fd = openat(dir, "gnttab", O_PATH | O_DIRECTORY | O_CLOEXEC);
		close(dir);
	}
	/* Without a ledger a death leaks its pins, as before: not worth failing the open. */
	sim_ledger_open(gnt->dir, &gnt->ledger);
	sim_ledger_reap(gnt->dir, sim_release_dead, gnt);
	*out = gnt;
	return 0;
}

static unsigned int sim_map_bucket(const void *addr)
{
	return (unsigned int)(((uintptr_t)addr / SIM_PAGE) % SIM_MAP_BUCKETS);
}

/* Unmap first, then unpin: the guest may reuse the page as soon as the bits clear. */
static void sim_mapping_release(struct xbd_gnt *gnt, struct sim_mapping *m,
				unsigned int nr_pinned)
{
	unsigned int i;

	munmap(m->addr, (size_t)m->n * SIM_PAGE);
	for (i = 0; i < nr_pinned; i++)
		sim_unpin_ours(gnt, m->dom, m->refs[i], m->writable);
	sim_dom_put(m->dom);
	free(m);
}

/* Like closing gntdev: every mapping goes, then the domains. */
void xbd_sim_gnt_close(struct xbd_gnt *gnt)
{
	struct sim_mapping *m;
	unsigned int b;

	if (!gnt)
		return;
	for (b = 0; b < SIM_MAP_BUCKETS; b++) {
		while ((m = gnt->maps[b])) {
			gnt->maps[b] = m->next;
			sim_mapping_release(gnt, m, m->n);
		}
	}
	while (gnt->doms)
		sim_dom_uncache(gnt, gnt->doms);
	sim_ledger_close(gnt->ledger);
	if (gnt->gnttab_fd >= 0)
		close(gnt->gnttab_fd);
	free(gnt);
}

/* ---------------- map and unmap ---------------- */

static int sim_map_page(struct xbd_gnt *gnt, struct sim_mapping *m, unsigned int i)
{
	int prot = PROT_READ | (m->writable ? PROT_WRITE : 0);
	uint32_t frame;
	void *p;

	if (sim_pin_ours(gnt, m->dom, m->refs[i], m->writable, true, &frame) != GNTST_okay)
		return -EINVAL; /* what gntdev answers for any failed grant */
	p = mmap(m->addr + (size_t)i * SIM_PAGE, SIM_PAGE, prot, MAP_SHARED | MAP_FIXED,
		 m->dom->fd, (off_t)(m->dom->frames_offset + (uint64_t)frame * SIM_PAGE));
	if (p == MAP_FAILED) {
		int rc = -errno;

		sim_unpin_ours(gnt, m->dom, m->refs[i], m->writable);
		return rc;
	}
	return 0;
}

static struct sim_mapping *sim_mapping_new(struct sim_dom *dom, const uint32_t *refs,
					   unsigned int n, bool writable)
{
	struct sim_mapping *m = calloc(1, sizeof(*m) + (size_t)n * sizeof(m->refs[0]));

	if (!m)
		return NULL;
	/* Reserve the whole range first, so the pages land contiguously. */
	m->addr = mmap(NULL, (size_t)n * SIM_PAGE, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m->addr == MAP_FAILED) {
		free(m);
		return NULL;
	}
	memcpy(m->refs, refs, (size_t)n * sizeof(m->refs[0]));
	m->n = n;
	m->writable = writable;
	m->dom = dom;
	dom->users++;
	return m;
}

int xbd_sim_gnt_map(struct xbd_gnt *gnt, uint16_t domid, const uint32_t *refs, unsigned int n,
		    bool writable, void **addr)
{
	struct sim_mapping *m;
	struct sim_dom *dom;
	unsigned int i, b;
	int rc;

	if (!n || n > SIM_MAP_MAX_PAGES || !refs || !addr)
		return -EINVAL;
	rc = sim_dom_get(gnt, domid, &dom);
	if (rc)
		return rc == -ENOMEM ? rc : -EINVAL;
	m = sim_mapping_new(dom, refs, n, writable);
	if (!m)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		rc = sim_map_page(gnt, m, i);
		if (rc) {
			sim_mapping_release(gnt, m, i);
			return rc;
		}
	}
	b = sim_map_bucket(m->addr);
	m->next = gnt->maps[b];
	gnt->maps[b] = m;
	*addr = m->addr;
	return 0;
}

int xbd_sim_gnt_unmap(struct xbd_gnt *gnt, void *addr, unsigned int n)
{
	struct sim_mapping **pp, *m;

	for (pp = &gnt->maps[sim_map_bucket(addr)]; (m = *pp); pp = &m->next) {
		if (m->addr != addr)
			continue;
		if (m->n != n)
			return -EINVAL;
		*pp = m->next;
		sim_mapping_release(gnt, m, n);
		return 0;
	}
	return -EINVAL;
}

/* ---------------- copy ---------------- */

/* The domain of the previous segment: one lookup per run of segments of one domain. */
struct sim_copy_cache {
	bool valid;
	uint16_t domid;
	int rc;
	struct sim_dom *dom;
};

static int sim_copy_one(struct xbd_gnt *gnt, struct xbd_gnt_copy_seg *s,
			struct sim_copy_cache *c)
{
	uint32_t frame;
	uint8_t *page;
	int st;

	if ((unsigned int)s->offset + s->len > SIM_PAGE)
		return GNTST_bad_copy_arg;
	if (!c->valid || c->domid != s->domid) {
		c->rc = sim_dom_get(gnt, s->domid, &c->dom);
		c->domid = s->domid;
		c->valid = true;
	}
	if (c->rc)
		return c->rc == -ENOMEM ? GNTST_general_error : GNTST_bad_domain;
	st = sim_pin_ours(gnt, c->dom, s->ref, s->to_guest, false, &frame);
	if (st != GNTST_okay)
		return st;
	page = c->dom->frames + (size_t)frame * SIM_PAGE + s->offset;
	if (s->to_guest)
		memcpy(page, s->buf, s->len);
	else
		memcpy(s->buf, page, s->len);
	sim_unpin_ours(gnt, c->dom, s->ref, s->to_guest);
	return GNTST_okay;
}

int xbd_sim_gnt_copy(struct xbd_gnt *gnt, struct xbd_gnt_copy_seg *segs, unsigned int n)
{
	struct sim_copy_cache cache = { .valid = false };
	unsigned int i;

	if (n && !segs)
		return -EINVAL;
	for (i = 0; i < n; i++)
		segs[i].status = (int16_t)sim_copy_one(gnt, &segs[i], &cache);
	return 0;
}
