/* No sequential scan on a hot path: every statement storage/stmts.c marks
 * hot is planned (EXPLAIN EXECUTE of the very SQL the store prepares)
 * against tables filled with realistic volumes and skew, after ANALYZE,
 * both as the generic plan a prepared statement ends up with and as a
 * custom plan for typical arguments. enable_seqscan stays on: the
 * planner is free to choose a sequential scan, and the test fails if it
 * does (or if a keyset page of unsorted_pages sorts). Set
 * STORE_EXPLAIN_VERBOSE=1 to print every plan. */
#include "tests/integration/store_itest.h"

/* Typical arguments of each hot statement (node 1 is the big one). */
static const struct {
    const char *name;
    const char *args;
} samples[] = {
    {"h_node_create", "'', 'new-node', 'u1@example.org', 't', 'd', '', 10, 0, true, true, "
                      "true, true, true, 'never', 'open', 'publishers', 'headline', '{}'"},
    {"h_node_delete", "500"},
    {"h_node_get", "'owner17@example.org', 'node-3'"},
    {"h_node_configure", "500, 't', 'd', '', 10, 0, true, true, true, true, true, 'never', "
                         "'open', 'publishers', 'headline', '{}'"},
    {"h_node_list", "'', 'node-1000', 100"},
    {"h_node_list_all", "10000, 500"},
    {"h_aff_set", "500, 'u7@example.org', 'member'"},
    {"h_aff_delete", "500, 'u7@example.org'"},
    {"h_aff_get", "1, 'u7@example.org'"},
    {"h_aff_list_node", "1, 10000"},
    {"h_aff_list_node_after", "1, 'w50000@example.org', 10000"},
    {"h_aff_list_jid", "'', 'u7@example.org'"},
    {"h_sub_set", "1, 'u7@example.org', '', 'subscribed', '{}'"},
    {"h_sub_delete", "1, 'u7@example.org', ''"},
    {"h_sub_delete_jid", "1, 'u7@example.org'"},
    {"h_sub_list_node", "1, 1000"},
    {"h_sub_list_node_after", "1, 'u50000@example.org', '', 1000"},
    {"h_sub_list_jid", "'', 'u7@example.org'"},
    {"h_item_upsert", "1, 'item-77', 'p@example.org', '<entry/>'"},
    {"h_item_trim", "1"},
    {"h_item_retract", "1, 'item-77'"},
    {"h_item_purge", "500"},
    {"h_items_range", "1, 9223372036854775807, 0, 10"},
    {"h_items_range_ids", "1, 400000, 0, 100"},
    {"h_items_by_id", "1, '{item-5,item-6}', false"},
    {"h_pres_add", "'pubsub.example.org', 'c7@example.org'"},
    {"h_pres_remove", "'pubsub.example.org', 'c7@example.org'"},
    {"h_pres_list_local", "'pubsub.example.org', 'c100@example.org', 1000"},
    {"h_pres_list_all", "'pubsub.example.org', 'c100@example.org', 1000"},
    {"h_caps_get", "'ver-77'"},
    {"h_caps_put", "'ver-77', '{a,b}', '{client/pc//x}'"},
    {"h_writer_mark", "3, 77"},
};

static const char *POPULATE[] = {
    /* 20,000 nodes: 2,000 of the service, 18,000 PEP nodes of 2,000 owners;
     * node 1 is big (100,000 subscribers, 50,000 items). */
    "INSERT INTO nodes (owner_jid, name, max_items)"
    " SELECT CASE WHEN g <= 2000 THEN '' ELSE 'owner' || (g % 2000) || '@example.org' END,"
    "        'node-' || g, CASE WHEN g % 3 = 0 THEN NULL ELSE 100 END"
    " FROM generate_series(1, 20000) g",
    "INSERT INTO items (node_id, item_id, publisher, payload)"
    " SELECT 1, 'item-' || g, 'p@example.org', '<entry>' || g || '</entry>'"
    " FROM generate_series(1, 50000) g",
    "INSERT INTO items (node_id, item_id, publisher, payload)"
    " SELECT 2 + g % 5000, 'item-' || g, 'p@example.org', '<entry/>'"
    " FROM generate_series(1, 150000) g",
    "INSERT INTO affiliations (node_id, jid, affiliation)"
    " SELECT 1 + g % 20000, 'u' || g || '@example.org',"
    "        (ARRAY['owner','publisher','member','outcast'])[1 + g % 4]"
    " FROM generate_series(1, 50000) g",
    /* ...and 100,000 affiliations, paged through at start-up. */
    "INSERT INTO affiliations (node_id, jid, affiliation)"
    " SELECT 1, 'w' || g || '@example.org', 'member' FROM generate_series(1, 100000) g",
    "INSERT INTO subscriptions (node_id, jid, subid, state)"
    " SELECT 1, 'u' || g || '@example.org', '', 'subscribed' FROM generate_series(1, 100000) g",
    "INSERT INTO subscriptions (node_id, jid, subid, state)"
    " SELECT 2 + g % 19000, 'v' || g || '@example.org', '', 'subscribed'"
    " FROM generate_series(1, 100000) g",
    "INSERT INTO presence_subscriptions (local_jid, contact)"
    " SELECT CASE WHEN g % 10 = 0 THEN 'pubsub.example.org'"
    "        ELSE 'owner' || (g % 2000) || '@example.org' END, 'c' || g || '@example.org'"
    " FROM generate_series(1, 50000) g",
    "INSERT INTO caps (ver, features, identities)"
    " SELECT 'ver-' || g, ARRAY['urn:a', 'urn:b' || g], ARRAY['client/pc//x']"
    " FROM generate_series(1, 5000) g",
    "INSERT INTO store_writers (batch) SELECT g FROM generate_series(1, 20) g",
    "ANALYZE nodes, items, affiliations, subscriptions, presence_subscriptions, caps,"
    " store_writers",
};

