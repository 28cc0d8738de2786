#include "tests/unit/unit.h"
#include "tests/unit/ps_util.h"

#include "component/ns.h"
#include "pubsub/node_config.h"
#include "pubsub/xdata.h"

static ps_config_defaults_t defs;

/* <x type=`type`> with FORM_TYPE `ft` (NULL: none) and `fields`. */
static xmpp_stanza_t *form(const char *type, const char *ft, const char *fields)
{
    char buf[8192];
    char ftf[256] = "";
    if (ft)
        snprintf(ftf, sizeof ftf,
                 "<field var='FORM_TYPE' type='hidden'><value>%s</value>"
                 "</field>",
                 ft);
    snprintf(buf, sizeof buf, "<x xmlns='jabber:x:data' type='%s'>%s%s</x>", type, ftf, fields);
    return parse(buf);
}

static xmpp_stanza_t *submit(const char *fields)
{
    return form("submit", PS_NS_NODE_CONFIG, fields);
}

/* Applies one submitted form to a fresh copy of the defaults. */
static int apply_to_defaults(const char *fields, ps_node_config_t *cfg, xerr_spec_t *err)
{
    xmpp_stanza_t *x = submit(fields);
    ps_config_copy(cfg, &defs.node);
    *err = (xerr_spec_t){0};
    int rc = ps_config_apply_form(cfg, &defs, x, err);
    xmpp_stanza_release(x);
    return rc;
}

/* Expects `fields` to be refused with cond/app and the config untouched. */
static void refused(const char *fields, xerr_t cond, const char *app)
{
    ps_node_config_t cfg;
    xerr_spec_t err;
    int rc = apply_to_defaults(fields, &cfg, &err);
    CHECK_ERR(rc, err, cond, app);
    CHECK(err.text != NULL);
    CHECK(cfg.max_items == defs.node.max_items);
    CHECK_STR(cfg.title, "");
    CHECK(cfg.access == defs.node.access);
    ps_config_clear(&cfg);
}

static void test_defaults(void)
{
    const ps_node_config_t *c = &defs.node;
    CHECK(c->access == PS_ACCESS_OPEN);
    CHECK(c->publish == PS_PUBLISH_PUBLISHERS);
    CHECK(c->persist_items && c->deliver_payloads && c->deliver_notifications);
    CHECK(c->notify_retract && c->notify_delete);
    CHECK(c->send_last == PS_SEND_LAST_ON_SUB);
    CHECK(c->max_items == 256);
    CHECK(c->max_payload_size == 64 * 1024);
    CHECK_STR(c->title, "");
    CHECK_STR(c->type, "");
    CHECK(ps_config_item_limit(c, &defs) == 256);
    ps_node_config_t m = *c;
    m.max_items = PS_MAX_ITEMS_MAX;
    CHECK(ps_config_item_limit(&m, &defs) == defs.max_items_limit);
}

/* XEP-0060 §8.1.3's create-and-configure example: every field either
 * honoured, at its fixed value, or ignored (item_expire, body_xslt). */
static void test_apply_xep_example(void)
{
    ps_node_config_t cfg;
    xerr_spec_t err;
    int rc = apply_to_defaults(
        "<field var='pubsub#title'><value>Princely Musings (Atom)</value></field>"
        "<field var='pubsub#deliver_notifications'><value>1</value></field>"
        "<field var='pubsub#deliver_payloads'><value>1</value></field>"
        "<field var='pubsub#persist_items'><value>1</value></field>"
        "<field var='pubsub#max_items'><value>10</value></field>"
        "<field var='pubsub#item_expire'><value>604800</value></field>"
        "<field var='pubsub#access_model'><value>open</value></field>"
        "<field var='pubsub#publish_model'><value>publishers</value></field>"
        "<field var='pubsub#purge_offline'><value>0</value></field>"
        "<field var='pubsub#send_last_published_item'><value>never</value></field>"
        "<field var='pubsub#presence_based_delivery'><value>false</value></field>"
        "<field var='pubsub#notification_type'><value>headline</value></field>"
        "<field var='pubsub#notify_config'><value>0</value></field>"
        "<field var='pubsub#notify_delete'><value>0</value></field>"
        "<field var='pubsub#notify_retract'><value>0</value></field>"
        "<field var='pubsub#notify_sub'><value>0</value></field>"
        "<field var='pubsub#max_payload_size'><value>1028</value></field>"
        "<field var='pubsub#type'><value>http://www.w3.org/2005/Atom</value></field>"
        "<field var='pubsub#body_xslt'><value>http://x/atom_body.xslt</value></field>",
        &cfg, &err);
    CHECK(rc == 0);
    CHECK_STR(cfg.title, "Princely Musings (Atom)");
    CHECK(cfg.max_items == 10);
    CHECK(cfg.max_payload_size == 1028);
    CHECK(cfg.send_last == PS_SEND_LAST_NEVER);
    CHECK(!cfg.notify_delete && !cfg.notify_retract);
    CHECK(cfg.notification_type == PS_NOTIF_HEADLINE);
    CHECK_STR(cfg.type, NS_ATOM);
    ps_config_clear(&cfg);
}

