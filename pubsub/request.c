/* One function per verb; each first checks the IQ type and the elements
 * allowed next to the verb, then the attributes in the order XEP-0060
 * lists their errors, so that a request with several faults gets the
 * error a client expects first (e.g. nodeid-required before item
 * problems). */
#include "pubsub/request.h"

#include <stdlib.h>
#include <string.h>

#include "component/jid.h"
#include "component/ns.h"
#include "pubsub/errors.h"
#include "pubsub/xdata.h"

#define JID_BUF (3 * JID_PART_MAX + 3)
#define MAX_VERB_ELEMS 2

static int bad(xerr_spec_t *err, const char *text)
{
    return ps_err(err, XERR_BAD_REQUEST, NULL, text);
}

static int bad_app(xerr_spec_t *err, const char *app)
{
    return ps_err(err, XERR_BAD_REQUEST, app, NULL);
}

static int oom(xerr_spec_t *err)
{
    return ps_err(err, XERR_INTERNAL_SERVER_ERROR, NULL, NULL);
}

static bool named(xmpp_stanza_t *el, const char *name)
{
    const char *n = xmpp_stanza_get_name(el);
    return n && strcmp(n, name) == 0;
}

static xmpp_stanza_t *next_elem(xmpp_stanza_t *c)
{
    while (c && !xmpp_stanza_is_tag(c))
        c = xmpp_stanza_get_next(c);
    return c;
}

#define FOR_EACH_ELEM(c, parent)                                                                   \
    for (xmpp_stanza_t *c = next_elem(xmpp_stanza_get_children(parent)); c;                        \
         c = next_elem(xmpp_stanza_get_next(c)))

/* An attribute, with "" read as absent: an empty NodeID, JID or id names
 * nothing. */
static const char *attr(xmpp_stanza_t *el, const char *name)
{
    const char *v = xmpp_stanza_get_attribute(el, name);
    return v && *v ? v : NULL;
}

/* xs:boolean; -1 if malformed. */
static int parse_bool(const char *s, bool *out)
{
    if (strcmp(s, "1") == 0 || strcmp(s, "true") == 0)
        *out = true;
    else if (strcmp(s, "0") == 0 || strcmp(s, "false") == 0)
        *out = false;
    else
        return -1;
    return 0;
}

