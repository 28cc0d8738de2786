#include "pubsub/buf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void ps_buf_init(ps_buf_t *b)
{
    *b = (ps_buf_t){0};
}

void ps_buf_free(ps_buf_t *b)
{
    free(b->data);
    *b = (ps_buf_t){0};
}

void ps_buf_reset(ps_buf_t *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

int ps_buf_reserve(ps_buf_t *b, size_t extra)
{
    if (extra > SIZE_MAX - b->len - 1)
        return -1;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *p = realloc(b->data, cap);
    if (!p)
        return -1;
    b->data = p;
    b->cap = cap;
    return 0;
}

int ps_buf_append(ps_buf_t *b, const void *p, size_t n)
{
    if (ps_buf_reserve(b, n) < 0)
        return -1;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int ps_buf_append_str(ps_buf_t *b, const char *s)
{
    return ps_buf_append(b, s, strlen(s));
}

static const char *entity(char c, int attr)
{
    switch (c) {
    case '&':
        return "&amp;";
    case '<':
        return "&lt;";
    case '>':
        return "&gt;";
    case '\'':
        return attr ? "&apos;" : NULL;
    case '"':
        return attr ? "&quot;" : NULL;
    default:
        return NULL;
    }
}

size_t ps_buf_attr_len(const char *s, size_t n)
{
    size_t len = n;
    for (size_t i = 0; i < n; i++) {
        const char *e = entity(s[i], 1);
        if (e)
            len += strlen(e) - 1;
    }
    return len;
}

/* Copies runs without special characters in one memcpy: JIDs and ids
 * rarely contain any, so the common case is a single copy. */
static int append_escaped(ps_buf_t *b, const char *s, size_t n, int attr)
{
    size_t old = b->len;
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        const char *e = entity(s[i], attr);
        if (!e)
            continue;
        if (ps_buf_append(b, s + run, i - run) < 0 || ps_buf_append_str(b, e) < 0)
            goto oom;
        run = i + 1;
    }
    if (ps_buf_append(b, s + run, n - run) < 0)
        goto oom;
    return 0;
oom:
    b->len = old;
    if (b->data)
        b->data[old] = '\0';
    return -1;
}

int ps_buf_append_attr(ps_buf_t *b, const char *s, size_t n)
{
    return append_escaped(b, s, n, 1);
}

int ps_buf_append_attribute(ps_buf_t *b, const char *prefix, const char *name, const char *value)
{
    size_t old = b->len;
    if (ps_buf_append(b, " ", 1) < 0 || (prefix && ps_buf_append_str(b, prefix) < 0) ||
        ps_buf_append_str(b, name) < 0 || ps_buf_append(b, "='", 2) < 0 ||
        ps_buf_append_attr(b, value, strlen(value)) < 0 || ps_buf_append(b, "'", 1) < 0) {
        b->len = old;
        if (b->data)
            b->data[old] = '\0';
        return -1;
    }
    return 0;
}

int ps_buf_append_text(ps_buf_t *b, const char *s, size_t n)
{
    return append_escaped(b, s, n, 0);
}

int ps_buf_append_u64(ps_buf_t *b, unsigned long long v)
{
    char tmp[24];
    size_t i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return ps_buf_append(b, tmp + i, sizeof tmp - i);
}
