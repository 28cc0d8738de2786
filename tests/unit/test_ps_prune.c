/* Prune passes (model.h) and the prune engine (prune.h) against a fake
 * store: refused subscriptions are never delivered to from the change
 * on, each step and turn stays within its budget and its bound on
 * deletions in flight, failed deletions are retried after a delay,
 * changes behind the cursor are not missed, and the model ends equal to
 * the store. A last test runs the engine's watchers on a real loop. */
#include "tests/unit/unit.h"

#include <ev.h>
#include <stdlib.h>
#include <string.h>

#include "pubsub/model.h"
#include "pubsub/prune.h"

static ps_config_defaults_t defs;
static ps_model_t *m;

/* ---- fixtures ------------------------------------------------------------ */

static ps_node_t *mk(const char *name)
{
    ps_node_t *n = NULL;
    xerr_spec_t err;
    if (ps_model_create(m, PS_SCOPE_SERVICE, name, &defs.node, "o@x", &n, &err) != 0)
        abort();
    return n;
}

static void set_access(ps_node_t *n, ps_access_model_t a, ps_publish_model_t p)
{
    ps_node_config_t c;
    ps_config_copy(&c, ps_node_config(n));
    c.access = a;
    c.publish = p;
    ps_node_set_config(n, &c);
    ps_config_clear(&c);
}

/* Subscribers u0@x … u<n-1>@x, and every 7th also with a full JID. */
static size_t populate(ps_node_t *n, int count)
{
    char jid[64];
    size_t subs = 0;
    for (int i = 0; i < count; i++) {
        snprintf(jid, sizeof jid, "u%d@x", i);
        subs += ps_node_subscribe(n, jid, PS_SUB_SUBSCRIBED, 0) == 0;
        if (i % 7 == 0) {
            snprintf(jid, sizeof jid, "u%d@x/res", i);
            subs += ps_node_subscribe(n, jid, PS_SUB_SUBSCRIBED, 0) == 0;
        }
    }
    return subs;
}

/* Makes every 10th subscriber (u0, u10, …) a member; returns how many
 * subscriptions that allows (with the full JIDs). */
static size_t add_members(ps_node_t *n, int count)
{
    char jid[64];
    size_t allowed = 0;
    for (int i = 0; i < count; i += 10) {
        snprintf(jid, sizeof jid, "u%d@x", i);
        ps_node_set_affiliation(n, jid, PS_AFF_MEMBER);
        allowed += 1 + (i % 7 == 0);
    }
    return allowed;
}

static int index_of(const char *jid)
{
    return atoi(jid + 1);
}

/* Recipients of a full fan-out walk: how many, and how many refused by
 * `refused` (an index predicate). */
static size_t walk(ps_node_t *n, int (*refused)(int), size_t *bad)
{
    ps_fanout_t f;
    ps_recipient_t r[64];
    size_t total = 0;
    ps_fanout_step_t s;
    *bad = 0;
    ps_fanout_begin(&f, n);
    do {
        s = ps_fanout_next(&f, r, 64);
        for (size_t i = 0; i < s.n; i++, total++)
            *bad += refused(index_of(r[i].jid)) != 0;
    } while (!s.done);
    ps_fanout_end(&f);
    return total;
}

static int not_member(int i)
{
    return i % 10 != 0;
}

/* The fake store: deletions waiting for their completion. */
typedef struct {
    ps_node_t *node;
    char jid[64];
    ps_pr_write_t *w;
} pending_t;

static pending_t pend[200000];
static size_t n_pend;
static int emit_fail_every; /* every k-th emit cannot start (0: never) */
static size_t emits;

/* Records a deletion; `w` NULL: started by the model directly. */
static int record(ps_node_t *n, const char *jid, ps_pr_write_t *w)
{
    if (n_pend == sizeof pend / sizeof pend[0])
        return -1;
    pend[n_pend].node = n;
    pend[n_pend].w = w;
    snprintf(pend[n_pend].jid, sizeof pend[n_pend].jid, "%s", jid);
    n_pend++;
    return 0;
}

static int fake_emit(void *ud, ps_node_t *n, const char *jid)
{
    (void)ud;
    emits++;
    if (emit_fail_every && emits % (size_t)emit_fail_every == 0)
        return -1;
    return record(n, jid, NULL);
}

