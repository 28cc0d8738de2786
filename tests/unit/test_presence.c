/* Presence through a real router and disco registry: stanza fixtures in,
 * captured stanzas out. */
#include <stdlib.h>
#include <string.h>
#include <strophe.h>

#include "component/disco.h"
#include "component/ns.h"
#include "component/presence.h"
#include "component/router.h"
#include "tests/unit/unit.h"

#define DOMAIN "pubsub.example.org"
#define EXODUS_VER "QgayPKawpkPSDYmwT/WM94uAlu0="
#define EXODUS_NODE "http://code.google.com/p/exodus"

#define MAX_CAPTURED 64

typedef struct {
    xmpp_stanza_t *v[MAX_CAPTURED];
    int n;
} captured_t;

static xmpp_ctx_t *ctx;
static router_t *router;
static disco_t *disco;
static presence_t *pres;
static captured_t captured;

static void capture_send(xmpp_stanza_t *stanza, void *ud)
{
    captured_t *c = ud;
    if (c->n < MAX_CAPTURED)
        c->v[c->n++] = xmpp_stanza_copy(stanza);
}

static void clear_captured(void)
{
    for (int i = 0; i < captured.n; i++)
        xmpp_stanza_release(captured.v[i]);
    captured.n = 0;
}

/* ---- watch and store recorders ---- */

#define MAX_EVENTS 512
static struct {
    presence_event_t ev;
    char local[128];
    char full[128];
} events[MAX_EVENTS];
static int n_events;

static void on_event(presence_event_t ev, const char *local, const char *full,
                     void *ud)
{
    (void)ud;
    if (n_events < MAX_EVENTS) {
        events[n_events].ev = ev;
        snprintf(events[n_events].local, sizeof events[0].local, "%s", local);
        snprintf(events[n_events].full, sizeof events[0].full, "%s", full);
        n_events++;
    }
}

static int count_events(presence_event_t ev, const char *local,
                        const char *full)
{
    int n = 0;
    for (int i = 0; i < n_events; i++)
        if (events[i].ev == ev && (!local || !strcmp(events[i].local, local)) &&
            (!full || !strcmp(events[i].full, full)))
            n++;
    return n;
}

static char store_log[512];

static void store_sub(void *ud, const char *local, const char *contact)
{
    (void)ud;
    size_t l = strlen(store_log);
    snprintf(store_log + l, sizeof store_log - l, "+%s<%s;", local, contact);
}

static void store_unsub(void *ud, const char *local, const char *contact)
{
    (void)ud;
    size_t l = strlen(store_log);
    snprintf(store_log + l, sizeof store_log - l, "-%s<%s;", local, contact);
}

/* ---- fixtures ---- */

static void setup(void)
{
    captured.n = 0;
    n_events = 0;
    store_log[0] = '\0';
    router = router_new(ctx, NULL, capture_send, &captured);
    disco = disco_new(router, DOMAIN);
    disco_add_identity(disco, "pubsub", "service", "Herald");
    pres = presence_new(router, disco, DOMAIN);
    presence_watch(pres, on_event, NULL);
    presence_store_t st = {store_sub, store_unsub, NULL};
    presence_set_store(pres, &st);
}

static void teardown(void)
{
    presence_free(pres);
    disco_free(disco);
    router_free(router);
    clear_captured();
}

static void feed(const char *xml)
{
    xmpp_stanza_t *s = xmpp_stanza_new_from_string(ctx, xml);
    if (!s) {
        fprintf(stderr, "fixture does not parse: %s\n", xml);
        exit(2);
    }
    router_dispatch(router, s);
    xmpp_stanza_release(s);
}

static void feedf(const char *fmt, const char *a, const char *b,
                  const char *c)
{
    char buf[2048];
    snprintf(buf, sizeof buf, fmt, a, b, c);
    feed(buf);
}

static const char *attr(xmpp_stanza_t *s, const char *name)
{
    return s ? xmpp_stanza_get_attribute(s, name) : NULL;
}

static int is_null(const char *s) { return s == NULL; }

