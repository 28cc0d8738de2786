/* PostgreSQL killed (pg_ctl stop -m immediate, through deploy/dev/pg-ctl)
 * in the middle of a burst of writes, then started again while writes
 * keep coming. Afterwards: every request was answered exactly once,
 * confirmed + failed == submitted, every confirmed write is in the
 * database, no write reported "not committed" is, and the store works
 * again without having been reopened.
 *
 * Needs HERALD_TEST_DIR (the directory pg-ctl manages) and pg-ctl
 * (PG_CTL, default deploy/dev/pg-ctl, run from the repository root). */
#include "tests/integration/store_itest.h"

#include <sys/wait.h>

#define N 400000     /* at most this many writes */
#define AFTER 3000   /* writes submitted once the store is back */
#define PER_TICK 25  /* per millisecond: ~25,000 offered per second */
#define NREADS 8000  /* reads mixed in (one per N/NREADS writes) */
#define KILL_AFTER 4000 /* confirmed writes before the kill */

static store_t *ST;
static int64_t NODE;
static const char *PG_CTL_, *TEST_DIR;

static store_err_t result[N];
static unsigned char calls[N];
static int submitted, answered, confirmed, dup_calls, reads_answered, reads_ok;
static int confirmed_at_kill = -1, confirmed_after_restart, submitted_after_ready;
static int producing;
static int phase; /* 0 running, 1 killing, 2 down, 3 starting, 4 restarted */
static int kill_status = -1, start_status = -1;
static ev_child child_w;
static ev_timer down_w, produce_w;

static void write_cb(void *ctx, store_err_t err, int64_t value)
{
    (void)value;
    t_note_callback();
    int i = (int)(intptr_t)ctx;
    if (calls[i]++) {
        dup_calls++;
        return;
    }
    result[i] = err;
    answered++;
    if (err == STORE_OK) {
        confirmed++;
        if (phase == 4)
            confirmed_after_restart++;
    }
}

static void read_cb(void *ctx, store_err_t err, const store_item_t *v, size_t n)
{
    (void)ctx;
    (void)v;
    (void)n;
    t_note_callback();
    reads_answered++;
    reads_ok += err == STORE_OK;
}

static void spawn(const char *cmd);

static void child_cb(struct ev_loop *loop, ev_child *w, int revents)
{
    (void)revents;
    ev_child_stop(loop, w);
    int st = WIFEXITED(w->rstatus) ? WEXITSTATUS(w->rstatus) : -1;
    if (phase == 1) {
        kill_status = st;
        phase = 2;
        /* Stay down for a while: writes keep queueing meanwhile. */
        ev_timer_start(loop, &down_w);
    } else if (phase == 3) {
        start_status = st;
        phase = 4;
    }
}

static void down_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)w;
    (void)revents;
    phase = 3;
    spawn("start");
}

static void spawn(const char *what)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        execl(PG_CTL_, PG_CTL_, what, TEST_DIR, (char *)NULL);
        _exit(127);
    }
    ev_child_init(&child_w, child_cb, pid, 0);
    ev_child_start(T_LOOP, &child_w);
}

static void produce_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    for (int k = 0; k < PER_TICK && submitted < N; k++) {
        if (phase == 4 && store_connections_ready(ST) > 0)
            submitted_after_ready++;
        char iid[16];
        snprintf(iid, sizeof iid, "f%d", submitted);
        T_CALL(store_item_publish(ST, NODE, iid, "p@example.org", "<entry/>", write_cb,
                                  (void *)(intptr_t)submitted));
        submitted++;
        if (submitted % (N / NREADS) == 0) {
            store_items_query_t q = {.max = 1};
            T_CALL(store_items_get(ST, NODE, &q, read_cb, NULL));
        }
    }
    if (phase == 0 && confirmed >= KILL_AFTER) {
        confirmed_at_kill = confirmed;
        phase = 1;
        spawn("kill");
    }
    if (submitted >= N || submitted_after_ready >= AFTER) {
        ev_timer_stop(loop, w);
        producing = 0;
    }
}

/* One outage: `queue_timeout_ms` decides whether the writes submitted
 * while the database is down wait for it (all confirmed) or give up
 * (failed, and then provably not committed). */
