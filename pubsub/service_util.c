/* The service's bookkeeping shared by every verb: the per-node records
 * beside the model, requests in flight (ops), replies with the store's
 * error mapping, stanza building helpers, and handing notifications to
 * the fan-out engine. */
#include "pubsub/service_int.h"

#include <stdlib.h>
#include <string.h>

#include "component/log.h"
#include "pubsub/errors.h"

#define SUBJ PS_SUBJ

/* ---- nodes ------------------------------------------------------------ */

ps_node_t *ps_svc_find(ps_service_t *svc, const char *name)
{
    return name ? ps_model_find(svc->model, PS_SCOPE_SERVICE, name) : NULL;
}

ps_nodex_t *ps_svc_nodex(ps_service_t *svc, const ps_node_t *node)
{
    return node ? ps_strmap_get(svc->nodex, (const char *)&node, sizeof node) : NULL;
}

ps_nodex_t *ps_nx_ref(ps_nodex_t *nx)
{
    if (nx)
        nx->refs++;
    return nx;
}

void ps_nx_unref(ps_nodex_t *nx)
{
    if (nx && --nx->refs == 0)
        free(nx);
}

size_t ps_svc_owned(ps_service_t *svc, const char *bare)
{
    return (uintptr_t)ps_strmap_get(svc->owned, bare, strlen(bare));
}

void ps_svc_owned_add(ps_service_t *svc, const char *bare, int delta)
{
    if (!bare || !*bare)
        return;
    size_t len = strlen(bare);
    intptr_t n = (intptr_t)(uintptr_t)ps_strmap_get(svc->owned, bare, len) + delta;
    if (n <= 0)
        ps_strmap_del(svc->owned, bare, len);
    else if (ps_strmap_put(svc->owned, bare, len, (void *)(uintptr_t)n) < 0)
        hlog_warn(SUBJ, "out of memory counting the nodes of %s", bare);
}

void ps_datetime(int64_t us, char out[21])
{
    ps_delay_stamp((time_t)(us / 1000000), out);
}

ps_nodex_t *ps_svc_add_node(ps_service_t *svc, const char *scope, const char *name, int64_t id,
                            const ps_node_config_t *cfg, const char *owner, const char *creator,
                            int64_t created_us)
{
    ps_node_t *n;
    xerr_spec_t err;
    if (ps_model_create(svc->model, scope, name, cfg, owner, &n, &err) != 0)
        return NULL;
    char date[21];
    ps_datetime(created_us, date);
    ps_nodex_t *nx = calloc(1, sizeof *nx);
    if (!nx || ps_node_set_created(n, creator && *creator ? creator : NULL, date) < 0 ||
        ps_strmap_put(svc->nodex, (const char *)&n, sizeof n, nx) < 0) {
        free(nx);
        ps_model_remove(svc->model, n);
        return NULL;
    }
    nx->node = n;
    nx->id = id;
    nx->refs = 1;
    return nx;
}

void ps_svc_remove_node(ps_service_t *svc, ps_nodex_t *nx)
{
    ps_node_t *n = nx->node;
    if (!n)
        return;
    if (*ps_node_scope(n) == '\0')
        ps_svc_owned_add(svc, ps_node_creator(n), -1);
    ps_strmap_del(svc->nodex, (const char *)&n, sizeof n);
    nx->node = NULL;
    if (svc->pr)
        ps_pr_forget(svc->pr, n);
    ps_model_remove(svc->model, n);
    ps_nx_unref(nx);
}

void ps_svc_free_model(ps_service_t *svc)
{
    if (svc->pr)
        ps_pr_attach(svc->pr, NULL);
    /* Requests in flight keep their nodex, which now says "deleted". */
    for (size_t i = 0; svc->nodex && i < ps_strmap_count(svc->nodex); i++) {
        void *v;
        ps_strmap_at(svc->nodex, i, NULL, NULL, &v);
        ps_nodex_t *nx = v;
        nx->node = NULL;
        ps_nx_unref(nx);
    }
    ps_strmap_free(svc->nodex);
    ps_strmap_free(svc->owned);
    ps_model_free(svc->model);
}

void ps_svc_clear_model(ps_service_t *svc)
{
    ps_svc_free_model(svc);
    svc->nodex = ps_strmap_new();
    svc->owned = ps_strmap_new();
    svc->model = ps_model_new();
    if (!svc->nodex || !svc->owned || !svc->model) {
        hlog_error(SUBJ, "out of memory resetting the model");
        abort();
    }
    if (svc->pr)
        ps_pr_attach(svc->pr, svc->model);
}

