/* Storage through its async API against a real PostgreSQL: every table's
 * operations, group commit with a failing write inside, ordering,
 * bursts of 10,000 requests (each callback exactly once), statement
 * timeouts, the bounded queue while the database is unreachable, and
 * shutdown with requests pending. */
#include "tests/integration/store_itest.h"

static store_t *ST;

#define WAIT(res, n) CHECK(t_run_until(&(res).calls, (n), 10.0))

static int64_t create_node(const char *owner, const char *name, const char *creator,
                           const store_node_config_t *cfg)
{
    t_res_t r;
    t_reset(&r);
    T_CALL(store_node_create(ST, owner, name, creator, cfg, t_node_cb, &r));
    CHECK(r.calls == 0);
    WAIT(r, 1);
    CHECK(r.err == STORE_OK);
    return r.id;
}

static void test_nodes(void)
{
    store_node_config_t cfg = t_config();
    cfg.title = "Title \"quoted\" \\ back";
    cfg.max_items = 10;
    cfg.max_payload_size = 4096;
    cfg.access_model = "whitelist";
    const char *extra[] = {"pubsub#language", "fr", "pubsub#body_xslt", "a,b {c} \"d\""};
    cfg.extra = extra;
    cfg.nextra = 4;
    t_res_t r;
    t_reset(&r);
    T_CALL(store_node_create(ST, "", "news", "alice@example.org", &cfg, t_node_cb, &r));
    WAIT(r, 1);
    CHECK(r.err == STORE_OK);
    CHECK(r.id > 0);
    CHECK(r.value == 1);
    CHECK_STR(r.text, "|news|alice@example.org|Title \"quoted\" \\ back|||10|4096|11111|on_sub|"
                      "whitelist|publishers|headline|pubsub#body_xslt,a,b {c} \"d\","
                      "pubsub#language,fr");
    int64_t id = r.id;

    /* Same name, other owner (a PEP node): no collision. Same owner: conflict. */
    store_node_config_t def = t_config();
    int64_t pep = create_node("bob@example.org", "news", "bob@example.org", &def);
    CHECK(pep > 0 && pep != id);
    t_reset(&r);
    T_CALL(store_node_create(ST, "", "news", "carol@example.org", &def, t_node_cb, &r));
    WAIT(r, 1);
    CHECK(r.err == STORE_EEXISTS);

    t_reset(&r);
    T_CALL(store_node_get(ST, "bob@example.org", "news", t_node_cb, &r));
    WAIT(r, 1);
    CHECK(r.err == STORE_OK && r.id == pep);
    t_reset(&r);
    T_CALL(store_node_get(ST, "", "nope", t_node_cb, &r));
    WAIT(r, 1);
    CHECK(r.err == STORE_ENOTFOUND);

    /* Configure: new values, version bumped; "max" round-trips. */
    store_node_config_t c2 = t_config();
    c2.title = "New";
    c2.persist_items = false;
    c2.send_last_published_item = "never";
    c2.notification_type = "normal";
    t_reset(&r);
    T_CALL(store_node_configure(ST, id, &c2, t_node_cb, &r));
    WAIT(r, 1);
    CHECK(r.err == STORE_OK);
    CHECK(r.value == 2);
    CHECK_STR(r.text, "|news|alice@example.org|New|||4294967295|0|01111|never|open|"
                      "publishers|normal|");
    t_reset(&r);
    T_CALL(store_node_configure(ST, 999999, &c2, t_node_cb, &r));
    WAIT(r, 1);
    CHECK(r.err == STORE_ENOTFOUND);
    /* A value the table's CHECK refuses is a database error, not a crash. */
    c2.access_model = "bogus";
    t_reset(&r);
    T_CALL(store_node_configure(ST, id, &c2, t_node_cb, &r));
    WAIT(r, 1);
    CHECK(r.err == STORE_EDB);
    /* An odd number of extra strings is refused before any SQL. */
    c2 = t_config();
    c2.extra = extra;
    c2.nextra = 3;
    t_reset(&r);
    T_CALL(store_node_configure(ST, id, &c2, t_node_cb, &r));
    CHECK(r.calls == 0);
    WAIT(r, 1);
    CHECK(r.err == STORE_EINVAL);

    /* Listing by owner with keyset paging on the name. */
    create_node("", "a-first", "", &def);
    create_node("", "z-last", "", &def);
    t_reset(&r);
    T_CALL(store_node_list(ST, "", NULL, 0, t_nodes_cb, &r));
    WAIT(r, 1);
    CHECK_STR(r.text, "/a-first,/news,/z-last");
    t_reset(&r);
    T_CALL(store_node_list(ST, "", "a-first", 1, t_nodes_cb, &r));
    WAIT(r, 1);
    CHECK_STR(r.text, "/news");
    t_reset(&r);
    T_CALL(store_node_list(ST, "bob@example.org", NULL, 0, t_nodes_cb, &r));
    WAIT(r, 1);
    CHECK_STR(r.text, "bob@example.org/news");
    t_reset(&r);
    T_CALL(store_node_list_all(ST, 0, 2, t_nodes_cb, &r));
    WAIT(r, 1);
    CHECK(r.n == 2);
    int64_t last = r.id;
    t_reset(&r);
    T_CALL(store_node_list_all(ST, last, 0, t_nodes_cb, &r));
    WAIT(r, 1);
    CHECK(r.n == 2);

    /* Delete cascades to items, affiliations and subscriptions. */
    t_reset(&r);
    T_CALL(store_item_publish(ST, pep, "i1", "bob@example.org", "<x/>", t_done_cb, &r));
    T_CALL(store_sub_set(ST, pep, "carol@example.org", "", STORE_SUB_SUBSCRIBED, NULL, 0,
                         t_done_cb, &r));
    WAIT(r, 2);
    t_reset(&r);
    T_CALL(store_node_delete(ST, pep, t_done_cb, &r));
    WAIT(r, 1);
    CHECK(r.err == STORE_OK && r.value == 1);
    char ids[24];
    snprintf(ids, sizeof ids, "%lld", (long long)pep);
    CHECK(t_scalar("SELECT count(*) FROM items WHERE node_id = $1", 1, ids) == 0);
    CHECK(t_scalar("SELECT count(*) FROM subscriptions WHERE node_id = $1", 1, ids) == 0);
    CHECK(t_scalar("SELECT count(*) FROM affiliations WHERE node_id = $1", 1, ids) == 0);
    t_reset(&r);
    T_CALL(store_node_delete(ST, pep, t_done_cb, &r));
    WAIT(r, 1);
    CHECK(r.err == STORE_ENOTFOUND);
}

