/* XEP-0060 §6.1 subscribe and §6.2 unsubscribe, and the last published
 * item sent to a new subscriber (§6.1.7, pubsub#send_last_published_item
 * = on_sub) with a XEP-0203 <delay/>.
 *
 * Subscriptions carry no SubID (one subscription per JID): §6.1.2 lets a
 * service omit it, and a subid sent with an unsubscribe or items request
 * for such a subscription is ignored (model.h).
 *
 * The last item goes through the node's fan-out queue, after any
 * notification queued before it, so the new subscriber sees the node's
 * items in order. It is read from the store after the subscription
 * committed; if the node's newest item changed meanwhile (a publish,
 * retract or purge committed: nx->gen moved), the read is dropped: a
 * publish committed after the subscription already reaches the
 * subscriber through its own fan-out. */
#include "pubsub/service_int.h"

#include <stdlib.h>
#include <string.h>

#include "component/log.h"
#include "component/ns.h"
#include "pubsub/errors.h"

#define SUBJ PS_SUBJ

static xmpp_stanza_t *subscription_el(ps_service_t *svc, const char *node, const char *jid,
                                      ps_sub_state_t state)
{
    xmpp_stanza_t *sub;
    xmpp_stanza_t *ps = ps_pubsub_el(svc, NS_PUBSUB, "subscription", node, &sub);
    if (ps &&
        (xmpp_stanza_set_attribute(sub, "jid", jid) != XMPP_EOK ||
         xmpp_stanza_set_attribute(sub, "subscription", ps_sub_state_name(state)) != XMPP_EOK)) {
        xmpp_stanza_release(ps);
        return NULL;
    }
    return ps;
}

static void last_item_cb(void *ctx, store_err_t e, const store_item_t *items, size_t n)
{
    ps_op_t *op = ctx;
    if (ps_op_orphaned(op))
        return;
    ps_service_t *svc = op->svc;
    ps_nodex_t *nx = op->nx;
    if (e)
        hlog_debug(SUBJ, "last item for %s not read: %s", op->req.jid, store_strerror(e));
    /* Still subscribed, nothing newer queued since: send it. */
    if (!e && n == 1 && nx->node && nx->gen == op->gen &&
        ps_node_subscription(nx->node, op->req.jid, NULL) == PS_SUB_SUBSCRIBED) {
        const ps_node_config_t *cfg = ps_node_config(nx->node);
        ps_svc_notif_opts_t buf;
        char stamp[21];
        const char *payload = cfg->deliver_payloads ? items[0].payload : NULL;
        const ps_notif_opts_t *o = ps_svc_notif_opts(svc, cfg, &buf);
        ps_datetime(items[0].updated_us, stamp);
        ps_svc_fanout_one(svc, nx, op->req.jid,
                          ps_notif_items(o, ps_node_name(nx->node), items[0].item_id, payload,
                                         payload ? strlen(payload) : 0, stamp));
    }
    ps_op_free(op);
}

static void subscribe_cb(void *ctx, store_err_t e, int64_t seq)
{
    (void)seq;
    ps_op_t *op = ctx;
    if (ps_op_orphaned(op) || ps_op_store_failed(op, e))
        return;
    ps_service_t *svc = op->svc;
    ps_nodex_t *nx = op->nx;
    if (nx->node && ps_node_subscribe(nx->node, op->req.jid, PS_SUB_SUBSCRIBED, 0) < 0)
        hlog_error(SUBJ, "out of memory adding the subscription of %s to %s", op->req.jid,
                   op->req.node);
    ps_reply_result(svc, op->iq,
                    subscription_el(svc, op->req.node, op->req.jid, PS_SUB_SUBSCRIBED));
    const ps_node_config_t *cfg = nx->node ? ps_node_config(nx->node) : NULL;
    if (cfg && cfg->send_last == PS_SEND_LAST_ON_SUB && cfg->deliver_notifications &&
        cfg->persist_items) {
        op->gen = nx->gen;
        store_items_query_t q = {.max = 1};
        store_items_get(svc->store, nx->id, &q, last_item_cb, op);
        return;
    }
    ps_op_free(op);
}

int ps_h_subscribe(ps_service_t *svc, ps_request_t *req, xerr_spec_t *err)
{
    ps_node_t *n = ps_svc_find(svc, req->node);
    int rc = ps_check_subscribe(n, req->from_bare, req->jid, err);
    if (rc)
        return rc;
    ps_sub_state_t cur = ps_node_subscription(n, req->jid, NULL);
    if (cur == PS_SUB_SUBSCRIBED) {
        /* §6.1.6: already subscribed: the current state, nothing written
         * (and no last item again). */
        return ps_answer(svc, req->iq, subscription_el(svc, req->node, req->jid, cur), err);
    }
    ps_op_t *op = ps_op_on_node(svc, req, n);
    if (!op)
        return ps_err(err, XERR_INTERNAL_SERVER_ERROR, NULL, NULL);
    store_sub_set(svc->store, op->nx->id, op->req.jid, "", STORE_SUB_SUBSCRIBED, NULL, 0,
                  subscribe_cb, op);
    return 0;
}

static void unsubscribe_cb(void *ctx, store_err_t e, int64_t count)
{
    (void)count;
    ps_op_t *op = ctx;
    if (ps_op_orphaned(op))
        return;
    ps_service_t *svc = op->svc;
    ps_nodex_t *nx = op->nx;
    if (e == STORE_ENOTFOUND && nx->node) {
        /* Not in the database (any more): §6.2.3.2, and the model
         * follows the store. */
        xerr_spec_t err;
        ps_node_unsubscribe(nx->node, op->req.jid);
        ps_err_typed(&err, XERR_UNEXPECTED_REQUEST, "cancel", PS_E_NOT_SUBSCRIBED, NULL);
        ps_reply_error(svc, op->iq, &err);
    } else if (e) {
        ps_reply_store_error(svc, op->iq, e);
    } else {
        if (nx->node)
            ps_node_unsubscribe(nx->node, op->req.jid);
        ps_reply_result(svc, op->iq, NULL);
    }
    ps_op_free(op);
}

int ps_h_unsubscribe(ps_service_t *svc, ps_request_t *req, xerr_spec_t *err)
{
    ps_node_t *n = ps_svc_find(svc, req->node);
    int rc = ps_check_unsubscribe(n, req->from_bare, req->jid, req->subid, err);
    if (rc)
        return rc;
    ps_op_t *op = ps_op_on_node(svc, req, n);
    if (!op)
        return ps_err(err, XERR_INTERNAL_SERVER_ERROR, NULL, NULL);
    store_sub_delete(svc->store, op->nx->id, op->req.jid, NULL, unsubscribe_cb, op);
    return 0;
}
