#include "tests/unit/unit.h"
#include "tests/unit/ps_util.h"

#include "component/ns.h"
#include "pubsub/request.h"

#define PS "<pubsub xmlns='http://jabber.org/protocol/pubsub'>"
#define OWN "<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'>"
#define END "</pubsub>"
#define ENTRY "<entry xmlns='http://www.w3.org/2005/Atom'><title>t</title></entry>"

/* Parses an IQ and keeps it alive in *st for the borrowed pointers. */
static int run(const char *type, const char *inner, ps_request_t *req, xmpp_stanza_t **st)
{
    xerr_spec_t err = {0};
    *st = iq(type, inner);
    return ps_request_parse(*st, req, &err);
}

/* Releases what run() returned. */
static void done(ps_request_t *req, xmpp_stanza_t *st)
{
    ps_request_clear(req);
    xmpp_stanza_release(st);
}

/* Expects the request to be refused with exactly cond + app. */
static void refused_from(const char *from, const char *type, const char *inner, xerr_t cond,
                         const char *app, const char *feature, int line)
{
    ps_request_t req;
    xerr_spec_t err = {0};
    xmpp_stanza_t *st = iq_from(type, from, inner);
    int rc = ps_request_parse(st, &req, &err);
    int before = unit_failed;
    CHECK_ERR(rc, err, cond, app);
    if (feature)
        CHECK_STR(err.app_feature, feature);
    /* A refused request holds nothing. */
    CHECK(req.from_bare == NULL && req.jid == NULL && req.item_ids == NULL);
    if (unit_failed != before)
        fprintf(stderr, "  (case at line %d)\n", line);
    ps_request_clear(&req);
    xmpp_stanza_release(st);
}

#define REFUSED(type, inner, cond, app)                                                            \
    refused_from("alice@example.org/phone", type, inner, cond, app, NULL, __LINE__)
#define UNSUPPORTED(type, inner, feature)                                                          \
    refused_from("alice@example.org/phone", type, inner, XERR_FEATURE_NOT_IMPLEMENTED,             \
                 "unsupported", feature, __LINE__)

static void test_create(void)
{
    ps_request_t r;
    xmpp_stanza_t *st;

    CHECK(run("set", PS "<create node='princely_musings'/>" END, &r, &st) == 0);
    CHECK(r.verb == PS_REQ_CREATE);
    CHECK_STR(r.node, "princely_musings");
    CHECK_STR(r.from, "alice@example.org/phone");
    CHECK_STR(r.from_bare, "alice@example.org");
    CHECK(r.form == NULL);
    done(&r, st);

    /* §8.1.2 instant node: no NodeID. */
    CHECK(run("set", PS "<create/>" END, &r, &st) == 0);
    CHECK(r.verb == PS_REQ_CREATE && r.node == NULL);
    done(&r, st);

    /* §8.1.3 create-and-configure. */
    CHECK(run("set",
              PS "<create node='n'/><configure><x xmlns='jabber:x:data' "
                 "type='submit'/></configure>" END,
              &r, &st) == 0);
    CHECK(r.form != NULL);
    CHECK_STR(xmpp_stanza_get_name(r.form), "x");
    done(&r, st);
    CHECK(run("set", PS "<create node='n'/><configure/>" END, &r, &st) == 0);
    CHECK(r.form == NULL);
    done(&r, st);

    REFUSED("get", PS "<create node='n'/>" END, XERR_BAD_REQUEST, NULL);
    REFUSED("set", PS "<create node='n'/><configure node='n'/>" END, XERR_BAD_REQUEST, NULL);
    REFUSED("set", PS "<configure/><create node='n'/>" END, XERR_BAD_REQUEST, NULL);
    REFUSED("set", PS "<create node='n'/><items node='n'/>" END, XERR_BAD_REQUEST, NULL);
}

