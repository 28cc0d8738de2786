#include "component/xmpp_error.h"

#include <string.h>

#include "component/ns.h"
#include "component/stanza_util.h"

/* RFC 6120 §8.3.3: every defined condition with the type the RFC gives it
 * by default. Indexed by xerr_t so lookups cost nothing. */
static const struct {
    const char *name;
    const char *type;
} conditions[XERR_COUNT_] = {
    [XERR_NONE] = {NULL, NULL},
    [XERR_BAD_REQUEST] = {"bad-request", "modify"},
    [XERR_CONFLICT] = {"conflict", "cancel"},
    [XERR_FEATURE_NOT_IMPLEMENTED] = {"feature-not-implemented", "cancel"},
    [XERR_FORBIDDEN] = {"forbidden", "auth"},
    [XERR_GONE] = {"gone", "cancel"},
    [XERR_INTERNAL_SERVER_ERROR] = {"internal-server-error", "cancel"},
    [XERR_ITEM_NOT_FOUND] = {"item-not-found", "cancel"},
    [XERR_JID_MALFORMED] = {"jid-malformed", "modify"},
    [XERR_NOT_ACCEPTABLE] = {"not-acceptable", "modify"},
    [XERR_NOT_ALLOWED] = {"not-allowed", "cancel"},
    [XERR_NOT_AUTHORIZED] = {"not-authorized", "auth"},
    [XERR_POLICY_VIOLATION] = {"policy-violation", "modify"},
    [XERR_RECIPIENT_UNAVAILABLE] = {"recipient-unavailable", "wait"},
    [XERR_REDIRECT] = {"redirect", "modify"},
    [XERR_REGISTRATION_REQUIRED] = {"registration-required", "auth"},
    [XERR_REMOTE_SERVER_NOT_FOUND] = {"remote-server-not-found", "cancel"},
    [XERR_REMOTE_SERVER_TIMEOUT] = {"remote-server-timeout", "wait"},
    [XERR_RESOURCE_CONSTRAINT] = {"resource-constraint", "wait"},
    [XERR_SERVICE_UNAVAILABLE] = {"service-unavailable", "cancel"},
    [XERR_SUBSCRIPTION_REQUIRED] = {"subscription-required", "auth"},
    [XERR_UNDEFINED_CONDITION] = {"undefined-condition", "cancel"},
    [XERR_UNEXPECTED_REQUEST] = {"unexpected-request", "wait"},
};

const char *xerr_name(xerr_t cond)
{
    if (cond <= XERR_NONE || cond >= XERR_COUNT_)
        return NULL;
    return conditions[cond].name;
}

const char *xerr_default_type(xerr_t cond)
{
    if (cond <= XERR_NONE || cond >= XERR_COUNT_)
        return "cancel";
    return conditions[cond].type;
}

static xmpp_stanza_t *build_error_elem(xmpp_ctx_t *ctx, const xerr_spec_t *spec)
{
    xerr_t cond = spec->cond;
    /* XERR_NONE or garbage here is a caller bug; still answer something
     * valid rather than nothing, since the IQ needs its one reply. */
    if (!xerr_name(cond))
        cond = XERR_UNDEFINED_CONDITION;

    xmpp_stanza_t *err = stanza_new_elem(ctx, "error", NULL);
    if (!err)
        return NULL;
    if (xmpp_stanza_set_type(err, spec->type ? spec->type : xerr_default_type(cond)) != XMPP_EOK)
        goto fail;
    /* RFC 6120 §8.3.2 order: defined condition, text, app condition. */
    if (stanza_adopt(err, stanza_new_elem(ctx, xerr_name(cond), NS_STANZAS)) < 0)
        goto fail;
    if (spec->text) {
        xmpp_stanza_t *text = stanza_new_elem(ctx, "text", NS_STANZAS);
        xmpp_stanza_t *body = xmpp_stanza_new(ctx);
        if (!text || !body || xmpp_stanza_set_text(body, spec->text) != XMPP_EOK) {
            if (text)
                xmpp_stanza_release(text);
            if (body)
                xmpp_stanza_release(body);
            goto fail;
        }
        if (stanza_adopt(text, body) < 0 || stanza_adopt(err, text) < 0)
            goto fail;
    }
    if (spec->app_cond) {
        xmpp_stanza_t *app = stanza_new_elem(ctx, spec->app_cond, spec->app_ns);
        if (!app)
            goto fail;
        if (spec->app_feature &&
            xmpp_stanza_set_attribute(app, "feature", spec->app_feature) != XMPP_EOK) {
            xmpp_stanza_release(app);
            goto fail;
        }
        if (stanza_adopt(err, app) < 0)
            goto fail;
    }
    return err;
fail:
    xmpp_stanza_release(err);
    return NULL;
}

