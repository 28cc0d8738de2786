/* Herald's PostgreSQL store: every persistent fact (nodes, their
 * configuration, affiliations, subscriptions, items, presence
 * subscriptions, the caps cache) reached through typed asynchronous
 * operations on the caller's libev loop.
 *
 * How it talks to PostgreSQL
 *   A pool of libpq connections in non-blocking pipeline mode, each socket
 *   watched by an ev_io; every statement is prepared once per connection
 *   and sent with bound parameters. No libpq call blocks after start-up:
 *   the only blocking connection is the one store_migrate_sync() opens,
 *   once, before the loop runs. Host names in the conninfo are resolved
 *   inside PQconnectStart (blocking getaddrinfo): give storage.postgres an
 *   IP address, a Unix socket directory, or a name from /etc/hosts.
 *
 * Contract of every operation
 *   - The callback fires exactly once, never before the starting call
 *     returns, on the loop thread. Data handed to a callback (strings,
 *     arrays, structs) lives until the callback returns: copy what you keep.
 *   - A write's callback reports STORE_OK only after its transaction's
 *     COMMIT succeeded. Writes are applied in submission order (one write
 *     transaction is in flight at a time) and the callbacks of successful
 *     writes fire in that order, so an in-memory cache updated in those
 *     callbacks follows the database. (A failed write's callback may come
 *     before those of writes submitted ahead of it that are being retried.)
 *   - A read submitted after a write's callback fired sees that write.
 *     Reads do not wait for writes still in flight.
 *
 * Group commit
 *   Writes submitted during one loop iteration (and those that queued while
 *   the previous write transaction was committing) go into one transaction,
 *   up to batch_max, as BEGIN; op…; COMMIT; Sync in one pipeline. When one
 *   write fails (SQL error, statement timeout), the transaction rolls back;
 *   that write's callback gets the error and the others are retried at
 *   once in a new transaction without it: one bad write never takes the
 *   others down, and none is acknowledged without its own COMMIT.
 *
 * Faults
 *   Connections that break are re-opened with exponential backoff
 *   (reconnect_min_ms .. reconnect_max_ms); herald keeps running.
 *   - Reads in flight are re-sent after reconnect (up to 3 attempts).
 *   - A write transaction in flight whose COMMIT outcome is unknown is
 *     resolved on reconnect: each write transaction also records its batch
 *     number in the row of this process in store_writers, so after
 *     reconnect one SELECT … FOR UPDATE (which waits for a still-running old
 *     transaction) tells whether it committed. Committed: callbacks get
 *     STORE_OK. Not committed: the writes are re-sent (up to 3 attempts).
 *     Unresolvable within queue_timeout_ms: STORE_EUNCERTAIN.
 *   - Requests submitted while no connection is up wait in a queue bounded
 *     by queue_max; each fails with STORE_EUNAVAILABLE when it waited
 *     queue_timeout_ms, and once the database has been unreachable for
 *     queue_timeout_ms new requests fail at once (fail fast).
 *   Nothing is dropped silently: every request ends in its callback.
 *
 * Caches
 *   Pubsub keeps node configuration, affiliations and subscribers in
 *   memory and updates them from the write callbacks (see ordering above).
 *   For several herald processes later: nodes.version is bumped by every
 *   configuration and affiliation change and subscriptions.changed_seq
 *   comes from a global sequence, so another process can poll for changes
 *   (or a NOTIFY can be added to the same statements).
 */
#ifndef HERALD_STORE_H
#define HERALD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ev_loop;
typedef struct store store_t;

/* Results. The pubsub layer maps them to XMPP errors (RFC 6120 §8.3):
 *
 *   code                 committed?   XMPP error
 *   STORE_OK             yes (write)  -
 *   STORE_ENOTFOUND      no change    cancel/item-not-found (where the op
 *                                     documents it; a result, not a fault)
 *   STORE_EEXISTS        no change    cancel/conflict (node create)
 *   STORE_EUNAVAILABLE   no           wait/resource-constraint
 *   STORE_ETIMEOUT       no           wait/resource-constraint
 *   STORE_ESHUTDOWN      no           wait/resource-constraint
 *   STORE_EUNCERTAIN     maybe        cancel/internal-server-error
 *   STORE_EDB            no           cancel/internal-server-error
 *   STORE_EINVAL         no           cancel/internal-server-error
 *                                     (a caller bug: bad argument)
 */
