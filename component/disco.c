/* XEP-0030 for the component's bare domain, and its XEP-0115 `ver` (the
 * hashing itself is in caps.c).
 *
 * Which queries are answered here:
 *   - disco#info / disco#items without a node, to the bare domain: from
 *     the registry;
 *   - disco#info with node "<caps node>#<current ver>", to any JID at the
 *     domain: the same info with the node mirrored, because every JID at
 *     the domain advertises our caps in its presence (XEP-0115 §6.2) and
 *     contacts verify them by asking the JID that sent the presence.
 * Everything else (other nodes, JIDs with a localpart or resource) is
 * PASSed so modules can answer. If no module does, a fallback handler
 * answers item-not-found: XEP-0030 §3.1 says a query about a JID or
 * JID+node that does not exist SHOULD get item-not-found (§7 lists
 * service-unavailable only for an entity that does not speak disco, which
 * is not our case). */
#include "component/disco.h"

#include <stdlib.h>
#include <string.h>

#include "component/disco_int.h"
#include "component/jid.h"
#include "component/log.h"
#include "component/ns.h"
#include "component/stanza_util.h"

#define SUBJ "disco"

/* Names the software in <c node=…/>; stable across versions by design
 * (XEP-0115 §4: a URI identifying the application, not its release). */
#define HERALD_CAPS_NODE "https://herald.invalid/caps"

/* XEP-0030 §3.1 requires at least one identity; a component that
 * registered none still says what it is. */
#define DEFAULT_CATEGORY "component"
#define DEFAULT_TYPE "generic"

typedef struct {
    char *category, *type, *name;
} ident_t;

typedef struct {
    char *jid, *node, *name;
} item_t;

struct disco {
    router_t *router;
    char *domain;
    ident_t *idents;
    size_t n_idents, cap_idents;
    char **features;
    size_t n_features, cap_features;
    item_t *items;
    size_t n_items, cap_items;
    char ver[29];
    int ver_stale;
};

int disco_grow(void **v, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : 8;
    void *p = realloc(*v, c * elem);
    if (!p)
        return -1;
    *v = p;
    *cap = c;
    return 0;
}

/* ---- registry ------------------------------------------------------- */

static char *dupornull(const char *s)
{
    return s ? strdup(s) : NULL;
}

void disco_add_identity(disco_t *disco, const char *category, const char *type, const char *name)
{
    if (!category || !type)
        return;
    for (size_t i = 0; i < disco->n_idents; i++) {
        ident_t *d = &disco->idents[i];
        if (streq(d->category, category) && streq(d->type, type))
            return; /* category/type is unique without xml:lang */
    }
    if (disco_grow((void **)&disco->idents, &disco->cap_idents, disco->n_idents,
                   sizeof(*disco->idents)) < 0)
        return;
    ident_t id = {strdup(category), strdup(type), dupornull(name)};
    if (!id.category || !id.type || (name && !id.name)) {
        free(id.category);
        free(id.type);
        free(id.name);
        return;
    }
    disco->idents[disco->n_idents++] = id;
    disco->ver_stale = 1;
}

void disco_add_feature(disco_t *disco, const char *var)
{
    if (!var)
        return;
    for (size_t i = 0; i < disco->n_features; i++)
        if (streq(disco->features[i], var))
            return;
    if (disco_grow((void **)&disco->features, &disco->cap_features, disco->n_features,
                   sizeof(*disco->features)) < 0)
        return;
    char *d = strdup(var);
    if (!d)
        return;
    disco->features[disco->n_features++] = d;
    disco->ver_stale = 1;
}

void disco_add_item(disco_t *disco, const char *jid, const char *node, const char *name)
{
    if (!jid)
        return;
    for (size_t i = 0; i < disco->n_items; i++) {
        item_t *it = &disco->items[i];
        if (streq(it->jid, jid) && (it->node == node || streq(it->node, node)))
            return;
    }
    if (disco_grow((void **)&disco->items, &disco->cap_items, disco->n_items,
                   sizeof(*disco->items)) < 0)
        return;
    item_t it = {strdup(jid), dupornull(node), dupornull(name)};
    if (!it.jid || (node && !it.node) || (name && !it.name)) {
        free(it.jid);
        free(it.node);
        free(it.name);
        return;
    }
    disco->items[disco->n_items++] = it;
}

