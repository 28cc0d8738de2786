/* Start-up schema migrations. This is the one place that uses a blocking
 * libpq connection: it runs once, before the event loop, and herald does
 * not serve anything until the schema is current.
 *
 * Rules: files NNN_name.sql, versions 1, 2, 3... without gaps, each
 * applied once in its own transaction together with its schema_version
 * row (so a failing file leaves no trace), never edited once released,
 * and free of transaction control statements. A session advisory lock
 * makes concurrent herald processes migrate one after the other. */
#include "storage/store_int.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "component/log.h"

/* pg_advisory_lock(MIGRATE_LOCK_A, MIGRATE_LOCK_B): "herald" / "migrate". */
#define MIGRATE_LOCK "SELECT pg_advisory_lock(1751478898, 1835627636)"

typedef struct {
    store_schema_t *v;
    size_t n;
    bool owned; /* read from a directory: free names and SQL */
} schema_list_t;

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    st_one_line(buf, err, errlen); /* one line, whatever libpq put in it */
}

int store_schema_version(void)
{
    return store_schemas_count ? store_schemas[store_schemas_count - 1].version : 0;
}

static void list_free(schema_list_t *l)
{
    if (l->owned) {
        for (size_t i = 0; i < l->n; i++) {
            free((char *)l->v[i].name);
            free((char *)l->v[i].sql);
        }
        free(l->v);
    }
    l->v = NULL;
    l->n = 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const store_schema_t *)a)->name, ((const store_schema_t *)b)->name);
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, len = 0;
    char *buf = st_xmalloc(cap);
    size_t got;
    while ((got = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += got;
        if (cap - len - 1 == 0)
            buf = realloc(buf, cap *= 2);
        if (!buf)
            abort();
    }
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return NULL;
    }
    buf[len] = '\0';
    return buf;
}

static int list_dir(const char *dir, schema_list_t *l, char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    if (!d) {
        seterr(err, errlen, "schemas %s: %s", dir, strerror(errno));
        return -1;
    }
    size_t cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *nm = e->d_name;
        size_t len = strlen(nm);
        size_t digits = strspn(nm, "0123456789");
        if (digits == 0 || nm[digits] != '_' || len < 5 || strcmp(nm + len - 4, ".sql") != 0)
            continue;
        if (l->n == cap) {
            cap = cap ? cap * 2 : 8;
            store_schema_t *v = realloc(l->v, cap * sizeof *v);
            if (!v)
                abort();
            l->v = v;
        }
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, nm);
        char *sql = read_file(path);
        if (!sql) {
            seterr(err, errlen, "schemas %s: %s", path, strerror(errno));
            closedir(d);
            return -1;
        }
        l->v[l->n].version = atoi(nm);
        l->v[l->n].name = st_xstrdup(nm);
        l->v[l->n].sql = sql;
        l->n++;
    }
    closedir(d);
    if (l->n)
        qsort(l->v, l->n, sizeof *l->v, by_name);
    return 0;
}

static int list_check(const schema_list_t *l, char *err, size_t errlen)
{
    for (size_t i = 0; i < l->n; i++) {
        if (l->v[i].version != (int)i + 1) {
            seterr(err, errlen, "schemas: %s: expected version %zu (versions must be 1, 2, "
                   "3... without gaps or duplicates)", l->v[i].name, i + 1);
            return -1;
        }
    }
    return 0;
}

