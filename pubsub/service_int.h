/* Internals shared by the files of the pubsub service (service.c,
 * service_load.c, handle_*.c, disco_nodes.c). Not a public header.
 *
 * Request life cycle: service.c parses an IQ into a ps_request_t and
 * calls the verb's handler (ps_h_*). A handler either answers at once, or
 * moves the request into a ps_op_t (which holds a reference on the IQ, so
 * the strings the request borrows stay valid) and starts a store
 * operation whose callback answers. A handler returns 0 when it has
 * answered or promised an answer, or an xerr_t with *err filled, which
 * service.c turns into the error reply. */
#ifndef HERALD_PS_SERVICE_INT_H
#define HERALD_PS_SERVICE_INT_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>
#include <strophe.h>

#include "component/component.h"
#include "pubsub/buf.h"
#include "pubsub/fanout.h"
#include "pubsub/ids.h"
#include "pubsub/model.h"
#include "pubsub/node_config.h"
#include "pubsub/notify.h"
#include "pubsub/prune.h"
#include "pubsub/ratelimit.h"
#include "pubsub/request.h"
#include "pubsub/service.h"
#include "component/stanza_util.h"
#include "pubsub/strmap.h"
#include "storage/store.h"

#define PS_SUBJ "pubsub"

/* What the service keeps per node beside the model: the store's id, and
 * what requests in flight need to find out whether the node they started
 * on still exists. Reference-counted: the model holds one while the node
 * exists, each op that names the node holds one. */
typedef struct ps_nodex {
    ps_node_t *node; /* NULL once deleted */
    int64_t id;      /* store id */
    unsigned refs;
    /* Bumped whenever the node's newest item may change (publish,
     * retract, purge): a last-published-item delivery read before a
     * change is dropped rather than sent out of order. */
    uint64_t gen;
} ps_nodex_t;

typedef struct ps_op ps_op_t;

typedef enum {
    PS_STATE_LOADING = 0,
    PS_STATE_READY,
    PS_STATE_STOPPING,
} ps_state_t;

struct ps_wait; /* an IQ queued while loading (service.c) */
struct ps_load; /* the start-up load (service_load.c) */

struct ps_service {
    component_t *comp;
    router_t *router;
    xmpp_ctx_t *ctx;
    store_t *store;
    struct ev_loop *loop;
    char *domain;

    ps_config_defaults_t defaults;
    bool autocreate;
    unsigned max_nodes_per_owner;
    size_t max_stanza; /* bound of an items reply */
    unsigned wait_timeout_ms;

    ps_model_t *model;
    ps_strmap_t *nodex; /* ps_node_t pointer bytes -> ps_nodex_t * */
    ps_strmap_t *owned; /* creator bare JID -> (uintptr_t) nodes created
                           or being created */
    ps_fo_t *fo;
    ps_pr_t *pr; /* prune passes and the model's deferred releases */
    ps_rl_t *rl;
    ev_timer rl_sweep;
    ps_ids_t ids;
    uint64_t notif_seq;

    ps_state_t state;
    struct ps_wait *wait_head, *wait_tail;
    size_t n_wait;
    ev_timer wait_timer;

    struct ps_load *load;
    ev_timer load_retry;
    unsigned load_backoff_ms;

    ps_op_t *ops; /* in flight (doubly linked) */
    size_t n_ops;

    ps_service_drained_fn drained;
    void *drained_ud;
    ev_timer drain_timer;
    ev_timer drain_poll;
};

/* One asynchronous request. */
struct ps_op {
    ps_service_t *svc; /* NULL once the service was freed (orphaned) */
    ps_op_t *prev, *next;
    xmpp_stanza_t *iq; /* a reference */
    ps_request_t req;  /* moved from the dispatcher */
    ps_nodex_t *nx;    /* a reference, or NULL */

    /* verb scratch */
    char *name;       /* create: NodeID; publish: item id */
    ps_buf_t payload; /* publish: serialized payload */
    bool has_payload;
    ps_node_config_t cfg; /* create, configure, auto-create */
    bool has_cfg;
    uint64_t gen; /* subscribe: nx->gen at commit */
    int pending;  /* writes not yet answered (retract of several ids) */
    int failed;   /* store_err_t of the first failure */
    char **ids;   /* retract: ids actually deleted */
    size_t n_ids;
    int stage;
    void *scratch; /* verb-specific allocation, freed with the op */
};

/* ---- service.c ------------------------------------------------------- */

ps_node_t *ps_svc_find(ps_service_t *svc, const char *name);
ps_nodex_t *ps_svc_nodex(ps_service_t *svc, const ps_node_t *node);
ps_nodex_t *ps_nx_ref(ps_nodex_t *nx);
void ps_nx_unref(ps_nodex_t *nx);