/* Checks that `s` is our available presence with our caps. */
static void check_our_available(xmpp_stanza_t *s, const char *from,
                                const char *to)
{
    CHECK_STR(xmpp_stanza_get_name(s), "presence");
    CHECK_STR(attr(s, "from"), from);
    CHECK_STR(attr(s, "to"), to);
    CHECK(is_null(attr(s, "type")));
    xmpp_stanza_t *c = xmpp_stanza_get_child_by_name_and_ns(s, "c", NS_CAPS);
    CHECK(c != NULL);
    CHECK_STR(attr(c, "hash"), "sha-1");
    CHECK_STR(attr(c, "ver"), disco_caps_ver(disco));
    CHECK_STR(attr(c, "node"), disco_caps_node(disco));
    CHECK(strlen(attr(c, "ver") ? attr(c, "ver") : "") == 28);
}

static const char *exodus_query =
    "<query xmlns='http://jabber.org/protocol/disco#info' node='%s'>"
    "<identity category='client' name='Exodus 0.9.1' type='pc'/>"
    "<feature var='http://jabber.org/protocol/caps'/>"
    "<feature var='http://jabber.org/protocol/disco#info'/>"
    "<feature var='http://jabber.org/protocol/disco#items'/>"
    "<feature var='http://jabber.org/protocol/muc'/>"
    "</query>";

/* Answers captured IQ `iq` with the XEP-0115 §5.2 Exodus feature set. */
static void answer_exodus(xmpp_stanza_t *iq)
{
    char q[1024], buf[2048];
    xmpp_stanza_t *query = xmpp_stanza_get_child_by_ns(iq, NS_DISCO_INFO);
    snprintf(q, sizeof q, exodus_query, attr(query, "node") ? attr(query, "node") : "");
    snprintf(buf, sizeof buf,
             "<iq xmlns='jabber:component:accept' type='result' id='%s' "
             "from='%s' to='%s'>%s</iq>",
             attr(iq, "id"), attr(iq, "to"), attr(iq, "from"), q);
    feed(buf);
}

static void available(const char *from, const char *to, const char *ver)
{
    char buf[1024];
    if (ver)
        snprintf(buf, sizeof buf,
                 "<presence xmlns='jabber:component:accept' from='%s' to='%s'>"
                 "<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' "
                 "node='" EXODUS_NODE "' ver='%s'/></presence>",
                 from, to, ver);
    else
        snprintf(buf, sizeof buf,
                 "<presence xmlns='jabber:component:accept' from='%s' "
                 "to='%s'/>",
                 from, to);
    feed(buf);
}

static void typed(const char *type, const char *from, const char *to)
{
    feedf("<presence xmlns='jabber:component:accept' type='%s' from='%s' "
          "to='%s'/>",
          type, from, to);
}

/* ---- tests ---- */

static void test_probe(void)
{
    setup();
    typed("probe", "alice@example.com/phone", DOMAIN);
    CHECK(captured.n == 1);
    if (captured.n == 1)
        check_our_available(captured.v[0], DOMAIN, "alice@example.com/phone");
    clear_captured();

    /* A probe to a full JID at our domain is answered from its bare JID. */
    typed("probe", "alice@example.com", "Node1@" DOMAIN "/x");
    CHECK(captured.n == 1);
    if (captured.n == 1)
        check_our_available(captured.v[0], "node1@" DOMAIN,
                            "alice@example.com");
    clear_captured();

    /* Not ours: nobody answers. */
    typed("probe", "alice@example.com", "other.example.org");
    CHECK(captured.n == 0);
    CHECK(presence_count(pres) == 0);
    teardown();
}

static void test_subscribe(void)
{
    setup();
    typed("subscribe", "bob@example.com", "node1@" DOMAIN);
    CHECK(captured.n == 2);
    if (captured.n == 2) {
        xmpp_stanza_t *s = captured.v[0];
        CHECK_STR(xmpp_stanza_get_name(s), "presence");
        CHECK_STR(attr(s, "type"), "subscribed");
        CHECK_STR(attr(s, "from"), "node1@" DOMAIN);
        CHECK_STR(attr(s, "to"), "bob@example.com");
        check_our_available(captured.v[1], "node1@" DOMAIN, "bob@example.com");
    }
    CHECK_STR(store_log, "+node1@" DOMAIN "<bob@example.com;");
    clear_captured();

    /* A subscribe stamped with a full JID: subscribed goes to the bare. */
    typed("subscribe", "Carol@Example.com/pc", DOMAIN);
    CHECK(captured.n == 2);
    if (captured.n == 2) {
        CHECK_STR(attr(captured.v[0], "to"), "carol@example.com");
        CHECK_STR(attr(captured.v[0], "type"), "subscribed");
        check_our_available(captured.v[1], DOMAIN, "Carol@Example.com/pc");
    }
    teardown();
}

