/* Nodes, their configuration, and affiliations. */
#include "storage/store_int.h"

#include <stdlib.h>
#include <string.h>

static const char *or_empty(const char *s) { return s ? s : ""; }

/* The 15 configuration parameters, in the order of stmts.c (create: $4..,
 * configure: $2..). */
static void config_params(sop_t *op, const store_node_config_t *c)
{
    sop_param(op, or_empty(c->title));
    sop_param(op, or_empty(c->description));
    sop_param(op, or_empty(c->type));
    if (c->max_items == STORE_MAX_ITEMS_MAX || c->max_items > INT32_MAX)
        sop_param(op, NULL);
    else
        sop_param_i64(op, c->max_items);
    sop_param_i64(op, c->max_payload_size > INT32_MAX ? INT32_MAX : c->max_payload_size);
    sop_param_bool(op, c->persist_items);
    sop_param_bool(op, c->deliver_payloads);
    sop_param_bool(op, c->deliver_notifications);
    sop_param_bool(op, c->notify_retract);
    sop_param_bool(op, c->notify_delete);
    sop_param(op, c->send_last_published_item ? c->send_last_published_item : "never");
    sop_param(op, c->access_model ? c->access_model : "open");
    sop_param(op, c->publish_model ? c->publish_model : "publishers");
    sop_param(op, c->notification_type ? c->notification_type : "headline");
    sop_param_array(op, c->extra, c->nextra);
}

static bool config_valid(const store_node_config_t *c)
{
    return c && c->nextra % 2 == 0 && (c->nextra == 0 || c->extra);
}

/* Columns of NODE_COLS in stmts.c. Strings point into the result. */
static void node_from_row(sop_t *op, const PGresult *r, int row, store_node_t *n)
{
    memset(n, 0, sizeof *n);
    n->id = pg_i64(r, row, 0);
    n->owner = PQgetvalue(r, row, 1);
    n->name = PQgetvalue(r, row, 2);
    n->creator = PQgetvalue(r, row, 3);
    n->created_us = pg_i64(r, row, 4);
    n->version = pg_i64(r, row, 5);
    store_node_config_t *c = &n->config;
    c->title = PQgetvalue(r, row, 6);
    c->description = PQgetvalue(r, row, 7);
    c->type = PQgetvalue(r, row, 8);
    c->max_items = PQgetisnull(r, row, 9) ? STORE_MAX_ITEMS_MAX : (uint32_t)pg_i64(r, row, 9);
    c->max_payload_size = (uint32_t)pg_i64(r, row, 10);
    c->persist_items = pg_bool(r, row, 11);
    c->deliver_payloads = pg_bool(r, row, 12);
    c->deliver_notifications = pg_bool(r, row, 13);
    c->notify_retract = pg_bool(r, row, 14);
    c->notify_delete = pg_bool(r, row, 15);
    c->send_last_published_item = PQgetvalue(r, row, 16);
    c->access_model = PQgetvalue(r, row, 17);
    c->publish_model = PQgetvalue(r, row, 18);
    c->notification_type = PQgetvalue(r, row, 19);
    c->extra = sop_parse_array(op, PQgetvalue(r, row, 20), &c->nextra);
}

/* One node row; op->mode is the error when there is none. */
static void node_finish(sop_t *op, store_err_t err)
{
    store_node_t n;
    const PGresult *r = sop_res(op, 0);
    if (!err && PQntuples(r) == 0)
        err = (store_err_t)op->mode;
    if (!err)
        node_from_row(op, r, 0, &n);
    op->cb.node(op->ctx, err, err ? NULL : &n);
}

static void nodes_finish(sop_t *op, store_err_t err)
{
    const PGresult *r = sop_res(op, 0);
    int n = err ? 0 : PQntuples(r);
    store_node_t *v = n ? sop_alloc(op, (size_t)n * sizeof *v) : NULL;
    for (int i = 0; i < n; i++)
        node_from_row(op, r, i, &v[i]);
    op->cb.nodes(op->ctx, err, v, (size_t)n);
}

void store_node_create(store_t *st, const char *owner, const char *name,
                       const char *creator, const store_node_config_t *cfg,
                       store_node_cb cb, void *ctx)
{
    sop_t *op = sop_new(st, true, node_finish, ctx);
    op->cb.node = cb;
    op->mode = STORE_EEXISTS;
    if (!name || !config_valid(cfg)) {
        store_reject(op, STORE_EINVAL);
        return;
    }
    sop_stmt(op, STMT_NODE_CREATE);
    sop_param(op, or_empty(owner));
    sop_param(op, name);
    sop_param(op, or_empty(creator));
    config_params(op, cfg);
    store_submit(op);
}

void store_node_delete(store_t *st, int64_t node_id, store_done_cb cb, void *ctx)
{
    sop_t *op = sop_new_done(st, DONE_COUNT_FOUND, cb, ctx);
    sop_stmt(op, STMT_NODE_DELETE);
    sop_param_i64(op, node_id);
    op->node_id = node_id;
    op->node_effect = NODE_FX_BARRIER;
    store_submit(op);
}

void store_node_get(store_t *st, const char *owner, const char *name,
                    store_node_cb cb, void *ctx)
{
    sop_t *op = sop_new(st, false, node_finish, ctx);
    op->cb.node = cb;
    op->mode = STORE_ENOTFOUND;
    if (!name) {
        store_reject(op, STORE_EINVAL);
        return;
    }
    sop_stmt(op, STMT_NODE_GET);
    sop_param(op, or_empty(owner));
    sop_param(op, name);
    store_submit(op);
}

