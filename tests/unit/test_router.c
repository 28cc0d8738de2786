/* Router dispatch rules, error replies and outgoing IQ tracking, driven
 * with stanza fixtures and a capturing send function. */
#include <ev.h>

#include "component/log.h"
#include "component/ns.h"
#include "component/router.h"
#include "tests/unit/unit.h"
#include "tests/unit/stanza_capture.h"

#define DOMAIN "pubsub.example.org"
#define NS_A "urn:test:a"
#define NS_B "urn:test:b"

static xmpp_ctx_t *ctx;
static capture_t cap;

/* A handler's record of what it saw, and what it returns. */
typedef struct {
    int calls;
    int ret;
    int order; /* global call sequence number of the last call */
    char to[256];
    int reply;             /* send a result before returning */
    int reply_twice;       /* send two results */
    router_t *add_on_call; /* registers another handler while running */
} probe_t;

static int seq;

static int probe_fn(router_t *r, xmpp_stanza_t *s, void *ud)
{
    probe_t *p = ud;
    p->calls++;
    p->order = ++seq;
    const char *to = t_to(s);
    snprintf(p->to, sizeof(p->to), "%s", to ? to : "");
    for (int i = 0; i < p->reply + p->reply_twice * 2; i++) {
        xmpp_stanza_t *res = router_iq_result(r, s);
        router_send(r, res);
        xmpp_stanza_release(res);
    }
    if (p->add_on_call) {
        static probe_t late;
        router_add(p->add_on_call, ROUTE_IQ_GET, NS_A, probe_fn, &late);
        p->add_on_call = NULL;
    }
    return p->ret;
}

static router_t *new_router(void)
{
    capture_clear(&cap);
    return router_new(ctx, NULL, capture_send, &cap);
}

static void dispatch(router_t *r, const char *xml)
{
    xmpp_stanza_t *s = fixture(ctx, xml);
    router_dispatch(r, s);
    xmpp_stanza_release(s);
}

static void test_dispatch_by_kind_and_ns(void)
{
    router_t *r = new_router();
    probe_t get_a = {0}, set_a = {0}, msg = {0}, pres_b = {0}, get_b = {0};
    router_add(r, ROUTE_IQ_GET, NS_A, probe_fn, &get_a);
    router_add(r, ROUTE_IQ_SET, NS_A, probe_fn, &set_a);
    router_add(r, ROUTE_IQ_GET, NS_B, probe_fn, &get_b);
    router_add(r, ROUTE_MESSAGE, NULL, probe_fn, &msg);
    router_add(r, ROUTE_PRESENCE, NS_B, probe_fn, &pres_b);

    dispatch(r, "<iq type='get' id='1' from='u@h/r' to='" DOMAIN "'>"
                "<q xmlns='" NS_A "'/></iq>");
    CHECK(get_a.calls == 1 && set_a.calls == 0 && get_b.calls == 0);
    dispatch(r, "<iq type='set' id='2' from='u@h/r' to='" DOMAIN "'>"
                "<q xmlns='" NS_A "'/></iq>");
    CHECK(get_a.calls == 1 && set_a.calls == 1);
    dispatch(r, "<iq type='get' id='3' from='u@h/r' to='" DOMAIN "'>"
                "<q xmlns='" NS_B "'/></iq>");
    CHECK(get_b.calls == 1 && get_a.calls == 1);
    dispatch(r, "<message from='u@h/r' to='" DOMAIN "'><body>hi</body></message>");
    CHECK(msg.calls == 1);
    /* presence handler keyed on a namespace: any child element matches */
    dispatch(r, "<presence from='u@h/r' to='" DOMAIN "'><show>away</show>"
                "<c xmlns='" NS_B "'/></presence>");
    CHECK(pres_b.calls == 1);
    dispatch(r, "<presence from='u@h/r' to='" DOMAIN "'/>");
    CHECK(pres_b.calls == 1);
    /* handlers returning DONE replied themselves (here: not at all) */
    CHECK(cap.n == 0);
    router_free(r);
}

