/* Internals of the pubsub model shared by model.c (nodes, affiliations,
 * subscriptions, fan-out walks, authorization) and model_prune.c (prune
 * passes and the deferred releases). Not a public header: everything
 * else goes through model.h. */
#ifndef HERALD_PS_MODEL_INT_H
#define HERALD_PS_MODEL_INT_H

#include "component/strtab.h"
#include "pubsub/model.h"
#include "pubsub/strmap.h"
#include "pubsub/subset.h"

/* Flags a prune pass puts on subscription entries, above the state
 * (subset.h): a flagged entry keeps its state for queries but is not
 * SUBSCRIBED for walks, counts and the publish check. */
#define PS_SUBF_REFUSED 0x100u /* the rules refuse it: never delivered to */
#define PS_SUBF_QUEUED 0x200u  /* in its pass's deletion queue */
#define PS_SUBF_SENDING 0x400u /* its deletion has been started */
#define PS_SUBF_PHASE 0x800u   /* the pass phase a walk's REFUSED mark is of */
#define PS_SUBF_ANY (PS_SUBF_REFUSED | PS_SUBF_QUEUED | PS_SUBF_SENDING | PS_SUBF_PHASE)

/* A prune pass (model_prune.c). Positions at or above `cursor` have been
 * examined in this pass; the cursor moves down, so the compaction's moves
 * (a live entry from the end into a hole) can only bring an examined
 * entry below it (examined again: harmless), never hide an unexamined
 * one above it. */
struct ps_prune_pass {
    ps_node_t *prev, *next; /* in the model's pruning list */
    char *only_bare;        /* scope: NULL = every subscription */
    size_t only_len;
    uint32_t cursor;
    uint32_t *queue; /* JID ids to delete, one strtab reference each */
    size_t q_head, q_len, q_cap;
    uint32_t phase;   /* 0 or PS_SUBF_PHASE, flipped by each restart */
    uint32_t sending; /* deletions started, not done */
    uint32_t failed;  /* deletions that failed in this pass */
    double not_before, backoff;
};

struct ps_node {
    ps_model_t *model;
    char *scope;
    char *name;
    ps_node_config_t cfg;
    char *creator;
    char *creation_date;
    ps_strmap_t *affs; /* bare JID -> (void *)(uintptr_t)ps_affiliation_t */
    size_t aff_counts[PS_AFF_OWNER + 1];
    ps_subset_t subs;
    bool removed;
    bool in_chores;
    ps_node_t *dying_prev, *dying_next; /* removed, not freed yet */
    ps_node_t *chore_prev, *chore_next; /* live, set compaction pending */
    struct ps_prune_pass *prune;        /* NULL: no pass */
};

struct ps_model {
    ps_strmap_t *nodes; /* scope '\0' name -> ps_node_t * */
    strtab_t *jids;     /* subscribed JIDs, shared by every node */
    ps_node_t *dying;
    ps_node_t *chores;
    ps_node_t *pruning, *pruning_tail; /* round robin: head goes next */
    size_t n_pruning;
    ps_model_wake_fn wake;
    void *wake_ud;
};

/* model.c */
void ps_model_node_free(ps_node_t *n);
/* Whether the rules let affiliation `a` hold a subscription. */
bool ps_access_allows(const ps_node_t *n, ps_affiliation_t a);

/* model_prune.c */
/* Removed nodes with at most this many entries (subscriptions and queued
 * deletions) are freed at once (~150 ns an entry: ~1.2 ms); larger ones,
 * and their affiliations, by ps_model_chores. */
#define PS_MODEL_RELEASE_NOW 8192u
bool ps_model_release_now(const ps_node_t *n);
void ps_model_forget_chores(ps_node_t *n);
/* Tells the owner of the model that deferred work became runnable. */
void ps_model_wake(ps_model_t *m);
/* Whether the entry at `pos` may be delivered to, examining it first
 * when a pass runs and has not reached it (fan-out, memoized in its
 * flags). */
bool ps_prune_deliverable(ps_node_t *n, uint32_t pos);
/* The same without memoizing, for const callers. */
bool ps_prune_deliverable_const(const ps_node_t *n, uint32_t pos);
/* The node leaves the model: its pass stops (the guard stays with the
 * node until it is freed). */
void ps_prune_detach(ps_node_t *n);
void ps_prune_free(ps_node_t *n);
/* A walk ended on `n` (iterators may now be 0): queue deferred work. */
void ps_model_walk_ended(ps_node_t *n);

#endif