static void test_subscribe(void)
{
    ps_request_t r;
    xmpp_stanza_t *st;

    CHECK(run("set", PS "<subscribe node='n' jid='alice@example.org'/>" END, &r, &st) == 0);
    CHECK(r.verb == PS_REQ_SUBSCRIBE);
    CHECK_STR(r.node, "n");
    CHECK_STR(r.jid, "alice@example.org");
    done(&r, st);

    /* A full JID of one's own, in another case, is one's own. */
    CHECK(run("set", PS "<subscribe node='n' jid='Alice@Example.ORG/Other'/>" END, &r, &st) == 0);
    CHECK_STR(r.jid, "alice@example.org/Other");
    done(&r, st);

    /* §6.1.3.1 JIDs do not match. */
    REFUSED("set", PS "<subscribe node='n' jid='bernardo@example.org'/>" END, XERR_BAD_REQUEST,
            "invalid-jid");
    REFUSED("set", PS "<subscribe node='n' jid='alice@other.example'/>" END, XERR_BAD_REQUEST,
            "invalid-jid");
    REFUSED("set", PS "<subscribe node='n' jid='a@@b'/>" END, XERR_BAD_REQUEST, "invalid-jid");
    REFUSED("set", PS "<subscribe jid='alice@example.org'/>" END, XERR_BAD_REQUEST,
            "nodeid-required");
    REFUSED("set", PS "<subscribe node='' jid='alice@example.org'/>" END, XERR_BAD_REQUEST,
            "nodeid-required");
    REFUSED("set", PS "<subscribe node='n'/>" END, XERR_BAD_REQUEST, "jid-required");
    REFUSED("get", PS "<subscribe node='n' jid='alice@example.org'/>" END, XERR_BAD_REQUEST, NULL);
    /* §6.3: subscription options are not offered. */
    UNSUPPORTED("set",
                PS "<subscribe node='n' jid='alice@example.org'/>"
                   "<options/>" END,
                "subscription-options");
    UNSUPPORTED("get", PS "<options node='n' jid='alice@example.org'/>" END,
                "subscription-options");
    UNSUPPORTED("set", PS "<options node='n' jid='alice@example.org'/>" END,
                "subscription-options");
    /* §6.4: nor default subscription options. */
    UNSUPPORTED("get", PS "<default/>" END, "retrieve-default-sub");
}

static void test_unsubscribe(void)
{
    ps_request_t r;
    xmpp_stanza_t *st;
    CHECK(run("set", PS "<unsubscribe node='n' jid='bob@example.org' subid='x1'/>" END, &r, &st) ==
          0);
    CHECK(r.verb == PS_REQ_UNSUBSCRIBE);
    /* Whose JID it is, is the model's question (forbidden, §6.2.3.3). */
    CHECK_STR(r.jid, "bob@example.org");
    CHECK_STR(r.subid, "x1");
    done(&r, st);

    REFUSED("set", PS "<unsubscribe jid='alice@example.org'/>" END, XERR_BAD_REQUEST,
            "nodeid-required");
    REFUSED("set", PS "<unsubscribe node='n'/>" END, XERR_BAD_REQUEST, "jid-required");
    REFUSED("set", PS "<unsubscribe node='n' jid='@x'/>" END, XERR_BAD_REQUEST, "invalid-jid");
}

static void test_publish(void)
{
    ps_request_t r;
    xmpp_stanza_t *st;

    CHECK(run("set", PS "<publish node='blog'><item id='i1'>" ENTRY "</item></publish>" END, &r,
              &st) == 0);
    CHECK(r.verb == PS_REQ_PUBLISH);
    CHECK_STR(r.node, "blog");
    CHECK_STR(r.item_id, "i1");
    CHECK(r.item != NULL && r.payload != NULL);
    CHECK_STR(xmpp_stanza_get_name(r.payload), "entry");
    CHECK_STR(xmpp_stanza_get_ns(r.payload), NS_ATOM);
    CHECK(r.form == NULL);
    done(&r, st);

    /* No id (the service generates one), whitespace around the payload. */
    CHECK(run("set",
              PS "<publish node='blog'><item>\n  " ENTRY "\n</item></publish>"
                 "<publish-options><x xmlns='jabber:x:data' type='submit'/>"
                 "</publish-options>" END,
              &r, &st) == 0);
    CHECK(r.item_id == NULL && r.payload != NULL && r.form != NULL);
    done(&r, st);

    /* No item (transient notification node); empty item. */
    CHECK(run("set", PS "<publish node='blog'/>" END, &r, &st) == 0);
    CHECK(r.item == NULL && r.payload == NULL);
    done(&r, st);
    CHECK(run("set", PS "<publish node='blog'><item id=''/></publish>" END, &r, &st) == 0);
    CHECK(r.item != NULL && r.item_id == NULL && r.payload == NULL);
    done(&r, st);

    REFUSED("set", PS "<publish><item>" ENTRY "</item></publish>" END, XERR_BAD_REQUEST,
            "nodeid-required");
    REFUSED("set",
            PS "<publish node='b'><item id='1'>" ENTRY "</item><item id='2'>" ENTRY
               "</item></publish>" END,
            XERR_BAD_REQUEST, "invalid-payload");
    REFUSED("set", PS "<publish node='b'><item id='1'>" ENTRY ENTRY "</item></publish>" END,
            XERR_BAD_REQUEST, "invalid-payload");
    REFUSED("set", PS "<publish node='b'><entry/></publish>" END, XERR_BAD_REQUEST, NULL);
    REFUSED("set", PS "<publish node='b'/><retract node='b'/>" END, XERR_BAD_REQUEST, NULL);
    REFUSED("get", PS "<publish node='b'/>" END, XERR_BAD_REQUEST, NULL);
}

