/* Fuzz target: stanzas from the server, through a router wired as
 * component_new() wires it (disco with an identity, version and ping,
 * roster-less presence), with a send function that keeps copies.
 *
 * Input: one or more stanzas separated by NUL bytes (at most MAX_STANZAS),
 * dispatched in order on one router, so that a later stanza meets the
 * state earlier ones left (tracked contacts, a pending caps query):
 *   - first byte '<': the input is dispatched exactly as it is;
 *   - any other first byte picks an address pair (addr[]), and every
 *     stanza of the rest gets that pair's from/to in place of its own. The
 *     deeper paths need sane addresses at our domain, which mutations of
 *     raw XML rarely keep (as Mosquitto's fuzzer lets its first bytes pick
 *     the session state).
 * An id attribute "@" is replaced by the id of the last IQ get/set the
 * component sent, so an input can answer the disco#info query with which
 * presence resolves a caps `ver` (router ids are random per run).
 *
 * Checked after each dispatch, abort() on violation:
 *   - an IQ get/set (any type but result/error) with an id gets exactly
 *     one reply, an IQ of that id typed result or error, addressed back
 *     (to = its from, from = its to); an IQ without id gets nothing;
 *   - nothing is sent for a stanza of type error, nor for an IQ result;
 *   - one stanza makes us send at most MAX_SENT_PER_STANZA stanzas;
 *   - every stanza sent serializes, parses back, and the parse has the
 *     same tree (names, namespaces, attributes, text);
 *   - every error sent carries one <error type=…>, with one defined
 *     condition;
 *   - a stanza addressed to our domain only makes us send from our domain
 *     (a server closes a component's stream on a foreign `from`);
 *   - presence events follow a model of tracked (local, contact) pairs,
 *     and presence_count() agrees with it.
 * HERALD_FUZZ_VERBOSE=1 prints every stanza sent. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <strophe.h>

#include "component/basics.h"
#include "component/disco.h"
#include "component/log.h"
#include "component/presence.h"
#include "component/router.h"

#define DOMAIN "pubsub.example.org"
#define NS_STANZAS "urn:ietf:params:xml:ns:xmpp-stanzas"
#define MAX_STANZAS 16
/* subscribe: subscribed + available; available with unknown caps: one
 * disco#info query. Anything beyond this is amplification. */
#define MAX_SENT_PER_STANZA 3
#define MAX_PAIRS 64

static const struct {
    const char *from, *to;
} addr[] = {
    {"juliet@example.com/balcony", DOMAIN},
    {"juliet@example.com/balcony", "node@" DOMAIN},
    {"romeo@example.net", DOMAIN},
    {"example.com", DOMAIN "/resource"},
    {"Juliet@Example.COM/Balcony", "User@PubSub.Example.ORG/r"},
    {"juliet@example.com/balcony", "other.example.org"},
    {NULL, DOMAIN},
    {"juliet@example.com/balcony", NULL},
};
#define N_ADDR (sizeof(addr) / sizeof(addr[0]))

static xmpp_ctx_t *ctx;
static int verbose;

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "fuzz_stanza: invariant violated: " __VA_ARGS__);                          \
        fputc('\n', stderr);                                                                       \
        abort();                                                                                   \
    } while (0)

/* ---- what the component sent ----------------------------------------- */

typedef struct {
    xmpp_stanza_t **v;
    size_t n, cap;
    char *last_iq_id; /* id of the last IQ get/set we sent */
} sent_t;

static void capture(xmpp_stanza_t *stanza, void *ud)
{
    sent_t *s = ud;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        xmpp_stanza_t **v = realloc(s->v, cap * sizeof(*v));
        if (!v)
            abort();
        s->v = v;
        s->cap = cap;
    }
    /* The router releases its stanza after sending: keep a deep copy. */
    xmpp_stanza_t *copy = xmpp_stanza_copy(stanza);
    if (!copy)
        abort();
    s->v[s->n++] = copy;
    const char *name = xmpp_stanza_get_name(stanza);
    const char *type = xmpp_stanza_get_type(stanza);
    const char *id = xmpp_stanza_get_id(stanza);
    if (name && !strcmp(name, "iq") && type && id && (!strcmp(type, "get") || !strcmp(type, "set"))) {
        free(s->last_iq_id);
        s->last_iq_id = strdup(id);
    }
}

static void sent_free(sent_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        xmpp_stanza_release(s->v[i]);
    free(s->v);
    free(s->last_iq_id);
}

/* ---- presence model --------------------------------------------------- */

typedef struct {
    char *local[MAX_PAIRS], *full[MAX_PAIRS];
    size_t n;
    int overflow; /* more pairs than modeled: stop checking */
} model_t;

