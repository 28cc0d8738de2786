#include "pubsub/ids.h"

#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static void hex(uint64_t v, int digits, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (int i = digits - 1; i >= 0; i--, v >>= 4)
        out[i] = d[v & 15];
}

void ps_ids_init(ps_ids_t *g)
{
    uint32_t r;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r)
        r = (uint32_t)time(NULL) ^ ((uint32_t)getpid() << 16) ^ (uint32_t)(uintptr_t)g;
    g->tag = r;
    g->last_us = 0;
}

void ps_ids_next(ps_ids_t *g, uint64_t now_us, char out[PS_ID_LEN + 1])
{
    g->last_us = now_us > g->last_us ? now_us : g->last_us + 1;
    hex(g->last_us, 16, out);
    hex(g->tag, 8, out + 16);
    out[PS_ID_LEN] = '\0';
}

uint64_t ps_ids_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}