/* Keyset pages whose plan must not sort either: a Sort under the LIMIT
 * reads every row of the node for each page (quadratic over a load). */
static const char *const unsorted_pages[] = {"h_aff_list_node", "h_aff_list_node_after"};

static bool must_not_sort(const char *name)
{
    for (size_t i = 0; i < sizeof unsorted_pages / sizeof unsorted_pages[0]; i++)
        if (strcmp(unsorted_pages[i], name) == 0)
            return true;
    return false;
}

/* Returns the plan's sequential scans, plus its sorts where
 * must_not_sort(name); -1 when EXPLAIN failed. */
static int explain(const char *name, const char *sql, const char *args, const char *mode)
{
    char buf[256];
    snprintf(buf, sizeof buf, "SET plan_cache_mode = %s", mode);
    t_exec(buf);
    char *q = malloc(strlen(name) + strlen(args) + 64);
    sprintf(q, "EXPLAIN EXECUTE %s(%s)", name, args);
    PGresult *r = PQexec(T_DB, q);
    free(q);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "  %s: %s", name, PQresultErrorMessage(r));
        PQclear(r);
        return -1;
    }
    int seq = 0, sorts = 0;
    bool verbose = getenv("STORE_EXPLAIN_VERBOSE") != NULL;
    for (int i = 0; i < PQntuples(r); i++) {
        if (strstr(PQgetvalue(r, i, 0), "Seq Scan"))
            seq++;
        if (must_not_sort(name) && strstr(PQgetvalue(r, i, 0), "Sort"))
            sorts++;
    }
    if (seq || sorts || verbose) {
        fprintf(stderr, "  -- %s (%s)%s%s\n", name, mode, seq ? ": SEQUENTIAL SCAN" : "",
                sorts ? ": SORT" : "");
        for (int i = 0; i < PQntuples(r); i++)
            fprintf(stderr, "     %s\n", PQgetvalue(r, i, 0));
    }
    (void)sql;
    PQclear(r);
    return seq + sorts;
}

static void test_hot_statements_use_indexes(void)
{
    for (size_t i = 0; i < sizeof POPULATE / sizeof POPULATE[0]; i++)
        CHECK(t_exec(POPULATE[i]) == 0);
    CHECK(t_scalar("SELECT count(*) FROM subscriptions WHERE node_id = 1", 0) == 100000);
    int hot = 0, bad = 0;
    for (size_t i = 0; i < store_statement_count(); i++) {
        if (!store_statement_hot(i))
            continue;
        hot++;
        const char *name = store_statement_name(i);
        const char *args = NULL;
        for (size_t k = 0; k < sizeof samples / sizeof samples[0]; k++)
            if (strcmp(samples[k].name, name) == 0)
                args = samples[k].args;
        if (!args) {
            fprintf(stderr, "  %s: hot statement without sample arguments in this test\n",
                    name);
            CHECK(args != NULL);
            continue;
        }
        char *prep = malloc(strlen(name) + strlen(store_statement_sql(i)) + 32);
        sprintf(prep, "PREPARE %s AS %s", name, store_statement_sql(i));
        int ok = t_exec(prep);
        free(prep);
        CHECK(ok == 0);
        if (ok)
            continue;
        int g = explain(name, store_statement_sql(i), args, "force_generic_plan");
        int c = explain(name, store_statement_sql(i), args, "force_custom_plan");
        if (g || c)
            fprintf(stderr, "  %s: %d/%d sequential scans or sorts (generic/custom)\n", name,
                    g, c);
        CHECK(g == 0);
        CHECK(c == 0);
        bad += g || c;
    }
    CHECK(hot == (int)(sizeof samples / sizeof samples[0]));
    fprintf(stderr,
            "  %d hot statements, %d with a sequential scan or a forbidden sort"
            " (generic or custom plan)\n",
            hot, bad);
}

int main(void)
{
    t_setup("explain");
    CHECK(t_migrate() == store_schema_version());
    T_DB = t_connect();
    UNIT_RUN(test_hot_statements_use_indexes);
    t_teardown();
    return UNIT_DONE();
}
