/* Record layout (one malloc per bare JID):
 *
 *   struct contact | bare JID '\0' | entry | entry | ...
 *   entry = local id (4 bytes) | caps id (4 bytes) | resource '\0'
 *
 * Entries are unaligned, so ids are read and written with memcpy. Entries
 * of one resource are kept adjacent: a new (resource, local) pair is
 * inserted after its resource's group. The index is linear-probing open
 * addressing over record pointers, load factor <= 3/4, with backward-shift
 * deletion (no tombstones) and shrinking when it gets sparse, so a long
 * run of logins and logouts does not leave memory behind. */
#include "component/presence_table.h"

#include <stdlib.h>
#include <string.h>

#include "component/strhash.h"

struct contact {
    uint32_t hash;
    uint32_t size;     /* bytes of entries after the bare JID's '\0' */
    uint16_t bare_len; /* <= 2 * JID_PART_MAX + 1 */
    uint16_t nent;
    char data[];
};

#define ENT_IDS 8
#define INDEX_MIN 64u
#define BARE_MAX 0xffffu

struct ptab {
    strhash_key_t key;
    struct contact **slots;
    size_t mask;
    size_t n_bare;
    size_t n_full;
    size_t rec_bytes;
    unsigned max_entries;
};

static size_t rec_size(const struct contact *c)
{
    return sizeof *c + c->bare_len + 1u + c->size;
}

static char *ents(struct contact *c) { return c->data + c->bare_len + 1; }
static const char *cents(const struct contact *c)
{
    return c->data + c->bare_len + 1;
}