static void test_apply_values(void)
{
    ps_node_config_t cfg;
    xerr_spec_t err;
    CHECK(apply_to_defaults("<field var='pubsub#persist_items'><value> false </value></field>"
                            "<field var='pubsub#deliver_payloads'><value>0</value></field>"
                            "<field var='pubsub#notify_retract'><value>true</value></field>"
                            "<field var='pubsub#max_items'><value>max</value></field>"
                            "<field var='pubsub#access_model'><value>whitelist</value></field>"
                            "<field var='pubsub#publish_model'><value>open</value></field>"
                            "<field var='pubsub#notification_type'><value>normal</value></field>"
                            "<field var='pubsub#description'><value> two  spaces </value></field>"
                            "<field var='pubsub#node_type'><value>leaf</value></field>"
                            "<field var='pubsub#subscribe'><value>1</value></field>"
                            "<field var='pubsub#unknown_future_option'><value>x</value></field>"
                            "<field var='pubsub#max_payload_size'><value>262144</value></field>",
                            &cfg, &err) == 0);
    CHECK(!cfg.persist_items && !cfg.deliver_payloads && cfg.notify_retract);
    CHECK(cfg.max_items == PS_MAX_ITEMS_MAX);
    CHECK(cfg.access == PS_ACCESS_WHITELIST);
    CHECK(cfg.publish == PS_PUBLISH_OPEN);
    CHECK(cfg.notification_type == PS_NOTIF_NORMAL);
    CHECK_STR(cfg.description, " two  spaces ");
    CHECK(cfg.max_payload_size == 256 * 1024);
    ps_config_clear(&cfg);

    /* The service limit itself is accepted; an empty text value clears. */
    char f[256];
    snprintf(f, sizeof f,
             "<field var='pubsub#max_items'><value>%u</value></field>"
             "<field var='pubsub#title'><value/></field>",
             defs.max_items_limit);
    CHECK(apply_to_defaults(f, &cfg, &err) == 0);
    CHECK(cfg.max_items == defs.max_items_limit);
    CHECK_STR(cfg.title, "");
    ps_config_clear(&cfg);
}

