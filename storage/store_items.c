/* Items: publish (upsert + trim in one transaction), retract, purge, get. */
#include "storage/store_int.h"

void store_item_publish(store_t *st, int64_t node_id, const char *item_id,
                        const char *publisher, const char *payload, store_done_cb cb,
                        void *ctx)
{
    sop_t *op = sop_new_done(st, DONE_ROW_FOUND, cb, ctx);
    if (!item_id) {
        store_reject(op, STORE_EINVAL);
        return;
    }
    /* Two statements of one op always share a transaction: the trim sees
     * the new item and the node's max_items as of this very write. */
    sop_stmt(op, STMT_ITEM_UPSERT);
    sop_param_i64(op, node_id);
    sop_param(op, item_id);
    sop_param(op, publisher ? publisher : "");
    sop_param(op, payload);
    sop_stmt(op, STMT_ITEM_TRIM);
    sop_param_i64(op, node_id);
    op->node_id = node_id;
    op->node_effect = NODE_FX_PUBLISH;
    store_submit(op);
}

void store_item_retract(store_t *st, int64_t node_id, const char *item_id,
                        store_done_cb cb, void *ctx)
{
    sop_t *op = sop_new_done(st, DONE_COUNT_FOUND, cb, ctx);
    if (!item_id) {
        store_reject(op, STORE_EINVAL);
        return;
    }
    sop_stmt(op, STMT_ITEM_RETRACT);
    sop_param_i64(op, node_id);
    sop_param(op, item_id);
    op->node_id = node_id;
    op->node_effect = NODE_FX_BARRIER;
    store_submit(op);
}

void store_item_purge(store_t *st, int64_t node_id, store_done_cb cb, void *ctx)
{
    sop_t *op = sop_new_done(st, DONE_COUNT, cb, ctx);
    sop_stmt(op, STMT_ITEM_PURGE);
    sop_param_i64(op, node_id);
    op->node_id = node_id;
    op->node_effect = NODE_FX_BARRIER;
    store_submit(op);
}

/* Columns of ITEM_COLS in stmts.c. */
static void items_finish(sop_t *op, store_err_t err)
{
    const PGresult *r = sop_res(op, 0);
    int n = err ? 0 : PQntuples(r);
    store_item_t *v = n ? sop_alloc(op, (size_t)n * sizeof *v) : NULL;
    for (int i = 0; i < n; i++) {
        v[i].item_id = PQgetvalue(r, i, 0);
        v[i].publisher = PQgetvalue(r, i, 1);
        v[i].payload = pg_str(r, i, 2);
        v[i].created_us = pg_i64(r, i, 3);
        v[i].updated_us = pg_i64(r, i, 4);
        v[i].seq = pg_i64(r, i, 5);
    }
    op->cb.items(op->ctx, err, v, (size_t)n);
}

void store_items_get(store_t *st, int64_t node_id, const store_items_query_t *q,
                     store_items_cb cb, void *ctx)
{
    static const store_items_query_t all = {0};
    sop_t *op = sop_new(st, false, items_finish, ctx);
    op->cb.items = cb;
    if (!q)
        q = &all;
    if (q->nids && !q->ids) {
        store_reject(op, STORE_EINVAL);
        return;
    }
    if (q->nids) {
        sop_stmt(op, STMT_ITEMS_BY_ID);
        sop_param_i64(op, node_id);
        sop_param_array(op, q->ids, q->nids);
        sop_param_bool(op, q->ids_only);
    } else {
        /* Bounds are always bound (INT64_MAX / 0 when unset) so that one
         * plan, an index range on (node_id, seq), serves every query. */
        sop_stmt(op, q->ids_only ? STMT_ITEMS_RANGE_IDS : STMT_ITEMS_RANGE);
        sop_param_i64(op, node_id);
        sop_param_i64(op, q->before_seq > 0 ? q->before_seq : INT64_MAX);
        sop_param_i64(op, q->after_seq > 0 ? q->after_seq : 0);
        sop_param_limit(op, q->max);
    }
    store_submit(op);
}
