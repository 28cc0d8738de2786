/* storage/ internals shared by its files; not for other modules (they use
 * storage/store.h).
 *
 * Pieces:
 *   stmts.c     the SQL of every prepared statement
 *   sop.c       a request ("op"): its statements, copied parameters,
 *               result memory, completion
 *   pg_conn.c   one libpq connection on the loop: connect, prepare,
 *               send segments in pipeline mode, read results
 *   pg_pool.c   the store: queues, dispatch, group commit, expiry
 *   pg_results.c  results, Syncs and lost connections applied to ops:
 *               commit, blame-and-retry, re-send, outcome resolution
 *   store_*.c   the typed operations of store.h
 *   migrate.c   start-up migrations (blocking, before the loop)
 *
 * Vocabulary: a "segment" is what is sent between two pipeline Syncs.
 * A read segment carries one read op (so a failing read never aborts
 * another). A write segment is one transaction: BEGIN, the ops of a
 * batch, the writer mark, COMMIT. Nothing is sent on a connection behind
 * a write segment until its Sync came back, so a failed transaction
 * (which leaves the session aborted until ROLLBACK) never aborts other
 * segments; the next segment on that connection starts with ROLLBACK. */
#ifndef HERALD_STORE_INT_H
#define HERALD_STORE_INT_H

#include <ev.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "storage/store.h"

#define STORE_SUBJ "storage"

/* ---- statements (stmts.c) ---- */

typedef enum {
    STMT_NODE_CREATE,
    STMT_NODE_DELETE,
    STMT_NODE_GET,
    STMT_NODE_CONFIGURE,
    STMT_NODE_LIST,
    STMT_NODE_LIST_ALL,
    STMT_AFF_SET,
    STMT_AFF_DELETE,
    STMT_AFF_GET,
    STMT_AFF_LIST_NODE,
    STMT_AFF_LIST_NODE_AFTER,
    STMT_AFF_LIST_JID,
    STMT_SUB_SET,
    STMT_SUB_DELETE,
    STMT_SUB_DELETE_JID,
    STMT_SUB_LIST_NODE,
    STMT_SUB_LIST_NODE_AFTER,
    STMT_SUB_LIST_JID,
    STMT_ITEM_UPSERT,
    STMT_ITEM_TRIM,
    STMT_ITEM_RETRACT,
    STMT_ITEM_PURGE,
    STMT_ITEMS_RANGE,
    STMT_ITEMS_RANGE_IDS,
    STMT_ITEMS_BY_ID,
    STMT_PRES_ADD,
    STMT_PRES_REMOVE,
    STMT_PRES_LIST_LOCAL,
    STMT_PRES_LIST_ALL,
    STMT_CAPS_GET,
    STMT_CAPS_PUT,
    /* internal: the write stream and transaction control */
    STMT_WRITER_REGISTER,
    STMT_WRITER_MARK,
    STMT_WRITER_RESOLVE,
    STMT_BEGIN,
    STMT_COMMIT,
    STMT_ROLLBACK,
    STMT_SET_TIMEOUT,
    STMT__COUNT
} stmt_id_t;

typedef struct {
    const char *name; /* prepared statement name */
    const char *sql;
    bool hot;         /* on a hot path: must not need a sequential scan */
} stmt_def_t;

extern const stmt_def_t stmt_defs[STMT__COUNT];

/* ---- migrations embedded at build time (storage/gen_schemas.sh) ---- */

typedef struct {
    int version;
    const char *name; /* file name, e.g. "001_initial.sql" */
    const char *sql;
} store_schema_t;

extern const store_schema_t store_schemas[];
extern const size_t store_schemas_count;

/* ---- ops (sop.c) ---- */

#define SOP_MAX_STMTS 2
#define SOP_MAX_PARAMS 20
/* Sends of one op before it fails (reconnects, unresolved commits). */
#define SOP_MAX_ATTEMPTS 3

typedef struct sop sop_t;

enum {
    NODE_FX_NONE = 0, /* no effect on which items a node keeps */
    NODE_FX_PUBLISH,  /* adds an item; its last statement trims the node */
    NODE_FX_BARRIER,  /* retract, purge, configure, delete */
};

/* Interprets the op's results (or err) and calls the user's callback;
 * the core frees the op afterwards. */
typedef void (*sop_finish_fn)(sop_t *op, store_err_t err);

typedef union {
    store_node_cb node;
    store_nodes_cb nodes;
    store_done_cb done;
    store_affs_cb affs;
    store_subs_cb subs;
    store_items_cb items;
    store_presences_cb presences;
    store_caps_cb caps;
} sop_cb_t;

typedef struct {
    stmt_id_t id;
    int nparams;
    const char *params[SOP_MAX_PARAMS]; /* into the op's memory; NULL = SQL NULL */
    PGresult *res;                      /* kept until the op finishes */
} sop_stmt_t;

