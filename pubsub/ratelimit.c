#include "pubsub/ratelimit.h"

#include <stdlib.h>
#include <string.h>

#include "pubsub/strmap.h"

struct bucket {
    double tokens;
    double stamp; /* time of the last refill */
};

struct ps_rl {
    double rate, burst;
    ps_strmap_t *buckets; /* bare JID -> struct bucket * */
};

ps_rl_t *ps_rl_new(unsigned rate, unsigned burst)
{
    ps_rl_t *rl = calloc(1, sizeof *rl);
    if (!rl)
        return NULL;
    rl->rate = rate;
    rl->burst = burst ? burst : 1;
    if (!(rl->buckets = ps_strmap_new())) {
        free(rl);
        return NULL;
    }
    return rl;
}

void ps_rl_free(ps_rl_t *rl)
{
    if (!rl)
        return;
    for (size_t i = 0; i < ps_strmap_count(rl->buckets); i++) {
        void *v;
        ps_strmap_at(rl->buckets, i, NULL, NULL, &v);
        free(v);
    }
    ps_strmap_free(rl->buckets);
    free(rl);
}

static double refill(const ps_rl_t *rl, const struct bucket *b, double now)
{
    double t = b->tokens + (now > b->stamp ? (now - b->stamp) * rl->rate : 0);
    return t > rl->burst ? rl->burst : t;
}

int ps_rl_take(ps_rl_t *rl, const char *key, double now)
{
    if (rl->rate <= 0)
        return 1;
    size_t len = strlen(key);
    struct bucket *b = ps_strmap_get(rl->buckets, key, len);
    if (!b) {
        b = malloc(sizeof *b);
        if (!b)
            return 1;
        b->tokens = rl->burst;
        b->stamp = now;
        if (ps_strmap_put(rl->buckets, key, len, b) < 0) {
            free(b);
            return 1;
        }
    }
    b->tokens = refill(rl, b, now);
    b->stamp = now;
    if (b->tokens < 1)
        return 0;
    b->tokens -= 1;
    return 1;
}

size_t ps_rl_sweep(ps_rl_t *rl, double now)
{
    size_t removed = 0;
    /* Downwards: a deletion moves the last entry (already visited) into
     * the hole. */
    for (size_t i = ps_strmap_count(rl->buckets); i-- > 0;) {
        const char *key;
        size_t len;
        void *v;
        ps_strmap_at(rl->buckets, i, &key, &len, &v);
        if (refill(rl, v, now) >= rl->burst) {
            ps_strmap_del(rl->buckets, key, len);
            free(v);
            removed++;
        }
    }
    return removed;
}

size_t ps_rl_count(const ps_rl_t *rl)
{
    return ps_strmap_count(rl->buckets);
}
