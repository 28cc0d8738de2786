#include "component/stanza_util.h"

xmpp_stanza_t *stanza_new_elem(xmpp_ctx_t *ctx, const char *name, const char *ns)
{
    xmpp_stanza_t *e = xmpp_stanza_new(ctx);
    if (!e)
        return NULL;
    if (xmpp_stanza_set_name(e, name) != XMPP_EOK ||
        (ns && xmpp_stanza_set_ns(e, ns) != XMPP_EOK)) {
        xmpp_stanza_release(e);
        return NULL;
    }
    return e;
}

int stanza_adopt(xmpp_stanza_t *parent, xmpp_stanza_t *child)
{
    if (!child)
        return -1;
    if (xmpp_stanza_add_child_ex(parent, child, 0) != XMPP_EOK) {
        xmpp_stanza_release(child);
        return -1;
    }
    return 0;
}

xmpp_stanza_t *stanza_add_elem(xmpp_stanza_t *parent, const char *name, const char *ns)
{
    if (!parent)
        return NULL;
    xmpp_stanza_t *e = stanza_new_elem(xmpp_stanza_get_context(parent), name, ns);
    /* Still valid after adoption: the parent holds the reference. */
    return stanza_adopt(parent, e) == 0 ? e : NULL;
}
