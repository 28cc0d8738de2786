#include "pubsub/strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "component/strhash.h"

struct ent {
    char *key;
    size_t len;
    uint64_t hash;
    void *value;
};

struct ps_strmap {
    strhash_key_t seed;
    struct ent *ents;
    size_t n, cap;
    uint32_t *index; /* entry position + 1; 0 = empty */
    size_t mask;
};

#define INDEX_MIN 8

ps_strmap_t *ps_strmap_new(void)
{
    ps_strmap_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->index = calloc(INDEX_MIN, sizeof *m->index);
    if (!m->index) {
        free(m);
        return NULL;
    }
    m->mask = INDEX_MIN - 1;
    strhash_key_init(&m->seed);
    return m;
}

void ps_strmap_free(ps_strmap_t *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++)
        free(m->ents[i].key);
    free(m->ents);
    free(m->index);
    free(m);
}

size_t ps_strmap_release(ps_strmap_t *m, size_t budget)
{
    size_t k = 0;
    while (m->n && k < budget) {
        free(m->ents[--m->n].key);
        k++;
    }
    return k;
}

size_t ps_strmap_count(const ps_strmap_t *m)
{
    return m->n;
}

/* Slot holding `key`, or the empty slot where it would go (*pos = 0). */
static size_t probe(const ps_strmap_t *m, const char *key, size_t len, uint64_t h, uint32_t *pos)
{
    size_t i = (size_t)h & m->mask;
    for (;; i = (i + 1) & m->mask) {
        uint32_t p = m->index[i];
        if (!p) {
            *pos = 0;
            return i;
        }
        const struct ent *e = &m->ents[p - 1];
        if (e->hash == h && e->len == len && memcmp(e->key, key, len) == 0) {
            *pos = p;
            return i;
        }
    }
}

void *ps_strmap_get(const ps_strmap_t *m, const char *key, size_t len)
{
    uint32_t p;
    probe(m, key, len, strhash(&m->seed, key, len), &p);
    return p ? m->ents[p - 1].value : NULL;
}

static int grow_index(ps_strmap_t *m)
{
    size_t cap = (m->mask + 1) * 2;
    uint32_t *idx = calloc(cap, sizeof *idx);
    if (!idx)
        return -1;
    for (size_t i = 0; i < m->n; i++) {
        size_t j = (size_t)m->ents[i].hash & (cap - 1);
        while (idx[j])
            j = (j + 1) & (cap - 1);
        idx[j] = (uint32_t)(i + 1);
    }
    free(m->index);
    m->index = idx;
    m->mask = cap - 1;
    return 0;
}

int ps_strmap_put(ps_strmap_t *m, const char *key, size_t len, void *value)
{
    uint64_t h = strhash(&m->seed, key, len);
    uint32_t p;
    size_t slot = probe(m, key, len, h, &p);
    if (p) {
        m->ents[p - 1].value = value;
        return 0;
    }
    if (m->n >= UINT32_MAX - 1)
        return -1;
    /* Load factor kept at or under 1/2 for short linear-probe runs. */
    if ((m->n + 1) * 2 > m->mask + 1) {
        if (grow_index(m) < 0)
            return -1;
        slot = probe(m, key, len, h, &p);
    }
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 8;
        struct ent *e = realloc(m->ents, cap * sizeof *e);
        if (!e)
            return -1;
        m->ents = e;
        m->cap = cap;
    }
    char *copy = malloc(len + 1);
    if (!copy)
        return -1;
    memcpy(copy, key, len);
    copy[len] = '\0';
    m->ents[m->n] = (struct ent){copy, len, h, value};
    m->index[slot] = (uint32_t)(++m->n);
    return 0;
}

/* Backward-shift deletion: later members of the probe run move into the
 * hole unless their home slot lies cyclically in (hole, their slot]. */
static void index_delete(ps_strmap_t *m, size_t hole)
{
    size_t j = hole;
    for (;;) {
        j = (j + 1) & m->mask;
        uint32_t p = m->index[j];
        if (!p)
            break;
        size_t home = (size_t)m->ents[p - 1].hash & m->mask;
        int stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
        if (stays)
            continue;
        m->index[hole] = p;
        hole = j;
    }
    m->index[hole] = 0;
}

void *ps_strmap_del(ps_strmap_t *m, const char *key, size_t len)
{
    uint32_t p;
    size_t slot = probe(m, key, len, strhash(&m->seed, key, len), &p);
    if (!p)
        return NULL;
    void *value = m->ents[p - 1].value;
    free(m->ents[p - 1].key);
    index_delete(m, slot);
    size_t last = m->n - 1;
    if (p - 1 != last) {
        /* The last entry fills the hole: repoint its index slot. */
        struct ent *l = &m->ents[last];
        uint32_t lp;
        size_t lslot = probe(m, l->key, l->len, l->hash, &lp);
        m->index[lslot] = p;
        m->ents[p - 1] = *l;
    }
    m->n--;
    return value;
}

void ps_strmap_at(const ps_strmap_t *m, size_t i, const char **key, size_t *len, void **value)
{
    const struct ent *e = &m->ents[i];
    if (key)
        *key = e->key;
    if (len)
        *len = e->len;
    if (value)
        *value = e->value;
}