const char *disco_caps_node(disco_t *disco)
{
    (void)disco;
    return HERALD_CAPS_NODE;
}

const char *disco_caps_ver(disco_t *disco)
{
    if (!disco->ver_stale)
        return disco->ver;
    size_t n_ids = disco->n_idents ? disco->n_idents : 1;
    char **ids = calloc(n_ids, sizeof(*ids));
    int ok = ids != NULL;
    if (ok && disco->n_idents == 0) {
        ok = (ids[0] = caps_identity(DEFAULT_CATEGORY, DEFAULT_TYPE, "", "")) != NULL;
    } else {
        for (size_t i = 0; ok && i < disco->n_idents; i++) {
            ident_t *d = &disco->idents[i];
            ok = (ids[i] = caps_identity(d->category, d->type, "", d->name ? d->name : "")) != NULL;
        }
    }
    char ver[29];
    if (ok &&
        caps_ver_compute((const char *const *)ids, n_ids, (const char *const *)disco->features,
                         disco->n_features, NULL, 0, ver) == 0) {
        memcpy(disco->ver, ver, sizeof(ver));
        disco->ver_stale = 0;
    } else {
        /* Keep the previous value; retried on the next call. */
        hlog_error(SUBJ, "could not compute caps ver (out of memory)");
    }
    if (ids)
        for (size_t i = 0; i < n_ids; i++)
            free(ids[i]);
    free(ids);
    return disco->ver;
}

/* ---- answering ------------------------------------------------------ */

static void fill_identity(xmpp_stanza_t *query, const char *category, const char *type,
                          const char *name)
{
    xmpp_stanza_t *e = stanza_add_elem(query, "identity", NULL);
    if (!e)
        return;
    xmpp_stanza_set_attribute(e, "category", category);
    xmpp_stanza_set_attribute(e, "type", type);
    if (name)
        xmpp_stanza_set_attribute(e, "name", name);
}

void disco_fill_info(disco_t *disco, xmpp_stanza_t *query)
{
    if (disco->n_idents == 0)
        fill_identity(query, DEFAULT_CATEGORY, DEFAULT_TYPE, NULL);
    for (size_t i = 0; i < disco->n_idents; i++)
        fill_identity(query, disco->idents[i].category, disco->idents[i].type,
                      disco->idents[i].name);
    for (size_t i = 0; i < disco->n_features; i++) {
        xmpp_stanza_t *e = stanza_add_elem(query, "feature", NULL);
        if (e)
            xmpp_stanza_set_attribute(e, "var", disco->features[i]);
    }
}

static void fill_items(disco_t *disco, xmpp_stanza_t *query)
{
    for (size_t i = 0; i < disco->n_items; i++) {
        xmpp_stanza_t *e = stanza_add_elem(query, "item", NULL);
        if (!e)
            continue;
        xmpp_stanza_set_attribute(e, "jid", disco->items[i].jid);
        if (disco->items[i].node)
            xmpp_stanza_set_attribute(e, "node", disco->items[i].node);
        if (disco->items[i].name)
            xmpp_stanza_set_attribute(e, "name", disco->items[i].name);
    }
}

/* 1 if `to` is the bare domain itself (no `to` counts: the server asked). */
static int to_bare_domain(disco_t *disco, const char *to)
{
    jid_parts_t p;
    if (!to)
        return 1;
    if (jid_split(to, &p) < 0 || p.local || p.resource)
        return 0;
    return jid_is_at_domain(to, disco->domain);
}

/* 1 if `node` is "<caps node>#<our current ver>". */
static int is_caps_node(disco_t *disco, const char *node)
{
    size_t n = strlen(HERALD_CAPS_NODE);
    return strncmp(node, HERALD_CAPS_NODE, n) == 0 && node[n] == '#' &&
           strcmp(node + n + 1, disco_caps_ver(disco)) == 0;
}

