/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * sim-blkfront's hostile mode (`--attack NAME`): a malicious guest, one named scenario per
 * attack on the backend (docs/simulation.md, "Hostile frontends", says how each maps onto what
 * Xen lets a guest do). Each scenario does its attack at one well-defined point, then prints
 * what it saw as `attack: name=... outcome=...` lines on stdout, which the tests in
 * tests/hostile/ compare with the outcome they expect. Whatever the attack, every response the
 * backend writes must have zero padding (XSA-216): the check is also hooked into the honest
 * ring code, so every run of sim-blkfront makes it.
 */
#ifndef XBD_SIM_FRONT_HOSTILE_H
#define XBD_SIM_FRONT_HOSTILE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "front_abi.h"

struct front;

/* Pages of guest memory the attacks use, besides the honest rings and pools. */
#define FHOSTILE_FRAMES 1100u

/* 0 if NAME is a known attack, -EINVAL otherwise. */
int fhostile_check_name(const char *name);
/* The attacks' names, one per line. */
void fhostile_list(FILE *out);
/* Run the attack named in f->opt.attack on a set-up frontend. 0 when the attack ran and every
 * check that does not depend on the backend's verdict passed; -errno otherwise. */
int fhostile_run(struct front *f);

/* True when the padding bytes of the response in this ring slot are all zero. */
bool fhostile_rsp_padding_zero(enum fabi abi, const void *slot);

#endif
