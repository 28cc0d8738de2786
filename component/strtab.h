/* Reference-counted string interning: each distinct string is stored once
 * and named by a small integer id, so that tables holding millions of
 * references to a few distinct strings (the local JIDs presence was sent
 * to, caps `ver` strings) pay 4 bytes per reference instead of a pointer
 * plus a copy. Ids are >= 1 (0 means "none") and are recycled after the
 * last reference is dropped. */
#ifndef HERALD_STRTAB_H
#define HERALD_STRTAB_H

#include <stddef.h>
#include <stdint.h>

typedef struct strtab strtab_t;

strtab_t *strtab_new(void);
/* Frees every string regardless of references. */
void strtab_free(strtab_t *t);

/* Finds `s` (len bytes, need not be NUL-terminated) or adds a copy, and
 * takes one reference. Returns the id, or 0 on allocation failure. Sets
 * *created (if not NULL) to 1 when the string was added. */
uint32_t strtab_intern(strtab_t *t, const char *s, size_t len, int *created);
/* The id of `s`, or 0 if absent; takes no reference. */
uint32_t strtab_find(const strtab_t *t, const char *s, size_t len);

void strtab_ref(strtab_t *t, uint32_t id);
/* Drops one reference; at zero the string is freed and the id becomes
 * free for reuse. Returns the references left. */
uint32_t strtab_unref(strtab_t *t, uint32_t id);

/* The NUL-terminated string of a live id (owned by the table), or NULL. */
const char *strtab_str(const strtab_t *t, uint32_t id);
size_t strtab_strlen(const strtab_t *t, uint32_t id);
uint32_t strtab_refs(const strtab_t *t, uint32_t id);

/* Number of live strings. */
size_t strtab_count(const strtab_t *t);
/* One more than the largest id handed out so far: the size needed by an
 * array indexed by id. */
uint32_t strtab_id_limit(const strtab_t *t);

#endif
