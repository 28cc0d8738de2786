/* The router keeps the invariants every XMPP entity owes its peers:
 *   - each IQ get/set with an id gets exactly one reply: a handler's, an
 *     error built from the handler's return code, or service-unavailable;
 *     a second reply to the IQ being dispatched is refused (logged);
 *   - nothing of type 'error' is ever answered (no error loops);
 *   - each IQ we send completes exactly once: reply, timeout or cancel,
 *     and never before router_send_iq has returned.
 * Handlers are tried newest first; fallbacks (router_add_fallback) only
 * after every regular handler passed. */
#include "component/router.h"

#include <ev.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "component/jid.h"
#include "component/log.h"

#define SUBJ "router"
#define PENDING_BUCKETS_MIN 64

#ifndef container_of
#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))
#endif

typedef struct {
    int kinds;
    char *ns;
    route_handler_fn fn;
    void *ud;
} handler_t;

typedef struct {
    handler_t *v;
    size_t n, cap;
} handler_list_t;

typedef struct pending {
    struct pending *next; /* hash chain, then the ready list */
    router_t *router;
    uint64_t seq;
    char *to; /* the request's `to`, which the reply's `from` must match */
    router_iq_cb cb;
    void *ud;
    ev_timer timer;
    int sending;          /* inside router_send_iq's send call */
    xmpp_stanza_t *early; /* reply that arrived while sending (a ref) */
} pending_t;

struct router {
    xmpp_ctx_t *ctx;
    struct ev_loop *loop;
    router_send_fn send;
    void *send_ud;

    handler_list_t handlers;
    handler_list_t fallbacks;

    pending_t **buckets;
    size_t n_buckets, n_pending;
    pending_t *ready; /* early replies waiting for delivery */
    uint64_t next_seq;
    char id_prefix[16];

    struct cleanup {
        void (*fn)(void *);
        void *ud;
    } * cleanups;
    size_t n_cleanups;

    /* The IQ get/set being dispatched, to count the replies to it. */
    xmpp_stanza_t *cur_iq;
    int cur_replies;
};

/* ---- helpers -------------------------------------------------------- */

static int streq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

static char *dupstr(const char *s)
{
    return s ? strdup(s) : NULL;
}

static int is_error_type(xmpp_stanza_t *s)
{
    return streq(xmpp_stanza_get_type(s), "error");
}

/* ---- registration --------------------------------------------------- */

static int list_add(handler_list_t *l, int kinds, const char *ns, route_handler_fn fn, void *ud)
{
    if (!fn || !kinds)
        return -1;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        handler_t *v = realloc(l->v, cap * sizeof(*v));
        if (!v)
            return -1;
        l->v = v;
        l->cap = cap;
    }
    char *nsdup = NULL;
    if (ns && !(nsdup = strdup(ns)))
        return -1;
    l->v[l->n++] = (handler_t){kinds, nsdup, fn, ud};
    return 0;
}

static void list_free(handler_list_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].ns);
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

int router_add(router_t *router, int kinds, const char *ns, route_handler_fn fn, void *userdata)
{
    return list_add(&router->handlers, kinds, ns, fn, userdata);
}

int router_add_fallback(router_t *router, int kinds, const char *ns, route_handler_fn fn,
                        void *userdata)
{
    return list_add(&router->fallbacks, kinds, ns, fn, userdata);
}

int router_add_cleanup(router_t *router, void (*fn)(void *userdata), void *userdata)
{
    if (!fn)
        return -1;
    struct cleanup *c = realloc(router->cleanups, (router->n_cleanups + 1) * sizeof(*c));
    if (!c)
        return -1;
    router->cleanups = c;
    c[router->n_cleanups++] = (struct cleanup){fn, userdata};
    return 0;
}

/* ---- life cycle ----------------------------------------------------- */

static void make_id_prefix(router_t *r)
{
    /* A random prefix keeps our ids from colliding with those of an
     * earlier run whose late replies may still be in flight. */
    uint32_t rnd;
    if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t)sizeof(rnd))
        rnd = (uint32_t)time(NULL) ^ ((uint32_t)getpid() << 16) ^ (uint32_t)(uintptr_t)r;
    snprintf(r->id_prefix, sizeof(r->id_prefix), "h%08" PRIx32 "-", rnd);
}

