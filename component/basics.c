#include "component/basics.h"

#include <stdlib.h>
#include <string.h>

#include "component/jid.h"
#include "component/ns.h"

typedef struct {
    char *name;
    char *version;
} basics_t;

static void basics_free(void *ud)
{
    basics_t *b = ud;
    free(b->name);
    free(b->version);
    free(b);
}

/* Adds <name>text</name> to parent; the parent keeps the references. */
static int add_text_child(xmpp_ctx_t *ctx, xmpp_stanza_t *parent, const char *name,
                          const char *text)
{
    xmpp_stanza_t *e = xmpp_stanza_new(ctx);
    xmpp_stanza_t *t = xmpp_stanza_new(ctx);
    int ok = e && t && xmpp_stanza_set_name(e, name) == XMPP_EOK &&
             xmpp_stanza_set_text(t, text) == XMPP_EOK && xmpp_stanza_add_child(e, t) == XMPP_EOK &&
             xmpp_stanza_add_child(parent, e) == XMPP_EOK;
    if (t)
        xmpp_stanza_release(t);
    if (e)
        xmpp_stanza_release(e);
    return ok ? 0 : -1;
}

/* XEP-0092 describes the software, which only the domain itself stands
 * for; a JID at the domain is a node or a user, not a program. The OS is
 * left out on purpose (§6: it helps attackers and is optional). */
static int on_version(router_t *router, xmpp_stanza_t *stanza, void *ud)
{
    basics_t *b = ud;
    jid_parts_t p;
    const char *to = xmpp_stanza_get_to(stanza);
    if (to && (jid_split(to, &p) < 0 || p.local || p.resource))
        return ROUTE_PASS;

    xmpp_ctx_t *ctx = router_ctx(router);
    xmpp_stanza_t *res = router_iq_result(router, stanza);
    xmpp_stanza_t *q = xmpp_stanza_new(ctx);
    int ok = res && q && xmpp_stanza_set_name(q, "query") == XMPP_EOK &&
             xmpp_stanza_set_ns(q, NS_VERSION) == XMPP_EOK &&
             add_text_child(ctx, q, "name", b->name) == 0 &&
             add_text_child(ctx, q, "version", b->version) == 0 &&
             xmpp_stanza_add_child(res, q) == XMPP_EOK;
    if (q)
        xmpp_stanza_release(q);
    if (ok)
        router_send(router, res);
    if (res)
        xmpp_stanza_release(res);
    return ok ? ROUTE_DONE : XERR_INTERNAL_SERVER_ERROR;
}

/* XEP-0199 §4/§6: an empty result answers a ping to any JID we host. */
static int on_ping(router_t *router, xmpp_stanza_t *stanza, void *ud)
{
    (void)ud;
    if (!xmpp_stanza_get_child_by_name_and_ns(stanza, "ping", NS_PING))
        return XERR_BAD_REQUEST;
    xmpp_stanza_t *res = router_iq_result(router, stanza);
    if (!res)
        return XERR_INTERNAL_SERVER_ERROR;
    router_send(router, res);
    xmpp_stanza_release(res);
    return ROUTE_DONE;
}

int basics_register(router_t *router, disco_t *disco, const char *name, const char *version)
{
    basics_t *b = calloc(1, sizeof(*b));
    if (!b)
        return -1;
    b->name = strdup(name ? name : "herald");
    b->version = strdup(version ? version : "0");
    if (!b->name || !b->version || router_add_cleanup(router, basics_free, b) < 0) {
        basics_free(b);
        return -1;
    }
    if (router_add(router, ROUTE_IQ_GET, NS_VERSION, on_version, b) < 0 ||
        router_add(router, ROUTE_IQ_GET, NS_PING, on_ping, NULL) < 0)
        return -1;
    if (disco) {
        disco_add_feature(disco, NS_VERSION);
        disco_add_feature(disco, NS_PING);
    }
    return 0;
}
