/* The store: request queues, dispatch onto the pool (group commit: one
 * write transaction per dispatch, trims planned per node), expiry, and
 * opening/closing. What results and broken connections do to requests is
 * in pg_results.c.
 *
 * Invariants
 *   - Every accepted op is in exactly one place: a queue (reads, writes,
 *     failed, unresolved) or a segment in flight; `busy` counts them.
 *     store_finish() is the only way out, and runs the callback once.
 *   - At most one write transaction is in flight (st->write_seg), and
 *     none while an earlier one's outcome is unresolved: writes commit in
 *     submission order.
 *   - Queues are in submission order; ops coming back for a retry go to
 *     the front, so the head of each queue is its oldest op (the expiry
 *     timer only looks at heads).
 *   - Callbacks run from io/timer/prepare watchers only, never inside the
 *     call that submitted the op. */
#include "storage/store_int.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "component/log.h"

#define container_of(p, type, member) ((type *)((char *)(p) - offsetof(type, member)))

void q_push(sopq_t *q, sop_t *op)
{
    op->next = NULL;
    if (q->tail)
        q->tail->next = op;
    else
        q->head = op;
    q->tail = op;
    q->n++;
}

sop_t *q_pop(sopq_t *q)
{
    sop_t *op = q->head;
    if (op) {
        q->head = op->next;
        if (!q->head)
            q->tail = NULL;
        q->n--;
        op->next = NULL;
    }
    return op;
}

/* Puts `front` (in order) before the ops of q. */
void q_prepend(sopq_t *q, sopq_t *front)
{
    if (!front->head)
        return;
    front->tail->next = q->head;
    if (!q->tail)
        q->tail = front->tail;
    q->head = front->head;
    q->n += front->n;
    front->head = front->tail = NULL;
    front->n = 0;
}

const char *store_strerror(store_err_t err)
{
    switch (err) {
    case STORE_OK: return "ok";
    case STORE_ENOTFOUND: return "not found";
    case STORE_EEXISTS: return "already exists";
    case STORE_EUNAVAILABLE: return "database unavailable";
    case STORE_ETIMEOUT: return "statement timeout";
    case STORE_ESHUTDOWN: return "store shutting down";
    case STORE_EUNCERTAIN: return "commit outcome unknown";
    case STORE_EDB: return "database error";
    case STORE_EINVAL: return "invalid argument";
    }
    return "?";
}

void kick(store_t *st)
{
    if (!ev_is_active(&st->kick)) {
        ev_timer_set(&st->kick, 0., 0.);
        ev_timer_start(st->loop, &st->kick);
    }
}

void store_finish(sop_t *op, store_err_t err)
{
    store_t *st = op->st;
    st->busy--;
    op->finish(op, err);
    sop_free(op);
}

void store_reject(sop_t *op, store_err_t err)
{
    store_t *st = op->st;
    st->busy++;
    op->err = err;
    op->queued_at = ev_now(st->loop);
    q_push(&st->failed, op);
    kick(st);
}

void store_submit(sop_t *op)
{
    store_t *st = op->st;
    ev_tstamp now = ev_now(st->loop);
    st->busy++;
    op->queued_at = now;
    store_err_t err = STORE_OK;
    if (st->closing)
        err = STORE_ESHUTDOWN;
    else if (st->reads.n + st->writes.n >= st->o.queue_max)
        err = STORE_EUNAVAILABLE;
    else if (st->nready == 0 && now - st->down_since >= st->o.queue_timeout_ms / 1000.0)
        err = STORE_EUNAVAILABLE; /* down for a while: fail fast */
    if (err) {
        op->err = err;
        q_push(&st->failed, op);
    } else {
        q_push(op->write ? &st->writes : &st->reads, op);
    }
    kick(st);
}

/* ---- dispatch ---- */

static pgc_t *pick_conn(store_t *st, bool write)
{
    pgc_t *best = NULL;
    int cap = (int)st->o.batch_max;
    for (int i = 0; i < st->nconns; i++) {
        pgc_t *c = &st->conns[(st->rr + (unsigned)i) % (unsigned)st->nconns];
        if (c->state != PGC_READY || c->write_blocked || (!write && c->nsegs >= cap))
            continue;
        if (!best || c->nsegs < best->nsegs)
            best = c;
    }
    st->rr++;
    return best;
}

