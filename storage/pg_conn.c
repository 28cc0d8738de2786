/* One PostgreSQL connection on the loop.
 *
 * States: DOWN (reconnect timer) -> CONNECTING (PQconnectPoll driven by
 * the socket) -> SETUP (statement_timeout and every PQsendPrepare in one
 * pipeline segment) -> READY. Any failure closes the connection, hands its
 * in-flight segments to the pool and schedules a reconnect with
 * exponential backoff and jitter (so a pool does not reconnect in step).
 *
 * Results are read in order: each query yields its result(s) then NULL,
 * a Sync yields PGRES_PIPELINE_SYNC (with no NULL after it); after an
 * error the rest of the segment yields PGRES_PIPELINE_ABORTED. An error
 * that is the connection's (libpq's own, FATAL/PANIC, SQLSTATE class 08)
 * is treated as a lost connection, never as a statement's failure: a
 * statement failure proves the transaction rolled back, a lost connection
 * proves nothing. */
#include "storage/store_int.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "component/log.h"

#define container_of(p, type, member) ((type *)((char *)(p) - offsetof(type, member)))

static void connect_now(pgc_t *c);
static void lost(pgc_t *c, const char *why, bool attempt);

seg_t *seg_new(seg_kind_t kind, int nslots)
{
    seg_t *s = st_xcalloc(1, sizeof *s);
    s->kind = kind;
    s->culprit = -1;
    s->nslots = nslots;
    s->slots = st_xcalloc((size_t)(nslots ? nslots : 1), sizeof *s->slots);
    return s;
}

void seg_free(seg_t *s)
{
    if (!s)
        return;
    free(s->slots);
    free(s);
}

const char *st_one_line(const char *msg, char *buf, size_t len)
{
    size_t n = 0;
    for (const char *p = msg ? msg : ""; *p && n + 1 < len; p++) {
        char ch = (*p == '\n' || *p == '\r' || *p == '\t') ? ' ' : *p;
        if (ch == ' ' && (n == 0 || buf[n - 1] == ' '))
            continue;
        buf[n++] = ch;
    }
    while (n > 0 && buf[n - 1] == ' ')
        n--;
    buf[n] = '\0';
    return buf;
}

static void watch(pgc_t *c, int events)
{
    int fd = PQsocket(c->conn);
    if (fd < 0)
        return;
    if (fd == c->fd && events == c->io_events && ev_is_active(&c->io))
        return;
    ev_io_stop(c->st->loop, &c->io);
    ev_io_set(&c->io, fd, events);
    ev_io_start(c->st->loop, &c->io);
    c->fd = fd;
    c->io_events = events;
}

static void notice_cb(void *arg, const PGresult *r)
{
    pgc_t *c = arg;
    char buf[512];
    hlog_debug(STORE_SUBJ, "connection %d: %s", c->index,
               st_one_line(PQresultErrorMessage(r), buf, sizeof buf));
}

seg_t *pgc_close(pgc_t *c)
{
    ev_io_stop(c->st->loop, &c->io);
    ev_timer_stop(c->st->loop, &c->timer);
    if (c->conn)
        PQfinish(c->conn);
    c->conn = NULL;
    c->fd = -1;
    c->io_events = 0;
    c->state = PGC_DOWN;
    c->write_blocked = false;
    c->need_rollback = false;
    c->dirty = false;
    seg_t *segs = c->head;
    c->head = c->tail = NULL;
    c->nsegs = 0;
    return segs;
}

static unsigned schedule_reconnect(pgc_t *c)
{
    const store_opts_t *o = &c->st->o;
    unsigned b = c->backoff_ms ? c->backoff_ms * 2 : o->reconnect_min_ms;
    if (b > o->reconnect_max_ms || b < c->backoff_ms)
        b = o->reconnect_max_ms;
    c->backoff_ms = b;
    unsigned half = b / 2;
    unsigned delay = half + (unsigned)rand_r(&c->st->rand_state) % (half + 1);
    delay = delay ? delay : 1;
    pgc_start(c, delay);
    return delay;
}