/* Completes the oldest `k` deletions; every `fail_every`-th fails. */
static void complete(size_t k, int fail_every)
{
    static size_t done_count;
    if (k > n_pend)
        k = n_pend;
    for (size_t i = 0; i < k; i++) {
        bool ok = !fail_every || ++done_count % (size_t)fail_every != 0;
        if (pend[i].w)
            ps_pr_write_done(pend[i].w, ok);
        else
            ps_node_prune_done(pend[i].node, pend[i].jid, ok);
    }
    memmove(pend, pend + k, (n_pend - k) * sizeof *pend);
    n_pend -= k;
}

/* ---- passes ------------------------------------------------------------------ */

static void test_pass_guard_and_slices(void)
{
    enum { N = 5000 };
    ps_node_t *n = mk("wl");
    size_t subs = populate(n, N);
    size_t members = add_members(n, N);
    CHECK(!ps_node_pruning(n));
    set_access(n, PS_ACCESS_WHITELIST, PS_PUBLISH_SUBSCRIBERS);
    CHECK(ps_node_prune(n, NULL) == 0 && ps_node_pruning(n));

    /* From the change on, before any step: only members are delivered
     * to, and refused subscribers may not publish as subscribers. */
    size_t bad;
    CHECK(walk(n, not_member, &bad) == members && bad == 0);
    xerr_spec_t err;
    CHECK(ps_check_publish(n, "u1@x", "u1@x", &err) == XERR_FORBIDDEN);
    CHECK(ps_check_publish(n, "u10@x", "u10@x", &err) == 0);
    /* The walk memoized its findings: refused ones are not counted. */
    CHECK(ps_node_subscriber_count(n) == members);
    CHECK(ps_node_subscription_count(n) == subs);
    CHECK(ps_node_subscription(n, "u1@x", NULL) == PS_SUB_SUBSCRIBED);

    double wake_at;
    int steps = 0, over = 0;
    n_pend = 0;
    while (ps_model_prune_state(m, 0, n_pend < 25, &wake_at) != PS_PRUNE_IDLE) {
        size_t used = ps_model_prune_step(m, 0, 300, 25 - n_pend, fake_emit, NULL);
        /* A started deletion costs 8 units: one may overrun by 7. */
        over += used > 300 + 7 || n_pend > 25;
        /* The store answers some each turn. */
        complete(10, 0);
        steps++;
        if (steps > 100000)
            break;
    }
    CHECK(over == 0);
    CHECK(steps >= (int)((subs - members) / 10));
    CHECK(!ps_node_pruning(n));
    CHECK(ps_node_subscription_count(n) == members);
    CHECK(ps_node_subscriber_count(n) == members);
    CHECK(walk(n, not_member, &bad) == members && bad == 0);
    ps_model_remove(m, n);
}

static void test_pass_failures_retry(void)
{
    ps_node_t *n = mk("flaky");
    size_t subs = populate(n, 600);
    ps_node_set_affiliation(n, "u0@x", PS_AFF_MEMBER);
    set_access(n, PS_ACCESS_WHITELIST, PS_PUBLISH_PUBLISHERS);
    ps_node_prune(n, NULL);
    double wake_at;
    n_pend = 0;
    emits = 0;
    emit_fail_every = 9;
    /* One pass: every 9th emit cannot start, every 5th deletion fails. */
    while (ps_model_prune_state(m, 10, true, &wake_at) == PS_PRUNE_RUN) {
        ps_model_prune_step(m, 10, 1000, 50, fake_emit, NULL);
        complete(n_pend, 5);
    }
    emit_fail_every = 0;
    CHECK(ps_model_prune_state(m, 10, true, &wake_at) == PS_PRUNE_WAIT);
    CHECK(wake_at == 11);
    CHECK(ps_node_pruning(n));
    size_t left = ps_node_subscription_count(n);
    CHECK(left > 2 && left < subs);
    /* Still guarded: the survivors are not delivered to. */
    size_t bad;
    CHECK(walk(n, not_member, &bad) == 2 && bad == 0);
    /* Nothing before the delay; afterwards the rest goes. */
    CHECK(ps_model_prune_step(m, 10.5, 1000, 50, fake_emit, NULL) == 0);
    while (ps_model_prune_state(m, 11, true, &wake_at) == PS_PRUNE_RUN) {
        ps_model_prune_step(m, 11, 1000, 50, fake_emit, NULL);
        complete(n_pend, 0);
    }
    CHECK(ps_model_prune_state(m, 11, true, &wake_at) == PS_PRUNE_IDLE);
    CHECK(ps_node_subscription_count(n) == 2); /* u0@x and u0@x/res */
    ps_model_remove(m, n);
}

