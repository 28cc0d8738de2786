/* Roster-less presence (RFC 6121 semantics without a roster): every JID at
 * our domain exists, accepts every subscription and answers every probe.
 *
 * Tracking is per (local JID, contact full JID): a contact's server sends
 * presence separately to each JID at our domain it is subscribed to, and
 * an unavailable sent to one of them says nothing about the others. A
 * full JID is "online" while any local JID has it.
 *
 * Events (presence_watch) are per (local JID, full JID): AVAILABLE when
 * the pair starts being tracked, UNAVAILABLE when it stops, CAPS_RESOLVED
 * whenever the pair's feature set becomes known or changes (at once when
 * the advertised `ver` is already cached, or when its disco#info query
 * verifies). Events of one stanza are collected and fired after the state
 * change is complete, so watchers may call back into presence.
 *
 * Caps resolution: one disco#info query per unknown `ver`, sent to the
 * first full JID that advertised it; other full JIDs with that `ver` wait
 * on the cache entry. The answer is trusted only if its XEP-0115 hash
 * equals the `ver` (only sha-1 is verifiable; other hashes and legacy caps
 * without a hash are treated as "no caps"). A failed query (error, timeout,
 * mismatch) marks the `ver` failed; it is retried only when a presence
 * from a different bare JID advertises it, so a contact that cannot answer
 * is never asked in a loop. */
#include "component/presence.h"

#include <stdlib.h>
#include <string.h>

#include "component/caps_cache.h"
#include "component/jid.h"
#include "component/log.h"
#include "component/ns.h"
#include "component/presence_table.h"
#include "component/strhash.h"
#include "component/strtab.h"

#define SUBJ "presence"
/* local@domain/resource with each part at its maximum, plus NUL. */
#define JIDBUF (3 * JID_PART_MAX + 3)
#define SHA1_B64_LEN 28

#define DEFAULT_MAX_ENTRIES 256
#define DEFAULT_CAPS_MAX 4096
#define DEFAULT_CAPS_TIMEOUT_MS 30000
/* Waiter lists are swept of contacts that left once they reach a power of
 * two at least this large, which bounds them by the live waiters. */
#define WAITER_SWEEP_MIN 64

struct caps_query {
    presence_t *p; /* NULL once presence is freed: the reply is ignored */
    struct caps_query *next;
    struct caps_query **pprev;
    uint32_t caps_id; /* holds one reference */
    uint64_t culprit;
};

struct watcher {
    presence_watch_fn fn;
    void *ud;
};

struct presence {
    router_t *router;
    disco_t *disco;
    char *domain;
    strhash_key_t key;
    ptab_t *table;
    strtab_t *locals;
    caps_cache_t *caps;
    struct watcher *watch;
    size_t nwatch;
    presence_store_t store;
    presence_limits_t limits;
    struct caps_query *queries;
};

/* A normalized JID split into bare part and resource, in one buffer. */
typedef struct {
    char buf[JIDBUF];
    size_t bare_len;
    const char *res; /* "" when there is no resource */
    size_t res_len;
    int has_res;
} njid_t;

static int njid_parse(njid_t *j, const char *jid)
{
    int n = jid_normalize(jid, j->buf, sizeof j->buf);
    if (n < 0)
        return -1;
    /* Neither localpart nor domainpart may contain '/', so the first one
     * starts the resource. */
    char *slash = memchr(j->buf, '/', (size_t)n);
    j->has_res = slash != NULL;
    j->bare_len = slash ? (size_t)(slash - j->buf) : (size_t)n;
    j->res = slash ? slash + 1 : j->buf + n;
    j->res_len = slash ? (size_t)n - j->bare_len - 1 : 0;
    return 0;
}

/* Writes bare[/res] into buf (JIDBUF bytes). */
static void full_of(char *buf, const char *bare, size_t bare_len,
                    const char *res, size_t res_len)
{
    memcpy(buf, bare, bare_len);
    if (res_len) {
        buf[bare_len] = '/';
        memcpy(buf + bare_len + 1, res, res_len);
        buf[bare_len + 1 + res_len] = '\0';
    } else {
        buf[bare_len] = '\0';
    }
}

/* ---- events ---------------------------------------------------------- */