static int model_find(model_t *m, const char *local, const char *full)
{
    for (size_t i = 0; i < m->n; i++)
        if (!strcmp(m->local[i], local) && !strcmp(m->full[i], full))
            return (int)i;
    return -1;
}

static void on_presence_event(presence_event_t ev, const char *local, const char *full, void *ud)
{
    model_t *m = ud;
    if (!local || !full)
        FAIL("presence event %d with a NULL JID", (int)ev);
    if (m->overflow)
        return;
    int i = model_find(m, local, full);
    switch (ev) {
    case PRESENCE_AVAILABLE:
        if (i >= 0)
            FAIL("AVAILABLE twice for (%s, %s)", local, full);
        if (m->n == MAX_PAIRS) {
            m->overflow = 1;
            return;
        }
        m->local[m->n] = strdup(local);
        m->full[m->n] = strdup(full);
        if (!m->local[m->n] || !m->full[m->n])
            abort();
        m->n++;
        break;
    case PRESENCE_UNAVAILABLE:
        if (i < 0)
            FAIL("UNAVAILABLE for untracked (%s, %s)", local, full);
        free(m->local[i]);
        free(m->full[i]);
        m->n--;
        m->local[i] = m->local[m->n];
        m->full[i] = m->full[m->n];
        break;
    case PRESENCE_CAPS_RESOLVED:
        if (i < 0)
            FAIL("CAPS_RESOLVED for untracked (%s, %s)", local, full);
        break;
    default:
        FAIL("unknown presence event %d", (int)ev);
    }
}

static void model_check(model_t *m, presence_t *p)
{
    if (m->overflow)
        return;
    size_t distinct = 0;
    for (size_t i = 0; i < m->n; i++) {
        size_t j = 0;
        while (j < i && strcmp(m->full[j], m->full[i]) != 0)
            j++;
        distinct += j == i;
    }
    if (presence_count(p) != distinct)
        FAIL("presence_count() = %zu, events say %zu full JIDs", presence_count(p), distinct);
}

static void model_free(model_t *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->local[i]);
        free(m->full[i]);
    }
}

/* ---- tree comparison -------------------------------------------------- */

typedef struct {
    char *p;
    size_t len, cap;
} buf_t;

static void buf_put(buf_t *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (b->len + n + 1 > cap)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            abort();
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void buf_str(buf_t *b, const char *s)
{
    buf_put(b, s, strlen(s));
}

/* Appends `s` quoted, after the normalization an XML parser applies:
 * libstrophe escapes neither CR nor (in attributes) TAB/LF, so a parse
 * turns CRLF and CR into LF in text, and each of them into a space in
 * attribute values (XML 1.0 §2.11, §3.3.3). That loss is libstrophe's
 * (see the report) and is not what this target looks for. */
static void buf_norm(buf_t *b, const char *s, int attr)
{
    buf_put(b, "\"", 1);
    for (; *s; s++) {
        char c = *s;
        if (c == '\r' && s[1] == '\n')
            s++, c = '\n';
        if (c == '\r')
            c = '\n';
        if (attr && (c == '\n' || c == '\t'))
            c = ' ';
        if (c == '"' || c == '\\')
            buf_put(b, "\\", 1);
        buf_put(b, &c, 1);
    }
    buf_put(b, "\"", 1);
}

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A canonical form of the tree: effective namespace per element (built
 * stanzas inherit it, parsed ones carry it on each element), attributes
 * sorted and without xmlns, adjacent text runs merged. */
static void canon(buf_t *b, xmpp_stanza_t *s, const char *inherited_ns)
{
    if (xmpp_stanza_is_text(s)) {
        const char *t = xmpp_stanza_get_text_ptr(s);
        if (t && *t) {
            buf_str(b, "T");
            buf_norm(b, t, 0);
        }
        return;
    }
    const char *ns = xmpp_stanza_get_ns(s);
    if (!ns)
        ns = inherited_ns;
    buf_str(b, "<");
    buf_str(b, xmpp_stanza_get_name(s) ? xmpp_stanza_get_name(s) : "(null)");
    buf_str(b, " ns=");
    buf_norm(b, ns ? ns : "", 1);
    int n = xmpp_stanza_get_attribute_count(s);
    if (n > 0) {
        const char **attrs = calloc((size_t)n * 2, sizeof(*attrs));
        const char **names = calloc((size_t)n, sizeof(*names));
        if (!attrs || !names)
            abort();
        int got = xmpp_stanza_get_attributes(s, attrs, n * 2);
        int k = 0;
        for (int i = 0; i + 1 < got; i += 2)
            if (strcmp(attrs[i], "xmlns") != 0)
                names[k++] = attrs[i];
        qsort(names, (size_t)k, sizeof(*names), cmp_cstr);
        for (int i = 0; i < k; i++) {
            buf_str(b, " ");
            buf_str(b, names[i]);
            buf_str(b, "=");
            buf_norm(b, xmpp_stanza_get_attribute(s, names[i]), 1);
        }
        free(names);
        free(attrs);
    }
    buf_str(b, ">");
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(s); c; c = xmpp_stanza_get_next(c))
        canon(b, c, ns);
    buf_str(b, "</>");
}

