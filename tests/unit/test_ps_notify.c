#include "tests/unit/unit.h"
#include "tests/unit/ps_util.h"

#include "component/ns.h"
#include "pubsub/notify.h"

static const ps_notif_opts_t opts = {"pubsub.example.org", "headline", "n7-"};

static void test_buf(void)
{
    ps_buf_t b;
    ps_buf_init(&b);
    CHECK(ps_buf_append_str(&b, "a") == 0);
    CHECK(ps_buf_append_attr(&b, "x'&<>\"y", 7) == 0);
    CHECK_STR(b.data, "ax&apos;&amp;&lt;&gt;&quot;y");
    ps_buf_reset(&b);
    CHECK(b.len == 0 && b.cap > 0);
    CHECK(ps_buf_append_text(&b, "]]>'\"&", 6) == 0);
    CHECK_STR(b.data, "]]&gt;'\"&amp;");
    ps_buf_reset(&b);
    CHECK(ps_buf_append_u64(&b, 0) == 0 && ps_buf_append_u64(&b, 18446744073709551615ull) == 0);
    CHECK_STR(b.data, "018446744073709551615");
    CHECK(ps_buf_attr_len("a'b", 3) == 8);
    /* Growth across many appends keeps the content. */
    ps_buf_reset(&b);
    for (int i = 0; i < 10000; i++)
        ps_buf_append(&b, "0123456789", 10);
    CHECK(b.len == 100000 && b.data[99999] == '9' && b.data[100000] == '\0');
    ps_buf_free(&b);
    CHECK(b.data == NULL && b.len == 0);
}

static void check_serialized(xmpp_stanza_t *el, const char *must_contain)
{
    ps_buf_t b = {0};
    CHECK(ps_payload_serialize(el, &b) == 0);
    xmpp_stanza_t *back = xmpp_stanza_new_from_string(ctx, b.data);
    CHECK(back != NULL);
    if (back) {
        CHECK(xml_same(back, el));
        xmpp_stanza_release(back);
    }
    if (must_contain)
        CHECK(strstr(b.data, must_contain) != NULL);
    ps_buf_free(&b);
}

static void test_serialize(void)
{
    xmpp_stanza_t *s =
        parse("<entry xmlns='http://www.w3.org/2005/Atom'>"
              "<title type='text'>Tom &amp; Jerry &lt;3 &gt; \"q\" 'a'</title>"
              "<link rel='alternate' href='http://x/?a=1&amp;b=&apos;2&apos;&quot;'/>"
              "<thr:in-reply-to xmlns:thr='http://purl.org/syndication/thread/1.0' "
              "ref='tag:x'/>"
              "<content type='xhtml'><div xmlns='http://www.w3.org/1999/xhtml'>"
              "<p>a<b>b</b>c</p></div></content>"
              "  \n mixed <empty/> text\t</entry>");
    check_serialized(s, "<entry xmlns='http://www.w3.org/2005/Atom'>");
    xmpp_stanza_release(s);

    /* The payload inherits its parent's namespace: the text must still
     * name it, or it would land in pubsub#event once spliced. */
    s = parse("<item xmlns='http://jabber.org/protocol/pubsub'>"
              "<foo><bar/></foo></item>");
    xmpp_stanza_t *foo = xmpp_stanza_get_children(s);
    ps_buf_t b = {0};
    CHECK(ps_payload_serialize(foo, &b) == 0);
    CHECK_STR(b.data, "<foo xmlns='http://jabber.org/protocol/pubsub'><bar/></foo>");
    ps_buf_free(&b);
    xmpp_stanza_release(s);

    /* libstrophe never writes jabber:client on a root; we must. */
    s = parse("<message xmlns='jabber:client' to='a@b'><body>hi</body></message>");
    check_serialized(s, "xmlns='jabber:client'");
    xmpp_stanza_release(s);

    /* Depth does not use the C stack. */
    enum { DEPTH = 5000 };
    ps_buf_t deep = {0};
    ps_buf_append_str(&deep, "<d xmlns='urn:deep'>");
    for (int i = 0; i < DEPTH; i++)
        ps_buf_append_str(&deep, "<d>");
    ps_buf_append_str(&deep, "x");
    for (int i = 0; i < DEPTH; i++)
        ps_buf_append_str(&deep, "</d>");
    ps_buf_append_str(&deep, "</d>");
    s = parse(deep.data);
    ps_buf_t out = {0};
    CHECK(ps_payload_serialize(s, &out) == 0);
    CHECK(strcmp(out.data + strlen("<d xmlns='urn:deep'>"),
                 deep.data + strlen("<d xmlns='urn:deep'>")) == 0);
    ps_buf_free(&out);
    ps_buf_free(&deep);
    xmpp_stanza_release(s);

    /* A text node is not a payload element. */
    s = parse("<a>t</a>");
    CHECK(ps_payload_serialize(xmpp_stanza_get_children(s), &out) == -1);
    CHECK(ps_payload_serialize(NULL, &out) == -1);
    ps_buf_free(&out);
    xmpp_stanza_release(s);
}