static void test_affiliations(void)
{
    store_node_config_t def = t_config();
    int64_t id = create_node("", "affs", "owner@example.org", &def);
    int64_t other = create_node("", "affs2", "", &def);
    t_res_t r;
    t_reset(&r);
    T_CALL(store_aff_get(ST, id, "owner@example.org", t_affs_cb, &r));
    WAIT(r, 1);
    CHECK_STR(r.text, "affs:owner@example.org=owner");

    t_reset(&r);
    T_CALL(store_aff_set(ST, id, "pub@example.org", STORE_AFF_PUBLISHER, t_done_cb, &r));
    WAIT(r, 1);
    CHECK(r.err == STORE_OK && r.value == 2); /* node version bumped */
    t_reset(&r);
    T_CALL(store_aff_set(ST, id, "pub@example.org", STORE_AFF_PUBLISH_ONLY, t_done_cb, &r));
    T_CALL(store_aff_set(ST, id, "bad@example.org", STORE_AFF_OUTCAST, t_done_cb, &r));
    T_CALL(store_aff_set(ST, other, "pub@example.org", STORE_AFF_MEMBER, t_done_cb, &r));
    WAIT(r, 3);
    t_reset(&r);
    T_CALL(store_aff_list_node(ST, id, NULL, 0, t_affs_cb, &r));
    WAIT(r, 1);
    CHECK_STR(r.text, "affs:bad@example.org=outcast,affs:owner@example.org=owner,"
                      "affs:pub@example.org=publish-only");
    /* Paging by jid: a first page, then the rows after its last one. */
    t_reset(&r);
    T_CALL(store_aff_list_node(ST, id, NULL, 2, t_affs_cb, &r));
    WAIT(r, 1);
    CHECK_STR(r.text, "affs:bad@example.org=outcast,affs:owner@example.org=owner");
    t_reset(&r);
    T_CALL(store_aff_list_node(ST, id, "owner@example.org", 2, t_affs_cb, &r));
    WAIT(r, 1);
    CHECK_STR(r.text, "affs:pub@example.org=publish-only");
    t_reset(&r);
    T_CALL(store_aff_list_node(ST, id, "pub@example.org", 2, t_affs_cb, &r));
    WAIT(r, 1);
    CHECK(r.err == STORE_OK && r.n == 0);
    t_reset(&r);
    T_CALL(store_aff_list_jid(ST, "", "pub@example.org", t_affs_cb, &r));
    WAIT(r, 1);
    CHECK_STR(r.text, "affs:pub@example.org=publish-only,affs2:pub@example.org=member");
    t_reset(&r);
    T_CALL(store_aff_set(ST, id, "bad@example.org", STORE_AFF_NONE, t_done_cb, &r));
    WAIT(r, 1);
    CHECK(r.err == STORE_OK);
    t_reset(&r);
    T_CALL(store_aff_get(ST, id, "bad@example.org", t_affs_cb, &r));
    WAIT(r, 1);
    CHECK(r.err == STORE_OK && r.n == 0);
    t_reset(&r);
    T_CALL(store_aff_set(ST, 987654, "x@example.org", STORE_AFF_MEMBER, t_done_cb, &r));
    WAIT(r, 1);
    CHECK(r.err == STORE_ENOTFOUND);
    t_reset(&r);
    T_CALL(store_aff_set(ST, id, "x@example.org", (store_aff_t)42, t_done_cb, &r));
    WAIT(r, 1);
    CHECK(r.err == STORE_EINVAL);
}