typedef enum {
    STORE_OK = 0,
    STORE_ENOTFOUND,    /* the node/item/row the op names does not exist */
    STORE_EEXISTS,      /* the node to create exists already */
    STORE_EUNAVAILABLE, /* database down, queue full or waited too long */
    STORE_ETIMEOUT,     /* statement_timeout_ms hit (rolled back) */
    STORE_ESHUTDOWN,    /* store_free() while the request waited */
    STORE_EUNCERTAIN,   /* the connection broke around COMMIT and the outcome
                           could not be established */
    STORE_EDB,          /* any other database error (rolled back) */
    STORE_EINVAL,       /* invalid argument */
} store_err_t;

const char *store_strerror(store_err_t err);

/* Options. Zero in any numeric field means "the default" (in brackets). */
typedef struct {
    const char *conninfo;          /* libpq conninfo; required (copied) */
    int pool_size;                 /* connections [2], 1..64 */
    unsigned statement_timeout_ms; /* SET statement_timeout [5000] */
    unsigned connect_timeout_ms;   /* per connection attempt [5000] */
    unsigned reconnect_min_ms;     /* first reconnect delay [200] */
    unsigned reconnect_max_ms;     /* backoff cap [10000] */
    unsigned queue_max;            /* requests waiting to be sent [65536] */
    unsigned queue_timeout_ms;     /* longest wait in that queue [10000] */
    unsigned batch_max;            /* writes per transaction [1024];
                                      1 = one transaction per write */
} store_opts_t;

/* Creates the store and starts connecting; returns at once (the pool
 * connects in the background; requests queue meanwhile). Returns NULL
 * with a one-line message in err when the options are invalid (e.g. a
 * conninfo libpq cannot parse). */
store_t *store_open(struct ev_loop *loop, const store_opts_t *opts, char *err,
                    size_t errlen);

/* Fails every request not yet answered (STORE_ESHUTDOWN; a write already
 * sent whose outcome is unknown: STORE_EUNCERTAIN), closes the
 * connections and frees the store. Never call it from a store callback.
 * For a clean stop, wait until store_busy() is 0 first. */
void store_free(store_t *st);

/* Requests not answered yet (queued, in flight, or unresolved). */
size_t store_busy(const store_t *st);
/* Connections ready to take requests. */
int store_connections_ready(const store_t *st);

/* Called when the first connection becomes ready (up=true) and when the
 * last ready one is lost (up=false), e.g. to (re)load caches. */
typedef void (*store_state_fn)(void *ud, bool up);
void store_on_state(store_t *st, store_state_fn fn, void *ud);

/* ---- Migrations (start-up only: blocking) --------------------------- */

/* Applies the schema migrations the database lacks, each in its own
 * transaction with its row in schema_version, under an advisory lock (two
 * herald processes never migrate at once). `schemas_dir` NULL: the
 * migrations embedded in the binary at build time (schemas/NNN_*.sql);
 * otherwise the NNN_*.sql files of that directory. A no-op when the
 * database is current.
 * Returns 0; or -1 with one line in err (no newline) when the database
 * cannot be reached, when its schema version is newer than the newest
 * migration known here (refused: nothing is changed), or when a migration
 * fails (rolled back; the line names the file and PostgreSQL's message).
 * Blocks: call it before the loop runs. If non-NULL, *version_out receives
 * the schema version after the call. */
int store_migrate_sync(const char *conninfo, const char *schemas_dir,
                       unsigned connect_timeout_ms, int *version_out,
                       char *err, size_t errlen);