/* `attempt`: failed while connecting or preparing (was never ready).
 * While the database stays away only the first failure is a warning. */
static void lost(pgc_t *c, const char *why, bool attempt)
{
    char buf[512];
    st_one_line(why, buf, sizeof buf); /* `why` may live in the PGconn */
    bool was_ready = c->state == PGC_READY;
    seg_t *segs = pgc_close(c);
    unsigned delay = schedule_reconnect(c);
    hlog_level_t level = c->failures++ ? HLOG_DEBUG : HLOG_WARN;
    hlog(level, STORE_SUBJ,
         "connection %d %s: %s (retry in %u ms)", c->index,
         attempt ? "cannot connect" : "lost", buf, delay);
    pool_conn_lost(c, segs, was_ready);
}

static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    pgc_t *c = container_of(w, pgc_t, timer);
    if (c->state == PGC_DOWN) {
        connect_now(c);
    } else if (c->state == PGC_CONNECTING || c->state == PGC_SETUP) {
        char why[64];
        snprintf(why, sizeof why, "timed out after %u ms", c->st->o.connect_timeout_ms);
        lost(c, why, true);
    }
}

static void start_setup(pgc_t *c)
{
    if (PQsetnonblocking(c->conn, 1) != 0 || !PQenterPipelineMode(c->conn)) {
        lost(c, PQerrorMessage(c->conn), true);
        return;
    }
    PQsetNoticeReceiver(c->conn, notice_cb, c);
    seg_t *s = seg_new(SEG_SETUP, STMT__COUNT);
    for (int i = 0; i < STMT__COUNT; i++) {
        s->slots[i].kind = SL_SETUP;
        s->slots[i].stmt = i;
    }
    c->state = PGC_SETUP;
    if (pgc_send(c, s) == 0)
        pgc_flush(c);
}

static void connect_poll(pgc_t *c)
{
    switch (PQconnectPoll(c->conn)) {
    case PGRES_POLLING_READING:
        watch(c, EV_READ);
        break;
    case PGRES_POLLING_WRITING:
        watch(c, EV_WRITE);
        break;
    case PGRES_POLLING_OK:
        start_setup(c);
        break;
    default:
        lost(c, PQerrorMessage(c->conn), true);
        break;
    }
}

static void connect_now(pgc_t *c)
{
    store_t *st = c->st;
    ev_timer_stop(st->loop, &c->timer);
    /* Host names are resolved inside this call (getaddrinfo): the
     * documentation of storage.postgres recommends an address. */
    c->conn = PQconnectStartParams(st->kw, st->val, 1);
    if (!c->conn) {
        hlog_error(STORE_SUBJ, "out of memory starting a connection");
        abort();
    }
    c->state = PGC_CONNECTING;
    if (PQstatus(c->conn) == CONNECTION_BAD) {
        lost(c, PQerrorMessage(c->conn), true);
        return;
    }
    ev_timer_set(&c->timer, st->o.connect_timeout_ms / 1000.0, 0.);
    ev_timer_start(st->loop, &c->timer);
    /* PQconnectStart's contract: poll as if PGRES_POLLING_WRITING first. */
    watch(c, EV_WRITE);
}

void pgc_start(pgc_t *c, unsigned delay_ms)
{
    c->state = PGC_DOWN;
    if (delay_ms == 0) {
        connect_now(c);
        return;
    }
    ev_timer_stop(c->st->loop, &c->timer);
    ev_timer_set(&c->timer, delay_ms / 1000.0, 0.);
    ev_timer_start(c->st->loop, &c->timer);
}

