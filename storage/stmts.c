/* Every SQL statement Herald runs after start-up. Each is prepared once
 * per connection (PQsendPrepare) and executed with bound parameters only:
 * no client-supplied value is ever spliced into SQL text. Parameter and
 * column order is what store_*.c reads; keep them in step. */
#include "storage/store_int.h"

#include <stddef.h>

/* Unix microseconds: callers format XEP-0082 stamps themselves. */
#define EPOCH_US(col) "(extract(epoch FROM " col ") * 1000000)::int8"

/* A jsonb object as alternating key, value text[] (sorted by key): the C
 * side never parses JSON. */
#define JSONB_KV(col)                                                         \
    "ARRAY(SELECT u.x FROM jsonb_each_text(" col ") AS e(k, v), "             \
    "unnest(ARRAY[e.k, e.v]) WITH ORDINALITY AS u(x, o) ORDER BY e.k, u.o)"

/* Columns of a node row, read by store_nodes.c node_from_row(). */
#define NODE_COLS                                                              \
    "id, owner_jid, name, creator, " EPOCH_US("created_at") ", version, "     \
    "title, description, payload_type, max_items, max_payload_size, "         \
    "persist_items, deliver_payloads, deliver_notifications, notify_retract, " \
    "notify_delete, send_last_published_item, access_model, publish_model, "  \
    "notification_type, " JSONB_KV("extra")

#define NODE_SELECT "SELECT " NODE_COLS " FROM nodes"

#define AFF_COLS "a.node_id, n.owner_jid, n.name, a.jid, a.affiliation"
#define AFF_SELECT                                                             \
    "SELECT " AFF_COLS " FROM affiliations a JOIN nodes n ON n.id = a.node_id"

#define SUB_COLS                                                               \
    "s.node_id, n.owner_jid, n.name, s.jid, s.subid, s.state, "               \
    JSONB_KV("s.options") ", s.changed_seq"
#define SUB_SELECT                                                             \
    "SELECT " SUB_COLS " FROM subscriptions s JOIN nodes n ON n.id = s.node_id"

#define ITEM_COLS(payload)                                                     \
    "item_id, publisher, " payload ", " EPOCH_US("created_at") ", "           \
    EPOCH_US("updated_at") ", seq"
/* $1 node, $2 seq upper bound (exclusive), $3 lower bound (exclusive),
 * $4 limit (NULL = all) */
#define ITEMS_RANGE(payload)                                                   \
    "SELECT " ITEM_COLS(payload) " FROM items"                                \
    " WHERE node_id = $1 AND seq < $2 AND seq > $3 ORDER BY seq DESC LIMIT $4"

/* Bumps the node's version, which also locks it against a concurrent
 * delete: no node, no row in n. */
#define NODE_BUMP(returning)                                                   \
    "WITH n AS (UPDATE nodes SET version = version + 1 WHERE id = $1"         \
    "  RETURNING " returning "),"