struct pev {
    presence_event_t ev;
    char *local; /* one allocation: local '\0' full '\0' */
    char *full;
};

typedef struct {
    struct pev *v;
    size_t n, cap;
} evbatch_t;

static void ev_add(presence_t *p, evbatch_t *b, presence_event_t ev,
                   const char *local, const char *full)
{
    if (p->nwatch == 0 || !local)
        return;
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4;
        struct pev *v = realloc(b->v, cap * sizeof *v);
        if (!v) {
            hlog_error(SUBJ, "out of memory: event for %s dropped", full);
            return;
        }
        b->v = v;
        b->cap = cap;
    }
    size_t ll = strlen(local) + 1, fl = strlen(full) + 1;
    char *s = malloc(ll + fl);
    if (!s) {
        hlog_error(SUBJ, "out of memory: event for %s dropped", full);
        return;
    }
    memcpy(s, local, ll);
    memcpy(s + ll, full, fl);
    b->v[b->n++] = (struct pev){ev, s, s + ll};
}

static void ev_fire(presence_t *p, evbatch_t *b)
{
    for (size_t i = 0; i < b->n; i++) {
        /* Index loop: a watcher may add watchers (realloc). */
        for (size_t w = 0; w < p->nwatch; w++)
            p->watch[w].fn(b->v[i].ev, b->v[i].local, b->v[i].full,
                           p->watch[w].ud);
        free(b->v[i].local);
    }
    free(b->v);
    b->v = NULL;
    b->n = b->cap = 0;
}

/* ---- sending ---------------------------------------------------------- */

static void send_presence(presence_t *p, const char *from, const char *to,
                          const char *type, int with_caps)
{
    xmpp_ctx_t *ctx = router_ctx(p->router);
    xmpp_stanza_t *st = xmpp_presence_new(ctx);
    if (!st) {
        hlog_error(SUBJ, "out of memory: presence to %s not sent", to);
        return;
    }
    xmpp_stanza_set_from(st, from);
    xmpp_stanza_set_to(st, to);
    if (type)
        xmpp_stanza_set_type(st, type);
    if (with_caps && p->disco) {
        const char *ver = disco_caps_ver(p->disco);
        const char *node = disco_caps_node(p->disco);
        xmpp_stanza_t *c = xmpp_stanza_new(ctx);
        if (c && ver) {
            xmpp_stanza_set_name(c, "c");
            xmpp_stanza_set_ns(c, NS_CAPS);
            xmpp_stanza_set_attribute(c, "hash", "sha-1");
            if (node)
                xmpp_stanza_set_attribute(c, "node", node);
            xmpp_stanza_set_attribute(c, "ver", ver);
            xmpp_stanza_add_child_ex(st, c, 0);
        } else if (c) {
            xmpp_stanza_release(c);
        }
    }
    router_send(p->router, st);
    xmpp_stanza_release(st);
}

void presence_send_available(presence_t *p, const char *local_jid,
                             const char *to)
{
    send_presence(p, local_jid, to, NULL, 1);
}

/* ---- caps resolution ---------------------------------------------------- */

static uint64_t culprit_of(const presence_t *p, const njid_t *f)
{
    /* 0 means "nobody" to caps_cache_fail, so never return it. */
    return strhash(&p->key, f->buf, f->bare_len) | 1;
}

struct resolved_ctx {
    presence_t *p;
    evbatch_t *b;
    uint32_t caps_id;
    const char *full;
};

static void resolved_entry(const ptab_entry_t *e, void *ud)
{
    struct resolved_ctx *r = ud;
    if (e->caps_id == r->caps_id)
        ev_add(r->p, r->b, PRESENCE_CAPS_RESOLVED,
               strtab_str(r->p->locals, e->local_id), r->full);
}

/* Queues CAPS_RESOLVED for every local JID tracking full JID `f`. */
static void resolved_full(presence_t *p, evbatch_t *b, uint32_t caps_id,
                          const njid_t *f)
{
    struct resolved_ctx r = {p, b, caps_id, f->buf};
    ptab_each(p->table, f->buf, f->bare_len, f->res, f->res_len,
              resolved_entry, &r);
}

static void resolved_waiter(const char *key, void *ud)
{
    struct resolved_ctx *r = ud;
    njid_t f;
    if (njid_parse(&f, key) == 0)
        resolved_full(r->p, r->b, r->caps_id, &f);
}

