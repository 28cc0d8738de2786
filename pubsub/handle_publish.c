/* XEP-0060 §7.1 publish (item ids given or generated, republication
 * replaces, publish-options as preconditions §7.1.5, auto-create §7.1.4,
 * payload rules of the node's event type, pubsub#type and Atom check,
 * payload size) and §7.2 retract with notification.
 *
 * A publish is answered only from the store's commit callback; then its
 * notification is built once and handed to the fan-out engine. On a node
 * that persists no items (pubsub#persist_items false) nothing is stored:
 * the publish is answered and fanned out at once.
 *
 * Retraction notifies subscribers when the request says notify='true' or
 * the node's pubsub#notify_retract is set (the attribute forces a
 * notification, §7.2.2.1; the configuration asks for one on every
 * removal). */
#include "pubsub/service_int.h"

#include <stdlib.h>
#include <string.h>

#include "component/log.h"
#include "component/ns.h"
#include "pubsub/atom.h"
#include "pubsub/errors.h"

#define SUBJ PS_SUBJ

/* ---- publish ------------------------------------------------------------ */

/* Checks what the node's configuration says of this publish and
 * serializes the payload once into op->payload. */
static int prepare(ps_service_t *svc, const ps_node_config_t *cfg, ps_op_t *op, xerr_spec_t *err)
{
    ps_request_t *req = &op->req;
    int rc = ps_config_check_publish(cfg, req->item != NULL, req->payload != NULL, err);
    if (rc)
        return rc;
    if (req->payload) {
        ps_buf_reset(&op->payload);
        if (ps_payload_serialize(req->payload, &op->payload) < 0)
            return ps_err(err, XERR_INTERNAL_SERVER_ERROR, NULL, NULL);
        op->has_payload = true;
        rc = ps_payload_check(cfg, req->payload, op->payload.len, err);
        if (rc)
            return rc;
    }
    if (!op->name && req->item) {
        char id[PS_ID_LEN + 1];
        if (req->item_id) {
            op->name = strdup(req->item_id);
        } else {
            /* §7.1.3.6: persistent node, no ItemID: the service makes one. */
            ps_ids_next(&svc->ids, ps_ids_now_us(), id);
            op->name = strdup(id);
        }
        if (!op->name)
            return ps_err(err, XERR_INTERNAL_SERVER_ERROR, NULL, NULL);
    }
    return 0;
}

static void deliver(ps_service_t *svc, ps_op_t *op)
{
    ps_nodex_t *nx = op->nx;
    if (!nx->node)
        return;
    const ps_node_config_t *cfg = ps_node_config(nx->node);
    if (!cfg->deliver_notifications)
        return;
    ps_svc_notif_opts_t buf;
    const ps_notif_opts_t *o = ps_svc_notif_opts(svc, cfg, &buf);
    bool with_payload = cfg->deliver_payloads && op->has_payload;
    ps_svc_fanout(svc, nx,
                  ps_notif_items(o, ps_node_name(nx->node), op->name,
                                 with_payload ? op->payload.data : NULL, op->payload.len, NULL));
}

static void reply_published(ps_service_t *svc, ps_op_t *op)
{
    xmpp_stanza_t *inner;
    xmpp_stanza_t *ps = ps_pubsub_el(svc, NS_PUBSUB, "publish", op->req.node, &inner);
    if (ps && op->name) {
        xmpp_stanza_t *item = stanza_add_elem(inner, "item", NULL);
        if (!item || xmpp_stanza_set_attribute(item, "id", op->name) != XMPP_EOK) {
            xmpp_stanza_release(ps);
            ps = NULL;
        }
    }
    /* Out of memory for the body: a bare result still says "done". */
    ps_reply_result(svc, op->iq, ps);
}

static void publish_cb(void *ctx, store_err_t e, int64_t seq)
{
    (void)seq;
    ps_op_t *op = ctx;
    if (ps_op_orphaned(op) || ps_op_store_failed(op, e))
        return;
    op->nx->gen++;
    reply_published(op->svc, op);
    deliver(op->svc, op);
    ps_op_free(op);
}

