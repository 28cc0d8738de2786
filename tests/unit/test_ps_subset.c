/* The subscriber set and the string map against naive models, under
 * random operations (fixed seed, so failures replay). */
#include "tests/unit/unit.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "pubsub/strmap.h"
#include "pubsub/subset.h"

#define POOL 300

static uint64_t rng = 88172645463325252ull;
static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

static char names[POOL][32];

/* Random puts (any state and subid), removals, lookups and walks against
 * a naive model. `deferred`: each walk that saw removals ends leaving
 * them to ps_subset_compact (as when they exceed PS_SUBSET_COMPACT_NOW;
 * forced on this small set), which runs a few entries at a time between
 * the other operations. Either way the set answers like the model and
 * ends compact. */
static void random_ops(int deferred)
{
    strtab_t *t = strtab_new();
    ps_subset_t s;
    ps_subset_init(&s);
    uint32_t state[POOL] = {0};
    uint64_t subid[POOL] = {0};
    ps_subset_iter_t it;
    int walking = 0, mismatches = 0, n_deferred = 0;

    for (int step = 0; step < 200000; step++) {
        uint32_t i = rnd(POOL), op = rnd(deferred ? 12 : 10);
        size_t len = strlen(names[i]);
        if (op < 4) {
            uint32_t st = 1 + rnd(3);
            uint64_t sid = rnd(5);
            if (ps_subset_put(&s, t, names[i], len, st, sid) == 0) {
                state[i] = st;
                subid[i] = sid;
            }
        } else if (op < 7) {
            int had = state[i] != 0;
            mismatches += ps_subset_del(&s, t, names[i], len) != had;
            state[i] = 0;
        } else if (op == 7) {
            uint32_t ids[16];
            if (!walking) {
                ps_subset_iter_begin(&s, &it);
                walking = 1;
            } else if (deferred || ps_subset_iter_next(&s, &it, ids, 16) == 0) {
                if (deferred && s.n_dead && !s.compacting) {
                    s.compacting = 1; /* iter_end then leaves the marks */
                    n_deferred++;
                }
                ps_subset_iter_end(&s, t, &it);
                walking = 0;
            }
        } else if (op == 8 && deferred) {
            size_t before = s.n;
            size_t used = ps_subset_compact(&s, t, 8);
            /* Within the budget; nothing moves while walked. */
            mismatches += used > 8 || (walking && (used != 0 || s.n != before));
        } else {
            const struct ps_sub_ent *e = ps_subset_get(&s, t, names[i], len);
            mismatches += state[i] ? !e || e->state != state[i] || e->subid != subid[i] : e != NULL;
        }
    }
    if (walking)
        ps_subset_iter_end(&s, t, &it);
    while (s.compacting)
        ps_subset_compact(&s, t, 7);
    CHECK(mismatches == 0);
    if (deferred)
        CHECK(n_deferred > 50); /* compactions started and finished */
    uint32_t live = 0, sub = 0;
    for (int i = 0; i < POOL; i++) {
        live += state[i] != 0;
        sub += state[i] == 3;
    }
    CHECK(ps_subset_count(&s) == live);
    CHECK(ps_subset_subscribed(&s) == sub);
    /* Compacted: no removed entries left, array as small as the live set. */
    CHECK(s.n == live);
    /* The set holds exactly one JID reference per entry. */
    CHECK(strtab_count(t) == live);
    ps_subset_clear(&s, t);
    CHECK(strtab_count(t) == 0);
    strtab_free(t);
}

static void test_subset_random(void)
{
    random_ops(0);
}

static void test_subset_deferred_compaction(void)
{
    random_ops(1);
}

/* Each subscriber present for a whole walk is visited exactly once, and
 * nobody removed before being reached is visited, whatever happens
 * between slices. */