static xmpp_stanza_t *first_child_elem(xmpp_stanza_t *s)
{
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(s); c; c = xmpp_stanza_get_next(c))
        if (xmpp_stanza_is_tag(c))
            return c;
    return NULL;
}

/* Whether the payload can be echoed safely (found by tests/fuzz):
 *   - not an <error/>: the reply would hold two, and the requester would
 *     read the echo;
 *   - no element in the xml: namespace: libstrophe writes a namespace as
 *     xmlns='…', which XML forbids for that one, so the reply would be
 *     ill-formed and the server would close our stream;
 *   - at most ECHO_DEPTH_MAX levels deep: libstrophe copies and renders
 *     recursively, and a deep enough payload overflows the stack. */
#define ECHO_DEPTH_MAX 64
#define NS_XML "http://www.w3.org/XML/1998/namespace"

static int echo_safe_tree(xmpp_stanza_t *s, int depth)
{
    if (!xmpp_stanza_is_tag(s))
        return 1;
    const char *ns = xmpp_stanza_get_ns(s);
    if (depth > ECHO_DEPTH_MAX || (ns && strcmp(ns, NS_XML) == 0))
        return 0;
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(s); c; c = xmpp_stanza_get_next(c))
        if (!echo_safe_tree(c, depth + 1))
            return 0;
    return 1;
}

static int echo_safe(xmpp_stanza_t *payload)
{
    return strcmp(xmpp_stanza_get_name(payload), "error") != 0 && echo_safe_tree(payload, 1);
}

xmpp_stanza_t *xerr_reply(xmpp_ctx_t *ctx, xmpp_stanza_t *orig, const xerr_spec_t *spec)
{
    const char *name = xmpp_stanza_get_name(orig);
    const char *type = xmpp_stanza_get_type(orig);
    if (!name)
        return NULL;
    /* Answering an error could start an error loop between two entities
     * (RFC 6120 §8.3.1); an IQ result needs no answer by definition. */
    if (type && strcmp(type, "error") == 0)
        return NULL;
    int is_iq = strcmp(name, "iq") == 0;
    if (is_iq && type && strcmp(type, "result") == 0)
        return NULL;

    xmpp_stanza_t *reply = stanza_new_elem(ctx, name, NULL);
    if (!reply)
        return NULL;
    const char *from = xmpp_stanza_get_from(orig);
    const char *to = xmpp_stanza_get_to(orig);
    const char *id = xmpp_stanza_get_id(orig);
    if ((from && xmpp_stanza_set_to(reply, from) != XMPP_EOK) ||
        (to && xmpp_stanza_set_from(reply, to) != XMPP_EOK) ||
        (id && xmpp_stanza_set_id(reply, id) != XMPP_EOK) ||
        xmpp_stanza_set_type(reply, "error") != XMPP_EOK)
        goto fail;
    /* The requester matches the error to its request by id, and the
     * echoed child tells it which of its queries failed (§8.3.1). Only
     * IQs carry it: echoing a message body back is of no use. */
    if (is_iq) {
        xmpp_stanza_t *child = first_child_elem(orig);
        if (child && echo_safe(child) && stanza_adopt(reply, xmpp_stanza_copy(child)) < 0)
            goto fail;
    }
    if (stanza_adopt(reply, build_error_elem(ctx, spec)) < 0)
        goto fail;
    return reply;
fail:
    xmpp_stanza_release(reply);
    return NULL;
}

xmpp_stanza_t *xerr_reply_cond(xmpp_ctx_t *ctx, xmpp_stanza_t *orig, xerr_t cond)
{
    xerr_spec_t spec = {.cond = cond};
    return xerr_reply(ctx, orig, &spec);
}