static void test_delay_stamp(void)
{
    char s[21];
    ps_delay_stamp(0, s);
    CHECK_STR(s, "1970-01-01T00:00:00Z");
    ps_delay_stamp(1071359917, s);
    CHECK_STR(s, "2003-12-13T23:58:37Z");
}

/* Renders n for `to` (seq 42) and compares with `want`. */
static void check_render(const ps_notif_t *n, const char *to, const char *want)
{
    ps_buf_t b = {0};
    CHECK(ps_notif_render(n, to, strlen(to), 42, &b) == 0);
    CHECK(xml_text_same(b.data, want));
    CHECK(b.len <= ps_notif_fixed_len(n) + ps_buf_attr_len(to, strlen(to)) + 2);
    ps_buf_free(&b);
}

static void test_items(void)
{
    const char *payload = "<entry xmlns='http://www.w3.org/2005/Atom'><title>T &amp; U</title>"
                          "</entry>";
    ps_notif_t *n =
        ps_notif_items(&opts, "princely_musings", "ae890", payload, strlen(payload), NULL);
    CHECK(n != NULL);
    check_render(n, "francisco@denmark.lit",
                 "<message from='pubsub.example.org' type='headline' "
                 "to='francisco@denmark.lit' id='n7-42'>"
                 "<event xmlns='http://jabber.org/protocol/pubsub#event'>"
                 "<items node='princely_musings'><item id='ae890'>"
                 "<entry xmlns='http://www.w3.org/2005/Atom'><title>T &amp; U</title>"
                 "</entry></item></items></event></message>");

    /* A resourcepart may hold any markup character. */
    const char *odd = "bob@example.org/it's <\"a&b\">";
    ps_buf_t b = {0};
    CHECK(ps_notif_render(n, odd, strlen(odd), 7, &b) == 0);
    xmpp_stanza_t *m = xmpp_stanza_new_from_string(ctx, b.data);
    CHECK(m != NULL);
    if (m) {
        CHECK_STR(xmpp_stanza_get_to(m), odd);
        CHECK_STR(xmpp_stanza_get_id(m), "n7-7");
        xmpp_stanza_release(m);
    }
    ps_buf_free(&b);

    /* Many messages appended to one buffer, each with its own id. */
    ps_buf_t many = {0};
    ps_buf_append_str(&many, "<stream>");
    char to[64];
    for (int i = 0; i < 100; i++) {
        snprintf(to, sizeof to, "u%d@sink.localhost", i);
        CHECK(ps_notif_render(n, to, strlen(to), (uint64_t)i, &many) == 0);
    }
    ps_buf_append_str(&many, "</stream>");
    xmpp_stanza_t *all = xmpp_stanza_new_from_string(ctx, many.data);
    CHECK(all != NULL);
    int count = 0, ok = 1;
    for (xmpp_stanza_t *c = all ? xmpp_stanza_get_children(all) : NULL; c;
         c = xmpp_stanza_get_next(c), count++) {
        snprintf(to, sizeof to, "u%d@sink.localhost", count);
        char id[16];
        snprintf(id, sizeof id, "n7-%d", count);
        ok &= strcmp(xmpp_stanza_get_to(c), to) == 0 && strcmp(xmpp_stanza_get_id(c), id) == 0;
    }
    CHECK(count == 100 && ok);
    if (all)
        xmpp_stanza_release(all);
    ps_buf_free(&many);

    /* Shared by a second holder; the last unref frees (ASan checks). */
    CHECK(ps_notif_ref(n) == n);
    ps_notif_unref(n);
    ps_notif_unref(n);
    ps_notif_unref(NULL);
}

