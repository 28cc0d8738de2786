/* The data structures under presence: the contact table (checked against
 * a naive model under random operations), the string table and the caps
 * cache. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "component/caps_cache.h"
#include "component/presence_table.h"
#include "component/strhash.h"
#include "component/strtab.h"
#include "tests/unit/unit.h"

/* ---- strhash ---- */

static void test_strhash(void)
{
    strhash_key_t k1 = {1, 2}, k2 = {3, 4};
    uint64_t a = strhash(&k1, "alice@example.com", 17);
    CHECK(a == strhash(&k1, "alice@example.com", 17));
    CHECK(a != strhash(&k2, "alice@example.com", 17));
    CHECK(a != strhash(&k1, "alice@example.con", 17));
    CHECK(strhash(&k1, "", 0) != strhash(&k1, "a", 1));
    /* Lengths that differ only by trailing zero bytes hash differently. */
    CHECK(strhash(&k1, "abcdefgh\0", 9) != strhash(&k1, "abcdefgh", 8));
}

/* ---- strtab ---- */

static void test_strtab(void)
{
    strtab_t *t = strtab_new();
    int created;
    uint32_t a = strtab_intern(t, "a@x", 3, &created);
    CHECK(a != 0 && created == 1);
    CHECK(strtab_intern(t, "a@xyz", 3, &created) == a && created == 0);
    CHECK(strtab_refs(t, a) == 2);
    CHECK_STR(strtab_str(t, a), "a@x");
    uint32_t b = strtab_intern(t, "b@x", 3, NULL);
    CHECK(b != a && strtab_count(t) == 2);
    CHECK(strtab_find(t, "b@x", 3) == b);
    CHECK(strtab_find(t, "c@x", 3) == 0);
    CHECK(strtab_unref(t, a) == 1);
    CHECK(strtab_unref(t, a) == 0);
    CHECK(strtab_str(t, a) == NULL && strtab_count(t) == 1);
    CHECK(strtab_find(t, "a@x", 3) == 0);
    /* The id is recycled. */
    CHECK(strtab_intern(t, "c@x", 3, NULL) == a);

    /* Many strings, then remove every other one: lookups stay exact
     * across index growth and backward-shift deletions. */
    char buf[32];
    uint32_t ids[5000];
    for (int i = 0; i < 5000; i++) {
        int n = snprintf(buf, sizeof buf, "s%d", i);
        ids[i] = strtab_intern(t, buf, (size_t)n, NULL);
    }
    for (int i = 0; i < 5000; i += 2)
        strtab_unref(t, ids[i]);
    int bad = 0;
    for (int i = 0; i < 5000; i++) {
        int n = snprintf(buf, sizeof buf, "s%d", i);
        uint32_t id = strtab_find(t, buf, (size_t)n);
        if ((i % 2 == 0) ? id != 0 : id != ids[i])
            bad++;
    }
    CHECK(bad == 0);
    CHECK(strtab_count(t) == 2 + 2500);
    strtab_free(t);
}

/* ---- ptab against a model ---- */

#define NB 300
#define NR 4
#define NL 3

static int32_t model[NB][NR][NL]; /* caps id, or -1 when absent */
static const char *res_names[NR] = {"", "phone", "laptop", "Phone"};

static int bare_name(char *buf, int b)
{
    return snprintf(buf, 64, "user%d@example%d.org", b, b % 7);
}

static size_t model_full(void)
{
    size_t n = 0;
    for (int b = 0; b < NB; b++)
        for (int r = 0; r < NR; r++) {
            int any = 0;
            for (int l = 0; l < NL; l++)
                any |= model[b][r][l] >= 0;
            n += any;
        }
    return n;
}

static size_t model_bare(void)
{
    size_t n = 0;
    for (int b = 0; b < NB; b++) {
        int any = 0;
        for (int r = 0; r < NR; r++)
            for (int l = 0; l < NL; l++)
                any |= model[b][r][l] >= 0;
        n += any;
    }
    return n;
}