router_t *router_new(xmpp_ctx_t *ctx, struct ev_loop *loop, router_send_fn send, void *send_ud)
{
    router_t *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->ctx = ctx;
    r->loop = loop;
    r->send = send;
    r->send_ud = send_ud;
    r->n_buckets = PENDING_BUCKETS_MIN;
    r->buckets = calloc(r->n_buckets, sizeof(*r->buckets));
    if (!r->buckets) {
        free(r);
        return NULL;
    }
    r->next_seq = 1;
    make_id_prefix(r);
    return r;
}

static void pending_free(pending_t *p)
{
    if (p->early)
        xmpp_stanza_release(p->early);
    free(p->to);
    free(p);
}

void router_free(router_t *router)
{
    if (!router)
        return;
    /* Callers rely on "exactly once": fail what is still pending. */
    router_cancel_pending(router);
    /* Anything a callback sent during the cancel is dropped silently. */
    for (size_t i = 0; i < router->n_buckets; i++) {
        pending_t *p = router->buckets[i];
        while (p) {
            pending_t *next = p->next;
            if (router->loop)
                ev_timer_stop(router->loop, &p->timer);
            pending_free(p);
            p = next;
        }
    }
    free(router->buckets);
    for (size_t i = router->n_cleanups; i-- > 0;)
        router->cleanups[i].fn(router->cleanups[i].ud);
    free(router->cleanups);
    list_free(&router->handlers);
    list_free(&router->fallbacks);
    free(router);
}

xmpp_ctx_t *router_ctx(router_t *router)
{
    return router->ctx;
}

/* ---- sending -------------------------------------------------------- */

void router_send(router_t *router, xmpp_stanza_t *stanza)
{
    if (!stanza)
        return;
    if (router->cur_iq && streq(xmpp_stanza_get_name(stanza), "iq")) {
        const char *type = xmpp_stanza_get_type(stanza);
        if ((streq(type, "result") || streq(type, "error")) &&
            streq(xmpp_stanza_get_id(stanza), xmpp_stanza_get_id(router->cur_iq))) {
            if (router->cur_replies++ > 0) {
                hlog_error(
                    SUBJ, "second reply to IQ id=%s from %s refused", xmpp_stanza_get_id(stanza),
                    xmpp_stanza_get_from(router->cur_iq) ? xmpp_stanza_get_from(router->cur_iq)
                                                         : "?");
                return;
            }
        }
    }
    if (router->send)
        router->send(stanza, router->send_ud);
}

void router_reply_error(router_t *router, xmpp_stanza_t *orig, const xerr_spec_t *spec)
{
    xmpp_stanza_t *reply = xerr_reply(router->ctx, orig, spec);
    if (!reply) {
        /* NULL is the normal answer for error/result stanzas; for anything
         * else it means we ran out of memory. */
        const char *type = xmpp_stanza_get_type(orig);
        if (!streq(type, "error") && !streq(type, "result"))
            hlog_error(SUBJ, "could not build %s error reply",
                       xerr_name(spec->cond) ? xerr_name(spec->cond) : "?");
        return;
    }
    router_send(router, reply);
    xmpp_stanza_release(reply);
}

void router_reply_cond(router_t *router, xmpp_stanza_t *orig, xerr_t cond)
{
    xerr_spec_t spec = {.cond = cond};
    router_reply_error(router, orig, &spec);
}

xmpp_stanza_t *router_iq_result(router_t *router, xmpp_stanza_t *orig)
{
    xmpp_stanza_t *iq = xmpp_iq_new(router->ctx, "result", xmpp_stanza_get_id(orig));
    if (!iq)
        return NULL;
    const char *from = xmpp_stanza_get_from(orig);
    const char *to = xmpp_stanza_get_to(orig);
    if ((from && xmpp_stanza_set_to(iq, from) != XMPP_EOK) ||
        (to && xmpp_stanza_set_from(iq, to) != XMPP_EOK)) {
        xmpp_stanza_release(iq);
        return NULL;
    }
    return iq;
}