static uint32_t get32(const char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static void put32(char *p, uint32_t v) { memcpy(p, &v, 4); }

static size_t ent_len(const char *e) { return ENT_IDS + strlen(e + ENT_IDS) + 1; }

static int ent_res_is(const char *e, const char *res, size_t res_len)
{
    const char *r = e + ENT_IDS;
    return strncmp(r, res, res_len) == 0 && r[res_len] == '\0';
}

static void fill_view(ptab_entry_t *v, const struct contact *c, const char *e)
{
    v->bare = c->data;
    v->bare_len = c->bare_len;
    v->res = e + ENT_IDS;
    v->res_len = strlen(v->res);
    v->local_id = get32(e);
    v->caps_id = get32(e + 4);
}

ptab_t *ptab_new(unsigned max_entries)
{
    ptab_t *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->slots = calloc(INDEX_MIN, sizeof *t->slots);
    if (!t->slots) {
        free(t);
        return NULL;
    }
    strhash_key_init(&t->key);
    t->mask = INDEX_MIN - 1;
    t->max_entries = max_entries ? max_entries : 1;
    return t;
}

void ptab_set_max_entries(ptab_t *t, unsigned max_entries)
{
    t->max_entries = max_entries ? max_entries : 1;
}

void ptab_clear(ptab_t *t, ptab_entry_fn fn, void *ud)
{
    for (size_t i = 0; i <= t->mask; i++) {
        struct contact *c = t->slots[i];
        if (!c)
            continue;
        if (fn) {
            const char *e = ents(c);
            for (unsigned k = 0; k < c->nent; k++, e += ent_len(e)) {
                ptab_entry_t v;
                fill_view(&v, c, e);
                fn(&v, ud);
            }
        }
        free(c);
        t->slots[i] = NULL;
    }
    t->n_bare = t->n_full = t->rec_bytes = 0;
    if (t->mask + 1 > INDEX_MIN) {
        struct contact **s = calloc(INDEX_MIN, sizeof *s);
        if (s) {
            free(t->slots);
            t->slots = s;
            t->mask = INDEX_MIN - 1;
        }
    }
}

void ptab_free(ptab_t *t)
{
    if (!t)
        return;
    ptab_clear(t, NULL, NULL);
    free(t->slots);
    free(t);
}

static uint32_t hash_of(const ptab_t *t, const char *bare, size_t len)
{
    return (uint32_t)strhash(&t->key, bare, len);
}

/* Slot of the record for `bare`, or of the empty slot ending its run. */
static size_t find_slot(const ptab_t *t, const char *bare, size_t len,
                        uint32_t h)
{
    size_t i = h & t->mask;
    for (;;) {
        const struct contact *c = t->slots[i];
        if (!c || (c->hash == h && c->bare_len == len &&
                   memcmp(c->data, bare, len) == 0))
            return i;
        i = (i + 1) & t->mask;
    }
}

static struct contact *lookup(const ptab_t *t, const char *bare, size_t len)
{
    if (len > BARE_MAX)
        return NULL;
    return t->slots[find_slot(t, bare, len, hash_of(t, bare, len))];
}

static int rehash(ptab_t *t, size_t cap)
{
    struct contact **s = calloc(cap, sizeof *s);
    if (!s)
        return -1;
    for (size_t i = 0; i <= t->mask; i++) {
        struct contact *c = t->slots[i];
        if (!c)
            continue;
        size_t j = c->hash & (cap - 1);
        while (s[j])
            j = (j + 1) & (cap - 1);
        s[j] = c;
    }
    free(t->slots);
    t->slots = s;
    t->mask = cap - 1;
    return 0;
}

static void slot_delete(ptab_t *t, size_t hole)
{
    size_t j = hole;
    for (;;) {
        j = (j + 1) & t->mask;
        struct contact *c = t->slots[j];
        if (!c)
            break;
        size_t home = c->hash & t->mask;
        int stays = (hole <= j) ? (hole < home && home <= j)
                                : (hole < home || home <= j);
        if (stays)
            continue;
        t->slots[hole] = c;
        hole = j;
    }
    t->slots[hole] = NULL;
}

static void maybe_shrink(ptab_t *t)
{
    size_t cap = t->mask + 1;
    /* Shrinking is only an optimization; on failure the index stays big. */
    if (cap > INDEX_MIN && t->n_bare * 8 < cap)
        (void)rehash(t, cap / 2);
}

/* Counts entry groups (distinct resources) of a record. */
static unsigned groups(const struct contact *c)
{
    unsigned n = 0;
    const char *prev = NULL, *e = cents(c);
    for (unsigned k = 0; k < c->nent; k++) {
        if (!prev || strcmp(prev + ENT_IDS, e + ENT_IDS) != 0)
            n++;
        prev = e;
        e += ent_len(e);
    }
    return n;
}

static int add_contact(ptab_t *t, size_t slot, uint32_t h, const char *bare,
                       size_t bare_len, const char *res, size_t res_len,
                       uint32_t local_id, uint32_t caps_id)
{
    size_t esz = ENT_IDS + res_len + 1;
    if ((t->n_bare + 1) * 4 > (t->mask + 1) * 3) {
        if (rehash(t, (t->mask + 1) * 2) < 0)
            return PTAB_ENOMEM;
        slot = find_slot(t, bare, bare_len, h);
    }
    struct contact *c = malloc(sizeof *c + bare_len + 1 + esz);
    if (!c)
        return PTAB_ENOMEM;
    c->hash = h;
    c->bare_len = (uint16_t)bare_len;
    c->size = (uint32_t)esz;
    c->nent = 1;
    memcpy(c->data, bare, bare_len);
    c->data[bare_len] = '\0';
    char *e = ents(c);
    put32(e, local_id);
    put32(e + 4, caps_id);
    memcpy(e + ENT_IDS, res, res_len);
    e[ENT_IDS + res_len] = '\0';
    t->slots[slot] = c;
    t->n_bare++;
    t->n_full++;
    t->rec_bytes += rec_size(c);
    return PTAB_ADDED;
}

int ptab_upsert(ptab_t *t, const char *bare, size_t bare_len, const char *res,
                size_t res_len, uint32_t local_id, uint32_t caps_id,
                uint32_t *prev_caps, uint32_t *changed)
{
    *prev_caps = 0;
    *changed = 0;
    if (bare_len > BARE_MAX || res_len > BARE_MAX || memchr(res, '\0', res_len))
        return PTAB_ELIMIT;
    uint32_t h = hash_of(t, bare, bare_len);
    size_t slot = find_slot(t, bare, bare_len, h);
    struct contact *c = t->slots[slot];
    if (!c)
        return add_contact(t, slot, h, bare, bare_len, res, res_len, local_id,
                           caps_id);

    /* Find the resource's group [gstart, gend) and the exact entry. */
    char *base = ents(c), *e = base, *gstart = NULL, *gend = NULL;
    int exists = 0;
    for (unsigned k = 0; k < c->nent; k++) {
        size_t len = ent_len(e);
        if (ent_res_is(e, res, res_len)) {
            if (!gstart)
                gstart = e;
            gend = e + len;
            if (get32(e) == local_id)
                exists = 1;
        }
        e += len;
    }
    if (!exists && c->nent >= t->max_entries)
        return PTAB_ELIMIT;
    if (!exists && c->size > UINT32_MAX - (ENT_IDS + res_len + 1))
        return PTAB_ELIMIT;
    if (gstart) {
        *prev_caps = get32(gstart + 4);
        if (*prev_caps != caps_id)
            for (e = gstart; e < gend; e += ent_len(e)) {
                put32(e + 4, caps_id);
                (*changed)++;
            }
    }
    if (exists)
        return PTAB_UPDATED;

    size_t esz = ENT_IDS + res_len + 1;
    size_t at = gend ? (size_t)(gend - base) : c->size;
    size_t old = rec_size(c);
    struct contact *n = realloc(c, old + esz);
    if (!n) {
        /* Undo the caps change so that a failure changes nothing. */
        if (gstart && *changed) {
            for (e = gstart; e < gend; e += ent_len(e))
                put32(e + 4, *prev_caps);
            *changed = 0;
        }
        return PTAB_ENOMEM;
    }
    c = n;
    t->slots[slot] = c;
    base = ents(c);
    memmove(base + at + esz, base + at, c->size - at);
    e = base + at;
    put32(e, local_id);
    put32(e + 4, caps_id);
    memcpy(e + ENT_IDS, res, res_len);
    e[ENT_IDS + res_len] = '\0';
    c->size += (uint32_t)esz;
    c->nent++;
    t->rec_bytes += esz;
    if (!gstart)
        t->n_full++;
    return PTAB_ADDED;
}

size_t ptab_remove(ptab_t *t, const char *bare, size_t bare_len,
                   const char *res, size_t res_len, uint32_t local_id,
                   ptab_entry_fn fn, void *ud)
{
    if (bare_len > BARE_MAX)
        return 0;
    uint32_t h = hash_of(t, bare, bare_len);
    size_t slot = find_slot(t, bare, bare_len, h);
    struct contact *c = t->slots[slot];
    if (!c)
        return 0;
    unsigned before = groups(c);
    char *base = ents(c), *r = base, *w = base;
    size_t removed = 0;
    unsigned n = c->nent;
    /* Compacts in place: every write lands below the entry being read, so
     * fn always sees an intact entry. */
    for (unsigned k = 0; k < n; k++) {
        size_t len = ent_len(r);
        int match = (!res || ent_res_is(r, res, res_len)) &&
                    (local_id == 0 || get32(r) == local_id);
        if (match) {
            if (fn) {
                ptab_entry_t v;
                fill_view(&v, c, r);
                fn(&v, ud);
            }
            removed++;
        } else {
            if (w != r)
                memmove(w, r, len);
            w += len;
        }
        r += len;
    }
    if (!removed)
        return 0;
    size_t old = rec_size(c);
    c->nent = (uint16_t)(n - removed);
    c->size = (uint32_t)(w - base);
    t->n_full -= before - groups(c);
    if (c->nent == 0) {
        t->rec_bytes -= old;
        free(c);
        t->n_bare--;
        slot_delete(t, slot);
        maybe_shrink(t);
        return removed;
    }
    struct contact *s = realloc(c, rec_size(c));
    if (s)
        t->slots[slot] = s;
    t->rec_bytes -= old - rec_size(s ? s : c);
    return removed;
}

size_t ptab_each(const ptab_t *t, const char *bare, size_t bare_len,
                 const char *res, size_t res_len, ptab_entry_fn fn, void *ud)
{
    const struct contact *c = lookup(t, bare, bare_len);
    if (!c)
        return 0;
    size_t n = 0;
    const char *e = cents(c);
    for (unsigned k = 0; k < c->nent; k++, e += ent_len(e)) {
        if (res && !ent_res_is(e, res, res_len))
            continue;
        ptab_entry_t v;
        fill_view(&v, c, e);
        fn(&v, ud);
        n++;
    }
    return n;
}

size_t ptab_each_full(const ptab_t *t, const char *bare, size_t bare_len,
                      ptab_entry_fn fn, void *ud)
{
    const struct contact *c = lookup(t, bare, bare_len);
    if (!c)
        return 0;
    size_t n = 0;
    const char *prev = NULL, *e = cents(c);
    for (unsigned k = 0; k < c->nent; k++) {
        if (!prev || strcmp(prev + ENT_IDS, e + ENT_IDS) != 0) {
            ptab_entry_t v;
            fill_view(&v, c, e);
            fn(&v, ud);
            n++;
        }
        prev = e;
        e += ent_len(e);
    }
    return n;
}

int ptab_find_full(const ptab_t *t, const char *bare, size_t bare_len,
                   const char *res, size_t res_len, uint32_t *caps_id)
{
    const struct contact *c = lookup(t, bare, bare_len);
    if (!c)
        return 0;
    const char *e = cents(c);
    for (unsigned k = 0; k < c->nent; k++, e += ent_len(e))
        if (ent_res_is(e, res, res_len)) {
            if (caps_id)
                *caps_id = get32(e + 4);
            return 1;
        }
    return 0;
}

int ptab_has_bare(const ptab_t *t, const char *bare, size_t bare_len)
{
    return lookup(t, bare, bare_len) != NULL;
}

size_t ptab_count_full(const ptab_t *t) { return t->n_full; }
size_t ptab_count_bare(const ptab_t *t) { return t->n_bare; }

size_t ptab_bytes(const ptab_t *t)
{
    return (t->mask + 1) * sizeof *t->slots + t->rec_bytes;
}