static void test_lifo_and_pass_chain(void)
{
    router_t *r = new_router();
    probe_t first = {.ret = ROUTE_DONE}, second = {.ret = ROUTE_PASS}, wild = {.ret = ROUTE_PASS};
    router_add(r, ROUTE_IQ, NULL, probe_fn, &wild);
    router_add(r, ROUTE_IQ_GET, NS_A, probe_fn, &first);
    router_add(r, ROUTE_IQ_GET, NS_A, probe_fn, &second);

    dispatch(r, "<iq type='get' id='1' from='u@h/r' to='" DOMAIN "'>"
                "<q xmlns='" NS_A "'/></iq>");
    /* newest (second) first, it passes, then first takes it */
    CHECK(second.calls == 1 && first.calls == 1);
    CHECK(second.order < first.order);
    CHECK(wild.calls == 0);
    CHECK(cap.n == 0);

    /* everything passes → service-unavailable, after the wildcard */
    first.ret = ROUTE_PASS;
    dispatch(r, "<iq type='get' id='2' from='u@h/r' to='" DOMAIN "'>"
                "<q xmlns='" NS_A "'/></iq>");
    CHECK(wild.calls == 1 && wild.order > first.order);
    CHECK(cap.n == 1);
    CHECK_STR(error_condition(capture_last(&cap)), "service-unavailable");

    /* a later handler takes over: the earlier one is not called */
    probe_t over = {.ret = ROUTE_DONE};
    router_add(r, ROUTE_IQ_GET, NS_A, probe_fn, &over);
    int before = second.calls;
    dispatch(r, "<iq type='get' id='3' from='u@h/r' to='" DOMAIN "'>"
                "<q xmlns='" NS_A "'/></iq>");
    CHECK(over.calls == 1 && second.calls == before);
    router_free(r);
}

static void test_fallback_after_all(void)
{
    router_t *r = new_router();
    probe_t fb = {.ret = XERR_ITEM_NOT_FOUND}, mod = {.ret = ROUTE_PASS};
    router_add_fallback(r, ROUTE_IQ_GET, NS_A, probe_fn, &fb);
    router_add(r, ROUTE_IQ_GET, NS_A, probe_fn, &mod); /* registered later */
    probe_t early = {.ret = ROUTE_PASS};
    router_add(r, ROUTE_IQ_GET, NULL, probe_fn, &early);
    dispatch(r, "<iq type='get' id='1' from='u@h/r' to='" DOMAIN "'>"
                "<q xmlns='" NS_A "'/></iq>");
    CHECK(mod.calls == 1 && early.calls == 1 && fb.calls == 1);
    CHECK(fb.order > mod.order && fb.order > early.order);
    CHECK(cap.n == 1);
    CHECK_STR(error_condition(capture_last(&cap)), "item-not-found");
    mod.ret = ROUTE_DONE;
    dispatch(r, "<iq type='get' id='2' from='u@h/r' to='" DOMAIN "'>"
                "<q xmlns='" NS_A "'/></iq>");
    CHECK(fb.calls == 1);
    router_free(r);
}

static void test_unhandled_service_unavailable(void)
{
    router_t *r = new_router();
    dispatch(r, "<iq type='get' id='u1' from='u@h/r' to='" DOMAIN "'>"
                "<query xmlns='urn:unknown'><x a='1'/></query></iq>");
    CHECK(cap.n == 1);
    xmpp_stanza_t *rep = capture_last(&cap);
    CHECK_STR(t_name(rep), "iq");
    CHECK_STR(t_type(rep), "error");
    CHECK_STR(t_id(rep), "u1");
    CHECK_STR(t_to(rep), "u@h/r");
    CHECK_STR(t_from(rep), DOMAIN);
    CHECK_STR(error_condition(rep), "service-unavailable");
    CHECK_STR(error_type(rep), "cancel");
    CHECK(t_child_ns(rep, "query", "urn:unknown") != NULL);

    /* unhandled set too */
    dispatch(r, "<iq type='set' id='u2' from='u@h/r' to='" DOMAIN "'>"
                "<query xmlns='urn:unknown'/></iq>");
    CHECK(cap.n == 2);
    CHECK_STR(error_condition(capture_last(&cap)), "service-unavailable");

    /* unhandled message / presence: no reply */
    dispatch(r, "<message from='u@h/r' to='" DOMAIN "'><body>x</body></message>");
    dispatch(r, "<presence from='u@h/r' to='" DOMAIN "'/>");
    CHECK(cap.n == 2);
    router_free(r);
}