/* ---- pending outgoing IQs ------------------------------------------- */

static pending_t **bucket_of(router_t *r, uint64_t seq)
{
    return &r->buckets[seq & (r->n_buckets - 1)];
}

static void pending_grow(router_t *r)
{
    size_t n = r->n_buckets * 2;
    pending_t **b = calloc(n, sizeof(*b));
    if (!b)
        return; /* longer chains, still correct */
    for (size_t i = 0; i < r->n_buckets; i++) {
        pending_t *p = r->buckets[i];
        while (p) {
            pending_t *next = p->next;
            pending_t **head = &b[p->seq & (n - 1)];
            p->next = *head;
            *head = p;
            p = next;
        }
    }
    free(r->buckets);
    r->buckets = b;
    r->n_buckets = n;
}

static void pending_insert(router_t *r, pending_t *p)
{
    if (r->n_pending >= r->n_buckets * 2)
        pending_grow(r);
    pending_t **head = bucket_of(r, p->seq);
    p->next = *head;
    *head = p;
    r->n_pending++;
}

static void pending_unlink(router_t *r, pending_t *p)
{
    for (pending_t **pp = bucket_of(r, p->seq); *pp; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            p->next = NULL;
            r->n_pending--;
            return;
        }
    }
}

static pending_t *pending_find(router_t *r, const char *id)
{
    size_t plen = strlen(r->id_prefix);
    if (!id || strncmp(id, r->id_prefix, plen) != 0)
        return NULL;
    const char *num = id + plen;
    if (*num < '0' || *num > '9')
        return NULL;
    char *end;
    uint64_t seq = strtoull(num, &end, 10);
    if (*end != '\0')
        return NULL;
    for (pending_t *p = *bucket_of(r, seq); p; p = p->next)
        if (p->seq == seq)
            return p;
    return NULL;
}

/* Calls the callback once and frees the entry; `p` is already unlinked. */
static void pending_complete(router_t *r, pending_t *p, xmpp_stanza_t *reply)
{
    if (r->loop)
        ev_timer_stop(r->loop, &p->timer);
    if (p->cb)
        p->cb(r, reply, p->ud);
    pending_free(p);
}

static void ready_remove(router_t *r, pending_t *p)
{
    for (pending_t **pp = &r->ready; *pp; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            p->next = NULL;
            return;
        }
    }
}

static void pending_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    pending_t *p = container_of(w, pending_t, timer);
    router_t *r = p->router;
    xmpp_stanza_t *early = p->early;
    p->early = NULL;
    if (early) {
        ready_remove(r, p);
    } else {
        pending_unlink(r, p);
        hlog_debug(SUBJ, "IQ %s%" PRIu64 " to %s timed out", r->id_prefix, p->seq,
                   p->to ? p->to : "(server)");
    }
    pending_complete(r, p, early);
    if (early)
        xmpp_stanza_release(early);
}

/* Delivers replies that arrived during a send: from the loop's zero timer,
 * or (no loop) at the next dispatch or cancel. */
static void flush_ready(router_t *r)
{
    while (r->ready) {
        pending_t *p = r->ready;
        r->ready = p->next;
        xmpp_stanza_t *early = p->early;
        p->early = NULL;
        pending_complete(r, p, early);
        xmpp_stanza_release(early);
    }
}

