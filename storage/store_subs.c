/* Subscriptions. */
#include "storage/store_int.h"

static const char *const state_names[] = {
    [STORE_SUB_NONE] = "none",
    [STORE_SUB_PENDING] = "pending",
    [STORE_SUB_UNCONFIGURED] = "unconfigured",
    [STORE_SUB_SUBSCRIBED] = "subscribed",
};

#define N_STATE_NAMES (sizeof state_names / sizeof state_names[0])

const char *store_sub_state_name(store_sub_state_t s)
{
    return st_enum_name(state_names, N_STATE_NAMES, (unsigned)s);
}

/* Columns of SUB_COLS in stmts.c. */
static void subs_finish(sop_t *op, store_err_t err)
{
    const PGresult *r = sop_res(op, 0);
    int n = err ? 0 : PQntuples(r);
    store_sub_t *v = n ? sop_alloc(op, (size_t)n * sizeof *v) : NULL;
    for (int i = 0; i < n; i++) {
        v[i].node_id = pg_i64(r, i, 0);
        v[i].node_owner = PQgetvalue(r, i, 1);
        v[i].node_name = PQgetvalue(r, i, 2);
        v[i].jid = PQgetvalue(r, i, 3);
        v[i].subid = PQgetvalue(r, i, 4);
        v[i].state =
            (store_sub_state_t)st_enum_parse(state_names, N_STATE_NAMES, PQgetvalue(r, i, 5));
        v[i].options = sop_parse_array(op, PQgetvalue(r, i, 6), &v[i].noptions);
        v[i].changed_seq = pg_i64(r, i, 7);
    }
    op->cb.subs(op->ctx, err, v, (size_t)n);
}

void store_sub_set(store_t *st, int64_t node_id, const char *jid, const char *subid,
                   store_sub_state_t state, const char *const *options, size_t noptions,
                   store_done_cb cb, void *ctx)
{
    sop_t *op = sop_new_done(st, DONE_ROW_FOUND, cb, ctx);
    if (!jid || state == STORE_SUB_NONE || (unsigned)state > STORE_SUB_SUBSCRIBED ||
        noptions % 2 || (noptions && !options)) {
        store_reject(op, STORE_EINVAL);
        return;
    }
    sop_stmt(op, STMT_SUB_SET);
    sop_param_i64(op, node_id);
    sop_param(op, jid);
    sop_param(op, subid ? subid : "");
    sop_param(op, state_names[state]);
    sop_param_array(op, options, noptions);
    store_submit(op);
}

void store_sub_delete(store_t *st, int64_t node_id, const char *jid, const char *subid,
                      store_done_cb cb, void *ctx)
{
    sop_t *op = sop_new_done(st, DONE_COUNT_FOUND, cb, ctx);
    if (!jid) {
        store_reject(op, STORE_EINVAL);
        return;
    }
    sop_stmt(op, subid ? STMT_SUB_DELETE : STMT_SUB_DELETE_JID);
    sop_param_i64(op, node_id);
    sop_param(op, jid);
    if (subid)
        sop_param(op, subid);
    store_submit(op);
}

void store_sub_list_node(store_t *st, int64_t node_id, const store_sub_t *after,
                         size_t limit, store_subs_cb cb, void *ctx)
{
    sop_t *op = sop_new(st, false, subs_finish, ctx);
    op->cb.subs = cb;
    if (after && !after->jid) {
        store_reject(op, STORE_EINVAL);
        return;
    }
    sop_stmt(op, after ? STMT_SUB_LIST_NODE_AFTER : STMT_SUB_LIST_NODE);
    sop_param_i64(op, node_id);
    if (after) {
        sop_param(op, after->jid);
        sop_param(op, after->subid ? after->subid : "");
    }
    sop_param_limit(op, limit);
    store_submit(op);
}

void store_sub_list_jid(store_t *st, const char *owner, const char *jid,
                        store_subs_cb cb, void *ctx)
{
    sop_t *op = sop_new(st, false, subs_finish, ctx);
    op->cb.subs = cb;
    if (!jid) {
        store_reject(op, STORE_EINVAL);
        return;
    }
    sop_stmt(op, STMT_SUB_LIST_JID);
    sop_param(op, owner ? owner : "");
    sop_param(op, jid);
    store_submit(op);
}
