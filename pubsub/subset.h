/* A node's subscriptions, laid out for fan-out: one contiguous array of
 * 16-byte entries naming the subscriber by an interned JID id
 * (component/strtab.h: a JID subscribed to many nodes is stored once),
 * plus an open-addressing index id -> position for O(1) lookup, insert
 * and swap-remove. Memory is the array and the index, nothing per
 * notification.
 *
 * Invariant for fan-out: while an iterator is open, positions below the
 * count seen at ps_subset_iter_begin never change. Insertions append, and
 * removals only mark the entry (state NONE) and are compacted when the
 * last iterator ends. So a slice-by-slice walk reaches every subscription
 * that existed when it began and was not removed meanwhile, exactly once,
 * however the set changes between slices.
 *
 * Bounded work: when a walk ends with more removals to compact than
 * PS_SUBSET_COMPACT_NOW, the set stays pinned (as if still walked) and
 * ps_subset_compact removes them a budget at a time; a set being thrown
 * away can likewise be released a budget at a time (ps_subset_release).
 * Compaction moves only live entries, from the end into holes.
 *
 * A state is a value below 256 plus optional flag bits above it (the
 * model's marks): an entry with flag bits is live but not SUBSCRIBED, so
 * walks and the subscribed count pass over it at no cost. */
#ifndef HERALD_PS_SUBSET_H
#define HERALD_PS_SUBSET_H

#include <stddef.h>
#include <stdint.h>

#include "component/strtab.h"

struct ps_sub_ent {
    uint32_t jid;   /* strtab id; the set holds one reference */
    uint32_t state; /* ps_sub_state_t; PS_SUB_NONE = removed while iterated */
    uint64_t subid; /* 0 = none */
};

typedef struct {
    struct ps_sub_ent *ents;
    uint32_t n, cap;
    uint32_t *index; /* position + 1, 0 = empty */
    uint32_t index_bits;
    uint32_t live;       /* entries whose state is not NONE */
    uint32_t subscribed; /* entries whose state is SUBSCRIBED */
    uint32_t iterators;
    uint32_t *dead; /* positions marked NONE while pinned */
    uint32_t n_dead, cap_dead;
    int dead_overflow; /* a mark could not be recorded: scan the set */
    uint32_t scan;     /* that scan's cursor (positions below: not yet) */
    int compacting;    /* removals left for ps_subset_compact: pinned */
} ps_subset_t;

/* Removals compacted at once when the last walk ends (more are left to
 * ps_subset_compact). */
#define PS_SUBSET_COMPACT_NOW 4096u
/* Bits of a state that are the state proper; the rest are flags. */
#define PS_SUBSET_STATE_MASK 0xffu

typedef struct {
    uint32_t pos, end;
} ps_subset_iter_t;

/* A zeroed ps_subset_t is empty and valid. */
void ps_subset_init(ps_subset_t *s);
/* Drops every entry's JID reference in `t` and frees the memory. */
void ps_subset_clear(ps_subset_t *s, strtab_t *t);

/* Adds or updates the subscription of `jid` (len bytes, normalized).
 * state must not be PS_SUB_NONE (use ps_subset_del). 0, or -1 on OOM. */
int ps_subset_put(ps_subset_t *s, strtab_t *t, const char *jid, size_t len, uint32_t state,
                  uint64_t subid);
/* The live entry for `jid`, or NULL. Valid until the set changes. */
const struct ps_sub_ent *ps_subset_get(const ps_subset_t *s, const strtab_t *t, const char *jid,
                                       size_t len);
/* Removes `jid`'s subscription: 1 if it existed, 0 otherwise. */
int ps_subset_del(ps_subset_t *s, strtab_t *t, const char *jid, size_t len);

/* Live entries (any state but NONE) and SUBSCRIBED ones. */
uint32_t ps_subset_count(const ps_subset_t *s);
uint32_t ps_subset_subscribed(const ps_subset_t *s);

/* Entry at position i < s->n (its state may be NONE while pinned). */
const struct ps_sub_ent *ps_subset_at(const ps_subset_t *s, uint32_t i);
/* Position + 1 of the live entry of JID id `id`, or 0. */
uint32_t ps_subset_find_id(const ps_subset_t *s, uint32_t id);
/* Replaces the state (flags included) of the live entry at position i;
 * `state` must not be NONE. Keeps the counts right. */
void ps_subset_set_state(ps_subset_t *s, uint32_t i, uint32_t state);

/* Fan-out walk. begin pins positions (see above); next writes up to
 * `max` JID ids of SUBSCRIBED entries and returns how many (0: done);
 * end unpins and, for the last iterator, compacts removed entries. */
void ps_subset_iter_begin(ps_subset_t *s, ps_subset_iter_t *it);
size_t ps_subset_iter_next(const ps_subset_t *s, ps_subset_iter_t *it, uint32_t *ids, size_t max);
void ps_subset_iter_end(ps_subset_t *s, strtab_t *t, ps_subset_iter_t *it);

/* Compacts up to `budget` removals left by walks when no walk is open;
 * returns the work done (0 while walked). s->compacting tells whether
 * some are left. */
size_t ps_subset_compact(ps_subset_t *s, strtab_t *t, size_t budget);
/* Drops up to `budget` entries' JID references, from the end, and frees
 * the memory with the last: for a set that is being thrown away and is no
 * longer read or walked. Returns the work done; the set is empty (and may
 * be cleared at no cost) when s->n is 0. */
size_t ps_subset_release(ps_subset_t *s, strtab_t *t, size_t budget);

#endif
