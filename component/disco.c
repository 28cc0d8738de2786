/* XEP-0030 for the component's bare domain, and XEP-0115 hashing.
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

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "component/jid.h"
#include "component/log.h"
#include "component/ns.h"

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

/* ---- small growable byte buffer ------------------------------------- */

typedef struct {
    char *p;
    size_t len, cap;
    int oom;
} buf_t;

static void buf_add(buf_t *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (b->len + n + 1 > cap)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void buf_adds(buf_t *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

static int streq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

static int grow(void **v, size_t *cap, size_t n, size_t elem)
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

/* ---- XEP-0115 §5.1 -------------------------------------------------- */

/* Compares "a/b/c/…" strings field by field over the first `fields`
 * '/'-separated fields, so that "a/x" sorts before "a-b/x" as category
 * order requires (plain strcmp would compare '/' with '-'). */
static int cmp_fields(const char *a, const char *b, char sep, int fields)
{
    for (int f = 0; f < fields; f++) {
        const char *ea = strchr(a, sep), *eb = strchr(b, sep);
        size_t la = ea ? (size_t)(ea - a) : strlen(a);
        size_t lb = eb ? (size_t)(eb - b) : strlen(b);
        int c = memcmp(a, b, la < lb ? la : lb);
        if (c)
            return c;
        if (la != lb)
            return la < lb ? -1 : 1;
        if (!ea || !eb)
            return (ea != NULL) - (eb != NULL);
        a = ea + 1;
        b = eb + 1;
    }
    return strcmp(a, b);
}

static int cmp_ident(const void *x, const void *y)
{
    /* category, type, lang; the name decides only between duplicates. */
    return cmp_fields(*(const char *const *)x, *(const char *const *)y, '/', 3);
}

static int cmp_str(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

static int cmp_form(const void *x, const void *y)
{
    return cmp_fields(*(const char *const *)x, *(const char *const *)y, '<', 1);
}

static void base64_20(const unsigned char in[20], char out[29])
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < 18; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = tbl[v >> 18 & 63];
        out[o++] = tbl[v >> 12 & 63];
        out[o++] = tbl[v >> 6 & 63];
        out[o++] = tbl[v & 63];
    }
    uint32_t v = (uint32_t)in[18] << 16 | (uint32_t)in[19] << 8;
    out[o++] = tbl[v >> 18 & 63];
    out[o++] = tbl[v >> 12 & 63];
    out[o++] = tbl[v >> 6 & 63];
    out[o++] = '=';
    out[o] = '\0';
}

static int has_adjacent_dup(const char *const *v, size_t n, int (*cmp)(const void *, const void *))
{
    for (size_t i = 1; i < n; i++)
        if (cmp(&v[i - 1], &v[i]) == 0)
            return 1;
    return 0;
}

/* With `strict`, duplicates make the input ill-formed (§5.4 step 3.3-3.5),
 * as a received query must be rejected rather than hashed. */
static int caps_hash(const char *const *identities, size_t n_identities,
                     const char *const *features, size_t n_features, const char *const *forms,
                     size_t n_forms, int strict, char out[29])
{
    size_t total = n_identities + n_features + n_forms;
    const char **v = malloc((total ? total : 1) * sizeof(*v));
    if (!v)
        return -1;
    const char **id = v, **fe = v + n_identities, **fo = fe + n_features;
    for (size_t i = 0; i < n_identities; i++) {
        /* category/type/lang/name: three separators, always. */
        const char *s = identities[i];
        int slashes = 0;
        for (const char *c = s; *c && slashes < 3; c++)
            slashes += *c == '/';
        if (slashes < 3) {
            free(v);
            return -1;
        }
        id[i] = s;
    }
    if (n_features)
        memcpy(fe, features, n_features * sizeof(*fe));
    if (n_forms)
        memcpy(fo, forms, n_forms * sizeof(*fo));
    qsort(id, n_identities, sizeof(*id), cmp_ident);
    qsort(fe, n_features, sizeof(*fe), cmp_str);
    qsort(fo, n_forms, sizeof(*fo), cmp_form);
    if (strict &&
        (has_adjacent_dup(id, n_identities, cmp_str) || has_adjacent_dup(fe, n_features, cmp_str) ||
         has_adjacent_dup(fo, n_forms, cmp_form))) {
        free(v);
        return -1;
    }

    buf_t s = {0};
    for (size_t i = 0; i < n_identities; i++) {
        buf_adds(&s, id[i]);
        buf_add(&s, "<", 1);
    }
    for (size_t i = 0; i < n_features; i++) {
        buf_adds(&s, fe[i]);
        buf_add(&s, "<", 1);
    }
    /* Forms arrive serialized with their own '<' terminators. */
    for (size_t i = 0; i < n_forms; i++)
        buf_adds(&s, fo[i]);
    free(v);
    if (s.oom) {
        free(s.p);
        return -1;
    }
    unsigned char digest[XMPP_SHA1_DIGEST_SIZE];
    xmpp_sha1_digest((const unsigned char *)(s.p ? s.p : ""), s.len, digest);
    free(s.p);
    base64_20(digest, out);
    return 0;
}

int caps_ver_compute(const char *const *identities, size_t n_identities,
                     const char *const *features, size_t n_features, const char *const *forms,
                     size_t n_forms, char out[29])
{
    return caps_hash(identities, n_identities, features, n_features, forms, n_forms, 0, out);
}

/* ---- caps of a received disco#info ---------------------------------- */

typedef struct {
    char **v;
    size_t n, cap;
    int oom;
} strvec_t;

static void sv_push(strvec_t *sv, char *s)
{
    if (!s || grow((void **)&sv->v, &sv->cap, sv->n, sizeof(*sv->v)) < 0) {
        free(s);
        sv->oom = 1;
        return;
    }
    sv->v[sv->n++] = s;
}

static void sv_free(strvec_t *sv)
{
    for (size_t i = 0; i < sv->n; i++)
        free(sv->v[i]);
    free(sv->v);
}

static char *join4(const char *a, const char *b, const char *c, const char *d)
{
    buf_t s = {0};
    buf_adds(&s, a);
    buf_add(&s, "/", 1);
    buf_adds(&s, b);
    buf_add(&s, "/", 1);
    buf_adds(&s, c);
    buf_add(&s, "/", 1);
    buf_adds(&s, d);
    if (s.oom) {
        free(s.p);
        return NULL;
    }
    return s.p;
}

/* Text of a <value/>: malloc'd, "" for an empty element. */
static char *value_text(xmpp_stanza_t *value)
{
    xmpp_ctx_t *ctx = xmpp_stanza_get_context(value);
    char *t = xmpp_stanza_get_text(value);
    char *r = strdup(t ? t : "");
    if (t)
        xmpp_free(ctx, t);
    return r;
}

typedef struct {
    const char *var;
    xmpp_stanza_t *elem;
} field_ref_t;

static int cmp_field(const void *x, const void *y)
{
    return strcmp(((const field_ref_t *)x)->var, ((const field_ref_t *)y)->var);
}

/* Serializes one XEP-0128 form per §5.1 step 7. Returns 1 and sets *out
 * when it counts, 0 when it must be ignored (no hidden FORM_TYPE), -1 when
 * it makes the response ill-formed. */
static int serialize_form(xmpp_stanza_t *x, char **out)
{
    size_t n_fields = 0;
    xmpp_stanza_t *form_type = NULL;
    for (xmpp_stanza_t *f = xmpp_stanza_get_children(x); f; f = xmpp_stanza_get_next(f)) {
        if (!xmpp_stanza_is_tag(f) || !streq(xmpp_stanza_get_name(f), "field"))
            continue;
        const char *var = xmpp_stanza_get_attribute(f, "var");
        if (streq(var, "FORM_TYPE")) {
            if (form_type)
                return -1;
            form_type = f;
        } else if (var) {
            n_fields++;
        }
    }
    if (!form_type || !streq(xmpp_stanza_get_type(form_type), "hidden"))
        return 0;

    int rc = -1;
    char *ft = NULL;
    strvec_t vals = {0};
    field_ref_t *fields = calloc(n_fields ? n_fields : 1, sizeof(*fields));
    buf_t s = {0};
    if (!fields)
        goto out;
    /* FORM_TYPE: one value (several identical ones are tolerated). */
    for (xmpp_stanza_t *v = xmpp_stanza_get_children(form_type); v; v = xmpp_stanza_get_next(v)) {
        if (!xmpp_stanza_is_tag(v) || !streq(xmpp_stanza_get_name(v), "value"))
            continue;
        char *t = value_text(v);
        if (!t)
            goto out;
        if (ft && strcmp(ft, t) != 0) {
            free(t);
            goto out;
        }
        if (ft)
            free(t);
        else
            ft = t;
    }
    if (!ft) {
        rc = 0;
        goto out;
    }
    buf_adds(&s, ft);
    buf_add(&s, "<", 1);

    size_t k = 0;
    for (xmpp_stanza_t *f = xmpp_stanza_get_children(x); f; f = xmpp_stanza_get_next(f)) {
        if (!xmpp_stanza_is_tag(f) || !streq(xmpp_stanza_get_name(f), "field"))
            continue;
        const char *var = xmpp_stanza_get_attribute(f, "var");
        if (var && !streq(var, "FORM_TYPE"))
            fields[k++] = (field_ref_t){var, f};
    }
    qsort(fields, k, sizeof(*fields), cmp_field);
    for (size_t i = 0; i < k; i++) {
        buf_adds(&s, fields[i].var);
        buf_add(&s, "<", 1);
        sv_free(&vals);
        vals = (strvec_t){0};
        for (xmpp_stanza_t *v = xmpp_stanza_get_children(fields[i].elem); v;
             v = xmpp_stanza_get_next(v))
            if (xmpp_stanza_is_tag(v) && streq(xmpp_stanza_get_name(v), "value"))
                sv_push(&vals, value_text(v));
        if (vals.oom)
            goto out;
        if (vals.n) /* a field without <value/>: vals.v is NULL, which qsort may not get */
            qsort(vals.v, vals.n, sizeof(*vals.v), cmp_str);
        for (size_t j = 0; j < vals.n; j++) {
            buf_adds(&s, vals.v[j]);
            buf_add(&s, "<", 1);
        }
    }
    if (s.oom)
        goto out;
    *out = s.p;
    s.p = NULL;
    rc = 1;
out:
    free(s.p);
    sv_free(&vals);
    free(fields);
    free(ft);
    return rc;
}

int caps_ver_of_query(xmpp_stanza_t *query, char out[29])
{
    strvec_t ids = {0}, feats = {0}, forms = {0};
    int rc = -1;
    if (!query)
        return -1;
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(query); c; c = xmpp_stanza_get_next(c)) {
        if (!xmpp_stanza_is_tag(c))
            continue;
        const char *name = xmpp_stanza_get_name(c);
        if (streq(name, "identity")) {
            const char *cat = xmpp_stanza_get_attribute(c, "category");
            const char *type = xmpp_stanza_get_attribute(c, "type");
            /* libstrophe's parser drops the xml: prefix of attributes. */
            const char *lang = xmpp_stanza_get_attribute(c, "xml:lang");
            if (!lang)
                lang = xmpp_stanza_get_attribute(c, "lang");
            const char *nm = xmpp_stanza_get_attribute(c, "name");
            if (!cat || !type)
                goto out;
            sv_push(&ids, join4(cat, type, lang ? lang : "", nm ? nm : ""));
        } else if (streq(name, "feature")) {
            const char *var = xmpp_stanza_get_attribute(c, "var");
            if (!var)
                goto out;
            sv_push(&feats, strdup(var));
        } else if (streq(name, "x") && streq(xmpp_stanza_get_ns(c), NS_DATA_FORMS)) {
            char *f = NULL;
            int r = serialize_form(c, &f);
            if (r < 0)
                goto out;
            if (r > 0)
                sv_push(&forms, f);
        }
    }
    if (ids.oom || feats.oom || forms.oom)
        goto out;
    rc = caps_hash((const char *const *)ids.v, ids.n, (const char *const *)feats.v, feats.n,
                   (const char *const *)forms.v, forms.n, 1, out);
out:
    sv_free(&ids);
    sv_free(&feats);
    sv_free(&forms);
    return rc;
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
    if (grow((void **)&disco->idents, &disco->cap_idents, disco->n_idents, sizeof(*disco->idents)) <
        0)
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
    if (grow((void **)&disco->features, &disco->cap_features, disco->n_features,
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
    if (grow((void **)&disco->items, &disco->cap_items, disco->n_items, sizeof(*disco->items)) < 0)
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
        ok = (ids[0] = join4(DEFAULT_CATEGORY, DEFAULT_TYPE, "", "")) != NULL;
    } else {
        for (size_t i = 0; ok && i < disco->n_idents; i++) {
            ident_t *d = &disco->idents[i];
            ok = (ids[i] = join4(d->category, d->type, "", d->name ? d->name : "")) != NULL;
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

static xmpp_stanza_t *new_child(xmpp_stanza_t *parent, const char *name, const char *ns)
{
    xmpp_stanza_t *e = xmpp_stanza_new(xmpp_stanza_get_context(parent));
    if (!e)
        return NULL;
    if (xmpp_stanza_set_name(e, name) != XMPP_EOK ||
        (ns && xmpp_stanza_set_ns(e, ns) != XMPP_EOK) ||
        xmpp_stanza_add_child_ex(parent, e, 0) != XMPP_EOK) {
        xmpp_stanza_release(e);
        return NULL;
    }
    return e; /* borrowed: the parent holds it */
}

static void fill_identity(xmpp_stanza_t *query, const char *category, const char *type,
                          const char *name)
{
    xmpp_stanza_t *e = new_child(query, "identity", NULL);
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
        xmpp_stanza_t *e = new_child(query, "feature", NULL);
        if (e)
            xmpp_stanza_set_attribute(e, "var", disco->features[i]);
    }
}

static void fill_items(disco_t *disco, xmpp_stanza_t *query)
{
    for (size_t i = 0; i < disco->n_items; i++) {
        xmpp_stanza_t *e = new_child(query, "item", NULL);
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
    xmpp_stanza_t *q = new_child(res, "query", ns);
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