static void test_apply_errors(void)
{
    refused("<field var='pubsub#persist_items'><value>yes</value></field>", XERR_NOT_ACCEPTABLE,
            NULL);
    refused("<field var='pubsub#max_items'><value>0</value></field>", XERR_NOT_ACCEPTABLE, NULL);
    refused("<field var='pubsub#max_items'><value>-1</value></field>", XERR_NOT_ACCEPTABLE, NULL);
    refused("<field var='pubsub#max_items'><value>10001</value></field>", XERR_NOT_ACCEPTABLE,
            NULL);
    refused("<field var='pubsub#max_items'><value>99999999999</value></field>", XERR_NOT_ACCEPTABLE,
            NULL);
    refused("<field var='pubsub#max_payload_size'><value>262145</value></field>",
            XERR_NOT_ACCEPTABLE, NULL);
    refused("<field var='pubsub#max_payload_size'><value>max</value></field>", XERR_NOT_ACCEPTABLE,
            NULL);
    /* §8.1.2: access models not implemented (or unknown). */
    refused("<field var='pubsub#access_model'><value>presence</value></field>", XERR_NOT_ACCEPTABLE,
            "unsupported-access-model");
    refused("<field var='pubsub#access_model'><value>roster</value></field>", XERR_NOT_ACCEPTABLE,
            "unsupported-access-model");
    refused("<field var='pubsub#access_model'><value>authorize</value></field>",
            XERR_NOT_ACCEPTABLE, "unsupported-access-model");
    refused("<field var='pubsub#access_model'><value>secret</value></field>", XERR_NOT_ACCEPTABLE,
            "unsupported-access-model");
    refused("<field var='pubsub#publish_model'><value>subscribers</value></field>",
            XERR_NOT_ACCEPTABLE, NULL);
    refused("<field var='pubsub#send_last_published_item'>"
            "<value>on_sub_and_presence</value></field>",
            XERR_NOT_ACCEPTABLE, NULL);
    refused("<field var='pubsub#notification_type'><value>chat</value></field>",
            XERR_NOT_ACCEPTABLE, NULL);
    refused("<field var='pubsub#notify_config'><value>1</value></field>", XERR_NOT_ACCEPTABLE,
            NULL);
    refused("<field var='pubsub#presence_based_delivery'><value>true</value>"
            "</field>",
            XERR_NOT_ACCEPTABLE, NULL);
    refused("<field var='pubsub#subscribe'><value>0</value></field>", XERR_NOT_ACCEPTABLE, NULL);
    refused("<field var='pubsub#node_type'><value>tree</value></field>", XERR_NOT_ACCEPTABLE, NULL);
    refused("<field var='pubsub#title'><value>a</value><value>b</value></field>",
            XERR_NOT_ACCEPTABLE, NULL);

    /* All or nothing: a good field before a bad one is not applied. */
    refused("<field var='pubsub#title'><value>kept?</value></field>"
            "<field var='pubsub#max_items'><value>5</value></field>"
            "<field var='pubsub#deliver_payloads'><value>maybe</value></field>",
            XERR_NOT_ACCEPTABLE, NULL);

    /* XEP-0248 collections are not implemented. */
    ps_node_config_t cfg;
    xerr_spec_t err;
    int rc = apply_to_defaults("<field var='pubsub#node_type'><value>collection</value></field>",
                               &cfg, &err);
    CHECK_UNSUPPORTED(rc, err, "collections");
    ps_config_clear(&cfg);
}

static void test_form_envelope(void)
{
    ps_node_config_t cfg;
    xerr_spec_t err = {0};
    ps_config_copy(&cfg, &defs.node);
    const char *f = "<field var='pubsub#max_items'><value>7</value></field>";

    xmpp_stanza_t *x = form("form", PS_NS_NODE_CONFIG, f);
    CHECK_ERR(ps_config_apply_form(&cfg, &defs, x, &err), err, XERR_BAD_REQUEST, NULL);
    xmpp_stanza_release(x);

    x = form("submit", PS_NS_PUBLISH_OPTIONS, f);
    CHECK_ERR(ps_config_apply_form(&cfg, &defs, x, &err), err, XERR_BAD_REQUEST, NULL);
    xmpp_stanza_release(x);
    CHECK(cfg.max_items == 256);

    /* §8.2.4: cancel keeps the configuration. */
    x = form("cancel", NULL, f);
    CHECK(ps_config_apply_form(&cfg, &defs, x, &err) == 0);
    CHECK(cfg.max_items == 256);
    xmpp_stanza_release(x);

    /* No FORM_TYPE: accepted. NULL form: nothing to do. */
    x = form("submit", NULL, f);
    CHECK(ps_config_apply_form(&cfg, &defs, x, &err) == 0);
    CHECK(cfg.max_items == 7);
    xmpp_stanza_release(x);
    CHECK(ps_config_apply_form(&cfg, &defs, NULL, &err) == 0);
    ps_config_clear(&cfg);
}

/* Finds <field var> in x. */
static xmpp_stanza_t *field(xmpp_stanza_t *x, const char *var)
{
    for (xmpp_stanza_t *f = ps_xdata_first_field(x); f; f = ps_xdata_next_field(f))
        if (strcmp(xmpp_stanza_get_attribute(f, "var"), var) == 0)
            return f;
    return NULL;
}