static void caps_query_unlink(struct caps_query *q)
{
    *q->pprev = q->next;
    if (q->next)
        q->next->pprev = q->pprev;
}

static int cmp_strp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorts v in place (an answer may carry thousands of features). */
static int has_duplicates(const char **v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_strp);
    for (size_t i = 1; i < n; i++)
        if (strcmp(v[i - 1], v[i]) == 0)
            return 1;
    return 0;
}

/* XEP-0115 §5.4: checks the answer and stores its features. Returns NULL
 * on success, else why it was not accepted. */
static const char *caps_accept(presence_t *p, uint32_t caps_id,
                               xmpp_stanza_t *reply)
{
    const char *ver = caps_cache_ver(p->caps, caps_id);
    if (!reply)
        return "no answer";
    const char *type = xmpp_stanza_get_type(reply);
    if (!type || strcmp(type, "result") != 0)
        return "error reply";
    xmpp_stanza_t *query =
        xmpp_stanza_get_child_by_name_and_ns(reply, "query", NS_DISCO_INFO);
    if (!query)
        return "result without disco#info query";

    size_t n_feat = 0, n_id = 0;
    for (xmpp_stanza_t *ch = xmpp_stanza_get_children(query); ch;
         ch = xmpp_stanza_get_next(ch)) {
        const char *name = xmpp_stanza_get_name(ch);
        if (name && strcmp(name, "feature") == 0)
            n_feat++;
        else if (name && strcmp(name, "identity") == 0)
            n_id++;
    }
    const char **feat = malloc((n_feat + 1) * sizeof *feat);
    char **ids = calloc(n_id + 1, sizeof *ids);
    const char *why = NULL;
    if (!feat || !ids) {
        why = "out of memory";
        goto out;
    }
    size_t nf = 0, ni = 0;
    for (xmpp_stanza_t *ch = xmpp_stanza_get_children(query); ch;
         ch = xmpp_stanza_get_next(ch)) {
        const char *name = xmpp_stanza_get_name(ch);
        if (name && strcmp(name, "feature") == 0) {
            const char *var = xmpp_stanza_get_attribute(ch, "var");
            if (!var) {
                why = "feature without var";
                goto out;
            }
            feat[nf++] = var;
        } else if (name && strcmp(name, "identity") == 0) {
            /* libstrophe's parser stores xml:lang as "lang". */
            const char *lang = xmpp_stanza_get_attribute(ch, "xml:lang");
            if (!lang)
                lang = xmpp_stanza_get_attribute(ch, "lang");
            const char *parts[4] = {
                xmpp_stanza_get_attribute(ch, "category"),
                xmpp_stanza_get_attribute(ch, "type"), lang,
                xmpp_stanza_get_attribute(ch, "name")};
            size_t len = 4;
            for (int k = 0; k < 4; k++)
                len += parts[k] ? strlen(parts[k]) : 0;
            char *s = malloc(len);
            if (!s) {
                why = "out of memory";
                goto out;
            }
            s[0] = '\0';
            for (int k = 0; k < 4; k++) {
                if (k)
                    strcat(s, "/");
                if (parts[k])
                    strcat(s, parts[k]);
            }
            ids[ni++] = s;
        }
    }
    /* Duplicates would let two different sets share one hash. */
    if (has_duplicates(feat, nf) || has_duplicates((const char **)ids, ni)) {
        why = "duplicate identity or feature";
        goto out;
    }
    char got[29];
    if (caps_ver_of_query(query, got) != 0) {
        why = "cannot compute its hash";
        goto out;
    }
    if (strcmp(got, ver) != 0) {
        why = "hash mismatch";
        goto out;
    }
    if (caps_cache_resolve(p->caps, caps_id, feat, nf) != 0)
        why = "out of memory";
out:
    for (size_t i = 0; ids && i < n_id; i++)
        free(ids[i]);
    free(ids);
    free(feat);
    return why;
}

