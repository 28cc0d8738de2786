/* disco#info / disco#items of the domain, PASS/fallback rules for node
 * and JID queries, caps ver tracking the registry. */
#include "component/disco.h"
#include "component/ns.h"
#include "tests/unit/unit.h"
#include "tests/unit/stanza_capture.h"

#define DOMAIN "pubsub.example.org"
#define FROM "juliet@example.org/balcony"

static xmpp_ctx_t *ctx;
static capture_t cap;

static void dispatch(router_t *r, const char *xml)
{
    xmpp_stanza_t *s = fixture(ctx, xml);
    router_dispatch(r, s);
    xmpp_stanza_release(s);
}

static int count_children(xmpp_stanza_t *q, const char *name)
{
    int n = 0;
    for (xmpp_stanza_t *c = t_children(q); c; c = t_next(c))
        if (xmpp_stanza_is_tag(c) && strcmp(t_name(c), name) == 0)
            n++;
    return n;
}

static int has_feature(xmpp_stanza_t *q, const char *var)
{
    for (xmpp_stanza_t *c = t_children(q); c; c = t_next(c))
        if (xmpp_stanza_is_tag(c) && strcmp(t_name(c), "feature") == 0 && t_attr(c, "var") &&
            strcmp(t_attr(c, "var"), var) == 0)
            return 1;
    return 0;
}

static xmpp_stanza_t *result_query(const char *ns)
{
    xmpp_stanza_t *r = capture_last(&cap);
    if (!r || !t_type(r) || strcmp(t_type(r), "result") != 0)
        return NULL;
    return t_child_ns(r, "query", ns);
}

#define INFO_GET(id, to, attrs)                                                                    \
    "<iq type='get' id='" id "' from='" FROM "' to='" to "'>"                                      \
    "<query xmlns='http://jabber.org/protocol/disco#info'" attrs "/></iq>"
#define ITEMS_GET(id, to, attrs)                                                                   \
    "<iq type='get' id='" id "' from='" FROM "' to='" to "'>"                                      \
    "<query xmlns='http://jabber.org/protocol/disco#items'" attrs "/></iq>"

static void test_info_of_domain(void)
{
    capture_clear(&cap);
    router_t *r = router_new(ctx, NULL, capture_send, &cap);
    disco_t *d = disco_new(r, DOMAIN);

    /* no identity registered: a default one keeps XEP-0030 §3.1 */
    dispatch(r, INFO_GET("i1", DOMAIN, ""));
    CHECK(cap.n == 1);
    xmpp_stanza_t *q = result_query(NS_DISCO_INFO);
    CHECK(q != NULL);
    CHECK_STR(t_id(capture_last(&cap)), "i1");
    CHECK_STR(t_to(capture_last(&cap)), FROM);
    CHECK_STR(t_from(capture_last(&cap)), DOMAIN);
    CHECK(count_children(q, "identity") == 1);
    CHECK(has_feature(q, NS_DISCO_INFO) && has_feature(q, NS_DISCO_ITEMS));
    CHECK(t_attr(q, "node") == NULL);

    disco_add_identity(d, "pubsub", "service", "Herald");
    disco_add_identity(d, "pubsub", "service", "again"); /* no-op */
    disco_add_identity(d, "pubsub", "pep", NULL);
    disco_add_feature(d, NS_PUBSUB);
    disco_add_feature(d, NS_PUBSUB); /* no-op */
    dispatch(r, INFO_GET("i2", DOMAIN, ""));
    q = result_query(NS_DISCO_INFO);
    CHECK(q && count_children(q, "identity") == 2);
    CHECK(q && count_children(q, "feature") == 3);
    CHECK(q && has_feature(q, NS_PUBSUB));
    xmpp_stanza_t *id = q ? t_child(q, "identity") : NULL;
    CHECK_STR(t_attr(id, "category"), "pubsub");
    CHECK_STR(t_attr(id, "type"), "service");
    CHECK_STR(t_attr(id, "name"), "Herald");

    /* case and trailing dot of the domain do not matter */
    dispatch(r, INFO_GET("i3", "PubSub.Example.org.", ""));
    CHECK(result_query(NS_DISCO_INFO) != NULL);

    /* disco#info set is not a thing: service-unavailable */
    dispatch(r, "<iq type='set' id='i4' from='" FROM "' to='" DOMAIN "'>"
                "<query xmlns='" NS_DISCO_INFO "'/></iq>");
    CHECK_STR(error_condition(capture_last(&cap)), "service-unavailable");
    CHECK(cap.n == 4);

    disco_free(d);
    router_free(r);
    capture_clear(&cap);
}