static int removed_count;
static void count_removed(const ptab_entry_t *e, void *ud)
{
    (void)e;
    (void)ud;
    removed_count++;
}

struct collect {
    int seen[NR][NL];
    int bad;
};

static void collect_entry(const ptab_entry_t *e, void *ud)
{
    struct collect *c = ud;
    int r = -1;
    for (int i = 0; i < NR; i++)
        if (strlen(res_names[i]) == e->res_len &&
            memcmp(res_names[i], e->res, e->res_len) == 0)
            r = i;
    if (r < 0 || e->local_id < 1 || e->local_id > NL) {
        c->bad++;
        return;
    }
    c->seen[r][e->local_id - 1] = (int)e->caps_id + 1;
}

static void test_ptab_model(void)
{
    ptab_t *t = ptab_new(64);
    memset(model, 0xff, sizeof model);
    srand(42);
    int bad = 0;
    char bare[64];
    for (int step = 0; step < 200000; step++) {
        int b = rand() % NB, r = rand() % NR, l = rand() % NL;
        int n = bare_name(bare, b);
        const char *res = res_names[r];
        int op = rand() % 10;
        if (op < 5) {
            uint32_t caps = (uint32_t)(rand() % 4), prev, changed;
            int exp_prev = 0, exp_changed = 0, existed = model[b][r][l] >= 0;
            for (int k = 0; k < NL; k++)
                if (model[b][r][k] >= 0) {
                    exp_prev = model[b][r][k];
                    exp_changed += model[b][r][k] != (int32_t)caps;
                }
            int rc = ptab_upsert(t, bare, (size_t)n, res, strlen(res),
                                 (uint32_t)l + 1, caps, &prev, &changed);
            if (rc != (existed ? PTAB_UPDATED : PTAB_ADDED) ||
                prev != (uint32_t)exp_prev || changed != (uint32_t)exp_changed)
                bad++;
            for (int k = 0; k < NL; k++)
                if (model[b][r][k] >= 0)
                    model[b][r][k] = (int32_t)caps;
            model[b][r][l] = (int32_t)caps;
        } else if (op < 8) {
            removed_count = 0;
            size_t got = ptab_remove(t, bare, (size_t)n, res, strlen(res),
                                     (uint32_t)l + 1, count_removed, NULL);
            int exp = model[b][r][l] >= 0;
            if (got != (size_t)exp || removed_count != exp)
                bad++;
            model[b][r][l] = -1;
        } else if (op < 9) {
            /* Whole contact, or every resource for one local. */
            int all = rand() % 2;
            int exp = 0;
            for (int rr = 0; rr < NR; rr++)
                for (int k = 0; k < NL; k++)
                    if (model[b][rr][k] >= 0 && (all || k == l)) {
                        exp++;
                        model[b][rr][k] = -1;
                    }
            size_t got = ptab_remove(t, bare, (size_t)n, NULL, 0,
                                     all ? 0 : (uint32_t)l + 1, NULL, NULL);
            if (got != (size_t)exp)
                bad++;
        } else {
            struct collect c = {0};
            ptab_each(t, bare, (size_t)n, NULL, 0, collect_entry, &c);
            for (int rr = 0; rr < NR; rr++)
                for (int k = 0; k < NL; k++)
                    if (c.seen[rr][k] != model[b][rr][k] + 1)
                        bad++;
            bad += c.bad;
            uint32_t caps;
            int found = ptab_find_full(t, bare, (size_t)n, res, strlen(res),
                                       &caps);
            int exp_found = 0;
            for (int k = 0; k < NL; k++)
                if (model[b][r][k] >= 0) {
                    exp_found = 1;
                    if (found && caps != (uint32_t)model[b][r][k])
                        bad++;
                }
            if (found != exp_found)
                bad++;
        }
        if (ptab_count_full(t) != model_full() ||
            ptab_count_bare(t) != model_bare())
            bad++;
    }
    CHECK(bad == 0);
    if (bad)
        fprintf(stderr, "  %d mismatches against the model\n", bad);

    /* Everything removed: the index shrinks back and nothing is found. */
    for (int b = 0; b < NB; b++) {
        int n = bare_name(bare, b);
        ptab_remove(t, bare, (size_t)n, NULL, 0, 0, NULL, NULL);
    }
    CHECK(ptab_count_full(t) == 0 && ptab_count_bare(t) == 0);
    CHECK(ptab_bytes(t) <= 64 * sizeof(void *));
    ptab_free(t);
}