static int reply_query(router_t *router, xmpp_stanza_t *stanza, const char *ns, const char *node,
                       disco_t *disco, int info)
{
    xmpp_stanza_t *res = router_iq_result(router, stanza);
    if (!res)
        return XERR_INTERNAL_SERVER_ERROR;
    xmpp_stanza_t *q = stanza_add_elem(res, "query", ns);
    if (!q) {
        xmpp_stanza_release(res);
        return XERR_INTERNAL_SERVER_ERROR;
    }
    if (node)
        xmpp_stanza_set_attribute(q, "node", node);
    if (info)
        disco_fill_info(disco, q);
    else
        fill_items(disco, q);
    router_send(router, res);
    xmpp_stanza_release(res);
    return ROUTE_DONE;
}

static xmpp_stanza_t *iq_query(xmpp_stanza_t *stanza, const char *ns)
{
    return xmpp_stanza_get_child_by_name_and_ns(stanza, "query", ns);
}

static int on_info(router_t *router, xmpp_stanza_t *stanza, void *ud)
{
    disco_t *disco = ud;
    xmpp_stanza_t *q = iq_query(stanza, NS_DISCO_INFO);
    if (!q)
        return XERR_BAD_REQUEST;
    const char *to = xmpp_stanza_get_to(stanza);
    const char *node = xmpp_stanza_get_attribute(q, "node");
    if (node) {
        if (is_caps_node(disco, node) && (!to || jid_is_at_domain(to, disco->domain)))
            return reply_query(router, stanza, NS_DISCO_INFO, node, disco, 1);
        return ROUTE_PASS;
    }
    if (!to_bare_domain(disco, to))
        return ROUTE_PASS;
    return reply_query(router, stanza, NS_DISCO_INFO, NULL, disco, 1);
}

static int on_items(router_t *router, xmpp_stanza_t *stanza, void *ud)
{
    disco_t *disco = ud;
    xmpp_stanza_t *q = iq_query(stanza, NS_DISCO_ITEMS);
    if (!q)
        return XERR_BAD_REQUEST;
    if (xmpp_stanza_get_attribute(q, "node") || !to_bare_domain(disco, xmpp_stanza_get_to(stanza)))
        return ROUTE_PASS;
    return reply_query(router, stanza, NS_DISCO_ITEMS, NULL, disco, 0);
}

/* Reached only when no module took a node or JID query (see top). */
static int on_unknown(router_t *router, xmpp_stanza_t *stanza, void *ud)
{
    (void)router;
    (void)stanza;
    (void)ud;
    return XERR_ITEM_NOT_FOUND;
}

disco_t *disco_new(router_t *router, const char *domain)
{
    disco_t *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->router = router;
    d->domain = strdup(domain ? domain : "");
    d->ver_stale = 1;
    if (!d->domain) {
        free(d);
        return NULL;
    }
    if (router_add(router, ROUTE_IQ_GET, NS_DISCO_INFO, on_info, d) < 0 ||
        router_add(router, ROUTE_IQ_GET, NS_DISCO_ITEMS, on_items, d) < 0 ||
        router_add_fallback(router, ROUTE_IQ_GET, NS_DISCO_INFO, on_unknown, d) < 0 ||
        router_add_fallback(router, ROUTE_IQ_GET, NS_DISCO_ITEMS, on_unknown, d) < 0) {
        /* Handlers cannot be removed, so `d` stays allocated for those
         * already registered; start-up fails anyway. */
        hlog_error(SUBJ, "could not register handlers (out of memory)");
        return NULL;
    }
    disco_add_feature(d, NS_DISCO_INFO);
    disco_add_feature(d, NS_DISCO_ITEMS);
    return d;
}

void disco_free(disco_t *disco)
{
    if (!disco)
        return;
    for (size_t i = 0; i < disco->n_idents; i++) {
        free(disco->idents[i].category);
        free(disco->idents[i].type);
        free(disco->idents[i].name);
    }
    for (size_t i = 0; i < disco->n_features; i++)
        free(disco->features[i]);
    for (size_t i = 0; i < disco->n_items; i++) {
        free(disco->items[i].jid);
        free(disco->items[i].node);
        free(disco->items[i].name);
    }
    free(disco->idents);
    free(disco->features);
    free(disco->items);
    free(disco->domain);
    free(disco);
}