int router_send_iq(router_t *router, xmpp_stanza_t *iq, unsigned timeout_ms, router_iq_cb cb,
                   void *userdata)
{
    if (!iq || !streq(xmpp_stanza_get_name(iq), "iq"))
        return -1;
    pending_t *p = calloc(1, sizeof(*p));
    if (!p)
        return -1;
    p->router = router;
    p->seq = router->next_seq++;
    p->cb = cb;
    p->ud = userdata;
    const char *to = xmpp_stanza_get_to(iq);
    char id[48];
    snprintf(id, sizeof(id), "%s%" PRIu64, router->id_prefix, p->seq);
    if ((to && !(p->to = dupstr(to))) || xmpp_stanza_set_id(iq, id) != XMPP_EOK) {
        pending_free(p);
        return -1;
    }
    ev_timer_init(&p->timer, pending_timeout_cb, timeout_ms / 1000.0, 0.);
    pending_insert(router, p);

    p->sending = 1;
    router_send(router, iq);
    p->sending = 0;

    if (p->early) {
        /* The reply came back synchronously (a loopback send): deliver it
         * later, so the caller never sees its callback run before this
         * function has returned. The entry has left the table for the
         * ready list, where router_cancel_pending still finds it. */
        p->next = router->ready;
        router->ready = p;
        if (router->loop) {
            ev_timer_set(&p->timer, 0., 0.);
            ev_timer_start(router->loop, &p->timer);
        }
    } else if (router->loop && timeout_ms > 0) {
        ev_timer_start(router->loop, &p->timer);
    }
    return 0;
}

void router_cancel_pending(router_t *router)
{
    flush_ready(router);
    /* Detach everything first: callbacks may send new IQs, which stay
     * pending instead of being cancelled in the same sweep. */
    pending_t *all = NULL;
    for (size_t i = 0; i < router->n_buckets; i++) {
        pending_t *p = router->buckets[i];
        while (p) {
            pending_t *next = p->next;
            p->next = all;
            all = p;
            p = next;
        }
        router->buckets[i] = NULL;
    }
    router->n_pending = 0;
    while (all) {
        pending_t *p = all;
        all = p->next;
        pending_complete(router, p, NULL);
    }
}

static void handle_iq_reply(router_t *r, xmpp_stanza_t *stanza)
{
    const char *id = xmpp_stanza_get_id(stanza);
    pending_t *p = pending_find(r, id);
    if (!p) {
        hlog_debug(SUBJ, "unmatched IQ %s id=%s from %s dropped", xmpp_stanza_get_type(stanza), id,
                   xmpp_stanza_get_from(stanza) ? xmpp_stanza_get_from(stanza) : "?");
        return;
    }
    /* Only the entity we asked may answer (RFC 6120 §8.1.3 ids are not
     * secrets); with no `to` the server itself was asked. */
    if (p->to && !jid_equal(p->to, xmpp_stanza_get_from(stanza))) {
        hlog_debug(SUBJ, "IQ reply id=%s from %s, expected from %s: dropped", id,
                   xmpp_stanza_get_from(stanza) ? xmpp_stanza_get_from(stanza) : "?", p->to);
        return;
    }
    pending_unlink(r, p);
    if (p->sending) {
        p->early = xmpp_stanza_clone(stanza);
        return;
    }
    pending_complete(r, p, stanza);
}

/* ---- dispatch ------------------------------------------------------- */

static int has_child_ns(xmpp_stanza_t *s, const char *ns)
{
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(s); c; c = xmpp_stanza_get_next(c))
        if (xmpp_stanza_is_tag(c) && streq(xmpp_stanza_get_ns(c), ns))
            return 1;
    return 0;
}

/* Runs the handlers of `l`, newest first. `iq_child` is the IQ's payload,
 * or NULL for messages and presence (matched on any child). */
static int run_list(router_t *r, handler_list_t *l, int kind, xmpp_stanza_t *stanza,
                    xmpp_stanza_t *iq_child)
{
    /* Indexes stay valid if a handler registers another one (appended),
     * and the entry is copied because the array may move. */
    for (size_t i = l->n; i-- > 0;) {
        handler_t h = l->v[i];
        if (!(h.kinds & kind))
            continue;
        if (h.ns) {
            if (iq_child ? !streq(xmpp_stanza_get_ns(iq_child), h.ns) : !has_child_ns(stanza, h.ns))
                continue;
        }
        int rc = h.fn(r, stanza, h.ud);
        if (rc != ROUTE_PASS)
            return rc;
    }
    return ROUTE_PASS;
}

static int run_handlers(router_t *r, int kind, xmpp_stanza_t *stanza, xmpp_stanza_t *iq_child)
{
    int rc = run_list(r, &r->handlers, kind, stanza, iq_child);
    if (rc == ROUTE_PASS)
        rc = run_list(r, &r->fallbacks, kind, stanza, iq_child);
    return rc;
}

