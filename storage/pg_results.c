/* What happens to requests when their results, their Sync, or the loss
 * of their connection arrive: success at COMMIT, the failing write
 * blamed and the rest of its transaction retried, reads re-sent, and a
 * write transaction cut off around COMMIT held until a new connection
 * tells whether it committed (store_writers, see store.h "Faults"). */
#include "storage/store_int.h"

#include <string.h>

#include "component/log.h"

/* An op sent but not answered: back to the front of its queue, unless it
 * used its attempts. */
void retry_or_fail(sopq_t *keep, sop_t *op, store_err_t err)
{
    sop_clear_results(op);
    if (op->attempts >= SOP_MAX_ATTEMPTS)
        store_finish(op, err);
    else
        q_push(keep, op);
}

/* Finishes every op of a list (linked through op->next) with `err`. */
static void finish_all(sop_t *op, store_err_t err)
{
    while (op) {
        sop_t *next = op->next;
        store_finish(op, err);
        op = next;
    }
}

/* A segment left its connection (its Sync came back, or the connection
 * was lost): the pool no longer waits on it. */
static void seg_retired(store_t *st, seg_t *s)
{
    if (st->write_seg == s) /* only ever a SEG_WRITE */
        st->write_seg = NULL;
    if (s->kind == SEG_REGISTER)
        st->registering = false;
    else if (s->kind == SEG_RESOLVE)
        st->resolving = false;
}

/* ---- pool events from pg_conn.c ---- */

static void set_up(store_t *st, bool up)
{
    if (st->state_fn)
        st->state_fn(st->state_ud, up);
}

void pool_conn_ready(pgc_t *c)
{
    store_t *st = c->st;
    st->nready++;
    hlog_debug(STORE_SUBJ, "connection %d ready (%d of %d)", c->index, st->nready,
               st->nconns);
    kick(st);
    if (st->nready == 1) {
        st->down_since = 0;
        set_up(st, true);
    }
}

static store_err_t classify(const PGresult *r)
{
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    if (!state)
        return STORE_EDB;
    if (strcmp(state, "57014") == 0) /* query_canceled: statement_timeout */
        return STORE_ETIMEOUT;
    /* 40: serialization/deadlock, 53: insufficient resources, 55P03: lock
     * not available: the same request may well succeed later. */
    if (strncmp(state, "40", 2) == 0 || strncmp(state, "53", 2) == 0 ||
        strcmp(state, "55P03") == 0)
        return STORE_EUNAVAILABLE;
    return STORE_EDB;
}

/* A write transaction rolled back (an error result came): the op that
 * failed gets its error; the others did nothing durable and go back to
 * the front of the write queue for the next transaction. When the
 * failure was no op's (BEGIN, the mark, COMMIT), they all count it as an
 * attempt. */
static void write_rolled_back(seg_t *s, sopq_t *keep)
{
    sop_t *culprit = NULL;
    if (s->culprit >= 0 && s->slots[s->culprit].kind == SL_OP)
        culprit = s->slots[s->culprit].op;
    sop_t *op = s->ops;
    s->ops = NULL;
    while (op) {
        sop_t *next = op->next;
        if (op == culprit) {
            store_finish(op, s->cerr);
        } else {
            if (culprit)
                op->attempts--; /* not its fault: this send does not count */
            retry_or_fail(keep, op, s->cerr);
        }
        op = next;
    }
}

static void commit_done(store_t *st, seg_t *s)
{
    s->committed = true;
    if (st->write_seg == s)
        st->write_seg = NULL; /* the next transaction may go on another connection */
    sop_t *op = s->ops;
    s->ops = NULL;
    finish_all(op, STORE_OK);
}

static void resolve_done(store_t *st, const PGresult *r)
{
    sop_t *op = st->unresolved.head;
    st->unresolved.head = st->unresolved.tail = NULL;
    st->unresolved.n = 0;
    int64_t batch = st->unresolved_batch;
    st->unresolved_batch = 0;
    if (PQntuples(r) != 1) {
        hlog_error(STORE_SUBJ, "writer row %lld vanished: outcome of batch %lld unknown",
                   (long long)st->writer_id, (long long)batch);
        st->writer_id = 0; /* register again */
        finish_all(op, STORE_EUNCERTAIN);
        return;
    }
    bool committed = pg_i64(r, 0, 0) >= batch;
    hlog_info(STORE_SUBJ, "write batch %lld cut off by a lost connection %s", (long long)batch,
              committed ? "had committed" : "had not committed: re-sending its writes");
    sopq_t keep = {0};
    while (op) {
        sop_t *next = op->next;
        if (committed) {
            /* Committed, but an op whose results never arrived cannot
             * report what they were. */
            bool complete = true;
            for (int i = 0; i < op->nstmts - op->skip_last; i++)
                complete = complete && op->stmts[i].res;
            store_finish(op, complete ? STORE_OK : STORE_EUNCERTAIN);
        } else {
            retry_or_fail(&keep, op, STORE_EUNAVAILABLE);
        }
        op = next;
    }
    q_prepend(&st->writes, &keep);
}

