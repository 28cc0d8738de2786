/* JID split/normalize/compare (RFC 7622 structure, ASCII folding). */
#include <stdlib.h>

#include "component/jid.h"
#include "tests/unit/unit.h"

static int part_is(const char *p, size_t len, const char *want)
{
    if (!want)
        return p == NULL && len == 0;
    return p && len == strlen(want) && memcmp(p, want, len) == 0;
}

static void check_split(const char *jid, const char *l, const char *d, const char *r)
{
    jid_parts_t p;
    int rc = jid_split(jid, &p);
    CHECK(rc == 0);
    if (rc != 0) {
        fprintf(stderr, "  rejected: %s\n", jid);
        return;
    }
    CHECK(part_is(p.local, p.local_len, l));
    CHECK(part_is(p.domain, p.domain_len, d));
    CHECK(part_is(p.resource, p.resource_len, r));
}

static void test_split(void)
{
    check_split("example.org", NULL, "example.org", NULL);
    check_split("user@example.org", "user", "example.org", NULL);
    check_split("user@example.org/res", "user", "example.org", "res");
    check_split("example.org/res", NULL, "example.org", "res");
    /* the resource starts at the first '/', and may hold '@' and '/' */
    check_split("a@b/c@d/e", "a", "b", "c@d/e");
    check_split("b/c@d", NULL, "b", "c@d");
    check_split("u@[::1]/r", "u", "[::1]", "r");
    check_split("u@127.0.0.1", "u", "127.0.0.1", NULL);
    check_split("u@example.org./r", "u", "example.org.", "r");
    check_split("u@h/with space", "u", "h", "with space");
    check_split("\xc3\xa9l\xc3\xa8ve@h", "\xc3\xa9l\xc3\xa8ve", "h", NULL);
    /* out may be NULL for a validity check */
    CHECK(jid_split("a@b", NULL) == 0);
}

static void test_malformed(void)
{
    static const char *const bad[] = {
        "",      "@example.org", "user@",   "user@/r", "example.org/", "u@h/",
        "/res",  "a@b@c",        "us er@h", "u\"@h",   "u&@h",         "u'@h",
        "u:x@h", "u<@h",         "u>@h",    "u\x01@h", "u@h\x7f",      "u@ex ample.org",
        "u@.",   "u@.example",   "u@a..b",  ".",       "u@h/r\x01",    "u@h/\x1f",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        jid_parts_t p;
        int rc = jid_split(bad[i], &p);
        CHECK(rc == -1);
        if (rc != -1)
            fprintf(stderr, "  accepted: \"%s\"\n", bad[i]);
        char buf[64];
        CHECK(jid_bare(bad[i], buf, sizeof(buf)) == -1);
        CHECK(jid_equal(bad[i], bad[i]) == 0);
    }
    CHECK(jid_split(NULL, NULL) == -1);
}

static void test_lengths(void)
{
    /* 1023 bytes per part is allowed, 1024 is not, in each part */
    size_t n = JID_PART_MAX + 1;
    char *part = malloc(n + 1);
    memset(part, 'a', n);
    part[n] = '\0';
    char *jid = malloc(3 * n + 10);

    part[JID_PART_MAX] = '\0';
    sprintf(jid, "%s@%s/%s", part, part, part);
    CHECK(jid_split(jid, NULL) == 0);
    char *buf = malloc(4096);
    CHECK(jid_normalize(jid, buf, 4096) == 3 * JID_PART_MAX + 2);
    CHECK(jid_normalize(jid, buf, 3 * JID_PART_MAX + 2) == -1); /* no room for NUL */
    CHECK(jid_normalize(jid, buf, 3 * JID_PART_MAX + 3) == 3 * JID_PART_MAX + 2);

    part[JID_PART_MAX] = 'a';
    sprintf(jid, "%s@h", part);
    CHECK(jid_split(jid, NULL) == -1);
    sprintf(jid, "u@%s", part);
    CHECK(jid_split(jid, NULL) == -1);
    sprintf(jid, "u@h/%s", part);
    CHECK(jid_split(jid, NULL) == -1);
    free(buf);
    free(jid);
    free(part);
}