static int is_3(int i)
{
    return i == 3;
}

static int is_3_or_5(int i)
{
    return i == 3 || i == 5 || i == 2990;
}

static void test_pass_scope_and_restart(void)
{
    ps_node_t *n = mk("scoped");
    populate(n, 3000);
    double wake_at;
    n_pend = 0;
    /* An affiliation change: only that bare JID's subscriptions. */
    ps_node_set_affiliation(n, "u3@x", PS_AFF_OUTCAST);
    ps_node_prune(n, "u3@x");
    /* Part of the set examined (from the top: u2990 is behind the
     * cursor), then two more changes: the scope widens and the pass
     * starts over, so u2990 is not missed. */
    ps_model_prune_step(m, 0, 1000, 100, fake_emit, NULL);
    size_t bad;
    walk(n, is_3, &bad);
    CHECK(bad == 0);
    ps_node_set_affiliation(n, "u5@x", PS_AFF_PUBLISH_ONLY);
    ps_node_prune(n, "u5@x");
    ps_node_set_affiliation(n, "u2990@x", PS_AFF_OUTCAST);
    ps_node_prune(n, "u2990@x");
    walk(n, is_3_or_5, &bad);
    CHECK(bad == 0);
    size_t deleted = 0;
    while (ps_model_prune_state(m, 0, true, &wake_at) == PS_PRUNE_RUN) {
        ps_model_prune_step(m, 0, 500, 100, fake_emit, NULL);
        for (size_t i = 0; i < n_pend; i++)
            deleted += is_3_or_5(index_of(pend[i].jid)) ? 1 : 1000;
        complete(n_pend, 0);
    }
    CHECK(deleted == 3); /* u3@x, u5@x, u2990@x: nobody else */
    CHECK(ps_node_subscription(n, "u3@x", NULL) == PS_SUB_NONE);
    CHECK(ps_node_subscription(n, "u2990@x", NULL) == PS_SUB_NONE);
    CHECK(ps_node_subscription(n, "u4@x", NULL) == PS_SUB_SUBSCRIBED);
    ps_model_remove(m, n);
}

/* Queued, then allowed again before its deletion starts: dropped from
 * the queue and delivered to again. Re-set by its owner while its
 * deletion runs: a failed deletion leaves the owner's state. */
static void test_pass_changes_meanwhile(void)
{
    ps_node_t *n = mk("meanwhile");
    ps_node_subscribe(n, "a@x", PS_SUB_SUBSCRIBED, 0);
    ps_node_subscribe(n, "b@x", PS_SUB_SUBSCRIBED, 0);
    ps_node_subscribe(n, "c@x", PS_SUB_SUBSCRIBED, 0);
    set_access(n, PS_ACCESS_WHITELIST, PS_PUBLISH_PUBLISHERS);
    ps_node_prune(n, NULL);
    n_pend = 0;
    /* Examines all three, starts no deletion. */
    ps_model_prune_step(m, 0, 100, 0, fake_emit, NULL);
    CHECK(ps_node_subscriber_count(n) == 0 && n_pend == 0);
    ps_node_set_affiliation(n, "a@x", PS_AFF_MEMBER);
    ps_model_prune_step(m, 0, 100, 100, fake_emit, NULL);
    CHECK(n_pend == 2);
    CHECK(ps_node_subscription(n, "a@x", NULL) == PS_SUB_SUBSCRIBED);
    CHECK(ps_node_subscriber_count(n) == 1);
    /* b is re-set by its owner while its deletion runs, then it fails. */
    ps_node_subscribe(n, strcmp(pend[0].jid, "b@x") == 0 ? "b@x" : "c@x", PS_SUB_SUBSCRIBED, 0);
    complete(1, 1);
    complete(1, 0);
    double wake_at;
    while (ps_model_prune_state(m, 0, true, &wake_at) == PS_PRUNE_RUN)
        ps_model_prune_step(m, 0, 100, 100, fake_emit, NULL);
    CHECK(!ps_node_pruning(n) && n_pend == 0);
    CHECK(ps_node_subscription_count(n) == 2);
    CHECK(ps_node_subscriber_count(n) == 2);
    /* Open and nobody refused: no pass at all. */
    set_access(n, PS_ACCESS_OPEN, PS_PUBLISH_PUBLISHERS);
    CHECK(ps_node_prune(n, NULL) == 0 && !ps_node_pruning(n));
    ps_model_remove(m, n);
}

