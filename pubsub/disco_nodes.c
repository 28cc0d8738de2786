/* Service discovery of the service's nodes (XEP-0060 §5.2–§5.5):
 * disco#items of the service lists the nodes (from the model), disco#info
 * of a node gives its identity (pubsub/leaf) and the §5.4 metadata form,
 * disco#items of a node lists its item ids (from the store, subject to
 * the access model as an items request is). disco#info of the service
 * itself and the caps node stay with component/disco.c (service.c passes
 * them on).
 *
 * Node listing is kept under server.max_stanza_size; XEP-0059 paging is
 * not implemented. */
#include "pubsub/service_int.h"

#include <stdlib.h>
#include <string.h>

#include "component/jid.h"
#include "component/log.h"
#include "component/ns.h"
#include "pubsub/errors.h"

#define SUBJ PS_SUBJ
#define ITEMS_MAX 1000

static xmpp_stanza_t *query_el(ps_service_t *svc, const char *ns, const char *node)
{
    xmpp_stanza_t *q = stanza_new_elem(svc->ctx, "query", ns);
    if (q && node && xmpp_stanza_set_attribute(q, "node", node) != XMPP_EOK) {
        xmpp_stanza_release(q);
        return NULL;
    }
    return q;
}

static const char *query_node(xmpp_stanza_t *iq, const char *ns)
{
    xmpp_stanza_t *q = xmpp_stanza_get_child_by_name_and_ns(iq, "query", ns);
    return q ? xmpp_stanza_get_attribute(q, "node") : NULL;
}

int ps_disco_info(ps_service_t *svc, xmpp_stanza_t *iq, xerr_spec_t *err)
{
    const char *name = query_node(iq, NS_DISCO_INFO);
    ps_node_t *n = ps_svc_find(svc, name);
    if (!n)
        return ps_err(err, XERR_ITEM_NOT_FOUND, NULL, NULL);
    xmpp_stanza_t *q = query_el(svc, NS_DISCO_INFO, name);
    xmpp_stanza_t *id = stanza_add_elem(q, "identity", NULL);
    xmpp_stanza_t *f = stanza_add_elem(q, "feature", NULL);
    if (!id || !f || xmpp_stanza_set_attribute(id, "category", "pubsub") != XMPP_EOK ||
        xmpp_stanza_set_attribute(id, "type", "leaf") != XMPP_EOK ||
        xmpp_stanza_set_attribute(f, "var", NS_PUBSUB) != XMPP_EOK ||
        stanza_adopt(q, ps_node_metadata_form(svc->ctx, n)) < 0) {
        if (q)
            xmpp_stanza_release(q);
        return ps_err(err, XERR_INTERNAL_SERVER_ERROR, NULL, NULL);
    }
    ps_reply_result(svc, iq, q);
    return 0;
}

/* ---- §5.2 nodes of the service ------------------------------------------ */

struct list {
    xmpp_stanza_t *q;
    const char *jid;
    size_t budget;
    int oom;
    size_t listed;
};

static int list_node(ps_node_t *n, void *ud)
{
    struct list *l = ud;
    const char *name = ps_node_name(n);
    const char *title = ps_node_config(n)->title;
    size_t sz = 64 + strlen(l->jid) + 6 * (strlen(name) + strlen(title ? title : ""));
    /* Full: the walk stops, so it visits what one stanza holds at most. */
    if (sz > l->budget)
        return 1;
    l->budget -= sz;
    l->listed++;
    xmpp_stanza_t *e = stanza_add_elem(l->q, "item", NULL);
    if (!e || xmpp_stanza_set_attribute(e, "jid", l->jid) != XMPP_EOK ||
        xmpp_stanza_set_attribute(e, "node", name) != XMPP_EOK ||
        (title && *title && xmpp_stanza_set_attribute(e, "name", title) != XMPP_EOK)) {
        l->oom = 1;
        return 1;
    }
    return 0;
}

/* ---- §5.5 items of a node ------------------------------------------------ */

static void node_items_cb(void *ctx, store_err_t e, const store_item_t *items, size_t n)
{
    ps_op_t *op = ctx;
    if (ps_op_orphaned(op) || ps_op_store_failed(op, e))
        return;
    ps_service_t *svc = op->svc;
    xmpp_stanza_t *q = query_el(svc, NS_DISCO_ITEMS, op->name);
    for (size_t i = 0; q && i < n; i++) {
        xmpp_stanza_t *it = stanza_add_elem(q, "item", NULL);
        if (!it || xmpp_stanza_set_attribute(it, "jid", svc->domain) != XMPP_EOK ||
            xmpp_stanza_set_attribute(it, "name", items[i].item_id) != XMPP_EOK) {
            xmpp_stanza_release(q);
            q = NULL;
        }
    }
    if (!q)
        ps_reply_internal(svc, op->iq);
    else
        ps_reply_result(svc, op->iq, q);
    ps_op_free(op);
}

int ps_disco_items(ps_service_t *svc, xmpp_stanza_t *iq, xerr_spec_t *err)
{
    const char *name = query_node(iq, NS_DISCO_ITEMS);
    if (!name) {
        xmpp_stanza_t *q = query_el(svc, NS_DISCO_ITEMS, NULL);
        struct list l = {q, svc->domain, svc->max_stanza / 2, q == NULL, 0};
        if (q)
            ps_model_foreach(svc->model, PS_SCOPE_SERVICE, list_node, &l);
        if (l.oom) {
            if (q)
                xmpp_stanza_release(q);
            return ps_err(err, XERR_INTERNAL_SERVER_ERROR, NULL, NULL);
        }
        /* Every node is the service's until PEP nodes exist. */
        if (ps_model_node_count(svc->model) > l.listed)
            hlog_info(SUBJ, "disco#items: %zu nodes left out (stanza size)",
                      ps_model_node_count(svc->model) - l.listed);
        ps_reply_result(svc, iq, q);
        return 0;
    }
    ps_node_t *n = ps_svc_find(svc, name);
    char bare[3 * JID_PART_MAX + 3];
    const char *from = xmpp_stanza_get_from(iq);
    if (!n)
        return ps_err(err, XERR_ITEM_NOT_FOUND, NULL, NULL);
    if (!from || jid_bare(from, bare, sizeof bare) < 0)
        return ps_err(err, XERR_BAD_REQUEST, NULL, NULL);
    /* The same gate as an items request; a node without stored items
     * simply has none to list. */
    int rc = ps_check_items(n, bare, from, NULL, err);
    if (rc == XERR_FEATURE_NOT_IMPLEMENTED) {
        ps_reply_result(svc, iq, query_el(svc, NS_DISCO_ITEMS, name));
        return 0;
    }
    if (rc)
        return rc;
    /* An op needs a request; disco has none, so a minimal one. */
    ps_request_t req = {.iq = iq};
    ps_op_t *op = ps_op_on_node(svc, &req, n);
    if (!op || !(op->name = strdup(name))) {
        ps_op_free(op);
        return ps_err(err, XERR_INTERNAL_SERVER_ERROR, NULL, NULL);
    }
    size_t max = ps_config_item_limit(ps_node_config(n), &svc->defaults);
    store_items_query_t q = {.max = max < ITEMS_MAX ? max : ITEMS_MAX, .ids_only = true};
    store_items_get(svc->store, op->nx->id, &q, node_items_cb, op);
    return 0;
}