struct sop_chunk;

struct sop {
    sop_t *next;                 /* queue / segment link */
    store_t *st;
    sop_finish_fn finish;
    sop_cb_t cb;
    void *ctx;
    ev_tstamp queued_at;         /* submission time: queue_timeout_ms counts from it */
    bool write;
    int nstmts;
    int attempts;                /* times sent */
    int mode;                    /* finish function's own (done_mode_t, ...) */
    /* For trimming once per node and transaction (pg_pool.c): the node
     * whose items this write changes, and how. */
    int64_t node_id;
    uint8_t node_effect;         /* NODE_FX_* */
    bool skip_last;              /* the last statement (a trim) is not sent */
    store_err_t err;             /* for ops failed before being sent */
    sop_stmt_t stmts[SOP_MAX_STMTS];
    struct sop_chunk *chunks;    /* params and results beyond `inl` */
    size_t inl_used;
    union {
        char inl[512];
        max_align_t align_;
    } u;
};

/* Aborts the process with a log line: the store has no way to report an
 * allocation failure through a callback it could not allocate. */
void *st_xmalloc(size_t n);
void *st_xcalloc(size_t n, size_t m);
char *st_xstrdup(const char *s);

/* `msg` (e.g. a libpq error) on one line in buf, for logs and errors. */
const char *st_one_line(const char *msg, char *buf, size_t len);

sop_t *sop_new(store_t *st, bool write, sop_finish_fn finish, void *ctx);
/* Memory freed with the op. */
void *sop_alloc(sop_t *op, size_t n);
char *sop_strdup(sop_t *op, const char *s);
/* Starts the op's next statement. */
void sop_stmt(sop_t *op, stmt_id_t id);
/* Parameters of the current statement, in order; the values are copied. */
void sop_param(sop_t *op, const char *s); /* NULL = SQL NULL */
void sop_param_i64(sop_t *op, int64_t v);
void sop_param_bool(sop_t *op, bool v);
/* A LIMIT: 0 = none (SQL NULL). */
void sop_param_limit(sop_t *op, size_t limit);
/* A text[] literal of n strings (elements quoted and escaped). */
void sop_param_array(sop_t *op, const char *const *v, size_t n);
/* Frees the results (before a re-send). */
void sop_clear_results(sop_t *op);
void sop_free(sop_t *op);
/* Result of statement i (NULL if none). */
PGresult *sop_res(const sop_t *op, int i);

/* Parses a PostgreSQL text[] output value into op memory; *n strings. */
const char **sop_parse_array(sop_t *op, const char *text, size_t *n);
int64_t pg_i64(const PGresult *r, int row, int col);
bool pg_bool(const PGresult *r, int row, int col);
/* NULL for SQL NULL. */
const char *pg_str(const PGresult *r, int row, int col);
/* Enumerations stored as text, names[0] being "none": the name of value
 * v (names[0] out of range), and the value of a name (0 if unknown). */
const char *st_enum_name(const char *const *names, size_t n, unsigned v);
unsigned st_enum_parse(const char *const *names, size_t n, const char *s);

/* Finishing ops whose callback is a store_done_cb. */
typedef enum {
    DONE_ZERO,        /* value 0 */
    DONE_COUNT,       /* value = rows affected by statement 0 */
    DONE_COUNT_FOUND, /* same, and 0 rows is STORE_ENOTFOUND */
    DONE_ROW_FOUND,   /* value = statement 0's first column; no row: ENOTFOUND */
} done_mode_t;
sop_t *sop_new_done(store_t *st, done_mode_t mode, store_done_cb cb, void *ctx);

/* Hands the op to the store (queued; dispatched at the end of this loop
 * iteration). */
void store_submit(sop_t *op);
/* Fails the op at the next loop iteration (never synchronously). */
void store_reject(sop_t *op, store_err_t err);
/* Runs op->finish and frees the op. */
void store_finish(sop_t *op, store_err_t err);

/* ---- connections and segments (pg_conn.c) ---- */

typedef enum {
    SL_OP,       /* statement `stmt` of `op` */
    SL_BEGIN,
    SL_COMMIT,
    SL_ROLLBACK,
    SL_MARK,
    SL_SETUP,
    SL_REGISTER,
    SL_RESOLVE,
} slot_kind_t;

typedef struct {
    slot_kind_t kind;
    int stmt;
    sop_t *op;
} slot_t;

typedef enum {
    SEG_SETUP,    /* statement_timeout + prepares, once per connection */
    SEG_READ,     /* one read op */
    SEG_WRITE,    /* one transaction of write ops */
    SEG_REGISTER, /* this process's row in store_writers */
    SEG_RESOLVE,  /* did the write transaction cut off by a fault commit? */
} seg_kind_t;

