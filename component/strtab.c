/* Layout: `ents` is indexed by id (slot 0 unused); the lookup index is an
 * open-addressing array of ids with linear probing and backward-shift
 * deletion, so there are no tombstones and probe lengths stay short under
 * churn. Freed ids are chained through `next_free` and reused first, which
 * keeps `ents` (and arrays parallel to it) as small as the live set's
 * high-water mark. */
#include "component/strtab.h"

#include <stdlib.h>
#include <string.h>

#include "component/strhash.h"

struct st_ent {
    char *str;          /* NULL while the id is free */
    uint32_t len;
    uint32_t hash;
    uint32_t refs;
    uint32_t next_free; /* free-list link while str == NULL */
};

struct strtab {
    strhash_key_t key;
    struct st_ent *ents;
    uint32_t n_ents;    /* id limit */
    uint32_t cap_ents;
    uint32_t free_head; /* 0: no free id */
    uint32_t *index;    /* ids, 0 = empty */
    size_t index_mask;  /* capacity - 1 (capacity is a power of two) */
    size_t count;
};

#define INDEX_MIN 16

strtab_t *strtab_new(void)
{
    strtab_t *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    strhash_key_init(&t->key);
    t->index = calloc(INDEX_MIN, sizeof *t->index);
    if (!t->index) {
        free(t);
        return NULL;
    }
    t->index_mask = INDEX_MIN - 1;
    t->n_ents = 1;
    return t;
}

void strtab_free(strtab_t *t)
{
    if (!t)
        return;
    for (uint32_t i = 1; i < t->n_ents; i++)
        free(t->ents[i].str);
    free(t->ents);
    free(t->index);
    free(t);
}

static int live(const strtab_t *t, uint32_t id)
{
    return id > 0 && id < t->n_ents && t->ents[id].str != NULL;
}

static size_t probe(const strtab_t *t, const char *s, size_t len, uint32_t h,
                    uint32_t *found)
{
    size_t i = h & t->index_mask;
    for (;;) {
        uint32_t id = t->index[i];
        if (id == 0) {
            *found = 0;
            return i;
        }
        const struct st_ent *e = &t->ents[id];
        if (e->hash == h && e->len == len && memcmp(e->str, s, len) == 0) {
            *found = id;
            return i;
        }
        i = (i + 1) & t->index_mask;
    }
}

static int index_grow(strtab_t *t)
{
    size_t cap = (t->index_mask + 1) * 2;
    uint32_t *idx = calloc(cap, sizeof *idx);
    if (!idx)
        return -1;
    for (size_t i = 0; i <= t->index_mask; i++) {
        uint32_t id = t->index[i];
        if (!id)
            continue;
        size_t j = t->ents[id].hash & (cap - 1);
        while (idx[j])
            j = (j + 1) & (cap - 1);
        idx[j] = id;
    }
    free(t->index);
    t->index = idx;
    t->index_mask = cap - 1;
    return 0;
}

static uint32_t alloc_id(strtab_t *t)
{
    if (t->free_head) {
        uint32_t id = t->free_head;
        t->free_head = t->ents[id].next_free;
        return id;
    }
    if (t->n_ents == UINT32_MAX)
        return 0;
    if (t->n_ents >= t->cap_ents) {
        uint32_t cap = t->cap_ents ? t->cap_ents * 2 : 16;
        struct st_ent *e = realloc(t->ents, (size_t)cap * sizeof *e);
        if (!e)
            return 0;
        t->ents = e;
        t->cap_ents = cap;
    }
    return t->n_ents++;
}

uint32_t strtab_find(const strtab_t *t, const char *s, size_t len)
{
    uint32_t id;
    uint32_t h = (uint32_t)strhash(&t->key, s, len);
    probe(t, s, len, h, &id);
    return id;
}

uint32_t strtab_intern(strtab_t *t, const char *s, size_t len, int *created)
{
    uint32_t id;
    uint32_t h = (uint32_t)strhash(&t->key, s, len);
    if (created)
        *created = 0;
    if (len >= UINT32_MAX)
        return 0;
    probe(t, s, len, h, &id);
    if (id) {
        t->ents[id].refs++;
        return id;
    }
    /* Keep the load factor under 1/2: linear probing degrades fast above. */
    if ((t->count + 1) * 2 > t->index_mask + 1 && index_grow(t) < 0)
        return 0;
    char *copy = malloc(len + 1);
    if (!copy)
        return 0;
    memcpy(copy, s, len);
    copy[len] = '\0';
    id = alloc_id(t);
    if (!id) {
        free(copy);
        return 0;
    }
    t->ents[id] = (struct st_ent){copy, (uint32_t)len, h, 1, 0};
    uint32_t dummy;
    t->index[probe(t, s, len, h, &dummy)] = id;
    t->count++;
    if (created)
        *created = 1;
    return id;
}

void strtab_ref(strtab_t *t, uint32_t id)
{
    if (live(t, id))
        t->ents[id].refs++;
}

/* Backward-shift deletion: pull later members of the probe run into the
 * hole unless their home slot lies cyclically in (hole, their slot]. */
static void index_delete(strtab_t *t, size_t hole)
{
    size_t j = hole;
    for (;;) {
        j = (j + 1) & t->index_mask;
        uint32_t id = t->index[j];
        if (!id)
            break;
        size_t home = t->ents[id].hash & t->index_mask;
        int stays = (hole <= j) ? (hole < home && home <= j)
                                : (hole < home || home <= j);
        if (stays)
            continue;
        t->index[hole] = id;
        hole = j;
    }
    t->index[hole] = 0;
}

uint32_t strtab_unref(strtab_t *t, uint32_t id)
{
    if (!live(t, id))
        return 0;
    struct st_ent *e = &t->ents[id];
    if (--e->refs > 0)
        return e->refs;
    uint32_t found;
    size_t slot = probe(t, e->str, e->len, e->hash, &found);
    if (found == id)
        index_delete(t, slot);
    free(e->str);
    e->str = NULL;
    e->next_free = t->free_head;
    t->free_head = id;
    t->count--;
    return 0;
}

const char *strtab_str(const strtab_t *t, uint32_t id)
{
    return live(t, id) ? t->ents[id].str : NULL;
}

size_t strtab_strlen(const strtab_t *t, uint32_t id)
{
    return live(t, id) ? t->ents[id].len : 0;
}

uint32_t strtab_refs(const strtab_t *t, uint32_t id)
{
    return live(t, id) ? t->ents[id].refs : 0;
}

size_t strtab_count(const strtab_t *t) { return t->count; }

uint32_t strtab_id_limit(const strtab_t *t) { return t->n_ents; }