static void submit(ps_op_t *op)
{
    ps_service_t *svc = op->svc;
    const ps_node_config_t *cfg = ps_node_config(op->nx->node);
    if (!cfg->persist_items || !op->name) {
        /* Transient node: nothing to commit. */
        reply_published(svc, op);
        deliver(svc, op);
        ps_op_free(op);
        return;
    }
    /* Bumped at submission too: a new subscriber's last-item read runs on
     * another connection and may see this item committed before this
     * write's callback has run; the bump makes that read stand down, since
     * this publish reaches the subscriber through its own fan-out. */
    op->nx->gen++;
    store_item_publish(svc->store, op->nx->id, op->name, op->req.from_bare,
                       op->has_payload ? op->payload.data : NULL, publish_cb, op);
}

/* Checks of a publish to an existing node. */
static int check_existing(ps_service_t *svc, ps_node_t *n, ps_op_t *op, xerr_spec_t *err)
{
    int rc = ps_check_publish(n, op->req.from_bare, op->req.from, err);
    if (!rc)
        rc = ps_config_check_preconditions(ps_node_config(n), &svc->defaults, op->req.form, err);
    if (!rc)
        rc = prepare(svc, ps_node_config(n), op, err);
    return rc;
}

static void autocreate_cb(void *ctx, store_err_t e, const store_node_t *node)
{
    ps_op_t *op = ctx;
    if (ps_op_orphaned(op))
        return;
    ps_service_t *svc = op->svc;
    xerr_spec_t err;
    int rc = 0;
    if (e == STORE_OK) {
        op->nx = ps_nx_ref(ps_svc_add_node(svc, PS_SCOPE_SERVICE, op->req.node, node->id, &op->cfg,
                                           op->req.from_bare, op->req.from_bare, node->created_us));
        if (!op->nx)
            rc = ps_err(&err, XERR_INTERNAL_SERVER_ERROR, NULL, NULL);
        else
            hlog_info(SUBJ, "node %s auto-created by %s", op->req.node, op->req.from_bare);
    } else {
        ps_svc_owned_add(svc, op->req.from_bare, -1);
        ps_node_t *n = e == STORE_EEXISTS ? ps_svc_find(svc, op->req.node) : NULL;
        if (n) {
            /* Created concurrently: publish to it like to any node. */
            op->nx = ps_nx_ref(ps_svc_nodex(svc, n));
            rc = check_existing(svc, n, op, &err);
        } else if (e == STORE_EEXISTS) {
            /* Its creation has committed but its callback has not run
             * yet (it was retried in a later batch). */
            rc = ps_err(&err, XERR_RESOURCE_CONSTRAINT, NULL, "node being created; retry");
        } else {
            ps_reply_store_error(svc, op->iq, e);
            ps_op_free(op);
            return;
        }
    }
    if (rc) {
        ps_reply_error(svc, op->iq, &err);
        ps_op_free(op);
        return;
    }
    submit(op);
}

int ps_h_publish(ps_service_t *svc, ps_request_t *req, xerr_spec_t *err)
{
    ps_node_t *n = ps_svc_find(svc, req->node);
    if (!n && !svc->autocreate)
        return ps_err(err, XERR_ITEM_NOT_FOUND, NULL, NULL);
    ps_op_t *op = ps_op_new(svc, req);
    if (!op)
        return ps_err(err, XERR_INTERNAL_SERVER_ERROR, NULL, NULL);
    int rc;
    if (n) {
        op->nx = ps_nx_ref(ps_svc_nodex(svc, n));
        rc = check_existing(svc, n, op, err);
        if (!rc) {
            submit(op);
            return 0;
        }
    } else {
        /* §7.1.4 with §7.1.5 rule 3: the default configuration, with
         * what the publish-options name. */
        if (ps_svc_owned(svc, op->req.from_bare) >= svc->max_nodes_per_owner) {
            rc = ps_err_typed(err, XERR_POLICY_VIOLATION, "wait", NULL,
                              "node limit reached for this owner");
        } else if (ps_config_copy(&op->cfg, &svc->defaults.node) < 0) {
            rc = ps_err(err, XERR_INTERNAL_SERVER_ERROR, NULL, NULL);
        } else {
            op->has_cfg = true;
            rc = ps_config_apply_publish_options(&op->cfg, &svc->defaults, op->req.form, err);
            if (!rc)
                rc = prepare(svc, &op->cfg, op, err);
        }
        if (!rc) {
            char *item_id = op->name;
            /* ps_create_submit names the node op->name: swap around it. */
            op->name = (char *)op->req.node;
            ps_create_submit(op, autocreate_cb);
            op->name = item_id;
            return 0;
        }
    }
    /* The dispatcher answers from its own reference to the IQ. */
    ps_op_free(op);
    return rc;
}