static PGconn *connect_blocking(const char *conninfo, unsigned connect_timeout_ms,
                                char *err, size_t errlen)
{
    char timeout[16];
    /* libpq counts whole seconds and treats 1 as 2. */
    unsigned secs = (connect_timeout_ms + 999) / 1000;
    snprintf(timeout, sizeof timeout, "%u", secs < 2 ? 2 : secs);
    const char *kw[] = {"connect_timeout", "fallback_application_name", "dbname", NULL};
    const char *val[] = {timeout, "herald", conninfo, NULL};
    PGconn *c = PQconnectdbParams(kw, val, 1);
    if (!c) {
        seterr(err, errlen, "cannot connect to PostgreSQL: out of memory");
        return NULL;
    }
    if (PQstatus(c) != CONNECTION_OK) {
        seterr(err, errlen, "cannot connect to PostgreSQL: %s", PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    return c;
}

/* Runs sql (no parameters); on failure fills err with `what` and the
 * server's message. */
static int exec_ok(PGconn *c, const char *sql, const char *what, char *err, size_t errlen)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType t = PQresultStatus(r);
    if (t != PGRES_COMMAND_OK && t != PGRES_TUPLES_OK) {
        seterr(err, errlen, "%s: %s", what, PQresultErrorMessage(r));
        PQclear(r);
        return -1;
    }
    PQclear(r);
    return 0;
}

static int current_version(PGconn *c, int *out, char *err, size_t errlen)
{
    PGresult *r = PQexec(c, "SELECT coalesce(max(version), 0) FROM schema_version");
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        seterr(err, errlen, "reading schema_version: %s", PQresultErrorMessage(r));
        PQclear(r);
        return -1;
    }
    *out = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    return 0;
}

static int apply(PGconn *c, const store_schema_t *m, char *err, size_t errlen)
{
    char what[300];
    snprintf(what, sizeof what, "migration %s failed", m->name);
    if (exec_ok(c, "BEGIN", what, err, errlen) < 0)
        return -1;
    if (exec_ok(c, m->sql, what, err, errlen) < 0)
        goto rollback;
    char version[16];
    snprintf(version, sizeof version, "%d", m->version);
    const char *params[2] = {version, m->name};
    PGresult *r = PQexecParams(c, "INSERT INTO schema_version (version, name) VALUES ($1, $2)",
                               2, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        seterr(err, errlen, "%s: recording the version: %s", what, PQresultErrorMessage(r));
        PQclear(r);
        goto rollback;
    }
    PQclear(r);
    if (exec_ok(c, "COMMIT", what, err, errlen) < 0)
        goto rollback;
    return 0;
rollback:
    PQclear(PQexec(c, "ROLLBACK"));
    return -1;
}

int store_migrate_sync(const char *conninfo, const char *schemas_dir,
                       unsigned connect_timeout_ms, int *version_out, char *err,
                       size_t errlen)
{
    schema_list_t l = {(store_schema_t *)store_schemas, store_schemas_count, false};
    if (schemas_dir)
        l = (schema_list_t){NULL, 0, true};
    if (schemas_dir && list_dir(schemas_dir, &l, err, errlen) < 0) {
        list_free(&l);
        return -1;
    }
    if (list_check(&l, err, errlen) < 0) {
        list_free(&l);
        return -1;
    }
    int newest = l.n ? l.v[l.n - 1].version : 0;
    if (!conninfo || !conninfo[0]) {
        seterr(err, errlen, "storage.postgres: empty connection string");
        list_free(&l);
        return -1;
    }
    PGconn *c = connect_blocking(conninfo, connect_timeout_ms ? connect_timeout_ms : 5000,
                                 err, errlen);
    if (!c) {
        list_free(&l);
        return -1;
    }
    int rc = -1, version = 0;
    if (exec_ok(c, "SET client_min_messages = warning", "session setup", err, errlen) < 0 ||
        exec_ok(c, MIGRATE_LOCK, "taking the migration lock", err, errlen) < 0 ||
        exec_ok(c,
                "CREATE TABLE IF NOT EXISTS schema_version ("
                " version integer PRIMARY KEY,"
                " name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())",
                "creating schema_version", err, errlen) < 0 ||
        current_version(c, &version, err, errlen) < 0)
        goto out;
    if (version > newest) {
        seterr(err, errlen,
               "database schema version %d is newer than this herald knows (%d): "
               "refusing to run against it; upgrade herald", version, newest);
        goto out;
    }
    for (size_t i = 0; i < l.n; i++) {
        if (l.v[i].version <= version)
            continue;
        if (apply(c, &l.v[i], err, errlen) < 0)
            goto out;
        version = l.v[i].version;
        hlog_info(STORE_SUBJ, "applied migration %s", l.v[i].name);
    }
    rc = 0;
out:
    if (version_out)
        *version_out = version;
    PQfinish(c); /* also releases the advisory lock */
    list_free(&l);
    return rc;
}