static int n_full_seen;
static void count_full(const ptab_entry_t *e, void *ud)
{
    (void)e;
    (void)ud;
    n_full_seen++;
}

static void test_ptab_basics(void)
{
    ptab_t *t = ptab_new(3);
    uint32_t prev, changed;
    const char *b = "a@example.com";
    size_t bl = strlen(b);
    CHECK(ptab_upsert(t, b, bl, "r1", 2, 1, 5, &prev, &changed) == PTAB_ADDED);
    CHECK(prev == 0 && changed == 0);
    CHECK(ptab_upsert(t, b, bl, "r2", 2, 1, 0, &prev, &changed) == PTAB_ADDED);
    /* Same full JID, another local: shares r1's caps, moved together. */
    CHECK(ptab_upsert(t, b, bl, "r1", 2, 2, 6, &prev, &changed) == PTAB_ADDED);
    CHECK(prev == 5 && changed == 1);
    CHECK(ptab_count_full(t) == 2);
    n_full_seen = 0;
    CHECK(ptab_each_full(t, b, bl, count_full, NULL) == 2);
    CHECK(n_full_seen == 2);
    uint32_t caps = 0;
    CHECK(ptab_find_full(t, b, bl, "r1", 2, &caps) == 1 && caps == 6);
    CHECK(ptab_find_full(t, b, bl, "r", 1, &caps) == 0);
    CHECK(ptab_find_full(t, b, bl, "r12", 3, &caps) == 0);
    /* The limit refuses a fourth entry without changing anything. */
    CHECK(ptab_upsert(t, b, bl, "r3", 2, 1, 7, &prev, &changed) == PTAB_ELIMIT);
    CHECK(ptab_upsert(t, b, bl, "r1", 2, 3, 9, &prev, &changed) == PTAB_ELIMIT);
    CHECK(ptab_find_full(t, b, bl, "r1", 2, &caps) == 1 && caps == 6);
    CHECK(ptab_count_full(t) == 2);
    /* But updating an existing entry still works. */
    CHECK(ptab_upsert(t, b, bl, "r2", 2, 1, 8, &prev, &changed) == PTAB_UPDATED);
    CHECK(prev == 0 && changed == 1);
    CHECK(ptab_has_bare(t, b, bl));
    CHECK(!ptab_has_bare(t, "a@example.co", bl - 1));
    CHECK(ptab_remove(t, b, bl, "r1", 2, 0, NULL, NULL) == 2);
    CHECK(ptab_count_full(t) == 1);
    ptab_free(t);
}

/* ---- caps cache ---- */

static int waiter_n;
static char waiter_seen[256];
static void on_waiter(const char *key, void *ud)
{
    (void)ud;
    waiter_n++;
    strcat(waiter_seen, key);
    strcat(waiter_seen, ";");
}

static int keep_not_b(const char *key, void *ud)
{
    (void)ud;
    return strcmp(key, "b") != 0;
}

