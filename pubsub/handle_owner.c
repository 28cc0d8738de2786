/* XEP-0060 §8 owner use cases: create (§8.1, named and instant, with a
 * configuration form), configure (§8.2), default configuration (§8.3),
 * delete with notification and redirect (§8.4), purge with notification
 * (§8.5), the subscriptions list and its modification (§8.8), and the
 * affiliations list and its modification (§8.9). An owner may set any
 * state; an affiliation or access-model change removes the subscriptions
 * it no longer allows, in the background (pubsub/prune.h: a million
 * subscribers are examined a slice per loop turn, at most 1024 deletions
 * in flight), fan-out skipping them from the change on.
 *
 * Who may create nodes: any entity (the service is open), up to
 * pubsub.max_nodes_per_owner nodes per creating bare JID, counted with
 * the creations in flight. Beyond it: policy-violation type wait, the
 * condition XEP-0060 itself uses for a local quota (§6.1.3.9 too many
 * subscriptions), since §8.1.3 names none for creation. */
#include "pubsub/service_int.h"

#include <stdlib.h>
#include <string.h>

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
    if (ps && stanza_adopt(inner, ps_config_to_form(svc->ctx, cfg, "form")) < 0) {
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

static void configure_cb(void *ctx, store_err_t e, const store_node_t *node)
{
    (void)node;
    ps_op_t *op = ctx;
    if (ps_op_orphaned(op) || ps_op_store_failed(op, e))
        return;
    if (op->nx->node && ps_node_set_config(op->nx->node, &op->cfg) < 0)
        hlog_error(SUBJ, "out of memory applying the configuration of %s", op->req.node);
    ps_reply_result(op->svc, op->iq, NULL);
    ps_svc_prune(op->svc, op->nx, NULL);
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

/* A list reply kept under server.max_stanza_size (no XEP-0059 paging):
 * the walk stops when the next entry does not fit, so it visits at most
 * what one stanza holds, however large the node. */
struct owner_list {
    xmpp_stanza_t *parent;
    size_t budget;
    size_t listed;
    int oom;
};

/* Takes `sz` bytes of the budget, or tells the walk to stop. */
static bool list_fits(struct owner_list *l, size_t sz)
{
    if (sz > l->budget)
        return false;
    l->budget -= sz;
    l->listed++;
    return true;
}

/* What differs between the owner's affiliations and subscriptions lists:
 * the element name, how to walk the node, and how many entries it has. */
typedef struct {
    const char *name;
    void (*walk)(ps_node_t *n, struct owner_list *l);
    size_t (*total)(const ps_node_t *n);
} owner_list_kind_t;

static int owner_list_reply(ps_service_t *svc, ps_request_t *req, xerr_spec_t *err,
                            const owner_list_kind_t *kind)
{
    ps_node_t *n = ps_svc_find(svc, req->node);
    int rc = ps_check_owner(n, req->from_bare, err);
    if (rc)
        return rc;
    xmpp_stanza_t *inner;
    xmpp_stanza_t *ps = ps_pubsub_el(svc, NS_PUBSUB_OWNER, kind->name, req->node, &inner);
    struct owner_list l = {inner, svc->max_stanza / 2, 0, ps == NULL};
    if (ps)
        kind->walk(n, &l);
    if (l.oom) {
        if (ps)
            xmpp_stanza_release(ps);
        return ps_err(err, XERR_INTERNAL_SERVER_ERROR, NULL, NULL);
    }
    size_t total = kind->total(n);
    if (total > l.listed)
        hlog_info(SUBJ, "%s of %s: %zu left out of the list (stanza size)", kind->name,
                  req->node, total - l.listed);
    ps_reply_result(svc, req->iq, ps);
    return 0;
}

static int aff_visit(const char *bare, ps_affiliation_t a, void *ud)
{
    struct owner_list *l = ud;
    if (!list_fits(l, 64 + 6 * strlen(bare)))
        return 1;
    xmpp_stanza_t *e = stanza_add_elem(l->parent, "affiliation", NULL);
    if (!e || xmpp_stanza_set_attribute(e, "jid", bare) != XMPP_EOK ||
        xmpp_stanza_set_attribute(e, "affiliation", ps_affiliation_name(a)) != XMPP_EOK) {
        l->oom = 1;
        return 1;
    }
    return 0;
}

static void aff_walk(ps_node_t *n, struct owner_list *l)
{
    ps_node_foreach_affiliation(n, aff_visit, l);
}

static size_t aff_total(const ps_node_t *n)
{
    size_t total = 0;
    for (ps_affiliation_t a = PS_AFF_OUTCAST; a <= PS_AFF_OWNER; a++)
        total += ps_node_affiliation_count(n, a);
    return total;
}

int ps_h_owner_affs_get(ps_service_t *svc, ps_request_t *req, xerr_spec_t *err)
{
    static const owner_list_kind_t kind = {"affiliations", aff_walk, aff_total};
    return owner_list_reply(svc, req, err, &kind);
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
            ps_svc_prune(op->svc, op->nx, ch->jid);
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

static int sub_visit(const char *jid, ps_sub_state_t state, uint64_t subid, void *ud)
{
    struct owner_list *l = ud;
    if (!list_fits(l, 96 + 6 * strlen(jid)))
        return 1;
    char sid[PS_SUBID_LEN + 1];
    xmpp_stanza_t *e = stanza_add_elem(l->parent, "subscription", NULL);
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

static void sub_walk(ps_node_t *n, struct owner_list *l)
{
    ps_node_foreach_subscription(n, sub_visit, l);
}

/* Kept under server.max_stanza_size like the affiliations list: a node
 * with more subscriptions than fit gets a truncated list. */
int ps_h_owner_subs_get(ps_service_t *svc, ps_request_t *req, xerr_spec_t *err)
{
    static const owner_list_kind_t kind = {"subscriptions", sub_walk, ps_node_subscription_count};
    return owner_list_reply(svc, req, err, &kind);
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
