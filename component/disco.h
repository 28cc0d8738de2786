/* XEP-0030 service discovery for the component's domain, and its XEP-0115
 * capabilities hash. Modules contribute identities and features; the
 * disco#info/#items handlers on the bare domain answer from this registry.
 * Queries with a `node` attribute or to a JID with a localpart are PASSed,
 * so that modules (pubsub) can register their own handlers for them. */
#ifndef HERALD_DISCO_H
#define HERALD_DISCO_H

#include <strophe.h>

#include "component/router.h"

typedef struct disco disco_t;

/* Registers the disco#info and disco#items handlers on `router`, and the
 * disco features themselves. `domain` is the component's domain. */
disco_t *disco_new(router_t *router, const char *domain);
void disco_free(disco_t *disco);

/* Copies the strings. Adding twice the same feature is a no-op. */
void disco_add_identity(disco_t *disco, const char *category, const char *type,
                        const char *name);
void disco_add_feature(disco_t *disco, const char *var);
/* An item listed in disco#items of the domain (e.g. another service). */
void disco_add_item(disco_t *disco, const char *jid, const char *node,
                    const char *name);

/* XEP-0115 §5 verification string of the domain's identities + features,
 * recomputed when they change. Owned by disco. */
const char *disco_caps_ver(disco_t *disco);
/* The node attribute to advertise in <c/> (a URI naming the software). */
const char *disco_caps_node(disco_t *disco);

/* Fills a <query xmlns=disco#info/> element with identities and features. */
void disco_fill_info(disco_t *disco, xmpp_stanza_t *query);

/* XEP-0115 §5.1 over an explicit list, for tests and for verifying the
 * `ver` that contacts advertise. `identities` are "category/type/lang/name"
 * strings, `features` plain vars; both are sorted internally (copies).
 * Writes the base64 SHA-1 into out (needs 29 bytes). Data forms
 * (extended info) are given as already-serialized strings in `forms`
 * (each "FORM_TYPE<field<value<…" as §5.1 step 6+ build it), or NULL. */
int caps_ver_compute(const char *const *identities, size_t n_identities,
                     const char *const *features, size_t n_features,
                     const char *const *forms, size_t n_forms, char out[29]);

/* Computes the §5.1 hash of a received disco#info <query/> (identities,
 * features and extended data forms), for verifying a contact's `ver`. */
int caps_ver_of_query(xmpp_stanza_t *query, char out[29]);

#endif
