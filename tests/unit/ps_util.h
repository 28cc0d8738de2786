/* Fixtures shared by the pubsub unit tests (tests/unit/test_ps_*.c):
 * stanzas parsed from text, an XML infoset comparison, and a check of an
 * error against the exact condition, app condition and feature. Include
 * after unit.h. */
#ifndef HERALD_TEST_PS_UTIL_H
#define HERALD_TEST_PS_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strophe.h>

#include "component/xmpp_error.h"

/* Each test binary uses a subset of these helpers. */
#define PS_TEST_HELPER static __attribute__((unused))

static xmpp_ctx_t *ctx;

/* Parses one XML element; aborts the test binary on malformed fixtures
 * (a broken fixture is a bug in the test, not a failed check). */
PS_TEST_HELPER xmpp_stanza_t *parse(const char *xml)
{
    xmpp_stanza_t *s = xmpp_stanza_new_from_string(ctx, xml);
    if (!s) {
        fprintf(stderr, "fixture does not parse: %s\n", xml);
        abort();
    }
    return s;
}

/* An IQ from alice@example.org/phone to the service around `inner`. */
PS_TEST_HELPER xmpp_stanza_t *iq_from(const char *type, const char *from, const char *inner)
{
    size_t n = strlen(inner) + strlen(from) + 256;
    char *buf = malloc(n);
    snprintf(buf, n,
             "<iq xmlns='jabber:component:accept' type='%s' id='t1' "
             "from='%s' to='pubsub.example.org'>%s</iq>",
             type, from, inner);
    xmpp_stanza_t *s = parse(buf);
    free(buf);
    return s;
}

PS_TEST_HELPER xmpp_stanza_t *iq(const char *type, const char *inner)
{
    return iq_from(type, "alice@example.org/phone", inner);
}

/* Concatenated text of the run of text nodes starting at *c; advances *c
 * past the run. Returns a malloc'd string. */
PS_TEST_HELPER char *text_run(xmpp_stanza_t **c)
{
    size_t len = 0;
    char *s = calloc(1, 1);
    while (*c && xmpp_stanza_is_text(*c)) {
        const char *t = xmpp_stanza_get_text_ptr(*c);
        size_t n = t ? strlen(t) : 0;
        s = realloc(s, len + n + 1);
        memcpy(s + len, t ? t : "", n);
        len += n;
        s[len] = '\0';
        *c = xmpp_stanza_get_next(*c);
    }
    return s;
}

PS_TEST_HELPER int str_same(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

/* Same XML infoset: names, namespaces, attribute sets (order free),
 * children in order, character data exact. Prints the first difference. */
PS_TEST_HELPER int xml_same(xmpp_stanza_t *a, xmpp_stanza_t *b)
{
    const char *an = xmpp_stanza_get_name(a), *bn = xmpp_stanza_get_name(b);
    if (!str_same(an, bn) || !str_same(xmpp_stanza_get_ns(a), xmpp_stanza_get_ns(b))) {
        fprintf(stderr, "  differ: <%s xmlns=%s> vs <%s xmlns=%s>\n", an, xmpp_stanza_get_ns(a), bn,
                xmpp_stanza_get_ns(b));
        return 0;
    }
    int na = xmpp_stanza_get_attribute_count(a);
    int nb = xmpp_stanza_get_attribute_count(b);
    const char **aa = calloc((size_t)na * 2 + 1, sizeof *aa);
    xmpp_stanza_get_attributes(a, aa, na * 2);
    int ok = na == nb;
    for (int i = 0; ok && i < na * 2; i += 2)
        ok = str_same(aa[i + 1], xmpp_stanza_get_attribute(b, aa[i]));
    free(aa);
    if (!ok) {
        fprintf(stderr, "  differ: attributes of <%s>\n", an);
        return 0;
    }
    xmpp_stanza_t *ca = xmpp_stanza_get_children(a);
    xmpp_stanza_t *cb = xmpp_stanza_get_children(b);
    while (ca || cb) {
        char *ta = text_run(&ca), *tb = text_run(&cb);
        ok = strcmp(ta, tb) == 0;
        if (!ok)
            fprintf(stderr, "  differ: text in <%s>: '%s' vs '%s'\n", an, ta, tb);
        free(ta);
        free(tb);
        if (!ok)
            return 0;
        if (!ca && !cb)
            break;
        if (!ca || !cb) {
            fprintf(stderr, "  differ: child count of <%s>\n", an);
            return 0;
        }
        if (!xml_same(ca, cb))
            return 0;
        ca = xmpp_stanza_get_next(ca);
        cb = xmpp_stanza_get_next(cb);
    }
    return 1;
}

/* Parses both texts and compares them. */
PS_TEST_HELPER int xml_text_same(const char *got, const char *want)
{
    xmpp_stanza_t *g = xmpp_stanza_new_from_string(ctx, got);
    xmpp_stanza_t *w = parse(want);
    int ok = g && xml_same(g, w);
    if (!ok)
        fprintf(stderr, "  got:  %s\n  want: %s\n", got, want);
    if (g)
        xmpp_stanza_release(g);
    xmpp_stanza_release(w);
    return ok;
}

/* The check every error case gets: return code, defined condition, app
 * condition (NULL = none), and for <unsupported/> the feature. */
#define CHECK_ERR(rc, err, want_cond, want_app)                                                    \
    do {                                                                                           \
        int rc_ = (rc);                                                                            \
        CHECK(rc_ == (int)(want_cond));                                                            \
        CHECK((err).cond == (want_cond));                                                          \
        if ((want_app) == NULL)                                                                    \
            CHECK((err).app_cond == NULL);                                                         \
        else                                                                                       \
            CHECK_STR((err).app_cond, (want_app));                                                 \
        if ((err).app_cond)                                                                        \
            CHECK_STR((err).app_ns, "http://jabber.org/protocol/pubsub#errors");                   \
    } while (0)

#define CHECK_UNSUPPORTED(rc, err, feature)                                                        \
    do {                                                                                           \
        CHECK_ERR(rc, err, XERR_FEATURE_NOT_IMPLEMENTED, "unsupported");                           \
        CHECK_STR((err).app_feature, (feature));                                                   \
    } while (0)

#endif
