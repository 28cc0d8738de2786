/* XEP-0060 §8 owner use cases: create (§8.1, named and instant, with a
 * configuration form), configure (§8.2), default configuration (§8.3),
 * delete with notification and redirect (§8.4), purge with notification
 * (§8.5), the subscriptions list and its modification (§8.8), and the
 * affiliations list and its modification (§8.9). An owner may set any
 * state; an affiliation or access-model change removes the subscriptions
 * it no longer allows.
 *
 * Who may create nodes: any entity (the service is open), up to
 * pubsub.max_nodes_per_owner nodes per creating bare JID, counted with
 * the creations in flight. Beyond it: policy-violation type wait, the
 * condition XEP-0060 itself uses for a local quota (§6.1.3.9 too many
 * subscriptions), since §8.1.3 names none for creation. */
#include "pubsub/service_int.h"

#include <stdlib.h>
#include <string.h>

#include "component/jid.h"
#include "component/log.h"
#include "component/ns.h"
#include "pubsub/errors.h"
#include "pubsub/xdata.h"

#define SUBJ PS_SUBJ

/* ---- §8.1 create ------------------------------------------------------ */

void ps_create_submit(ps_op_t *op, store_node_cb cb)
{
    ps_service_t *svc = op->svc;
    store_node_config_t sc;
    const char *extra[2];
    ps_cfg_to_store(svc, &op->cfg, &sc, extra);
    ps_svc_owned_add(svc, op->req.from_bare, +1);
    store_node_create(svc->store, PS_SCOPE_SERVICE, op->name, op->req.from_bare, &sc, cb, op);
}

static void create_cb(void *ctx, store_err_t e, const store_node_t *node)
{
    ps_op_t *op = ctx;
    if (ps_op_orphaned(op))
        return;
    ps_service_t *svc = op->svc;
    if (e)
        ps_svc_owned_add(svc, op->req.from_bare, -1);
    if (ps_op_store_failed(op, e))
        return;
    ps_nodex_t *nx = ps_svc_add_node(svc, PS_SCOPE_SERVICE, op->name, node->id, &op->cfg,
                                     op->req.from_bare, op->req.from_bare, node->created_us);
    if (!nx) {
        hlog_error(SUBJ, "node %s committed but not added to the model (out of memory)", op->name);
        ps_reply_internal(svc, op->iq);
        ps_op_free(op);
        return;
    }
    hlog_info(SUBJ, "node %s created by %s", op->name, op->req.from_bare);
    /* §8.1.2: an instant node's NodeID is returned; for a named one the
     * example result is empty. */
    xmpp_stanza_t *ps = NULL;
    if (!op->req.node)
        ps = ps_pubsub_el(svc, NS_PUBSUB, "create", op->name, NULL);
    ps_reply_result(svc, op->iq, ps);
    ps_op_free(op);
}

int ps_h_create(ps_service_t *svc, ps_request_t *req, xerr_spec_t *err)
{
    char gen[PS_ID_LEN + 1];
    const char *name = req->node;
    if (!name) {
        do
            ps_ids_next(&svc->ids, ps_ids_now_us(), gen);
        while (ps_svc_find(svc, gen));
        name = gen;
    }
    int rc = ps_check_create(svc->model, PS_SCOPE_SERVICE, name, err);
    if (rc)
        return rc;
    if (ps_svc_owned(svc, req->from_bare) >= svc->max_nodes_per_owner)
        return ps_err_typed(err, XERR_POLICY_VIOLATION, "wait", NULL,
                            "node limit reached for this owner");
    ps_node_config_t cfg;
    if (ps_config_copy(&cfg, &svc->defaults.node) < 0)
        return ps_err(err, XERR_INTERNAL_SERVER_ERROR, NULL, NULL);
    rc = ps_config_apply_form(&cfg, &svc->defaults, req->form, err);
    char *n = rc ? NULL : strdup(name);
    ps_op_t *op = n ? ps_op_new(svc, req) : NULL;
    if (!op) {
        ps_config_clear(&cfg);
        free(n);
        return rc ? rc : ps_err(err, XERR_INTERNAL_SERVER_ERROR, NULL, NULL);
    }
    op->name = n;
    op->cfg = cfg;
    op->has_cfg = true;
    ps_create_submit(op, create_cb);
    return 0;
}

/* ---- §8.2 configure, §8.3 default --------------------------------------- */

