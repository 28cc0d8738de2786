/* Presence subscriptions and the caps cache. */
#include "storage/store_int.h"

/* Adding and removing take the same parameters. */
static void presence_write(store_t *st, stmt_id_t id, const char *local_jid, const char *contact,
                           store_done_cb cb, void *ctx)
{
    sop_t *op = sop_new_done(st, DONE_COUNT, cb, ctx);
    if (!local_jid || !contact) {
        store_reject(op, STORE_EINVAL);
        return;
    }
    sop_stmt(op, id);
    sop_param(op, local_jid);
    sop_param(op, contact);
    store_submit(op);
}

void store_presence_add(store_t *st, const char *local_jid, const char *contact,
                        store_done_cb cb, void *ctx)
{
    presence_write(st, STMT_PRES_ADD, local_jid, contact, cb, ctx);
}

void store_presence_remove(store_t *st, const char *local_jid, const char *contact,
                           store_done_cb cb, void *ctx)
{
    presence_write(st, STMT_PRES_REMOVE, local_jid, contact, cb, ctx);
}

static void presences_finish(sop_t *op, store_err_t err)
{
    const PGresult *r = sop_res(op, 0);
    int n = err ? 0 : PQntuples(r);
    store_presence_t *v = n ? sop_alloc(op, (size_t)n * sizeof *v) : NULL;
    for (int i = 0; i < n; i++) {
        v[i].local_jid = PQgetvalue(r, i, 0);
        v[i].contact = PQgetvalue(r, i, 1);
    }
    op->cb.presences(op->ctx, err, v, (size_t)n);
}

void store_presence_list(store_t *st, const char *local_jid, const store_presence_t *after,
                         size_t limit, store_presences_cb cb, void *ctx)
{
    sop_t *op = sop_new(st, false, presences_finish, ctx);
    op->cb.presences = cb;
    const char *after_local = after && after->local_jid ? after->local_jid : "";
    const char *after_contact = after && after->contact ? after->contact : "";
    if (local_jid) {
        sop_stmt(op, STMT_PRES_LIST_LOCAL);
        sop_param(op, local_jid);
    } else {
        sop_stmt(op, STMT_PRES_LIST_ALL);
        sop_param(op, after_local);
    }
    sop_param(op, after_contact);
    sop_param_limit(op, limit);
    store_submit(op);
}

static void caps_finish(sop_t *op, store_err_t err)
{
    store_caps_t caps;
    const PGresult *r = sop_res(op, 0);
    if (!err && PQntuples(r) == 0)
        err = STORE_ENOTFOUND;
    if (!err) {
        caps.ver = PQgetvalue(r, 0, 0);
        caps.features = sop_parse_array(op, PQgetvalue(r, 0, 1), &caps.nfeatures);
        caps.identities = sop_parse_array(op, PQgetvalue(r, 0, 2), &caps.nidentities);
    }
    op->cb.caps(op->ctx, err, err ? NULL : &caps);
}

void store_caps_get(store_t *st, const char *ver, store_caps_cb cb, void *ctx)
{
    sop_t *op = sop_new(st, false, caps_finish, ctx);
    op->cb.caps = cb;
    if (!ver) {
        store_reject(op, STORE_EINVAL);
        return;
    }
    sop_stmt(op, STMT_CAPS_GET);
    sop_param(op, ver);
    store_submit(op);
}

void store_caps_put(store_t *st, const store_caps_t *caps, store_done_cb cb, void *ctx)
{
    sop_t *op = sop_new_done(st, DONE_ZERO, cb, ctx);
    if (!caps || !caps->ver || (caps->nfeatures && !caps->features) ||
        (caps->nidentities && !caps->identities)) {
        store_reject(op, STORE_EINVAL);
        return;
    }
    sop_stmt(op, STMT_CAPS_PUT);
    sop_param(op, caps->ver);
    sop_param_array(op, caps->features, caps->nfeatures);
    sop_param_array(op, caps->identities, caps->nidentities);
    store_submit(op);
}