static void test_subscriptions(void)
{
    store_node_config_t def = t_config();
    int64_t id = create_node("", "subs", "", &def);
    t_res_t r;
    t_reset(&r);
    const char *opts[] = {"pubsub#deliver", "false", "pubsub#show-values", "away\nchat",
                          "x#q", "\"{},\\ é"};
    T_CALL(store_sub_set(ST, id, "a@example.org", "s1", STORE_SUB_SUBSCRIBED, opts, 6,
                         t_done_cb, &r));
    T_CALL(store_sub_set(ST, id, "a@example.org", "s2", STORE_SUB_PENDING, NULL, 0, t_done_cb,
                         &r));
    T_CALL(store_sub_set(ST, id, "b@example.org/res", "", STORE_SUB_UNCONFIGURED, NULL, 0,
                         t_done_cb, &r));
    T_CALL(store_sub_set(ST, id, "c@example.org", "", STORE_SUB_SUBSCRIBED, NULL, 0, t_done_cb,
                         &r));
    WAIT(r, 4);
    CHECK(r.err == STORE_OK && r.value > 0);
    int64_t seq_before = r.value;
    t_reset(&r);
    T_CALL(store_sub_set(ST, id, "c@example.org", "", STORE_SUB_PENDING, NULL, 0, t_done_cb, &r));
    WAIT(r, 1);
    CHECK(r.err == STORE_OK && r.value > seq_before); /* changed_seq moves on update */
    t_reset(&r);
    T_CALL(store_sub_list_node(ST, id, NULL, 0, t_subs_cb, &r));
    WAIT(r, 1);
    CHECK_STR(r.text, "subs:a@example.org/s1=subscribed{pubsub#deliver:false;"
                      "pubsub#show-values:away\nchat;x#q:\"{},\\ é},"
                      "subs:a@example.org/s2=pending{},subs:b@example.org/res/=unconfigured{},"
                      "subs:c@example.org/=pending{}");
    /* Paging by (jid, subid). */
    store_sub_t after = {.jid = "a@example.org", .subid = "s2"};
    t_reset(&r);
    T_CALL(store_sub_list_node(ST, id, &after, 1, t_subs_cb, &r));
    WAIT(r, 1);
    CHECK_STR(r.text, "subs:b@example.org/res/=unconfigured{}");
    t_reset(&r);
    T_CALL(store_sub_list_jid(ST, "", "a@example.org", t_subs_cb, &r));
    WAIT(r, 1);
    CHECK(r.n == 2);
    t_reset(&r);
    T_CALL(store_sub_delete(ST, id, "a@example.org", "s1", t_done_cb, &r));
    WAIT(r, 1);
    CHECK(r.err == STORE_OK && r.value == 1);
    t_reset(&r);
    T_CALL(store_sub_delete(ST, id, "c@example.org", NULL, t_done_cb, &r));
    WAIT(r, 1);
    CHECK(r.err == STORE_OK && r.value == 1);
    t_reset(&r);
    T_CALL(store_sub_delete(ST, id, "c@example.org", NULL, t_done_cb, &r));
    WAIT(r, 1);
    CHECK(r.err == STORE_ENOTFOUND);
    t_reset(&r);
    T_CALL(store_sub_set(ST, 987654, "a@example.org", "", STORE_SUB_SUBSCRIBED, NULL, 0,
                         t_done_cb, &r));
    WAIT(r, 1);
    CHECK(r.err == STORE_ENOTFOUND);
    t_reset(&r);
    T_CALL(store_sub_set(ST, id, "a@example.org", "", STORE_SUB_NONE, NULL, 0, t_done_cb, &r));
    WAIT(r, 1);
    CHECK(r.err == STORE_EINVAL);
}