static void test_unsubscribe(void)
{
    setup();
    typed("unsubscribe", "bob@example.com", "node1@" DOMAIN);
    CHECK(captured.n == 2);
    if (captured.n == 2) {
        CHECK_STR(attr(captured.v[0], "type"), "unsubscribed");
        CHECK_STR(attr(captured.v[0], "from"), "node1@" DOMAIN);
        CHECK_STR(attr(captured.v[0], "to"), "bob@example.com");
        CHECK_STR(attr(captured.v[1], "type"), "unavailable");
        CHECK_STR(attr(captured.v[1], "from"), "node1@" DOMAIN);
        CHECK_STR(attr(captured.v[1], "to"), "bob@example.com");
    }
    CHECK_STR(store_log, "-node1@" DOMAIN "<bob@example.com;");
    clear_captured();

    /* Answers to our own (never sent) requests are accepted silently. */
    typed("subscribed", "bob@example.com", DOMAIN);
    typed("unsubscribed", "bob@example.com", DOMAIN);
    CHECK(captured.n == 0);
    CHECK_STR(store_log, "-node1@" DOMAIN "<bob@example.com;");
    teardown();
}

static void test_bad_type(void)
{
    setup();
    typed("bogus", "bob@example.com/x", DOMAIN);
    CHECK(captured.n == 1);
    if (captured.n == 1) {
        xmpp_stanza_t *s = captured.v[0];
        CHECK_STR(xmpp_stanza_get_name(s), "presence");
        CHECK_STR(attr(s, "type"), "error");
        CHECK_STR(attr(s, "to"), "bob@example.com/x");
        xmpp_stanza_t *e = xmpp_stanza_get_child_by_name(s, "error");
        CHECK(e && xmpp_stanza_get_child_by_name_and_ns(e, "bad-request",
                                                        NS_STANZAS));
    }
    clear_captured();
    /* An error presence with a bogus sender is never answered. */
    typed("error", "bad@@jid", DOMAIN);
    CHECK(captured.n == 0);
    teardown();
}

static int n_each;
static char each_seen[256];
static void each_cb(const char *full, void *ud)
{
    (void)ud;
    n_each++;
    strncat(each_seen, full, sizeof each_seen - strlen(each_seen) - 2);
    strcat(each_seen, ";");
}

static void test_tracking(void)
{
    setup();
    available("Alice@Example.com/phone", DOMAIN, NULL);
    available("alice@example.com/laptop", DOMAIN, NULL);
    available("alice@example.com/laptop", DOMAIN, NULL); /* status change */
    CHECK(captured.n == 0); /* available presence is not answered */
    CHECK(presence_count(pres) == 2);
    CHECK(presence_is_online(pres, "ALICE@example.com"));
    CHECK(presence_is_online(pres, "alice@example.com/whatever"));
    CHECK(!presence_is_online(pres, "bob@example.com"));
    CHECK(count_events(PRESENCE_AVAILABLE, DOMAIN, NULL) == 2);
    CHECK(count_events(PRESENCE_AVAILABLE, DOMAIN, "alice@example.com/phone") == 1);

    n_each = 0;
    each_seen[0] = '\0';
    CHECK(presence_each_resource(pres, "alice@example.com", each_cb, NULL) == 2);
    CHECK(n_each == 2);
    CHECK(strstr(each_seen, "alice@example.com/phone;") != NULL);
    CHECK(strstr(each_seen, "alice@example.com/laptop;") != NULL);
    /* No caps advertised: unknown. */
    CHECK(presence_has_feature(pres, "alice@example.com/phone", "x") == -1);
    CHECK(presence_has_feature(pres, "nobody@example.com/x", "x") == -1);

    typed("unavailable", "alice@example.com/phone", DOMAIN);
    CHECK(presence_count(pres) == 1);
    CHECK(presence_is_online(pres, "alice@example.com"));
    CHECK(count_events(PRESENCE_UNAVAILABLE, DOMAIN, "alice@example.com/phone") == 1);
    /* Unavailable for something never tracked: no event. */
    typed("unavailable", "alice@example.com/phone", DOMAIN);
    typed("unavailable", "zed@example.com/x", DOMAIN);
    CHECK(count_events(PRESENCE_UNAVAILABLE, NULL, NULL) == 1);

    /* Unavailable from the bare JID: every resource is gone. */
    available("alice@example.com/tablet", DOMAIN, NULL);
    CHECK(presence_count(pres) == 2);
    typed("unavailable", "alice@example.com", DOMAIN);
    CHECK(presence_count(pres) == 0);
    CHECK(!presence_is_online(pres, "alice@example.com"));
    CHECK(count_events(PRESENCE_UNAVAILABLE, NULL, NULL) == 3);
    CHECK(captured.n == 0);

    /* Available from a bare JID is tracked as that JID. */
    available("server.example.net", DOMAIN, NULL);
    CHECK(presence_is_online(pres, "server.example.net"));
    CHECK(presence_count(pres) == 1);
    CHECK(count_events(PRESENCE_AVAILABLE, DOMAIN, "server.example.net") == 1);
    teardown();
}

