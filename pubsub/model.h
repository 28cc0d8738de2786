/* The in-memory pubsub model: nodes keyed by (scope, name), each with its
 * configuration, affiliations (by bare JID) and subscriptions (by the
 * subscribed JID, bare or full), and the XEP-0060 authorization rules as
 * pure functions of that state. No I/O: the wiring loads it from storage,
 * mirrors committed changes into it, and asks it who may do what.
 *
 * JIDs given to this module must be normalized (component/jid.h):
 * jid_bare for affiliations and requesters, jid_normalize for subscribed
 * JIDs. A scope is "" (PS_SCOPE_SERVICE) for the component's own nodes;
 * PEP will use the owning account's bare JID.
 *
 * Every ps_check_* returns 0 when the action is allowed, or the xerr_t
 * code with *err filled with the exact error XEP-0060 gives for that
 * refusal. A NULL node means "no such node": item-not-found (§6.1.3.12,
 * §6.2.3.4, §6.5.9.11, §7.1.3.3, §7.2.3.2, §8.2.3.5, §8.4.3.2, §8.5.3.4). */
#ifndef HERALD_PS_MODEL_H
#define HERALD_PS_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "component/xmpp_error.h"
#include "pubsub/node_config.h"

#define PS_SCOPE_SERVICE ""

/* §4.1. Ordered so that a larger value never has fewer rights, except
 * publish-only which may publish but neither subscribe nor retrieve. */
typedef enum {
    PS_AFF_NONE = 0,
    PS_AFF_OUTCAST,
    PS_AFF_MEMBER,
    PS_AFF_PUBLISH_ONLY,
    PS_AFF_PUBLISHER,
    PS_AFF_OWNER,
} ps_affiliation_t;

/* §4.2 */
typedef enum {
    PS_SUB_NONE = 0,
    PS_SUB_PENDING,
    PS_SUB_UNCONFIGURED,
    PS_SUB_SUBSCRIBED,
} ps_sub_state_t;

const char *ps_affiliation_name(ps_affiliation_t a);
/* 0 and *out set, or -1 for a name that is not a §4.1 affiliation. */
int ps_affiliation_from_name(const char *name, ps_affiliation_t *out);
const char *ps_sub_state_name(ps_sub_state_t s);
int ps_sub_state_from_name(const char *name, ps_sub_state_t *out);

/* SubIDs are 64-bit numbers written as 16 lower-case hex digits. */
#define PS_SUBID_LEN 16
void ps_subid_format(uint64_t subid, char out[PS_SUBID_LEN + 1]);
/* 0 and *out set, or -1 if `s` is not such a string. */
int ps_subid_parse(const char *s, uint64_t *out);

typedef struct ps_model ps_model_t;
typedef struct ps_node ps_node_t;

/* NULL on OOM. */
ps_model_t *ps_model_new(void);
/* Frees every node, even those still being fanned out to (callers must
 * have ended their walks). */
void ps_model_free(ps_model_t *m);

ps_node_t *ps_model_find(const ps_model_t *m, const char *scope, const char *name);

/* Creates node (scope, name) with a copy of `cfg`, and `owner` (bare
 * JID, may be NULL for service-made nodes) as its owner. Returns 0 and
 * *out, or conflict (§8.1.1: the NodeID exists) or internal-server-error
 * (OOM) with *err filled. */
int ps_model_create(ps_model_t *m, const char *scope, const char *name, const ps_node_config_t *cfg,
                    const char *owner, ps_node_t **out, xerr_spec_t *err);

/* Unlinks the node (ps_model_find no longer returns it) and frees it: at
 * once when it is small; otherwise (or while fan-out walks are open on
 * it, until the last one ends) its subscriptions are released by
 * ps_model_chores, a budget at a time. */
void ps_model_remove(ps_model_t *m, ps_node_t *node);

size_t ps_model_node_count(const ps_model_t *m);

/* Calls fn for each node of `scope` (NULL: every node) until it returns
 * non-zero. The model must not gain or lose nodes during the walk. */