const stmt_def_t stmt_defs[STMT__COUNT] = {
    /* $1 owner, $2 name, $3 creator, $4..$18 configuration (see
     * store_nodes.c config_params). A conflict returns no row. */
    [STMT_NODE_CREATE] = {"h_node_create",
        "WITH n AS ("
        " INSERT INTO nodes (owner_jid, name, creator, title, description,"
        "  payload_type, max_items, max_payload_size, persist_items,"
        "  deliver_payloads, deliver_notifications, notify_retract,"
        "  notify_delete, send_last_published_item, access_model,"
        "  publish_model, notification_type, extra)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,"
        "  $15, $16, $17, jsonb_object($18::text[]))"
        " ON CONFLICT (owner_jid, name) DO NOTHING RETURNING *),"
        " a AS (INSERT INTO affiliations (node_id, jid, affiliation)"
        "  SELECT id, creator, 'owner' FROM n WHERE creator <> '')"
        " SELECT " NODE_COLS " FROM n", true},
    [STMT_NODE_DELETE] = {"h_node_delete", "DELETE FROM nodes WHERE id = $1", true},
    [STMT_NODE_GET] = {"h_node_get",
        NODE_SELECT " WHERE owner_jid = $1 AND name = $2", true},
    /* $1 id, $2..$16 configuration */
    [STMT_NODE_CONFIGURE] = {"h_node_configure",
        "UPDATE nodes SET title = $2, description = $3, payload_type = $4,"
        " max_items = $5, max_payload_size = $6, persist_items = $7,"
        " deliver_payloads = $8, deliver_notifications = $9,"
        " notify_retract = $10, notify_delete = $11,"
        " send_last_published_item = $12, access_model = $13,"
        " publish_model = $14, notification_type = $15,"
        " extra = jsonb_object($16::text[]), version = version + 1"
        " WHERE id = $1 RETURNING " NODE_COLS, true},
    /* $1 owner, $2 after name, $3 limit (NULL = all) */
    [STMT_NODE_LIST] = {"h_node_list",
        NODE_SELECT " WHERE owner_jid = $1 AND name > $2 ORDER BY name LIMIT $3", true},
    [STMT_NODE_LIST_ALL] = {"h_node_list_all",
        NODE_SELECT " WHERE id > $1 ORDER BY id LIMIT $2", true},

    /* The node row is updated first (NODE_BUMP). No node, no row. */
    [STMT_AFF_SET] = {"h_aff_set",
        NODE_BUMP("id, version")
        " a AS (INSERT INTO affiliations (node_id, jid, affiliation)"
        "  SELECT id, $2::text, $3::text FROM n"
        "  ON CONFLICT (node_id, jid) DO UPDATE SET affiliation = EXCLUDED.affiliation)"
        " SELECT version FROM n", true},
    [STMT_AFF_DELETE] = {"h_aff_delete",
        NODE_BUMP("version")
        " d AS (DELETE FROM affiliations WHERE node_id = $1 AND jid = $2)"
        " SELECT version FROM n", true},
    [STMT_AFF_GET] = {"h_aff_get",
        AFF_SELECT " WHERE a.node_id = $1 AND a.jid = $2", true},
    /* Keyset pages by jid: each page is an index scan in jid order (the
     * primary key (node_id, jid), or the jid index for a node holding most
     * rows) that starts at the cursor and stops at the limit, never a
     * sort of the node's rows. $1 node, $2 limit (NULL = all) */
    [STMT_AFF_LIST_NODE] = {"h_aff_list_node",
        AFF_SELECT " WHERE a.node_id = $1 ORDER BY a.jid LIMIT $2", true},
    /* $1 node, $2 after jid, $3 limit */
    [STMT_AFF_LIST_NODE_AFTER] = {"h_aff_list_node_after",
        AFF_SELECT " WHERE a.node_id = $1 AND a.jid > $2 ORDER BY a.jid LIMIT $3", true},
    /* $1 owner, $2 jid */
    [STMT_AFF_LIST_JID] = {"h_aff_list_jid",
        AFF_SELECT " WHERE a.jid = $2 AND n.owner_jid = $1 ORDER BY n.name", true},

    /* $1 node, $2 jid, $3 subid, $4 state, $5 options text[] */
    [STMT_SUB_SET] = {"h_sub_set",
        "INSERT INTO subscriptions (node_id, jid, subid, state, options)"
        " SELECT id, $2::text, $3::text, $4::text, jsonb_object($5::text[])"
        " FROM nodes WHERE id = $1"
        " ON CONFLICT (node_id, jid, subid) DO UPDATE SET state = EXCLUDED.state,"
        "  options = EXCLUDED.options, changed_seq = nextval('change_seq')"
        " RETURNING changed_seq", true},
    [STMT_SUB_DELETE] = {"h_sub_delete",
        "DELETE FROM subscriptions WHERE node_id = $1 AND jid = $2 AND subid = $3",
        true},
    [STMT_SUB_DELETE_JID] = {"h_sub_delete_jid",
        "DELETE FROM subscriptions WHERE node_id = $1 AND jid = $2", true},
    /* $1 node, $2 limit */
    [STMT_SUB_LIST_NODE] = {"h_sub_list_node",
        SUB_SELECT " WHERE s.node_id = $1 ORDER BY s.jid, s.subid LIMIT $2", true},
    /* $1 node, $2 after jid, $3 after subid, $4 limit */
    [STMT_SUB_LIST_NODE_AFTER] = {"h_sub_list_node_after",
        SUB_SELECT " WHERE s.node_id = $1 AND (s.jid, s.subid) > ($2::text, $3::text)"
        " ORDER BY s.jid, s.subid LIMIT $4", true},
    /* $1 owner, $2 jid */
    [STMT_SUB_LIST_JID] = {"h_sub_list_jid",
        SUB_SELECT " WHERE s.jid = $2 AND n.owner_jid = $1 ORDER BY n.name, s.subid", true},

    /* $1 node, $2 item id, $3 publisher, $4 payload. No node, no row. A
     * republished item moves to the newest position (new seq). */
    [STMT_ITEM_UPSERT] = {"h_item_upsert",
        "INSERT INTO items (node_id, item_id, publisher, payload)"
        " SELECT id, $2::text, $3::text, $4::text FROM nodes WHERE id = $1"
        " ON CONFLICT (node_id, item_id) DO UPDATE SET publisher = EXCLUDED.publisher,"
        "  payload = EXCLUDED.payload, updated_at = now(),"
        "  seq = nextval('items_seq')"
        " RETURNING seq", true},
    /* Keeps the node's newest max_items. Runs after the upsert in the same
     * transaction, so it counts the new item. Its cost is an index walk
     * over min(items, max_items) entries: a node without a limit (NULL) is
     * skipped by the one-time EXISTS filter, and pg_pool.c sends one trim
     * per node and transaction, not one per publish. */
    [STMT_ITEM_TRIM] = {"h_item_trim",
        "DELETE FROM items WHERE node_id = $1"
        " AND EXISTS (SELECT 1 FROM nodes WHERE id = $1 AND max_items IS NOT NULL)"
        " AND seq <= ("
        "  SELECT i.seq FROM items i WHERE i.node_id = $1 ORDER BY i.seq DESC"
        "  OFFSET (SELECT max_items FROM nodes WHERE id = $1) LIMIT 1)", true},
    [STMT_ITEM_RETRACT] = {"h_item_retract",
        "DELETE FROM items WHERE node_id = $1 AND item_id = $2", true},
    [STMT_ITEM_PURGE] = {"h_item_purge", "DELETE FROM items WHERE node_id = $1", true},
    [STMT_ITEMS_RANGE] = {"h_items_range", ITEMS_RANGE("payload"), true},
    [STMT_ITEMS_RANGE_IDS] = {"h_items_range_ids", ITEMS_RANGE("NULL::text"), true},
    /* $1 node, $2 ids text[], $3 ids only */
    [STMT_ITEMS_BY_ID] = {"h_items_by_id",
        "SELECT " ITEM_COLS("CASE WHEN $3::bool THEN NULL ELSE payload END")
        " FROM items WHERE node_id = $1 AND item_id = ANY ($2::text[])"
        " ORDER BY seq DESC", true},

    [STMT_PRES_ADD] = {"h_pres_add",
        "INSERT INTO presence_subscriptions (local_jid, contact) VALUES ($1, $2)"
        " ON CONFLICT DO NOTHING", true},
    [STMT_PRES_REMOVE] = {"h_pres_remove",
        "DELETE FROM presence_subscriptions WHERE local_jid = $1 AND contact = $2",
        true},
    /* $1 local, $2 after contact, $3 limit */
    [STMT_PRES_LIST_LOCAL] = {"h_pres_list_local",
        "SELECT local_jid, contact FROM presence_subscriptions"
        " WHERE local_jid = $1 AND contact > $2 ORDER BY contact LIMIT $3", true},
    /* $1 after local, $2 after contact, $3 limit */
    [STMT_PRES_LIST_ALL] = {"h_pres_list_all",
        "SELECT local_jid, contact FROM presence_subscriptions"
        " WHERE (local_jid, contact) > ($1::text, $2::text)"
        " ORDER BY local_jid, contact LIMIT $3", true},

    [STMT_CAPS_GET] = {"h_caps_get",
        "SELECT ver, features, identities FROM caps WHERE ver = $1", true},
    [STMT_CAPS_PUT] = {"h_caps_put",
        "INSERT INTO caps (ver, features, identities)"
        " VALUES ($1, $2::text[], $3::text[])"
        " ON CONFLICT (ver) DO UPDATE SET features = EXCLUDED.features,"
        "  identities = EXCLUDED.identities, updated_at = now()", true},

    /* Once per process (and after its row vanished): rows of processes
     * silent for a week are dropped on the way. */
    [STMT_WRITER_REGISTER] = {"h_writer_register",
        "WITH old AS (DELETE FROM store_writers"
        "  WHERE updated_at < now() - interval '7 days')"
        " INSERT INTO store_writers DEFAULT VALUES RETURNING id", false},
    /* $1 writer, $2 batch: inside every write transaction */
    [STMT_WRITER_MARK] = {"h_writer_mark",
        "INSERT INTO store_writers (id, batch) VALUES ($1, $2)"
        " ON CONFLICT (id) DO UPDATE SET batch = EXCLUDED.batch, updated_at = now()",
        true},
    /* FOR UPDATE waits for an old transaction of ours still running on a
     * backend whose client connection we lost: the answer is then final.
     * Not hot: it runs after a lost connection, on a table of one row per
     * herald process (one page, which the planner rightly reads whole). */
    [STMT_WRITER_RESOLVE] = {"h_writer_resolve",
        "SELECT batch FROM store_writers WHERE id = $1 FOR UPDATE", false},
    [STMT_BEGIN] = {"h_begin", "BEGIN", false},
    [STMT_COMMIT] = {"h_commit", "COMMIT", false},
    [STMT_ROLLBACK] = {"h_rollback", "ROLLBACK", false},
    /* Not prepared: sent as the connection's first statement. */
    [STMT_SET_TIMEOUT] = {NULL, "SELECT set_config('statement_timeout', $1, false)",
        false},
};

size_t store_statement_count(void) { return STMT__COUNT; }

const char *store_statement_name(size_t i)
{
    return i < STMT__COUNT && stmt_defs[i].name ? stmt_defs[i].name : "";
}

const char *store_statement_sql(size_t i)
{
    return i < STMT__COUNT ? stmt_defs[i].sql : "";
}

bool store_statement_hot(size_t i) { return i < STMT__COUNT && stmt_defs[i].hot; }
