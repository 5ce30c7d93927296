/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The token bucket of tbucket.h.
 */
#include "tbucket.h"

#define NS 1000000000ull

void xbd_tb_init(struct xbd_tbucket *tb, uint64_t rate, uint64_t now_ns)
{
	tb->rate = rate;
	tb->burst = rate / 10 ? rate / 10 : 1;
	tb->tokens = (int64_t)tb->burst;
	tb->last_ns = now_ns;
}

static void refill(struct xbd_tbucket *tb, uint64_t now_ns)
{
	uint64_t add;

	if (now_ns <= tb->last_ns)
		return;
	add = (now_ns - tb->last_ns) * tb->rate / NS;
	if (add == 0)
		return; /* keep last_ns so slow rates still accumulate */
	tb->last_ns += add * NS / tb->rate;
	tb->tokens = tb->tokens + (int64_t)add > (int64_t)tb->burst ? (int64_t)tb->burst
								      : tb->tokens + (int64_t)add;
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
	uint64_t need;

	if (!tb->rate || tb->tokens > 0)
		return 0;
	need = (uint64_t)(1 - tb->tokens);
	return (int)((need * 1000 + tb->rate - 1) / tb->rate);
}
