/* The fan-out engine against a fake link: slicing, batching, per-recipient
 * sends with several links, pausing above the high-water mark and
 * resuming below the low one, per-key order, round robin between keys,
 * subscription changes during a walk, a long run of refused subscribers
 * (bounded turns), node deletion during a job, and the watchers on a real
 * libev loop. */
#include "tests/unit/unit.h"

#include <ev.h>
#include <stdlib.h>
#include <string.h>

#include "pubsub/fanout.h"
#include "pubsub/model.h"
#include "pubsub/notify.h"

/* ---- fake link ----------------------------------------------------------- */

typedef struct {
    char *out; /* everything sent, concatenated */
    size_t len, cap;
    size_t calls, calls_with_to, whole; /* whole: calls holding whole stanzas */
    size_t queue;                       /* what queue_len reports */
    size_t queue_per_call;              /* queue grows by this per send */
    int links;
    int to_matches; /* per-recipient sends whose `to` is the stanza's */
} fake_t;

static size_t count(const char *s, size_t len, const char *needle)
{
    size_t n = 0, nl = strlen(needle);
    for (size_t i = 0; i + nl <= len; i++)
        if (memcmp(s + i, needle, nl) == 0)
            n++;
    return n;
}

static void fake_send(void *ud, const char *to, const char *data, size_t len)
{
    fake_t *f = ud;
    if (f->len + len + 1 > f->cap) {
        f->cap = (f->len + len + 1) * 2;
        f->out = realloc(f->out, f->cap);
    }
    memcpy(f->out + f->len, data, len);
    f->len += len;
    f->out[f->len] = '\0';
    f->calls++;
    f->queue += f->queue_per_call;
    if (count(data, len, "<message") == count(data, len, "</message>") && len > 0 &&
        memcmp(data, "<message", 8) == 0 && memcmp(data + len - 10, "</message>", 10) == 0)
        f->whole++;
    if (to) {
        f->calls_with_to++;
        char want[256];
        snprintf(want, sizeof want, "to='%s'", to);
        if (count(data, len, want) == 1 && count(data, len, "<message") == 1)
            f->to_matches++;
    }
}

static size_t fake_queue(void *ud)
{
    return ((fake_t *)ud)->queue;
}

static int fake_links(void *ud)
{
    return ((fake_t *)ud)->links;
}

static void fake_reset(fake_t *f)
{
    free(f->out);
    memset(f, 0, sizeof *f);
    f->links = 1;
}

/* ---- fixtures ---------------------------------------------------------- */

static ps_config_defaults_t defs;

static ps_node_t *mk_node(ps_model_t *m, const char *name, int subscribers)
{
    ps_node_t *n;
    xerr_spec_t err;
    if (ps_model_create(m, "", name, &defs.node, "owner@example.org", &n, &err) != 0)
        abort();
    char jid[64];
    for (int i = 0; i < subscribers; i++) {
        snprintf(jid, sizeof jid, "u%d@example.org", i);
        ps_node_subscribe(n, jid, PS_SUB_SUBSCRIBED, 0);
    }
    return n;
}

static ps_notif_t *mk_notif(const char *node, const char *item, const char *prefix)
{
    ps_notif_opts_t o = {"pubsub.example.org", "headline", prefix};
    return ps_notif_items(&o, node, item, "<x xmlns='urn:x'/>", 18, NULL);
}

/* What every test runs on: the fake link, a model and an engine. */
typedef struct {
    fake_t f;
    ps_model_t *m;
    ps_fo_t *fo;
} rig_t;

static void rig_init(rig_t *r, struct ev_loop *loop, unsigned slice, unsigned high, unsigned low,
                     size_t batch)
{
    memset(&r->f, 0, sizeof r->f);
    fake_reset(&r->f);
    r->m = ps_model_new();
    ps_fo_opts_t o = {slice, high, low, batch};
    ps_fo_io_t io = {fake_send, fake_queue, fake_links, &r->f};
    r->fo = ps_fo_new(loop, &o, &io);
}

static void rig_free(rig_t *r)
{
    ps_fo_free(r->fo);
    ps_model_free(r->m);
    free(r->f.out);
}

/* Queues an items notification to the subscribers of `n` (keyed by n);
 * returns ps_fo_node's result. */
static int queue_items(rig_t *r, ps_node_t *n, const char *item, const char *prefix)
{
    ps_notif_t *nt = mk_notif(ps_node_name(n), item, prefix);
    int rc = ps_fo_node(r->fo, n, n, nt);
    ps_notif_unref(nt); /* the engine holds its own reference */
    return rc;
}