static void test_items(void)
{
    store_node_config_t cfg = t_config();
    cfg.max_items = 3;
    int64_t id = create_node("", "items", "", &cfg);
    t_res_t r;
    t_reset(&r);
    for (int i = 1; i <= 5; i++) {
        char iid[16], pl[32];
        snprintf(iid, sizeof iid, "i%d", i);
        snprintf(pl, sizeof pl, "<p n='%d'/>", i);
        T_CALL(store_item_publish(ST, id, iid, "pub@example.org", pl, t_done_cb, &r));
    }
    WAIT(r, 5);
    CHECK(r.err == STORE_OK);
    /* Trimmed to max_items in the same transactions: newest three remain. */
    t_reset(&r);
    T_CALL(store_items_get(ST, id, NULL, t_items_cb, &r));
    WAIT(r, 1);
    CHECK_STR(r.text, "i5:<p n='5'/>,i4:<p n='4'/>,i3:<p n='3'/>");
    /* Republishing moves an item to the newest position. */
    t_reset(&r);
    T_CALL(store_item_publish(ST, id, "i3", "pub@example.org", "<p n='3b'/>", t_done_cb, &r));
    WAIT(r, 1);
    int64_t seq3 = r.value;
    t_reset(&r);
    T_CALL(store_items_get(ST, id, NULL, t_items_cb, &r));
    WAIT(r, 1);
    CHECK_STR(r.text, "i3:<p n='3b'/>,i5:<p n='5'/>,i4:<p n='4'/>");
    /* max, before_seq paging, by ids, ids only. */
    store_items_query_t q = {.max = 1};
    t_reset(&r);
    T_CALL(store_items_get(ST, id, &q, t_items_cb, &r));
    WAIT(r, 1);
    CHECK_STR(r.text, "i3:<p n='3b'/>");
    q.before_seq = seq3;
    q.max = 5;
    t_reset(&r);
    T_CALL(store_items_get(ST, id, &q, t_items_cb, &r));
    WAIT(r, 1);
    CHECK_STR(r.text, "i5:<p n='5'/>,i4:<p n='4'/>");
    const char *want[] = {"i4", "missing", "i5"};
    store_items_query_t qi = {.ids = want, .nids = 3};
    t_reset(&r);
    T_CALL(store_items_get(ST, id, &qi, t_items_cb, &r));
    WAIT(r, 1);
    CHECK_STR(r.text, "i5:<p n='5'/>,i4:<p n='4'/>");
    store_items_query_t qo = {.ids_only = true};
    t_reset(&r);
    T_CALL(store_items_get(ST, id, &qo, t_items_cb, &r));
    WAIT(r, 1);
    CHECK_STR(r.text, "i3:(null),i5:(null),i4:(null)");

    /* Payloads travel intact: quotes, backslashes, UTF-8, newlines, 200 KB;
     * and no payload at all. */
    size_t big = 200 * 1024;
    char *pl = malloc(big + 1);
    for (size_t i = 0; i < big; i++)
        pl[i] = "<a b='\"\\é'>\n\t</a>"[i % 18];
    pl[big] = '\0';
    store_node_config_t many = t_config();
    int64_t id2 = create_node("", "payloads", "", &many);
    t_reset(&r);
    T_CALL(store_item_publish(ST, id2, "big", "", pl, t_done_cb, &r));
    T_CALL(store_item_publish(ST, id2, "none", "", NULL, t_done_cb, &r));
    WAIT(r, 2);
    CHECK(r.err == STORE_OK);
    const char *bigid[] = {"big"};
    store_items_query_t qb = {.ids = bigid, .nids = 1};
    t_reset(&r);
    T_CALL(store_items_get(ST, id2, &qb, t_items_cb, &r));
    WAIT(r, 1);
    CHECK(r.n == 1);
    CHECK(t_scalar("SELECT count(*) FROM items WHERE item_id = 'big' AND payload = $1", 1, pl) ==
          1);
    CHECK(t_scalar("SELECT count(*) FROM items WHERE item_id = 'none' AND payload IS NULL", 0) ==
          1);
    free(pl);

    t_reset(&r);
    T_CALL(store_item_retract(ST, id, "i4", t_done_cb, &r));
    WAIT(r, 1);
    CHECK(r.err == STORE_OK && r.value == 1);
    t_reset(&r);
    T_CALL(store_item_retract(ST, id, "i4", t_done_cb, &r));
    WAIT(r, 1);
    CHECK(r.err == STORE_ENOTFOUND);
    t_reset(&r);
    T_CALL(store_item_purge(ST, id, t_done_cb, &r));
    WAIT(r, 1);
    CHECK(r.err == STORE_OK && r.value == 2);
    t_reset(&r);
    T_CALL(store_item_publish(ST, 987654, "x", "", "<x/>", t_done_cb, &r));
    WAIT(r, 1);
    CHECK(r.err == STORE_ENOTFOUND);
    t_reset(&r);
    T_CALL(store_items_get(ST, 987654, NULL, t_items_cb, &r));
    WAIT(r, 1);
    CHECK(r.err == STORE_OK && r.n == 0);
}