/* ---- retract ------------------------------------------------------------ */

struct retract_write {
    ps_op_t *op;
    size_t idx;
    bool ok;
};

static void retract_cb(void *ctx, store_err_t e, int64_t value)
{
    (void)value;
    struct retract_write *w = ctx;
    ps_op_t *op = w->op;
    w->ok = e == STORE_OK;
    if (!ps_op_last_write(op, e))
        return;
    ps_service_t *svc = op->svc;
    struct retract_write *all = op->scratch;
    const char **ids = op->req.item_ids;
    size_t n = 0;
    for (size_t i = 0; i < op->req.n_item_ids; i++)
        if (all[i].ok)
            ids[n++] = op->req.item_ids[all[i].idx];
    if (n)
        op->nx->gen++;
    if (op->failed)
        ps_reply_store_error(svc, op->iq, (store_err_t)op->failed);
    else
        ps_reply_result(svc, op->iq, NULL);
    ps_nodex_t *nx = op->nx;
    if (n && nx->node) {
        const ps_node_config_t *cfg = ps_node_config(nx->node);
        if ((op->req.notify || cfg->notify_retract) && cfg->deliver_notifications) {
            ps_svc_notif_opts_t buf;
            const ps_notif_opts_t *o = ps_svc_notif_opts(svc, cfg, &buf);
            ps_svc_fanout(svc, nx, ps_notif_retract(o, ps_node_name(nx->node), ids, n));
        }
    }
    ps_op_free(op);
}

/* The items exist (and, for a publish-only requester, are its own):
 * retract them, one write each, submitted together. */
static void retract_read_cb(void *ctx, store_err_t e, const store_item_t *items, size_t n)
{
    ps_op_t *op = ctx;
    if (ps_op_orphaned(op) || ps_op_store_failed(op, e))
        return;
    ps_service_t *svc = op->svc;
    xerr_spec_t err;
    int rc = 0;
    if (!op->nx->node || n < op->req.n_item_ids)
        rc = ps_err(&err, XERR_ITEM_NOT_FOUND, NULL, NULL);
    for (size_t i = 0; !rc && i < n; i++)
        rc = ps_check_retract(op->nx->node, op->req.from_bare, items[i].publisher, &err);
    struct retract_write *w = rc ? NULL : calloc(op->req.n_item_ids, sizeof *w);
    if (!rc && !w)
        rc = ps_err(&err, XERR_INTERNAL_SERVER_ERROR, NULL, NULL);
    if (rc) {
        ps_reply_error(svc, op->iq, &err);
        ps_op_free(op);
        return;
    }
    op->scratch = w;
    op->pending = (int)op->req.n_item_ids;
    for (size_t i = 0; i < op->req.n_item_ids; i++) {
        w[i] = (struct retract_write){op, i, false};
        store_item_retract(svc->store, op->nx->id, op->req.item_ids[i], retract_cb, &w[i]);
    }
}

int ps_h_retract(ps_service_t *svc, ps_request_t *req, xerr_spec_t *err)
{
    ps_node_t *n = ps_svc_find(svc, req->node);
    /* The item's publisher is checked once the items are read. */
    int rc = ps_check_retract(n, req->from_bare, NULL, err);
    if (rc)
        return rc;
    ps_op_t *op = ps_op_on_node(svc, req, n);
    if (!op)
        return ps_err(err, XERR_INTERNAL_SERVER_ERROR, NULL, NULL);
    store_items_query_t q = {.ids = op->req.item_ids, .nids = op->req.n_item_ids, .ids_only = true};
    store_items_get(svc->store, op->nx->id, &q, retract_read_cb, op);
    return 0;
}