typedef int (*ps_node_visit_fn)(ps_node_t *node, void *ud);
void ps_model_foreach(ps_model_t *m, const char *scope, ps_node_visit_fn fn, void *ud);

/* ---- node ----------------------------------------------------------- */

const char *ps_node_name(const ps_node_t *n);
const char *ps_node_scope(const ps_node_t *n);
const ps_node_config_t *ps_node_config(const ps_node_t *n);
/* Replaces the configuration with a copy of `cfg`. 0, or -1 on OOM. */
int ps_node_set_config(ps_node_t *n, const ps_node_config_t *cfg);

/* Creation facts for §5.4 metadata (copied; NULL clears). 0 or -1. */
int ps_node_set_created(ps_node_t *n, const char *creator, const char *creation_date);
const char *ps_node_creator(const ps_node_t *n);       /* or NULL */
const char *ps_node_creation_date(const ps_node_t *n); /* or NULL */

/* The §5.4 metadata form of the node (owners, publishers and subscriber
 * count included). New stanza, NULL on OOM. */
xmpp_stanza_t *ps_node_metadata_form(xmpp_ctx_t *ctx, const ps_node_t *n);

/* ---- affiliations (bare JIDs) ---------------------------------------- */

ps_affiliation_t ps_node_affiliation(const ps_node_t *n, const char *bare);
/* Sets or (PS_AFF_NONE) removes; 0, or -1 on OOM. */
int ps_node_set_affiliation(ps_node_t *n, const char *bare, ps_affiliation_t a);
size_t ps_node_affiliation_count(const ps_node_t *n, ps_affiliation_t a);
/* Calls fn for each affiliation other than none, until it returns
 * non-zero; affiliations must not change during the walk. */
typedef int (*ps_aff_visit_fn)(const char *bare, ps_affiliation_t a, void *ud);
void ps_node_foreach_affiliation(const ps_node_t *n, ps_aff_visit_fn fn, void *ud);

/* ---- subscriptions (one per subscribed JID) -------------------------- */

/* Adds or updates `jid`'s subscription; subid 0 = none. 0, or -1 on OOM
 * or state PS_SUB_NONE. */
int ps_node_subscribe(ps_node_t *n, const char *jid, ps_sub_state_t state, uint64_t subid);
/* The state of `jid`'s subscription (PS_SUB_NONE if none) and its subid. */
ps_sub_state_t ps_node_subscription(const ps_node_t *n, const char *jid, uint64_t *subid);
/* 1 if a subscription was removed, 0 if there was none. */
int ps_node_unsubscribe(ps_node_t *n, const char *jid);
/* Subscriptions in state subscribed (the fan-out audience; a
 * subscription a prune pass found refused no longer counts). */
size_t ps_node_subscriber_count(const ps_node_t *n);
/* Subscriptions in any state. */
size_t ps_node_subscription_count(const ps_node_t *n);
typedef int (*ps_sub_visit_fn)(const char *jid, ps_sub_state_t state, uint64_t subid, void *ud);
/* Each subscription (any state), until fn returns non-zero. */
void ps_node_foreach_subscription(const ps_node_t *n, ps_sub_visit_fn fn, void *ud);

/* ---- fan-out walk ----------------------------------------------------- */

typedef struct {
    const char *jid; /* NUL-terminated, valid until ps_fanout_end */
    size_t len;
} ps_recipient_t;

typedef struct {
    ps_node_t *node;
    uint32_t pos, end; /* private */
} ps_fanout_t;

/* What one ps_fanout_next call did. */
typedef struct {
    size_t n;       /* recipients written */
    size_t scanned; /* subscription entries examined, n <= scanned <=
                       PS_FANOUT_SCAN_FACTOR * max */
    bool done;      /* the walk is complete (possibly with these n) */
} ps_fanout_step_t;

/* Entries one call may examine per recipient slot it is given. Skipped
 * entries (not subscribed, or refused by a prune pass: nearly a whole
 * node when its access model just closed) still cost time: without this
 * bound, one call over 1M refused subscribers ahead of a deliverable one
 * took 26 ms while the pass had not reached them, 3.5 ms once marked. */
