/* Error replies per RFC 6120 §8.3: condition table, reply shape, echoed
 * payload, text and application-specific conditions. */
#include "component/ns.h"
#include "component/xmpp_error.h"
#include "tests/unit/unit.h"
#include "tests/unit/stanza_capture.h"

static xmpp_ctx_t *ctx;

static void test_table(void)
{
    /* RFC 6120 §8.3.3, condition by condition. */
    static const struct {
        xerr_t c;
        const char *name, *type;
    } want[] = {
        {XERR_BAD_REQUEST, "bad-request", "modify"},
        {XERR_CONFLICT, "conflict", "cancel"},
        {XERR_FEATURE_NOT_IMPLEMENTED, "feature-not-implemented", "cancel"},
        {XERR_FORBIDDEN, "forbidden", "auth"},
        {XERR_GONE, "gone", "cancel"},
        {XERR_INTERNAL_SERVER_ERROR, "internal-server-error", "cancel"},
        {XERR_ITEM_NOT_FOUND, "item-not-found", "cancel"},
        {XERR_JID_MALFORMED, "jid-malformed", "modify"},
        {XERR_NOT_ACCEPTABLE, "not-acceptable", "modify"},
        {XERR_NOT_ALLOWED, "not-allowed", "cancel"},
        {XERR_NOT_AUTHORIZED, "not-authorized", "auth"},
        {XERR_POLICY_VIOLATION, "policy-violation", "modify"},
        {XERR_RECIPIENT_UNAVAILABLE, "recipient-unavailable", "wait"},
        {XERR_REDIRECT, "redirect", "modify"},
        {XERR_REGISTRATION_REQUIRED, "registration-required", "auth"},
        {XERR_REMOTE_SERVER_NOT_FOUND, "remote-server-not-found", "cancel"},
        {XERR_REMOTE_SERVER_TIMEOUT, "remote-server-timeout", "wait"},
        {XERR_RESOURCE_CONSTRAINT, "resource-constraint", "wait"},
        {XERR_SERVICE_UNAVAILABLE, "service-unavailable", "cancel"},
        {XERR_SUBSCRIPTION_REQUIRED, "subscription-required", "auth"},
        {XERR_UNDEFINED_CONDITION, "undefined-condition", "cancel"},
        {XERR_UNEXPECTED_REQUEST, "unexpected-request", "wait"},
    };
    CHECK(sizeof(want) / sizeof(want[0]) == XERR_COUNT_ - 1);
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        CHECK_STR(xerr_name(want[i].c), want[i].name);
        CHECK_STR(xerr_default_type(want[i].c), want[i].type);
    }
    CHECK(xerr_name(XERR_NONE) == NULL);
    CHECK(xerr_name(XERR_COUNT_) == NULL);
    CHECK(xerr_name((xerr_t)-3) == NULL);
}

static const char *iq_get = "<iq type='get' id='q1' from='juliet@capulet.lit/balcony' "
                            "to='pubsub.shakespeare.lit'>"
                            "<pubsub xmlns='http://jabber.org/protocol/pubsub'>"
                            "<items node='princely_musings'/></pubsub></iq>";

static void test_iq_reply_shape(void)
{
    xmpp_stanza_t *orig = fixture(ctx, iq_get);
    xmpp_stanza_t *rep = xerr_reply_cond(ctx, orig, XERR_ITEM_NOT_FOUND);
    CHECK(rep != NULL);
    CHECK_STR(t_name(rep), "iq");
    CHECK_STR(t_type(rep), "error");
    CHECK_STR(t_id(rep), "q1");
    CHECK_STR(t_to(rep), "juliet@capulet.lit/balcony");
    CHECK_STR(t_from(rep), "pubsub.shakespeare.lit");

    /* children: the echoed payload first, then <error/> */
    xmpp_stanza_t *first = t_children(rep);
    CHECK_STR(t_name(first), "pubsub");
    CHECK_STR(t_ns(first), NS_PUBSUB);
    xmpp_stanza_t *items = t_child(first, "items");
    CHECK(items != NULL);
    CHECK_STR(t_attr(items, "node"), "princely_musings");
    /* a copy, not the original element */
    CHECK(first != t_children(orig));
    xmpp_stanza_t *err = t_next(first);
    CHECK_STR(t_name(err), "error");
    CHECK_STR(t_type(err), "cancel");
    xmpp_stanza_t *cond = t_children(err);
    CHECK_STR(t_name(cond), "item-not-found");
    CHECK_STR(t_ns(cond), NS_STANZAS);
    CHECK(t_next(cond) == NULL);
    CHECK(t_children(cond) == NULL);

    /* the serialized form is what goes on the wire */
    const char *xml = stanza_text(rep);
    CHECK(strstr(xml, "<item-not-found xmlns=\"urn:ietf:params:xml:ns:xmpp-stanzas\"/>") != NULL);
    CHECK(strstr(xml, "<error type=\"cancel\">") != NULL);
    CHECK(strstr(xml, "<pubsub xmlns=\"http://jabber.org/protocol/pubsub\">") != NULL);
    xmpp_stanza_release(rep);

    /* the original is unchanged */
    CHECK_STR(t_type(orig), "get");
    CHECK_STR(t_to(orig), "pubsub.shakespeare.lit");
    xmpp_stanza_release(orig);
}