/* Adds a committed node to the model (create callback, load). `owner`:
 * bare JID given the owner affiliation (NULL: none here, e.g. loaded
 * affiliations follow). Returns the nodex (the model's reference), or
 * NULL on OOM or if the name exists. */
ps_nodex_t *ps_svc_add_node(ps_service_t *svc, const char *scope, const char *name, int64_t id,
                            const ps_node_config_t *cfg, const char *owner, const char *creator,
                            int64_t created_us);
/* Removes a node from the model (delete callback): its nodex loses its
 * node and the model's reference. */
void ps_svc_remove_node(ps_service_t *svc, ps_nodex_t *nx);
/* Drops every node (a failed load starts over). */
void ps_svc_clear_model(ps_service_t *svc);
/* Frees the model and the records beside it (ps_service_free, and
 * ps_svc_clear_model before it makes new ones). */
void ps_svc_free_model(ps_service_t *svc);

/* After the node's rules changed (its access model; the affiliation of
 * `only_bare` when not NULL): starts removing the subscriptions they
 * refuse, in the background (prune.h), fan-out skipping them at once. */
void ps_svc_prune(ps_service_t *svc, ps_nodex_t *nx, const char *only_bare);
/* A node's lists are loaded: subscriptions its rules refuse (left by a
 * stop or crash in the middle of a prune) are removed the same way. */
void ps_svc_node_loaded(ps_service_t *svc, ps_nodex_t *nx);

/* Nodes created (or being created) by a bare JID, for
 * pubsub.max_nodes_per_owner. */
size_t ps_svc_owned(ps_service_t *svc, const char *bare);
void ps_svc_owned_add(ps_service_t *svc, const char *bare, int delta);

/* Ops. ps_op_new moves *req into the op (leaving *req empty) and takes a
 * reference on its IQ; NULL on OOM (*req untouched). */
ps_op_t *ps_op_new(ps_service_t *svc, ps_request_t *req);
/* ps_op_new for a request on node `n` (of the model): op->nx is set. */
ps_op_t *ps_op_on_node(ps_service_t *svc, ps_request_t *req, ps_node_t *n);
void ps_op_free(ps_op_t *op);
/* At the top of each store callback: true when the service is gone (the
 * op has then been freed and the callback must return). */
bool ps_op_orphaned(ps_op_t *op);
/* Next in a store callback that answers only on success: true when `e`
 * is an error (then answered, the op freed: the callback must return). */
bool ps_op_store_failed(ps_op_t *op, store_err_t e);
/* In the callback of one of op->pending writes: records the first
 * failure in op->failed and returns true for the last write when the
 * service is still there (the callback then answers and frees the op). */
bool ps_op_last_write(ps_op_t *op, store_err_t e);

/* Replies (each sends exactly one stanza for `iq`). */
void ps_reply_error(ps_service_t *svc, xmpp_stanza_t *iq, const xerr_spec_t *spec);
void ps_reply_store_error(ps_service_t *svc, xmpp_stanza_t *iq, store_err_t err);
/* internal-server-error (out of memory building the answer). */
void ps_reply_internal(ps_service_t *svc, xmpp_stanza_t *iq);
/* Result with an optional child (taken over, may be NULL). */
void ps_reply_result(ps_service_t *svc, xmpp_stanza_t *iq, xmpp_stanza_t *child);
/* For a handler answering at once with `child` (taken over): 0, or when
 * building it failed (NULL) internal-server-error in *err. */
int ps_answer(ps_service_t *svc, xmpp_stanza_t *iq, xmpp_stanza_t *child, xerr_spec_t *err);
/* Result whose child is already serialized XML (`body`, len bytes; may be
 * empty): the way large replies (items) avoid re-parsing stored payloads.
 * Sent on the link the requester's stanzas use. */
void ps_reply_raw(ps_service_t *svc, xmpp_stanza_t *iq, const char *body, size_t len);
/* Fills *err with the XMPP error of a store failure (store.h table) and
 * returns its code. */
int ps_store_xerr(store_err_t e, xerr_spec_t *err);

/* <pubsub xmlns=ns><name node=node/></pubsub>, *inner set to <name/>;
 * NULL on OOM. (Other elements: component/stanza_util.h.) */
xmpp_stanza_t *ps_pubsub_el(ps_service_t *svc, const char *ns, const char *name, const char *node,
                            xmpp_stanza_t **inner);

/* Notifications: options for a node (message type from its config, a
 * fresh id prefix), kept in *buf. */