static void check_value(xmpp_stanza_t *x, const char *var, const char *want)
{
    xmpp_stanza_t *f = field(x, var);
    char *v = NULL;
    CHECK(f != NULL);
    if (f)
        ps_xdata_first_value(f, &v);
    CHECK_STR(v, want);
    free(v);
}

/* check_value for each {var, value} of a table. */
static void check_values(xmpp_stanza_t *x, const char *const (*want)[2], size_t n)
{
    for (size_t i = 0; i < n; i++)
        check_value(x, want[i][0], want[i][1]);
}

static void test_render_form(void)
{
    ps_node_config_t cfg;
    xerr_spec_t err;
    CHECK(apply_to_defaults("<field var='pubsub#title'><value>T &amp; &lt;x&gt;</value></field>"
                            "<field var='pubsub#max_items'><value>max</value></field>"
                            "<field var='pubsub#access_model'><value>whitelist</value></field>"
                            "<field var='pubsub#persist_items'><value>0</value></field>"
                            "<field var='pubsub#type'><value>urn:x</value></field>",
                            &cfg, &err) == 0);
    xmpp_stanza_t *x = ps_config_to_form(ctx, &cfg, "form");
    CHECK(x != NULL);
    CHECK_STR(xmpp_stanza_get_ns(x), NS_DATA_FORMS);
    CHECK_STR(ps_xdata_type(x), "form");
    static const char *const values[][2] = {
        {"FORM_TYPE", PS_NS_NODE_CONFIG},
        {"pubsub#title", "T & <x>"},
        {"pubsub#max_items", "max"},
        {"pubsub#access_model", "whitelist"},
        {"pubsub#persist_items", "0"},
        {"pubsub#deliver_payloads", "1"},
        {"pubsub#send_last_published_item", "on_sub"},
        {"pubsub#max_payload_size", "65536"},
        {"pubsub#type", "urn:x"},
    };
    check_values(x, values, sizeof values / sizeof values[0]);
    CHECK(field(x, "pubsub#notify_config") == NULL);
    CHECK_STR(xmpp_stanza_get_attribute(field(x, "pubsub#persist_items"), "type"), "boolean");
    /* Only the access models this version accepts are offered. */
    int options = 0;
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(field(x, "pubsub#access_model")); c;
         c = xmpp_stanza_get_next(c))
        options += strcmp(xmpp_stanza_get_name(c), "option") == 0;
    CHECK(options == 2);

    /* Round trip: the rendered form, submitted, yields the same config. */
    xmpp_stanza_set_type(x, "submit");
    ps_node_config_t back;
    ps_config_copy(&back, &defs.node);
    CHECK(ps_config_apply_form(&back, &defs, x, &err) == 0);
    CHECK_STR(back.title, cfg.title);
    CHECK(back.max_items == cfg.max_items && back.access == cfg.access);
    CHECK(back.persist_items == cfg.persist_items);
    CHECK(ps_config_check_preconditions(&cfg, &defs, NULL, &err) == 0);
    xmpp_stanza_release(x);
    ps_config_clear(&back);
    ps_config_clear(&cfg);
}

static void test_render_metadata(void)
{
    const char *owners[] = {"alice@example.org"};
    const char *pubs[] = {"bob@example.org", "carol@example.org"};
    ps_node_meta_t meta = {"alice@example.org", "2024-01-02T03:04:05Z", owners, 1, pubs, 2, 1066};
    xmpp_stanza_t *x = ps_config_to_metadata(ctx, &defs.node, &meta);
    CHECK(x != NULL);
    CHECK_STR(ps_xdata_type(x), "result");
    static const char *const values[][2] = {
        {"FORM_TYPE", PS_NS_METADATA},
        {"pubsub#creator", "alice@example.org"},
        {"pubsub#creation_date", "2024-01-02T03:04:05Z"},
        {"pubsub#access_model", "open"},
        {"pubsub#publish_model", "publishers"},
        {"pubsub#max_items", "256"},
        {"pubsub#num_subscribers", "1066"},
        {"pubsub#owner", "alice@example.org"},
    };
    check_values(x, values, sizeof values / sizeof values[0]);
    CHECK(ps_xdata_value_count(field(x, "pubsub#publisher")) == 2);
    CHECK_STR(xmpp_stanza_get_attribute(field(x, "pubsub#owner"), "type"), "jid-multi");
    xmpp_stanza_release(x);
}

