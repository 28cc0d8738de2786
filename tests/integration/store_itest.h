/* Shared helpers of the storage integration programs (test_store*.c).
 *
 * They need a real PostgreSQL: PG_CONNINFO (from deploy/dev/pg-ctl's
 * pg.env) and, for the tests that kill and restart it, HERALD_TEST_DIR
 * (the directory given to pg-ctl). Each program works in its own
 * PostgreSQL schema (search_path), created empty and dropped at the end,
 * so the programs do not see each other's rows. */
#ifndef HERALD_STORE_ITEST_H
#define HERALD_STORE_ITEST_H

#include <ev.h>
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "storage/store.h"
#include "tests/unit/unit.h"

static struct ev_loop *T_LOOP;
static char T_CONNINFO[2048]; /* PG_CONNINFO + our search_path */
static char T_SCHEMA[64];
static PGconn *T_DB;          /* blocking connection of the test itself */
/* Set around every store call: a callback that sees it set fired before
 * its starting call returned. */
static bool t_in_call;
static int t_early_callbacks;

#define T_CALL(expr)                                                           \
    do {                                                                       \
        t_in_call = true;                                                      \
        expr;                                                                  \
        t_in_call = false;                                                     \
    } while (0)

static inline void t_note_callback(void)
{
    if (t_in_call)
        t_early_callbacks++;
}

static inline PGconn *t_connect(void)
{
    PGconn *c = PQconnectdb(T_CONNINFO);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "test: cannot connect: %s", PQerrorMessage(c));
        exit(1);
    }
    PQclear(PQexec(c, "SET client_min_messages = warning"));
    return c;
}

/* Runs SQL on the test's own connection; returns 0 or -1 (message printed). */
static inline int t_exec(const char *sql)
{
    if (!T_DB)
        T_DB = t_connect();
    PGresult *r = PQexec(T_DB, sql);
    ExecStatusType t = PQresultStatus(r);
    int rc = (t == PGRES_COMMAND_OK || t == PGRES_TUPLES_OK) ? 0 : -1;
    if (rc)
        fprintf(stderr, "test: %s: %s", sql, PQresultErrorMessage(r));
    PQclear(r);
    return rc;
}

/* First column of the first row as a number (-1 on error or no row);
 * `%s`-style arguments are bound as parameters $1, $2... */
static inline long long t_scalar(const char *sql, int nparams, ...)
{
    if (!T_DB)
        T_DB = t_connect();
    const char *params[8];
    va_list ap;
    va_start(ap, nparams);
    for (int i = 0; i < nparams && i < 8; i++)
        params[i] = va_arg(ap, const char *);
    va_end(ap);
    PGresult *r = PQexecParams(T_DB, sql, nparams, NULL, params, NULL, NULL, 0);
    long long v = -1;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
        v = atoll(PQgetvalue(r, 0, 0));
    else if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fprintf(stderr, "test: %s: %s", sql, PQresultErrorMessage(r));
    PQclear(r);
    return v;
}

static inline void t_tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)w;
    (void)revents;
}

/* Runs the loop until *flag >= want or `secs` pass. Returns true if reached. */
static inline bool t_run_until(const int *flag, int want, double secs)
{
    ev_timer tick;
    ev_timer_init(&tick, t_tick_cb, 0.02, 0.02);
    ev_timer_start(T_LOOP, &tick);
    ev_now_update(T_LOOP);
    ev_tstamp end = ev_now(T_LOOP) + secs;
    while (*flag < want && ev_now(T_LOOP) < end)
        ev_run(T_LOOP, EVRUN_ONCE);
    ev_timer_stop(T_LOOP, &tick);
    return *flag >= want;
}

/* Runs the loop for `secs`. */
static inline void t_run_for(double secs)
{
    int never = 0;
    t_run_until(&never, 1, secs);
}

/* Reads PG_CONNINFO and creates this program's schema. */
static inline void t_setup(const char *name)
{
    const char *ci = getenv("PG_CONNINFO");
    if (!ci || !ci[0]) {
        fprintf(stderr, "PG_CONNINFO is not set (see deploy/dev/pg-ctl)\n");
        printf("0 passed, 1 failed\n");
        exit(1);
    }
    snprintf(T_SCHEMA, sizeof T_SCHEMA, "t_%s_%d", name, (int)getpid());
    snprintf(T_CONNINFO, sizeof T_CONNINFO, "%s options='-csearch_path=%s'", ci, T_SCHEMA);
    PGconn *c = PQconnectdb(ci);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "test: cannot connect to %s: %s", ci, PQerrorMessage(c));
        printf("0 passed, 1 failed\n");
        exit(1);
    }
    char sql[256];
    snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s", T_SCHEMA,
             T_SCHEMA);
    PQclear(PQexec(c, "SET client_min_messages = warning"));
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        fprintf(stderr, "test: %s: %s", sql, PQresultErrorMessage(r));
        exit(1);
    }
    PQclear(r);
    PQfinish(c);
    T_LOOP = ev_default_loop(0);
}

static inline void t_teardown(void)
{
    if (T_DB) {
        PQfinish(T_DB);
        T_DB = NULL;
    }
    const char *ci = getenv("PG_CONNINFO");
    PGconn *c = PQconnectdb(ci);
    if (PQstatus(c) == CONNECTION_OK) {
        char sql[128];
        snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE", T_SCHEMA);
        PQclear(PQexec(c, "SET client_min_messages = warning"));
        PQclear(PQexec(c, sql));
    }
    PQfinish(c);
    ev_loop_destroy(T_LOOP);
}

static inline int t_migrate(void)
{
    char err[512];
    int v = -1;
    if (store_migrate_sync(T_CONNINFO, NULL, 5000, &v, err, sizeof err) < 0) {
        fprintf(stderr, "test: migrate: %s\n", err);
        return -1;
    }
    return v;
}