/* How many times `to='JID'` appears. */
static size_t sent_to(const fake_t *f, const char *jid)
{
    char want[128];
    snprintf(want, sizeof want, "to='%s'", jid);
    return count(f->out ? f->out : "", f->len, want);
}

/* Whether each of mk_node's first `subscribers` got exactly one stanza. */
static int each_once(const fake_t *f, int subscribers)
{
    char jid[64];
    for (int i = 0; i < subscribers; i++) {
        snprintf(jid, sizeof jid, "u%d@example.org", i);
        if (sent_to(f, jid) != 1)
            return 0;
    }
    return 1;
}

/* ---- tests ------------------------------------------------------------ */

static void test_slices(void)
{
    rig_t r;
    rig_init(&r, NULL, 1000, 1000000, 10, 16 * 1024);
    ps_fo_t *fo = r.fo;
    fake_t *f = &r.f;
    ps_node_t *n = mk_node(r.m, "blog", 2500);
    CHECK(queue_items(&r, n, "i1", "p-") == 0);

    CHECK(ps_fo_turn(fo) == 1000);
    CHECK(ps_fo_turn(fo) == 1000);
    CHECK(ps_fo_turn(fo) == 500);
    ps_fo_stats_t st;
    ps_fo_stats(fo, &st);
    /* The walk ended exactly after the last recipient or is noticed now. */
    ps_fo_turn(fo);
    ps_fo_stats(fo, &st);
    CHECK(st.jobs == 0);
    CHECK(st.delivered == 2500);
    CHECK(count(f->out, f->len, "<message") == 2500);
    /* Each recipient exactly once. */
    CHECK(each_once(f, 2500));
    /* Batched: several stanzas per call, each call whole stanzas. */
    CHECK(f->calls < 2500 / 10);
    CHECK(f->whole == f->calls);
    CHECK(f->calls_with_to == 0);
    /* Message ids are the prefix + 1..N. */
    CHECK(count(f->out, f->len, "id='p-1'") == 1);
    CHECK(count(f->out, f->len, "id='p-2500'") == 1);
    CHECK(ps_fo_turn(fo) == 0);
    rig_free(&r);
}

static void test_backpressure(void)
{
    rig_t r;
    rig_init(&r, NULL, 100, 50, 10, 1 /* one stanza per call */);
    ps_fo_t *fo = r.fo;
    fake_t *f = &r.f;
    ps_node_t *n = mk_node(r.m, "blog", 300);
    queue_items(&r, n, "i1", "p-");
    ps_fo_stats_t st;

    /* Above the high-water mark: nothing is produced. */
    f->queue = 51;
    CHECK(ps_fo_turn(fo) == 0);
    ps_fo_stats(fo, &st);
    CHECK(st.paused == 1 && st.pauses == 1);
    /* Between the marks while paused: still paused (hysteresis). */
    f->queue = 30;
    CHECK(ps_fo_turn(fo) == 0);
    /* At the low mark: resumes. Each send queues one item; the turn stops
     * as soon as the queue passes the high mark. */
    f->queue = 10;
    f->queue_per_call = 1;
    size_t got = ps_fo_turn(fo);
    /* The check runs between chunks of 64 recipients: the overshoot
     * past the mark is bounded by one chunk. */
    CHECK(got == 64);
    ps_fo_stats(fo, &st);
    CHECK(st.paused == 1 && st.pauses == 2);
    CHECK(f->queue == 74);
    /* The link drains: delivery resumes where it stopped. */
    f->queue = 0;
    f->queue_per_call = 0;
    size_t total = got;
    for (int i = 0; i < 10; i++)
        total += ps_fo_turn(fo);
    CHECK(total == 300);
    CHECK(each_once(f, 300));

    /* No link up: paused, nothing lost. */
    queue_items(&r, n, "i2", "q-");
    f->links = 0;
    CHECK(ps_fo_turn(fo) == 0);
    ps_fo_stats(fo, &st);
    CHECK(st.paused == 1 && st.jobs == 1);
    f->links = 1;
    total = 0;
    for (int i = 0; i < 10; i++)
        total += ps_fo_turn(fo);
    CHECK(total == 300);
    rig_free(&r);
}

static void test_several_links(void)
{
    rig_t r;
    rig_init(&r, NULL, 1000, 100000, 10, 0);
    r.f.links = 3;
    ps_node_t *n = mk_node(r.m, "blog", 50);
    queue_items(&r, n, "i1", "p-");
    CHECK(ps_fo_turn(r.fo) == 50);
    /* One stanza per call, addressed, so the component keeps each
     * recipient on one link. */
    CHECK(r.f.calls == 50);
    CHECK(r.f.calls_with_to == 50);
    CHECK(r.f.to_matches == 50);
    rig_free(&r);
}