static xmpp_stanza_t *config_reply(ps_service_t *svc, const char *verb, const char *node,
                                   const ps_node_config_t *cfg)
{
    xmpp_stanza_t *inner;
    xmpp_stanza_t *ps = ps_pubsub_el(svc, NS_PUBSUB_OWNER, verb, node, &inner);
    if (ps && ps_adopt(inner, ps_config_to_form(svc->ctx, cfg, "form")) < 0) {
        xmpp_stanza_release(ps);
        return NULL;
    }
    return ps;
}

int ps_h_configure_get(ps_service_t *svc, ps_request_t *req, xerr_spec_t *err)
{
    ps_node_t *n = ps_svc_find(svc, req->node);
    int rc = ps_check_owner(n, req->from_bare, err);
    if (rc)
        return rc;
    return ps_answer(svc, req->iq, config_reply(svc, "configure", req->node, ps_node_config(n)),
                     err);
}

int ps_h_default(ps_service_t *svc, ps_request_t *req, xerr_spec_t *err)
{
    return ps_answer(svc, req->iq, config_reply(svc, "default", NULL, &svc->defaults.node), err);
}

/* Whether an entity with affiliation `a` may stay subscribed under
 * `cfg`'s access model (§4.1 table, §4.5). */
static bool may_subscribe(const ps_node_config_t *cfg, ps_affiliation_t a)
{
    if (a == PS_AFF_OUTCAST || a == PS_AFF_PUBLISH_ONLY)
        return false;
    if (a == PS_AFF_OWNER || cfg->access == PS_ACCESS_OPEN)
        return true;
    if (cfg->access == PS_ACCESS_WHITELIST)
        return a == PS_AFF_PUBLISHER || a == PS_AFF_MEMBER;
    return false;
}

struct prune {
    ps_service_t *svc;
    ps_nodex_t *nx;
    const char *only_bare; /* NULL: every subscription */
};

struct prune_op {
    ps_nodex_t *nx;
    char *jid;
};

static void prune_cb(void *ctx, store_err_t e, int64_t value)
{
    (void)value;
    struct prune_op *p = ctx;
    if (e == STORE_OK || e == STORE_ENOTFOUND) {
        if (p->nx->node)
            ps_node_unsubscribe(p->nx->node, p->jid);
    } else {
        hlog_warn(SUBJ, "could not remove the subscription of %s: %s", p->jid, store_strerror(e));
    }
    ps_nx_unref(p->nx);
    free(p->jid);
    free(p);
}

static int prune_visit(const char *jid, ps_sub_state_t state, uint64_t subid, void *ud)
{
    (void)state;
    (void)subid;
    struct prune *pr = ud;
    char bare[3 * JID_PART_MAX + 3];
    if (jid_bare(jid, bare, sizeof bare) < 0)
        return 0;
    if (pr->only_bare && strcmp(bare, pr->only_bare) != 0)
        return 0;
    const ps_node_t *n = pr->nx->node;
    if (may_subscribe(ps_node_config(n), ps_node_affiliation(n, bare)))
        return 0;
    struct prune_op *p = calloc(1, sizeof *p);
    if (!p || !(p->jid = strdup(jid))) {
        free(p);
        return 0;
    }
    p->nx = ps_nx_ref(pr->nx);
    store_sub_delete(pr->svc->store, pr->nx->id, jid, NULL, prune_cb, p);
    return 0;
}

/* Removes the subscriptions the node's access model and affiliations no
 * longer allow (after a configuration or affiliation change), so that
 * fan-out never reaches them: their deletion is a write like any other,
 * mirrored in the model by its callback. */
static void prune_subscriptions(ps_service_t *svc, ps_nodex_t *nx, const char *only_bare)
{
    struct prune pr = {svc, nx, only_bare};
    if (nx->node)
        ps_node_foreach_subscription(nx->node, prune_visit, &pr);
}

static void configure_cb(void *ctx, store_err_t e, const store_node_t *node)
{
    (void)node;
    ps_op_t *op = ctx;
    if (ps_op_orphaned(op) || ps_op_store_failed(op, e))
        return;
    if (op->nx->node && ps_node_set_config(op->nx->node, &op->cfg) < 0)
        hlog_error(SUBJ, "out of memory applying the configuration of %s", op->req.node);
    ps_reply_result(op->svc, op->iq, NULL);
    prune_subscriptions(op->svc, op->nx, NULL);
    ps_op_free(op);
}