static const char *str_or(const char *s)
{
    return s ? s : "(none)";
}

static void check_wellformed(xmpp_stanza_t *s)
{
    char *text = NULL;
    size_t len = 0;
    if (xmpp_stanza_to_text(s, &text, &len) != XMPP_EOK || !text)
        FAIL("a stanza sent does not serialize");
    if (verbose)
        fprintf(stderr, "  sent: %s\n", text);
    xmpp_stanza_t *back = xmpp_stanza_new_from_string(ctx, text);
    if (!back)
        FAIL("a stanza sent does not parse back: %s", text);
    buf_t a = {0}, b = {0};
    canon(&a, s, NULL);
    canon(&b, back, NULL);
    if (strcmp(a.p, b.p) != 0)
        FAIL("a stanza sent changes when parsed back:\n  sent:   %s\n  built:  %s\n  parsed: %s",
             text, a.p, b.p);
    free(a.p);
    free(b.p);
    xmpp_stanza_release(back);
    xmpp_free(ctx, text);
}

static int streq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

static int same_or_both_null(const char *a, const char *b)
{
    return (!a && !b) || streq(a, b);
}

static void check_error_elem(xmpp_stanza_t *s)
{
    xmpp_stanza_t *err = NULL;
    int n = 0;
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(s); c; c = xmpp_stanza_get_next(c))
        if (xmpp_stanza_is_tag(c) && streq(xmpp_stanza_get_name(c), "error") && n++ == 0)
            err = c;
    if (n != 1)
        FAIL("<%s type='error'/> sent with %d <error/> children", xmpp_stanza_get_name(s), n);
    const char *type = xmpp_stanza_get_type(err);
    static const char *const types[] = {"auth", "cancel", "continue", "modify", "wait"};
    int ok = 0;
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        ok |= streq(type, types[i]);
    if (!ok)
        FAIL("<error/> sent with type '%s'", str_or(type));
    int conds = 0;
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(err); c; c = xmpp_stanza_get_next(c))
        if (xmpp_stanza_is_tag(c) && streq(xmpp_stanza_get_ns(c), NS_STANZAS) &&
            !streq(xmpp_stanza_get_name(c), "text"))
            conds++;
    if (conds != 1)
        FAIL("<error/> sent with %d defined conditions", conds);
}

/* Whether `jid`'s domainpart is DOMAIN, written independently of jid.c
 * (which is under test): the domain runs from after the first '@' that
 * comes before any '/', to the first '/'. */
static int at_domain(const char *jid)
{
    if (!jid)
        return 0;
    const char *slash = strchr(jid, '/');
    const char *at = strchr(jid, '@');
    const char *d = at && (!slash || at < slash) ? at + 1 : jid;
    size_t n = slash ? (size_t)(slash - d) : strlen(d);
    return n == strlen(DOMAIN) && strncasecmp(d, DOMAIN, n) == 0;
}