/* Position of the first occurrence of `a` in the output, or -1. */
static long pos(const fake_t *f, const char *a)
{
    const char *p = strstr(f->out, a);
    return p ? p - f->out : -1;
}

static void test_order(void)
{
    rig_t r;
    rig_init(&r, NULL, 2, 100000, 10, 0);
    ps_fo_t *fo = r.fo;
    fake_t *f = &r.f;
    ps_node_t *a = mk_node(r.m, "a", 5);
    ps_node_t *b = mk_node(r.m, "b", 1);

    queue_items(&r, a, "first", "a1-");
    queue_items(&r, a, "second", "a2-");
    queue_items(&r, b, "only", "b1-");

    /* Turn 1: two of a's first job; turn 2: b's job (round robin), then
     * a again with the budget left. */
    CHECK(ps_fo_turn(fo) == 2);
    CHECK(ps_fo_turn(fo) == 2);
    CHECK(count(f->out, f->len, "id='b1-1'") == 1);
    CHECK(pos(f, "id='b1-1'") < pos(f, "id='a1-3'"));
    CHECK(count(f->out, f->len, "item id='second'") == 0);
    for (int i = 0; i < 20; i++)
        ps_fo_turn(fo);
    /* Every subscriber of a got "first" before "second". */
    int ordered = 1;
    for (int i = 0; i < 5; i++) {
        char s1[64], s2[64];
        snprintf(s1, sizeof s1, "to='u%d@example.org' id='a1-", i);
        snprintf(s2, sizeof s2, "to='u%d@example.org' id='a2-", i);
        long p1 = pos(f, s1), p2 = pos(f, s2);
        ordered &= p1 >= 0 && p2 > p1;
    }
    CHECK(ordered);
    CHECK(count(f->out, f->len, "<message") == 11);

    /* A single-recipient job queued behind a node job waits for it. */
    queue_items(&r, a, "third", "a3-");
    ps_notif_t *last = mk_notif("a", "last", "L-");
    ps_fo_one(fo, a, "new@example.org/r'1", last);
    ps_notif_unref(last);
    for (int i = 0; i < 20; i++)
        ps_fo_turn(fo);
    CHECK(pos(f, "id='L-1'") > pos(f, "to='u4@example.org' id='a3-"));
    /* The recipient's JID is escaped in the attribute. */
    CHECK(count(f->out, f->len, "to='new@example.org/r&apos;1'") == 1);
    rig_free(&r);
}

static void test_changes_during_walk(void)
{
    rig_t r;
    rig_init(&r, NULL, 3, 100000, 10, 0);
    ps_fo_t *fo = r.fo;
    fake_t *f = &r.f;
    ps_node_t *n = mk_node(r.m, "blog", 10);
    queue_items(&r, n, "i1", "p-");
    CHECK(ps_fo_turn(fo) == 3);
    /* Removed before its turn: skipped; added after the job began: not
     * part of this notification's audience. */
    ps_node_unsubscribe(n, "u9@example.org");
    ps_node_subscribe(n, "late@example.org", PS_SUB_SUBSCRIBED, 0);
    /* Pending subscriptions get nothing. */
    ps_node_subscribe(n, "u8@example.org", PS_SUB_PENDING, 0);
    for (int i = 0; i < 10; i++)
        ps_fo_turn(fo);
    CHECK(sent_to(f, "u9@example.org") == 0);
    CHECK(sent_to(f, "u8@example.org") == 0);
    CHECK(sent_to(f, "late@example.org") == 0);
    CHECK(count(f->out, f->len, "<message") == 8);

    /* Node deleted while its delete notification is being delivered:
     * the job keeps the node alive and completes. */
    ps_notif_opts_t o = {"pubsub.example.org", NULL, "d-"};
    ps_notif_t *del = ps_notif_delete(&o, "blog", "xmpp:pubsub.example.org?;node=new");
    ps_fo_node(fo, n, n, del);
    ps_notif_unref(del);
    ps_model_remove(r.m, n);
    CHECK(ps_model_find(r.m, "", "blog") == NULL);
    size_t before = count(f->out, f->len, "<delete");
    for (int i = 0; i < 10; i++)
        ps_fo_turn(fo);
    /* u0..u7 + late (subscribed, not pending) */
    CHECK(count(f->out, f->len, "<delete") - before == 9);
    CHECK(count(f->out, f->len, "<message") == 17);
    rig_free(&r);
}

