#include "pubsub/subset.h"

#include <stdint.h>
#include <stdlib.h>

/* PS_SUB_NONE / PS_SUB_SUBSCRIBED of model.h, repeated to keep this
 * module free of the model's header. */
#define STATE_NONE 0u
#define STATE_SUBSCRIBED 3u

#define INDEX_MIN_BITS 4

void ps_subset_init(ps_subset_t *s)
{
    *s = (ps_subset_t){0};
}

void ps_subset_clear(ps_subset_t *s, strtab_t *t)
{
    for (uint32_t i = 0; i < s->n; i++)
        strtab_unref(t, s->ents[i].jid);
    free(s->ents);
    free(s->index);
    free(s->dead);
    *s = (ps_subset_t){0};
}

/* Fibonacci hashing: ids are small consecutive integers, and the top
 * bits of the product spread them over the table. Ids are assigned by
 * the JID table, not chosen by peers, so no seed is needed. */
static uint32_t home(const ps_subset_t *s, uint32_t id)
{
    return (uint32_t)(id * 0x9E3779B1u) >> (32 - s->index_bits);
}

static uint32_t mask(const ps_subset_t *s)
{
    return (1u << s->index_bits) - 1;
}

static uint32_t probe(const ps_subset_t *s, uint32_t id, uint32_t *pos)
{
    uint32_t i = home(s, id);
    for (;; i = (i + 1) & mask(s)) {
        uint32_t p = s->index[i];
        if (!p || s->ents[p - 1].jid == id) {
            *pos = p;
            return i;
        }
    }
}

static int grow_index(ps_subset_t *s)
{
    uint32_t bits = s->index_bits ? s->index_bits + 1 : INDEX_MIN_BITS;
    if (bits > 31)
        return -1;
    uint32_t *idx = calloc((size_t)1 << bits, sizeof *idx);
    if (!idx)
        return -1;
    free(s->index);
    s->index = idx;
    s->index_bits = bits;
    for (uint32_t i = 0; i < s->n; i++) {
        uint32_t j = home(s, s->ents[i].jid);
        while (idx[j])
            j = (j + 1) & mask(s);
        idx[j] = i + 1;
    }
    return 0;
}

/* Backward-shift deletion (no tombstones in the index). */
static void index_delete(ps_subset_t *s, uint32_t hole)
{
    uint32_t j = hole;
    for (;;) {
        j = (j + 1) & mask(s);
        uint32_t p = s->index[j];
        if (!p)
            break;
        uint32_t h = home(s, s->ents[p - 1].jid);
        int stays = hole <= j ? (hole < h && h <= j) : (hole < h || h <= j);
        if (stays)
            continue;
        s->index[hole] = p;
        hole = j;
    }
    s->index[hole] = 0;
}

/* Entry position + 1 of `jid`, 0 if absent (tombstones included). */
static uint32_t find(const ps_subset_t *s, const strtab_t *t, const char *jid, size_t len)
{
    if (!s->index)
        return 0;
    uint32_t id = strtab_find(t, jid, len);
    if (!id)
        return 0;
    uint32_t p;
    probe(s, id, &p);
    return p;
}

/* Flagged states are live but never STATE_SUBSCRIBED (exact compare). */
static void set_state(ps_subset_t *s, struct ps_sub_ent *e, uint32_t state)
{
    if (e->state != STATE_NONE)
        s->live--;
    if (e->state == STATE_SUBSCRIBED)
        s->subscribed--;
    e->state = state;
    if (state != STATE_NONE)
        s->live++;
    if (state == STATE_SUBSCRIBED)
        s->subscribed++;
}

int ps_subset_put(ps_subset_t *s, strtab_t *t, const char *jid, size_t len, uint32_t state,
                  uint64_t subid)
{
    if (state == STATE_NONE)
        return -1;
    uint32_t p = find(s, t, jid, len);
    if (p) {
        /* Also revives an entry removed during a walk: it keeps its
         * position, so the walk may still deliver to it. */
        set_state(s, &s->ents[p - 1], state);
        s->ents[p - 1].subid = subid;
        return 0;
    }
    if (s->n == UINT32_MAX - 1)
        return -1;
    if ((uint64_t)(s->n + 1) * 2 > ((uint64_t)1 << s->index_bits) && grow_index(s) < 0)
        return -1;
    if (s->n == s->cap) {
        uint32_t cap = s->cap ? s->cap * 2 : 4;
        struct ps_sub_ent *e = realloc(s->ents, (size_t)cap * sizeof *e);
        if (!e)
            return -1;
        s->ents = e;
        s->cap = cap;
    }
    uint32_t id = strtab_intern(t, jid, len, NULL);
    if (!id)
        return -1;
    uint32_t slot = probe(s, id, &p);
    s->ents[s->n] = (struct ps_sub_ent){id, STATE_NONE, subid};
    s->index[slot] = ++s->n;
    set_state(s, &s->ents[s->n - 1], state);
    return 0;
}

const struct ps_sub_ent *ps_subset_get(const ps_subset_t *s, const strtab_t *t, const char *jid,
                                       size_t len)
{
    uint32_t p = find(s, t, jid, len);
    if (!p || s->ents[p - 1].state == STATE_NONE)
        return NULL;
    return &s->ents[p - 1];
}