static void on_caps_reply(router_t *router, xmpp_stanza_t *reply, void *ud)
{
    (void)router;
    struct caps_query *q = ud;
    presence_t *p = q->p;
    if (!p) {
        free(q);
        return;
    }
    caps_query_unlink(q);
    uint32_t id = q->caps_id;
    const char *why = caps_accept(p, id, reply);
    evbatch_t b = {0};
    if (why) {
        const char *from = reply ? xmpp_stanza_get_from(reply) : NULL;
        /* A mismatch may be an attempt at poisoning the cache; silence
         * or an error is what any offline or minimal client does. */
        hlog(strcmp(why, "hash mismatch") == 0 ? HLOG_WARN : HLOG_INFO, SUBJ,
             "caps ver %s from %s not resolved: %s",
             caps_cache_ver(p->caps, id), from ? from : "(no answer)", why);
        caps_cache_fail(p->caps, id, q->culprit);
    } else {
        hlog_debug(SUBJ, "caps ver %s resolved: %zu features",
                   caps_cache_ver(p->caps, id),
                   caps_cache_feature_count(p->caps, id));
        struct resolved_ctx r = {p, &b, id, NULL};
        caps_cache_drain_waiters(p->caps, id, resolved_waiter, &r);
    }
    caps_cache_unref(p->caps, id);
    free(q);
    ev_fire(p, &b);
}

static void caps_query_send(presence_t *p, uint32_t caps_id, const char *local,
                            const njid_t *f, const char *node)
{
    xmpp_ctx_t *ctx = router_ctx(p->router);
    const char *ver = caps_cache_ver(p->caps, caps_id);
    struct caps_query *q = calloc(1, sizeof *q);
    xmpp_stanza_t *iq = xmpp_iq_new(ctx, "get", NULL);
    xmpp_stanza_t *query = xmpp_stanza_new(ctx);
    char *nodever = NULL;
    if (node && *node) {
        nodever = malloc(strlen(node) + strlen(ver) + 2);
        if (nodever)
            strcat(strcat(strcpy(nodever, node), "#"), ver);
    }
    if (!q || !iq || !query || (node && *node && !nodever)) {
        hlog_error(SUBJ, "out of memory: caps ver %s not queried", ver);
        caps_cache_fail(p->caps, caps_id, 0);
        goto out;
    }
    xmpp_stanza_set_to(iq, f->buf);
    xmpp_stanza_set_from(iq, local);
    xmpp_stanza_set_name(query, "query");
    xmpp_stanza_set_ns(query, NS_DISCO_INFO);
    if (nodever)
        xmpp_stanza_set_attribute(query, "node", nodever);
    xmpp_stanza_add_child(iq, query);

    q->p = p;
    q->caps_id = caps_id;
    q->culprit = culprit_of(p, f);
    caps_cache_ref(p->caps, caps_id);
    caps_cache_set_pending(p->caps, caps_id);
    q->next = p->queries;
    q->pprev = &p->queries;
    if (p->queries)
        p->queries->pprev = &q->next;
    p->queries = q;
    if (router_send_iq(p->router, iq, p->limits.caps_timeout_ms, on_caps_reply,
                       q) != 0) {
        /* Not the contact's fault: let the next presence retry. */
        hlog_warn(SUBJ, "caps ver %s: disco#info query to %s not sent", ver,
                  f->buf);
        caps_query_unlink(q);
        caps_cache_fail(p->caps, caps_id, 0);
        caps_cache_unref(p->caps, caps_id);
        goto out;
    }
    hlog_debug(SUBJ, "caps ver %s unknown: asking %s", ver, f->buf);
    q = NULL;
out:
    free(q);
    free(nodever);
    if (query)
        xmpp_stanza_release(query);
    if (iq)
        xmpp_stanza_release(iq);
}

struct sweep_ctx {
    presence_t *p;
    uint32_t caps_id;
};

static int waiter_still_waits(const char *key, void *ud)
{
    struct sweep_ctx *s = ud;
    njid_t f;
    uint32_t caps;
    return njid_parse(&f, key) == 0 &&
           ptab_find_full(s->p->table, f.buf, f.bare_len, f.res, f.res_len,
                          &caps) &&
           caps == s->caps_id;
}

/* Full JID `f` (just tracked for `local`) advertises caps_id. `moved`: the
 * full JID had other caps (or none) before, as opposed to only a new local
 * JID for a full JID already on these caps. */
