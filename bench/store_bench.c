/* Items persisted per second through the async store.
 *
 *   store_bench group  N   N publishes submitted at once: group commit
 *                          (batch_max 1024), one write transaction in flight
 *   store_bench single N   the same with batch_max 1: one transaction (and
 *                          one fsync) per item
 *
 * Each publish is the store's real one: upsert of an ~850-byte Atom entry
 * plus the max_items trim, to one node. Needs PG_CONNINFO (a database it
 * may migrate and write to). Prints one line:
 *   store <mode>: N items in S s = R items/s (...) */
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "storage/store.h"

static int done, failed;
static int64_t node_id;

static void publish_cb(void *ctx, store_err_t err, int64_t value)
{
    (void)ctx;
    (void)value;
    done++;
    if (err != STORE_OK)
        failed++;
}

static void node_cb(void *ctx, store_err_t err, const store_node_t *node)
{
    (void)ctx;
    if (err == STORE_OK)
        node_id = node->id;
    else
        fprintf(stderr, "store_bench: node: %s\n", store_strerror(err));
    done = 1;
}

static void del_cb(void *ctx, store_err_t err, int64_t value)
{
    (void)ctx;
    (void)err;
    (void)value;
    done = 1;
}

static void wait_for(struct ev_loop *loop, int want)
{
    while (done < want)
        ev_run(loop, EVRUN_ONCE);
}

int main(int argc, char **argv)
{
    if (argc != 3 || (strcmp(argv[1], "group") && strcmp(argv[1], "single"))) {
        fprintf(stderr, "usage: %s group|single N\n", argv[0]);
        return 2;
    }
    bool group = strcmp(argv[1], "group") == 0;
    int n = atoi(argv[2]);
    const char *conninfo = getenv("PG_CONNINFO");
    if (!conninfo || n <= 0) {
        fprintf(stderr, "store_bench: PG_CONNINFO and N > 0 are needed\n");
        return 2;
    }
    char err[512];
    if (store_migrate_sync(conninfo, NULL, 5000, NULL, err, sizeof err) < 0) {
        fprintf(stderr, "store_bench: %s\n", err);
        return 1;
    }
    struct ev_loop *loop = EV_DEFAULT;
    store_opts_t o = {.conninfo = conninfo,
                      .pool_size = 2,
                      .batch_max = group ? 1024 : 1,
                      .queue_max = (unsigned)n + 16,
                      .queue_timeout_ms = 3600 * 1000};
    store_t *st = store_open(loop, &o, err, sizeof err);
    if (!st) {
        fprintf(stderr, "store_bench: %s\n", err);
        return 1;
    }

    /* A fresh node each run; no item limit, so every item is kept. */
    char name[64];
    snprintf(name, sizeof name, "bench-%s-%d", argv[1], (int)getpid());
    store_node_config_t cfg = {.title = "", .description = "",
                               .type = "http://www.w3.org/2005/Atom",
                               .max_items = STORE_MAX_ITEMS_MAX, .persist_items = true,
                               .deliver_payloads = true, .deliver_notifications = true,
                               .notify_retract = true, .notify_delete = true,
                               .send_last_published_item = "never", .access_model = "open",
                               .publish_model = "publishers",
                               .notification_type = "headline"};
    done = 0;
    store_node_create(st, "", name, "bench@example.org", &cfg, node_cb, NULL);
    wait_for(loop, 1);
    if (!node_id)
        return 1;

    char payload[1024];
    snprintf(payload, sizeof payload,
             "<entry xmlns='http://www.w3.org/2005/Atom'><title>Benchmark entry</title>"
             "<id>tag:example.org,2024:bench</id><updated>2024-01-01T00:00:00Z</updated>"
             "<author><name>Bench</name><uri>xmpp:bench@example.org</uri></author>"
             "<link rel='alternate' type='text/html' href='https://example.org/b'/>"
             "<content type='xhtml'><div xmlns='http://www.w3.org/1999/xhtml'>%s</div>"
             "</content></entry>",
             "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor "
             "incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis "
             "nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat. "
             "Duis aute irure dolor in reprehenderit in voluptate velit esse cillum dolore eu "
             "fugiat nulla pariatur. Excepteur sint occaecat cupidatat non proident, sunt.");

    ev_now_update(loop);
    ev_tstamp t0 = ev_time();
    done = failed = 0;
    for (int i = 0; i < n; i++) {
        char iid[32];
        snprintf(iid, sizeof iid, "item-%d", i);
        store_item_publish(st, node_id, iid, "bench@example.org", payload, publish_cb, NULL);
    }
    wait_for(loop, n);
    ev_tstamp secs = ev_time() - t0;
    printf("store %s: %d items in %.3f s = %.0f items/s (%s, pool 2, %zu-byte payload%s)\n",
           group ? "group-commit" : "one-transaction-per-item", n, secs, n / secs,
           group ? "batch_max 1024" : "batch_max 1", strlen(payload),
           failed ? ", SOME FAILED" : "");

    done = 0;
    store_node_delete(st, node_id, del_cb, NULL);
    wait_for(loop, 1);
    store_free(st);
    return failed ? 1 : 0;
}