static void test_subset_walk_exactly_once(void)
{
    strtab_t *t = strtab_new();
    ps_subset_t s;
    ps_subset_init(&s);
    int bad = 0;
    for (int round = 0; round < 50; round++) {
        int present[POOL] = {0}, stable[POOL], visits[POOL] = {0};
        for (int i = 0; i < POOL; i++)
            if (rnd(2)) {
                ps_subset_put(&s, t, names[i], strlen(names[i]), 3, 0);
                present[i] = 1;
            } else {
                ps_subset_del(&s, t, names[i], strlen(names[i]));
            }
        for (int i = 0; i < POOL; i++)
            stable[i] = present[i];
        ps_subset_iter_t it;
        ps_subset_iter_begin(&s, &it);
        uint32_t ids[5];
        size_t k;
        while ((k = ps_subset_iter_next(&s, &it, ids, 5)) > 0) {
            for (size_t j = 0; j < k; j++) {
                const char *str = strtab_str(t, ids[j]);
                int idx = atoi(str + 1);
                visits[idx]++;
                if (!present[idx])
                    bad++; /* delivered after removal */
            }
            for (int c = 0; c < 3; c++) {
                int i = (int)rnd(POOL);
                if (rnd(2)) {
                    ps_subset_put(&s, t, names[i], strlen(names[i]), 3, 0);
                    present[i] = 1;
                } else {
                    ps_subset_del(&s, t, names[i], strlen(names[i]));
                    present[i] = 0;
                    stable[i] = 0;
                }
            }
        }
        ps_subset_iter_end(&s, t, &it);
        for (int i = 0; i < POOL; i++) {
            bad += visits[i] > 1;
            bad += stable[i] && visits[i] != 1;
        }
    }
    CHECK(bad == 0);
    ps_subset_clear(&s, t);
    strtab_free(t);
}

/* A walk that ends with more removals than PS_SUBSET_COMPACT_NOW leaves
 * them to ps_subset_compact, which does them a budget at a time; a lost
 * mark (overflow) is found by the scan. */
static void test_subset_compaction_bounded(void)
{
    enum { N = 20000 };
    strtab_t *t = strtab_new();
    ps_subset_t s;
    ps_subset_init(&s);
    char jid[32];
    for (int i = 0; i < N; i++) {
        snprintf(jid, sizeof jid, "c%d@x", i);
        ps_subset_put(&s, t, jid, strlen(jid), 3, 0);
    }
    ps_subset_iter_t it;
    ps_subset_iter_begin(&s, &it);
    for (int i = 0; i < N; i += 2) {
        snprintf(jid, sizeof jid, "c%d@x", i);
        ps_subset_del(&s, t, jid, strlen(jid));
    }
    ps_subset_iter_end(&s, t, &it);
    CHECK(s.compacting == 1 && s.n == N);
    CHECK(ps_subset_count(&s) == N / 2 && ps_subset_subscribed(&s) == N / 2);
    /* Removals while compacting are marks too; lookups stay right. */
    CHECK(ps_subset_del(&s, t, "c1@x", 4) == 1);
    CHECK(ps_subset_get(&s, t, "c1@x", 4) == NULL);
    CHECK(ps_subset_get(&s, t, "c3@x", 4) != NULL);
    CHECK(s.n == N);
    int calls = 0;
    size_t most = 0;
    while (s.compacting) {
        size_t used = ps_subset_compact(&s, t, 500);
        most = used > most ? used : most;
        calls++;
    }
    CHECK(most <= 500);
    CHECK(calls >= (N / 2) / 500);
    CHECK(s.n == N / 2 - 1 && strtab_count(t) == N / 2 - 1);
    CHECK(ps_subset_get(&s, t, "c3@x", 4) != NULL && ps_subset_get(&s, t, "c2@x", 4) == NULL);

    /* Overflow: marks lost, the scan still finds every removal. */
    ps_subset_iter_begin(&s, &it);
    for (int i = 3; i < N; i += 4) {
        snprintf(jid, sizeof jid, "c%d@x", i);
        ps_subset_del(&s, t, jid, strlen(jid));
    }
    s.dead_overflow = 1;
    s.scan = UINT32_MAX;
    ps_subset_iter_end(&s, t, &it);
    CHECK(s.compacting == 1);
    while (s.compacting)
        ps_subset_compact(&s, t, 100);
    CHECK(s.n == N / 4 - 1 && ps_subset_count(&s) == N / 4 - 1); /* c1 went before */
    CHECK(ps_subset_get(&s, t, "c5@x", 4) != NULL && ps_subset_get(&s, t, "c7@x", 4) == NULL);
    for (uint32_t i = 0; i < s.n; i++)
        CHECK(ps_subset_at(&s, i)->state == 3);

    /* Released a budget at a time: references go with the entries. */
    int rounds = 0;
    while (s.n) {
        CHECK(ps_subset_release(&s, t, 1000) <= 1000);
        rounds++;
    }
    CHECK(rounds == (N / 4 - 1 + 999) / 1000);
    CHECK(strtab_count(t) == 0 && s.ents == NULL && s.index == NULL);
    strtab_free(t);
}