typedef struct seg {
    struct seg *next;
    seg_kind_t kind;
    sop_t *ops;            /* linked through op->next, in order */
    size_t nops;
    int64_t batch;         /* SEG_WRITE: its batch number */
    slot_t *slots;
    int nslots;
    int pos;               /* slot whose results come next */
    bool await_null;       /* pos's result came; its NULL terminator not yet */
    bool failed;           /* a statement failed: the transaction rolled back */
    bool committed;        /* SEG_WRITE: COMMIT succeeded */
    int culprit;           /* slot of the first failure, -1 */
    store_err_t cerr;
    char args[2][24];      /* parameters of SL_MARK / SL_RESOLVE */
} seg_t;

typedef enum {
    PGC_DOWN,       /* waiting for the reconnect timer */
    PGC_CONNECTING, /* PQconnectPoll */
    PGC_SETUP,      /* SEG_SETUP in flight */
    PGC_READY,
} pgc_state_t;

typedef struct pgc {
    store_t *st;
    int index;
    PGconn *conn;
    pgc_state_t state;
    ev_io io;
    ev_timer timer;         /* connect timeout / reconnect delay */
    int fd;
    int io_events;
    seg_t *head, *tail;     /* segments in flight, oldest first */
    int nsegs;
    bool write_blocked;     /* a SEG_WRITE is in flight: send nothing more */
    bool need_rollback;     /* session left in an aborted transaction */
    bool dirty;             /* output queued since the last flush */
    unsigned backoff_ms;
    unsigned failures;      /* attempts failed since it was last ready */
} pgc_t;

void pgc_init(pgc_t *c, store_t *st, int index);
/* Starts connecting now (or after `delay_ms`). */
void pgc_start(pgc_t *c, unsigned delay_ms);
/* Queues seg's statements and a Sync (prefixing ROLLBACK if the session is
 * aborted) and appends it to the in-flight list. Returns 0, or -1 when
 * the connection broke (then handled as lost: seg included). */
int pgc_send(pgc_t *c, seg_t *seg);
/* Flushes queued output (arming EV_WRITE when the socket is full). */
void pgc_flush(pgc_t *c);
/* Closes the connection (no reconnect) and returns its segments. */
seg_t *pgc_close(pgc_t *c);

seg_t *seg_new(seg_kind_t kind, int nslots);
void seg_free(seg_t *s); /* not its ops */

/* ---- the pool, called by pg_conn.c ---- */

/* pg_results.c */
void pool_conn_ready(pgc_t *c);
/* A result for slot `pos` of the head segment; takes `r`. */
void pool_slot_result(pgc_t *c, seg_t *s, slot_t *slot, PGresult *r);
/* The head segment's Sync came back (removed from c already). */
void pool_seg_synced(pgc_t *c, seg_t *s);
/* The connection broke: `segs` were in flight (list owned by callee).
 * `was_ready`: it had been counted ready. */
void pool_conn_lost(pgc_t *c, seg_t *segs, bool was_ready);

typedef struct sopq sopq_t;

/* pg_pool.c: FIFO queues of ops, and scheduling a dispatch soon. */
void q_push(sopq_t *q, sop_t *op);
sop_t *q_pop(sopq_t *q);
void q_prepend(sopq_t *q, sopq_t *front); /* front's ops, in order, first */
void kick(store_t *st);
/* pg_results.c: an op sent but not answered goes to `keep` for a re-send,
 * or fails with `err` once it used its SOP_MAX_ATTEMPTS. */
void retry_or_fail(sopq_t *keep, sop_t *op, store_err_t err);

struct store {
    struct ev_loop *loop;
    store_opts_t o;
    char *conninfo;
    const char *kw[16];
    const char *val[16];
    char timeout_str[24];
    pgc_t *conns;
    int nconns;
    int nready;

    struct sopq {
        sop_t *head, *tail;
        size_t n;
    } reads, writes, failed, unresolved;
    size_t busy;                  /* accepted, not finished */

    ev_prepare prepare;           /* dispatch at the end of each loop turn */
    ev_timer kick;                /* ... or soon, for ops submitted in a prepare */
    ev_timer expire;              /* queue_timeout_ms of the oldest queued op */
    ev_tstamp down_since;         /* no connection ready since (0: one is) */

    int64_t writer_id;            /* our row in store_writers; 0 = none yet */
    bool registering;
    int64_t batch_no;             /* last write batch number handed out */
    seg_t *write_seg;             /* the write transaction in flight */
    int64_t unresolved_batch;     /* batch whose COMMIT outcome is unknown */
    bool resolving;
    bool closing;

    store_state_fn state_fn;
    void *state_ud;
    unsigned rr;
    unsigned rand_state;
};

#endif