void ps_svc_prune(ps_service_t *svc, ps_nodex_t *nx, const char *only_bare)
{
    (void)svc;
    if (nx->node && ps_node_prune(nx->node, only_bare) < 0)
        hlog_error(SUBJ, "out of memory: subscriptions of %s not checked against its new rules",
                   ps_node_name(nx->node));
}

void ps_svc_node_loaded(ps_service_t *svc, ps_nodex_t *nx)
{
    ps_node_t *n = nx->node;
    /* Only the access models implemented here: the subscriptions of a
     * node whose model this version does not know are left alone. */
    ps_access_model_t a = n ? ps_node_config(n)->access : PS_ACCESS_OPEN;
    if (n && (a == PS_ACCESS_OPEN || a == PS_ACCESS_WHITELIST) && ps_node_may_refuse(n))
        ps_svc_prune(svc, nx, NULL);
}

/* ---- ops -------------------------------------------------------------- */

ps_op_t *ps_op_new(ps_service_t *svc, ps_request_t *req)
{
    ps_op_t *op = calloc(1, sizeof *op);
    if (!op)
        return NULL;
    op->svc = svc;
    op->iq = xmpp_stanza_clone(req->iq);
    op->req = *req;
    memset(req, 0, sizeof *req);
    op->next = svc->ops;
    if (svc->ops)
        svc->ops->prev = op;
    svc->ops = op;
    svc->n_ops++;
    return op;
}

void ps_op_free(ps_op_t *op)
{
    if (!op)
        return;
    ps_service_t *svc = op->svc;
    if (svc) {
        if (op->prev)
            op->prev->next = op->next;
        else
            svc->ops = op->next;
        if (op->next)
            op->next->prev = op->prev;
        svc->n_ops--;
    }
    ps_request_clear(&op->req);
    if (op->iq)
        xmpp_stanza_release(op->iq);
    ps_nx_unref(op->nx);
    free(op->name);
    ps_buf_free(&op->payload);
    if (op->has_cfg)
        ps_config_clear(&op->cfg);
    for (size_t i = 0; i < op->n_ids; i++)
        free(op->ids[i]);
    free(op->ids);
    free(op->scratch);
    free(op);
}

ps_op_t *ps_op_on_node(ps_service_t *svc, ps_request_t *req, ps_node_t *n)
{
    ps_op_t *op = ps_op_new(svc, req);
    if (op)
        op->nx = ps_nx_ref(ps_svc_nodex(svc, n));
    return op;
}

bool ps_op_orphaned(ps_op_t *op)
{
    if (op->svc)
        return false;
    ps_op_free(op);
    return true;
}

bool ps_op_store_failed(ps_op_t *op, store_err_t e)
{
    if (!e)
        return false;
    ps_reply_store_error(op->svc, op->iq, e);
    ps_op_free(op);
    return true;
}

bool ps_op_last_write(ps_op_t *op, store_err_t e)
{
    if (e && !op->failed)
        op->failed = (int)e;
    if (--op->pending > 0)
        return false;
    return !ps_op_orphaned(op);
}

/* ---- replies ---------------------------------------------------------- */

int ps_store_xerr(store_err_t e, xerr_spec_t *err)
{
    switch (e) {
    case STORE_OK:
        return ps_err(err, XERR_INTERNAL_SERVER_ERROR, NULL, NULL);
    case STORE_ENOTFOUND:
        return ps_err(err, XERR_ITEM_NOT_FOUND, NULL, NULL);
    case STORE_EEXISTS:
        return ps_err(err, XERR_CONFLICT, NULL, NULL);
    case STORE_EUNAVAILABLE:
    case STORE_ETIMEOUT:
    case STORE_ESHUTDOWN:
        return ps_err(err, XERR_RESOURCE_CONSTRAINT, NULL, "storage temporarily unavailable");
    case STORE_EUNCERTAIN:
        return ps_err(err, XERR_INTERNAL_SERVER_ERROR, NULL,
                      "storage outcome unknown: the request may or may not have been applied");
    case STORE_EDB:
    case STORE_EINVAL:
    default:
        return ps_err(err, XERR_INTERNAL_SERVER_ERROR, NULL, NULL);
    }
}

void ps_reply_error(ps_service_t *svc, xmpp_stanza_t *iq, const xerr_spec_t *spec)
{
    router_reply_error(svc->router, iq, spec);
}

void ps_reply_store_error(ps_service_t *svc, xmpp_stanza_t *iq, store_err_t e)
{
    xerr_spec_t err;
    ps_store_xerr(e, &err);
    if (e != STORE_ENOTFOUND && e != STORE_EEXISTS)
        hlog_warn(SUBJ, "request id=%s from %s failed in storage: %s", xmpp_stanza_get_id(iq),
                  xmpp_stanza_get_from(iq) ? xmpp_stanza_get_from(iq) : "?", store_strerror(e));
    ps_reply_error(svc, iq, &err);
}