static void test_per_local(void)
{
    setup();
    available("dave@example.com/pc", "a@" DOMAIN, NULL);
    available("dave@example.com/pc", "b@" DOMAIN, NULL);
    CHECK(presence_count(pres) == 1); /* one full JID */
    CHECK(count_events(PRESENCE_AVAILABLE, "a@" DOMAIN, "dave@example.com/pc") == 1);
    CHECK(count_events(PRESENCE_AVAILABLE, "b@" DOMAIN, "dave@example.com/pc") == 1);
    n_each = 0;
    CHECK(presence_each_resource(pres, "dave@example.com", each_cb, NULL) == 1);

    typed("unavailable", "dave@example.com/pc", "a@" DOMAIN);
    CHECK(presence_is_online(pres, "dave@example.com"));
    CHECK(presence_count(pres) == 1);
    typed("unavailable", "dave@example.com/pc", "B@" DOMAIN "/res");
    CHECK(!presence_is_online(pres, "dave@example.com"));
    CHECK(presence_count(pres) == 0);
    CHECK(count_events(PRESENCE_UNAVAILABLE, "b@" DOMAIN, "dave@example.com/pc") == 1);

    /* 'unsubscribed' from the contact ends what we track for that pair. */
    available("dave@example.com/pc", "a@" DOMAIN, NULL);
    available("dave@example.com/pc", "b@" DOMAIN, NULL);
    typed("unsubscribed", "dave@example.com", "a@" DOMAIN);
    CHECK(presence_is_online(pres, "dave@example.com"));
    typed("unsubscribed", "dave@example.com", "b@" DOMAIN);
    CHECK(!presence_is_online(pres, "dave@example.com"));
    CHECK(captured.n == 0);
    teardown();
}

static void test_error_presence(void)
{
    setup();
    available("erin@example.com/a", "x@" DOMAIN, NULL);
    available("erin@example.com/b", "y@" DOMAIN, NULL);
    typed("error", "erin@example.com/a", DOMAIN);
    CHECK(presence_count(pres) == 1);
    CHECK(count_events(PRESENCE_UNAVAILABLE, "x@" DOMAIN, "erin@example.com/a") == 1);
    typed("error", "erin@example.com", "z@" DOMAIN);
    CHECK(presence_count(pres) == 0);
    CHECK(!presence_is_online(pres, "erin@example.com"));
    CHECK(captured.n == 0); /* never answered */
    teardown();
}

static int count_disco_queries(void)
{
    int n = 0;
    for (int i = 0; i < captured.n; i++)
        if (!strcmp(xmpp_stanza_get_name(captured.v[i]), "iq") &&
            xmpp_stanza_get_child_by_ns(captured.v[i], NS_DISCO_INFO))
            n++;
    return n;
}