/* Flag bits above the state: live, not subscribed, skipped by walks; a
 * put replaces them. */
static void test_subset_flags(void)
{
    strtab_t *t = strtab_new();
    ps_subset_t s;
    ps_subset_init(&s);
    ps_subset_put(&s, t, "a@x", 3, 3, 0);
    ps_subset_put(&s, t, "b@x", 3, 3, 0);
    uint32_t pa = ps_subset_find_id(&s, strtab_find(t, "a@x", 3));
    CHECK(pa != 0);
    CHECK(ps_subset_find_id(&s, strtab_find(t, "zz", 2)) == 0);
    ps_subset_set_state(&s, pa - 1, 3 | 0x100);
    CHECK(ps_subset_count(&s) == 2 && ps_subset_subscribed(&s) == 1);
    ps_subset_iter_t it;
    uint32_t ids[4];
    ps_subset_iter_begin(&s, &it);
    CHECK(ps_subset_iter_next(&s, &it, ids, 4) == 1);
    CHECK(strcmp(strtab_str(t, ids[0]), "b@x") == 0);
    ps_subset_iter_end(&s, t, &it);
    CHECK(ps_subset_get(&s, t, "a@x", 3)->state == (3 | 0x100));
    ps_subset_put(&s, t, "a@x", 3, 3, 0);
    CHECK(ps_subset_subscribed(&s) == 2);
    ps_subset_set_state(&s, pa - 1, 1 | 0x100);
    CHECK(ps_subset_del(&s, t, "a@x", 3) == 1);
    CHECK(ps_subset_count(&s) == 1 && ps_subset_subscribed(&s) == 1);
    ps_subset_clear(&s, t);
    strtab_free(t);
}

static void test_strmap_random(void)
{
    ps_strmap_t *m = ps_strmap_new();
    uintptr_t val[POOL] = {0};
    int mismatches = 0;
    for (int step = 0; step < 200000; step++) {
        uint32_t i = rnd(POOL), op = rnd(3);
        size_t len = strlen(names[i]);
        if (op == 0) {
            uintptr_t v = 1 + rnd(1000);
            if (ps_strmap_put(m, names[i], len, (void *)v) == 0)
                val[i] = v;
        } else if (op == 1) {
            mismatches += (uintptr_t)ps_strmap_del(m, names[i], len) != val[i];
            val[i] = 0;
        } else {
            mismatches += (uintptr_t)ps_strmap_get(m, names[i], len) != val[i];
        }
    }
    CHECK(mismatches == 0);
    size_t live = 0, seen = 0;
    for (int i = 0; i < POOL; i++)
        live += val[i] != 0;
    CHECK(ps_strmap_count(m) == live);
    for (size_t i = 0; i < ps_strmap_count(m); i++) {
        const char *k;
        size_t len;
        void *v;
        ps_strmap_at(m, i, &k, &len, &v);
        int idx = atoi(k + 1);
        seen += strlen(k) == len && val[idx] == (uintptr_t)v;
    }
    CHECK(seen == live);
    /* Keys are bytes: embedded NULs and prefixes are distinct keys. */
    CHECK(ps_strmap_put(m, "a\0b", 3, (void *)1) == 0);
    CHECK(ps_strmap_put(m, "a", 1, (void *)2) == 0);
    CHECK((uintptr_t)ps_strmap_get(m, "a\0b", 3) == 1);
    CHECK((uintptr_t)ps_strmap_get(m, "a", 1) == 2);
    CHECK(ps_strmap_get(m, "a\0c", 3) == NULL);
    ps_strmap_free(m);
}

int main(void)
{
    for (int i = 0; i < POOL; i++)
        snprintf(names[i], sizeof names[i], "u%d@example.org/r", i);
    UNIT_RUN(test_subset_random);
    UNIT_RUN(test_subset_walk_exactly_once);
    UNIT_RUN(test_subset_deferred_compaction);
    UNIT_RUN(test_subset_compaction_bounded);
    UNIT_RUN(test_subset_flags);
    UNIT_RUN(test_strmap_random);
    return UNIT_DONE();
}
