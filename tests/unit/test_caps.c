/* XEP-0115 §5 verification strings, checked against the examples of the
 * XEP itself (§5.2 simple, §5.3 complex with an extended form). */
#include "component/disco.h"
#include "tests/unit/unit.h"
#include "tests/unit/stanza_capture.h"

#define NS_CAPS_ "http://jabber.org/protocol/caps"
#define NS_INFO_ "http://jabber.org/protocol/disco#info"
#define NS_ITEMS_ "http://jabber.org/protocol/disco#items"
#define NS_MUC_ "http://jabber.org/protocol/muc"

static xmpp_ctx_t *ctx;

static void test_simple_example(void)
{
    /* §5.2: given in another order than sorted, on purpose */
    const char *ids[] = {"client/pc//Exodus 0.9.1"};
    const char *feats[] = {NS_MUC_, NS_INFO_, NS_CAPS_, NS_ITEMS_};
    char ver[29];
    CHECK(caps_ver_compute(ids, 1, feats, 4, NULL, 0, ver) == 0);
    CHECK_STR(ver, "QgayPKawpkPSDYmwT/WM94uAlu0=");

    /* one feature less: a different hash */
    CHECK(caps_ver_compute(ids, 1, feats, 3, NULL, 0, ver) == 0);
    CHECK(strcmp(ver, "QgayPKawpkPSDYmwT/WM94uAlu0=") != 0);
    CHECK(strlen(ver) == 28 && ver[27] == '=');
}

#define PSI_FORM                                                                                   \
    "urn:xmpp:dataforms:softwareinfo<ip_version<ipv4<ipv6<os<Mac<"                                 \
    "os_version<10.5.1<software<Psi<software_version<0.11<"

static void test_complex_example(void)
{
    /* §5.3: identities in two languages; "\xce\xa8" is U+03A8 (Ψ). */
    const char *ids[] = {"client/pc/en/Psi 0.11", "client/pc/el/\xce\xa8 0.11"};
    const char *feats[] = {NS_CAPS_, NS_INFO_, NS_ITEMS_, NS_MUC_};
    const char *forms[] = {PSI_FORM};
    char ver[29];
    CHECK(caps_ver_compute(ids, 2, feats, 4, forms, 1, ver) == 0);
    CHECK_STR(ver, "q07IKJEyjvHSyhy//CH0CxmKi8w=");
}

static const char *psi_query =
    "<query xmlns='" NS_INFO_ "' node='http://psi-im.org#q07IKJEyjvHSyhy//CH0CxmKi8w='>"
    "<identity xml:lang='en' category='client' name='Psi 0.11' type='pc'/>"
    "<identity xml:lang='el' category='client' name='\xce\xa8 0.11' type='pc'/>"
    "<feature var='" NS_CAPS_ "'/>"
    "<feature var='" NS_INFO_ "'/>"
    "<feature var='" NS_ITEMS_ "'/>"
    "<feature var='" NS_MUC_ "'/>"
    "<x xmlns='jabber:x:data' type='result'>"
    "<field var='FORM_TYPE' type='hidden'>"
    "<value>urn:xmpp:dataforms:softwareinfo</value></field>"
    /* fields and values out of order: the hash sorts them */
    "<field var='software_version'><value>0.11</value></field>"
    "<field var='os'><value>Mac</value></field>"
    "<field var='ip_version'><value>ipv6</value><value>ipv4</value></field>"
    "<field var='os_version'><value>10.5.1</value></field>"
    "<field var='software'><value>Psi</value></field>"
    "</x></query>";

static void test_of_query(void)
{
    char ver[29];
    xmpp_stanza_t *q = fixture(ctx, psi_query);
    CHECK(caps_ver_of_query(q, ver) == 0);
    CHECK_STR(ver, "q07IKJEyjvHSyhy//CH0CxmKi8w=");
    xmpp_stanza_release(q);

    q = fixture(ctx, "<query xmlns='" NS_INFO_ "'>"
                     "<feature var='" NS_ITEMS_ "'/><feature var='" NS_MUC_ "'/>"
                     "<identity category='client' type='pc' name='Exodus 0.9.1'/>"
                     "<feature var='" NS_CAPS_ "'/><feature var='" NS_INFO_ "'/>"
                     "</query>");
    CHECK(caps_ver_of_query(q, ver) == 0);
    CHECK_STR(ver, "QgayPKawpkPSDYmwT/WM94uAlu0=");
    xmpp_stanza_release(q);
}

