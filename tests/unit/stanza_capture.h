/* Test fixture for modules built on the router: a send function that
 * keeps copies of what was sent, and helpers to parse stanzas from text.
 * Header-only; include after unit.h. */
#ifndef HERALD_STANZA_CAPTURE_H
#define HERALD_STANZA_CAPTURE_H

#include <stdlib.h>
#include <string.h>
#include <strophe.h>

#define CAPTURE_MAX 64

typedef struct {
    xmpp_ctx_t *ctx;
    xmpp_stanza_t *sent[CAPTURE_MAX];
    int n;
} capture_t;

/* router_send_fn: the router releases its stanza after sending, so keep a
 * deep copy. */
static inline void capture_send(xmpp_stanza_t *stanza, void *ud)
{
    capture_t *c = ud;
    if (c->n < CAPTURE_MAX)
        c->sent[c->n] = xmpp_stanza_copy(stanza);
    c->n++;
}

static inline void capture_clear(capture_t *c)
{
    for (int i = 0; i < c->n && i < CAPTURE_MAX; i++)
        xmpp_stanza_release(c->sent[i]);
    c->n = 0;
}

/* The last stanza sent, or NULL. Borrowed. */
static inline xmpp_stanza_t *capture_last(capture_t *c)
{
    return c->n > 0 && c->n <= CAPTURE_MAX ? c->sent[c->n - 1] : NULL;
}

/* NULL-tolerant accessors, so that a failing test reports instead of
 * crashing on a missing element. */
#define T_GETTER(fn, what)                                                                         \
    static inline const char *t_##what(xmpp_stanza_t *s)                                           \
    {                                                                                              \
        return s ? fn(s) : NULL;                                                                   \
    }
T_GETTER(xmpp_stanza_get_type, type)
T_GETTER(xmpp_stanza_get_id, id)
T_GETTER(xmpp_stanza_get_to, to)
T_GETTER(xmpp_stanza_get_from, from)
T_GETTER(xmpp_stanza_get_name, name)
T_GETTER(xmpp_stanza_get_ns, ns)
T_GETTER(xmpp_stanza_get_text_ptr, text_ptr)
#undef T_GETTER

static inline const char *t_attr(xmpp_stanza_t *s, const char *name)
{
    return s ? xmpp_stanza_get_attribute(s, name) : NULL;
}
static inline xmpp_stanza_t *t_children(xmpp_stanza_t *s)
{
    return s ? xmpp_stanza_get_children(s) : NULL;
}
static inline xmpp_stanza_t *t_next(xmpp_stanza_t *s)
{
    return s ? xmpp_stanza_get_next(s) : NULL;
}
static inline xmpp_stanza_t *t_child(xmpp_stanza_t *s, const char *name)
{
    return s ? xmpp_stanza_get_child_by_name(s, name) : NULL;
}
static inline xmpp_stanza_t *t_child_ns(xmpp_stanza_t *s, const char *name, const char *ns)
{
    return s ? xmpp_stanza_get_child_by_name_and_ns(s, name, ns) : NULL;
}

/* Parses one stanza; aborts the test binary on malformed fixtures. */
static inline xmpp_stanza_t *fixture(xmpp_ctx_t *ctx, const char *xml)
{
    xmpp_stanza_t *s = xmpp_stanza_new_from_string(ctx, xml);
    if (!s) {
        fprintf(stderr, "bad fixture: %s\n", xml);
        abort();
    }
    return s;
}

/* Serializes into a static buffer (valid until the next call). */
static inline const char *stanza_text(xmpp_stanza_t *s)
{
    static char out[8192];
    char *buf = NULL;
    size_t len = 0;
    out[0] = '\0';
    if (s && xmpp_stanza_to_text(s, &buf, &len) == XMPP_EOK) {
        snprintf(out, sizeof(out), "%s", buf);
        xmpp_free(xmpp_stanza_get_context(s), buf);
    }
    return out;
}

/* Name of the defined condition in an error reply, or NULL. */
static inline const char *error_condition(xmpp_stanza_t *reply)
{
    xmpp_stanza_t *err = reply ? xmpp_stanza_get_child_by_name(reply, "error") : NULL;
    if (!err)
        return NULL;
    xmpp_stanza_t *c = xmpp_stanza_get_child_by_ns(err, "urn:ietf:params:xml:ns:xmpp-stanzas");
    for (; c; c = xmpp_stanza_get_next(c))
        if (xmpp_stanza_is_tag(c) && strcmp(xmpp_stanza_get_name(c), "text") != 0)
            return xmpp_stanza_get_name(c);
    return NULL;
}

static inline const char *error_type(xmpp_stanza_t *reply)
{
    xmpp_stanza_t *err = reply ? xmpp_stanza_get_child_by_name(reply, "error") : NULL;
    return err ? xmpp_stanza_get_type(err) : NULL;
}

#endif