static void test_retract(void)
{
    ps_request_t r;
    xmpp_stanza_t *st;
    CHECK(run("set",
              PS "<retract node='b' notify='true'><item id='a'/><item id='b'/>"
                 "</retract>" END,
              &r, &st) == 0);
    CHECK(r.verb == PS_REQ_RETRACT && r.notify);
    CHECK(r.n_item_ids == 2);
    CHECK_STR(r.item_ids[0], "a");
    CHECK_STR(r.item_ids[1], "b");
    done(&r, st);

    CHECK(run("set", PS "<retract node='b' notify='1'><item id='a'/></retract>" END, &r, &st) == 0);
    CHECK(r.notify);
    done(&r, st);
    CHECK(run("set", PS "<retract node='b'><item id='a'/></retract>" END, &r, &st) == 0);
    CHECK(!r.notify);
    done(&r, st);

    /* §7.2.3.3, §7.2.3.4 */
    REFUSED("set", PS "<retract><item id='a'/></retract>" END, XERR_BAD_REQUEST, "nodeid-required");
    REFUSED("set", PS "<retract node='b'/>" END, XERR_BAD_REQUEST, "item-required");
    REFUSED("set", PS "<retract node='b'><item/></retract>" END, XERR_BAD_REQUEST, "item-required");
    REFUSED("set", PS "<retract node='b'><item id='a'/><item/></retract>" END, XERR_BAD_REQUEST,
            "item-required");
    REFUSED("set", PS "<retract node='b' notify='yes'><item id='a'/></retract>" END,
            XERR_BAD_REQUEST, NULL);
}

static void test_items(void)
{
    ps_request_t r;
    xmpp_stanza_t *st;
    CHECK(run("get", PS "<items node='b'/>" END, &r, &st) == 0);
    CHECK(r.verb == PS_REQ_ITEMS && r.max_items == 0 && r.n_item_ids == 0);
    done(&r, st);

    CHECK(run("get", PS "<items node='b' max_items='2' subid='s'/>" END, &r, &st) == 0);
    CHECK(r.max_items == 2);
    CHECK_STR(r.subid, "s");
    done(&r, st);

    CHECK(run("get", PS "<items node='b'><item id='x'/><item id='y'/></items>" END, &r, &st) == 0);
    CHECK(r.n_item_ids == 2);
    CHECK_STR(r.item_ids[1], "y");
    done(&r, st);

    REFUSED("get", PS "<items/>" END, XERR_BAD_REQUEST, "nodeid-required");
    REFUSED("get", PS "<items node='b' max_items='0'/>" END, XERR_BAD_REQUEST, NULL);
    REFUSED("get", PS "<items node='b' max_items='ten'/>" END, XERR_BAD_REQUEST, NULL);
    REFUSED("get", PS "<items node='b' max_items='4294967296'/>" END, XERR_BAD_REQUEST, NULL);
    REFUSED("get", PS "<items node='b'><item/></items>" END, XERR_BAD_REQUEST, NULL);
    REFUSED("set", PS "<items node='b'/>" END, XERR_BAD_REQUEST, NULL);
}

static void test_entity_lists(void)
{
    ps_request_t r;
    xmpp_stanza_t *st;
    CHECK(run("get", PS "<subscriptions/>" END, &r, &st) == 0);
    CHECK(r.verb == PS_REQ_SUBSCRIPTIONS && r.node == NULL);
    done(&r, st);
    CHECK(run("get", PS "<affiliations node='n6'/>" END, &r, &st) == 0);
    CHECK(r.verb == PS_REQ_AFFILIATIONS);
    CHECK_STR(r.node, "n6");
    done(&r, st);
    REFUSED("set", PS "<subscriptions/>" END, XERR_BAD_REQUEST, NULL);
}