void ps_reply_internal(ps_service_t *svc, xmpp_stanza_t *iq)
{
    xerr_spec_t err = {.cond = XERR_INTERNAL_SERVER_ERROR};
    ps_reply_error(svc, iq, &err);
}

void ps_reply_result(ps_service_t *svc, xmpp_stanza_t *iq, xmpp_stanza_t *child)
{
    xmpp_stanza_t *res = router_iq_result(svc->router, iq);
    if (!res && child) {
        xmpp_stanza_release(child);
    } else if (child && stanza_adopt(res, child) < 0) {
        xmpp_stanza_release(res);
        res = NULL;
    }
    if (!res) {
        hlog_error(SUBJ, "out of memory building a result");
        ps_reply_internal(svc, iq);
        return;
    }
    router_send(svc->router, res);
    xmpp_stanza_release(res);
}

int ps_answer(ps_service_t *svc, xmpp_stanza_t *iq, xmpp_stanza_t *child, xerr_spec_t *err)
{
    if (!child)
        return ps_err(err, XERR_INTERNAL_SERVER_ERROR, NULL, NULL);
    ps_reply_result(svc, iq, child);
    return 0;
}

void ps_reply_raw(ps_service_t *svc, xmpp_stanza_t *iq, const char *body, size_t len)
{
    const char *from = xmpp_stanza_get_from(iq), *to = xmpp_stanza_get_to(iq);
    const char *id = xmpp_stanza_get_id(iq);
    ps_buf_t b = {0};
    if (!from || !id) /* the router never hands those over */
        return;
    int rc = ps_buf_reserve(&b, len + 256) < 0 || ps_buf_append_str(&b, "<iq type='result'") < 0 ||
             ps_buf_append_attribute(&b, NULL, "to", from) < 0 ||
             (to && ps_buf_append_attribute(&b, NULL, "from", to) < 0) ||
             ps_buf_append_attribute(&b, NULL, "id", id) < 0 || ps_buf_append_str(&b, ">") < 0 ||
             ps_buf_append(&b, body, len) < 0 || ps_buf_append_str(&b, "</iq>") < 0;
    if (rc) {
        ps_buf_free(&b);
        ps_reply_internal(svc, iq);
        return;
    }
    component_send_raw_to(svc->comp, from, b.data, b.len);
    ps_buf_free(&b);
}

xmpp_stanza_t *ps_pubsub_el(ps_service_t *svc, const char *ns, const char *name, const char *node,
                            xmpp_stanza_t **inner)
{
    xmpp_stanza_t *ps = stanza_new_elem(svc->ctx, "pubsub", ns);
    xmpp_stanza_t *in = stanza_add_elem(ps, name, NULL);
    if (!in || (node && xmpp_stanza_set_attribute(in, "node", node) != XMPP_EOK)) {
        if (ps)
            xmpp_stanza_release(ps);
        return NULL;
    }
    if (inner)
        *inner = in;
    return ps;
}

/* ---- notifications ---------------------------------------------------- */

const ps_notif_opts_t *ps_svc_notif_opts(ps_service_t *svc, const ps_node_config_t *cfg,
                                         ps_svc_notif_opts_t *buf)
{
    ps_ids_next(&svc->ids, ps_ids_now_us(), buf->prefix);
    strcat(buf->prefix, "-");
    buf->o.service = svc->domain;
    /* "normal" is the default message type: omitting it says the same. */
    buf->o.msg_type = cfg->notification_type == PS_NOTIF_HEADLINE ? "headline" : NULL;
    buf->o.id_prefix = buf->prefix;
    return &buf->o;
}

void ps_svc_fanout(ps_service_t *svc, ps_nodex_t *nx, ps_notif_t *n)
{
    if (!n) {
        hlog_error(SUBJ, "out of memory building a notification: not sent");
        return;
    }
    if (nx->node && ps_fo_node(svc->fo, nx, nx->node, n) < 0)
        hlog_error(SUBJ, "out of memory queueing a notification for %s: not sent",
                   ps_node_name(nx->node));
    ps_notif_unref(n);
}

void ps_svc_fanout_one(ps_service_t *svc, ps_nodex_t *nx, const char *to, ps_notif_t *n)
{
    if (!n) {
        hlog_error(SUBJ, "out of memory building a notification: not sent");
        return;
    }
    if (ps_fo_one(svc->fo, nx, to, n) < 0)
        hlog_error(SUBJ, "out of memory queueing a notification to %s: not sent", to);
    ps_notif_unref(n);
}
