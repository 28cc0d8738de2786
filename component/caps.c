/* XEP-0115 §5 verification strings, declared in disco.h:
 * caps_ver_compute hashes a list of identities, features and extended-info
 * forms (disco.c uses it for the domain's own `ver`); caps_ver_of_query
 * hashes a received disco#info, for verifying the `ver` that contacts
 * advertise. */
#include "component/disco.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "component/disco_int.h"
#include "component/ns.h"

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
    if (!s || disco_grow((void **)&sv->v, &sv->cap, sv->n, sizeof(*sv->v)) < 0) {
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

char *caps_identity(const char *a, const char *b, const char *c, const char *d)
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
            sv_push(&ids, caps_identity(cat, type, lang ? lang : "", nm ? nm : ""));
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