static void test_full_spec(void)
{
    xmpp_stanza_t *orig = fixture(ctx, iq_get);
    xerr_spec_t spec = {
        .cond = XERR_FEATURE_NOT_IMPLEMENTED,
        .app_cond = "unsupported",
        .app_ns = NS_PUBSUB_ERRORS,
        .app_feature = "retrieve-items",
        .text = "no <items> & such",
    };
    xmpp_stanza_t *rep = xerr_reply(ctx, orig, &spec);
    xmpp_stanza_t *err = t_child(rep, "error");
    CHECK_STR(t_type(err), "cancel");
    xmpp_stanza_t *c = t_children(err);
    CHECK_STR(t_name(c), "feature-not-implemented");
    CHECK_STR(t_ns(c), NS_STANZAS);
    c = t_next(c);
    CHECK_STR(t_name(c), "text");
    CHECK_STR(t_ns(c), NS_STANZAS);
    CHECK_STR(t_text_ptr(t_children(c)), "no <items> & such");
    c = t_next(c);
    CHECK_STR(t_name(c), "unsupported");
    CHECK_STR(t_ns(c), NS_PUBSUB_ERRORS);
    CHECK_STR(t_attr(c, "feature"), "retrieve-items");
    CHECK(t_next(c) == NULL);
    const char *xml = stanza_text(rep);
    CHECK(strstr(xml, "no &lt;items&gt; &amp; such") != NULL);
    xmpp_stanza_release(rep);

    /* app condition without feature, type override */
    xerr_spec_t spec2 = {.cond = XERR_BAD_REQUEST,
                         .type = "cancel",
                         .app_cond = "invalid-jid",
                         .app_ns = NS_PUBSUB_ERRORS};
    rep = xerr_reply(ctx, orig, &spec2);
    err = t_child(rep, "error");
    CHECK_STR(t_type(err), "cancel");
    c = t_child_ns(err, "invalid-jid", NS_PUBSUB_ERRORS);
    CHECK(c != NULL && t_attr(c, "feature") == NULL);
    CHECK(t_child(err, "text") == NULL);
    xmpp_stanza_release(rep);

    /* XERR_NONE is a caller bug; still a valid error */
    xerr_spec_t none = {0};
    rep = xerr_reply(ctx, orig, &none);
    CHECK_STR(error_condition(rep), "undefined-condition");
    xmpp_stanza_release(rep);
    xmpp_stanza_release(orig);
}

static void test_never_answered(void)
{
    static const char *const no[] = {
        "<iq type='error' id='e' from='a@b' to='c'><error type='cancel'/></iq>",
        "<iq type='result' id='r' from='a@b' to='c'/>",
        "<message type='error' from='a@b' to='c'><error type='cancel'/></message>",
        "<presence type='error' from='a@b' to='c'/>",
    };
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        xmpp_stanza_t *s = fixture(ctx, no[i]);
        CHECK(xerr_reply_cond(ctx, s, XERR_BAD_REQUEST) == NULL);
        xmpp_stanza_release(s);
    }
}

static void test_message_and_presence(void)
{
    xmpp_stanza_t *m = fixture(ctx, "<message id='m' type='chat' from='a@b/c' "
                                    "to='svc.d'><body>hello</body></message>");
    xmpp_stanza_t *rep = xerr_reply_cond(ctx, m, XERR_NOT_ACCEPTABLE);
    CHECK_STR(t_name(rep), "message");
    CHECK_STR(t_type(rep), "error");
    CHECK_STR(t_id(rep), "m");
    CHECK_STR(t_to(rep), "a@b/c");
    CHECK_STR(error_condition(rep), "not-acceptable");
    CHECK_STR(error_type(rep), "modify");
    CHECK(t_child(rep, "body") == NULL);
    xmpp_stanza_release(rep);
    xmpp_stanza_release(m);

    /* no id on the original: none on the reply */
    xmpp_stanza_t *p = fixture(ctx, "<presence type='subscribe' from='a@b' to='svc.d'/>");
    rep = xerr_reply_cond(ctx, p, XERR_FORBIDDEN);
    CHECK_STR(t_name(rep), "presence");
    CHECK(t_id(rep) == NULL);
    CHECK_STR(error_type(rep), "auth");
    xmpp_stanza_release(rep);
    xmpp_stanza_release(p);
}

int main(void)
{
    ctx = xmpp_ctx_new(NULL, NULL);
    UNIT_RUN(test_table);
    UNIT_RUN(test_iq_reply_shape);
    UNIT_RUN(test_full_spec);
    UNIT_RUN(test_never_answered);
    UNIT_RUN(test_message_and_presence);
    xmpp_ctx_free(ctx);
    return UNIT_DONE();
}
