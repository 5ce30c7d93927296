/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The token bucket of tbucket.h.
 */
#include <limits.h>

#include "tbucket.h"

#define NS 1000000000ull

__extension__ typedef unsigned __int128 u128;
__extension__ typedef __int128 s128;

void xbd_tb_init(struct xbd_tbucket *tb, uint64_t rate, uint64_t now_ns)
{
	tb->rate = rate;
	tb->burst = rate / 10 ? rate / 10 : 1;
	tb->tokens = (int64_t)tb->burst;
	tb->last_ns = now_ns;
}

/*
 * Tokens earned since last_ns, in 128 bits: (now - last) * rate passes 2^64 after half a
 * minute idle at 1 GB/s and wrapped to a small or zero refill. Once the bucket is full the
 * rest of the idle time is worthless, so last_ns simply becomes now.
 */
static void refill(struct xbd_tbucket *tb, uint64_t now_ns)
{
	u128 add, room;

	if (now_ns <= tb->last_ns)
		return;
	add = (u128)(now_ns - tb->last_ns) * tb->rate / NS;
	if (add == 0)
		return; /* keep last_ns so slow rates still accumulate */
	/* tokens <= burst <= UINT64_MAX / 10, so room is positive and exact. */
	room = (u128)((s128)tb->burst - tb->tokens);
	if (add >= room) {
		tb->tokens = (int64_t)tb->burst;
		tb->last_ns = now_ns;
		return;
	}
	/* add < room <= burst + one request's debt: the products below fit in 128 bits, and
	 * the time the whole tokens took is at most now - last_ns. */
	tb->last_ns += (uint64_t)(add * NS / tb->rate);
	tb->tokens += (int64_t)add;
}

bool xbd_tb_ready(struct xbd_tbucket *tb, uint64_t now_ns)
{
	if (!tb->rate)
		return true;
	refill(tb, now_ns);
	return tb->tokens > 0;
}

void xbd_tb_take(struct xbd_tbucket *tb, uint64_t n)
{
	if (tb->rate)
		tb->tokens -= (int64_t)n;
}

int xbd_tb_wait_ms(const struct xbd_tbucket *tb)
{
	u128 need, ms;

	if (!tb->rate || tb->tokens > 0)
		return 0;
	need = (u128)(1 - (s128)tb->tokens);
	ms = (need * 1000 + tb->rate - 1) / tb->rate;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}