static void test_items_variants(void)
{
    ps_notif_opts_t plain = {"pubsub.example.org", NULL, "p"};
    /* deliver_payloads false */
    ps_notif_t *n = ps_notif_items(&plain, "n", "i1", NULL, 0, NULL);
    check_render(n, "a@b",
                 "<message from='pubsub.example.org' to='a@b' id='p42'>"
                 "<event xmlns='http://jabber.org/protocol/pubsub#event'>"
                 "<items node='n'><item id='i1'/></items></event></message>");
    ps_notif_unref(n);

    /* transient notification-only node */
    n = ps_notif_items(&plain, "n", NULL, NULL, 0, NULL);
    check_render(n, "a@b",
                 "<message from='pubsub.example.org' to='a@b' id='p42'>"
                 "<event xmlns='http://jabber.org/protocol/pubsub#event'>"
                 "<items node='n'/></event></message>");
    ps_notif_unref(n);

    /* last published item on subscribe: XEP-0203 delay after the event */
    const char *p = "<tune xmlns='http://jabber.org/protocol/tune'/>";
    n = ps_notif_items(&opts, "n&'x", "i'd", p, strlen(p), "2003-12-13T23:58:37Z");
    check_render(n, "a@b",
                 "<message from='pubsub.example.org' type='headline' to='a@b' "
                 "id='n7-42'><event xmlns='http://jabber.org/protocol/pubsub#event'>"
                 "<items node=\"n&amp;'x\"><item id=\"i'd\">"
                 "<tune xmlns='http://jabber.org/protocol/tune'/></item></items>"
                 "</event><delay xmlns='urn:xmpp:delay' "
                 "stamp='2003-12-13T23:58:37Z'/></message>");
    ps_notif_unref(n);
}

static void test_other_events(void)
{
    const char *ids[] = {"ae890", "b<2"};
    ps_notif_t *n = ps_notif_retract(&opts, "blog", ids, 2);
    check_render(n, "a@b",
                 "<message from='pubsub.example.org' type='headline' to='a@b' "
                 "id='n7-42'><event xmlns='http://jabber.org/protocol/pubsub#event'>"
                 "<items node='blog'><retract id='ae890'/><retract id='b&lt;2'/>"
                 "</items></event></message>");
    ps_notif_unref(n);
    CHECK(ps_notif_retract(&opts, "blog", ids, 0) == NULL);

    n = ps_notif_purge(&opts, "blog");
    check_render(n, "a@b",
                 "<message from='pubsub.example.org' type='headline' to='a@b' "
                 "id='n7-42'><event xmlns='http://jabber.org/protocol/pubsub#event'>"
                 "<purge node='blog'/></event></message>");
    ps_notif_unref(n);

    n = ps_notif_delete(&opts, "blog", "xmpp:hamlet@denmark.lit?;node=blog");
    check_render(n, "a@b",
                 "<message from='pubsub.example.org' type='headline' to='a@b' "
                 "id='n7-42'><event xmlns='http://jabber.org/protocol/pubsub#event'>"
                 "<delete node='blog'><redirect "
                 "uri='xmpp:hamlet@denmark.lit?;node=blog'/></delete></event>"
                 "</message>");
    ps_notif_unref(n);

    n = ps_notif_delete(&opts, "blog", NULL);
    check_render(n, "a@b",
                 "<message from='pubsub.example.org' type='headline' to='a@b' "
                 "id='n7-42'><event xmlns='http://jabber.org/protocol/pubsub#event'>"
                 "<delete node='blog'/></event></message>");
    ps_notif_unref(n);
}

/* What a subscriber receives carries the payload the publisher sent:
 * same infoset, namespaces and attributes included. */
/* libstrophe drops attribute namespaces; on Atom elements the serializer
 * puts back xml:lang, xml:base and RFC 4685's thr:count/thr:updated on
 * link (see notify.c), and leaves every other element alone. */