int ps_h_configure_set(ps_service_t *svc, ps_request_t *req, xerr_spec_t *err)
{
    ps_node_t *n = ps_svc_find(svc, req->node);
    int rc = ps_check_owner(n, req->from_bare, err);
    if (rc)
        return rc;
    const char *type = req->form ? ps_xdata_type(req->form) : NULL;
    if (type && strcmp(type, "cancel") == 0) {
        /* §8.2.4: the owner cancelled; nothing changes. */
        ps_reply_result(svc, req->iq, NULL);
        return 0;
    }
    ps_node_config_t cfg;
    if (ps_config_copy(&cfg, ps_node_config(n)) < 0)
        return ps_err(err, XERR_INTERNAL_SERVER_ERROR, NULL, NULL);
    rc = ps_config_apply_form(&cfg, &svc->defaults, req->form, err);
    ps_op_t *op = rc ? NULL : ps_op_on_node(svc, req, n);
    if (!op) {
        ps_config_clear(&cfg);
        return rc ? rc : ps_err(err, XERR_INTERNAL_SERVER_ERROR, NULL, NULL);
    }
    op->cfg = cfg;
    op->has_cfg = true;
    store_node_config_t sc;
    const char *extra[2];
    ps_cfg_to_store(svc, &cfg, &sc, extra);
    store_node_configure(svc->store, op->nx->id, &sc, configure_cb, op);
    return 0;
}

/* ---- §8.4 delete, §8.5 purge -------------------------------------------- */

static void delete_cb(void *ctx, store_err_t e, int64_t value)
{
    (void)value;
    ps_op_t *op = ctx;
    if (ps_op_orphaned(op) || ps_op_store_failed(op, e))
        return;
    ps_service_t *svc = op->svc;
    ps_nodex_t *nx = op->nx;
    ps_reply_result(svc, op->iq, NULL);
    if (nx->node) {
        const ps_node_config_t *cfg = ps_node_config(nx->node);
        /* The walk opens before the node leaves the model: the subscribers
         * at deletion time are notified (§8.4.2). */
        if (cfg->notify_delete && cfg->deliver_notifications) {
            ps_svc_notif_opts_t buf;
            const ps_notif_opts_t *o = ps_svc_notif_opts(svc, cfg, &buf);
            ps_svc_fanout(svc, nx, ps_notif_delete(o, op->req.node, op->req.redirect_uri));
        }
        hlog_info(SUBJ, "node %s deleted by %s", op->req.node, op->req.from_bare);
        ps_svc_remove_node(svc, nx);
    }
    ps_op_free(op);
}

int ps_h_delete(ps_service_t *svc, ps_request_t *req, xerr_spec_t *err)
{
    ps_node_t *n = ps_svc_find(svc, req->node);
    int rc = ps_check_owner(n, req->from_bare, err);
    if (rc)
        return rc;
    ps_op_t *op = ps_op_on_node(svc, req, n);
    if (!op)
        return ps_err(err, XERR_INTERNAL_SERVER_ERROR, NULL, NULL);
    store_node_delete(svc->store, op->nx->id, delete_cb, op);
    return 0;
}

static void purge_cb(void *ctx, store_err_t e, int64_t value)
{
    (void)value;
    ps_op_t *op = ctx;
    if (ps_op_orphaned(op) || ps_op_store_failed(op, e))
        return;
    ps_service_t *svc = op->svc;
    ps_nodex_t *nx = op->nx;
    nx->gen++;
    ps_reply_result(svc, op->iq, NULL);
    if (nx->node) {
        const ps_node_config_t *cfg = ps_node_config(nx->node);
        /* pubsub#notify_retract also governs purges (node_config.h). */
        if (cfg->notify_retract && cfg->deliver_notifications) {
            ps_svc_notif_opts_t buf;
            const ps_notif_opts_t *o = ps_svc_notif_opts(svc, cfg, &buf);
            ps_svc_fanout(svc, nx, ps_notif_purge(o, op->req.node));
        }
    }
    ps_op_free(op);
}

int ps_h_purge(ps_service_t *svc, ps_request_t *req, xerr_spec_t *err)
{
    ps_node_t *n = ps_svc_find(svc, req->node);
    int rc = ps_check_purge(n, req->from_bare, err);
    if (rc)
        return rc;
    ps_op_t *op = ps_op_on_node(svc, req, n);
    if (!op)
        return ps_err(err, XERR_INTERNAL_SERVER_ERROR, NULL, NULL);
    store_item_purge(svc->store, op->nx->id, purge_cb, op);
    return 0;
}

/* ---- §8.9 affiliations ---------------------------------------------------- */

struct aff_list {
    xmpp_stanza_t *parent;
    int oom;
};