/* Applies a handler's return code; `unhandled` is the condition for
 * "nobody took it" (XERR_NONE: drop silently). */
static void apply_rc(router_t *r, xmpp_stanza_t *stanza, int rc, xerr_t unhandled)
{
    if (rc == ROUTE_DONE)
        return;
    xerr_t cond;
    if (rc == ROUTE_PASS) {
        cond = unhandled;
    } else if (rc > 0 && rc < XERR_COUNT_) {
        cond = (xerr_t)rc;
    } else {
        hlog_error(SUBJ, "handler returned invalid code %d for <%s/>", rc,
                   xmpp_stanza_get_name(stanza));
        cond = XERR_INTERNAL_SERVER_ERROR;
    }
    if (cond != XERR_NONE)
        router_reply_cond(r, stanza, cond);
}

static void dispatch_iq(router_t *r, xmpp_stanza_t *stanza)
{
    const char *id = xmpp_stanza_get_id(stanza);
    const char *type = xmpp_stanza_get_type(stanza);
    const char *from = xmpp_stanza_get_from(stanza);

    if (!id || !*id) {
        /* No id, no way to address a reply (RFC 6120 §8.2.3). */
        if (!streq(type, "error") && !streq(type, "result"))
            hlog_info(SUBJ, "IQ without id from %s dropped", from ? from : "?");
        return;
    }
    if (streq(type, "result") || streq(type, "error")) {
        handle_iq_reply(r, stanza);
        return;
    }
    int kind;
    if (streq(type, "get"))
        kind = ROUTE_IQ_GET;
    else if (streq(type, "set"))
        kind = ROUTE_IQ_SET;
    else {
        router_reply_cond(r, stanza, XERR_BAD_REQUEST);
        return;
    }
    /* RFC 6120 §8.2.3: a get or set carries exactly one payload. */
    xmpp_stanza_t *child = NULL;
    int n = 0;
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(stanza); c; c = xmpp_stanza_get_next(c))
        if (xmpp_stanza_is_tag(c) && n++ == 0)
            child = c;
    if (n != 1) {
        router_reply_cond(r, stanza, XERR_BAD_REQUEST);
        return;
    }

    xmpp_stanza_t *saved_iq = r->cur_iq;
    int saved_replies = r->cur_replies;
    r->cur_iq = stanza;
    r->cur_replies = 0;
    int rc = run_handlers(r, kind, stanza, child);
    if (rc != ROUTE_DONE && r->cur_replies > 0) {
        /* The handler replied and still returned an error: the reply it
         * sent stands, ours would be a second one. */
        hlog_error(SUBJ, "handler replied to IQ id=%s and returned %d", id, rc);
        rc = ROUTE_DONE;
    }
    apply_rc(r, stanza, rc, XERR_SERVICE_UNAVAILABLE);
    r->cur_iq = saved_iq;
    r->cur_replies = saved_replies;
}

void router_dispatch(router_t *router, xmpp_stanza_t *stanza)
{
    if (!stanza)
        return;
    if (router->ready)
        flush_ready(router);
    const char *name = xmpp_stanza_get_name(stanza);
    if (streq(name, "iq")) {
        dispatch_iq(router, stanza);
        return;
    }
    int kind;
    if (streq(name, "message"))
        kind = ROUTE_MESSAGE;
    else if (streq(name, "presence"))
        kind = ROUTE_PRESENCE;
    else {
        hlog_debug(SUBJ, "ignoring <%s/>", name ? name : "?");
        return;
    }
    int rc = run_handlers(router, kind, stanza, NULL);
    /* Errors are handed to modules (a bounce may matter to them) but are
     * never answered; an unhandled message or presence is dropped, as
     * nothing obliges a reply to either. */
    if (is_error_type(stanza))
        return;
    if (rc == ROUTE_PASS)
        hlog_debug(SUBJ, "unhandled <%s/> from %s dropped", name,
                   xmpp_stanza_get_from(stanza) ? xmpp_stanza_get_from(stanza) : "?");
    apply_rc(router, stanza, rc, XERR_NONE);
}
