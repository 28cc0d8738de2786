/* Building stanzas with libstrophe under one ownership rule: a function
 * that is handed a new element takes it over whether it succeeds or not,
 * so that a chain of additions needs one failure path. Each returns NULL
 * (or -1) on OOM. */
#ifndef HERALD_STANZA_UTIL_H
#define HERALD_STANZA_UTIL_H

#include <strophe.h>

/* A new <name xmlns=ns/> (ns may be NULL), owned by the caller. */
xmpp_stanza_t *stanza_new_elem(xmpp_ctx_t *ctx, const char *name, const char *ns);

/* Adds `child` to `parent`, taking the caller's reference either way.
 * A NULL child (its construction failed) is a failure. 0 or -1. */
int stanza_adopt(xmpp_stanza_t *parent, xmpp_stanza_t *child);

/* A new <name xmlns=ns/> added to `parent` (NULL: fails), borrowed from
 * it. */
xmpp_stanza_t *stanza_add_elem(xmpp_stanza_t *parent, const char *name, const char *ns);

#endif