static int send_slot(pgc_t *c, seg_t *s, const slot_t *sl)
{
    PGconn *pc = c->conn;
    const char *args[2] = {s->args[0], s->args[1]};
    switch (sl->kind) {
    case SL_OP: {
        const sop_stmt_t *q = &sl->op->stmts[sl->stmt];
        return PQsendQueryPrepared(pc, stmt_defs[q->id].name, q->nparams, q->params,
                                   NULL, NULL, 0);
    }
    case SL_BEGIN:
        return PQsendQueryPrepared(pc, stmt_defs[STMT_BEGIN].name, 0, NULL, NULL, NULL, 0);
    case SL_COMMIT:
        return PQsendQueryPrepared(pc, stmt_defs[STMT_COMMIT].name, 0, NULL, NULL, NULL, 0);
    case SL_ROLLBACK:
        return PQsendQueryPrepared(pc, stmt_defs[STMT_ROLLBACK].name, 0, NULL, NULL, NULL, 0);
    case SL_MARK:
        return PQsendQueryPrepared(pc, stmt_defs[STMT_WRITER_MARK].name, 2, args, NULL,
                                   NULL, 0);
    case SL_REGISTER:
        return PQsendQueryPrepared(pc, stmt_defs[STMT_WRITER_REGISTER].name, 0, NULL,
                                   NULL, NULL, 0);
    case SL_RESOLVE:
        return PQsendQueryPrepared(pc, stmt_defs[STMT_WRITER_RESOLVE].name, 1, args,
                                   NULL, NULL, 0);
    case SL_SETUP:
        if (sl->stmt == STMT_SET_TIMEOUT) {
            const char *v[1] = {c->st->timeout_str};
            return PQsendQueryParams(pc, stmt_defs[STMT_SET_TIMEOUT].sql, 1, NULL, v, NULL,
                                     NULL, 0);
        }
        return PQsendPrepare(pc, stmt_defs[sl->stmt].name, stmt_defs[sl->stmt].sql, 0,
                             NULL);
    }
    return 0;
}

int pgc_send(pgc_t *c, seg_t *s)
{
    if (c->need_rollback && s->kind != SEG_SETUP) {
        /* The previous transaction failed: the session stays aborted until
         * ROLLBACK, and would abort this segment too. */
        slot_t *slots = st_xcalloc((size_t)s->nslots + 1, sizeof *slots);
        slots[0].kind = SL_ROLLBACK;
        memcpy(slots + 1, s->slots, (size_t)s->nslots * sizeof *slots);
        free(s->slots);
        s->slots = slots;
        s->nslots++;
        if (s->culprit >= 0)
            s->culprit++;
        c->need_rollback = false;
    }
    s->next = NULL;
    if (c->tail)
        c->tail->next = s;
    else
        c->head = s;
    c->tail = s;
    c->nsegs++;
    if (s->kind == SEG_WRITE)
        c->write_blocked = true;
    int ok = 1;
    for (int i = 0; ok && i < s->nslots; i++)
        ok = send_slot(c, s, &s->slots[i]);
    if (ok)
        ok = PQpipelineSync(c->conn);
    if (!ok) {
        lost(c, PQerrorMessage(c->conn), c->state != PGC_READY);
        return -1;
    }
    c->dirty = true;
    return 0;
}

void pgc_flush(pgc_t *c)
{
    if (!c->conn || c->state == PGC_CONNECTING)
        return;
    c->dirty = false;
    int r = PQflush(c->conn);
    if (r < 0) {
        lost(c, PQerrorMessage(c->conn), c->state != PGC_READY);
        return;
    }
    /* Reading stays armed while writing: libpq wants input consumed when
     * the server is blocked sending us results. */
    watch(c, EV_READ | (r ? EV_WRITE : 0));
}

/* Is this error result the connection's rather than the statement's? */
static bool connection_error(pgc_t *c, const PGresult *r)
{
    if (PQstatus(c->conn) == CONNECTION_BAD)
        return true;
    const char *sev = PQresultErrorField(r, PG_DIAG_SEVERITY_NONLOCALIZED);
    if (sev && (strcmp(sev, "FATAL") == 0 || strcmp(sev, "PANIC") == 0))
        return true;
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    return !state || strncmp(state, "08", 2) == 0;
}