static void caps_attach(presence_t *p, evbatch_t *b, uint32_t caps_id,
                        int moved, const char *local, const njid_t *f,
                        const char *node)
{
    caps_state_t st = caps_cache_state(p->caps, caps_id);
    if (st == CAPS_RESOLVED) {
        if (moved)
            resolved_full(p, b, caps_id, f);
        else
            ev_add(p, b, PRESENCE_CAPS_RESOLVED, local, f->buf);
        return;
    }
    if (!moved)
        return; /* already waiting under its other local JID */
    size_t n = caps_cache_waiter_count(p->caps, caps_id);
    if (n >= WAITER_SWEEP_MIN && (n & (n - 1)) == 0) {
        struct sweep_ctx s = {p, caps_id};
        caps_cache_filter_waiters(p->caps, caps_id, waiter_still_waits, &s);
    }
    if (caps_cache_add_waiter(p->caps, caps_id, f->buf) != 0)
        hlog_error(SUBJ, "out of memory: %s will not get caps events", f->buf);
    if (st == CAPS_UNKNOWN ||
        (st == CAPS_FAILED &&
         caps_cache_culprit(p->caps, caps_id) != culprit_of(p, f)))
        caps_query_send(p, caps_id, local, f, node);
}

/* ---- tracking ---------------------------------------------------------- */

static void track_available(presence_t *p, const char *local, const njid_t *f,
                            const char *node, const char *ver)
{
    uint32_t lid = strtab_intern(p->locals, local, strlen(local), NULL);
    uint32_t cid = ver ? caps_cache_get(p->caps, ver) : 0; /* temporary ref */
    if (!lid || (ver && !cid)) {
        hlog_error(SUBJ, "out of memory: %s not tracked", f->buf);
        goto out;
    }
    uint32_t prev, changed;
    int rc = ptab_upsert(p->table, f->buf, f->bare_len, f->res, f->res_len,
                         lid, cid, &prev, &changed);
    if (rc < 0) {
        hlog_warn(SUBJ, "%s not tracked: %s", f->buf,
                  rc == PTAB_ELIMIT ? "too many resources for this contact"
                                    : "out of memory");
        goto out;
    }
    /* Each entry holds one reference on its local JID and on its caps. */
    if (rc == PTAB_UPDATED)
        strtab_unref(p->locals, lid);
    for (uint32_t i = 0; i < changed; i++) {
        if (cid)
            caps_cache_ref(p->caps, cid);
        if (prev)
            caps_cache_unref(p->caps, prev);
    }
    if (rc == PTAB_ADDED && cid)
        caps_cache_ref(p->caps, cid);
    lid = 0;

    evbatch_t b = {0};
    if (rc == PTAB_ADDED)
        ev_add(p, &b, PRESENCE_AVAILABLE, local, f->buf);
    if (cid && (prev != cid || rc == PTAB_ADDED))
        caps_attach(p, &b, cid, prev != cid, local, f, node);
    if (cid)
        caps_cache_unref(p->caps, cid);
    ev_fire(p, &b);
    return;
out:
    if (lid)
        strtab_unref(p->locals, lid);
    if (cid)
        caps_cache_unref(p->caps, cid);
}

struct removed_ctx {
    presence_t *p;
    evbatch_t *b;
};

static void on_removed(const ptab_entry_t *e, void *ud)
{
    struct removed_ctx *r = ud;
    presence_t *p = r->p;
    char full[JIDBUF];
    full_of(full, e->bare, e->bare_len, e->res, e->res_len);
    ev_add(p, r->b, PRESENCE_UNAVAILABLE, strtab_str(p->locals, e->local_id),
           full);
    strtab_unref(p->locals, e->local_id);
    if (e->caps_id)
        caps_cache_unref(p->caps, e->caps_id);
}

/* Stops tracking `f` (every resource if it is bare) for `local`, or for
 * every local JID if `local` is NULL. */
static void track_gone(presence_t *p, const char *local, const njid_t *f)
{
    uint32_t lid = 0;
    if (local) {
        lid = strtab_find(p->locals, local, strlen(local));
        if (!lid)
            return; /* nothing was ever tracked for this local JID */
    }
    evbatch_t b = {0};
    struct removed_ctx r = {p, &b};
    ptab_remove(p->table, f->buf, f->bare_len, f->has_res ? f->res : NULL,
                f->res_len, lid, on_removed, &r);
    ev_fire(p, &b);
}