static int precond(const ps_node_config_t *cfg, const char *type, const char *ft,
                   const char *fields, xerr_spec_t *err)
{
    xmpp_stanza_t *x = form(type, ft, fields);
    *err = (xerr_spec_t){0};
    int rc = ps_config_check_preconditions(cfg, &defs, x, err);
    xmpp_stanza_release(x);
    return rc;
}

static void test_preconditions(void)
{
    ps_node_config_t cfg;
    xerr_spec_t err;
    CHECK(apply_to_defaults("<field var='pubsub#access_model'><value>whitelist</value></field>"
                            "<field var='pubsub#max_items'><value>max</value></field>"
                            "<field var='pubsub#title'><value>Blog</value></field>",
                            &cfg, &err) == 0);
    const char *po = PS_NS_PUBLISH_OPTIONS;

    /* Normalized comparison: 1/true, whitespace, max, leading zeros. */
    CHECK(precond(&cfg, "submit", po,
                  "<field var='pubsub#persist_items'><value>true</value></field>"
                  "<field var='pubsub#deliver_payloads'><value> 1 </value></field>"
                  "<field var='pubsub#notify_config'><value>false</value></field>"
                  "<field var='pubsub#access_model'><value>whitelist</value></field>"
                  "<field var='pubsub#max_items'><value>max</value></field>"
                  "<field var='pubsub#max_payload_size'><value>065536</value></field>"
                  "<field var='pubsub#send_last_published_item'><value>on_sub</value></field>"
                  "<field var='pubsub#title'><value>Blog</value></field>",
                  &err) == 0);
    CHECK(precond(&cfg, "submit", NULL,
                  "<field var='pubsub#persist_items'><value>1</value></field>", &err) == 0);

    /* §7.1.5: a precondition not met is conflict + precondition-not-met. */
    static const struct {
        const char *fields;
        const char *text; /* NULL: not checked */
    } not_met[] = {
        {"<field var='pubsub#access_model'><value>open</value></field>", "pubsub#access_model"},
        {"<field var='pubsub#access_model'><value>presence</value></field>", NULL},
        {"<field var='pubsub#persist_items'><value>0</value></field>", NULL},
        {"<field var='pubsub#max_items'><value>10000</value></field>", NULL},
        {"<field var='pubsub#title'><value>blog</value></field>", NULL},
        {"<field var='pubsub#persist_items'><value>yes</value></field>", NULL},
        /* Unknown fields must make the publication fail. */
        {"<field var='pubsub#item_expire'><value>60</value></field>", NULL},
    };
    for (size_t i = 0; i < sizeof not_met / sizeof not_met[0]; i++) {
        CHECK_ERR(precond(&cfg, "submit", po, not_met[i].fields, &err), err, XERR_CONFLICT,
                  "precondition-not-met");
        if (not_met[i].text)
            CHECK_STR(err.text, not_met[i].text);
    }
    /* Envelope errors. */
    CHECK_ERR(precond(&cfg, "submit", PS_NS_NODE_CONFIG, "", &err), err, XERR_BAD_REQUEST, NULL);
    CHECK_ERR(precond(&cfg, "form", po, "", &err), err, XERR_BAD_REQUEST, NULL);
    CHECK_ERR(precond(&cfg, "cancel", po, "", &err), err, XERR_BAD_REQUEST, NULL);
    ps_config_clear(&cfg);
}

