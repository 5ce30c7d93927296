/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Replacing the image a VBD serves while the guest runs (vbd.h): the swap of a paused VBD onto
 * an external snapshot's overlay (xenblkctl resume --image), and the switch a mirror ends
 * with (vbd_mirror.c). The new image is opened like any image (format and backing chain as
 * the administrator gives them, never from its header; the image lock), must look exactly
 * like the old one to the guest (size, sector size, what was offered), and is recorded in the
 * backend keys xenblkd-active-image/-backing before the guest can write to it, so that a
 * restarted daemon serves it instead of params. Every refusal leaves the old image serving.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xenblkd/log.h"
#include "xenblkd/vbd.h"
#include "xenblkd/xs_value.h"

void xbd_vbd_image_describe(const struct xbd_vbd *v, char *buf, size_t len)
{
	snprintf(buf, len, "%s:%s", xbd_format_name(v->image_format),
		 v->image_path ? v->image_path : "-");
}

int xbd_vbd_check_replacement(struct xbd_vbd *v, struct xbd_disk *d, char *why, size_t len)
{
	const struct xbd_disk_info *n = xbd_disk_get_info(d), *o = v->info;

	if (n->size != o->size)
		snprintf(why, len, "its size is %llu bytes, the disk's %llu: the guest's disk may "
			 "not grow or shrink behind its back (resize it with qemu-img resize "
			 "first, or resize the guest's disk afterwards)",
			 (unsigned long long)n->size, (unsigned long long)o->size);
	else if (n->sector_size != o->sector_size)
		snprintf(why, len, "its sectors are %u bytes, the guest's %u", n->sector_size,
			 o->sector_size);
	else if (n->mem_align > o->mem_align)
		snprintf(why, len, "it needs %u-byte aligned buffers, the queues have %u",
			 n->mem_align, o->mem_align);
	else if ((v->offer_flush || v->offer_barrier) && !n->can_flush)
		snprintf(why, len, "it cannot flush, and the guest was offered flushes");
	else if (v->offer_discard && !n->can_discard)
		snprintf(why, len, "it cannot discard, and the guest was offered discard");
	else
		return 0;
	return -EINVAL;
}

/* Swap every queue to `to`; on a failure, the swapped ones back to `from`. */
static int swap_queues(struct xbd_vbd *v, struct xbd_disk *from, struct xbd_disk *to)
{
	for (unsigned int q = 0; q < v->nr_queues; q++) {
		int r = xbd_dataplane_swap_disk(v->dp[q], to);

		if (!r)
			continue;
		while (q-- > 0)
			if (xbd_dataplane_swap_disk(v->dp[q], from))
				xbd_err(v->prefix, "queue %u cannot go back to the old image", q);
		return r;
	}
	return 0;
}

static int keep_strings(struct xbd_vbd *v, const char *path, const char *chain)
{
	char *p = strdup(path), *c = chain ? strdup(chain) : NULL;

	if (!p || (chain && !c)) {
		free(p);
		free(c);
		return -ENOMEM;
	}
	free(v->image_path);
	free(v->image_backing);
	v->image_path = p;
	v->image_backing = c;
	return 0;
}

int xbd_vbd_switch_disk(struct xbd_vbd *v, struct xbd_disk *d, const char *path,
			enum xbd_format fmt, const char *chain, char *why, size_t len)
{
	struct xbd_disk *old = v->disk;
	char spec[4200];
	int r = swap_queues(v, old, d);

	if (r) {
		snprintf(why, len, "a queue cannot switch to it: %s", strerror(-r));
		return r;
	}
	/* An NBD target is a whole params value: "aio:" in front of it parses back as NBD. */
	snprintf(spec, sizeof(spec), "%s:%s", fmt == XBD_FORMAT_NBD ? "aio" : xbd_format_name(fmt),
		 path);
	/* Recorded before the guest can write to it: a restart from now on serves it. */
	r = xbd_xb_record_active(v, spec, chain);
	if (!r)
		r = keep_strings(v, path, chain);
	if (r) {
		swap_queues(v, d, old);
		snprintf(why, len, "cannot record it in xenblkd-active-image: %s", strerror(-r));
		return r;
	}
	v->disk = d;
	v->info = xbd_disk_get_info(d);
	v->image_format = fmt;
	v->image_switched = true;
	xbd_vbd_export_switch(v, d); /* its clients' queues on the old disk close first */
	xbd_disk_close(old);
	return 0;
}