void presence_track(presence_t *p, const char *local_jid, const char *full_jid,
                    const char *caps_node, const char *ver, int available)
{
    char local[JIDBUF];
    njid_t f;
    if (jid_bare(local_jid, local, sizeof local) < 0 ||
        njid_parse(&f, full_jid) < 0)
        return;
    if (available)
        track_available(p, local, &f, caps_node, ver);
    else
        track_gone(p, local, &f);
}

/* ---- the stanza handler ------------------------------------------------ */

static int sha1_ver_ok(const char *ver)
{
    if (!ver || strlen(ver) != SHA1_B64_LEN || ver[SHA1_B64_LEN - 1] != '=')
        return 0;
    for (int i = 0; i < SHA1_B64_LEN - 1; i++) {
        char ch = ver[i];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
              (ch >= '0' && ch <= '9') || ch == '+' || ch == '/'))
            return 0;
    }
    return 1;
}

/* The verifiable `ver` of the stanza's <c/>, or NULL ("no caps"). */
static const char *caps_of(xmpp_stanza_t *st, const char *from,
                           const char **node)
{
    xmpp_stanza_t *c = xmpp_stanza_get_child_by_name_and_ns(st, "c", NS_CAPS);
    *node = NULL;
    if (!c)
        return NULL;
    const char *hash = xmpp_stanza_get_attribute(c, "hash");
    const char *ver = xmpp_stanza_get_attribute(c, "ver");
    if (!hash) {
        hlog_debug(SUBJ, "%s: legacy caps without hash, ignored", from);
        return NULL;
    }
    if (strcmp(hash, "sha-1") != 0) {
        hlog_debug(SUBJ, "%s: caps hash %s cannot be verified, ignored", from,
                   hash);
        return NULL;
    }
    if (!sha1_ver_ok(ver)) {
        hlog_debug(SUBJ, "%s: malformed sha-1 caps ver, ignored", from);
        return NULL;
    }
    *node = xmpp_stanza_get_attribute(c, "node");
    return ver;
}

static int on_presence(router_t *router, xmpp_stanza_t *st, void *ud)
{
    (void)router;
    presence_t *p = ud;
    const char *to = xmpp_stanza_get_to(st);
    const char *from = xmpp_stanza_get_from(st);
    const char *type = xmpp_stanza_get_type(st);
    char local[JIDBUF];
    njid_t f;

    if (!to || !jid_is_at_domain(to, p->domain) ||
        jid_bare(to, local, sizeof local) < 0)
        return ROUTE_PASS;
    if (!from || !*from) {
        hlog_debug(SUBJ, "presence to %s without from dropped", to);
        return ROUTE_DONE; /* nobody to answer */
    }
    if (njid_parse(&f, from) < 0)
        return type && strcmp(type, "error") == 0 ? ROUTE_DONE
                                                  : XERR_JID_MALFORMED;

    if (!type) {
        const char *node, *ver = caps_of(st, f.buf, &node);
        track_available(p, local, &f, node, ver);
    } else if (strcmp(type, "unavailable") == 0) {
        track_gone(p, local, &f);
    } else if (strcmp(type, "probe") == 0) {
        send_presence(p, local, f.buf, NULL, 1);
    } else if (strcmp(type, "subscribe") == 0) {
        f.buf[f.bare_len] = '\0';
        send_presence(p, local, f.buf, "subscribed", 0);
        send_presence(p, local, from, NULL, 1);
        if (p->store.subscribed)
            p->store.subscribed(p->store.ud, local, f.buf);
    } else if (strcmp(type, "unsubscribe") == 0) {
        f.buf[f.bare_len] = '\0';
        send_presence(p, local, f.buf, "unsubscribed", 0);
        send_presence(p, local, from, "unavailable", 0);
        if (p->store.unsubscribed)
            p->store.unsubscribed(p->store.ud, local, f.buf);
    } else if (strcmp(type, "subscribed") == 0) {
        /* We never ask for subscriptions, so there is nothing to record. */
    } else if (strcmp(type, "unsubscribed") == 0) {
        /* The contact no longer shares its presence with this local JID:
         * what we track for that pair would go stale. */
        f.has_res = 0;
        track_gone(p, local, &f);
    } else if (strcmp(type, "error") == 0) {
        /* Unreachable (a bounce of something we sent): forget the
         * resource, or the whole contact if the error came from its bare
         * JID. Never answered. */
        track_gone(p, NULL, &f);
    } else {
        return XERR_BAD_REQUEST;
    }
    return ROUTE_DONE;
}