static void swap_remove(ps_subset_t *s, strtab_t *t, uint32_t pos)
{
    uint32_t id = s->ents[pos].jid, p;
    index_delete(s, probe(s, id, &p));
    uint32_t last = s->n - 1;
    if (pos != last) {
        uint32_t slot = probe(s, s->ents[last].jid, &p);
        s->index[slot] = pos + 1;
        s->ents[pos] = s->ents[last];
    }
    s->n--;
    strtab_unref(t, id);
}

int ps_subset_del(ps_subset_t *s, strtab_t *t, const char *jid, size_t len)
{
    uint32_t p = find(s, t, jid, len);
    if (!p || s->ents[p - 1].state == STATE_NONE)
        return 0;
    set_state(s, &s->ents[p - 1], STATE_NONE);
    if (s->iterators == 0 && !s->compacting) {
        swap_remove(s, t, p - 1);
        return 1;
    }
    if (s->dead_overflow)
        return 1; /* the scan will find it */
    if (s->n_dead == s->cap_dead) {
        uint32_t cap = s->cap_dead ? s->cap_dead * 2 : 8;
        uint32_t *d = realloc(s->dead, (size_t)cap * sizeof *d);
        if (!d) {
            s->dead_overflow = 1;
            s->scan = UINT32_MAX;
            return 1;
        }
        s->dead = d;
        s->cap_dead = cap;
    }
    s->dead[s->n_dead++] = p - 1;
    return 1;
}

uint32_t ps_subset_count(const ps_subset_t *s)
{
    return s->live;
}
uint32_t ps_subset_subscribed(const ps_subset_t *s)
{
    return s->subscribed;
}

const struct ps_sub_ent *ps_subset_at(const ps_subset_t *s, uint32_t i)
{
    return &s->ents[i];
}

uint32_t ps_subset_find_id(const ps_subset_t *s, uint32_t id)
{
    uint32_t p;
    if (!s->index || !id)
        return 0;
    probe(s, id, &p);
    return p && s->ents[p - 1].state != STATE_NONE ? p : 0;
}

void ps_subset_set_state(ps_subset_t *s, uint32_t i, uint32_t state)
{
    if (state != STATE_NONE && i < s->n && s->ents[i].state != STATE_NONE)
        set_state(s, &s->ents[i], state);
}

void ps_subset_iter_begin(ps_subset_t *s, ps_subset_iter_t *it)
{
    s->iterators++;
    it->pos = 0;
    it->end = s->n;
}

size_t ps_subset_iter_next(const ps_subset_t *s, ps_subset_iter_t *it, uint32_t *ids, size_t max)
{
    size_t k = 0;
    while (k < max && it->pos < it->end) {
        const struct ps_sub_ent *e = &s->ents[it->pos++];
        if (e->state == STATE_SUBSCRIBED)
            ids[k++] = e->jid;
    }
    return k;
}

/* One unit of compaction: a dead entry at the end is dropped first, so
 * that the entry a swap-remove moves into a hole is always live. Only
 * live entries ever move, so a mark keeps naming its dead entry (or a
 * position past the end, or a live entry: skipped), in any order. */
size_t ps_subset_compact(ps_subset_t *s, strtab_t *t, size_t budget)
{
    size_t used = 0;
    if (s->iterators)
        return 0;
    while (used < budget) {
        if (s->n && s->ents[s->n - 1].state == STATE_NONE) {
            swap_remove(s, t, s->n - 1);
        } else if (s->dead_overflow) {
            /* A mark was lost: every position is looked at, downwards. */
            if (s->scan > s->n)
                s->scan = s->n;
            if (s->scan == 0) {
                s->dead_overflow = 0;
                s->n_dead = 0;
                continue;
            }
            uint32_t pos = --s->scan;
            if (s->ents[pos].state == STATE_NONE)
                swap_remove(s, t, pos);
        } else if (s->n_dead) {
            uint32_t pos = s->dead[--s->n_dead];
            if (pos < s->n && s->ents[pos].state == STATE_NONE)
                swap_remove(s, t, pos);
        } else {
            break;
        }
        used++;
    }
    s->compacting = s->n_dead || s->dead_overflow;
    return used;
}

void ps_subset_iter_end(ps_subset_t *s, strtab_t *t, ps_subset_iter_t *it)
{
    it->pos = it->end;
    if (!s->iterators || --s->iterators)
        return;
    if (!s->compacting && !s->dead_overflow && s->n_dead <= PS_SUBSET_COMPACT_NOW)
        ps_subset_compact(s, t, SIZE_MAX);
    else
        s->compacting = 1;
}

/* Entries given back to the allocator at a time while releasing: freeing
 * a million-entry set's arrays at once costs ~7 ms of munmap. */
#define SHRINK_ENTS (64u * 1024)

size_t ps_subset_release(ps_subset_t *s, strtab_t *t, size_t budget)
{
    size_t used = 0;
    /* Nobody looks entries up any more: the index goes first. */
    free(s->index);
    s->index = NULL;
    free(s->dead);
    s->dead = NULL;
    s->n_dead = s->cap_dead = 0;
    while (s->n && used < budget) {
        strtab_unref(t, s->ents[--s->n].jid);
        used++;
    }
    if (s->cap - s->n >= SHRINK_ENTS && s->n) {
        uint32_t cap = s->cap - SHRINK_ENTS;
        struct ps_sub_ent *e = realloc(s->ents, (size_t)cap * sizeof *e);
        if (e) {
            s->ents = e;
            s->cap = cap;
        }
    }
    if (!s->n)
        ps_subset_clear(s, t);
    return used;
}