/* 100,000 subscribers refused by a prune pass (the node just became a
 * whitelist) ahead of the one member: each turn examines at most
 * PS_FANOUT_SCAN_FACTOR x slice of them and delivers nothing, the job
 * stays queued meanwhile, and the member gets exactly one notification. */
static void test_refused_run(void)
{
    enum { N = 100000, SLICE = 1000 };
    rig_t r;
    rig_init(&r, NULL, SLICE, 1000000, 10, 0);
    ps_node_t *n = mk_node(r.m, "closed", N);
    ps_node_subscribe(n, "m@example.org", PS_SUB_SUBSCRIBED, 0);
    ps_node_set_affiliation(n, "m@example.org", PS_AFF_MEMBER);
    ps_node_config_t c;
    ps_config_copy(&c, ps_node_config(n));
    c.access = PS_ACCESS_WHITELIST;
    ps_node_set_config(n, &c);
    ps_config_clear(&c);
    CHECK(ps_node_prune(n, NULL) == 0);
    queue_items(&r, n, "i1", "p-");
    ps_fo_stats_t st;
    int turns = 0, empty = 0;
    size_t got = 0;
    do {
        size_t k = ps_fo_turn(r.fo);
        got += k;
        empty += k == 0;
        turns++;
        ps_fo_stats(r.fo, &st);
    } while (st.jobs && turns < N);
    CHECK(got == 1 && sent_to(&r.f, "m@example.org") == 1);
    CHECK(count(r.f.out ? r.f.out : "", r.f.len, "<message") == 1);
    /* Exactly the bound per turn: 4,000 entries, so 26 turns for 100,001. */
    CHECK(turns == (N + 1 + SLICE * PS_FANOUT_SCAN_FACTOR - 1) / (SLICE * PS_FANOUT_SCAN_FACTOR));
    CHECK(empty == turns - 1);
    CHECK(ps_fo_turn(r.fo) == 0);
    rig_free(&r);
}

static void test_free_with_jobs(void)
{
    rig_t r;
    rig_init(&r, NULL, 10, 100000, 10, 0);
    ps_node_t *n = mk_node(r.m, "blog", 100);
    for (int i = 0; i < 5; i++) {
        ps_notif_t *nt = mk_notif("blog", "i", "p-");
        ps_fo_node(r.fo, n, n, nt);
        ps_fo_one(r.fo, n, "x@example.org", nt);
        ps_notif_unref(nt);
    }
    ps_fo_turn(r.fo);
    ps_model_remove(r.m, n);
    /* Freeing with jobs pending ends their walks and drops their
     * templates (LeakSanitizer checks), then the model can go. */
    rig_free(&r);
    CHECK(1);
}

static void test_loop(void)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    rig_t r;
    rig_init(&r, loop, 700, 100000, 10, 0);
    ps_fo_t *fo = r.fo;
    ps_node_t *n = mk_node(r.m, "blog", 5000);
    queue_items(&r, n, "i1", "p-");
    /* One slice per loop iteration... */
    ev_run(loop, EVRUN_NOWAIT);
    ps_fo_stats_t st;
    ps_fo_stats(fo, &st);
    CHECK(st.delivered == 700);
    /* ...and the loop returns by itself once the work is done: the
     * engine stops its watchers when idle. */
    ev_run(loop, 0);
    ps_fo_stats(fo, &st);
    CHECK(st.delivered == 5000 && st.jobs == 0);

    /* Paused by the queue: the poll timer wakes the loop and delivery
     * resumes once the (fake) link drained. */
    r.f.queue = 200000;
    queue_items(&r, n, "i2", "q-");
    ev_run(loop, EVRUN_NOWAIT);
    ps_fo_stats(fo, &st);
    CHECK(st.paused == 1 && st.delivered == 5000);
    r.f.queue = 0;
    ev_run(loop, 0);
    ps_fo_stats(fo, &st);
    CHECK(st.delivered == 10000 && st.jobs == 0 && st.paused == 0);
    rig_free(&r);
    ev_loop_destroy(loop);
}

int main(void)
{
    ps_config_defaults_init(&defs);
    UNIT_RUN(test_slices);
    UNIT_RUN(test_backpressure);
    UNIT_RUN(test_several_links);
    UNIT_RUN(test_order);
    UNIT_RUN(test_changes_during_walk);
    UNIT_RUN(test_refused_run);
    UNIT_RUN(test_free_with_jobs);
    UNIT_RUN(test_loop);
    ps_config_defaults_clear(&defs);
    return UNIT_DONE();
}