static void test_caps_cache(void)
{
    caps_cache_t *c = caps_cache_new(3);
    uint32_t a = caps_cache_get(c, "verA");
    CHECK(a != 0 && caps_cache_state(c, a) == CAPS_UNKNOWN);
    CHECK(caps_cache_has_feature(c, a, "x") == -1);
    CHECK(caps_cache_get(c, "verA") == a);
    caps_cache_set_pending(c, a);
    CHECK(caps_cache_state(c, a) == CAPS_PENDING);

    caps_cache_add_waiter(c, a, "b");
    caps_cache_add_waiter(c, a, "a");
    caps_cache_add_waiter(c, a, "b");
    caps_cache_add_waiter(c, a, "c");
    CHECK(caps_cache_waiter_count(c, a) == 4);
    caps_cache_filter_waiters(c, a, keep_not_b, NULL);
    CHECK(caps_cache_waiter_count(c, a) == 2);
    caps_cache_add_waiter(c, a, "a");

    const char *feats[] = {"urn:z", "urn:a", "urn:m", "urn:a"};
    CHECK(caps_cache_resolve(c, a, feats, 4) == 0);
    CHECK(caps_cache_state(c, a) == CAPS_RESOLVED);
    CHECK(caps_cache_feature_count(c, a) == 3);
    CHECK(caps_cache_has_feature(c, a, "urn:a") == 1);
    CHECK(caps_cache_has_feature(c, a, "urn:m") == 1);
    CHECK(caps_cache_has_feature(c, a, "urn:z") == 1);
    CHECK(caps_cache_has_feature(c, a, "urn:b") == 0);
    CHECK(caps_cache_has_feature(c, a, "") == 0);
    waiter_n = 0;
    waiter_seen[0] = '\0';
    caps_cache_drain_waiters(c, a, on_waiter, NULL);
    CHECK(waiter_n == 2);
    CHECK_STR(waiter_seen, "a;c;");
    CHECK(caps_cache_waiter_count(c, a) == 0);

    /* Unreferenced resolved entries stay cached... */
    caps_cache_unref(c, a);
    caps_cache_unref(c, a);
    CHECK(caps_cache_find(c, "verA") == a);
    CHECK(caps_cache_count(c) == 1);
    /* ...failed ones too (negative cache), with their culprit... */
    uint32_t f = caps_cache_get(c, "verF");
    caps_cache_fail(c, f, 77);
    CHECK(caps_cache_state(c, f) == CAPS_FAILED && caps_cache_culprit(c, f) == 77);
    caps_cache_unref(c, f);
    CHECK(caps_cache_find(c, "verF") == f);
    /* ...never-resolved ones are freed at once. */
    uint32_t u = caps_cache_get(c, "verU");
    caps_cache_unref(c, u);
    CHECK(caps_cache_find(c, "verU") == 0);
    CHECK(caps_cache_count(c) == 2);

    /* The bound evicts the least recently used unreferenced entry. */
    uint32_t b = caps_cache_get(c, "verB");
    CHECK(caps_cache_count(c) == 3);
    caps_cache_set_max(c, 2);
    CHECK(caps_cache_count(c) == 2);
    CHECK(caps_cache_find(c, "verA") == 0);
    CHECK(caps_cache_find(c, "verF") == f);
    /* Referenced entries are never evicted, even beyond the bound. */
    uint32_t d = caps_cache_get(c, "verD");
    uint32_t e = caps_cache_get(c, "verE");
    CHECK(caps_cache_count(c) == 3);
    CHECK(caps_cache_find(c, "verF") == 0);
    CHECK(caps_cache_state(c, b) == CAPS_UNKNOWN);
    CHECK(caps_cache_ver(c, d) && !strcmp(caps_cache_ver(c, d), "verD"));
    /* Re-referencing a cached entry takes it off the LRU list. */
    caps_cache_set_max(c, 10);
    CHECK(caps_cache_resolve(c, e, feats, 1) == 0);
    caps_cache_unref(c, e);
    caps_cache_ref(c, e);
    caps_cache_set_max(c, 0);
    CHECK(caps_cache_find(c, "verE") == e);
    caps_cache_unref(c, e);
    CHECK(caps_cache_find(c, "verE") == 0);
    caps_cache_free(c);
}

int main(void)
{
    UNIT_RUN(test_strhash);
    UNIT_RUN(test_strtab);
    UNIT_RUN(test_ptab_basics);
    UNIT_RUN(test_ptab_model);
    UNIT_RUN(test_caps_cache);
    return UNIT_DONE();
}