static void test_bad_iqs(void)
{
    router_t *r = new_router();
    probe_t any = {.ret = ROUTE_DONE};
    router_add(r, ROUTE_IQ, NULL, probe_fn, &any);
    static const char *const bad[] = {
        /* no type */
        "<iq id='b1' from='u@h/r' to='" DOMAIN "'><q xmlns='" NS_A "'/></iq>",
        /* unknown type */
        "<iq type='fetch' id='b2' from='u@h/r' to='" DOMAIN "'><q xmlns='" NS_A "'/></iq>",
        /* no child */
        "<iq type='get' id='b3' from='u@h/r' to='" DOMAIN "'/>",
        /* only text */
        "<iq type='get' id='b4' from='u@h/r' to='" DOMAIN "'>text</iq>",
        /* two children */
        "<iq type='set' id='b5' from='u@h/r' to='" DOMAIN "'><q xmlns='" NS_A "'/><q xmlns='" NS_B
        "'/></iq>",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        capture_clear(&cap);
        dispatch(r, bad[i]);
        CHECK(cap.n == 1);
        CHECK_STR(error_condition(capture_last(&cap)), "bad-request");
        CHECK_STR(error_type(capture_last(&cap)), "modify");
        char id[8];
        snprintf(id, sizeof(id), "b%zu", i + 1);
        CHECK_STR(t_id(capture_last(&cap)), id);
    }
    CHECK(any.calls == 0);

    /* whitespace around the one child is fine */
    capture_clear(&cap);
    dispatch(r, "<iq type='get' id='ok' from='u@h/r' to='" DOMAIN "'>\n "
                "<q xmlns='" NS_A "'/>\n</iq>");
    CHECK(any.calls == 1 && cap.n == 0);

    /* no id: cannot be answered, dropped */
    capture_clear(&cap);
    dispatch(r, "<iq type='get' from='u@h/r' to='" DOMAIN "'><q xmlns='" NS_A "'/></iq>");
    dispatch(r, "<iq type='get' id='' from='u@h/r' to='" DOMAIN "'><q xmlns='" NS_A "'/></iq>");
    dispatch(r, "<iq from='u@h/r' to='" DOMAIN "'/>");
    CHECK(cap.n == 0);
    CHECK(any.calls == 1);
    router_free(r);
}

static void test_error_stanzas_never_answered(void)
{
    router_t *r = new_router();
    probe_t msg = {.ret = XERR_BAD_REQUEST}, pres = {.ret = XERR_FORBIDDEN},
            iq = {.ret = XERR_BAD_REQUEST};
    router_add(r, ROUTE_MESSAGE, NULL, probe_fn, &msg);
    router_add(r, ROUTE_PRESENCE, NULL, probe_fn, &pres);
    router_add(r, ROUTE_IQ, NULL, probe_fn, &iq);

    dispatch(r, "<message type='error' from='u@h/r' to='" DOMAIN "'>"
                "<error type='cancel'><service-unavailable xmlns='" NS_STANZAS
                "'/></error></message>");
    CHECK(msg.calls == 1); /* modules see bounces */
    dispatch(r, "<presence type='error' from='u@h/r' to='" DOMAIN "'>"
                "<error type='cancel'><remote-server-not-found xmlns='" NS_STANZAS
                "'/></error></presence>");
    CHECK(pres.calls == 1);
    dispatch(r, "<iq type='error' id='e1' from='u@h/r' to='" DOMAIN "'>"
                "<error type='cancel'><service-unavailable xmlns='" NS_STANZAS "'/></error></iq>");
    dispatch(r, "<iq type='result' id='e2' from='u@h/r' to='" DOMAIN "'/>");
    CHECK(iq.calls == 0); /* results/errors go to pending IQs only */
    CHECK(cap.n == 0);

    /* a non-error message refused by a handler does get the error */
    dispatch(r, "<message id='m1' from='u@h/r' to='" DOMAIN "'><body>x</body>"
                "</message>");
    CHECK(cap.n == 1);
    CHECK_STR(t_name(capture_last(&cap)), "message");
    CHECK_STR(error_condition(capture_last(&cap)), "bad-request");
    router_free(r);
}