/* ---- API ----------------------------------------------------------------- */

presence_t *presence_new(router_t *router, disco_t *disco, const char *domain)
{
    if (!router || !domain)
        return NULL;
    presence_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->router = router;
    p->disco = disco;
    p->limits = (presence_limits_t){DEFAULT_MAX_ENTRIES, DEFAULT_CAPS_MAX,
                                    DEFAULT_CAPS_TIMEOUT_MS};
    strhash_key_init(&p->key);
    p->domain = strdup(domain);
    p->table = ptab_new(DEFAULT_MAX_ENTRIES);
    p->locals = strtab_new();
    p->caps = caps_cache_new(DEFAULT_CAPS_MAX);
    if (!p->domain || !p->table || !p->locals || !p->caps ||
        router_add(router, ROUTE_PRESENCE, NULL, on_presence, p) != 0) {
        presence_free(p);
        return NULL;
    }
    return p;
}

void presence_free(presence_t *p)
{
    if (!p)
        return;
    /* Replies still in flight must find no presence behind them; the
     * router frees each query context when it calls back. */
    for (struct caps_query *q = p->queries; q; q = q->next)
        q->p = NULL;
    ptab_free(p->table);
    strtab_free(p->locals);
    caps_cache_free(p->caps);
    free(p->watch);
    free(p->domain);
    free(p);
}

void presence_set_limits(presence_t *p, const presence_limits_t *l)
{
    if (l->max_entries_per_contact) {
        p->limits.max_entries_per_contact = l->max_entries_per_contact;
        ptab_set_max_entries(p->table, l->max_entries_per_contact);
    }
    if (l->caps_cache_max) {
        p->limits.caps_cache_max = l->caps_cache_max;
        caps_cache_set_max(p->caps, l->caps_cache_max);
    }
    if (l->caps_timeout_ms)
        p->limits.caps_timeout_ms = l->caps_timeout_ms;
}

int presence_is_online(presence_t *p, const char *bare_jid)
{
    char bare[JIDBUF];
    int n = jid_bare(bare_jid, bare, sizeof bare);
    return n >= 0 && ptab_has_bare(p->table, bare, (size_t)n);
}

struct each_ctx {
    presence_resource_cb cb;
    void *ud;
};

static void each_full(const ptab_entry_t *e, void *ud)
{
    struct each_ctx *c = ud;
    char full[JIDBUF];
    full_of(full, e->bare, e->bare_len, e->res, e->res_len);
    c->cb(full, c->ud);
}

size_t presence_each_resource(presence_t *p, const char *bare_jid,
                              presence_resource_cb cb, void *userdata)
{
    char bare[JIDBUF];
    int n = jid_bare(bare_jid, bare, sizeof bare);
    if (n < 0)
        return 0;
    struct each_ctx c = {cb, userdata};
    return ptab_each_full(p->table, bare, (size_t)n, each_full, &c);
}

int presence_has_feature(presence_t *p, const char *full_jid,
                         const char *feature)
{
    njid_t f;
    uint32_t caps;
    if (!feature || njid_parse(&f, full_jid) < 0 ||
        !ptab_find_full(p->table, f.buf, f.bare_len, f.res, f.res_len, &caps) ||
        caps == 0)
        return -1;
    return caps_cache_has_feature(p->caps, caps, feature);
}

size_t presence_count(presence_t *p) { return ptab_count_full(p->table); }

void presence_watch(presence_t *p, presence_watch_fn fn, void *userdata)
{
    struct watcher *w = realloc(p->watch, (p->nwatch + 1) * sizeof *w);
    if (!w) {
        hlog_error(SUBJ, "out of memory: watcher not added");
        return;
    }
    p->watch = w;
    p->watch[p->nwatch++] = (struct watcher){fn, userdata};
}

void presence_set_store(presence_t *p, const presence_store_t *store)
{
    if (store)
        p->store = *store;
    else
        memset(&p->store, 0, sizeof p->store);
}