/* Trimming is planned once per node and transaction (pg_pool.c): the
 * result must equal trimming after every publish, also with a retract or
 * a reconfiguration of the same node in the same transaction. */
static void test_trim_in_one_transaction(void)
{
    store_node_config_t two = t_config(), five = t_config();
    two.max_items = 2;
    five.max_items = 5;
    int64_t a = create_node("", "trim-a", "", &two);
    int64_t b = create_node("", "trim-b", "", &five);
    t_res_t r;
    t_reset(&r);
    /* all in one loop iteration: one transaction */
    T_CALL(store_item_publish(ST, a, "a1", "", "1", t_done_cb, &r));
    T_CALL(store_item_publish(ST, b, "b1", "", "1", t_done_cb, &r));
    T_CALL(store_item_publish(ST, a, "a2", "", "2", t_done_cb, &r));
    T_CALL(store_item_publish(ST, b, "b2", "", "2", t_done_cb, &r));
    T_CALL(store_item_publish(ST, a, "a3", "", "3", t_done_cb, &r));
    T_CALL(store_item_publish(ST, b, "b3", "", "3", t_done_cb, &r));
    T_CALL(store_item_retract(ST, a, "a3", t_done_cb, &r));
    T_CALL(store_item_publish(ST, b, "b4", "", "4", t_done_cb, &r));
    T_CALL(store_node_configure(ST, b, &two, t_node_cb, &r));
    T_CALL(store_item_publish(ST, a, "a4", "", "4", t_done_cb, &r));
    T_CALL(store_item_publish(ST, b, "b5", "", "5", t_done_cb, &r));
    WAIT(r, 11);
    /* a: a1 a2 a3 -> {a2 a3}; retract a3 -> {a2}; a4 -> {a2 a4} */
    t_reset(&r);
    T_CALL(store_items_get(ST, a, NULL, t_items_cb, &r));
    WAIT(r, 1);
    CHECK_STR(r.text, "a4:4,a2:2");
    /* b: b1..b4 kept (max 5); max 2; b5 -> {b4 b5} */
    t_reset(&r);
    T_CALL(store_items_get(ST, b, NULL, t_items_cb, &r));
    WAIT(r, 1);
    CHECK_STR(r.text, "b5:5,b4:4");
}

static void test_presence_and_caps(void)
{
    t_res_t r;
    t_reset(&r);
    T_CALL(store_presence_add(ST, "pubsub.example.org", "a@example.org", t_done_cb, &r));
    T_CALL(store_presence_add(ST, "pubsub.example.org", "b@example.org", t_done_cb, &r));
    T_CALL(store_presence_add(ST, "alice@pubsub.example.org", "c@example.org", t_done_cb, &r));
    WAIT(r, 3);
    CHECK(r.err == STORE_OK && r.value == 1);
    t_reset(&r);
    T_CALL(store_presence_add(ST, "pubsub.example.org", "a@example.org", t_done_cb, &r));
    WAIT(r, 1);
    CHECK(r.err == STORE_OK && r.value == 0);
    t_reset(&r);
    T_CALL(store_presence_list(ST, "pubsub.example.org", NULL, 0, t_presences_cb, &r));
    WAIT(r, 1);
    CHECK_STR(r.text, "pubsub.example.org>a@example.org,pubsub.example.org>b@example.org");
    store_presence_t after = {"alice@pubsub.example.org", "c@example.org"};
    t_reset(&r);
    T_CALL(store_presence_list(ST, NULL, &after, 1, t_presences_cb, &r));
    WAIT(r, 1);
    CHECK_STR(r.text, "pubsub.example.org>a@example.org");
    t_reset(&r);
    T_CALL(store_presence_remove(ST, "pubsub.example.org", "a@example.org", t_done_cb, &r));
    WAIT(r, 1);
    CHECK(r.err == STORE_OK && r.value == 1);
    t_reset(&r);
    T_CALL(store_presence_list(ST, NULL, NULL, 0, t_presences_cb, &r));
    WAIT(r, 1);
    CHECK(r.n == 2);

    const char *feat[] = {"http://jabber.org/protocol/caps", "urn:xmpp:microblog:0+notify",
                          "with,comma \"q\""};
    const char *ident[] = {"client/pc//Gajim", "client/pc/fr/Ga\\jim"};
    store_caps_t caps = {"QgayPKawpkPSDYmwT/WM94uAlu0=", feat, 3, ident, 2};
    t_reset(&r);
    T_CALL(store_caps_put(ST, &caps, t_done_cb, &r));
    WAIT(r, 1);
    CHECK(r.err == STORE_OK);
    t_reset(&r);
    T_CALL(store_caps_get(ST, caps.ver, t_caps_cb, &r));
    WAIT(r, 1);
    CHECK_STR(r.text, "QgayPKawpkPSDYmwT/WM94uAlu0=|http://jabber.org/protocol/caps,"
                      "urn:xmpp:microblog:0+notify,with,comma \"q\"|client/pc//Gajim,"
                      "client/pc/fr/Ga\\jim");
    caps.nfeatures = 1;
    caps.nidentities = 0;
    t_reset(&r);
    T_CALL(store_caps_put(ST, &caps, t_done_cb, &r));
    T_CALL(store_caps_get(ST, caps.ver, t_caps_cb, &r));
    WAIT(r, 2);
    t_reset(&r);
    T_CALL(store_caps_get(ST, caps.ver, t_caps_cb, &r));
    WAIT(r, 1);
    CHECK_STR(r.text, "QgayPKawpkPSDYmwT/WM94uAlu0=|http://jabber.org/protocol/caps|");
    t_reset(&r);
    T_CALL(store_caps_get(ST, "unknown", t_caps_cb, &r));
    WAIT(r, 1);
    CHECK(r.err == STORE_ENOTFOUND);
}