static void test_normalize(void)
{
    char buf[256];
    CHECK(jid_bare("User@Example.ORG/Res", buf, sizeof(buf)) == 16);
    CHECK_STR(buf, "user@example.org");
    CHECK(jid_normalize("User@Example.ORG/Res", buf, sizeof(buf)) == 20);
    CHECK_STR(buf, "user@example.org/Res"); /* resource keeps its case */
    CHECK(jid_normalize("EXAMPLE.org./R", buf, sizeof(buf)) > 0);
    CHECK_STR(buf, "example.org/R");
    CHECK(jid_bare("Example.Org.", buf, sizeof(buf)) == 11);
    CHECK_STR(buf, "example.org");
    /* non-ASCII bytes are left alone (no PRECIS folding) */
    CHECK(jid_bare("\xc3\x89X@h", buf, sizeof(buf)) == 5);
    CHECK_STR(buf, "\xc3\x89x@h");
    /* buffer exactly too small / just enough */
    CHECK(jid_bare("ab@cd", buf, 5) == -1);
    CHECK(jid_bare("ab@cd", buf, 6) == 5);
    CHECK_STR(buf, "ab@cd");
    CHECK(jid_bare("ab@cd", NULL, 0) == -1);
}

static void test_compare(void)
{
    CHECK(jid_equal("a@b/c", "A@B/c") == 1);
    CHECK(jid_equal("a@b/c", "a@b/C") == 0);
    CHECK(jid_equal("a@b", "a@b/c") == 0);
    CHECK(jid_equal("a@b.", "a@B") == 1);
    CHECK(jid_equal("b", "a@b") == 0);
    CHECK(jid_equal("a@b", "a@c") == 0);
    CHECK(jid_equal("ab@c", "a@bc") == 0);
    CHECK(jid_equal("a@b/x", "a@b/xy") == 0);
    CHECK(jid_bare_equal("a@b/c", "A@b/d") == 1);
    CHECK(jid_bare_equal("a@b/c", "a@b") == 1);
    CHECK(jid_bare_equal("b/c", "b") == 1);
    CHECK(jid_bare_equal("a@b", "b") == 0);
    CHECK(jid_bare_equal("a@b", "a@b@") == 0);
    CHECK(jid_equal(NULL, "a@b") == 0);
}

static void test_at_domain(void)
{
    CHECK(jid_is_at_domain("pubsub.example.org", "pubsub.example.org") == 1);
    CHECK(jid_is_at_domain("x@PubSub.Example.org/r", "pubsub.example.org") == 1);
    CHECK(jid_is_at_domain("pubsub.example.org./r", "pubsub.example.org") == 1);
    CHECK(jid_is_at_domain("x@pubsub.example.org", "pubsub.example.org.") == 1);
    CHECK(jid_is_at_domain("x@example.org", "pubsub.example.org") == 0);
    CHECK(jid_is_at_domain("x@sub.pubsub.example.org", "pubsub.example.org") == 0);
    CHECK(jid_is_at_domain("pubsub.example.org@evil.org", "pubsub.example.org") == 0);
    CHECK(jid_is_at_domain("evil.org/pubsub.example.org", "pubsub.example.org") == 0);
    CHECK(jid_is_at_domain("x@pubsub.example.org", "y@pubsub.example.org") == 0);
    CHECK(jid_is_at_domain("@pubsub.example.org", "pubsub.example.org") == 0);
}

int main(void)
{
    UNIT_RUN(test_split);
    UNIT_RUN(test_malformed);
    UNIT_RUN(test_lengths);
    UNIT_RUN(test_normalize);
    UNIT_RUN(test_compare);
    UNIT_RUN(test_at_domain);
    return UNIT_DONE();
}