static void test_owner(void)
{
    ps_request_t r;
    xmpp_stanza_t *st;

    CHECK(run("get", OWN "<configure node='n'/>" END, &r, &st) == 0);
    CHECK(r.verb == PS_REQ_CONFIGURE_GET);
    done(&r, st);
    CHECK(run("set",
              OWN "<configure node='n'><x xmlns='jabber:x:data' type='cancel'/>"
                  "</configure>" END,
              &r, &st) == 0);
    CHECK(r.verb == PS_REQ_CONFIGURE_SET && r.form != NULL);
    done(&r, st);
    CHECK(run("get", OWN "<default/>" END, &r, &st) == 0);
    CHECK(r.verb == PS_REQ_DEFAULT);
    done(&r, st);
    CHECK(run("set", OWN "<delete node='n'><redirect uri='xmpp:x?;node=y'/></delete>" END, &r,
              &st) == 0);
    CHECK(r.verb == PS_REQ_DELETE);
    CHECK_STR(r.redirect_uri, "xmpp:x?;node=y");
    done(&r, st);
    CHECK(run("set", OWN "<purge node='n'/>" END, &r, &st) == 0);
    CHECK(r.verb == PS_REQ_PURGE && r.redirect_uri == NULL);
    done(&r, st);

    /* §8.2.3.3 and friends: NodeID required. */
    REFUSED("get", OWN "<configure/>" END, XERR_BAD_REQUEST, "nodeid-required");
    REFUSED("set", OWN "<delete/>" END, XERR_BAD_REQUEST, "nodeid-required");
    REFUSED("set", OWN "<purge/>" END, XERR_BAD_REQUEST, "nodeid-required");
    REFUSED("get", OWN "<subscriptions/>" END, XERR_BAD_REQUEST, "nodeid-required");
    REFUSED("get", OWN "<affiliations/>" END, XERR_BAD_REQUEST, "nodeid-required");
    REFUSED("set", OWN "<configure node='n'/>" END, XERR_BAD_REQUEST, NULL);
    REFUSED("set", OWN "<default/>" END, XERR_BAD_REQUEST, NULL);
    REFUSED("get", OWN "<delete node='n'/>" END, XERR_BAD_REQUEST, NULL);
    REFUSED("get", OWN "<purge node='n'/>" END, XERR_BAD_REQUEST, NULL);
    REFUSED("set", OWN "<delete node='n'><redirect/></delete>" END, XERR_BAD_REQUEST, NULL);
    REFUSED("set", OWN "<publish node='n'/>" END, XERR_BAD_REQUEST, NULL);
    REFUSED("set", OWN "<purge node='n'/><delete node='n'/>" END, XERR_BAD_REQUEST, NULL);
}

