/* The per-JID token bucket: burst, refill at the rate, independence of
 * JIDs, "unlimited", and the sweep that bounds memory. */
#include "tests/unit/unit.h"

#include "pubsub/ratelimit.h"

static void test_burst_and_refill(void)
{
    ps_rl_t *rl = ps_rl_new(10, 5); /* 10/s, bursts of 5 */
    int ok = 0;
    for (int i = 0; i < 8; i++)
        ok += ps_rl_take(rl, "a@example.org", 100.0);
    CHECK(ok == 5);
    /* Another JID has its own bucket. */
    CHECK(ps_rl_take(rl, "b@example.org", 100.0) == 1);
    /* 0.125 s later one token is back (1.25), not two. */
    CHECK(ps_rl_take(rl, "a@example.org", 100.125) == 1);
    CHECK(ps_rl_take(rl, "a@example.org", 100.125) == 0);
    /* Sustained at the rate: allowed. */
    ok = 0;
    for (int i = 1; i <= 50; i++)
        ok += ps_rl_take(rl, "a@example.org", 100.125 + i * 0.1);
    CHECK(ok == 50);
    /* Twice the rate: about half refused. */
    ok = 0;
    for (int i = 1; i <= 100; i++)
        ok += ps_rl_take(rl, "a@example.org", 105.1 + i * 0.05);
    CHECK(ok >= 49 && ok <= 52);
    /* A clock that goes back refills nothing and does not crash. */
    CHECK(ps_rl_take(rl, "c@example.org", 50.0) == 1);
    ps_rl_free(rl);
}

static void test_unlimited(void)
{
    ps_rl_t *rl = ps_rl_new(0, 1);
    int ok = 0;
    for (int i = 0; i < 1000; i++)
        ok += ps_rl_take(rl, "a@example.org", 1.0);
    CHECK(ok == 1000);
    CHECK(ps_rl_count(rl) == 0);
    ps_rl_free(rl);
}

static void test_sweep(void)
{
    ps_rl_t *rl = ps_rl_new(100, 200);
    char jid[64];
    for (int i = 0; i < 1000; i++) {
        snprintf(jid, sizeof jid, "u%d@example.org", i);
        ps_rl_take(rl, jid, 10.0);
    }
    CHECK(ps_rl_count(rl) == 1000);
    /* One token spent each: full again after 10 ms. */
    CHECK(ps_rl_sweep(rl, 10.0) == 0);
    for (int i = 0; i < 300; i++)
        ps_rl_take(rl, "busy@example.org", 10.005);
    CHECK(ps_rl_sweep(rl, 10.02) == 1000);
    CHECK(ps_rl_count(rl) == 1);
    /* The busy one is forgotten once refilled (200 tokens at 100/s). */
    CHECK(ps_rl_sweep(rl, 12.1) == 1);
    CHECK(ps_rl_count(rl) == 0);
    /* A forgotten JID starts with a full bucket. */
    int ok = 0;
    for (int i = 0; i < 300; i++)
        ok += ps_rl_take(rl, "busy@example.org", 13.0);
    CHECK(ok == 200);
    ps_rl_free(rl);
}

int main(void)
{
    UNIT_RUN(test_burst_and_refill);
    UNIT_RUN(test_unlimited);
    UNIT_RUN(test_sweep);
    return UNIT_DONE();
}
