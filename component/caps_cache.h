/* XEP-0115 caps cache: `ver` string -> feature set, shared by every
 * contact that advertises the same `ver`.
 *
 * An entry is named by a small id (0 = none) and reference-counted by its
 * users (tracked resources, an in-flight disco#info query). Its state goes
 * UNKNOWN -> PENDING -> RESOLVED, or -> FAILED (verification mismatch,
 * error, timeout), from which a later query may still resolve it. While
 * not resolved it keeps the keys (full JIDs) waiting for it.
 *
 * Bounded: an entry nobody references is kept only if resolved or failed
 * (a negative cache entry), in LRU order, and the least recently used ones are dropped while the cache
 * holds more than `max_entries`. Referenced entries are never dropped, so
 * the bound can be exceeded by what is in use. This module does no I/O:
 * presence.c sends the queries. */
#ifndef HERALD_CAPS_CACHE_H
#define HERALD_CAPS_CACHE_H

#include <stddef.h>
#include <stdint.h>

typedef struct caps_cache caps_cache_t;

typedef enum {
    CAPS_UNKNOWN = 0,
    CAPS_PENDING,
    CAPS_RESOLVED,
    CAPS_FAILED,
} caps_state_t;

caps_cache_t *caps_cache_new(size_t max_entries);
void caps_cache_free(caps_cache_t *c);
void caps_cache_set_max(caps_cache_t *c, size_t max_entries);

/* Finds or creates (UNKNOWN) the entry for `ver`, taking one reference.
 * Returns its id, 0 on allocation failure. */
uint32_t caps_cache_get(caps_cache_t *c, const char *ver);
/* The id of `ver` or 0; takes no reference. */
uint32_t caps_cache_find(const caps_cache_t *c, const char *ver);
void caps_cache_ref(caps_cache_t *c, uint32_t id);
/* Drops a reference; at zero, a resolved or failed entry joins the LRU
 * list (its waiters are dropped) and any other is freed. */
void caps_cache_unref(caps_cache_t *c, uint32_t id);

caps_state_t caps_cache_state(const caps_cache_t *c, uint32_t id);
/* Owned by the cache; NULL for a dead id. */
const char *caps_cache_ver(const caps_cache_t *c, uint32_t id);

void caps_cache_set_pending(caps_cache_t *c, uint32_t id);
/* Marks the entry failed; `culprit` identifies whom the failed query went
 * to (presence uses a hash of the bare JID) so that a retry goes to
 * someone else. */
void caps_cache_fail(caps_cache_t *c, uint32_t id, uint64_t culprit);
uint64_t caps_cache_culprit(const caps_cache_t *c, uint32_t id);
/* Stores a copy of the features (sorted, duplicates dropped) and marks the
 * entry resolved. Returns 0, or -1 on allocation failure (state unchanged). */
int caps_cache_resolve(caps_cache_t *c, uint32_t id,
                       const char *const *features, size_t n);

/* 1 if the resolved entry has `feature`, 0 if not, -1 if unresolved. */
int caps_cache_has_feature(const caps_cache_t *c, uint32_t id,
                           const char *feature);
size_t caps_cache_feature_count(const caps_cache_t *c, uint32_t id);

/* Waiters: keys (copied) to notify when the entry resolves. */
int caps_cache_add_waiter(caps_cache_t *c, uint32_t id, const char *key);
size_t caps_cache_waiter_count(const caps_cache_t *c, uint32_t id);
/* Keeps only the waiters for which keep() returns non-zero. */
void caps_cache_filter_waiters(caps_cache_t *c, uint32_t id,
                               int (*keep)(const char *key, void *ud),
                               void *ud);
/* Detaches the waiters, then calls fn once per distinct key (so fn may
 * use the cache freely). */
void caps_cache_drain_waiters(caps_cache_t *c, uint32_t id,
                              void (*fn)(const char *key, void *ud), void *ud);

/* Live entries (referenced or cached). */
size_t caps_cache_count(const caps_cache_t *c);

#endif