static int aff_visit(const char *bare, ps_affiliation_t a, void *ud)
{
    struct aff_list *l = ud;
    xmpp_stanza_t *e = ps_el_add(l->parent, "affiliation");
    if (!e || xmpp_stanza_set_attribute(e, "jid", bare) != XMPP_EOK ||
        xmpp_stanza_set_attribute(e, "affiliation", ps_affiliation_name(a)) != XMPP_EOK) {
        l->oom = 1;
        return 1;
    }
    return 0;
}

int ps_h_owner_affs_get(ps_service_t *svc, ps_request_t *req, xerr_spec_t *err)
{
    ps_node_t *n = ps_svc_find(svc, req->node);
    int rc = ps_check_owner(n, req->from_bare, err);
    if (rc)
        return rc;
    xmpp_stanza_t *inner;
    xmpp_stanza_t *ps = ps_pubsub_el(svc, NS_PUBSUB_OWNER, "affiliations", req->node, &inner);
    struct aff_list l = {inner, ps == NULL};
    if (ps)
        ps_node_foreach_affiliation(n, aff_visit, &l);
    if (l.oom) {
        if (ps)
            xmpp_stanza_release(ps);
        return ps_err(err, XERR_INTERNAL_SERVER_ERROR, NULL, NULL);
    }
    ps_reply_result(svc, req->iq, ps);
    return 0;
}

/* One write of an affiliation change; its own index because a failed
 * write's callback may come before those submitted ahead of it. */
struct aff_write {
    ps_op_t *op;
    size_t idx;
};

/* An op for `count` such writes (in op->scratch) answered by the last
 * one. NULL on OOM. */
static ps_op_t *changes_op(ps_service_t *svc, ps_request_t *req, ps_node_t *n, size_t count)
{
    struct aff_write *w = calloc(count, sizeof *w);
    ps_op_t *op = w ? ps_op_on_node(svc, req, n) : NULL;
    if (!op) {
        free(w);
        return NULL;
    }
    op->scratch = w;
    op->pending = (int)count;
    return op;
}

/* One write of a change list ended: the last one answers. */
static void change_written(ps_op_t *op, store_err_t e)
{
    if (!ps_op_last_write(op, e) || ps_op_store_failed(op, (store_err_t)op->failed))
        return;
    ps_reply_result(op->svc, op->iq, NULL);
    ps_op_free(op);
}

static void aff_set_cb(void *ctx, store_err_t e, int64_t value)
{
    (void)value;
    struct aff_write *w = ctx;
    ps_op_t *op = w->op;
    if (op->svc && !e && op->nx->node) {
        const ps_aff_change_t *ch = &op->req.aff_changes[w->idx];
        if (ps_node_set_affiliation(op->nx->node, ch->jid, ch->affiliation) < 0)
            hlog_error(SUBJ, "out of memory applying the affiliation of %s", ch->jid);
        else
            prune_subscriptions(op->svc, op->nx, ch->jid);
    }
    change_written(op, e);
}

int ps_h_owner_affs_set(ps_service_t *svc, ps_request_t *req, xerr_spec_t *err)
{
    ps_node_t *n = ps_svc_find(svc, req->node);
    int rc = ps_check_owner(n, req->from_bare, err);
    if (rc)
        return rc;
    /* §8.9.2.4: a node keeps at least one owner. */
    size_t owners = ps_node_affiliation_count(n, PS_AFF_OWNER);
    for (size_t i = 0; i < req->n_aff_changes; i++) {
        const ps_aff_change_t *ch = &req->aff_changes[i];
        bool was = ps_node_affiliation(n, ch->jid) == PS_AFF_OWNER;
        bool will = ch->affiliation == PS_AFF_OWNER;
        owners += (size_t)will - (size_t)was;
    }
    if (owners == 0)
        return ps_err(err, XERR_NOT_ACCEPTABLE, NULL, "a node must keep an owner");
    ps_op_t *op = changes_op(svc, req, n, req->n_aff_changes);
    if (!op)
        return ps_err(err, XERR_INTERNAL_SERVER_ERROR, NULL, NULL);
    struct aff_write *w = op->scratch;
    /* One write per change, submitted together: they commit in one
     * transaction batch and their callbacks fire in this order. */
    for (size_t i = 0; i < op->req.n_aff_changes; i++) {
        w[i] = (struct aff_write){op, i};
        store_aff_set(svc->store, op->nx->id, op->req.aff_changes[i].jid,
                      ps_aff_to_store(op->req.aff_changes[i].affiliation), aff_set_cb, &w[i]);
    }
    return 0;
}

/* ---- §8.8 subscriptions -------------------------------------------------- */