static void test_handler_error_codes(void)
{
    router_t *r = new_router();
    probe_t h = {.ret = XERR_ITEM_NOT_FOUND};
    router_add(r, ROUTE_IQ_GET, NS_A, probe_fn, &h);
    dispatch(r, "<iq type='get' id='h1' from='u@h/r' to='" DOMAIN "'>"
                "<q xmlns='" NS_A "' node='n'/></iq>");
    CHECK(cap.n == 1);
    CHECK_STR(error_condition(capture_last(&cap)), "item-not-found");
    CHECK_STR(error_type(capture_last(&cap)), "cancel");
    xmpp_stanza_t *q = t_child_ns(capture_last(&cap), "q", NS_A);
    CHECK(q && t_attr(q, "node") && strcmp(t_attr(q, "node"), "n") == 0);

    /* out-of-range code → internal-server-error, still one reply */
    h.ret = 9999;
    dispatch(r, "<iq type='get' id='h2' from='u@h/r' to='" DOMAIN "'>"
                "<q xmlns='" NS_A "'/></iq>");
    CHECK(cap.n == 2);
    CHECK_STR(error_condition(capture_last(&cap)), "internal-server-error");
    h.ret = -7;
    dispatch(r, "<iq type='get' id='h3' from='u@h/r' to='" DOMAIN "'>"
                "<q xmlns='" NS_A "'/></iq>");
    CHECK(cap.n == 3);
    CHECK_STR(error_condition(capture_last(&cap)), "internal-server-error");
    router_free(r);
}