/* xs:positiveInteger within uint32; -1 otherwise. */
static int parse_positive(const char *s, uint32_t *out)
{
    uint64_t v = 0;
    if (!*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (uint64_t)(*s - '0');
        if (v > UINT32_MAX)
            return -1;
    }
    if (v == 0)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

/* Normalized copy of `jid` (bare when `bare`), or NULL if malformed or
 * out of memory (*oom_out tells which). */
static char *norm_jid(const char *jid, bool bare, bool *oom_out)
{
    char buf[JID_BUF];
    int n = bare ? jid_bare(jid, buf, sizeof buf) : jid_normalize(jid, buf, sizeof buf);
    *oom_out = false;
    if (n < 0)
        return NULL;
    char *s = strdup(buf);
    *oom_out = s == NULL;
    return s;
}

/* Requires the node attribute of `el` (§7.2.3.3, §8.2.3.3 …). */
static int need_node(ps_request_t *req, xmpp_stanza_t *el, xerr_spec_t *err)
{
    req->node = attr(el, "node");
    return req->node ? 0 : bad_app(err, PS_E_NODEID_REQUIRED);
}

/* Collects the 'id' of each <item/> child. `required`: an item without
 * id is item-required (retract); otherwise bad-request (items). */
static int collect_item_ids(ps_request_t *req, xmpp_stanza_t *el, bool required, xerr_spec_t *err)
{
    size_t n = 0;
    FOR_EACH_ELEM(c, el) n++;
    if (n == 0)
        return 0;
    req->item_ids = calloc(n, sizeof *req->item_ids);
    if (!req->item_ids)
        return oom(err);
    FOR_EACH_ELEM(c, el)
    {
        const char *id = attr(c, "id");
        if (!named(c, "item"))
            return bad(err, "only <item/> elements are allowed here");
        if (!id)
            return required ? bad_app(err, PS_E_ITEM_REQUIRED) : bad(err, "<item/> without id");
        req->item_ids[req->n_item_ids++] = id;
    }
    return 0;
}

/* ---- http://jabber.org/protocol/pubsub -------------------------------- */

static int parse_create(ps_request_t *req, xmpp_stanza_t **el, int n, xerr_spec_t *err)
{
    req->verb = PS_REQ_CREATE;
    req->node = attr(el[0], "node"); /* absent: instant node (§8.1.2) */
    if (n == 2) {
        /* §8.1.3: <configure/> follows <create/> and has no node. */
        if (!named(el[1], "configure") || xmpp_stanza_get_attribute(el[1], "node"))
            return bad(err, "<configure/> must follow <create/> without a "
                            "node attribute");
        req->form = ps_xdata_find(el[1]);
    }
    return 0;
}

static int parse_subscriber_jid(ps_request_t *req, xmpp_stanza_t *el, xerr_spec_t *err)
{
    const char *jid = attr(el, "jid");
    bool o;
    if (!jid)
        return bad_app(err, PS_E_JID_REQUIRED);
    req->jid = norm_jid(jid, false, &o);
    if (!req->jid)
        return o ? oom(err) : bad_app(err, PS_E_INVALID_JID);
    return 0;
}

static int parse_subscribe(ps_request_t *req, xmpp_stanza_t **el, int n, xerr_spec_t *err)
{
    req->verb = PS_REQ_SUBSCRIBE;
    if (n == 2) {
        if (named(el[1], "options"))
            return ps_err_unsupported(err, "subscription-options");
        return bad(err, "unexpected element after <subscribe/>");
    }
    int rc = need_node(req, el[0], err);
    if (!rc)
        rc = parse_subscriber_jid(req, el[0], err);
    if (rc)
        return rc;
    /* §6.1.3.1: the subscribed JID must be the requester's own. */
    if (!jid_bare_equal(req->jid, req->from_bare))
        return bad_app(err, PS_E_INVALID_JID);
    return 0;
}

static int parse_unsubscribe(ps_request_t *req, xmpp_stanza_t **el, xerr_spec_t *err)
{
    req->verb = PS_REQ_UNSUBSCRIBE;
    int rc = need_node(req, el[0], err);
    if (!rc)
        rc = parse_subscriber_jid(req, el[0], err);
    req->subid = attr(el[0], "subid");
    return rc;
}

static int parse_publish(ps_request_t *req, xmpp_stanza_t **el, int n, xerr_spec_t *err)
{
    req->verb = PS_REQ_PUBLISH;
    if (n == 2) {
        if (!named(el[1], "publish-options"))
            return bad(err, "unexpected element after <publish/>");
        req->form = ps_xdata_find(el[1]);
    }
    int rc = need_node(req, el[0], err);
    if (rc)
        return rc;
    FOR_EACH_ELEM(c, el[0])
    {
        if (!named(c, "item"))
            return bad(err, "only <item/> elements are allowed in <publish/>");
        /* Batch publishing left XEP-0060 in 1.13: one item at most. */
        if (req->item)
            return ps_err(err, XERR_BAD_REQUEST, PS_E_INVALID_PAYLOAD, "one item per publish");
        req->item = c;
    }
    if (!req->item)
        return 0;
    req->item_id = attr(req->item, "id");
    FOR_EACH_ELEM(p, req->item)
    {
        /* §7.1.3.5: exactly one payload element. */
        if (req->payload)
            return bad_app(err, PS_E_INVALID_PAYLOAD);
        req->payload = p;
    }
    return 0;
}

static int parse_retract(ps_request_t *req, xmpp_stanza_t **el, xerr_spec_t *err)
{
    req->verb = PS_REQ_RETRACT;
    int rc = need_node(req, el[0], err);
    if (rc)
        return rc;
    const char *notify = xmpp_stanza_get_attribute(el[0], "notify");
    if (notify && parse_bool(notify, &req->notify) < 0)
        return bad(err, "notify must be a boolean");
    rc = collect_item_ids(req, el[0], true, err);
    if (rc)
        return rc;
    /* §7.2.3.4: at least one item, each with an id. */
    return req->n_item_ids ? 0 : bad_app(err, PS_E_ITEM_REQUIRED);
}

static int parse_items(ps_request_t *req, xmpp_stanza_t **el, xerr_spec_t *err)
{
    req->verb = PS_REQ_ITEMS;
    int rc = need_node(req, el[0], err);
    if (rc)
        return rc;
    const char *max = xmpp_stanza_get_attribute(el[0], "max_items");
    if (max && parse_positive(max, &req->max_items) < 0)
        return bad(err, "max_items must be a positive integer");
    req->subid = attr(el[0], "subid");
    return collect_item_ids(req, el[0], false, err);
}

static int parse_user(ps_request_t *req, bool set, xmpp_stanza_t **el, int n, xerr_spec_t *err)
{
    const char *v = xmpp_stanza_get_name(el[0]);
    /* Verbs that accept a second element name it in their parser; for
     * the others a second element is an error. */
    bool pair =
        strcmp(v, "create") == 0 || strcmp(v, "subscribe") == 0 || strcmp(v, "publish") == 0;
    if (strcmp(v, "options") == 0)
        return ps_err_unsupported(err, "subscription-options");
    if (strcmp(v, "default") == 0)
        return ps_err_unsupported(err, "retrieve-default-sub");
    if (n > 1 && !pair)
        return bad(err, "one request per <pubsub/>");

    static const struct {
        const char *name;
        bool set;
    } verbs[] = {{"create", true},         {"subscribe", true},    {"unsubscribe", true},
                 {"publish", true},        {"retract", true},      {"items", false},
                 {"subscriptions", false}, {"affiliations", false}};
    size_t i;
    for (i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
        if (strcmp(v, verbs[i].name) == 0)
            break;
    if (i == sizeof verbs / sizeof verbs[0])
        return bad(err, "unknown pubsub request");
    if (verbs[i].set != set)
        return bad(err, set ? "this request is an IQ get" : "this request is an IQ set");
    switch (i) {
    case 0:
        return parse_create(req, el, n, err);
    case 1:
        return parse_subscribe(req, el, n, err);
    case 2:
        return parse_unsubscribe(req, el, err);
    case 3:
        return parse_publish(req, el, n, err);
    case 4:
        return parse_retract(req, el, err);
    case 5:
        return parse_items(req, el, err);
    case 6:
        req->verb = PS_REQ_SUBSCRIPTIONS;
        req->node = attr(el[0], "node");
        return 0;
    default:
        req->verb = PS_REQ_AFFILIATIONS;
        req->node = attr(el[0], "node");
        return 0;
    }
}

/* ---- http://jabber.org/protocol/pubsub#owner ------------------------- */

static int parse_sub_changes(ps_request_t *req, xmpp_stanza_t *list, xerr_spec_t *err)
{
    size_t n = 0;
    FOR_EACH_ELEM(c, list) n++;
    if (n == 0)
        return bad(err, "no <subscription/> to change");
    req->sub_changes = calloc(n, sizeof *req->sub_changes);
    if (!req->sub_changes)
        return oom(err);
    FOR_EACH_ELEM(c, list)
    {
        ps_sub_change_t *ch = &req->sub_changes[req->n_sub_changes];
        const char *jid = attr(c, "jid");
        const char *state = xmpp_stanza_get_attribute(c, "subscription");
        bool o;
        if (!named(c, "subscription"))
            return bad(err, "only <subscription/> elements are allowed here");
        if (!jid)
            return bad_app(err, PS_E_JID_REQUIRED);
        ch->jid = norm_jid(jid, false, &o);
        if (!ch->jid)
            return o ? oom(err) : bad_app(err, PS_E_INVALID_JID);
        req->n_sub_changes++;
        ch->subid = attr(c, "subid");
        if (state) {
            if (ps_sub_state_from_name(state, &ch->state) < 0)
                return bad(err, "unknown subscription state");
            ch->has_state = true;
        }
        /* §8.8.4: several entries for one JID need distinct subids. */
        for (size_t k = 0; k + 1 < req->n_sub_changes; k++) {
            const ps_sub_change_t *o2 = &req->sub_changes[k];
            if (strcmp(o2->jid, ch->jid) == 0 &&
                (!o2->subid || !ch->subid || strcmp(o2->subid, ch->subid) == 0))
                return bad(err, "JID listed twice without distinct subids");
        }
    }
    return 0;
}

static int parse_aff_changes(ps_request_t *req, xmpp_stanza_t *list, xerr_spec_t *err)
{
    size_t n = 0;
    FOR_EACH_ELEM(c, list) n++;
    if (n == 0)
        return bad(err, "no <affiliation/> to change");
    req->aff_changes = calloc(n, sizeof *req->aff_changes);
    if (!req->aff_changes)
        return oom(err);
    FOR_EACH_ELEM(c, list)
    {
        ps_aff_change_t *ch = &req->aff_changes[req->n_aff_changes];
        const char *jid = attr(c, "jid");
        const char *aff = xmpp_stanza_get_attribute(c, "affiliation");
        bool o;
        if (!named(c, "affiliation"))
            return bad(err, "only <affiliation/> elements are allowed here");
        if (!jid)
            return bad_app(err, PS_E_JID_REQUIRED);
        /* §4.1: affiliations are held by bare JIDs. */
        ch->jid = norm_jid(jid, true, &o);
        if (!ch->jid)
            return o ? oom(err) : bad_app(err, PS_E_INVALID_JID);
        req->n_aff_changes++;
        if (!aff || ps_affiliation_from_name(aff, &ch->affiliation) < 0)
            return bad(err, "missing or unknown affiliation");
        /* §8.9.2.5: one entry per JID, else bad-request. */
        for (size_t k = 0; k + 1 < req->n_aff_changes; k++)
            if (strcmp(req->aff_changes[k].jid, ch->jid) == 0)
                return bad(err, "JID listed twice");
    }
    return 0;
}

static int parse_owner(ps_request_t *req, bool set, xmpp_stanza_t **el, int n, xerr_spec_t *err)
{
    xmpp_stanza_t *e = el[0];
    const char *v = xmpp_stanza_get_name(e);
    if (n > 1)
        return bad(err, "one request per <pubsub/>");
    if (strcmp(v, "default") == 0) {
        if (set)
            return bad(err, "this request is an IQ get");
        req->verb = PS_REQ_DEFAULT;
        return 0;
    }
    if (strcmp(v, "configure") == 0) {
        req->verb = set ? PS_REQ_CONFIGURE_SET : PS_REQ_CONFIGURE_GET;
        int rc = need_node(req, e, err);
        if (rc || !set)
            return rc;
        req->form = ps_xdata_find(e);
        return req->form ? 0 : bad(err, "<configure/> without a data form");
    }
    if (strcmp(v, "delete") == 0 || strcmp(v, "purge") == 0) {
        bool del = v[0] == 'd';
        req->verb = del ? PS_REQ_DELETE : PS_REQ_PURGE;
        if (!set)
            return bad(err, "this request is an IQ set");
        int rc = need_node(req, e, err);
        if (rc || !del)
            return rc;
        FOR_EACH_ELEM(c, e)
        {
            if (!named(c, "redirect") || !attr(c, "uri") || req->redirect_uri)
                return bad(err, "<delete/> takes one <redirect uri/>");
            req->redirect_uri = attr(c, "uri");
        }
        return 0;
    }
    if (strcmp(v, "subscriptions") == 0) {
        req->verb = set ? PS_REQ_OWNER_SUBSCRIPTIONS_SET : PS_REQ_OWNER_SUBSCRIPTIONS_GET;
        int rc = need_node(req, e, err);
        return rc || !set ? rc : parse_sub_changes(req, e, err);
    }
    if (strcmp(v, "affiliations") == 0) {
        req->verb = set ? PS_REQ_OWNER_AFFILIATIONS_SET : PS_REQ_OWNER_AFFILIATIONS_GET;
        int rc = need_node(req, e, err);
        return rc || !set ? rc : parse_aff_changes(req, e, err);
    }
    return bad(err, "unknown pubsub#owner request");
}

/* ---- entry point ---------------------------------------------------- */

int ps_request_parse(xmpp_stanza_t *iq, ps_request_t *req, xerr_spec_t *err)
{
    memset(req, 0, sizeof *req);
    req->iq = iq;
    const char *type = xmpp_stanza_get_type(iq);
    bool set = type && strcmp(type, "set") == 0;
    if (!set && !(type && strcmp(type, "get") == 0))
        return bad(err, "pubsub requests are IQ get or set");

    req->from = xmpp_stanza_get_from(iq);
    bool o = false;
    if (!req->from || !(req->from_bare = norm_jid(req->from, true, &o)))
        return o ? oom(err) : bad(err, "missing or malformed 'from'");

    xmpp_stanza_t *ps = next_elem(xmpp_stanza_get_children(iq));
    const char *ns = ps ? xmpp_stanza_get_ns(ps) : NULL;
    bool owner = ns && strcmp(ns, NS_PUBSUB_OWNER) == 0;
    int rc;
    if (!ps || !named(ps, "pubsub") || !(owner || (ns && strcmp(ns, NS_PUBSUB) == 0))) {
        rc = bad(err, "no <pubsub/> element");
        goto out;
    }

    xmpp_stanza_t *el[MAX_VERB_ELEMS];
    int n = 0;
    FOR_EACH_ELEM(c, ps)
    {
        const char *cns = xmpp_stanza_get_ns(c);
        if (n == MAX_VERB_ELEMS || (cns && strcmp(cns, ns) != 0)) {
            rc = bad(err, "unexpected element in <pubsub/>");
            goto out;
        }
        el[n++] = c;
    }
    if (n == 0) {
        rc = bad(err, "empty <pubsub/>");
        goto out;
    }
    rc = owner ? parse_owner(req, set, el, n, err) : parse_user(req, set, el, n, err);
out:
    if (rc)
        ps_request_clear(req);
    return rc;
}

void ps_request_clear(ps_request_t *req)
{
    free(req->from_bare);
    free(req->jid);
    free(req->item_ids);
    for (size_t i = 0; i < req->n_aff_changes; i++)
        free(req->aff_changes[i].jid);
    free(req->aff_changes);
    for (size_t i = 0; i < req->n_sub_changes; i++)
        free(req->sub_changes[i].jid);
    free(req->sub_changes);
    memset(req, 0, sizeof *req);
}

const char *ps_verb_name(ps_verb_t verb)
{
    static const char *const names[] = {
        [PS_REQ_NONE] = "none",
        [PS_REQ_CREATE] = "create",
        [PS_REQ_SUBSCRIBE] = "subscribe",
        [PS_REQ_UNSUBSCRIBE] = "unsubscribe",
        [PS_REQ_PUBLISH] = "publish",
        [PS_REQ_RETRACT] = "retract",
        [PS_REQ_ITEMS] = "items",
        [PS_REQ_SUBSCRIPTIONS] = "subscriptions",
        [PS_REQ_AFFILIATIONS] = "affiliations",
        [PS_REQ_CONFIGURE_GET] = "configure-get",
        [PS_REQ_CONFIGURE_SET] = "configure-set",
        [PS_REQ_DEFAULT] = "default",
        [PS_REQ_DELETE] = "delete",
        [PS_REQ_PURGE] = "purge",
        [PS_REQ_OWNER_SUBSCRIPTIONS_GET] = "owner-subscriptions-get",
        [PS_REQ_OWNER_SUBSCRIPTIONS_SET] = "owner-subscriptions-set",
        [PS_REQ_OWNER_AFFILIATIONS_GET] = "owner-affiliations-get",
        [PS_REQ_OWNER_AFFILIATIONS_SET] = "owner-affiliations-set",
    };
    return (unsigned)verb < sizeof names / sizeof names[0] ? names[verb] : "unknown";
}