static void send_internal(store_t *st, seg_kind_t kind)
{
    pgc_t *c = pick_conn(st, false);
    if (!c)
        return;
    seg_t *s = seg_new(kind, 1);
    if (kind == SEG_REGISTER) {
        s->slots[0].kind = SL_REGISTER;
        st->registering = true;
    } else {
        s->slots[0].kind = SL_RESOLVE;
        snprintf(s->args[0], sizeof s->args[0], "%lld", (long long)st->writer_id);
        st->resolving = true;
    }
    pgc_send(c, s);
}

static void dispatch_reads(store_t *st)
{
    while (st->reads.head) {
        pgc_t *c = pick_conn(st, false);
        if (!c)
            return;
        sop_t *op = q_pop(&st->reads);
        seg_t *s = seg_new(SEG_READ, op->nstmts);
        for (int i = 0; i < op->nstmts; i++) {
            s->slots[i].kind = SL_OP;
            s->slots[i].stmt = i;
            s->slots[i].op = op;
        }
        s->ops = op;
        s->nops = 1;
        op->attempts++;
        pgc_send(c, s); /* on failure the op is back in the queue (or failed) */
    }
}

/* Publishes to one node in one transaction need one trim, after the
 * last of them: trimming after each or once at the end keeps the same
 * newest max_items, as long as nothing else changes that node's items or
 * limit in between (a "barrier": retract, purge, configure, delete).
 * Walking the batch backwards, a publish skips its trim when a later
 * publish to the same node trims with no barrier in between. */
static void plan_trims(sop_t **v, size_t n)
{
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    struct slotv {
        int64_t node;
        bool pending;
    } *set = st_xcalloc(cap, sizeof *set);
    for (size_t i = n; i-- > 0;) {
        sop_t *op = v[i];
        op->skip_last = false;
        if (op->node_effect == NODE_FX_NONE)
            continue;
        size_t h = (size_t)((uint64_t)op->node_id * 0x9E3779B97F4A7C15ull >> 20) & (cap - 1);
        while (set[h].node && set[h].node != op->node_id)
            h = (h + 1) & (cap - 1);
        set[h].node = op->node_id ? op->node_id : -1;
        if (op->node_effect == NODE_FX_PUBLISH) {
            op->skip_last = set[h].pending;
            set[h].pending = true;
        } else {
            set[h].pending = false;
        }
    }
    free(set);
}

static void dispatch_writes(store_t *st)
{
    if (!st->writer_id || st->unresolved_batch || st->write_seg || !st->writes.head)
        return;
    pgc_t *c = pick_conn(st, true);
    if (!c)
        return;
    size_t n = st->writes.n < st->o.batch_max ? st->writes.n : st->o.batch_max;
    sop_t **v = st_xmalloc(n * sizeof *v);
    int nslots = 3; /* BEGIN, mark, COMMIT */
    for (size_t i = 0; i < n; i++)
        v[i] = q_pop(&st->writes);
    plan_trims(v, n);
    for (size_t i = 0; i < n; i++)
        nslots += v[i]->nstmts - v[i]->skip_last;
    seg_t *s = seg_new(SEG_WRITE, nslots);
    s->batch = ++st->batch_no;
    snprintf(s->args[0], sizeof s->args[0], "%lld", (long long)st->writer_id);
    snprintf(s->args[1], sizeof s->args[1], "%lld", (long long)s->batch);
    int k = 0;
    s->slots[k++].kind = SL_BEGIN;
    sop_t **tail = &s->ops;
    for (size_t i = 0; i < n; i++) {
        sop_t *op = v[i];
        op->attempts++;
        for (int j = 0; j < op->nstmts - op->skip_last; j++) {
            s->slots[k].kind = SL_OP;
            s->slots[k].stmt = j;
            s->slots[k].op = op;
            k++;
        }
        *tail = op;
        tail = &op->next;
    }
    *tail = NULL;
    free(v);
    s->nops = n;
    s->slots[k++].kind = SL_MARK;
    s->slots[k++].kind = SL_COMMIT;
    st->write_seg = s;
    pgc_send(c, s);
}