/* A run of refused subscribers costs a walk several bounded calls, not
 * one long one: 100,000 refused, then one member. Both while the pass
 * has not reached them (each examined by the walk) and once marked. */
static void test_walk_bounded_over_refused(void)
{
    enum { N = 100000, MAX = 64 };
    ps_node_t *n = mk("closed");
    char jid[64];
    for (int i = 0; i < N; i++) {
        snprintf(jid, sizeof jid, "u%d@x", i);
        ps_node_subscribe(n, jid, PS_SUB_SUBSCRIBED, 0);
    }
    ps_node_subscribe(n, "m@x", PS_SUB_SUBSCRIBED, 0);
    ps_node_set_affiliation(n, "m@x", PS_AFF_MEMBER);
    set_access(n, PS_ACCESS_WHITELIST, PS_PUBLISH_PUBLISHERS);
    CHECK(ps_node_prune(n, NULL) == 0);
    for (int pass = 0; pass < 2; pass++) {
        ps_fanout_t f;
        ps_recipient_t r[MAX];
        ps_fanout_step_t s;
        size_t calls = 0, empty = 0, most = 0, scanned = 0, got = 0, member = 0;
        ps_fanout_begin(&f, n);
        do {
            s = ps_fanout_next(&f, r, MAX);
            calls++;
            empty += s.n == 0 && !s.done;
            most = s.scanned > most ? s.scanned : most;
            scanned += s.scanned;
            for (size_t i = 0; i < s.n; i++, got++)
                member += strcmp(r[i].jid, "m@x") == 0;
        } while (!s.done && calls < 10 * N);
        ps_fanout_end(&f);
        CHECK(got == 1 && member == 1);
        CHECK(most <= MAX * PS_FANOUT_SCAN_FACTOR);
        CHECK(scanned == N + 1);
        CHECK(calls >= (N + 1) / (MAX * PS_FANOUT_SCAN_FACTOR) && calls <= N);
        /* Every call before the member's found nobody and said so. */
        CHECK(empty == calls - 1);
    }
    CHECK(ps_node_subscriber_count(n) == 1);
    ps_model_remove(m, n);
    while (ps_model_chores(m, 1 << 20))
        ;
}

/* ---- the engine ------------------------------------------------------------ */

static int fake_del(void *ud, ps_node_t *node, const char *jid, ps_pr_write_t *w)
{
    (void)ud;
    return record(node, jid, w);
}

