/* XEP-0060 §6.5 retrieve items (all, the newest max_items, or by id),
 * §5.6 the requester's subscriptions and §5.7 its affiliations.
 *
 * Items replies are assembled as text around the payloads as stored, so
 * stored XML is never parsed again. Items are listed oldest first (the
 * publication order of §12.? "data model") among the newest ones
 * selected. A reply is kept under server.max_stanza_size: "all items" is
 * the newest that fit (at most ITEMS_MAX), a truncation §6.5.4 allows;
 * XEP-0059 paging is not implemented, so no <set/> is added.
 *
 * §5.6 lists subscriptions of the requester's bare JID and of its full
 * JID (the store is queried by exact JID); a subscription made from
 * another resource's full JID is not listed. */
#include "pubsub/service_int.h"

#include <stdlib.h>
#include <string.h>

#include "component/jid.h"
#include "component/log.h"
#include "component/ns.h"
#include "pubsub/errors.h"

#define SUBJ PS_SUBJ
#define ITEMS_MAX 1000
/* Room for the IQ, <pubsub/> and <items/> around the items. */
#define REPLY_OVERHEAD 2048

/* <item id='…'>payload</item>, or <item id='…'/>. */
static int item_text(ps_buf_t *b, const store_item_t *it)
{
    if (ps_buf_append_str(b, "<item") < 0 ||
        ps_buf_append_attribute(b, NULL, "id", it->item_id) < 0)
        return -1;
    if (!it->payload)
        return ps_buf_append_str(b, "/>");
    return ps_buf_append_str(b, ">") < 0 || ps_buf_append_str(b, it->payload) < 0 ||
                   ps_buf_append_str(b, "</item>") < 0
               ? -1
               : 0;
}

static void items_cb(void *ctx, store_err_t e, const store_item_t *items, size_t n)
{
    ps_op_t *op = ctx;
    if (ps_op_orphaned(op) || ps_op_store_failed(op, e))
        return;
    ps_service_t *svc = op->svc;
    /* Newest first from the store: keep the newest that fit, then write
     * them oldest first. */
    size_t budget = svc->max_stanza > REPLY_OVERHEAD ? svc->max_stanza - REPLY_OVERHEAD : 0;
    size_t used = 0, k = 0;
    for (; k < n; k++) {
        size_t sz =
            64 + strlen(items[k].item_id) * 6 + (items[k].payload ? strlen(items[k].payload) : 0);
        if (k > 0 && used + sz > budget)
            break;
        used += sz;
    }
    if (k < n)
        hlog_info(SUBJ, "items of %s for %s truncated to %zu of %zu (stanza size)", op->req.node,
                  xmpp_stanza_get_from(op->iq), k, n);
    ps_buf_t b = {0};
    int rc = ps_buf_reserve(&b, used + 256) < 0 ||
             ps_buf_append_str(&b, "<pubsub xmlns='" NS_PUBSUB "'><items") < 0 ||
             ps_buf_append_attribute(&b, NULL, "node", op->req.node) < 0 ||
             ps_buf_append_str(&b, ">") < 0;
    for (size_t i = k; !rc && i-- > 0;)
        rc = item_text(&b, &items[i]);
    if (!rc)
        rc = ps_buf_append_str(&b, "</items></pubsub>");
    if (rc)
        ps_reply_internal(svc, op->iq);
    else
        ps_reply_raw(svc, op->iq, b.data, b.len);
    ps_buf_free(&b);
    ps_op_free(op);
}

int ps_h_items(ps_service_t *svc, ps_request_t *req, xerr_spec_t *err)
{
    ps_node_t *n = ps_svc_find(svc, req->node);
    int rc = ps_check_items(n, req->from_bare, req->from, req->subid, err);
    if (rc)
        return rc;
    ps_op_t *op = ps_op_on_node(svc, req, n);
    if (!op)
        return ps_err(err, XERR_INTERNAL_SERVER_ERROR, NULL, NULL);
    store_items_query_t q = {0};
    if (op->req.n_item_ids) {
        q.ids = op->req.item_ids;
        q.nids = op->req.n_item_ids;
    } else {
        size_t max = ps_config_item_limit(ps_node_config(n), &svc->defaults);
        if (max > ITEMS_MAX)
            max = ITEMS_MAX;
        if (op->req.max_items && op->req.max_items < max)
            max = op->req.max_items;
        q.max = max;
    }
    store_items_get(svc->store, op->nx->id, &q, items_cb, op);
    return 0;
}

/* ---- §5.6 subscriptions, §5.7 affiliations ------------------------------ */

/* Appends <subscription node jid subscription [subid]/> for each row that
 * passes the node filter; *count is incremented. */
