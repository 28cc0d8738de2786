/* XEP-0092 version and XEP-0199 ping replies, and their disco features. */
#include "component/basics.h"
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

static char *child_text(xmpp_stanza_t *q, const char *name)
{
    xmpp_stanza_t *c = q ? t_child(q, name) : NULL;
    return c ? xmpp_stanza_get_text(c) : NULL;
}

static void test_version(void)
{
    router_t *r = router_new(ctx, NULL, capture_send, &cap);
    disco_t *d = disco_new(r, DOMAIN);
    CHECK(basics_register(r, d, "Herald", "0.1.0") == 0);

    dispatch(r, "<iq type='get' id='v1' from='" FROM "' to='" DOMAIN "'>"
                "<query xmlns='jabber:iq:version'/></iq>");
    CHECK(cap.n == 1);
    xmpp_stanza_t *rep = capture_last(&cap);
    CHECK_STR(t_type(rep), "result");
    CHECK_STR(t_id(rep), "v1");
    CHECK_STR(t_to(rep), FROM);
    xmpp_stanza_t *q = t_child_ns(rep, "query", NS_VERSION);
    CHECK(q != NULL);
    char *name = child_text(q, "name"), *ver = child_text(q, "version");
    CHECK_STR(name, "Herald");
    CHECK_STR(ver, "0.1.0");
    xmpp_free(ctx, name);
    xmpp_free(ctx, ver);
    CHECK(q && t_child(q, "os") == NULL);

    /* a JID at the domain is not the software: not answered here */
    dispatch(r, "<iq type='get' id='v2' from='" FROM "' to='u@" DOMAIN "'>"
                "<query xmlns='jabber:iq:version'/></iq>");
    CHECK(cap.n == 2);
    CHECK_STR(error_condition(capture_last(&cap)), "service-unavailable");
    /* set is not defined */
    dispatch(r, "<iq type='set' id='v3' from='" FROM "' to='" DOMAIN "'>"
                "<query xmlns='jabber:iq:version'/></iq>");
    CHECK(cap.n == 3);
    CHECK_STR(error_condition(capture_last(&cap)), "service-unavailable");

    disco_free(d);
    router_free(r);
    capture_clear(&cap);
}

static void test_ping(void)
{
    router_t *r = router_new(ctx, NULL, capture_send, &cap);
    disco_t *d = disco_new(r, DOMAIN);
    basics_register(r, d, "Herald", "0.1.0");
    static const char *const tos[] = {DOMAIN, "node@" DOMAIN, DOMAIN "/r", "n@" DOMAIN "/r"};
    for (size_t i = 0; i < 4; i++) {
        char xml[256];
        snprintf(xml, sizeof(xml),
                 "<iq type='get' id='p%zu' from='" FROM "' to='%s'>"
                 "<ping xmlns='urn:xmpp:ping'/></iq>",
                 i, tos[i]);
        capture_clear(&cap);
        dispatch(r, xml);
        CHECK(cap.n == 1);
        xmpp_stanza_t *rep = capture_last(&cap);
        CHECK_STR(t_type(rep), "result");
        CHECK_STR(t_from(rep), tos[i]);
        CHECK(t_children(rep) == NULL);
    }
    disco_free(d);
    router_free(r);
    capture_clear(&cap);
}

static void test_features(void)
{
    router_t *r = router_new(ctx, NULL, capture_send, &cap);
    disco_t *d = disco_new(r, DOMAIN);
    char before[29];
    snprintf(before, sizeof(before), "%s", disco_caps_ver(d));
    basics_register(r, d, "Herald", "0.1.0");
    CHECK(strcmp(before, disco_caps_ver(d)) != 0);
    dispatch(r, "<iq type='get' id='f' from='" FROM "' to='" DOMAIN "'>"
                "<query xmlns='http://jabber.org/protocol/disco#info'/></iq>");
    xmpp_stanza_t *q = t_child_ns(capture_last(&cap), "query", NS_DISCO_INFO);
    int version = 0, ping = 0;
    for (xmpp_stanza_t *c = q ? t_children(q) : NULL; c; c = t_next(c)) {
        const char *var = t_attr(c, "var");
        version += var && strcmp(var, NS_VERSION) == 0;
        ping += var && strcmp(var, NS_PING) == 0;
    }
    CHECK(version == 1 && ping == 1);
    disco_free(d);
    router_free(r);
    capture_clear(&cap);
}

int main(void)
{
    ctx = xmpp_ctx_new(NULL, NULL);
    cap.ctx = ctx;
    UNIT_RUN(test_version);
    UNIT_RUN(test_ping);
    UNIT_RUN(test_features);
    capture_clear(&cap);
    xmpp_ctx_free(ctx);
    return UNIT_DONE();
}