static void setup_result(pgc_t *c, seg_t *s, PGresult *r)
{
    ExecStatusType t = PQresultStatus(r);
    if (t != PGRES_COMMAND_OK && t != PGRES_TUPLES_OK && !s->failed) {
        char buf[512];
        const slot_t *sl = &s->slots[s->pos];
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        hlog_error(STORE_SUBJ, "connection %d: preparing %s failed: %s%s", c->index,
                   stmt_defs[sl->stmt].name ? stmt_defs[sl->stmt].name : "set_config",
                   st_one_line(PQresultErrorMessage(r), buf, sizeof buf),
                   state && strcmp(state, "42P01") == 0
                       ? " (is the schema migrated? herald --migrate)"
                       : "");
        s->failed = true;
    }
    PQclear(r);
}

static void setup_synced(pgc_t *c, seg_t *s)
{
    bool failed = s->failed;
    seg_free(s);
    if (failed) {
        lost(c, "could not prepare the statements", true);
        return;
    }
    ev_timer_stop(c->st->loop, &c->timer);
    c->state = PGC_READY;
    c->backoff_ms = 0;
    if (c->failures)
        hlog_info(STORE_SUBJ, "connection %d ready after %u failed attempt(s)", c->index,
                  c->failures);
    c->failures = 0;
    pool_conn_ready(c);
}

/* Reads every complete result. Returns -1 if the connection was lost. */
static int drain(pgc_t *c)
{
    while (c->head && !PQisBusy(c->conn)) {
        seg_t *s = c->head;
        PGresult *r = PQgetResult(c->conn);
        if (!r) {
            if (!s->await_null)
                break;
            s->await_null = false;
            s->pos++;
            continue;
        }
        ExecStatusType t = PQresultStatus(r);
        if (t == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            if (s->await_null || s->pos != s->nslots) {
                lost(c, "pipeline results out of step", false);
                return -1;
            }
            c->head = s->next;
            if (!c->head)
                c->tail = NULL;
            c->nsegs--;
            if (s->kind == SEG_WRITE)
                c->write_blocked = false;
            if (s->kind == SEG_SETUP)
                setup_synced(c, s);
            else
                pool_seg_synced(c, s);
            if (!c->conn)
                return -1;
            continue;
        }
        if (s->await_null || s->pos >= s->nslots) {
            PQclear(r);
            lost(c, "unexpected result in pipeline", false);
            return -1;
        }
        if (t == PGRES_FATAL_ERROR && connection_error(c, r)) {
            char buf[512];
            st_one_line(PQresultErrorMessage(r), buf, sizeof buf);
            PQclear(r);
            lost(c, buf, c->state != PGC_READY);
            return -1;
        }
        s->await_null = true;
        if (s->kind == SEG_SETUP)
            setup_result(c, s, r);
        else
            pool_slot_result(c, s, &s->slots[s->pos], r);
        if (!c->conn)
            return -1;
    }
    return 0;
}

static void io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    pgc_t *c = container_of(w, pgc_t, io);
    if (c->state == PGC_CONNECTING) {
        connect_poll(c);
        return;
    }
    if (revents & EV_READ) {
        if (!PQconsumeInput(c->conn)) {
            lost(c, PQerrorMessage(c->conn), c->state != PGC_READY);
            return;
        }
        if (drain(c) < 0)
            return;
        if (PQstatus(c->conn) == CONNECTION_BAD) {
            lost(c, PQerrorMessage(c->conn), c->state != PGC_READY);
            return;
        }
    }
    if ((revents & EV_WRITE) || (c->io_events & EV_WRITE) || c->dirty)
        pgc_flush(c);
}

void pgc_init(pgc_t *c, store_t *st, int index)
{
    memset(c, 0, sizeof *c);
    c->st = st;
    c->index = index;
    c->fd = -1;
    ev_init(&c->io, io_cb);
    ev_init(&c->timer, timer_cb);
}