static void outage(unsigned queue_timeout_ms, const char *node_name, bool expect_failures)
{
    memset(result, 0, sizeof result);
    memset(calls, 0, sizeof calls);
    submitted = answered = confirmed = dup_calls = reads_answered = reads_ok = 0;
    confirmed_at_kill = -1;
    confirmed_after_restart = submitted_after_ready = 0;
    phase = 0;
    producing = 1;
    kill_status = start_status = -1;
    store_opts_t o = {.pool_size = 2,
                      .reconnect_min_ms = 50,
                      .reconnect_max_ms = 400,
                      .queue_timeout_ms = queue_timeout_ms,
                      .queue_max = 1000000};
    ST = t_open(&o);
    if (!ST)
        return;
    store_node_config_t cfg = t_config();
    t_res_t r;
    t_reset(&r);
    T_CALL(store_node_create(ST, "", node_name, "", &cfg, t_node_cb, &r));
    CHECK(t_run_until(&r.calls, 1, 10.0));
    CHECK(r.err == STORE_OK);
    NODE = r.id;

    ev_timer_init(&produce_w, produce_cb, 0.001, 0.001);
    ev_timer_init(&down_w, down_cb, 1.0, 0.);
    ev_timer_start(T_LOOP, &produce_w);
    ev_now_update(T_LOOP);
    ev_tstamp end = ev_now(T_LOOP) + 120;
    while ((producing || answered < submitted) && ev_now(T_LOOP) < end)
        t_run_for(0.05);
    CHECK(!producing);
    int nreads = submitted / (N / NREADS);
    CHECK(t_run_until(&reads_answered, nreads, 30.0));
    t_run_for(0.1); /* a late duplicate would show now */

    int failed = 0, uncertain = 0, not_committed = 0;
    for (int i = 0; i < submitted; i++) {
        if (calls[i] && result[i] != STORE_OK)
            failed++;
        if (result[i] == STORE_EUNCERTAIN)
            uncertain++;
        else if (calls[i] && result[i] != STORE_OK)
            not_committed++;
    }
    fprintf(stderr,
            "  submitted %d (reads %d): confirmed %d (%d before the kill, %d after the restart), "
            "failed %d (%d uncertain); reads %d/%d ok; pg-ctl kill=%d start=%d\n",
            submitted, nreads, confirmed, confirmed_at_kill, confirmed_after_restart, failed,
            uncertain, reads_ok, reads_answered, kill_status, start_status);
    CHECK(kill_status == 0);
    CHECK(start_status == 0);
    CHECK(phase == 4);
    CHECK(submitted_after_ready >= AFTER);
    CHECK(dup_calls == 0);
    CHECK(answered == submitted);
    CHECK(confirmed + failed == submitted);
    CHECK(reads_answered == nreads);
    /* The kill happened mid-burst and writes went on after the restart. */
    CHECK(confirmed_at_kill >= KILL_AFTER && confirmed_at_kill < submitted);
    CHECK(confirmed_after_restart >= AFTER);
    if (expect_failures)
        CHECK(failed > 0);
    else
        CHECK(failed == 0);

    /* The database agrees: confirmed present, not-committed absent. */
    if (T_DB) {
        PQfinish(T_DB); /* killed with the server */
        T_DB = NULL;
    }
    T_DB = t_connect();
    char node[24];
    snprintf(node, sizeof node, "%lld", (long long)NODE);
    const char *p[1] = {node};
    PGresult *res = PQexecParams(T_DB, "SELECT item_id FROM items WHERE node_id = $1", 1, NULL,
                                 p, NULL, NULL, 0);
    CHECK(PQresultStatus(res) == PGRES_TUPLES_OK);
    static unsigned char present[N];
    /* ids f0..f<submitted-1> */
    memset(present, 0, sizeof present);
    for (int i = 0; i < PQntuples(res); i++) {
        int k = atoi(PQgetvalue(res, i, 0) + 1);
        if (k >= 0 && k < N)
            present[k] = 1;
    }
    PQclear(res);
    int missing = 0, phantom = 0;
    for (int i = 0; i < submitted; i++) {
        if (result[i] == STORE_OK && calls[i] && !present[i])
            missing++;
        if (calls[i] && result[i] != STORE_OK && result[i] != STORE_EUNCERTAIN && present[i])
            phantom++;
    }
    fprintf(stderr, "  confirmed but missing: %d; reported not committed but present: %d\n",
            missing, phantom);
    CHECK(missing == 0);
    CHECK(phantom == 0);
    (void)not_committed;

    /* The same store serves again. */
    t_reset(&r);
    T_CALL(store_item_publish(ST, NODE, "after", "", "<after/>", t_done_cb, &r));
    CHECK(t_run_until(&r.calls, 1, 10.0));
    CHECK(r.err == STORE_OK);
    CHECK(store_busy(ST) == 0);
    store_free(ST);
    ST = NULL;
}

/* Queued writes outlive the outage (about 1 s): all confirmed. */
static void test_kill_during_burst_waiting(void) { outage(30000, "faults-wait", false); }

/* Queued writes give up after 300 ms: some fail, none of those is in the
 * database, every confirmed one is. */
static void test_kill_during_burst_giving_up(void) { outage(300, "faults-giveup", true); }

int main(void)
{
    TEST_DIR = getenv("HERALD_TEST_DIR");
    PG_CTL_ = getenv("PG_CTL");
    if (!PG_CTL_ || !PG_CTL_[0])
        PG_CTL_ = "deploy/dev/pg-ctl";
    if (!TEST_DIR || !TEST_DIR[0]) {
        fprintf(stderr, "HERALD_TEST_DIR is not set: cannot kill and restart PostgreSQL\n");
        printf("0 passed, 1 failed\n");
        return 1;
    }
    if (access(PG_CTL_, X_OK) != 0) {
        fprintf(stderr, "%s: not executable\n", PG_CTL_);
        printf("0 passed, 1 failed\n");
        return 1;
    }
    t_setup("faults");
    CHECK(t_migrate() == store_schema_version());
    UNIT_RUN(test_kill_during_burst_waiting);
    UNIT_RUN(test_kill_during_burst_giving_up);
    CHECK(t_early_callbacks == 0);
    t_teardown();
    return UNIT_DONE();
}