typedef struct {
    ps_notif_opts_t o;
    char prefix[PS_ID_LEN + 4];
} ps_svc_notif_opts_t;
const ps_notif_opts_t *ps_svc_notif_opts(ps_service_t *svc, const ps_node_config_t *cfg,
                                         ps_svc_notif_opts_t *buf);
/* Queues `n` (taken over; NULL: building it failed) for the node's
 * subscribers, or for one recipient. Failures are logged. */
void ps_svc_fanout(ps_service_t *svc, ps_nodex_t *nx, ps_notif_t *n);
void ps_svc_fanout_one(ps_service_t *svc, ps_nodex_t *nx, const char *to, ps_notif_t *n);

/* ---- conversions (service_load.c) ------------------------------------ */

/* Store row -> model configuration (owned strings; clear with
 * ps_config_clear). 0 or -1 on OOM. */
int ps_cfg_from_store(ps_service_t *svc, const store_node_config_t *s, ps_node_config_t *out);
/* Model configuration -> store parameters. Strings point into `c`;
 * `extra` is storage for the extra pairs (at least 2 entries). */
void ps_cfg_to_store(ps_service_t *svc, const ps_node_config_t *c, store_node_config_t *out,
                     const char *extra[2]);
/* Index of `v` among the names of an enumeration's first `n` values
 * (name_at(i), adapters of node_config.h's names below), or `dflt`. */
int ps_enum_of(const char *v, const char *(*name_at)(int), int n, int dflt);
const char *ps_access_name_at(int i);
const char *ps_publish_name_at(int i);
const char *ps_send_last_name_at(int i);
ps_affiliation_t ps_aff_from_store(store_aff_t a);
store_aff_t ps_aff_to_store(ps_affiliation_t a);
/* XEP-0082 DateTime of a Unix time in microseconds (21 bytes). */
void ps_datetime(int64_t us, char out[21]);

/* The start-up load. */
void ps_load_start(ps_service_t *svc);
void ps_load_abandon(ps_service_t *svc);
/* Called by service_load.c when the model is complete. */
void ps_svc_loaded(ps_service_t *svc);
/* Called by service_load.c after a failed load (model cleared). */
void ps_svc_load_failed(ps_service_t *svc, store_err_t err);

/* ---- handlers ---------------------------------------------------------- */

int ps_h_create(ps_service_t *svc, ps_request_t *req, xerr_spec_t *err);
int ps_h_configure_get(ps_service_t *svc, ps_request_t *req, xerr_spec_t *err);
int ps_h_configure_set(ps_service_t *svc, ps_request_t *req, xerr_spec_t *err);
int ps_h_default(ps_service_t *svc, ps_request_t *req, xerr_spec_t *err);
int ps_h_delete(ps_service_t *svc, ps_request_t *req, xerr_spec_t *err);
int ps_h_purge(ps_service_t *svc, ps_request_t *req, xerr_spec_t *err);
int ps_h_owner_affs_get(ps_service_t *svc, ps_request_t *req, xerr_spec_t *err);
int ps_h_owner_affs_set(ps_service_t *svc, ps_request_t *req, xerr_spec_t *err);
int ps_h_owner_subs_get(ps_service_t *svc, ps_request_t *req, xerr_spec_t *err);
int ps_h_owner_subs_set(ps_service_t *svc, ps_request_t *req, xerr_spec_t *err);

int ps_h_publish(ps_service_t *svc, ps_request_t *req, xerr_spec_t *err);
int ps_h_retract(ps_service_t *svc, ps_request_t *req, xerr_spec_t *err);

int ps_h_subscribe(ps_service_t *svc, ps_request_t *req, xerr_spec_t *err);
int ps_h_unsubscribe(ps_service_t *svc, ps_request_t *req, xerr_spec_t *err);

int ps_h_items(ps_service_t *svc, ps_request_t *req, xerr_spec_t *err);
int ps_h_subscriptions(ps_service_t *svc, ps_request_t *req, xerr_spec_t *err);
int ps_h_affiliations(ps_service_t *svc, ps_request_t *req, xerr_spec_t *err);

/* disco_nodes.c: XEP-0060 §5.2–§5.5 (IQ stanza in, 0 when answered or
 * promised, else an xerr_t with *err). */
int ps_disco_info(ps_service_t *svc, xmpp_stanza_t *iq, xerr_spec_t *err);
int ps_disco_items(ps_service_t *svc, xmpp_stanza_t *iq, xerr_spec_t *err);

/* Creation with the node to make from a publish (handle_owner.c, used by
 * auto-create in handle_publish.c): starts store_node_create for
 * op->name with op->cfg, owner = requester; `cb` gets the op back. */
void ps_create_submit(ps_op_t *op, store_node_cb cb);

#endif