static void test_caps_resolution(void)
{
    setup();
    available("u1@example.com/r", DOMAIN, EXODUS_VER);
    available("u2@example.com/r", DOMAIN, EXODUS_VER);
    available("u3@example.net/r", "n@" DOMAIN, EXODUS_VER);
    CHECK(captured.n == 1);
    CHECK(count_disco_queries() == 1);
    xmpp_stanza_t *iq = captured.n ? captured.v[0] : NULL;
    CHECK_STR(xmpp_stanza_get_name(iq), "iq");
    CHECK_STR(attr(iq, "type"), "get");
    CHECK_STR(attr(iq, "to"), "u1@example.com/r");
    CHECK_STR(attr(iq, "from"), DOMAIN);
    CHECK(attr(iq, "id") != NULL);
    xmpp_stanza_t *q = iq ? xmpp_stanza_get_child_by_ns(iq, NS_DISCO_INFO) : NULL;
    CHECK_STR(attr(q, "node"), EXODUS_NODE "#" EXODUS_VER);

    CHECK(presence_has_feature(pres, "u1@example.com/r",
                               "http://jabber.org/protocol/muc") == -1);
    CHECK(count_events(PRESENCE_CAPS_RESOLVED, NULL, NULL) == 0);

    if (iq)
        answer_exodus(iq);
    const char *users[] = {"u1@example.com/r", "u2@example.com/r",
                           "u3@example.net/r"};
    for (int i = 0; i < 3; i++) {
        CHECK(presence_has_feature(pres, users[i],
                                   "http://jabber.org/protocol/muc") == 1);
        CHECK(presence_has_feature(pres, users[i],
                                   "http://jabber.org/protocol/caps") == 1);
        CHECK(presence_has_feature(pres, users[i],
                                   "urn:xmpp:mam:2") == 0);
        CHECK(count_events(PRESENCE_CAPS_RESOLVED, NULL, users[i]) == 1);
    }
    CHECK(count_events(PRESENCE_CAPS_RESOLVED, "n@" DOMAIN, users[2]) == 1);
    CHECK(captured.n == 1); /* the result is not answered */
    clear_captured();

    /* A cached ver: no query, resolved at once. */
    available("u4@example.com/r", DOMAIN, EXODUS_VER);
    CHECK(captured.n == 0);
    CHECK(count_events(PRESENCE_CAPS_RESOLVED, DOMAIN, "u4@example.com/r") == 1);
    CHECK(presence_has_feature(pres, "u4@example.com/r",
                               "http://jabber.org/protocol/disco#items") == 1);
    /* Same full JID to another local JID: resolved for that pair too. */
    available("u4@example.com/r", "m@" DOMAIN, EXODUS_VER);
    CHECK(count_events(PRESENCE_CAPS_RESOLVED, "m@" DOMAIN, "u4@example.com/r") == 1);
    /* A repeated presence with the same caps fires nothing new. */
    int before = n_events;
    available("u4@example.com/r", DOMAIN, EXODUS_VER);
    CHECK(n_events == before);
    /* Dropping the caps makes the features unknown again. */
    available("u4@example.com/r", DOMAIN, NULL);
    CHECK(presence_has_feature(pres, "u4@example.com/r",
                               "http://jabber.org/protocol/muc") == -1);
    CHECK(captured.n == 0);

    /* Every contact leaves; the ver stays cached. */
    typed("unavailable", "u1@example.com", DOMAIN);
    typed("unavailable", "u2@example.com", DOMAIN);
    typed("unavailable", "u3@example.net", "n@" DOMAIN);
    typed("unavailable", "u4@example.com", DOMAIN);
    typed("unavailable", "u4@example.com", "m@" DOMAIN);
    CHECK(presence_count(pres) == 0);
    available("u5@example.com/r", DOMAIN, EXODUS_VER);
    CHECK(captured.n == 0);
    CHECK(presence_has_feature(pres, "u5@example.com/r",
                               "http://jabber.org/protocol/muc") == 1);
    teardown();
}

#define BOGUS_VER "AAAAAAAAAAAAAAAAAAAAAAAAAAA="