static void test_forms_rules(void)
{
    char ver[29];
    /* a form without FORM_TYPE, or with a non-hidden one, is ignored */
    xmpp_stanza_t *q = fixture(
        ctx, "<query xmlns='" NS_INFO_ "'>"
             "<identity category='client' type='pc' name='Exodus 0.9.1'/>"
             "<feature var='" NS_CAPS_ "'/><feature var='" NS_INFO_ "'/>"
             "<feature var='" NS_ITEMS_ "'/><feature var='" NS_MUC_ "'/>"
             "<x xmlns='jabber:x:data' type='result'><field var='a'><value>b</value></field></x>"
             "<x xmlns='jabber:x:data' type='result'><field var='FORM_TYPE'>"
             "<value>urn:x</value></field></x>"
             "</query>");
    CHECK(caps_ver_of_query(q, ver) == 0);
    CHECK_STR(ver, "QgayPKawpkPSDYmwT/WM94uAlu0=");
    xmpp_stanza_release(q);

    /* two forms: sorted by FORM_TYPE, whatever their order */
    const char *ids[] = {"client/pc//x"};
    const char *f1[] = {"urn:a<v<1<", "urn:a-b<v<2<"};
    const char *f2[] = {"urn:a-b<v<2<", "urn:a<v<1<"};
    char v1[29], v2[29];
    CHECK(caps_ver_compute(ids, 1, NULL, 0, f1, 2, v1) == 0);
    CHECK(caps_ver_compute(ids, 1, NULL, 0, f2, 2, v2) == 0);
    CHECK_STR(v1, v2);
    /* and the order is by FORM_TYPE ("urn:a" < "urn:a-b"), not by the
     * serialized string ('-' < '<'): compare with the explicit order */
    const char *ids2[] = {"client/pc//x"};
    char s_ok[29];
    /* "urn:a<v<1<urn:a-b<v<2<" is the required concatenation: the same
     * as one form holding both */
    const char *joined[] = {"urn:a<v<1<urn:a-b<v<2<"};
    CHECK(caps_ver_compute(ids2, 1, NULL, 0, joined, 1, s_ok) == 0);
    CHECK_STR(v1, s_ok);

    /* duplicate FORM_TYPE in a received query: ill-formed */
    q = fixture(ctx, "<query xmlns='" NS_INFO_ "'><identity category='c' type='t'/>"
                     "<x xmlns='jabber:x:data' type='result'><field var='FORM_TYPE' type='hidden'>"
                     "<value>urn:x</value></field></x>"
                     "<x xmlns='jabber:x:data' type='result'><field var='FORM_TYPE' type='hidden'>"
                     "<value>urn:x</value></field></x></query>");
    CHECK(caps_ver_of_query(q, ver) == -1);
    xmpp_stanza_release(q);
    /* FORM_TYPE with two different values: ill-formed */
    q = fixture(ctx, "<query xmlns='" NS_INFO_ "'><identity category='c' type='t'/>"
                     "<x xmlns='jabber:x:data' type='result'><field var='FORM_TYPE' type='hidden'>"
                     "<value>urn:x</value><value>urn:y</value></field></x></query>");
    CHECK(caps_ver_of_query(q, ver) == -1);
    xmpp_stanza_release(q);
}

static void test_ill_formed(void)
{
    char ver[29];
    static const char *const bad[] = {
        /* duplicate identity */
        "<query xmlns='" NS_INFO_ "'><identity category='c' type='t' name='n'/>"
        "<identity category='c' type='t' name='n'/></query>",
        /* duplicate feature */
        "<query xmlns='" NS_INFO_ "'><identity category='c' type='t'/>"
        "<feature var='f'/><feature var='f'/></query>",
        /* identity without type */
        "<query xmlns='" NS_INFO_ "'><identity category='c'/></query>",
        /* feature without var */
        "<query xmlns='" NS_INFO_ "'><identity category='c' type='t'/><feature/></query>",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        xmpp_stanza_t *q = fixture(ctx, bad[i]);
        CHECK(caps_ver_of_query(q, ver) == -1);
        xmpp_stanza_release(q);
    }
    CHECK(caps_ver_of_query(NULL, ver) == -1);
    /* identity strings need all three separators */
    const char *ids[] = {"client/pc"};
    CHECK(caps_ver_compute(ids, 1, NULL, 0, NULL, 0, ver) == -1);
}

static void test_identity_order(void)
{
    /* sorted by category then type, field by field: "a/x" before "a-b/x"
     * although '/' > '-' */
    const char *i1[] = {"a/x//", "a-b/x//"};
    const char *i2[] = {"a-b/x//", "a/x//"};
    char v1[29], v2[29];
    CHECK(caps_ver_compute(i1, 2, NULL, 0, NULL, 0, v1) == 0);
    CHECK(caps_ver_compute(i2, 2, NULL, 0, NULL, 0, v2) == 0);
    CHECK_STR(v1, v2);
    /* same hash as the explicitly ordered concatenation */
    const char *one[] = {"a/x//<a-b/x//"};
    char v3[29];
    CHECK(caps_ver_compute(one, 1, NULL, 0, NULL, 0, v3) == 0);
    CHECK_STR(v1, v3);
    /* lang orders identities of the same category/type */
    const char *l1[] = {"client/pc/en/Psi 0.11", "client/pc/el/\xce\xa8 0.11"};
    const char *feats[] = {NS_CAPS_, NS_INFO_, NS_ITEMS_, NS_MUC_};
    const char *forms[] = {PSI_FORM};
    CHECK(caps_ver_compute(l1, 2, feats, 4, forms, 1, v1) == 0);
    CHECK_STR(v1, "q07IKJEyjvHSyhy//CH0CxmKi8w=");
}

int main(void)
{
    ctx = xmpp_ctx_new(NULL, NULL);
    UNIT_RUN(test_simple_example);
    UNIT_RUN(test_complex_example);
    UNIT_RUN(test_of_query);
    UNIT_RUN(test_forms_rules);
    UNIT_RUN(test_ill_formed);
    UNIT_RUN(test_identity_order);
    xmpp_ctx_free(ctx);
    return UNIT_DONE();
}