static void test_publish_options_autocreate(void)
{
    ps_node_config_t cfg;
    xerr_spec_t err = {0};
    ps_config_copy(&cfg, &defs.node);
    xmpp_stanza_t *x = form("submit", PS_NS_PUBLISH_OPTIONS,
                            "<field var='pubsub#access_model'><value>whitelist</value></field>"
                            "<field var='pubsub#persist_items'><value>true</value></field>");
    CHECK(ps_config_apply_publish_options(&cfg, &defs, x, &err) == 0);
    CHECK(cfg.access == PS_ACCESS_WHITELIST);
    /* The node created this way satisfies the same preconditions. */
    CHECK(ps_config_check_preconditions(&cfg, &defs, x, &err) == 0);
    xmpp_stanza_release(x);

    x = form("submit", PS_NS_PUBLISH_OPTIONS,
             "<field var='pubsub#access_model'><value>open</value></field>"
             "<field var='pubsub#frobnicate'><value>1</value></field>");
    CHECK_ERR(ps_config_apply_publish_options(&cfg, &defs, x, &err), err, XERR_CONFLICT,
              "precondition-not-met");
    CHECK(cfg.access == PS_ACCESS_WHITELIST);
    xmpp_stanza_release(x);

    x = form("submit", PS_NS_PUBLISH_OPTIONS,
             "<field var='pubsub#access_model'><value>presence</value></field>");
    CHECK_ERR(ps_config_apply_publish_options(&cfg, &defs, x, &err), err, XERR_NOT_ACCEPTABLE,
              "unsupported-access-model");
    xmpp_stanza_release(x);

    x = form("submit", PS_NS_NODE_CONFIG, "");
    CHECK_ERR(ps_config_apply_publish_options(&cfg, &defs, x, &err), err, XERR_BAD_REQUEST, NULL);
    xmpp_stanza_release(x);
    ps_config_clear(&cfg);
}

/* §4.3 / §7.1.3.6 matrix. */
static void test_check_publish(void)
{
    enum { T = true, F = false };
    static const struct {
        bool persist, payloads; /* the node's configuration */
        bool item, payload;     /* the publish */
        const char *refused;    /* bad-request with this app condition; NULL: accepted */
    } cases[] = {
        /* persistent + payloads */
        {T, T, T, T, NULL},
        {T, T, F, F, "item-required"},
        {T, T, T, F, "payload-required"},
        /* persistent, notification only: the item may be empty */
        {T, F, T, F, NULL},
        {T, F, T, T, NULL},
        {T, F, F, F, "item-required"},
        /* transient, notification only: no item at all */
        {F, F, F, F, NULL},
        {F, F, T, F, "item-forbidden"},
        {F, F, T, T, "item-forbidden"},
        /* transient + payloads */
        {F, T, T, T, NULL},
        {F, T, F, F, "payload-required"},
        {F, T, T, F, "payload-required"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ps_node_config_t c = defs.node;
        xerr_spec_t err;
        c.persist_items = cases[i].persist;
        c.deliver_payloads = cases[i].payloads;
        int rc = ps_config_check_publish(&c, cases[i].item, cases[i].payload, &err);
        if (!cases[i].refused)
            CHECK(rc == 0);
        else
            CHECK_ERR(rc, err, XERR_BAD_REQUEST, cases[i].refused);
    }
}

static void test_names(void)
{
    CHECK_STR(ps_access_model_name(PS_ACCESS_AUTHORIZE), "authorize");
    CHECK_STR(ps_access_model_feature(PS_ACCESS_PRESENCE), "access-presence");
    CHECK_STR(ps_publish_model_name(PS_PUBLISH_SUBSCRIBERS), "subscribers");
    CHECK_STR(ps_send_last_name(PS_SEND_LAST_ON_SUB), "on_sub");
    CHECK_STR(ps_notification_type_name(PS_NOTIF_NORMAL), "normal");
    CHECK(ps_access_model_name((ps_access_model_t)99) == NULL);
}

int main(void)
{
    ctx = xmpp_ctx_new(NULL, NULL);
    ps_config_defaults_init(&defs);
    UNIT_RUN(test_defaults);
    UNIT_RUN(test_apply_xep_example);
    UNIT_RUN(test_apply_values);
    UNIT_RUN(test_apply_errors);
    UNIT_RUN(test_form_envelope);
    UNIT_RUN(test_render_form);
    UNIT_RUN(test_render_metadata);
    UNIT_RUN(test_preconditions);
    UNIT_RUN(test_publish_options_autocreate);
    UNIT_RUN(test_check_publish);
    UNIT_RUN(test_names);
    ps_config_defaults_clear(&defs);
    xmpp_ctx_free(ctx);
    return UNIT_DONE();
}
