#include "pubsub/xdata.h"

#include <stdlib.h>
#include <string.h>

#include "component/ns.h"
#include "component/stanza_util.h"

static int is_elem(xmpp_stanza_t *s, const char *name)
{
    const char *n;
    return xmpp_stanza_is_tag(s) && (n = xmpp_stanza_get_name(s)) && strcmp(n, name) == 0;
}

xmpp_stanza_t *ps_xdata_find(xmpp_stanza_t *parent)
{
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(parent); c; c = xmpp_stanza_get_next(c)) {
        const char *ns = xmpp_stanza_get_ns(c);
        if (is_elem(c, "x") && ns && strcmp(ns, NS_DATA_FORMS) == 0)
            return c;
    }
    return NULL;
}

const char *ps_xdata_type(xmpp_stanza_t *x)
{
    return xmpp_stanza_get_attribute(x, "type");
}

static xmpp_stanza_t *field_from(xmpp_stanza_t *c)
{
    for (; c; c = xmpp_stanza_get_next(c))
        if (is_elem(c, "field"))
            return c;
    return NULL;
}

xmpp_stanza_t *ps_xdata_first_field(xmpp_stanza_t *x)
{
    return field_from(xmpp_stanza_get_children(x));
}

xmpp_stanza_t *ps_xdata_next_field(xmpp_stanza_t *field)
{
    return field_from(xmpp_stanza_get_next(field));
}

int ps_xdata_value_count(xmpp_stanza_t *field)
{
    int n = 0;
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(field); c; c = xmpp_stanza_get_next(c))
        n += is_elem(c, "value");
    return n;
}

/* Concatenated character data of `el` as a new malloc'd string. */
static char *text_of(xmpp_stanza_t *el)
{
    size_t len = 0;
    for (xmpp_stanza_t *t = xmpp_stanza_get_children(el); t; t = xmpp_stanza_get_next(t))
        if (xmpp_stanza_is_text(t) && xmpp_stanza_get_text_ptr(t))
            len += strlen(xmpp_stanza_get_text_ptr(t));
    char *s = malloc(len + 1);
    if (!s)
        return NULL;
    len = 0;
    for (xmpp_stanza_t *t = xmpp_stanza_get_children(el); t; t = xmpp_stanza_get_next(t)) {
        const char *p;
        if (xmpp_stanza_is_text(t) && (p = xmpp_stanza_get_text_ptr(t))) {
            size_t n = strlen(p);
            memcpy(s + len, p, n);
            len += n;
        }
    }
    s[len] = '\0';
    return s;
}

int ps_xdata_first_value(xmpp_stanza_t *field, char **out)
{
    *out = NULL;
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(field); c; c = xmpp_stanza_get_next(c)) {
        if (!is_elem(c, "value"))
            continue;
        *out = text_of(c);
        return *out ? 0 : -1;
    }
    return 0;
}

int ps_xdata_form_type(xmpp_stanza_t *x, char **out)
{
    *out = NULL;
    for (xmpp_stanza_t *f = ps_xdata_first_field(x); f; f = ps_xdata_next_field(f)) {
        const char *var = xmpp_stanza_get_attribute(f, "var");
        if (var && strcmp(var, "FORM_TYPE") == 0)
            return ps_xdata_first_value(f, out);
    }
    return 0;
}

/* <name>text</name> */
static xmpp_stanza_t *text_elem(xmpp_ctx_t *ctx, const char *name, const char *text)
{
    xmpp_stanza_t *e = stanza_new_elem(ctx, name, NULL);
    if (!e)
        return NULL;
    if (!*text)
        return e;
    xmpp_stanza_t *t = xmpp_stanza_new(ctx);
    if (t && xmpp_stanza_set_text(t, text) != XMPP_EOK) {
        xmpp_stanza_release(t);
        t = NULL;
    }
    if (stanza_adopt(e, t) < 0) {
        xmpp_stanza_release(e);
        return NULL;
    }
    return e;
}

xmpp_stanza_t *ps_xdata_new(xmpp_ctx_t *ctx, const char *type, const char *form_type)
{
    xmpp_stanza_t *x = stanza_new_elem(ctx, "x", NS_DATA_FORMS);
    if (!x)
        return NULL;
    if (xmpp_stanza_set_type(x, type) != XMPP_EOK ||
        (form_type && ps_xdata_add(x, "FORM_TYPE", "hidden", NULL, form_type) < 0)) {
        xmpp_stanza_release(x);
        return NULL;
    }
    return x;
}

int ps_xdata_add_field(xmpp_stanza_t *x, const char *var, const char *type, const char *label,
                       const char *const *values, int n_values, const char *const *options,
                       int n_options)
{
    xmpp_ctx_t *ctx = xmpp_stanza_get_context(x);
    xmpp_stanza_t *f = stanza_new_elem(ctx, "field", NULL);
    if (!f)
        return -1;
    if (xmpp_stanza_set_attribute(f, "var", var) != XMPP_EOK ||
        (type && xmpp_stanza_set_attribute(f, "type", type) != XMPP_EOK) ||
        (label && xmpp_stanza_set_attribute(f, "label", label) != XMPP_EOK))
        goto fail;
    for (int i = 0; i < n_options; i++) {
        xmpp_stanza_t *o = stanza_new_elem(ctx, "option", NULL);
        /* o is adopted first so that a failure below frees it with f. */
        if (stanza_adopt(f, o) < 0 || stanza_adopt(o, text_elem(ctx, "value", options[i])) < 0)
            goto fail;
    }
    for (int i = 0; i < n_values; i++)
        if (stanza_adopt(f, text_elem(ctx, "value", values[i])) < 0)
            goto fail;
    return stanza_adopt(x, f);
fail:
    xmpp_stanza_release(f);
    return -1;
}

int ps_xdata_add(xmpp_stanza_t *x, const char *var, const char *type, const char *label,
                 const char *value)
{
    return ps_xdata_add_field(x, var, type, label, value ? &value : NULL, value ? 1 : 0, NULL, 0);
}