void store_node_configure(store_t *st, int64_t node_id, const store_node_config_t *cfg,
                          store_node_cb cb, void *ctx)
{
    sop_t *op = sop_new(st, true, node_finish, ctx);
    op->cb.node = cb;
    op->mode = STORE_ENOTFOUND;
    if (!config_valid(cfg)) {
        store_reject(op, STORE_EINVAL);
        return;
    }
    sop_stmt(op, STMT_NODE_CONFIGURE);
    sop_param_i64(op, node_id);
    config_params(op, cfg);
    op->node_id = node_id;
    op->node_effect = NODE_FX_BARRIER;
    store_submit(op);
}

void store_node_list(store_t *st, const char *owner, const char *after_name,
                     size_t limit, store_nodes_cb cb, void *ctx)
{
    sop_t *op = sop_new(st, false, nodes_finish, ctx);
    op->cb.nodes = cb;
    sop_stmt(op, STMT_NODE_LIST);
    sop_param(op, or_empty(owner));
    sop_param(op, or_empty(after_name));
    sop_param_limit(op, limit);
    store_submit(op);
}

void store_node_list_all(store_t *st, int64_t after_id, size_t limit,
                         store_nodes_cb cb, void *ctx)
{
    sop_t *op = sop_new(st, false, nodes_finish, ctx);
    op->cb.nodes = cb;
    sop_stmt(op, STMT_NODE_LIST_ALL);
    sop_param_i64(op, after_id);
    sop_param_limit(op, limit);
    store_submit(op);
}

/* ---- affiliations ---- */

static const char *const aff_names[] = {
    [STORE_AFF_NONE] = "none",
    [STORE_AFF_OWNER] = "owner",
    [STORE_AFF_PUBLISHER] = "publisher",
    [STORE_AFF_PUBLISH_ONLY] = "publish-only",
    [STORE_AFF_MEMBER] = "member",
    [STORE_AFF_OUTCAST] = "outcast",
};

#define N_AFF_NAMES (sizeof aff_names / sizeof aff_names[0])

const char *store_aff_name(store_aff_t aff)
{
    return st_enum_name(aff_names, N_AFF_NAMES, (unsigned)aff);
}

static void affs_finish(sop_t *op, store_err_t err)
{
    const PGresult *r = sop_res(op, 0);
    int n = err ? 0 : PQntuples(r);
    store_aff_entry_t *v = n ? sop_alloc(op, (size_t)n * sizeof *v) : NULL;
    for (int i = 0; i < n; i++) {
        v[i].node_id = pg_i64(r, i, 0);
        v[i].node_owner = PQgetvalue(r, i, 1);
        v[i].node_name = PQgetvalue(r, i, 2);
        v[i].jid = PQgetvalue(r, i, 3);
        v[i].aff = (store_aff_t)st_enum_parse(aff_names, N_AFF_NAMES, PQgetvalue(r, i, 4));
    }
    op->cb.affs(op->ctx, err, v, (size_t)n);
}

void store_aff_set(store_t *st, int64_t node_id, const char *jid, store_aff_t aff,
                   store_done_cb cb, void *ctx)
{
    sop_t *op = sop_new_done(st, DONE_ROW_FOUND, cb, ctx);
    if (!jid || (unsigned)aff > STORE_AFF_OUTCAST) {
        store_reject(op, STORE_EINVAL);
        return;
    }
    sop_stmt(op, aff == STORE_AFF_NONE ? STMT_AFF_DELETE : STMT_AFF_SET);
    sop_param_i64(op, node_id);
    sop_param(op, jid);
    if (aff != STORE_AFF_NONE)
        sop_param(op, aff_names[aff]);
    store_submit(op);
}

static sop_t *affs_op(store_t *st, stmt_id_t id, store_affs_cb cb, void *ctx)
{
    sop_t *op = sop_new(st, false, affs_finish, ctx);
    op->cb.affs = cb;
    sop_stmt(op, id);
    return op;
}

void store_aff_get(store_t *st, int64_t node_id, const char *jid, store_affs_cb cb,
                   void *ctx)
{
    sop_t *op = affs_op(st, STMT_AFF_GET, cb, ctx);
    if (!jid) {
        store_reject(op, STORE_EINVAL);
        return;
    }
    sop_param_i64(op, node_id);
    sop_param(op, jid);
    store_submit(op);
}

void store_aff_list_node(store_t *st, int64_t node_id, const char *after_jid, size_t limit,
                         store_affs_cb cb, void *ctx)
{
    sop_t *op = affs_op(st, after_jid ? STMT_AFF_LIST_NODE_AFTER : STMT_AFF_LIST_NODE, cb, ctx);
    sop_param_i64(op, node_id);
    if (after_jid)
        sop_param(op, after_jid);
    sop_param_limit(op, limit);
    store_submit(op);
}

void store_aff_list_jid(store_t *st, const char *owner, const char *jid,
                        store_affs_cb cb, void *ctx)
{
    sop_t *op = affs_op(st, STMT_AFF_LIST_JID, cb, ctx);
    if (!jid) {
        store_reject(op, STORE_EINVAL);
        return;
    }
    sop_param(op, or_empty(owner));
    sop_param(op, jid);
    store_submit(op);
}