struct sub_list {
    xmpp_stanza_t *parent;
    size_t budget;
    size_t skipped;
    int oom;
};

static int sub_visit(const char *jid, ps_sub_state_t state, uint64_t subid, void *ud)
{
    struct sub_list *l = ud;
    size_t sz = 96 + 6 * strlen(jid);
    if (sz > l->budget) {
        l->skipped++;
        return 0;
    }
    l->budget -= sz;
    char sid[PS_SUBID_LEN + 1];
    xmpp_stanza_t *e = ps_el_add(l->parent, "subscription");
    if (subid)
        ps_subid_format(subid, sid);
    if (!e || xmpp_stanza_set_attribute(e, "jid", jid) != XMPP_EOK ||
        xmpp_stanza_set_attribute(e, "subscription", ps_sub_state_name(state)) != XMPP_EOK ||
        (subid && xmpp_stanza_set_attribute(e, "subid", sid) != XMPP_EOK)) {
        l->oom = 1;
        return 1;
    }
    return 0;
}

/* The list is kept under server.max_stanza_size (no XEP-0059 paging):
 * a node with more subscribers than fit gets a truncated list. */
int ps_h_owner_subs_get(ps_service_t *svc, ps_request_t *req, xerr_spec_t *err)
{
    ps_node_t *n = ps_svc_find(svc, req->node);
    int rc = ps_check_owner(n, req->from_bare, err);
    if (rc)
        return rc;
    xmpp_stanza_t *inner;
    xmpp_stanza_t *ps = ps_pubsub_el(svc, NS_PUBSUB_OWNER, "subscriptions", req->node, &inner);
    struct sub_list l = {inner, svc->max_stanza / 2, 0, ps == NULL};
    if (ps)
        ps_node_foreach_subscription(n, sub_visit, &l);
    if (l.oom) {
        if (ps)
            xmpp_stanza_release(ps);
        return ps_err(err, XERR_INTERNAL_SERVER_ERROR, NULL, NULL);
    }
    if (l.skipped)
        hlog_info(SUBJ, "subscriptions of %s: %zu left out of the list (stanza size)", req->node,
                  l.skipped);
    ps_reply_result(svc, req->iq, ps);
    return 0;
}

static void sub_set_cb(void *ctx, store_err_t e, int64_t value)
{
    (void)value;
    struct aff_write *w = ctx;
    ps_op_t *op = w->op;
    const ps_sub_change_t *ch = &op->req.sub_changes[w->idx];
    /* Deleting what is not there leaves the wanted state: not a failure. */
    if (e == STORE_ENOTFOUND && ch->state == PS_SUB_NONE)
        e = STORE_OK;
    if (op->svc && !e && op->nx->node) {
        int r = ch->state == PS_SUB_NONE ? (ps_node_unsubscribe(op->nx->node, ch->jid), 0)
                                         : ps_node_subscribe(op->nx->node, ch->jid, ch->state, 0);
        if (r < 0)
            hlog_error(SUBJ, "out of memory applying the subscription of %s", ch->jid);
    }
    change_written(op, e);
}

int ps_h_owner_subs_set(ps_service_t *svc, ps_request_t *req, xerr_spec_t *err)
{
    ps_node_t *n = ps_svc_find(svc, req->node);
    int rc = ps_check_owner(n, req->from_bare, err);
    if (rc)
        return rc;
    size_t changes = 0;
    for (size_t i = 0; i < req->n_sub_changes; i++)
        changes += req->sub_changes[i].has_state;
    if (changes == 0) {
        /* §8.8.2: no 'subscription' attribute: nothing changes. */
        ps_reply_result(svc, req->iq, NULL);
        return 0;
    }
    ps_op_t *op = changes_op(svc, req, n, changes);
    if (!op)
        return ps_err(err, XERR_INTERNAL_SERVER_ERROR, NULL, NULL);
    struct aff_write *w = op->scratch;
    size_t k = 0;
    for (size_t i = 0; i < op->req.n_sub_changes; i++) {
        const ps_sub_change_t *ch = &op->req.sub_changes[i];
        if (!ch->has_state)
            continue;
        w[k] = (struct aff_write){op, i};
        if (ch->state == PS_SUB_NONE)
            store_sub_delete(svc->store, op->nx->id, ch->jid, NULL, sub_set_cb, &w[k]);
        else
            store_sub_set(svc->store, op->nx->id, ch->jid, "", (store_sub_state_t)ch->state, NULL,
                          0, sub_set_cb, &w[k]);
        k++;
    }
    return 0;
}