static void fire_failed(store_t *st)
{
    sopq_t list = st->failed;
    st->failed.head = st->failed.tail = NULL;
    st->failed.n = 0;
    sop_t *op;
    while ((op = q_pop(&list)))
        store_finish(op, op->err);
}

static void expire_queue(store_t *st, sopq_t *q, store_err_t err, ev_tstamp now)
{
    ev_tstamp limit = st->o.queue_timeout_ms / 1000.0;
    while (q->head && now - q->head->queued_at >= limit)
        store_finish(q_pop(q), err);
}

static void arm_expire(store_t *st)
{
    ev_tstamp oldest = 0;
    sopq_t *qs[3] = {&st->reads, &st->writes, &st->unresolved};
    for (int i = 0; i < 3; i++)
        if (qs[i]->head && (!oldest || qs[i]->head->queued_at < oldest))
            oldest = qs[i]->head->queued_at;
    ev_timer_stop(st->loop, &st->expire);
    if (!oldest)
        return;
    ev_tstamp at = oldest + st->o.queue_timeout_ms / 1000.0 - ev_now(st->loop);
    ev_timer_set(&st->expire, at > 0 ? at : 0., 0.);
    ev_timer_start(st->loop, &st->expire);
}

static void pump(store_t *st)
{
    ev_timer_stop(st->loop, &st->kick);
    fire_failed(st);
    ev_tstamp now = ev_now(st->loop);
    expire_queue(st, &st->reads, STORE_EUNAVAILABLE, now);
    expire_queue(st, &st->writes, STORE_EUNAVAILABLE, now);
    expire_queue(st, &st->unresolved, STORE_EUNCERTAIN, now);
    if (st->nready > 0) {
        if (!st->writer_id && !st->registering)
            send_internal(st, SEG_REGISTER);
        if (st->unresolved_batch && st->writer_id && !st->resolving)
            send_internal(st, SEG_RESOLVE);
        dispatch_reads(st);
        dispatch_writes(st);
    }
    for (int i = 0; i < st->nconns; i++)
        if (st->conns[i].dirty)
            pgc_flush(&st->conns[i]);
    arm_expire(st);
}

static void prepare_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
    (void)loop;
    (void)revents;
    store_t *st = container_of(w, store_t, prepare);
    if (ev_is_active(&st->kick) || ev_is_active(&st->expire))
        pump(st);
}

static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    pump(w->data);
}

/* ---- open / free ---- */

static void opts_defaults(store_opts_t *o)
{
    if (o->pool_size <= 0)
        o->pool_size = 2;
    if (o->pool_size > 64)
        o->pool_size = 64;
    if (!o->statement_timeout_ms)
        o->statement_timeout_ms = 5000;
    if (!o->connect_timeout_ms)
        o->connect_timeout_ms = 5000;
    if (!o->reconnect_min_ms)
        o->reconnect_min_ms = 200;
    if (!o->reconnect_max_ms)
        o->reconnect_max_ms = 10000;
    if (o->reconnect_max_ms < o->reconnect_min_ms)
        o->reconnect_max_ms = o->reconnect_min_ms;
    if (!o->queue_max)
        o->queue_max = 65536;
    if (!o->queue_timeout_ms)
        o->queue_timeout_ms = 10000;
    if (!o->batch_max)
        o->batch_max = 1024;
}