static void test_owner_lists(void)
{
    ps_request_t r;
    xmpp_stanza_t *st;

    CHECK(run("set",
              OWN "<subscriptions node='n'>"
                  "<subscription jid='bard@shakespeare.lit' subscription='subscribed'/>"
                  "<subscription jid='Polonius@Denmark.lit/x' subid='s1'/>"
                  "</subscriptions>" END,
              &r, &st) == 0);
    CHECK(r.verb == PS_REQ_OWNER_SUBSCRIPTIONS_SET && r.n_sub_changes == 2);
    CHECK_STR(r.sub_changes[0].jid, "bard@shakespeare.lit");
    CHECK(r.sub_changes[0].has_state && r.sub_changes[0].state == PS_SUB_SUBSCRIBED);
    CHECK_STR(r.sub_changes[1].jid, "polonius@denmark.lit/x");
    CHECK(!r.sub_changes[1].has_state);
    CHECK_STR(r.sub_changes[1].subid, "s1");
    done(&r, st);

    CHECK(run("set",
              OWN "<affiliations node='n'>"
                  "<affiliation jid='bard@shakespeare.lit/r' affiliation='publisher'/>"
                  "<affiliation jid='hamlet@denmark.lit' affiliation='none'/>"
                  "</affiliations>" END,
              &r, &st) == 0);
    CHECK(r.verb == PS_REQ_OWNER_AFFILIATIONS_SET && r.n_aff_changes == 2);
    CHECK_STR(r.aff_changes[0].jid, "bard@shakespeare.lit");
    CHECK(r.aff_changes[0].affiliation == PS_AFF_PUBLISHER);
    CHECK(r.aff_changes[1].affiliation == PS_AFF_NONE);
    done(&r, st);

    CHECK(run("get", OWN "<affiliations node='n'/>" END, &r, &st) == 0);
    CHECK(r.verb == PS_REQ_OWNER_AFFILIATIONS_GET && r.n_aff_changes == 0);
    done(&r, st);

    REFUSED("set", OWN "<subscriptions node='n'/>" END, XERR_BAD_REQUEST, NULL);
    REFUSED("set",
            OWN "<subscriptions node='n'><subscription subscription='none'/>"
                "</subscriptions>" END,
            XERR_BAD_REQUEST, "jid-required");
    REFUSED("set",
            OWN "<subscriptions node='n'><subscription jid='a@b' "
                "subscription='maybe'/></subscriptions>" END,
            XERR_BAD_REQUEST, NULL);
    REFUSED("set",
            OWN "<subscriptions node='n'><subscription jid='a@b' "
                "subscription='none'/><subscription jid='A@B' "
                "subscription='subscribed'/></subscriptions>" END,
            XERR_BAD_REQUEST, NULL);
    REFUSED("set",
            OWN "<affiliations node='n'><affiliation jid='a@b' "
                "affiliation='king'/></affiliations>" END,
            XERR_BAD_REQUEST, NULL);
    REFUSED("set", OWN "<affiliations node='n'><affiliation jid='a@b'/></affiliations>" END,
            XERR_BAD_REQUEST, NULL);
    REFUSED("set",
            OWN "<affiliations node='n'><affiliation affiliation='owner'/>"
                "</affiliations>" END,
            XERR_BAD_REQUEST, "jid-required");
    REFUSED("set",
            OWN "<affiliations node='n'><affiliation jid='a@@b' "
                "affiliation='owner'/></affiliations>" END,
            XERR_BAD_REQUEST, "invalid-jid");
    /* §8.9.2.5: one <affiliation/> per entity (bare JIDs compared). */
    REFUSED("set",
            OWN "<affiliations node='n'><affiliation jid='a@b/x' "
                "affiliation='owner'/><affiliation jid='A@b' "
                "affiliation='none'/></affiliations>" END,
            XERR_BAD_REQUEST, NULL);
}

static void test_envelope(void)
{
    REFUSED("result", PS "<items node='b'/>" END, XERR_BAD_REQUEST, NULL);
    REFUSED("error", PS "<items node='b'/>" END, XERR_BAD_REQUEST, NULL);
    REFUSED("get", "<query xmlns='http://jabber.org/protocol/disco#info'/>", XERR_BAD_REQUEST,
            NULL);
    REFUSED("get",
            "<pubsub xmlns='http://jabber.org/protocol/pubsub#event'>"
            "<items node='b'/></pubsub>",
            XERR_BAD_REQUEST, NULL);
    REFUSED("get", PS END, XERR_BAD_REQUEST, NULL);
    REFUSED("get", PS "<frobnicate/>" END, XERR_BAD_REQUEST, NULL);
    REFUSED("get", PS "<items node='b'/><items node='c'/>" END, XERR_BAD_REQUEST, NULL);
    REFUSED("get", PS "<items xmlns='urn:other' node='b'/>" END, XERR_BAD_REQUEST, NULL);
    refused_from("not a jid@", "get", PS "<items node='b'/>" END, XERR_BAD_REQUEST, NULL, NULL,
                 __LINE__);

    xmpp_stanza_t *st = parse("<iq type='get' id='1'>" PS "<items node='b'/>" END "</iq>");
    ps_request_t r;
    xerr_spec_t err = {0};
    CHECK_ERR(ps_request_parse(st, &r, &err), err, XERR_BAD_REQUEST, NULL);
    done(&r, st);

    CHECK_STR(ps_verb_name(PS_REQ_OWNER_AFFILIATIONS_SET), "owner-affiliations-set");
    CHECK_STR(ps_verb_name((ps_verb_t)999), "unknown");
}

int main(void)
{
    ctx = xmpp_ctx_new(NULL, NULL);
    UNIT_RUN(test_create);
    UNIT_RUN(test_subscribe);
    UNIT_RUN(test_unsubscribe);
    UNIT_RUN(test_publish);
    UNIT_RUN(test_retract);
    UNIT_RUN(test_items);
    UNIT_RUN(test_entity_lists);
    UNIT_RUN(test_owner);
    UNIT_RUN(test_owner_lists);
    UNIT_RUN(test_envelope);
    xmpp_ctx_free(ctx);
    return UNIT_DONE();
}