#define PS_FANOUT_SCAN_FACTOR 4

/* Starts a walk over the node's subscribers in state subscribed at this
 * moment. Any number of walks may be open; subscriptions may change
 * between slices (see subset.h for what a walk then sees), and the node
 * stays allocated until the walk ends even if removed from the model.
 * While a prune pass runs on the node, the walk skips the subscribers its
 * rules refuse (see ps_node_prune). */
void ps_fanout_begin(ps_fanout_t *f, ps_node_t *node);
/* Writes up to `max` recipients into out, examining at most
 * PS_FANOUT_SCAN_FACTOR * max entries, so its cost is bounded by `max`
 * whatever the node holds. Hence n = 0 with !done means "none in this
 * stretch, call again": only `done` says the walk is over. */
ps_fanout_step_t ps_fanout_next(ps_fanout_t *f, ps_recipient_t *out, size_t max);
void ps_fanout_end(ps_fanout_t *f);

/* ---- deferred work ----------------------------------------------------- */

/* Work the model does a budget at a time so that no call costs time in
 * proportion to a node's subscribers: releasing removed nodes, compacting
 * a set after walks saw many removals (subset.h), and prune passes. The
 * model stays free of I/O: its owner registers `fn`, which is called
 * (from inside model calls) when such work becomes runnable, and then
 * calls ps_model_chores / ps_model_prune_step from its loop. */
typedef void (*ps_model_wake_fn)(void *ud);
void ps_model_on_work(ps_model_t *m, ps_model_wake_fn fn, void *ud);

/* Does up to `budget` units (an entry released or compacted) of release
 * and compaction; returns the units done. */
size_t ps_model_chores(ps_model_t *m, size_t budget);
/* Whether ps_model_chores has work it can do now (not just work waiting
 * for walks to end). */
bool ps_model_has_chores(const ps_model_t *m);

/* ---- pruning refused subscriptions (the engine: pubsub/prune.h) -------- */

/* The rules a subscription is held to (§4.1 table, §4.5): never outcast
 * or publish-only, always an owner, anyone under open, publishers and
 * members under whitelist, nobody under a model not implemented. Whether
 * they refuse anyone at all on `n`: */
bool ps_node_may_refuse(const ps_node_t *n);

/* Starts a prune pass on `n`, or restarts the one running, after a change
 * of its rules: every subscription (only those of `only_bare`, a bare
 * JID, when only its affiliation changed) is examined again, a slice at a
 * time by ps_model_prune_step, and each one the rules refuse is marked
 * and queued for deletion. From this call until the pass ends, fan-out
 * walks and ps_check_publish examine any subscription the pass has not
 * reached yet before using it, and marked ones are skipped: nothing is
 * delivered to a refused subscriber in the meantime. 0, or -1 on OOM
 * (nothing changed). */
int ps_node_prune(ps_node_t *n, const char *only_bare);
bool ps_node_pruning(const ps_node_t *n);

/* Starts the deletion of `jid`'s subscription on `n` (the JID is valid
 * during the call only); returns 0, or -1 when it could not be started
 * (the pass retries it later). It must end with ps_node_prune_done, not
 * before the call returns. */
typedef int (*ps_prune_emit_fn)(void *ud, ps_node_t *n, const char *jid);

/* Advances the prune passes, nodes taking turns, by up to `budget` units
 * (a subscription examined or a queued one dropped: 1, a deletion started:
 * 8, so a step may end up to 7 units over), and
 * starts at most `max_emit` deletions through `emit`. `now` is a clock in
 * seconds for retry delays. Returns the units used. */
size_t ps_model_prune_step(ps_model_t *m, double now, size_t budget, size_t max_emit,
                           ps_prune_emit_fn emit, void *ud);

typedef enum {
    PS_PRUNE_IDLE = 0, /* no pass */
    PS_PRUNE_RUN,      /* ps_model_prune_step has work now */
    PS_PRUNE_WAIT,     /* only deletions in flight, or retries later */
} ps_prune_state_t;
/* What the passes need; `can_emit`: deletions may be started now. For
 * WAIT, *wake_at is the earliest retry time, or 0 when only completions
 * can make progress. */