static void test_caps_mismatch_and_retry(void)
{
    setup();
    available("liar@example.com/r", DOMAIN, BOGUS_VER);
    available("w@example.com/r", DOMAIN, BOGUS_VER);
    CHECK(count_disco_queries() == 1);
    if (captured.n == 1)
        answer_exodus(captured.v[0]); /* hashes to another ver */
    clear_captured();
    CHECK(presence_has_feature(pres, "liar@example.com/r",
                               "http://jabber.org/protocol/muc") == -1);
    CHECK(count_events(PRESENCE_CAPS_RESOLVED, NULL, NULL) == 0);

    /* The contact that failed is not asked again... */
    typed("unavailable", "liar@example.com/r", DOMAIN);
    available("liar@example.com/r", DOMAIN, BOGUS_VER);
    available("liar@example.com/other", DOMAIN, BOGUS_VER);
    CHECK(captured.n == 0);
    /* ...another one is, once. */
    available("x@example.com/r", DOMAIN, BOGUS_VER);
    available("y@example.com/r", DOMAIN, BOGUS_VER);
    CHECK(count_disco_queries() == 1);
    CHECK_STR(attr(captured.n ? captured.v[0] : NULL, "to"), "x@example.com/r");
    clear_captured();

    /* An error reply also marks it failed; a timeout (cancel) too. */
    router_cancel_pending(router);
    CHECK(presence_has_feature(pres, "x@example.com/r", "a") == -1);
    available("z@example.com/r", DOMAIN, BOGUS_VER);
    CHECK(count_disco_queries() == 1);
    if (captured.n == 1) {
        char buf[512];
        snprintf(buf, sizeof buf,
                 "<iq xmlns='jabber:component:accept' type='error' id='%s' "
                 "from='%s' to='%s'><error type='cancel'><service-unavailable "
                 "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>",
                 attr(captured.v[0], "id"), attr(captured.v[0], "to"),
                 attr(captured.v[0], "from"));
        clear_captured();
        feed(buf);
    }
    CHECK(captured.n == 0); /* an error reply is never answered */
    CHECK(presence_has_feature(pres, "z@example.com/r", "a") == -1);
    teardown();
}

static void test_caps_unverifiable(void)
{
    setup();
    /* Legacy caps (no hash), other hashes, malformed sha-1 vers. */
    feed("<presence xmlns='jabber:component:accept' from='l@example.com/r' "
         "to='" DOMAIN "'><c xmlns='http://jabber.org/protocol/caps' "
         "node='http://psi-im.org/caps' ver='0.11' ext='a b'/></presence>");
    feed("<presence xmlns='jabber:component:accept' from='m@example.com/r' "
         "to='" DOMAIN "'><c xmlns='http://jabber.org/protocol/caps' "
         "hash='sha-256' node='n' ver='" EXODUS_VER "'/></presence>");
    feed("<presence xmlns='jabber:component:accept' from='n@example.com/r' "
         "to='" DOMAIN "'><c xmlns='http://jabber.org/protocol/caps' "
         "hash='sha-1' node='n' ver='short'/></presence>");
    CHECK(captured.n == 0);
    CHECK(presence_count(pres) == 3);
    CHECK(presence_has_feature(pres, "l@example.com/r", "x") == -1);
    CHECK(presence_has_feature(pres, "m@example.com/r", "x") == -1);
    teardown();
}

static void test_pending_at_shutdown(void)
{
    /* presence freed while its query is in flight: the router's final
     * cancel must not reach freed memory (ASan checks this). */
    setup();
    available("p@example.com/r", DOMAIN, EXODUS_VER);
    CHECK(count_disco_queries() == 1);
    teardown();

    /* And the other order: the router fails the query first. */
    setup();
    available("p@example.com/r", DOMAIN, EXODUS_VER);
    router_cancel_pending(router);
    CHECK(presence_has_feature(pres, "p@example.com/r", "x") == -1);
    teardown();
}

static void test_caps_retry_success(void)
{
    setup();
    available("slow@example.com/r", DOMAIN, EXODUS_VER);
    available("w1@example.com/r", "a@" DOMAIN, EXODUS_VER);
    CHECK(count_disco_queries() == 1);
    clear_captured();
    router_cancel_pending(router); /* as a timeout would */
    CHECK(presence_has_feature(pres, "w1@example.com/r", "x") == -1);
    /* The next contact with that ver is asked; its answer serves everyone
     * who waited, including those who waited on the failed query. */
    available("fast@example.com/r", DOMAIN, EXODUS_VER);
    CHECK(count_disco_queries() == 1);
    CHECK_STR(attr(captured.n ? captured.v[0] : NULL, "to"), "fast@example.com/r");
    if (captured.n == 1)
        answer_exodus(captured.v[0]);
    const char *all[] = {"slow@example.com/r", "w1@example.com/r",
                         "fast@example.com/r"};
    for (int i = 0; i < 3; i++) {
        CHECK(presence_has_feature(pres, all[i],
                                   "http://jabber.org/protocol/muc") == 1);
        CHECK(count_events(PRESENCE_CAPS_RESOLVED, NULL, all[i]) == 1);
    }
    teardown();
}

