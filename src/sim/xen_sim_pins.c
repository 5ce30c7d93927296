/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Pins of a mapper that died (docs/simulation.md, "A mapper that dies"). In Xen, gntdev drops
 * every mapping of a process that dies, whatever kills it; here the pin counts live in the
 * guest's memfd and a killed daemon would leave them raised for ever, so the guest could never
 * end access to a page the dead process had mapped. Each grant handle therefore keeps a ledger
 * of the pins it holds: a file $XENBLKD_SIM_DIR/pins/ledger.XXXXXX, mapped shared (no fd kept:
 * a daemon's fd count per queue is checked elsewhere), whose first slot names its owner by pid
 * and start time. An owner that no longer runs is gone: the next handle opened anywhere
 * releases what the ledger records and removes it, under a flock that keeps two reapers
 * apart. A pin is recorded before it is taken and forgotten after it is dropped
 * (xen_sim_gnt.c says why), so a death between the two releases one pin too many, clamped at 0.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xen_sim.h"
#include "xen_sim_pins.h"

#define LEDGER_SLOTS 16384u /* distinct (domain, ref, access) keys of one handle */

struct ledger_slot {
	uint32_t ref;
	uint16_t domid;
	uint8_t write;
	uint8_t used;
	uint32_t count;
	uint32_t dom_ino;
};

/* Slot 0 of a ledger: who owns it. */
struct ledger_owner {
	uint32_t pid;
	uint32_t image;      /* image_mark() of the owner: tells an exec'd-over image apart */
	uint64_t start_time; /* /proc/<pid>/stat field 22: tells a reused pid apart */
};
_Static_assert(sizeof(struct ledger_owner) == sizeof(struct ledger_slot), "one slot");

struct sim_ledger {
	char path[PATH_MAX];
	struct ledger_slot *slots;
};

/* A process's start time, 0 if it does not run. */
static uint64_t start_time(uint32_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long t = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	/* After the command: state is field 3, start time field 22. */
	for (int field = 2; p && field < 21; field++)
		p = strchr(p + 1, ' ');
	if (p)
		sscanf(p + 1, "%llu", &t);
	return t;
}

/*
 * This process image's mark, chosen once (static storage starts again at each exec). An exec
 * keeps the pid and the start time, yet gntdev drops the old image's mappings with its memory
 * (xenblkctl upgrade re-executes the daemon): a ledger of our own pid with another mark is an
 * earlier image's, and dead. Installed with a compare-and-swap: queues open handles at once.
 */
static uint32_t image_mark(void)
{
	static uint32_t mark;
	uint32_t m = __atomic_load_n(&mark, __ATOMIC_ACQUIRE), none = 0;

	if (m)
		return m;
	if (getrandom(&m, sizeof(m), GRND_NONBLOCK) != (ssize_t)sizeof(m))
		m = (uint32_t)time(NULL) ^ (uint32_t)(uintptr_t)&m;
	m |= 1u;
	if (!__atomic_compare_exchange_n(&mark, &none, m, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE))
		m = none; /* another thread's came first */
	return m;
}

static size_t ledger_bytes(void)
{
	return LEDGER_SLOTS * sizeof(struct ledger_slot);
}

int sim_ledger_open(const char *dir, struct sim_ledger **out)
{
	struct sim_ledger *l = calloc(1, sizeof(*l));
	struct ledger_owner *owner;
	char tmp[PATH_MAX];
	int n, fd;

	if (!l)
		return -ENOMEM;
	n = snprintf(l->path, sizeof(l->path), "%s/pins", dir);
	if (n < 0 || (size_t)n >= sizeof(l->path) - 16 || (mkdir(l->path, 0700) && errno != EEXIST))
		goto err;
	strcat(l->path, "/tmp.XXXXXX");
	fd = mkostemp(l->path, O_CLOEXEC);
	if (fd < 0)
		goto err;
	if (ftruncate(fd, (off_t)ledger_bytes()))
		goto err_file;
	l->slots = mmap(NULL, ledger_bytes(), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (l->slots == MAP_FAILED)
		goto err_file;
	owner = (struct ledger_owner *)&l->slots[0];
	owner->pid = (uint32_t)getpid();
	owner->image = image_mark();
	owner->start_time = start_time(owner->pid);
	/* Named a ledger only once it names its owner: a reaper never sees one being set up. */
	snprintf(tmp, sizeof(tmp), "%s", l->path);
	memcpy(strrchr(l->path, '/') + 1, "ledger", 6);
	memmove(strrchr(l->path, '/') + 7, strrchr(tmp, '.'), strlen(strrchr(tmp, '.')) + 1);
	if (rename(tmp, l->path)) {
		snprintf(l->path, sizeof(l->path), "%s", tmp);
		munmap(l->slots, ledger_bytes());
		goto err_file;
	}
	close(fd);
	*out = l;
	return 0;
err_file:
	unlink(l->path);
	close(fd);
err:
	free(l);
	return -errno ? -errno : -EIO;
}

void sim_ledger_close(struct sim_ledger *l)
{
	if (!l)
		return;
	/* Every count is 0 by now (the handle unpinned everything): a reaper finds nothing. */
	unlink(l->path);
	munmap(l->slots, ledger_bytes());
	free(l);
}

static struct ledger_slot *ledger_find(struct sim_ledger *l, uint16_t domid, uint32_t ino,
				       uint32_t ref, bool write)
{
	uint32_t h = (ref * 2654435761u) ^ ((uint32_t)domid << 1) ^ (uint32_t)write;

	for (unsigned int i = 0; i < LEDGER_SLOTS - 1; i++) {
		struct ledger_slot *s = &l->slots[1 + (h + i) % (LEDGER_SLOTS - 1)];

		if (!s->used) {
			*s = (struct ledger_slot){ .ref = ref, .domid = domid, .write = write,
						   .dom_ino = ino };
			/* The key is complete before the slot counts as used. */
			__atomic_store_n(&s->used, 1, __ATOMIC_RELEASE);
			return s;
		}
		if (s->ref == ref && s->domid == domid && s->write == write &&
		    s->dom_ino == ino)
			return s;
	}
	return NULL; /* full: this pin is not recorded, and leaks if we die holding it */
}

void sim_ledger_add(struct sim_ledger *l, uint16_t domid, uint32_t ino, uint32_t ref,
		    bool write, int delta)
{
	struct ledger_slot *s = l ? ledger_find(l, domid, ino, ref, write) : NULL;

	if (s && (delta > 0 || s->count))
		__atomic_store_n(&s->count, s->count + (uint32_t)delta, __ATOMIC_RELEASE);
}

static bool owner_runs(const struct ledger_owner *o)
{
	uint64_t t;

	if (o->pid == (uint32_t)getpid())
		return o->image == image_mark();
	t = start_time(o->pid);
	if (!o->start_time) /* its /proc was unreadable: the pid alone, then */
		return kill((pid_t)o->pid, 0) == 0 || errno == EPERM;
	return t && t == o->start_time;
}

static void ledger_reap_one(int dfd, const char *name, sim_release_fn fn, void *ctx)
{
	int fd = openat(dfd, name, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	struct ledger_slot *slots;
	struct stat st;

	if (fd < 0)
		return;
	/* One reaper at a time; the one that got here first removed it (no link left). */
	if (flock(fd, LOCK_EX | LOCK_NB) || fstat(fd, &st) || !st.st_nlink ||
	    (size_t)st.st_size != ledger_bytes()) {
		close(fd);
		return;
	}
	slots = mmap(NULL, ledger_bytes(), PROT_READ, MAP_SHARED, fd, 0);
	if (slots != MAP_FAILED && owner_runs((const struct ledger_owner *)&slots[0])) {
		munmap(slots, ledger_bytes());
		slots = MAP_FAILED;
	}
	if (slots != MAP_FAILED) {
		for (unsigned int i = 1; i < LEDGER_SLOTS; i++) {
			struct ledger_slot s = slots[i];

			if (s.used && s.count)
				fn(ctx, s.domid, s.dom_ino, s.ref, s.write, s.count);
		}
		munmap(slots, ledger_bytes());
		unlinkat(dfd, name, 0);
	}
	close(fd);
}

void sim_ledger_reap(const char *dir, sim_release_fn fn, void *ctx)
{
	char path[PATH_MAX];
	struct dirent *e;
	DIR *d;

	snprintf(path, sizeof(path), "%s/pins", dir);
	d = opendir(path);
	if (!d)
		return;
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, "ledger.", 7))
			ledger_reap_one(dirfd(d), e->d_name, fn, ctx);
	closedir(d);
}
