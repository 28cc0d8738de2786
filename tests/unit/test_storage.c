/* storage/ pieces that need no database: PostgreSQL text[] literals both
 * ways (every client-supplied string that travels as an array goes
 * through them), op memory, names, one-line messages, and the contract
 * that a rejected request is answered later, never inside the call. */
#include <ev.h>
#include <stdlib.h>

#include "storage/store_int.h"
#include "component/log.h"
#include "tests/unit/unit.h"

static void test_array_literal(void)
{
    sop_t *op = sop_new(NULL, false, NULL, NULL);
    sop_stmt(op, STMT_CAPS_PUT);
    const char *v[] = {"plain", "with space", "q\"uote", "back\\slash", "{brace},comma", "",
                       "NULL", "é"};
    sop_param_array(op, v, 8);
    sop_param_array(op, NULL, 0);
    CHECK_STR(op->stmts[0].params[0],
              "{\"plain\",\"with space\",\"q\\\"uote\",\"back\\\\slash\",\"{brace},comma\","
              "\"\",\"NULL\",\"é\"}");
    CHECK_STR(op->stmts[0].params[1], "{}");
    sop_free(op);
}

static void test_array_parse(void)
{
    sop_t *op = sop_new(NULL, false, NULL, NULL);
    size_t n = 99;
    /* What PostgreSQL prints: quotes only where needed, NULL unquoted. */
    const char **v = sop_parse_array(op, "{plain,\"with space\",\"q\\\"uote\",\"back\\\\slash\","
                                         "\"{brace},comma\",\"\",\"NULL\",NULL,é}", &n);
    CHECK(n == 9);
    if (n == 9) {
        CHECK_STR(v[0], "plain");
        CHECK_STR(v[1], "with space");
        CHECK_STR(v[2], "q\"uote");
        CHECK_STR(v[3], "back\\slash");
        CHECK_STR(v[4], "{brace},comma");
        CHECK_STR(v[5], "");
        CHECK_STR(v[6], "NULL");
        CHECK_STR(v[7], ""); /* SQL NULL element */
        CHECK_STR(v[8], "é");
    }
    v = sop_parse_array(op, "{}", &n);
    CHECK(n == 0);
    v = sop_parse_array(op, NULL, &n);
    CHECK(n == 0 && v == NULL);
    v = sop_parse_array(op, "not an array", &n);
    CHECK(n == 0);
    /* Truncated input ends cleanly. */
    v = sop_parse_array(op, "{\"unterminated", &n);
    CHECK(n == 1 && strcmp(v[0], "unterminated") == 0);
    sop_free(op);
}

static void test_op_memory(void)
{
    sop_t *op = sop_new(NULL, true, NULL, NULL);
    sop_stmt(op, STMT_ITEM_UPSERT);
    sop_param_i64(op, -9223372036854775807LL - 1);
    sop_param(op, NULL);
    sop_param_bool(op, true);
    sop_param_limit(op, 0);
    sop_param_limit(op, 25);
    char *big = malloc(100000);
    memset(big, 'x', 99999);
    big[99999] = '\0';
    sop_param(op, big); /* beyond the inline buffer: its own chunk */
    big[0] = 'y';       /* the op kept a copy */
    CHECK_STR(op->stmts[0].params[0], "-9223372036854775808");
    CHECK(op->stmts[0].params[1] == NULL);
    CHECK_STR(op->stmts[0].params[2], "t");
    CHECK(op->stmts[0].params[3] == NULL);
    CHECK_STR(op->stmts[0].params[4], "25");
    CHECK(op->stmts[0].params[5][0] == 'x' && strlen(op->stmts[0].params[5]) == 99999);
    CHECK(op->stmts[0].nparams == 6);
    for (int i = 0; i < 100; i++)
        CHECK(sop_alloc(op, 24) != NULL);
    free(big);
    sop_free(op); /* LeakSanitizer checks the chunks went with it */
}

static void test_names(void)
{
    CHECK_STR(store_aff_name(STORE_AFF_PUBLISH_ONLY), "publish-only");
    CHECK_STR(store_aff_name(STORE_AFF_NONE), "none");
    CHECK_STR(store_aff_name((store_aff_t)77), "none");
    CHECK_STR(store_sub_state_name(STORE_SUB_UNCONFIGURED), "unconfigured");
    CHECK_STR(store_strerror(STORE_EUNCERTAIN), "commit outcome unknown");
    CHECK_STR(store_strerror((store_err_t)99), "?");
    char buf[64];
    CHECK_STR(st_one_line("ERROR:  x\nDETAIL:\tyy\n", buf, sizeof buf), "ERROR: x DETAIL: yy");
    CHECK_STR(st_one_line(NULL, buf, sizeof buf), "");
    CHECK(store_schema_version() >= 1);
    /* Every statement a test can name has SQL; hot ones are prepared. */
    for (size_t i = 0; i < store_statement_count(); i++) {
        CHECK(store_statement_sql(i)[0] != '\0');
        if (store_statement_hot(i))
            CHECK(store_statement_name(i)[0] != '\0');
    }
}

static int calls;
static store_err_t last_err;
static void done_cb(void *ctx, store_err_t err, int64_t value)
{
    (void)ctx;
    (void)value;
    calls++;
    last_err = err;
}

static void test_reject_is_deferred(void)
{
    /* No database needed: the argument check fails the request, and the
     * callback still waits for the loop. */
    struct ev_loop *loop = ev_loop_new(0);
    store_opts_t o = {.conninfo = "host=127.0.0.1 port=1 dbname=x", .pool_size = 1,
                      .reconnect_min_ms = 1000};
    char err[256];
    store_t *st = store_open(loop, &o, err, sizeof err);
    CHECK(st != NULL);
    if (!st)
        return;
    calls = 0;
    store_item_publish(st, 1, NULL, "p", "x", done_cb, NULL);
    CHECK(calls == 0);
    CHECK(store_busy(st) == 1);
    ev_run(loop, EVRUN_NOWAIT);
    CHECK(calls == 1 && last_err == STORE_EINVAL);
    CHECK(store_busy(st) == 0);
    store_free(st);
    ev_loop_destroy(loop);
}

int main(void)
{
    hlog_set_level(HLOG_ERROR);
    UNIT_RUN(test_array_literal);
    UNIT_RUN(test_array_parse);
    UNIT_RUN(test_op_memory);
    UNIT_RUN(test_names);
    UNIT_RUN(test_reject_is_deferred);
    return UNIT_DONE();
}