static inline store_t *t_open(const store_opts_t *extra)
{
    store_opts_t o = {0};
    if (extra)
        o = *extra;
    o.conninfo = T_CONNINFO;
    char err[512];
    store_t *st = store_open(T_LOOP, &o, err, sizeof err);
    if (!st)
        fprintf(stderr, "test: store_open: %s\n", err);
    return st;
}

/* ---- result capture ---- */

typedef struct {
    int calls;
    store_err_t err;
    int64_t value;
    size_t n;
    int64_t id;
    char text[8192]; /* rows rendered as text, compared with CHECK_STR */
} t_res_t;

static inline void t_reset(t_res_t *r) { memset(r, 0, sizeof *r); }

static inline void t_append(t_res_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void t_append(t_res_t *r, const char *fmt, ...)
{
    size_t len = strlen(r->text);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->text + len, sizeof r->text - len, fmt, ap);
    va_end(ap);
}

static inline void t_done_cb(void *ctx, store_err_t err, int64_t value)
{
    t_res_t *r = ctx;
    t_note_callback();
    r->calls++;
    r->err = err;
    r->value = value;
}

/* What every callback below records first; `text` starts empty. */
static inline t_res_t *t_capture(void *ctx, store_err_t err)
{
    t_res_t *r = ctx;
    t_note_callback();
    r->calls++;
    r->err = err;
    r->text[0] = '\0';
    return r;
}

/* The same for a callback with `n` rows. */
static inline t_res_t *t_capture_rows(void *ctx, store_err_t err, size_t n)
{
    t_res_t *r = t_capture(ctx, err);
    r->n = n;
    return r;
}

static inline void t_node_cb(void *ctx, store_err_t err, const store_node_t *n)
{
    t_res_t *r = t_capture(ctx, err);
    if (!n)
        return;
    r->id = n->id;
    r->value = n->version;
    const store_node_config_t *c = &n->config;
    t_append(r, "%s|%s|%s|%s|%s|%s|%u|%u|%d%d%d%d%d|%s|%s|%s|%s|", n->owner, n->name, n->creator,
             c->title, c->description, c->type, c->max_items, c->max_payload_size,
             c->persist_items, c->deliver_payloads, c->deliver_notifications,
             c->notify_retract, c->notify_delete, c->send_last_published_item,
             c->access_model, c->publish_model, c->notification_type);
    for (size_t i = 0; i < c->nextra; i++)
        t_append(r, "%s%s", i ? "," : "", c->extra[i]);
}

static inline void t_nodes_cb(void *ctx, store_err_t err, const store_node_t *v, size_t n)
{
    t_res_t *r = t_capture_rows(ctx, err, n);
    for (size_t i = 0; i < n; i++)
        t_append(r, "%s%s/%s", i ? "," : "", v[i].owner, v[i].name);
    if (n)
        r->id = v[n - 1].id;
}

static inline void t_affs_cb(void *ctx, store_err_t err, const store_aff_entry_t *v, size_t n)
{
    t_res_t *r = t_capture_rows(ctx, err, n);
    for (size_t i = 0; i < n; i++)
        t_append(r, "%s%s:%s=%s", i ? "," : "", v[i].node_name, v[i].jid,
                 store_aff_name(v[i].aff));
}

static inline void t_subs_cb(void *ctx, store_err_t err, const store_sub_t *v, size_t n)
{
    t_res_t *r = t_capture_rows(ctx, err, n);
    for (size_t i = 0; i < n; i++) {
        t_append(r, "%s%s:%s/%s=%s{", i ? "," : "", v[i].node_name, v[i].jid, v[i].subid,
                 store_sub_state_name(v[i].state));
        for (size_t k = 0; k + 1 < v[i].noptions; k += 2)
            t_append(r, "%s%s:%s", k ? ";" : "", v[i].options[k], v[i].options[k + 1]);
        t_append(r, "}");
    }
}

static inline void t_items_cb(void *ctx, store_err_t err, const store_item_t *v, size_t n)
{
    t_res_t *r = t_capture_rows(ctx, err, n);
    for (size_t i = 0; i < n; i++)
        t_append(r, "%s%s:%s", i ? "," : "", v[i].item_id, v[i].payload ? v[i].payload : "(null)");
    if (n)
        r->value = v[n - 1].seq;
}

static inline void t_presences_cb(void *ctx, store_err_t err, const store_presence_t *v, size_t n)
{
    t_res_t *r = t_capture_rows(ctx, err, n);
    for (size_t i = 0; i < n; i++)
        t_append(r, "%s%s>%s", i ? "," : "", v[i].local_jid, v[i].contact);
}

static inline void t_caps_cb(void *ctx, store_err_t err, const store_caps_t *c)
{
    t_res_t *r = t_capture(ctx, err);
    if (!c)
        return;
    t_append(r, "%s|", c->ver);
    for (size_t i = 0; i < c->nfeatures; i++)
        t_append(r, "%s%s", i ? "," : "", c->features[i]);
    t_append(r, "|");
    for (size_t i = 0; i < c->nidentities; i++)
        t_append(r, "%s%s", i ? "," : "", c->identities[i]);
}

/* A default configuration for tests. */
static inline store_node_config_t t_config(void)
{
    store_node_config_t c = {0};
    c.title = "";
    c.description = "";
    c.type = "";
    c.max_items = STORE_MAX_ITEMS_MAX;
    c.persist_items = c.deliver_payloads = c.deliver_notifications = true;
    c.notify_retract = c.notify_delete = true;
    c.send_last_published_item = "on_sub";
    c.access_model = "open";
    c.publish_model = "publishers";
    c.notification_type = "headline";
    return c;
}

#endif