/* Checks what was sent (v[first..n)) in answer to `in`. */
static void check_answer(xmpp_stanza_t *in, sent_t *s, size_t first)
{
    const char *name = xmpp_stanza_get_name(in);
    const char *type = xmpp_stanza_get_type(in);
    const char *id = xmpp_stanza_get_id(in);
    size_t n = s->n - first;
    int is_iq = streq(name, "iq");

    if (n > MAX_SENT_PER_STANZA)
        FAIL("%zu stanzas sent for one <%s/>", n, str_or(name));
    if (streq(type, "error") && n)
        FAIL("%zu stanzas sent in answer to <%s type='error'/>", n, str_or(name));
    if (is_iq && streq(type, "result") && n)
        FAIL("%zu stanzas sent in answer to an IQ result", n);
    if (is_iq && (!id || !*id) && n)
        FAIL("%zu stanzas sent in answer to an IQ without id", n);

    int ours = at_domain(xmpp_stanza_get_to(in));
    size_t replies = 0;
    for (size_t i = first; i < s->n; i++) {
        xmpp_stanza_t *out = s->v[i];
        const char *oname = xmpp_stanza_get_name(out);
        const char *otype = xmpp_stanza_get_type(out);
        if (!streq(oname, "iq") && !streq(oname, "message") && !streq(oname, "presence"))
            FAIL("sent a <%s/>", str_or(oname));
        check_wellformed(out);
        if (streq(otype, "error"))
            check_error_elem(out);
        if (ours && !at_domain(xmpp_stanza_get_from(out)))
            FAIL("sent from '%s' in answer to a stanza to '%s'",
                 str_or(xmpp_stanza_get_from(out)), str_or(xmpp_stanza_get_to(in)));
        if (is_iq && streq(oname, "iq") && streq(xmpp_stanza_get_id(out), id) &&
            (streq(otype, "result") || streq(otype, "error"))) {
            replies++;
            if (!same_or_both_null(xmpp_stanza_get_to(out), xmpp_stanza_get_from(in)) ||
                !same_or_both_null(xmpp_stanza_get_from(out), xmpp_stanza_get_to(in)))
                FAIL("reply to IQ id '%s' goes to '%s' from '%s' (asked by '%s' to '%s')", id,
                     str_or(xmpp_stanza_get_to(out)), str_or(xmpp_stanza_get_from(out)),
                     str_or(xmpp_stanza_get_from(in)), str_or(xmpp_stanza_get_to(in)));
        }
    }
    if (is_iq && id && *id && !streq(type, "result") && !streq(type, "error") && replies != 1)
        FAIL("IQ type '%s' id '%s' got %zu replies", str_or(type), id, replies);
}

/* ---- one input -------------------------------------------------------- */

static void set_or_del(xmpp_stanza_t *s, const char *attr, const char *value)
{
    if (value)
        xmpp_stanza_set_attribute(s, attr, value);
    else
        xmpp_stanza_del_attribute(s, attr);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    verbose = getenv("HERALD_FUZZ_VERBOSE") != NULL;
    /* Module errors (e.g. "second reply refused") stay visible. */
    hlog_set_level(verbose ? HLOG_DEBUG : HLOG_ERROR);
    /* One context for the process, as the component has: libstrophe's
     * parser remembers the first context it served. */
    ctx = xmpp_ctx_new(NULL, NULL);
    if (!ctx)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (!ctx)
        LLVMFuzzerInitialize(NULL, NULL);
    int raw = data[0] == '<';
    size_t pair = data[0] % N_ADDR;
    const uint8_t *body = raw ? data : data + 1;
    size_t len = raw ? size : size - 1;
    char *text = malloc(len + 1);
    if (!text)
        abort();
    memcpy(text, body, len);
    text[len] = '\0';

    sent_t sent = {0};
    model_t model = {0};
    router_t *router = router_new(ctx, NULL, capture, &sent);
    disco_t *disco = router ? disco_new(router, DOMAIN) : NULL;
    if (!disco)
        abort();
    disco_add_identity(disco, "pubsub", "service", "Herald publish-subscribe");
    if (basics_register(router, disco, "Herald", "fuzz") != 0)
        abort();
    presence_t *presence = presence_new(router, disco, DOMAIN);
    if (!presence)
        abort();
    presence_watch(presence, on_presence_event, &model);

    int count = 0;
    for (size_t off = 0; off < len && count < MAX_STANZAS;) {
        const char *seg = text + off;
        size_t seglen = strlen(seg);
        off += seglen + 1;
        if (!seglen)
            continue;
        xmpp_stanza_t *st = xmpp_stanza_new_from_string(ctx, seg);
        if (!st)
            continue;
        count++;
        if (!raw) {
            set_or_del(st, "from", addr[pair].from);
            set_or_del(st, "to", addr[pair].to);
        }
        if (sent.last_iq_id && streq(xmpp_stanza_get_id(st), "@"))
            xmpp_stanza_set_id(st, sent.last_iq_id);
        if (verbose) {
            char *t = NULL;
            size_t tl;
            if (xmpp_stanza_to_text(st, &t, &tl) == XMPP_EOK) {
                fprintf(stderr, "dispatch: %s\n", t);
                xmpp_free(ctx, t);
            }
        }
        size_t first = sent.n;
        router_dispatch(router, st);
        check_answer(st, &sent, first);
        model_check(&model, presence);
        xmpp_stanza_release(st);
    }

    /* The teardown order of component_free(). */
    size_t first = sent.n;
    router_cancel_pending(router);
    presence_free(presence);
    disco_free(disco);
    router_free(router);
    if (sent.n != first)
        FAIL("%zu stanzas sent while shutting down", sent.n - first);

    model_free(&model);
    sent_free(&sent);
    free(text);
    return 0;
}