static void test_engine_bounds(void)
{
    enum { N = 100000, SLICE = 2000, INFLIGHT = 100 };
    ps_node_t *n = mk("million");
    size_t subs = populate(n, N);
    size_t members = add_members(n, N);
    ps_pr_opts_t o = {SLICE, INFLIGHT};
    ps_pr_io_t io = {fake_del, NULL};
    ps_pr_t *pr = ps_pr_new(NULL, &o, &io);
    ps_pr_attach(pr, m);
    set_access(n, PS_ACCESS_WHITELIST, PS_PUBLISH_PUBLISHERS);
    ps_node_prune(n, NULL);
    n_pend = 0;
    ps_pr_stats_t st;
    int turns = 0, over = 0;
    do {
        ps_pr_turn(pr, 0);
        ps_pr_stats(pr, &st);
        over += st.inflight > INFLIGHT || n_pend != st.inflight;
        /* A store transaction answers some of them between turns. */
        complete(60, 0);
        turns++;
    } while ((ps_node_pruning(n) || n_pend) && turns < 100000);
    ps_pr_stats(pr, &st);
    CHECK(over == 0);
    CHECK(st.max_turn_work <= SLICE + 7);
    CHECK(st.deleted == subs - members && st.failed == 0 && st.inflight == 0);
    CHECK(turns >= (int)((subs - members) / 60));
    CHECK(ps_node_subscription_count(n) == members);

    /* Stopped: passes keep their guard, no deletion starts. */
    ps_node_set_affiliation(n, "u10@x", PS_AFF_OUTCAST);
    ps_node_prune(n, "u10@x");
    ps_pr_stop(pr);
    for (int i = 0; i < 10; i++)
        ps_pr_turn(pr, 0);
    CHECK(n_pend == 0 && ps_node_pruning(n));
    size_t bad;
    walk(n, not_member, &bad);
    CHECK(bad == 0 && ps_node_subscriber_count(n) == members - 1);
    ps_pr_free(pr);

    /* Deletions in flight when the node goes, and when the engine goes:
     * their completions touch neither (ASan checks). */
    pr = ps_pr_new(NULL, &o, &io);
    ps_pr_attach(pr, m);
    for (int i = 0; i < 1000 && !n_pend; i++)
        ps_pr_turn(pr, 0);
    CHECK(n_pend == 1);
    ps_pr_forget(pr, n);
    ps_model_remove(m, n);
    complete(n_pend / 2, 0);
    ps_pr_turn(pr, 0); /* releases the removed node's set */
    ps_pr_free(pr);
    complete(n_pend, 0);
    while (ps_model_chores(m, 1 << 20))
        ;
}

/* ---- on a real loop -------------------------------------------------------- */

static struct ev_loop *loop;
static ev_timer store_timer;

/* The fake store answers everything pending every millisecond and stops
 * when nothing is: ev_run then returns only if the engine's watchers
 * stopped too. */
static void store_cb(struct ev_loop *l, ev_timer *w, int revents)
{
    (void)revents;
    complete(n_pend, 0);
    ev_timer_stop(l, w);
}

static int loop_del(void *ud, ps_node_t *node, const char *jid, ps_pr_write_t *w)
{
    fake_del(ud, node, jid, w);
    if (!ev_is_active(&store_timer)) {
        ev_timer_set(&store_timer, 0.001, 0.);
        ev_timer_start(loop, &store_timer);
    }
    return 0;
}

static void test_engine_on_loop(void)
{
    loop = ev_loop_new(EVFLAG_AUTO);
    ev_timer_init(&store_timer, store_cb, 0.001, 0.);
    ps_node_t *n = mk("looped");
    size_t subs = populate(n, 20000);
    ps_node_set_affiliation(n, "u1@x", PS_AFF_MEMBER);
    ps_pr_opts_t o = {500, 64};
    ps_pr_io_t io = {loop_del, NULL};
    ps_pr_t *pr = ps_pr_new(loop, &o, &io);
    ps_pr_attach(pr, m);
    set_access(n, PS_ACCESS_WHITELIST, PS_PUBLISH_PUBLISHERS);
    ps_node_prune(n, NULL); /* wakes the engine through the model */
    ev_run(loop, 0);
    ps_pr_stats_t st;
    ps_pr_stats(pr, &st);
    CHECK(!ps_node_pruning(n) && n_pend == 0);
    CHECK(ps_node_subscription_count(n) == 1);
    CHECK(st.deleted == subs - 1 && st.max_turn_work <= 500 + 7);
    CHECK(st.turns > 20000 / 64);
    /* Removing a large node wakes it for the release; the loop ends when
     * the set is gone. */
    ps_node_t *big = mk("big");
    populate(big, 30000);
    ps_model_remove(m, big);
    ev_run(loop, 0);
    CHECK(!ps_model_has_chores(m));
    ps_model_remove(m, n);
    ps_pr_free(pr);
    ev_loop_destroy(loop);
}

int main(void)
{
    ps_config_defaults_init(&defs);
    m = ps_model_new();
    UNIT_RUN(test_pass_guard_and_slices);
    UNIT_RUN(test_pass_failures_retry);
    UNIT_RUN(test_pass_scope_and_restart);
    UNIT_RUN(test_pass_changes_meanwhile);
    UNIT_RUN(test_walk_bounded_over_refused);
    UNIT_RUN(test_engine_bounds);
    UNIT_RUN(test_engine_on_loop);
    ps_model_free(m);
    ps_config_defaults_clear(&defs);
    return UNIT_DONE();
}