static void test_many_waiters(void)
{
    setup();
    char jid[64];
    for (int i = 0; i < 60; i++) {
        snprintf(jid, sizeof jid, "c%d@example.com/r", i);
        available(jid, DOMAIN, EXODUS_VER);
    }
    for (int i = 0; i < 30; i++) {
        snprintf(jid, sizeof jid, "c%d@example.com/r", i);
        typed("unavailable", jid, DOMAIN);
    }
    for (int i = 60; i < 100; i++) {
        snprintf(jid, sizeof jid, "c%d@example.com/r", i);
        available(jid, DOMAIN, EXODUS_VER);
    }
    /* One contact switches to other caps while waiting. */
    available("c99@example.com/r", DOMAIN, NULL);
    CHECK(count_disco_queries() == 1);
    CHECK(presence_count(pres) == 70);
    if (captured.n >= 1)
        answer_exodus(captured.v[0]);
    CHECK(count_events(PRESENCE_CAPS_RESOLVED, NULL, NULL) == 69);
    CHECK(count_events(PRESENCE_CAPS_RESOLVED, NULL, "c0@example.com/r") == 0);
    CHECK(count_events(PRESENCE_CAPS_RESOLVED, NULL, "c99@example.com/r") == 0);
    CHECK(count_events(PRESENCE_CAPS_RESOLVED, NULL, "c98@example.com/r") == 1);
    CHECK(presence_has_feature(pres, "c30@example.com/r",
                               "http://jabber.org/protocol/muc") == 1);
    teardown();
}

static void test_limits(void)
{
    setup();
    presence_limits_t l = {.max_entries_per_contact = 2};
    presence_set_limits(pres, &l);
    available("many@example.com/1", DOMAIN, NULL);
    available("many@example.com/2", DOMAIN, NULL);
    available("many@example.com/3", DOMAIN, NULL);
    CHECK(presence_count(pres) == 2);
    available("many@example.com/1", DOMAIN, NULL); /* existing: fine */
    CHECK(presence_count(pres) == 2);
    CHECK(count_events(PRESENCE_AVAILABLE, NULL, "many@example.com/3") == 0);
    teardown();
}

static void test_send_available_and_track_hook(void)
{
    setup();
    presence_send_available(pres, "n@" DOMAIN, "sub@example.com");
    CHECK(captured.n == 1);
    if (captured.n == 1)
        check_our_available(captured.v[0], "n@" DOMAIN, "sub@example.com");
    clear_captured();

    presence_track(pres, DOMAIN, "t@example.com/r", EXODUS_NODE, EXODUS_VER, 1);
    CHECK(presence_count(pres) == 1);
    CHECK(count_disco_queries() == 1);
    if (captured.n == 1)
        answer_exodus(captured.v[0]);
    CHECK(presence_has_feature(pres, "t@example.com/r",
                               "http://jabber.org/protocol/muc") == 1);
    presence_track(pres, DOMAIN, "t@example.com/r", NULL, NULL, 0);
    CHECK(presence_count(pres) == 0);
    teardown();
}

int main(void)
{
    ctx = xmpp_ctx_new(NULL, NULL);
    UNIT_RUN(test_probe);
    UNIT_RUN(test_subscribe);
    UNIT_RUN(test_unsubscribe);
    UNIT_RUN(test_bad_type);
    UNIT_RUN(test_tracking);
    UNIT_RUN(test_per_local);
    UNIT_RUN(test_error_presence);
    UNIT_RUN(test_caps_resolution);
    UNIT_RUN(test_caps_mismatch_and_retry);
    UNIT_RUN(test_caps_unverifiable);
    UNIT_RUN(test_pending_at_shutdown);
    UNIT_RUN(test_caps_retry_success);
    UNIT_RUN(test_many_waiters);
    UNIT_RUN(test_limits);
    UNIT_RUN(test_send_available_and_track_hook);
    xmpp_ctx_free(ctx);
    return UNIT_DONE();
}