static void test_items(void)
{
    router_t *r = router_new(ctx, NULL, capture_send, &cap);
    disco_t *d = disco_new(r, DOMAIN);
    dispatch(r, ITEMS_GET("t1", DOMAIN, ""));
    xmpp_stanza_t *q = result_query(NS_DISCO_ITEMS);
    CHECK(q != NULL && t_children(q) == NULL); /* empty */

    disco_add_item(d, "echo.example.org", NULL, "Echo");
    disco_add_item(d, DOMAIN, "news", NULL);
    disco_add_item(d, DOMAIN, "news", "dup"); /* no-op */
    dispatch(r, ITEMS_GET("t2", DOMAIN, ""));
    q = result_query(NS_DISCO_ITEMS);
    CHECK(q && count_children(q, "item") == 2);
    xmpp_stanza_t *it = q ? t_child(q, "item") : NULL;
    CHECK_STR(t_attr(it, "jid"), "echo.example.org");
    CHECK_STR(t_attr(it, "name"), "Echo");
    CHECK(t_attr(it, "node") == NULL);
    it = it ? t_next(it) : NULL;
    CHECK_STR(t_attr(it, "node"), "news");
    CHECK(cap.n == 2);
    disco_free(d);
    router_free(r);
    capture_clear(&cap);
}

typedef struct {
    int calls;
    int ret;
} probe_t;

static int probe_fn(router_t *r, xmpp_stanza_t *s, void *ud)
{
    probe_t *p = ud;
    p->calls++;
    if (p->ret == ROUTE_DONE) {
        xmpp_stanza_t *res = router_iq_result(r, s);
        router_send(r, res);
        xmpp_stanza_release(res);
    }
    return p->ret;
}

static void test_node_and_jid_queries(void)
{
    router_t *r = router_new(ctx, NULL, capture_send, &cap);
    /* a module registered BEFORE disco must still see node queries */
    probe_t before = {.ret = ROUTE_PASS};
    router_add(r, ROUTE_IQ_GET, NS_DISCO_INFO, probe_fn, &before);
    disco_t *d = disco_new(r, DOMAIN);

    /* nobody handles them: item-not-found (XEP-0030 §3.1) */
    static const char *const unhandled[] = {
        INFO_GET("n1", DOMAIN, " node='princely_musings'"),
        INFO_GET("n2", "user@" DOMAIN, ""),
        INFO_GET("n3", DOMAIN "/res", ""),
        ITEMS_GET("n4", DOMAIN, " node='princely_musings'"),
        ITEMS_GET("n5", "user@" DOMAIN, ""),
        ITEMS_GET("n6", "user@" DOMAIN "/r", ""),
    };
    for (size_t i = 0; i < sizeof(unhandled) / sizeof(unhandled[0]); i++) {
        capture_clear(&cap);
        dispatch(r, unhandled[i]);
        CHECK(cap.n == 1);
        CHECK_STR(error_condition(capture_last(&cap)), "item-not-found");
        CHECK_STR(error_type(capture_last(&cap)), "cancel");
    }
    CHECK(before.calls == 3); /* n1, n2, n3 reached it (info only) */

    /* a module that handles them gets them first, disco stays out */
    before.ret = ROUTE_DONE;
    capture_clear(&cap);
    dispatch(r, INFO_GET("n7", "user@" DOMAIN, ""));
    CHECK(before.calls == 4 && cap.n == 1);
    CHECK_STR(t_type(capture_last(&cap)), "result");
    CHECK(result_query(NS_DISCO_INFO) == NULL); /* the module's, empty */

    /* a module registered AFTER disco too */
    probe_t after = {.ret = ROUTE_DONE};
    router_add(r, ROUTE_IQ_GET, NS_DISCO_ITEMS, probe_fn, &after);
    capture_clear(&cap);
    dispatch(r, ITEMS_GET("n8", DOMAIN, " node='x'"));
    CHECK(after.calls == 1 && cap.n == 1);
    CHECK_STR(t_type(capture_last(&cap)), "result");

    disco_free(d);
    router_free(r);
    capture_clear(&cap);
}