/* ---- group commit, ordering, bursts ---- */

static int order_next, order_bad;

static void order_cb(void *ctx, store_err_t err, int64_t value)
{
    (void)value;
    t_note_callback();
    int idx = (int)(intptr_t)ctx;
    if (err != STORE_OK || idx != order_next)
        order_bad++;
    order_next++;
}

static void test_group_commit_isolates_failure(void)
{
    /* Four writes in one loop iteration, hence one transaction; the third
     * breaks a CHECK constraint. It alone fails; the others commit. */
    store_node_config_t def = t_config(), bad = t_config();
    bad.publish_model = "nobody";
    int64_t id = create_node("", "gc", "", &def);
    t_res_t a, b, c, d;
    t_reset(&a);
    t_reset(&b);
    t_reset(&c);
    t_reset(&d);
    T_CALL(store_item_publish(ST, id, "gc1", "", "<a/>", t_done_cb, &a));
    T_CALL(store_aff_set(ST, id, "m@example.org", STORE_AFF_MEMBER, t_done_cb, &b));
    T_CALL(store_node_create(ST, "", "gc-bad", "", &bad, t_node_cb, &c));
    T_CALL(store_item_publish(ST, id, "gc2", "", "<b/>", t_done_cb, &d));
    WAIT(d, 1);
    WAIT(c, 1);
    CHECK(a.calls == 1 && a.err == STORE_OK);
    CHECK(b.calls == 1 && b.err == STORE_OK);
    CHECK(c.calls == 1 && c.err == STORE_EDB);
    CHECK(d.calls == 1 && d.err == STORE_OK);
    CHECK(t_scalar("SELECT count(*) FROM items WHERE item_id IN ('gc1', 'gc2')", 0) == 2);
    CHECK(t_scalar("SELECT count(*) FROM nodes WHERE name = 'gc-bad'", 0) == 0);

    /* A read right after a failed transaction on a single connection:
     * the session must have been rolled back for it to work. */
    store_opts_t o = {.pool_size = 1};
    store_t *one = t_open(&o);
    store_t *saved = ST;
    ST = one;
    t_reset(&c);
    t_reset(&a);
    T_CALL(store_node_create(ST, "", "gc-bad", "", &bad, t_node_cb, &c));
    WAIT(c, 1);
    CHECK(c.err == STORE_EDB);
    T_CALL(store_node_get(ST, "", "gc", t_node_cb, &a));
    WAIT(a, 1);
    CHECK(a.err == STORE_OK && a.id == id);
    ST = saved;
    store_free(one);

    /* Write callbacks fire in submission order. */
    order_next = order_bad = 0;
    for (int i = 0; i < 300; i++) {
        char iid[16];
        snprintf(iid, sizeof iid, "ord%d", i % 7);
        if (i % 3 == 0)
            T_CALL(store_aff_set(ST, id, iid, STORE_AFF_PUBLISHER, order_cb, (void *)(intptr_t)i));
        else
            T_CALL(store_item_publish(ST, id, iid, "", "<o/>", order_cb, (void *)(intptr_t)i));
        if (i % 50 == 0)
            t_run_for(0.005); /* spread over several transactions */
    }
    CHECK(t_run_until(&order_next, 300, 10.0));
    CHECK(order_bad == 0);
}

/* Reads pipelined on one connection, the second one failing on the
 * server (invalid UTF-8): it alone fails; the ones queued behind it in
 * the same pipeline are unaffected. Same for a write inside a batch. */
