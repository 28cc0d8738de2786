/* Entries live in an array parallel to a strtab of `ver` strings (the
 * strtab id is the entry id; the cache holds exactly one strtab reference
 * per live entry). A resolved feature set is one block: an array of
 * uint32 offsets followed by the sorted, NUL-terminated feature strings,
 * searched by bisection. The LRU list links only unreferenced resolved
 * entries, through ids, oldest at the head. */
#include "component/caps_cache.h"

#include <stdlib.h>
#include <string.h>

#include "component/strtab.h"

struct caps_ent {
    uint32_t refs;
    uint32_t state;
    uint32_t lru_prev, lru_next; /* 0 = none */
    uint32_t in_lru;
    uint32_t nfeat;
    char *feat;
    uint64_t culprit;
    char **waiters;
    size_t nwait, capwait;
};

struct caps_cache {
    strtab_t *vers;
    struct caps_ent *ents;
    uint32_t cap_ents;
    uint32_t lru_head, lru_tail;
    size_t max_entries;
};

caps_cache_t *caps_cache_new(size_t max_entries)
{
    caps_cache_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->vers = strtab_new();
    if (!c->vers) {
        free(c);
        return NULL;
    }
    c->max_entries = max_entries;
    return c;
}

static void ent_clear(struct caps_ent *e)
{
    for (size_t i = 0; i < e->nwait; i++)
        free(e->waiters[i]);
    free(e->waiters);
    free(e->feat);
    memset(e, 0, sizeof *e);
}

void caps_cache_free(caps_cache_t *c)
{
    if (!c)
        return;
    uint32_t lim = strtab_id_limit(c->vers);
    for (uint32_t id = 1; id < lim && id < c->cap_ents; id++)
        ent_clear(&c->ents[id]);
    free(c->ents);
    strtab_free(c->vers);
    free(c);
}

static struct caps_ent *ent(const caps_cache_t *c, uint32_t id)
{
    if (id == 0 || id >= c->cap_ents || !strtab_str(c->vers, id))
        return NULL;
    return &c->ents[id];
}

static void lru_unlink(caps_cache_t *c, uint32_t id)
{
    struct caps_ent *e = &c->ents[id];
    if (!e->in_lru)
        return;
    if (e->lru_prev)
        c->ents[e->lru_prev].lru_next = e->lru_next;
    else
        c->lru_head = e->lru_next;
    if (e->lru_next)
        c->ents[e->lru_next].lru_prev = e->lru_prev;
    else
        c->lru_tail = e->lru_prev;
    e->lru_prev = e->lru_next = 0;
    e->in_lru = 0;
}

static void lru_push(caps_cache_t *c, uint32_t id)
{
    struct caps_ent *e = &c->ents[id];
    e->lru_prev = c->lru_tail;
    e->lru_next = 0;
    if (c->lru_tail)
        c->ents[c->lru_tail].lru_next = id;
    else
        c->lru_head = id;
    c->lru_tail = id;
    e->in_lru = 1;
}

static void destroy(caps_cache_t *c, uint32_t id)
{
    lru_unlink(c, id);
    ent_clear(&c->ents[id]);
    strtab_unref(c->vers, id);
}

static void evict(caps_cache_t *c)
{
    while (strtab_count(c->vers) > c->max_entries && c->lru_head)
        destroy(c, c->lru_head);
}

void caps_cache_set_max(caps_cache_t *c, size_t max_entries)
{
    c->max_entries = max_entries;
    evict(c);
}

uint32_t caps_cache_find(const caps_cache_t *c, const char *ver)
{
    return strtab_find(c->vers, ver, strlen(ver));
}

uint32_t caps_cache_get(caps_cache_t *c, const char *ver)
{
    int created;
    uint32_t id = strtab_intern(c->vers, ver, strlen(ver), &created);
    if (!id)
        return 0;
    if (!created) {
        strtab_unref(c->vers, id); /* the entry already holds one */
        struct caps_ent *e = &c->ents[id];
        if (e->refs++ == 0)
            lru_unlink(c, id);
        return id;
    }
    if (id >= c->cap_ents) {
        uint32_t cap = c->cap_ents ? c->cap_ents : 16;
        while (cap <= id)
            cap *= 2;
        struct caps_ent *n = realloc(c->ents, (size_t)cap * sizeof *n);
        if (!n) {
            strtab_unref(c->vers, id);
            return 0;
        }
        memset(n + c->cap_ents, 0, (size_t)(cap - c->cap_ents) * sizeof *n);
        c->ents = n;
        c->cap_ents = cap;
    }
    memset(&c->ents[id], 0, sizeof c->ents[id]);
    c->ents[id].refs = 1;
    evict(c);
    return id;
}

void caps_cache_ref(caps_cache_t *c, uint32_t id)
{
    struct caps_ent *e = ent(c, id);
    if (e && e->refs++ == 0)
        lru_unlink(c, id);
}

void caps_cache_unref(caps_cache_t *c, uint32_t id)
{
    struct caps_ent *e = ent(c, id);
    if (!e || e->refs == 0 || --e->refs > 0)
        return;
    if (e->state == CAPS_RESOLVED || e->state == CAPS_FAILED) {
        /* A failure is remembered too, so that a contact advertising a
         * ver it cannot answer for is not asked again at each login. */
        for (size_t i = 0; i < e->nwait; i++)
            free(e->waiters[i]);
        e->nwait = 0;
        lru_push(c, id);
        evict(c);
    } else {
        destroy(c, id);
    }
}