static void test_caps_ver_tracks_registry(void)
{
    router_t *r = router_new(ctx, NULL, capture_send, &cap);
    disco_t *d = disco_new(r, DOMAIN);
    CHECK_STR(disco_caps_node(d), "https://herald.invalid/caps");

    char v0[29], v1[29], v2[29], check[29];
    snprintf(v0, sizeof(v0), "%s", disco_caps_ver(d));
    CHECK(strlen(v0) == 28);
    /* the ver is the hash of exactly what disco#info returns */
    dispatch(r, INFO_GET("c1", DOMAIN, ""));
    CHECK(caps_ver_of_query(result_query(NS_DISCO_INFO), check) == 0);
    CHECK_STR(check, v0);

    disco_add_feature(d, NS_PING);
    snprintf(v1, sizeof(v1), "%s", disco_caps_ver(d));
    CHECK(strcmp(v0, v1) != 0);
    disco_add_identity(d, "pubsub", "service", "Herald");
    snprintf(v2, sizeof(v2), "%s", disco_caps_ver(d));
    CHECK(strcmp(v1, v2) != 0);
    dispatch(r, INFO_GET("c2", DOMAIN, ""));
    CHECK(caps_ver_of_query(result_query(NS_DISCO_INFO), check) == 0);
    CHECK_STR(check, v2);
    /* unchanged registry: same ver */
    disco_add_feature(d, NS_PING);
    CHECK_STR(disco_caps_ver(d), v2);

    /* node "<caps node>#<ver>" is answered, mirrored, on any JID at the
     * domain (contacts verify caps from the presence's sender) */
    char xml[512];
    snprintf(xml, sizeof(xml),
             "<iq type='get' id='c3' from='" FROM "' to='user@" DOMAIN "/x'>"
             "<query xmlns='" NS_DISCO_INFO "' node='%s#%s'/></iq>",
             disco_caps_node(d), v2);
    capture_clear(&cap);
    dispatch(r, xml);
    xmpp_stanza_t *q = result_query(NS_DISCO_INFO);
    CHECK(q != NULL);
    char node[128];
    snprintf(node, sizeof(node), "%s#%s", disco_caps_node(d), v2);
    CHECK_STR(q ? t_attr(q, "node") : NULL, node);
    CHECK(caps_ver_of_query(q, check) == 0);
    CHECK_STR(check, v2);
    /* an outdated ver is not ours any more */
    snprintf(xml, sizeof(xml),
             "<iq type='get' id='c4' from='" FROM "' to='" DOMAIN "'>"
             "<query xmlns='" NS_DISCO_INFO "' node='%s#%s'/></iq>",
             disco_caps_node(d), v0);
    dispatch(r, xml);
    CHECK_STR(error_condition(capture_last(&cap)), "item-not-found");

    disco_free(d);
    router_free(r);
    capture_clear(&cap);
}

int main(void)
{
    ctx = xmpp_ctx_new(NULL, NULL);
    cap.ctx = ctx;
    UNIT_RUN(test_info_of_domain);
    UNIT_RUN(test_items);
    UNIT_RUN(test_node_and_jid_queries);
    UNIT_RUN(test_caps_ver_tracks_registry);
    capture_clear(&cap);
    xmpp_ctx_free(ctx);
    return UNIT_DONE();
}