void pool_slot_result(pgc_t *c, seg_t *s, slot_t *slot, PGresult *r)
{
    store_t *st = c->st;
    ExecStatusType t = PQresultStatus(r);
    if (t != PGRES_COMMAND_OK && t != PGRES_TUPLES_OK) {
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        if (state && strcmp(state, "25P02") == 0) {
            /* "current transaction is aborted": an earlier segment left the
             * session aborted. Not this statement's fault: retry it after
             * a ROLLBACK. */
            c->need_rollback = true;
            if (!s->failed) {
                s->failed = true;
                s->culprit = -1;
                s->cerr = STORE_EUNAVAILABLE;
            }
            PQclear(r);
            return;
        }
        if (!s->failed) {
            s->failed = true;
            s->culprit = s->pos;
            s->cerr = t == PGRES_PIPELINE_ABORTED ? STORE_EDB : classify(r);
            if (t != PGRES_PIPELINE_ABORTED) {
                char buf[1024];
                hlog(s->cerr == STORE_EDB ? HLOG_WARN : HLOG_INFO, STORE_SUBJ,
                     "%s failed (%s): %s",
                     slot->kind == SL_OP ? stmt_defs[slot->op->stmts[slot->stmt].id].name
                                         : "internal statement",
                     store_strerror(s->cerr),
                     st_one_line(PQresultErrorMessage(r), buf, sizeof buf));
            }
        }
        PQclear(r);
        return;
    }
    switch (slot->kind) {
    case SL_OP:
        slot->op->stmts[slot->stmt].res = r;
        return;
    case SL_COMMIT:
        if (!s->failed && strcmp(PQcmdStatus(r), "COMMIT") == 0) {
            PQclear(r);
            commit_done(st, s);
            return;
        }
        s->failed = true;
        s->culprit = s->pos;
        s->cerr = STORE_EDB;
        break;
    case SL_REGISTER:
        if (PQntuples(r) == 1) {
            st->writer_id = pg_i64(r, 0, 0);
            hlog_debug(STORE_SUBJ, "writer id %lld", (long long)st->writer_id);
        }
        break;
    case SL_RESOLVE:
        resolve_done(st, r);
        break;
    default:
        break;
    }
    PQclear(r);
}

void pool_seg_synced(pgc_t *c, seg_t *s)
{
    store_t *st = c->st;
    seg_retired(st, s);
    switch (s->kind) {
    case SEG_READ: {
        sop_t *op = s->ops;
        s->ops = NULL;
        if (!s->failed) {
            store_finish(op, STORE_OK);
        } else if (s->culprit >= 0 && s->slots[s->culprit].kind == SL_OP) {
            store_finish(op, s->cerr);
        } else {
            sopq_t keep = {0};
            retry_or_fail(&keep, op, s->cerr);
            q_prepend(&st->reads, &keep);
        }
        break;
    }
    case SEG_WRITE:
        if (!s->committed) {
            sopq_t keep = {0};
            write_rolled_back(s, &keep);
            q_prepend(&st->writes, &keep);
            /* Nothing was sent behind this segment, so the status is its
             * own: aborted until ROLLBACK unless COMMIT itself failed. */
            if (PQtransactionStatus(c->conn) == PQTRANS_INERROR)
                c->need_rollback = true;
        }
        break;
    case SEG_REGISTER:
    case SEG_RESOLVE:
    case SEG_SETUP:
        break;
    }
    bool failed_internal = s->failed && (s->kind == SEG_REGISTER || s->kind == SEG_RESOLVE);
    const char *s_kind_name = s->kind == SEG_REGISTER ? "writer registration"
                                                      : "commit outcome check";
    seg_free(s);
    kick(st);
    if (failed_internal) {
        /* Retrying at once could spin; a reconnect brings the backoff. */
        hlog_warn(STORE_SUBJ, "connection %d: reconnecting after a failed %s", c->index,
                  s_kind_name);
        seg_t *segs = pgc_close(c);
        pgc_start(c, st->o.reconnect_min_ms);
        pool_conn_lost(c, segs, true);
    }
}

void pool_conn_lost(pgc_t *c, seg_t *segs, bool was_ready)
{
    store_t *st = c->st;
    if (was_ready) {
        st->nready--;
        if (st->nready == 0) {
            st->down_since = ev_now(st->loop);
            set_up(st, false);
        }
    }
    sopq_t reads = {0}, writes = {0};
    while (segs) {
        seg_t *s = segs;
        segs = s->next;
        seg_retired(st, s);
        switch (s->kind) {
        case SEG_READ:
            retry_or_fail(&reads, s->ops, STORE_EUNAVAILABLE);
            s->ops = NULL;
            break;
        case SEG_WRITE:
            if (s->committed) {
                break;
            } else if (s->failed) {
                /* An error result came before the break: rolled back. */
                write_rolled_back(s, &writes);
            } else {
                /* COMMIT may or may not have happened: hold the ops until a
                 * new connection can tell (resolve_done). */
                st->unresolved_batch = s->batch;
                sop_t *op = s->ops;
                while (op) {
                    sop_t *next = op->next;
                    q_push(&st->unresolved, op);
                    op = next;
                }
                s->ops = NULL;
            }
            break;
        case SEG_REGISTER:
        case SEG_RESOLVE:
        case SEG_SETUP:
            break;
        }
        seg_free(s);
    }
    q_prepend(&st->reads, &reads);
    q_prepend(&st->writes, &writes);
    kick(st);
}