caps_state_t caps_cache_state(const caps_cache_t *c, uint32_t id)
{
    const struct caps_ent *e = ent(c, id);
    return e ? (caps_state_t)e->state : CAPS_UNKNOWN;
}

const char *caps_cache_ver(const caps_cache_t *c, uint32_t id)
{
    return ent(c, id) ? strtab_str(c->vers, id) : NULL;
}

void caps_cache_set_pending(caps_cache_t *c, uint32_t id)
{
    struct caps_ent *e = ent(c, id);
    if (e && e->state != CAPS_RESOLVED)
        e->state = CAPS_PENDING;
}

void caps_cache_fail(caps_cache_t *c, uint32_t id, uint64_t culprit)
{
    struct caps_ent *e = ent(c, id);
    if (e && e->state != CAPS_RESOLVED) {
        e->state = CAPS_FAILED;
        e->culprit = culprit;
    }
}

uint64_t caps_cache_culprit(const caps_cache_t *c, uint32_t id)
{
    const struct caps_ent *e = ent(c, id);
    return e ? e->culprit : 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int caps_cache_resolve(caps_cache_t *c, uint32_t id,
                       const char *const *features, size_t n)
{
    struct caps_ent *e = ent(c, id);
    if (!e || n > UINT32_MAX / 2)
        return -1;
    const char **sorted = malloc((n ? n : 1) * sizeof *sorted);
    if (!sorted)
        return -1;
    memcpy(sorted, features, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, cmp_str);
    size_t m = 0, bytes = 0;
    for (size_t i = 0; i < n; i++) {
        if (m > 0 && strcmp(sorted[m - 1], sorted[i]) == 0)
            continue;
        sorted[m++] = sorted[i];
        bytes += strlen(sorted[i]) + 1;
    }
    size_t head = m * sizeof(uint32_t);
    if (bytes > UINT32_MAX - head) {
        free(sorted);
        return -1;
    }
    char *block = malloc(head + bytes + 1);
    if (!block) {
        free(sorted);
        return -1;
    }
    uint32_t off = (uint32_t)head;
    for (size_t i = 0; i < m; i++) {
        size_t len = strlen(sorted[i]) + 1;
        memcpy(block + i * sizeof(uint32_t), &off, sizeof off);
        memcpy(block + off, sorted[i], len);
        off += (uint32_t)len;
    }
    free(sorted);
    free(e->feat);
    e->feat = block;
    e->nfeat = (uint32_t)m;
    e->state = CAPS_RESOLVED;
    e->culprit = 0;
    return 0;
}

int caps_cache_has_feature(const caps_cache_t *c, uint32_t id,
                           const char *feature)
{
    const struct caps_ent *e = ent(c, id);
    if (!e || e->state != CAPS_RESOLVED)
        return -1;
    size_t lo = 0, hi = e->nfeat;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint32_t off;
        memcpy(&off, e->feat + mid * sizeof off, sizeof off);
        int r = strcmp(feature, e->feat + off);
        if (r == 0)
            return 1;
        if (r < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return 0;
}

size_t caps_cache_feature_count(const caps_cache_t *c, uint32_t id)
{
    const struct caps_ent *e = ent(c, id);
    return e && e->state == CAPS_RESOLVED ? e->nfeat : 0;
}

int caps_cache_add_waiter(caps_cache_t *c, uint32_t id, const char *key)
{
    struct caps_ent *e = ent(c, id);
    if (!e)
        return -1;
    if (e->nwait == e->capwait) {
        size_t cap = e->capwait ? e->capwait * 2 : 4;
        char **w = realloc(e->waiters, cap * sizeof *w);
        if (!w)
            return -1;
        e->waiters = w;
        e->capwait = cap;
    }
    char *k = strdup(key);
    if (!k)
        return -1;
    e->waiters[e->nwait++] = k;
    return 0;
}

size_t caps_cache_waiter_count(const caps_cache_t *c, uint32_t id)
{
    const struct caps_ent *e = ent(c, id);
    return e ? e->nwait : 0;
}

void caps_cache_filter_waiters(caps_cache_t *c, uint32_t id,
                               int (*keep)(const char *key, void *ud), void *ud)
{
    struct caps_ent *e = ent(c, id);
    if (!e)
        return;
    size_t m = 0;
    for (size_t i = 0; i < e->nwait; i++) {
        if (keep(e->waiters[i], ud))
            e->waiters[m++] = e->waiters[i];
        else
            free(e->waiters[i]);
    }
    e->nwait = m;
}

void caps_cache_drain_waiters(caps_cache_t *c, uint32_t id,
                              void (*fn)(const char *key, void *ud), void *ud)
{
    struct caps_ent *e = ent(c, id);
    if (!e || e->nwait == 0)
        return;
    char **w = e->waiters;
    size_t n = e->nwait;
    e->waiters = NULL;
    e->nwait = e->capwait = 0;
    qsort(w, n, sizeof *w, cmp_str);
    for (size_t i = 0; i < n; i++)
        if (i == 0 || strcmp(w[i - 1], w[i]) != 0)
            fn(w[i], ud);
    for (size_t i = 0; i < n; i++)
        free(w[i]);
    free(w);
}

size_t caps_cache_count(const caps_cache_t *c) { return strtab_count(c->vers); }
