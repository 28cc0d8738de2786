/* Requests ("ops"): statements with their own copies of the parameters,
 * results kept until completion, and one memory pool freed with the op
 * (small ops live in the inline buffer: one allocation per request). */
#include "storage/store_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "component/log.h"

struct sop_chunk {
    struct sop_chunk *next;
    max_align_t data[];
};

static void oom(size_t n)
{
    hlog_error(STORE_SUBJ, "out of memory (%zu bytes)", n);
    abort();
}

void *st_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *st_xcalloc(size_t n, size_t m)
{
    void *p = calloc(n ? n : 1, m ? m : 1);
    if (!p)
        oom(n * m);
    return p;
}

char *st_xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(st_xmalloc(n), s, n);
}

sop_t *sop_new(store_t *st, bool write, sop_finish_fn finish, void *ctx)
{
    sop_t *op = st_xmalloc(sizeof *op);
    memset(op, 0, offsetof(sop_t, u));
    op->st = st;
    op->write = write;
    op->finish = finish;
    op->ctx = ctx;
    return op;
}

void *sop_alloc(sop_t *op, size_t n)
{
    size_t a = sizeof(max_align_t);
    size_t need = (n + a - 1) / a * a;
    if (need <= sizeof(op->u.inl) - op->inl_used) {
        void *p = op->u.inl + op->inl_used;
        op->inl_used += need;
        return p;
    }
    struct sop_chunk *c = st_xmalloc(sizeof *c + need);
    c->next = op->chunks;
    op->chunks = c;
    return c->data;
}

char *sop_strdup(sop_t *op, const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(sop_alloc(op, n), s, n);
}

void sop_stmt(sop_t *op, stmt_id_t id)
{
    if (op->nstmts >= SOP_MAX_STMTS)
        abort(); /* a store_*.c bug, caught by any test */
    op->stmts[op->nstmts].id = id;
    op->stmts[op->nstmts].nparams = 0;
    op->stmts[op->nstmts].res = NULL;
    op->nstmts++;
}

static void add_param(sop_t *op, const char *copy)
{
    sop_stmt_t *s = &op->stmts[op->nstmts - 1];
    if (s->nparams >= SOP_MAX_PARAMS)
        abort();
    s->params[s->nparams++] = copy;
}

void sop_param(sop_t *op, const char *s) { add_param(op, s ? sop_strdup(op, s) : NULL); }

void sop_param_i64(sop_t *op, int64_t v)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%" PRId64, v);
    add_param(op, sop_strdup(op, buf));
}

void sop_param_bool(sop_t *op, bool v) { add_param(op, v ? "t" : "f"); }

void sop_param_limit(sop_t *op, size_t limit)
{
    if (limit)
        sop_param_i64(op, limit > INT64_MAX ? INT64_MAX : (int64_t)limit);
    else
        add_param(op, NULL); /* LIMIT NULL = no limit */
}

void sop_param_array(sop_t *op, const char *const *v, size_t n)
{
    /* {"a","b\"c"}: every element quoted, so no value needs other rules. */
    size_t len = 3;
    for (size_t i = 0; i < n; i++) {
        len += 3;
        for (const char *p = v[i] ? v[i] : ""; *p; p++)
            len += (*p == '"' || *p == '\\') ? 2 : 1;
    }
    char *out = sop_alloc(op, len);
    char *w = out;
    *w++ = '{';
    for (size_t i = 0; i < n; i++) {
        if (i)
            *w++ = ',';
        *w++ = '"';
        for (const char *p = v[i] ? v[i] : ""; *p; p++) {
            if (*p == '"' || *p == '\\')
                *w++ = '\\';
            *w++ = *p;
        }
        *w++ = '"';
    }
    *w++ = '}';
    *w = '\0';
    add_param(op, out);
}

void sop_clear_results(sop_t *op)
{
    for (int i = 0; i < op->nstmts; i++) {
        PQclear(op->stmts[i].res);
        op->stmts[i].res = NULL;
    }
}

void sop_free(sop_t *op)
{
    if (!op)
        return;
    sop_clear_results(op);
    struct sop_chunk *c = op->chunks;
    while (c) {
        struct sop_chunk *next = c->next;
        free(c);
        c = next;
    }
    free(op);
}

PGresult *sop_res(const sop_t *op, int i)
{
    return i >= 0 && i < op->nstmts ? op->stmts[i].res : NULL;
}

const char **sop_parse_array(sop_t *op, const char *text, size_t *n)
{
    /* PostgreSQL's array output: {a,"b c","d\"e",NULL}. Elements of our
     * one-dimensional text arrays only; a NULL element reads as "". */
    *n = 0;
    if (!text || text[0] != '{')
        return NULL;
    size_t len = strlen(text);
    size_t cap = 1;
    for (const char *p = text; *p; p++)
        cap += *p == ',';
    const char **v = sop_alloc(op, cap * sizeof *v);
    char *buf = sop_alloc(op, len + 1);
    const char *p = text + 1;
    char *w = buf;
    while (*p && *p != '}') {
        const char *start = w;
        if (*p == '"') {
            p++;
            while (*p && *p != '"') {
                if (*p == '\\' && p[1])
                    p++;
                *w++ = *p++;
            }
            if (*p == '"')
                p++;
            *w++ = '\0';
        } else {
            const char *q = p;
            while (*p && *p != ',' && *p != '}')
                *w++ = *p++;
            *w++ = '\0';
            if (p - q == 4 && memcmp(q, "NULL", 4) == 0)
                start = "";
        }
        if (*n < cap)
            v[(*n)++] = start;
        if (*p == ',')
            p++;
    }
    return v;
}

int64_t pg_i64(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col))
        return 0;
    return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

bool pg_bool(const PGresult *r, int row, int col)
{
    return !PQgetisnull(r, row, col) && PQgetvalue(r, row, col)[0] == 't';
}

const char *pg_str(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

const char *st_enum_name(const char *const *names, size_t n, unsigned v)
{
    return v < n ? names[v] : names[0];
}

unsigned st_enum_parse(const char *const *names, size_t n, const char *s)
{
    for (size_t i = 1; i < n; i++)
        if (strcmp(s, names[i]) == 0)
            return (unsigned)i;
    return 0;
}

static void done_finish(sop_t *op, store_err_t err)
{
    int64_t value = 0;
    const PGresult *r = sop_res(op, 0);
    if (!err && r) {
        switch ((done_mode_t)op->mode) {
        case DONE_ZERO:
            break;
        case DONE_COUNT:
        case DONE_COUNT_FOUND:
            value = strtoll(PQcmdTuples((PGresult *)r), NULL, 10);
            if (value == 0 && op->mode == DONE_COUNT_FOUND)
                err = STORE_ENOTFOUND;
            break;
        case DONE_ROW_FOUND:
            if (PQntuples(r) > 0)
                value = pg_i64(r, 0, 0);
            else
                err = STORE_ENOTFOUND;
            break;
        }
    }
    op->cb.done(op->ctx, err, err ? 0 : value);
}

sop_t *sop_new_done(store_t *st, done_mode_t mode, store_done_cb cb, void *ctx)
{
    sop_t *op = sop_new(st, true, done_finish, ctx);
    op->cb.done = cb;
    op->mode = (int)mode;
    return op;
}