/* Whatever the handler does, an IQ get/set with an id gets one reply. */
static void test_exactly_one_reply(void)
{
    /* The refused second replies below log errors on purpose. */
    struct {
        int ret, reply, twice;
    } cases[] = {
        {ROUTE_DONE, 1, 0}, {ROUTE_PASS, 0, 0}, {XERR_CONFLICT, 0, 0},    {XERR_CONFLICT, 1, 0},
        {ROUTE_DONE, 0, 1}, {ROUTE_PASS, 1, 0}, {XERR_NOT_ALLOWED, 0, 1}, {12345, 1, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        router_t *r = new_router();
        probe_t h = {.ret = cases[i].ret, .reply = cases[i].reply, .reply_twice = cases[i].twice};
        router_add(r, ROUTE_IQ_GET, NS_A, probe_fn, &h);
        dispatch(r, "<iq type='get' id='x' from='u@h/r' to='" DOMAIN "'>"
                    "<q xmlns='" NS_A "'/></iq>");
        CHECK(cap.n == 1);
        if (cap.n != 1)
            fprintf(stderr, "  case %zu sent %d replies\n", i, cap.n);
        if (cases[i].reply || cases[i].twice)
            CHECK_STR(t_type(capture_last(&cap)), "result");
        router_free(r);
    }

    /* handlers registered while dispatching do not disturb the walk */
    router_t *r = new_router();
    probe_t adder = {.ret = ROUTE_PASS};
    router_add(r, ROUTE_IQ_GET, NS_A, probe_fn, &adder);
    adder.add_on_call = r;
    dispatch(r, "<iq type='get' id='y' from='u@h/r' to='" DOMAIN "'>"
                "<q xmlns='" NS_A "'/></iq>");
    CHECK(adder.calls == 1 && cap.n == 1);
    router_free(r);
}

static void test_to_kept_intact(void)
{
    router_t *r = new_router();
    probe_t h = {.ret = ROUTE_PASS};
    router_add(r, ROUTE_IQ_GET, NS_A, probe_fn, &h);
    dispatch(r, "<iq type='get' id='t1' from='u@h/r' to='x@" DOMAIN "'>"
                "<q xmlns='" NS_A "'/></iq>");
    CHECK_STR(h.to, "x@" DOMAIN);
    CHECK_STR(t_from(capture_last(&cap)), "x@" DOMAIN);
    dispatch(r, "<iq type='get' id='t2' from='u@h/r' to='" DOMAIN "/res'>"
                "<q xmlns='" NS_A "'/></iq>");
    CHECK_STR(h.to, DOMAIN "/res");
    CHECK_STR(t_from(capture_last(&cap)), DOMAIN "/res");
    dispatch(r, "<iq type='get' id='t3' from='u@h/r' to='Node@" DOMAIN "/R'>"
                "<q xmlns='" NS_A "'/></iq>");
    CHECK_STR(h.to, "Node@" DOMAIN "/R");
    CHECK(h.calls == 3 && cap.n == 3);
    router_free(r);
}

/* ---- outgoing IQs ---------------------------------------------------- */

typedef struct {
    int calls;
    int got_null;
    char type[16];
    int during_send; /* set by the loopback while inside send */
} iqcb_t;

static void iq_cb(router_t *r, xmpp_stanza_t *reply, void *ud)
{
    (void)r;
    iqcb_t *c = ud;
    c->calls++;
    if (!reply)
        c->got_null++;
    else
        snprintf(c->type, sizeof(c->type), "%s", t_type(reply));
}

static xmpp_stanza_t *new_get(const char *to)
{
    xmpp_stanza_t *iq = fixture(ctx, "<iq type='get'><ping xmlns='urn:xmpp:ping'/></iq>");
    if (to)
        xmpp_stanza_set_to(iq, to);
    xmpp_stanza_set_from(iq, DOMAIN);
    return iq;
}

static void reply_to(router_t *r, xmpp_stanza_t *req, const char *type, const char *from)
{
    xmpp_stanza_t *rep = xmpp_iq_new(ctx, type, t_id(req));
    if (from)
        xmpp_stanza_set_from(rep, from);
    xmpp_stanza_set_to(rep, DOMAIN);
    router_dispatch(r, rep);
    xmpp_stanza_release(rep);
}

static void test_send_iq_matching(void)
{
    router_t *r = new_router();
    iqcb_t a = {0}, b = {0}, c = {0};
    xmpp_stanza_t *qa = new_get("alice@example.org/phone");
    xmpp_stanza_t *qb = new_get("example.org");
    xmpp_stanza_t *qc = new_get("carol@example.org");
    CHECK(router_send_iq(r, qa, 5000, iq_cb, &a) == 0);
    CHECK(router_send_iq(r, qb, 5000, iq_cb, &b) == 0);
    CHECK(router_send_iq(r, qc, 5000, iq_cb, &c) == 0);
    CHECK(cap.n == 3);
    const char *ida = t_id(qa), *idb = t_id(qb);
    CHECK(ida && idb && strcmp(ida, idb) != 0);
    CHECK_STR(t_id(cap.sent[0]), ida);
    CHECK(a.calls == 0 && b.calls == 0);

    /* a reply from someone else with the right id does not complete it */
    reply_to(r, qa, "result", "mallory@example.org/x");
    CHECK(a.calls == 0);
    /* the right one does; JIDs compare normalized */
    reply_to(r, qa, "result", "ALICE@Example.org/phone");
    CHECK(a.calls == 1 && a.got_null == 0);
    CHECK_STR(a.type, "result");
    /* a duplicate reply is dropped: callback exactly once */
    reply_to(r, qa, "result", "alice@example.org/phone");
    CHECK(a.calls == 1);
    /* errors complete too */
    reply_to(r, qb, "error", "example.org");
    CHECK(b.calls == 1);
    CHECK_STR(b.type, "error");
    /* unknown ids are dropped silently, nothing sent back */
    int sent = cap.n;
    xmpp_stanza_t *stray = fixture(ctx, "<iq type='result' id='nope' from='x@y'/>");
    router_dispatch(r, stray);
    xmpp_stanza_release(stray);
    CHECK(cap.n == sent);

    /* cancel: the remaining one fails once with NULL */
    router_cancel_pending(r);
    CHECK(c.calls == 1 && c.got_null == 1);
    reply_to(r, qc, "result", "carol@example.org");
    CHECK(c.calls == 1);
    router_cancel_pending(r);
    CHECK(c.calls == 1);

    /* router_free fails what is still pending */
    iqcb_t d = {0};
    xmpp_stanza_t *qd = new_get("dave@example.org");
    router_send_iq(r, qd, 0, iq_cb, &d);
    router_free(r);
    CHECK(d.calls == 1 && d.got_null == 1);

    /* not an iq */
    r = new_router();
    xmpp_stanza_t *m = fixture(ctx, "<message to='x@y'/>");
    CHECK(router_send_iq(r, m, 100, iq_cb, &d) == -1);
    xmpp_stanza_release(m);
    router_free(r);

    xmpp_stanza_release(qa);
    xmpp_stanza_release(qb);
    xmpp_stanza_release(qc);
    xmpp_stanza_release(qd);
}

/* A send function that answers synchronously, as a loopback would. */
typedef struct {
    router_t *r;
    iqcb_t *cb;
    int calls_seen_in_send;
} loopback_t;

static loopback_t lb;

static void loopback_send(xmpp_stanza_t *s, void *ud)
{
    (void)ud;
    capture_send(s, &cap);
    const char *type = t_type(s);
    if (!type || strcmp(type, "get") != 0)
        return;
    xmpp_stanza_t *rep = xmpp_iq_new(ctx, "result", t_id(s));
    xmpp_stanza_set_from(rep, t_to(s));
    router_dispatch(lb.r, rep);
    xmpp_stanza_release(rep);
    lb.calls_seen_in_send = lb.cb->calls;
}

static void test_send_iq_never_completes_early(void)
{
    /* without a loop: delivered at the next dispatch */
    capture_clear(&cap);
    iqcb_t a = {0};
    lb = (loopback_t){.cb = &a};
    lb.r = router_new(ctx, NULL, loopback_send, NULL);
    xmpp_stanza_t *q = new_get("alice@example.org");
    CHECK(router_send_iq(lb.r, q, 1000, iq_cb, &a) == 0);
    CHECK(a.calls == 0 && lb.calls_seen_in_send == 0);
    dispatch(lb.r, "<presence from='u@h/r' to='" DOMAIN "'/>");
    CHECK(a.calls == 1 && a.got_null == 0);
    CHECK_STR(a.type, "result");
    router_free(lb.r);
    CHECK(a.calls == 1);
    xmpp_stanza_release(q);

    /* with a loop: delivered by the loop, not by router_send_iq */
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    iqcb_t b = {0};
    lb = (loopback_t){.cb = &b};
    lb.r = router_new(ctx, loop, loopback_send, NULL);
    q = new_get("bob@example.org");
    CHECK(router_send_iq(lb.r, q, 1000, iq_cb, &b) == 0);
    CHECK(b.calls == 0);
    ev_run(loop, EVRUN_NOWAIT);
    CHECK(b.calls == 1 && b.got_null == 0);
    ev_run(loop, EVRUN_NOWAIT);
    CHECK(b.calls == 1);

    /* cancelled before the loop turn: still exactly once */
    iqcb_t c = {0};
    lb.cb = &c;
    xmpp_stanza_t *q2 = new_get("carol@example.org");
    router_send_iq(lb.r, q2, 1000, iq_cb, &c);
    router_cancel_pending(lb.r);
    CHECK(c.calls == 1);
    ev_run(loop, EVRUN_NOWAIT);
    CHECK(c.calls == 1);
    router_free(lb.r);
    ev_loop_destroy(loop);
    xmpp_stanza_release(q);
    xmpp_stanza_release(q2);
    capture_clear(&cap);
}

static void test_send_iq_timeout(void)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    capture_clear(&cap);
    router_t *r = router_new(ctx, loop, capture_send, &cap);
    iqcb_t a = {0}, b = {0};
    xmpp_stanza_t *qa = new_get("alice@example.org");
    xmpp_stanza_t *qb = new_get("bob@example.org");
    router_send_iq(r, qa, 30, iq_cb, &a);
    router_send_iq(r, qb, 5000, iq_cb, &b);
    ev_tstamp t0 = ev_time();
    while (a.calls == 0 && ev_time() - t0 < 2.0)
        ev_run(loop, EVRUN_ONCE);
    CHECK(a.calls == 1 && a.got_null == 1);
    CHECK(ev_time() - t0 >= 0.025);
    /* a late reply after the timeout is dropped */
    reply_to(r, qa, "result", "alice@example.org");
    CHECK(a.calls == 1);
    /* the other one is answered before its timeout: its timer stops */
    reply_to(r, qb, "result", "bob@example.org");
    CHECK(b.calls == 1 && b.got_null == 0);
    CHECK(ev_run(loop, EVRUN_NOWAIT) == 0); /* no active watchers left */
    router_free(r);
    CHECK(a.calls == 1 && b.calls == 1);
    ev_loop_destroy(loop);
    xmpp_stanza_release(qa);
    xmpp_stanza_release(qb);
}

