/* A byte-string-keyed hash map for the pubsub model (nodes by scope and
 * name, affiliations by bare JID). Keys come from the network, so the
 * table hashes with its own random SipHash key (component/strhash.h).
 * Entries live in one dense array (iteration touches no empty slots) and
 * an open-addressing index with backward-shift deletion points into it;
 * deletion moves the last entry into the hole. */
#ifndef HERALD_PS_STRMAP_H
#define HERALD_PS_STRMAP_H

#include <stddef.h>

typedef struct ps_strmap ps_strmap_t;

/* NULL on OOM. */
ps_strmap_t *ps_strmap_new(void);
/* Frees the map and its key copies, not the values. */
void ps_strmap_free(ps_strmap_t *m);
/* Frees up to `budget` key copies, from the last entry (for a map being
 * thrown away: it is not read any more); returns how many. The map is
 * empty, and ps_strmap_free costs little, when it returns less. */
size_t ps_strmap_release(ps_strmap_t *m, size_t budget);

size_t ps_strmap_count(const ps_strmap_t *m);

/* The value stored under `key` (len bytes), or NULL when absent. */
void *ps_strmap_get(const ps_strmap_t *m, const char *key, size_t len);
/* Stores `value` (not NULL) under a copy of `key`, replacing any value.
 * Returns 0, or -1 on OOM (map unchanged). */
int ps_strmap_put(ps_strmap_t *m, const char *key, size_t len, void *value);
/* Removes `key`; returns its value, or NULL when absent. */
void *ps_strmap_del(ps_strmap_t *m, const char *key, size_t len);

/* Entry `i` for i < count, in no particular order; the map must not be
 * modified between calls of an iteration. *key is NUL-terminated. */
void ps_strmap_at(const ps_strmap_t *m, size_t i, const char **key, size_t *len, void **value);

#endif