static void test_failing_request_in_pipeline(void)
{
    store_opts_t o = {.pool_size = 1};
    store_t *one = t_open(&o);
    store_node_config_t def = t_config();
    int64_t id = create_node("", "pipe", "", &def);
    t_res_t warm;
    t_reset(&warm);
    T_CALL(store_node_get(one, "", "pipe", t_node_cb, &warm));
    CHECK(t_run_until(&warm.calls, 1, 5.0));
    const char *bad[] = {"\xff\xfe"};
    const char *good[] = {"x"};
    store_items_query_t qb = {.ids = bad, .nids = 1}, qg = {.ids = good, .nids = 1};
    t_res_t r[5];
    for (int i = 0; i < 5; i++) {
        t_reset(&r[i]);
        T_CALL(store_items_get(one, id, i == 1 ? &qb : &qg, t_items_cb, &r[i]));
    }
    for (int i = 0; i < 5; i++)
        CHECK(t_run_until(&r[i].calls, 1, 5.0));
    CHECK(r[0].err == STORE_OK && r[2].err == STORE_OK && r[3].err == STORE_OK &&
          r[4].err == STORE_OK);
    CHECK(r[1].err == STORE_EDB);
    t_res_t w[3];
    for (int i = 0; i < 3; i++) {
        t_reset(&w[i]);
        T_CALL(store_item_publish(one, id, i == 1 ? "\xff" : (i ? "p2" : "p0"), "", "<p/>",
                                  t_done_cb, &w[i]));
    }
    for (int i = 0; i < 3; i++)
        CHECK(t_run_until(&w[i].calls, 1, 5.0));
    CHECK(w[0].err == STORE_OK && w[2].err == STORE_OK && w[1].err == STORE_EDB);
    store_free(one);
}

#define BURST 10000
static unsigned char burst_seen[BURST];
static int burst_calls, burst_ok, burst_dup;

static void burst_cb(void *ctx, store_err_t err, int64_t value)
{
    (void)value;
    t_note_callback();
    int i = (int)(intptr_t)ctx;
    if (burst_seen[i]++)
        burst_dup++;
    burst_calls++;
    if (err == STORE_OK)
        burst_ok++;
}

static void burst_items_cb(void *ctx, store_err_t err, const store_item_t *v, size_t n)
{
    (void)v;
    burst_cb(ctx, err == STORE_OK && n == 1 ? STORE_OK : STORE_EDB, 0);
}

static void test_burst(void)
{
    store_node_config_t def = t_config();
    int64_t id = create_node("", "burst", "", &def);
    memset(burst_seen, 0, sizeof burst_seen);
    burst_calls = burst_ok = burst_dup = 0;
    ev_now_update(T_LOOP);
    double t0 = ev_now(T_LOOP);
    for (int i = 0; i < BURST; i++) {
        char iid[16];
        snprintf(iid, sizeof iid, "b%d", i);
        T_CALL(store_item_publish(ST, id, iid, "p@example.org", "<entry/>", burst_cb,
                                  (void *)(intptr_t)i));
    }
    CHECK(burst_calls == 0);
    CHECK(t_run_until(&burst_calls, BURST, 60.0));
    ev_now_update(T_LOOP);
    fprintf(stderr, "  burst: %d writes in %.3f s\n", BURST, ev_now(T_LOOP) - t0);
    t_run_for(0.05); /* a duplicate callback would show up now */
    CHECK(burst_calls == BURST);
    CHECK(burst_ok == BURST);
    CHECK(burst_dup == 0);
    char ids[24];
    snprintf(ids, sizeof ids, "%lld", (long long)id);
    CHECK(t_scalar("SELECT count(*) FROM items WHERE node_id = $1", 1, ids) == BURST);

    /* And 10,000 reads, spread over the pool. */
    memset(burst_seen, 0, sizeof burst_seen);
    burst_calls = burst_ok = burst_dup = 0;
    for (int i = 0; i < BURST; i++) {
        char iid[16];
        snprintf(iid, sizeof iid, "b%d", i);
        const char *one[] = {iid};
        store_items_query_t q = {.ids = one, .nids = 1};
        T_CALL(store_items_get(ST, id, &q, burst_items_cb, (void *)(intptr_t)i));
    }
    CHECK(t_run_until(&burst_calls, BURST, 60.0));
    t_run_for(0.05);
    CHECK(burst_calls == BURST);
    CHECK(burst_ok == BURST);
    CHECK(burst_dup == 0);
}