store_t *store_open(struct ev_loop *loop, const store_opts_t *opts, char *err,
                    size_t errlen)
{
    if (!opts || !opts->conninfo || !opts->conninfo[0]) {
        snprintf(err, errlen, "storage.postgres: empty connection string");
        return NULL;
    }
    char *perr = NULL;
    PQconninfoOption *parsed = PQconninfoParse(opts->conninfo, &perr);
    if (!parsed) {
        size_t n = perr ? strlen(perr) : 0;
        while (n && perr[n - 1] == '\n')
            n--;
        snprintf(err, errlen, "storage.postgres: %.*s", (int)n, perr ? perr : "invalid");
        PQfreemem(perr);
        return NULL;
    }
    PQconninfoFree(parsed);

    store_t *st = st_xcalloc(1, sizeof *st);
    st->loop = loop;
    st->o = *opts;
    opts_defaults(&st->o);
    st->conninfo = st_xstrdup(opts->conninfo);
    st->o.conninfo = st->conninfo;
    snprintf(st->timeout_str, sizeof st->timeout_str, "%u", st->o.statement_timeout_ms);
    /* Defaults first: the conninfo (expanded last) overrides any of them.
     * Keepalives and tcp_user_timeout turn a silently dead peer into a
     * connection error instead of a request that never ends. */
    static const char *const defaults[][2] = {
        {"fallback_application_name", "herald"},
        {"keepalives", "1"},
        {"keepalives_idle", "10"},
        {"keepalives_interval", "5"},
        {"keepalives_count", "3"},
        {"tcp_user_timeout", "30000"},
        {"client_encoding", "UTF8"},
    };
    int k = 0;
    for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++) {
        st->kw[k] = defaults[i][0];
        st->val[k++] = defaults[i][1];
    }
    st->kw[k] = "dbname";
    st->val[k++] = st->conninfo;
    st->kw[k] = NULL;
    st->val[k] = NULL;

    st->rand_state = (unsigned)time(NULL) ^ (unsigned)getpid();
    st->down_since = ev_now(loop);
    ev_prepare_init(&st->prepare, prepare_cb);
    ev_prepare_start(loop, &st->prepare);
    ev_unref(loop); /* dispatching alone does not keep the loop running */
    ev_init(&st->kick, timer_cb);
    st->kick.data = st;
    ev_init(&st->expire, timer_cb);
    st->expire.data = st;

    st->nconns = st->o.pool_size;
    st->conns = st_xcalloc((size_t)st->nconns, sizeof *st->conns);
    for (int i = 0; i < st->nconns; i++)
        pgc_init(&st->conns[i], st, i);
    for (int i = 0; i < st->nconns; i++)
        pgc_start(&st->conns[i], 0);
    return st;
}

static void finish_list(sop_t *op, store_err_t err)
{
    while (op) {
        sop_t *next = op->next;
        store_finish(op, err);
        op = next;
    }
}

void store_free(store_t *st)
{
    if (!st)
        return;
    st->closing = true;
    for (int i = 0; i < st->nconns; i++) {
        seg_t *s = pgc_close(&st->conns[i]);
        while (s) {
            seg_t *next = s->next;
            store_err_t err = STORE_ESHUTDOWN;
            if (s->kind == SEG_WRITE && !s->failed)
                err = STORE_EUNCERTAIN; /* COMMIT may have been executed */
            finish_list(s->ops, err);
            seg_free(s);
            s = next;
        }
    }
    st->nready = 0;
    sopq_t *qs[3] = {&st->reads, &st->writes, &st->unresolved};
    for (int i = 0; i < 3; i++) {
        sop_t *op;
        store_err_t err = qs[i] == &st->unresolved ? STORE_EUNCERTAIN : STORE_ESHUTDOWN;
        while ((op = q_pop(qs[i])))
            store_finish(op, err);
    }
    /* Callbacks above may have submitted more: those fail too. */
    while (st->failed.head)
        fire_failed(st);
    ev_ref(st->loop);
    ev_prepare_stop(st->loop, &st->prepare);
    ev_timer_stop(st->loop, &st->kick);
    ev_timer_stop(st->loop, &st->expire);
    free(st->conns);
    free(st->conninfo);
    free(st);
}

size_t store_busy(const store_t *st) { return st->busy; }

int store_connections_ready(const store_t *st) { return st->nready; }

void store_on_state(store_t *st, store_state_fn fn, void *ud)
{
    st->state_fn = fn;
    st->state_ud = ud;
}