static void test_namespaced_attrs_restored(void)
{
    xmpp_stanza_t *entry = xmpp_stanza_new_from_string(
        ctx, "<entry xmlns='http://www.w3.org/2005/Atom' xml:lang='en' "
             "xmlns:thr='http://purl.org/syndication/thread/1.0'>"
             "<title xml:base='http://a.example/'>t</title>"
             "<link rel='replies' href='r' thr:count='2' thr:updated='2024-01-01T00:00:00Z'/>"
             "<div xmlns='http://www.w3.org/1999/xhtml' lang='de'>x</div></entry>");
    CHECK(entry != NULL);
    ps_buf_t text = {0};
    CHECK(entry && ps_payload_serialize(entry, &text) == 0);
    const char *t = text.data ? text.data : "";
    CHECK(strstr(t, "<entry xmlns='http://www.w3.org/2005/Atom' xml:lang='en'>") != NULL);
    CHECK(strstr(t, "<title xml:base='http://a.example/'>") != NULL);
    CHECK(strstr(t, " xmlns:thr='http://purl.org/syndication/thread/1.0'") != NULL);
    CHECK(strstr(t, " thr:count='2'") != NULL);
    CHECK(strstr(t, " thr:updated='2024-01-01T00:00:00Z'") != NULL);
    /* XHTML has an unqualified lang of its own: left as it came. */
    CHECK(strstr(t, "<div xmlns='http://www.w3.org/1999/xhtml' lang='de'>") != NULL);
    /* The result is well-formed XML again. */
    xmpp_stanza_t *back = text.data ? xmpp_stanza_new_from_string(ctx, text.data) : NULL;
    CHECK(back != NULL);
    if (back)
        xmpp_stanza_release(back);
    if (entry)
        xmpp_stanza_release(entry);
    ps_buf_free(&text);
}

static void test_payload_intact(void)
{
    xmpp_stanza_t *pub =
        iq("set", "<pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='mb'>"
                  "<item id='1'><entry xmlns='http://www.w3.org/2005/Atom' "
                  "xmlns:thr='http://purl.org/syndication/thread/1.0'>"
                  "<author><name>Alice</name><uri>xmpp:alice@example.org</uri></author>"
                  "<title type='text'>hello &lt;world&gt; &amp; 'you'</title>"
                  "<thr:in-reply-to ref='tag:example.org,2024:1' type='text/html'/>"
                  "<content type='xhtml'><div xmlns='http://www.w3.org/1999/xhtml'>"
                  "<p>x<br/>y</p></div></content>\n"
                  "<published>2024-01-01T00:00:00Z</published></entry></item>"
                  "</publish></pubsub>");
    xmpp_stanza_t *payload = xmpp_stanza_get_child_by_name(
        xmpp_stanza_get_child_by_name(
            xmpp_stanza_get_child_by_name(xmpp_stanza_get_child_by_name(pub, "pubsub"), "publish"),
            "item"),
        "entry");
    ps_buf_t text = {0};
    CHECK(ps_payload_serialize(payload, &text) == 0);
    ps_notif_t *n = ps_notif_items(&opts, "mb", "1", text.data, text.len, NULL);
    ps_buf_t msg = {0};
    CHECK(ps_notif_render(n, "bob@example.org", 15, 1, &msg) == 0);
    xmpp_stanza_t *m = xmpp_stanza_new_from_string(ctx, msg.data);
    xmpp_stanza_t *got = m ? xmpp_stanza_get_child_by_name(
                                 xmpp_stanza_get_child_by_name(
                                     xmpp_stanza_get_child_by_name(
                                         xmpp_stanza_get_child_by_name(m, "event"), "items"),
                                     "item"),
                                 "entry")
                           : NULL;
    CHECK(got != NULL);
    if (got)
        CHECK(xml_same(got, payload));
    if (m)
        xmpp_stanza_release(m);
    ps_buf_free(&msg);
    ps_buf_free(&text);
    ps_notif_unref(n);
    xmpp_stanza_release(pub);
}

int main(void)
{
    ctx = xmpp_ctx_new(NULL, NULL);
    UNIT_RUN(test_buf);
    UNIT_RUN(test_serialize);
    UNIT_RUN(test_delay_stamp);
    UNIT_RUN(test_items);
    UNIT_RUN(test_items_variants);
    UNIT_RUN(test_other_events);
    UNIT_RUN(test_payload_intact);
    UNIT_RUN(test_namespaced_attrs_restored);
    xmpp_ctx_free(ctx);
    return UNIT_DONE();
}