/* Newest schema version embedded in this binary. */
int store_schema_version(void);

/* ---- Nodes ------------------------------------------------------------ */

/* max_items value meaning "max" (no per-node limit). */
#define STORE_MAX_ITEMS_MAX UINT32_MAX

/* A node's configuration (XEP-0060 §8.2 fields Herald honours, each an
 * explicit column) plus `extra`: any other field as alternating key,
 * value strings (a jsonb object in the table; a list-multi value is the
 * caller's own encoding of the list in one string). Enumerations are the
 * XEP's option values; the table's CHECK constraints enforce them. */
typedef struct {
    const char *title;              /* "" when unset */
    const char *description;
    const char *type;               /* pubsub#type (payload namespace) */
    uint32_t max_items;             /* STORE_MAX_ITEMS_MAX = "max" */
    uint32_t max_payload_size;      /* bytes; 0 = no per-node limit */
    bool persist_items;
    bool deliver_payloads;
    bool deliver_notifications;
    bool notify_retract;
    bool notify_delete;
    const char *send_last_published_item; /* never|on_sub|on_sub_and_presence */
    const char *access_model;       /* open|presence|roster|authorize|whitelist */
    const char *publish_model;      /* publishers|subscribers|open */
    const char *notification_type;  /* headline|normal */
    const char *const *extra;       /* key0, value0, key1, value1, ... */
    size_t nextra;                  /* number of strings (even) */
} store_node_config_t;

typedef struct {
    int64_t id;
    const char *owner;       /* "" = the service itself; else the bare JID
                                owning the PEP node */
    const char *name;
    const char *creator;     /* JID that created it, "" if none */
    int64_t created_us;      /* Unix time in microseconds */
    int64_t version;         /* bumped by configuration/affiliation changes */
    store_node_config_t config;
} store_node_t;

typedef void (*store_node_cb)(void *ctx, store_err_t err, const store_node_t *node);
typedef void (*store_nodes_cb)(void *ctx, store_err_t err, const store_node_t *nodes,
                               size_t n);
/* Completion of an operation whose only result is a number; what `value`
 * is depends on the operation (documented at each). */
typedef void (*store_done_cb)(void *ctx, store_err_t err, int64_t value);

/* Creates node (owner, name) with `cfg` (copied). A non-empty `creator`
 * also gets the owner affiliation, in the same transaction.
 * STORE_EEXISTS if (owner, name) exists. `node` is the created row. */
void store_node_create(store_t *st, const char *owner, const char *name,
                       const char *creator, const store_node_config_t *cfg,
                       store_node_cb cb, void *ctx);
/* Deletes the node with its items, affiliations and subscriptions.
 * value = 1; STORE_ENOTFOUND if no such node. */
void store_node_delete(store_t *st, int64_t node_id, store_done_cb cb, void *ctx);
/* STORE_ENOTFOUND if (owner, name) does not exist. */
void store_node_get(store_t *st, const char *owner, const char *name,
                    store_node_cb cb, void *ctx);
/* Replaces the configuration (version + 1). `node` is the updated row;
 * STORE_ENOTFOUND if no such node. */
void store_node_configure(store_t *st, int64_t node_id,
                          const store_node_config_t *cfg, store_node_cb cb,
                          void *ctx);
/* Nodes of one owner ("" = the service's), by name, after `after_name`
 * (NULL or "" = from the start), at most `limit` (0 = all). */
void store_node_list(store_t *st, const char *owner, const char *after_name,
                     size_t limit, store_nodes_cb cb, void *ctx);
/* Every node of every owner by id, id > after_id, at most `limit`
 * (0 = all): for loading caches in pages. */
void store_node_list_all(store_t *st, int64_t after_id, size_t limit,
                         store_nodes_cb cb, void *ctx);

/* ---- Affiliations ----------------------------------------------------- */

typedef enum {
    STORE_AFF_NONE = 0,
    STORE_AFF_OWNER,
    STORE_AFF_PUBLISHER,
    STORE_AFF_PUBLISH_ONLY,
    STORE_AFF_MEMBER,
    STORE_AFF_OUTCAST,
} store_aff_t;