/* Many pending IQs: ids unique, each matched once (exercises rehashing). */
static void test_send_iq_many(void)
{
    router_t *r = new_router();
    enum { N = 1000 };
    static iqcb_t cbs[N];
    static char ids[N][48];
    memset(cbs, 0, sizeof(cbs));
    for (int i = 0; i < N; i++) {
        xmpp_stanza_t *q = new_get("alice@example.org");
        router_send_iq(r, q, 0, iq_cb, &cbs[i]);
        snprintf(ids[i], sizeof(ids[i]), "%s", t_id(q));
        xmpp_stanza_release(q);
    }
    capture_clear(&cap);
    int dup = 0;
    for (int i = 1; i < N; i++)
        dup += strcmp(ids[i], ids[i - 1]) == 0;
    CHECK(dup == 0);
    for (int i = N - 1; i >= 0; i -= 2) {
        xmpp_stanza_t *rep = xmpp_iq_new(ctx, "result", ids[i]);
        xmpp_stanza_set_from(rep, "alice@example.org");
        router_dispatch(r, rep);
        xmpp_stanza_release(rep);
    }
    int ok = 1;
    for (int i = 0; i < N; i++)
        ok &= cbs[i].calls == (i % 2 == 1 ? 1 : 0);
    CHECK(ok);
    router_cancel_pending(r);
    ok = 1;
    for (int i = 0; i < N; i++)
        ok &= cbs[i].calls == 1 && cbs[i].got_null == (i % 2 == 0);
    CHECK(ok);
    CHECK(cap.n == 0);
    router_free(r);
}

