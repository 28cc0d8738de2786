/* Per-JID request rate limiting: one token bucket per bare JID (rate
 * tokens per second, at most `burst`). A bucket that has refilled to the
 * brim is indistinguishable from no bucket, so ps_rl_sweep forgets those:
 * memory follows the JIDs active in the last burst/rate seconds. Time is
 * passed in (ev_now), which keeps this testable without a loop. */
#ifndef HERALD_PS_RATELIMIT_H
#define HERALD_PS_RATELIMIT_H

#include <stddef.h>

typedef struct ps_rl ps_rl_t;

/* rate 0 = unlimited (ps_rl_take always allows, nothing is stored);
 * burst 0 counts as 1. NULL on OOM. */
ps_rl_t *ps_rl_new(unsigned rate, unsigned burst);
void ps_rl_free(ps_rl_t *rl);

/* Takes one token from `key`'s bucket at time `now` (seconds). Returns 1
 * when allowed, 0 when the bucket is empty (over the limit). Out of
 * memory allows the request (the limiter protects, it must not deny
 * service by itself). */
int ps_rl_take(ps_rl_t *rl, const char *key, double now);

/* Forgets the buckets that are full again at `now`; returns how many. */
size_t ps_rl_sweep(ps_rl_t *rl, double now);

/* Buckets currently held. */
size_t ps_rl_count(const ps_rl_t *rl);

#endif