ps_prune_state_t ps_model_prune_state(const ps_model_t *m, double now, bool can_emit,
                                      double *wake_at);

/* A deletion started by `emit` ended. `deleted` (the store no longer has
 * the subscription) removes it from the model; otherwise it stays marked
 * refused (never delivered to) and the pass tries again after a delay
 * (1 s, doubling up to 60 s), the node staying guarded. A pass ends when
 * every subscription was examined and every deletion is done. */
void ps_node_prune_done(ps_node_t *n, const char *jid, bool deleted);

/* ---- authorization (§4.1 table, §4.5 access models) ------------------ */

bool ps_is_owner(const ps_node_t *n, const char *bare);

/* §8.1.1: conflict when (scope, name) exists. */
int ps_check_create(const ps_model_t *m, const char *scope, const char *name, xerr_spec_t *err);

/* §7.1.3.1: owners, publishers and publish-only may publish, and anyone
 * not outcast when publish_model is open (subscribed JIDs when it is
 * subscribers); otherwise forbidden. `full` is the requester's full JID
 * (for the subscribers model). */
int ps_check_publish(const ps_node_t *n, const char *bare, const char *full, xerr_spec_t *err);

/* §6.1.3 for subscribing `jid` on behalf of `bare` (the JID match is
 * request.h's business): outcast or publish-only → forbidden (§6.1.3.8);
 * whitelist and not owner/publisher/member → not-allowed + closed-node
 * (§6.1.3.4); an access model not implemented → feature-not-implemented +
 * unsupported access-…; a pending subscription → not-authorized +
 * pending-subscription (§6.1.3.7). An existing subscription is not an
 * error (§6.1.6: the service answers with the current state). */
int ps_check_subscribe(const ps_node_t *n, const char *bare, const char *jid, xerr_spec_t *err);

/* §6.2.3: `jid`'s bare JID is not `bare` → forbidden (§6.2.3.3); no
 * subscription → unexpected-request + not-subscribed, type cancel
 * (§6.2.3.2); a subid that does not match the subscription's →
 * not-acceptable + invalid-subid (§6.2.3.5; a subid on a subscription
 * without one is ignored). `subid` may be NULL. */
int ps_check_unsubscribe(const ps_node_t *n, const char *bare, const char *jid, const char *subid,
                         xerr_spec_t *err);

/* §6.5.9: outcast → forbidden (§6.5.9.10); whitelist and not
 * owner/publisher/member → not-allowed + closed-node (§6.5.9.8); access
 * model not implemented → feature-not-implemented + unsupported
 * access-…; the requester (full, else bare JID) is subscribed with a
 * subid and `subid` is given and differs → not-acceptable + invalid-subid
 * (§6.5.9.2); the node persists no items → feature-not-implemented +
 * unsupported persistent-items (§6.5.9.4). Owners may always retrieve. */
int ps_check_items(const ps_node_t *n, const char *bare, const char *full, const char *subid,
                   xerr_spec_t *err);

/* §7.2.3: only owners, publishers and publish-only entities may retract
 * (forbidden, §7.2.3.1), publish-only ones only their own items
 * (`item_publisher`: bare JID of the item's publisher, NULL if unknown);
 * a node without persistent items → feature-not-implemented + unsupported
 * persistent-items (§7.2.3.5). */
int ps_check_retract(const ps_node_t *n, const char *bare, const char *item_publisher,
                     xerr_spec_t *err);

/* §8.5.3: owners and publishers (§4.1 table) may purge, others forbidden;
 * a node without persistent items → feature-not-implemented + unsupported
 * persistent-items (§8.5.3.3). */
int ps_check_purge(const ps_node_t *n, const char *bare, xerr_spec_t *err);

/* Owner-only operations → forbidden otherwise: configure (§8.2.3.2),
 * delete (§8.4.3.1), subscriptions and affiliations management
 * (§8.8.1.3, §8.9.1.3). */
int ps_check_owner(const ps_node_t *n, const char *bare, xerr_spec_t *err);

#endif