/* XEP-0060 name ("owner", "publish-only", "none", ...). */
const char *store_aff_name(store_aff_t aff);

typedef struct {
    int64_t node_id;
    const char *node_owner;
    const char *node_name;
    const char *jid;
    store_aff_t aff;
} store_aff_entry_t;

typedef void (*store_affs_cb)(void *ctx, store_err_t err,
                              const store_aff_entry_t *affs, size_t n);

/* Sets `jid`'s affiliation (STORE_AFF_NONE removes it). value = the
 * node's new version; STORE_ENOTFOUND if no such node. */
void store_aff_set(store_t *st, int64_t node_id, const char *jid, store_aff_t aff,
                   store_done_cb cb, void *ctx);
/* n = 0 (none) or 1. */
void store_aff_get(store_t *st, int64_t node_id, const char *jid,
                   store_affs_cb cb, void *ctx);
/* Affiliations of a node ordered by jid, after `after_jid` (NULL = from
 * the start), at most `limit` (0 = all): page through large lists (one
 * callback carries one page, so a node with a million affiliations need
 * not arrive in one result). */
void store_aff_list_node(store_t *st, int64_t node_id, const char *after_jid, size_t limit,
                         store_affs_cb cb, void *ctx);
/* Affiliations of `jid` on the nodes of `owner` ("" = the service's). */
void store_aff_list_jid(store_t *st, const char *owner, const char *jid,
                        store_affs_cb cb, void *ctx);

/* ---- Subscriptions ---------------------------------------------------- */

typedef enum {
    STORE_SUB_NONE = 0,
    STORE_SUB_PENDING,
    STORE_SUB_UNCONFIGURED,
    STORE_SUB_SUBSCRIBED,
} store_sub_state_t;

const char *store_sub_state_name(store_sub_state_t s);

typedef struct {
    int64_t node_id;
    const char *node_owner;
    const char *node_name;
    const char *jid;
    const char *subid;                /* "" when the service uses none */
    store_sub_state_t state;
    const char *const *options;       /* key0, value0, ... (XEP-0060 §6.3) */
    size_t noptions;                  /* number of strings */
    int64_t changed_seq;              /* global change sequence */
} store_sub_t;

typedef void (*store_subs_cb)(void *ctx, store_err_t err, const store_sub_t *subs,
                              size_t n);

/* Creates or replaces subscription (node, jid, subid) with `state` (not
 * NONE: use store_sub_delete) and options (alternating key, value
 * strings; may be NULL/0). value = its changed_seq; STORE_ENOTFOUND if no
 * such node. */
void store_sub_set(store_t *st, int64_t node_id, const char *jid, const char *subid,
                   store_sub_state_t state, const char *const *options,
                   size_t noptions, store_done_cb cb, void *ctx);
/* Deletes (node, jid, subid), or every subscription of jid on the node
 * when subid is NULL. value = number deleted; STORE_ENOTFOUND if 0. */
void store_sub_delete(store_t *st, int64_t node_id, const char *jid,
                      const char *subid, store_done_cb cb, void *ctx);
/* Subscriptions of a node ordered by (jid, subid), after `after`'s
 * (jid, subid) (NULL = from the start), at most `limit` (0 = all): page
 * through large subscriber lists. */
void store_sub_list_node(store_t *st, int64_t node_id, const store_sub_t *after,
                         size_t limit, store_subs_cb cb, void *ctx);
/* Subscriptions of exactly `jid` on the nodes of `owner` ("" = service). */
void store_sub_list_jid(store_t *st, const char *owner, const char *jid,
                        store_subs_cb cb, void *ctx);

/* ---- Items ------------------------------------------------------------ */

typedef struct {
    const char *item_id;
    const char *publisher;
    const char *payload;   /* XML text of the item's payload; NULL if none */
    int64_t created_us;    /* first publication, Unix microseconds */
    int64_t updated_us;    /* last publication */
    int64_t seq;           /* global, increases with every (re)publication */
} store_item_t;