/* The administrator's chain, parsed into storage that lives as long as the disk. */
static int parse_chain(const char *chain, char **text, struct xbd_backing_file *out,
		       unsigned int *n, char *why, size_t len)
{
	*n = 0;
	*text = NULL;
	if (!chain)
		return 0;
	*text = strdup(chain);
	if (*text && !xbd_parse_backing_chain(*text, out, XBD_MAX_BACKING_CHAIN, n))
		return 0;
	free(*text);
	*text = NULL;
	snprintf(why, len, "backing chain '%.200s' is not FORMAT:PATH (qcow2 or raw, an absolute "
		 "path), at most 16 separated by |", chain);
	return -EINVAL;
}

/* The old image no longer needs to be written while paused: lock it read-only, so the new
 * overlay may open it as a backing file (QEMU's locks exclude a reader beside a writer). */
static int open_replacement(struct xbd_vbd *v, enum xbd_format fmt, const char *path,
			    struct xbd_backing_file *chain, unsigned int n, struct xbd_disk **d,
			    char *why, size_t len)
{
	int r = xbd_disk_relock(v->disk, true);

	if (r) {
		snprintf(why, len, "cannot lock the old image read-only: %s", strerror(-r));
		return r;
	}
	r = xbd_vbd_open_disk(v, fmt, path, chain, n, d);
	if (!r)
		r = xbd_vbd_check_replacement(v, *d, why, len);
	else
		snprintf(why, len, "cannot open %s: %s%s", path, strerror(-r),
			 r == -EBUSY ? " (another program holds it, or a backing file, for "
			 "writing)" : fmt == XBD_FORMAT_QCOW2 ? " (the log says why; a qcow2 "
			 "overlay's backing chain is followed only as given with --backing)" : "");
	if (r && *d) {
		xbd_disk_close(*d);
		*d = NULL;
	}
	if (r && xbd_disk_relock(v->disk, false))
		xbd_err(v->prefix, "the old image cannot be locked for writing again: another "
			"program took it meanwhile");
	return r;
}

int xbd_vbd_swap_image(struct xbd_vbd *v, const char *spec, const char *chain, char *why,
		       size_t len)
{
	struct xbd_backing_file *files = calloc(XBD_MAX_BACKING_CHAIN, sizeof(*files));
	struct xbd_disk *d = NULL;
	enum xbd_format fmt;
	const char *path;
	char *text;
	unsigned int n;
	int r;

	if (!files)
		return -ENOMEM;
	if (!v->paused) {
		snprintf(why, len, "the VBD is not paused: pause it, take the snapshot, then resume "
			 "with --image");
		return -EBUSY;
	}
	if (v->mirror || v->opt->driver || !v->disk) {
		snprintf(why, len, v->mirror ? "a mirror is running: cancel it first"
			 : "this VBD serves a test driver, not an image");
		return -EBUSY;
	}
	if (!strchr(spec, ':') || xbd_parse_params(spec, &fmt, &path)) {
		snprintf(why, len, "image '%.200s' is not FORMAT:/absolute/path (raw or qcow2: the "
			 "format is given, never guessed from the image)", spec);
		return -EINVAL;
	}
	r = parse_chain(chain, &text, files, &n, why, len);
	if (!r)
		r = open_replacement(v, fmt, path, files, n, &d, why, len);
	if (!r)
		r = xbd_vbd_switch_disk(v, d, path, fmt, chain, why, len);
	if (r) {
		if (d) {
			xbd_disk_close(d);
			if (xbd_disk_relock(v->disk, false))
				xbd_err(v->prefix, "the old image cannot be locked for writing again");
		}
		free(text);
		free(files);
		return r;
	}
	/* The disk's configuration points into them until it closes. */
	free(v->chain_text);
	free(v->chain_files);
	v->chain_text = text;
	v->chain_files = files;
	return 0;
}