static int add_subs(xmpp_stanza_t *parent, const char *only_node, const store_sub_t *subs, size_t n,
                    const char *skip_jid)
{
    for (size_t i = 0; i < n; i++) {
        if (only_node && strcmp(subs[i].node_name, only_node) != 0)
            continue;
        if (skip_jid && strcmp(subs[i].jid, skip_jid) == 0)
            continue;
        if (subs[i].state == STORE_SUB_NONE)
            continue;
        xmpp_stanza_t *e = stanza_add_elem(parent, "subscription", NULL);
        if (!e || xmpp_stanza_set_attribute(e, "node", subs[i].node_name) != XMPP_EOK ||
            xmpp_stanza_set_attribute(e, "jid", subs[i].jid) != XMPP_EOK ||
            xmpp_stanza_set_attribute(e, "subscription", store_sub_state_name(subs[i].state)) !=
                XMPP_EOK ||
            (subs[i].subid && *subs[i].subid &&
             xmpp_stanza_set_attribute(e, "subid", subs[i].subid) != XMPP_EOK))
            return -1;
    }
    return 0;
}

static void subs_full_cb(void *ctx, store_err_t e, const store_sub_t *subs, size_t n);

static void subs_bare_cb(void *ctx, store_err_t e, const store_sub_t *subs, size_t n)
{
    ps_op_t *op = ctx;
    if (ps_op_orphaned(op))
        return;
    ps_service_t *svc = op->svc;
    xmpp_stanza_t *inner;
    xmpp_stanza_t *ps = NULL;
    if (!e) {
        ps = ps_pubsub_el(svc, NS_PUBSUB, "subscriptions", op->req.node, &inner);
        if (!ps || add_subs(inner, op->req.node, subs, n, NULL) < 0) {
            if (ps)
                xmpp_stanza_release(ps);
            e = STORE_EDB;
        }
    }
    if (ps_op_store_failed(op, e))
        return;
    op->scratch = ps; /* released in subs_full_cb (not by free()) */
    char full[3 * JID_PART_MAX + 3];
    if (jid_normalize(op->req.from, full, sizeof full) < 0 ||
        strcmp(full, op->req.from_bare) == 0) {
        subs_full_cb(op, STORE_OK, NULL, 0);
        return;
    }
    store_sub_list_jid(svc->store, PS_SCOPE_SERVICE, full, subs_full_cb, op);
}

static void subs_full_cb(void *ctx, store_err_t e, const store_sub_t *subs, size_t n)
{
    ps_op_t *op = ctx;
    xmpp_stanza_t *ps = op->scratch;
    op->scratch = NULL;
    if (ps_op_orphaned(op)) {
        xmpp_stanza_release(ps);
        return;
    }
    ps_service_t *svc = op->svc;
    xmpp_stanza_t *inner = xmpp_stanza_get_children(ps);
    if (!e && add_subs(inner, op->req.node, subs, n, op->req.from_bare) < 0)
        e = STORE_EDB;
    if (e) {
        xmpp_stanza_release(ps);
        ps_reply_store_error(svc, op->iq, e);
    } else {
        ps_reply_result(svc, op->iq, ps);
    }
    ps_op_free(op);
}

int ps_h_subscriptions(ps_service_t *svc, ps_request_t *req, xerr_spec_t *err)
{
    if (req->node && !ps_svc_find(svc, req->node))
        return ps_err(err, XERR_ITEM_NOT_FOUND, NULL, NULL);
    ps_op_t *op = ps_op_new(svc, req);
    if (!op)
        return ps_err(err, XERR_INTERNAL_SERVER_ERROR, NULL, NULL);
    store_sub_list_jid(svc->store, PS_SCOPE_SERVICE, op->req.from_bare, subs_bare_cb, op);
    return 0;
}

static void affs_cb(void *ctx, store_err_t e, const store_aff_entry_t *affs, size_t n)
{
    ps_op_t *op = ctx;
    if (ps_op_orphaned(op))
        return;
    ps_service_t *svc = op->svc;
    xmpp_stanza_t *inner, *ps = NULL;
    if (!e) {
        ps = ps_pubsub_el(svc, NS_PUBSUB, "affiliations", op->req.node, &inner);
        for (size_t i = 0; ps && i < n; i++) {
            if (op->req.node && strcmp(affs[i].node_name, op->req.node) != 0)
                continue;
            if (affs[i].aff == STORE_AFF_NONE)
                continue;
            xmpp_stanza_t *a = stanza_add_elem(inner, "affiliation", NULL);
            if (!a || xmpp_stanza_set_attribute(a, "node", affs[i].node_name) != XMPP_EOK ||
                xmpp_stanza_set_attribute(a, "affiliation", store_aff_name(affs[i].aff)) !=
                    XMPP_EOK) {
                xmpp_stanza_release(ps);
                ps = NULL;
            }
        }
        if (!ps)
            e = STORE_EDB;
    }
    if (e)
        ps_reply_store_error(svc, op->iq, e);
    else
        ps_reply_result(svc, op->iq, ps);
    ps_op_free(op);
}

int ps_h_affiliations(ps_service_t *svc, ps_request_t *req, xerr_spec_t *err)
{
    if (req->node && !ps_svc_find(svc, req->node))
        return ps_err(err, XERR_ITEM_NOT_FOUND, NULL, NULL);
    ps_op_t *op = ps_op_new(svc, req);
    if (!op)
        return ps_err(err, XERR_INTERNAL_SERVER_ERROR, NULL, NULL);
    store_aff_list_jid(svc->store, PS_SCOPE_SERVICE, op->req.from_bare, affs_cb, op);
    return 0;
}
