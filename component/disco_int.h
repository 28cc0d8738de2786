/* Internals shared by disco.c (the registry and the disco#info/#items
 * handlers) and caps.c (XEP-0115 hashing); other modules use disco.h. */
#ifndef HERALD_DISCO_INT_H
#define HERALD_DISCO_INT_H

#include <stddef.h>
#include <string.h>

static inline int streq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

/* Makes room in the array *v (of *cap elements of `elem` bytes) for
 * element n, doubling it when full. Returns 0, or -1 (array unchanged)
 * on allocation failure. (disco.c) */
int disco_grow(void **v, size_t *cap, size_t n, size_t elem);

/* The §5.1 identity string "category/type/lang/name" (pass "" for an
 * absent lang or name), malloc'd (caller frees); NULL on OOM. (caps.c) */
char *caps_identity(const char *category, const char *type, const char *lang, const char *name);

#endif
