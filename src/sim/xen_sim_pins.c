/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Pins of a mapper that died (docs/simulation.md, "A mapper that dies"). In Xen, gntdev drops
 * every mapping of a process that dies, whatever kills it; here the pin counts live in the
 * guest's memfd and a killed daemon would leave them raised for ever, so the guest could never
 * end access to a page the dead process had mapped. Each grant handle therefore keeps a ledger
 * of the pins it holds: a file $XENBLKD_SIM_DIR/pins/ledger.XXXXXX, mapped shared, on which
 * the handle holds an exclusive flock for its life. A lock taken without waiting means the
 * owner is gone: the next handle opened anywhere releases what the ledger records and removes
 * it. A pin is recorded after it is taken and forgotten before it is dropped, so a death
 * between the two leaks one pin (as before), never releases one twice.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
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

struct sim_ledger {
	int fd;
	char path[PATH_MAX];
	struct ledger_slot *slots;
};

static size_t ledger_bytes(void)
{
	return LEDGER_SLOTS * sizeof(struct ledger_slot);
}

int sim_ledger_open(const char *dir, struct sim_ledger **out)
{
	struct sim_ledger *l = calloc(1, sizeof(*l));
	char tmp[PATH_MAX];
	int n;

	if (!l)
		return -ENOMEM;
	n = snprintf(l->path, sizeof(l->path), "%s/pins", dir);
	if (n < 0 || (size_t)n >= sizeof(l->path) - 16 || (mkdir(l->path, 0700) && errno != EEXIST))
		goto err;
	strcat(l->path, "/tmp.XXXXXX");
	l->fd = mkostemp(l->path, O_CLOEXEC);
	if (l->fd < 0)
		goto err;
	if (flock(l->fd, LOCK_EX | LOCK_NB) || ftruncate(l->fd, (off_t)ledger_bytes()))
		goto err_file;
	/* Named a ledger only once locked: a reaper never sees one being set up. */
	snprintf(tmp, sizeof(tmp), "%s", l->path);
	memcpy(strrchr(l->path, '/') + 1, "ledger", 6);
	memmove(strrchr(l->path, '/') + 7, strrchr(tmp, '.'), strlen(strrchr(tmp, '.')) + 1);
	if (rename(tmp, l->path)) {
		snprintf(l->path, sizeof(l->path), "%s", tmp);
		goto err_file;
	}
	l->slots = mmap(NULL, ledger_bytes(), PROT_READ | PROT_WRITE, MAP_SHARED, l->fd, 0);
	if (l->slots == MAP_FAILED)
		goto err_file;
	*out = l;
	return 0;
err_file:
	unlink(l->path);
	close(l->fd);
err:
	free(l);
	return -errno ? -errno : -EIO;
}

void sim_ledger_close(struct sim_ledger *l)
{
	if (!l)
		return;
	/* Unlinked before the lock goes: a reaper that still opens it finds every count 0. */
	unlink(l->path);
	munmap(l->slots, ledger_bytes());
	close(l->fd);
	free(l);
}

static struct ledger_slot *ledger_find(struct sim_ledger *l, uint16_t domid, uint32_t ino,
				       uint32_t ref, bool write)
{
	uint32_t h = (ref * 2654435761u) ^ ((uint32_t)domid << 1) ^ (uint32_t)write;

	for (unsigned int i = 0; i < LEDGER_SLOTS; i++) {
		struct ledger_slot *s = &l->slots[(h + i) % LEDGER_SLOTS];

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

static void ledger_reap_one(int dfd, const char *name, sim_release_fn fn, void *ctx)
{
	int fd = openat(dfd, name, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	struct ledger_slot *slots;
	struct stat st;

	if (fd < 0)
		return;
	/* Its owner holds the lock while it lives. */
	if (flock(fd, LOCK_EX | LOCK_NB) || fstat(fd, &st) || (size_t)st.st_size != ledger_bytes()) {
		close(fd);
		return;
	}
	slots = mmap(NULL, ledger_bytes(), PROT_READ, MAP_SHARED, fd, 0);
	if (slots != MAP_FAILED) {
		for (unsigned int i = 0; i < LEDGER_SLOTS; i++) {
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
