#include "tests/unit/unit.h"
#include "tests/unit/ps_util.h"

#include "component/ns.h"
#include "pubsub/atom.h"
#include "pubsub/notify.h"
#include "pubsub/request.h"

static ps_config_defaults_t defs;

static void test_is_entry(void)
{
    xmpp_stanza_t *s = parse("<entry xmlns='http://www.w3.org/2005/Atom'/>");
    CHECK(ps_atom_is_entry(s));
    xmpp_stanza_release(s);
    s = parse("<a:entry xmlns:a='http://www.w3.org/2005/Atom'><a:id>x</a:id>"
              "</a:entry>");
    CHECK(ps_atom_is_entry(s));
    xmpp_stanza_release(s);
    s = parse("<entry xmlns='urn:not-atom'/>");
    CHECK(!ps_atom_is_entry(s));
    xmpp_stanza_release(s);
    s = parse("<feed xmlns='http://www.w3.org/2005/Atom'/>");
    CHECK(!ps_atom_is_entry(s));
    xmpp_stanza_release(s);
    s = parse("<entry/>");
    CHECK(!ps_atom_is_entry(s));
    xmpp_stanza_release(s);
    CHECK(!ps_atom_is_entry(NULL));
}

static int check(const ps_node_config_t *cfg, const char *xml, size_t len, xerr_spec_t *err)
{
    xmpp_stanza_t *s = xml ? parse(xml) : NULL;
    *err = (xerr_spec_t){0};
    int rc = ps_payload_check(cfg, s, len, err);
    if (s)
        xmpp_stanza_release(s);
    return rc;
}

static void test_payload_check(void)
{
    ps_node_config_t cfg = defs.node;
    xerr_spec_t err;
    const char *entry = "<entry xmlns='http://www.w3.org/2005/Atom'/>";

    /* No pubsub#type: any payload. */
    CHECK(check(&cfg, "<tune xmlns='http://jabber.org/protocol/tune'/>", 10, &err) == 0);
    CHECK(check(&cfg, NULL, 0, &err) == 0);

    /* Atom node: one entry, nothing else (§7.1.3.5 bad payload). */
    cfg.type = NS_ATOM;
    CHECK(check(&cfg, entry, 40, &err) == 0);
    CHECK_ERR(check(&cfg, "<feed xmlns='http://www.w3.org/2005/Atom'/>", 40, &err), err,
              XERR_BAD_REQUEST, "invalid-payload");
    CHECK_ERR(check(&cfg, "<entry xmlns='urn:x'/>", 40, &err), err, XERR_BAD_REQUEST,
              "invalid-payload");
    CHECK_ERR(check(&cfg, "<tune xmlns='http://jabber.org/protocol/tune'/>", 40, &err), err,
              XERR_BAD_REQUEST, "invalid-payload");

    /* Other types: the payload namespace must match. */
    cfg.type = "http://jabber.org/protocol/tune";
    CHECK(check(&cfg, "<tune xmlns='http://jabber.org/protocol/tune'/>", 40, &err) == 0);
    CHECK_ERR(check(&cfg, entry, 40, &err), err, XERR_BAD_REQUEST, "invalid-payload");

    /* §7.1.3.4 payload too big: the limit itself passes. */
    cfg.type = "";
    cfg.max_payload_size = 100;
    CHECK(check(&cfg, entry, 100, &err) == 0);
    CHECK_ERR(check(&cfg, entry, 101, &err), err, XERR_NOT_ACCEPTABLE, "payload-too-big");
    /* Validity is judged before size. */
    cfg.type = NS_ATOM;
    CHECK_ERR(check(&cfg, "<feed xmlns='http://www.w3.org/2005/Atom'/>", 5000, &err), err,
              XERR_BAD_REQUEST, "invalid-payload");
}

/* The wiring's sequence: parse, serialize once, check the size of what
 * will be stored and sent. */
static void test_publish_flow(void)
{
    ps_node_config_t cfg = defs.node;
    cfg.type = NS_ATOM;
    xmpp_stanza_t *st =
        iq("set", "<pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='b'>"
                  "<item><entry xmlns='http://www.w3.org/2005/Atom'><title>Soliloquy"
                  "</title><summary>To be, or not to be</summary></entry></item>"
                  "</publish></pubsub>");
    ps_request_t r;
    xerr_spec_t err = {0};
    CHECK(ps_request_parse(st, &r, &err) == 0);
    ps_buf_t text = {0};
    CHECK(ps_payload_serialize(r.payload, &text) == 0);
    CHECK(ps_payload_check(&cfg, r.payload, text.len, &err) == 0);
    cfg.max_payload_size = (uint32_t)text.len - 1;
    CHECK_ERR(ps_payload_check(&cfg, r.payload, text.len, &err), err, XERR_NOT_ACCEPTABLE,
              "payload-too-big");
    ps_buf_free(&text);
    ps_request_clear(&r);
    xmpp_stanza_release(st);
}

int main(void)
{
    ctx = xmpp_ctx_new(NULL, NULL);
    ps_config_defaults_init(&defs);
    UNIT_RUN(test_is_entry);
    UNIT_RUN(test_payload_check);
    UNIT_RUN(test_publish_flow);
    ps_config_defaults_clear(&defs);
    xmpp_ctx_free(ctx);
    return UNIT_DONE();
}