static int cleanup_calls;
static void count_cleanup(void *ud)
{
    cleanup_calls += *(int *)ud;
}

static void test_cleanup_hook(void)
{
    router_t *r = new_router();
    static int one = 1, ten = 10;
    router_add_cleanup(r, count_cleanup, &one);
    router_add_cleanup(r, count_cleanup, &ten);
    CHECK(cleanup_calls == 0);
    router_free(r);
    CHECK(cleanup_calls == 11);
}

int main(void)
{
    hlog_set_level(HLOG_WARN);
    ctx = xmpp_ctx_new(NULL, NULL);
    cap.ctx = ctx;
    UNIT_RUN(test_dispatch_by_kind_and_ns);
    UNIT_RUN(test_lifo_and_pass_chain);
    UNIT_RUN(test_fallback_after_all);
    UNIT_RUN(test_unhandled_service_unavailable);
    UNIT_RUN(test_bad_iqs);
    UNIT_RUN(test_error_stanzas_never_answered);
    UNIT_RUN(test_handler_error_codes);
    UNIT_RUN(test_exactly_one_reply);
    UNIT_RUN(test_to_kept_intact);
    UNIT_RUN(test_send_iq_matching);
    UNIT_RUN(test_send_iq_never_completes_early);
    UNIT_RUN(test_send_iq_timeout);
    UNIT_RUN(test_send_iq_many);
    UNIT_RUN(test_cleanup_hook);
    capture_clear(&cap);
    xmpp_ctx_free(ctx);
    return UNIT_DONE();
}