typedef void (*store_items_cb)(void *ctx, store_err_t err, const store_item_t *items,
                               size_t n);

/* Publishes (inserts or replaces) item `item_id` of the node and, in the
 * same transaction, deletes the oldest items beyond the node's max_items
 * as stored in the database. `payload` NULL = no payload. value = the
 * item's new seq; STORE_ENOTFOUND if no such node. */
void store_item_publish(store_t *st, int64_t node_id, const char *item_id,
                        const char *publisher, const char *payload,
                        store_done_cb cb, void *ctx);
/* value = 1; STORE_ENOTFOUND if no such item. */
void store_item_retract(store_t *st, int64_t node_id, const char *item_id,
                        store_done_cb cb, void *ctx);
/* Deletes every item of the node. value = number deleted. */
void store_item_purge(store_t *st, int64_t node_id, store_done_cb cb, void *ctx);

/* Which items store_items_get returns. Zero-initialise, then set:
 *   ids/nids      only these item ids (other fields ignored but ids_only);
 *   max           at most this many (0 = no limit);
 *   before_seq    only items with seq < before_seq (0 = no bound):
 *                 the cursor for the next (older) page;
 *   after_seq     only items with seq > after_seq;
 *   ids_only      leave payload NULL (disco#items of a node). */
typedef struct {
    const char *const *ids;
    size_t nids;
    size_t max;
    int64_t before_seq;
    int64_t after_seq;
    bool ids_only;
} store_items_query_t;

/* Items of a node, newest first (seq descending). An unknown node gives
 * STORE_OK with n = 0. */
void store_items_get(store_t *st, int64_t node_id, const store_items_query_t *q,
                     store_items_cb cb, void *ctx);

/* ---- Presence subscriptions (roster-less presence) ------------------- */

typedef struct {
    const char *local_jid;   /* JID at our domain that was subscribed to */
    const char *contact;     /* bare JID of the subscriber */
} store_presence_t;

typedef void (*store_presences_cb)(void *ctx, store_err_t err,
                                   const store_presence_t *rows, size_t n);

/* value = 1 if added, 0 if it existed. */
void store_presence_add(store_t *st, const char *local_jid, const char *contact,
                        store_done_cb cb, void *ctx);
/* value = 1 if removed, 0 if it did not exist. */
void store_presence_remove(store_t *st, const char *local_jid, const char *contact,
                           store_done_cb cb, void *ctx);
/* Rows of `local_jid` (NULL = of every local JID) ordered by
 * (local_jid, contact), after `after` (NULL = from the start), at most
 * `limit` (0 = all). */
void store_presence_list(store_t *st, const char *local_jid,
                         const store_presence_t *after, size_t limit,
                         store_presences_cb cb, void *ctx);

/* ---- Entity capabilities cache (XEP-0115 ver -> disco#info) ---------- */

typedef struct {
    const char *ver;
    const char *const *features;
    size_t nfeatures;
    const char *const *identities;  /* "category/type/lang/name" */
    size_t nidentities;
} store_caps_t;

typedef void (*store_caps_cb)(void *ctx, store_err_t err, const store_caps_t *caps);

/* STORE_ENOTFOUND (caps NULL) if `ver` is unknown. */
void store_caps_get(store_t *st, const char *ver, store_caps_cb cb, void *ctx);
/* Inserts or replaces. value = 0. */
void store_caps_put(store_t *st, const store_caps_t *caps, store_done_cb cb,
                    void *ctx);

/* ---- Introspection for tests ------------------------------------------ */

/* The prepared statements: name, SQL, and whether a hot path runs it (the
 * EXPLAIN test asserts no sequential scan in those). i < count. */
size_t store_statement_count(void);
const char *store_statement_name(size_t i);
const char *store_statement_sql(size_t i);
bool store_statement_hot(size_t i);

#endif