static void test_statement_timeout(void)
{
    /* The test's own connection locks a node row; a write needing it hits
     * statement_timeout. A write in the same transaction survives. */
    store_opts_t o = {.pool_size = 1, .statement_timeout_ms = 300};
    store_t *slow = t_open(&o);
    store_node_config_t def = t_config();
    int64_t locked = create_node("", "locked", "", &def);
    int64_t free_node = create_node("", "free", "", &def);
    char sql[128];
    snprintf(sql, sizeof sql, "BEGIN; SELECT 1 FROM nodes WHERE id = %lld FOR UPDATE",
             (long long)locked);
    CHECK(t_exec(sql) == 0);
    t_res_t a, b;
    t_reset(&a);
    t_reset(&b);
    T_CALL(store_aff_set(slow, locked, "x@example.org", STORE_AFF_MEMBER, t_done_cb, &a));
    T_CALL(store_item_publish(slow, free_node, "ok", "", "<ok/>", t_done_cb, &b));
    CHECK(t_run_until(&a.calls, 1, 5.0));
    CHECK(t_run_until(&b.calls, 1, 5.0));
    CHECK(a.err == STORE_ETIMEOUT);
    CHECK(b.err == STORE_OK);
    CHECK(t_exec("ROLLBACK") == 0);
    store_free(slow);
}

static void test_unreachable(void)
{
    /* Nothing listens on port 1: requests queue up to queue_max, the rest
     * fail fast; the queued ones fail after queue_timeout_ms; once the
     * database has been away that long, new requests fail at once. */
    store_opts_t o = {.conninfo = "host=127.0.0.1 port=1 dbname=x user=x",
                      .pool_size = 2,
                      .queue_max = 5,
                      .queue_timeout_ms = 300,
                      .reconnect_min_ms = 50,
                      .reconnect_max_ms = 100};
    char err[256];
    store_t *st = store_open(T_LOOP, &o, err, sizeof err);
    CHECK(st != NULL);
    if (!st)
        return;
    t_res_t r[8];
    for (int i = 0; i < 8; i++) {
        t_reset(&r[i]);
        T_CALL(store_presence_add(st, "l", "c", t_done_cb, &r[i]));
    }
    t_run_for(0.05);
    int early = 0;
    for (int i = 0; i < 8; i++)
        early += r[i].calls;
    CHECK(early == 3);
    for (int i = 5; i < 8; i++)
        CHECK(r[i].calls == 1 && r[i].err == STORE_EUNAVAILABLE);
    CHECK(t_run_until(&r[4].calls, 1, 2.0));
    for (int i = 0; i < 5; i++)
        CHECK(r[i].calls == 1 && r[i].err == STORE_EUNAVAILABLE);
    t_res_t late;
    t_reset(&late);
    ev_now_update(T_LOOP);
    T_CALL(store_presence_add(st, "l", "c", t_done_cb, &late));
    t_run_for(0.03);
    CHECK(late.calls == 1 && late.err == STORE_EUNAVAILABLE);
    CHECK(store_busy(st) == 0);
    CHECK(store_connections_ready(st) == 0);

    /* store_free answers whatever still waits. */
    t_res_t pending;
    t_reset(&pending);
    store_opts_t o2 = o;
    o2.queue_timeout_ms = 60000;
    store_t *st2 = store_open(T_LOOP, &o2, err, sizeof err);
    T_CALL(store_presence_add(st2, "l", "c", t_done_cb, &pending));
    t_run_for(0.02);
    CHECK(pending.calls == 0);
    store_free(st2);
    CHECK(pending.calls == 1 && pending.err == STORE_ESHUTDOWN);
    store_free(st);

    /* A conninfo libpq cannot parse is refused by store_open. */
    store_opts_t o3 = {.conninfo = "host=127.0.0.1 bogus_keyword=1"};
    err[0] = '\0';
    CHECK(store_open(T_LOOP, &o3, err, sizeof err) == NULL);
    CHECK(strstr(err, "bogus_keyword") != NULL);
}

static bool state_up;
static int state_changes;

static void state_cb(void *ud, bool up)
{
    (void)ud;
    state_up = up;
    state_changes++;
}

int main(void)
{
    t_setup("store");
    CHECK(t_migrate() == store_schema_version());
    store_opts_t o = {.pool_size = 3};
    ST = t_open(&o);
    if (!ST)
        return UNIT_DONE();
    store_on_state(ST, state_cb, NULL);
    CHECK(t_run_until(&state_changes, 1, 5.0));
    CHECK(state_up);
    UNIT_RUN(test_nodes);
    UNIT_RUN(test_affiliations);
    UNIT_RUN(test_subscriptions);
    UNIT_RUN(test_items);
    UNIT_RUN(test_trim_in_one_transaction);
    UNIT_RUN(test_presence_and_caps);
    UNIT_RUN(test_group_commit_isolates_failure);
    UNIT_RUN(test_failing_request_in_pipeline);
    UNIT_RUN(test_burst);
    UNIT_RUN(test_statement_timeout);
    UNIT_RUN(test_unreachable);
    CHECK(t_early_callbacks == 0);
    CHECK(store_busy(ST) == 0);
    store_free(ST);
    t_teardown();
    return UNIT_DONE();
}
