/* RFC 7622 structure: the resourcepart starts at the first '/', and the
 * localpart ends at the first '@' before it, so a resource may contain
 * '@' and '/' but a domain may contain neither. Every function works on
 * views into the caller's string; nothing is allocated. */
#include "component/jid.h"

#include <string.h>

static int fold(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

/* RFC 7622 §3.3.1 forbids these in a localpart (besides controls). */
static int local_char_ok(unsigned char c)
{
    if (c < 0x21 || c == 0x7f)
        return 0;
    return strchr("\"&'/:<>@", c) == NULL;
}

/* Domain names are hostnames or IP literals; markup characters, spaces and
 * controls cannot appear in either and are rejected early. */
static int domain_char_ok(unsigned char c)
{
    if (c < 0x21 || c == 0x7f)
        return 0;
    return strchr("\"&'/<>@\\", c) == NULL;
}

/* The resourcepart is an OpaqueString: anything but control characters. */
static int resource_char_ok(unsigned char c)
{
    return c >= 0x20 && c != 0x7f;
}

/* Length of the domainpart without its trailing dot (RFC 7622 §3.2: the
 * dot is not significant and is removed before comparison). */
static size_t domain_len_stripped(const jid_parts_t *p)
{
    size_t n = p->domain_len;
    if (n > 0 && p->domain[n - 1] == '.')
        n--;
    return n;
}

int jid_split(const char *jid, jid_parts_t *out)
{
    jid_parts_t p = {0};
    if (!jid)
        return -1;
    const char *slash = strchr(jid, '/');
    const char *end = slash ? slash : jid + strlen(jid);
    const char *at = memchr(jid, '@', (size_t)(end - jid));

    if (at) {
        p.local = jid;
        p.local_len = (size_t)(at - jid);
        if (p.local_len == 0 || p.local_len > JID_PART_MAX)
            return -1;
        for (size_t i = 0; i < p.local_len; i++)
            if (!local_char_ok((unsigned char)p.local[i]))
                return -1;
        p.domain = at + 1;
    } else {
        p.domain = jid;
    }
    p.domain_len = (size_t)(end - p.domain);
    if (p.domain_len == 0 || p.domain_len > JID_PART_MAX)
        return -1;
    for (size_t i = 0; i < p.domain_len; i++) {
        unsigned char c = (unsigned char)p.domain[i];
        if (!domain_char_ok(c))
            return -1;
        /* Empty labels ("a..b", ".a") are not hostnames; a single trailing
         * dot is the fully-qualified spelling and allowed. */
        if (c == '.' && (i == 0 || p.domain[i - 1] == '.'))
            return -1;
    }
    if (slash) {
        p.resource = slash + 1;
        p.resource_len = strlen(p.resource);
        if (p.resource_len == 0 || p.resource_len > JID_PART_MAX)
            return -1;
        for (size_t i = 0; i < p.resource_len; i++)
            if (!resource_char_ok((unsigned char)p.resource[i]))
                return -1;
    }
    if (out)
        *out = p;
    return 0;
}

static void copy_folded(char *dst, const char *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = (char)fold((unsigned char)src[i]);
}

/* Writes local@domain[/resource] normalized; returns length or -1. */
static int write_jid(const char *jid, char *buf, size_t buflen, int full)
{
    jid_parts_t p;
    if (jid_split(jid, &p) < 0 || !buf)
        return -1;
    size_t dlen = domain_len_stripped(&p);
    size_t need =
        (p.local ? p.local_len + 1 : 0) + dlen + (full && p.resource ? p.resource_len + 1 : 0);
    if (need + 1 > buflen)
        return -1;
    char *w = buf;
    if (p.local) {
        copy_folded(w, p.local, p.local_len);
        w += p.local_len;
        *w++ = '@';
    }
    copy_folded(w, p.domain, dlen);
    w += dlen;
    if (full && p.resource) {
        *w++ = '/';
        memcpy(w, p.resource, p.resource_len);
        w += p.resource_len;
    }
    *w = '\0';
    return (int)need;
}

int jid_bare(const char *jid, char *buf, size_t buflen)
{
    return write_jid(jid, buf, buflen, 0);
}

int jid_normalize(const char *jid, char *buf, size_t buflen)
{
    return write_jid(jid, buf, buflen, 1);
}

static int fold_equal(const char *a, size_t alen, const char *b, size_t blen)
{
    if (alen != blen)
        return 0;
    for (size_t i = 0; i < alen; i++)
        if (fold((unsigned char)a[i]) != fold((unsigned char)b[i]))
            return 0;
    return 1;
}

static int parts_bare_equal(const jid_parts_t *a, const jid_parts_t *b)
{
    return fold_equal(a->local, a->local_len, b->local, b->local_len) &&
           fold_equal(a->domain, domain_len_stripped(a), b->domain, domain_len_stripped(b));
}

int jid_equal(const char *a, const char *b)
{
    jid_parts_t pa, pb;
    if (jid_split(a, &pa) < 0 || jid_split(b, &pb) < 0)
        return 0;
    if (!parts_bare_equal(&pa, &pb))
        return 0;
    /* Resources compare exactly (RFC 7622 keeps their case). A missing
     * resource differs from any present one. */
    if (!pa.resource != !pb.resource)
        return 0;
    return pa.resource_len == pb.resource_len &&
           (pa.resource_len == 0 || memcmp(pa.resource, pb.resource, pa.resource_len) == 0);
}

int jid_bare_equal(const char *a, const char *b)
{
    jid_parts_t pa, pb;
    if (jid_split(a, &pa) < 0 || jid_split(b, &pb) < 0)
        return 0;
    return parts_bare_equal(&pa, &pb);
}

int jid_is_at_domain(const char *jid, const char *domain)
{
    jid_parts_t p, d;
    if (jid_split(jid, &p) < 0 || jid_split(domain, &d) < 0)
        return 0;
    /* `domain` must itself be a bare domain, not a JID with parts. */
    if (d.local || d.resource)
        return 0;
    return fold_equal(p.domain, domain_len_stripped(&p), d.domain, domain_len_stripped(&d));
}
