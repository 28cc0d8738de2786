/* The prune engine: runs the model's deferred work (model.h) on the loop
 * without ever spending a loop turn in proportion to a node's
 * subscribers. That work is
 *   - prune passes: after an access-model or affiliation change, the
 *     subscriptions the rules refuse are found a slice at a time and
 *     deleted from the store with a bound on deletions in flight; each
 *     deletion's completion removes the subscription from the model, so
 *     the model follows the store (ps_node_prune tells what fan-out sees
 *     in the meantime: nothing is delivered to a refused subscriber);
 *   - releasing removed nodes' subscriber sets and compacting sets after
 *     walks, a budget at a time.
 *
 * Loop integration (ev.pod's idle + check trick, as in fanout.h)
 *   While work is runnable an ev_idle keeps the loop from blocking and an
 *   ev_check does one turn after every poll: up to `slice` units (a
 *   subscription examined, released or compacted: 1; a deletion started:
 *   8, so at most 512 start in a turn of the default 4096). With
 *   `max_inflight` deletions started and not completed, passes only go on
 *   examining; when nothing else is left the watchers stop and the
 *   completions (ps_pr_write_done) start them again. A pass that had
 *   failed deletions runs again after a delay: a timer wakes the engine.
 *   Deletions are only ever started from the check watcher, never inside
 *   a completion, so a completion may come from anywhere (store_free).
 *
 * The engine keeps no pointer into the model across turns except in the
 * deletions in flight, which the owner clears with ps_pr_forget before a
 * node is removed and ps_pr_attach before the model is freed. */
#ifndef HERALD_PS_PRUNE_H
#define HERALD_PS_PRUNE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pubsub/model.h"

struct ev_loop;
typedef struct ps_pr ps_pr_t;
/* One deletion in flight (owned by the engine, freed by its completion). */
typedef struct ps_pr_write ps_pr_write_t;

/* The store, behind a function pointer so that tests can fake it. */
typedef struct {
    /* Starts deleting every subscription of `jid` (valid during the call
     * only) on `node`; returns 0 and later calls ps_pr_write_done(w, …)
     * exactly once, never before returning; or -1 when it cannot start
     * (no ps_pr_write_done then). */
    int (*del)(void *ud, ps_node_t *node, const char *jid, ps_pr_write_t *w);
    void *ud;
} ps_pr_io_t;

typedef struct {
    unsigned slice;        /* units of work per loop turn (0: 4096) */
    unsigned max_inflight; /* deletions started, not completed (0: 1024) */
} ps_pr_opts_t;

/* `loop` may be NULL (tests): then nothing runs by itself and the caller
 * drives the engine with ps_pr_turn. NULL on OOM. */
ps_pr_t *ps_pr_new(struct ev_loop *loop, const ps_pr_opts_t *opts, const ps_pr_io_t *io);
/* Stops the watchers; deletions in flight complete later without
 * touching the engine or the model. NULL is a no-op. */
void ps_pr_free(ps_pr_t *pr);

/* Works on `m` (NULL: none) from now on. Detaches from the previous model
 * first: its deletions in flight will complete without touching it. */
void ps_pr_attach(ps_pr_t *pr, ps_model_t *m);
/* `node` is about to leave the model: its deletions in flight will
 * complete without touching it. */
void ps_pr_forget(ps_pr_t *pr, const ps_node_t *node);
/* Shutting down: no new deletion starts (passes stay unfinished: the
 * owner prunes again after a restart); those in flight complete. */
void ps_pr_stop(ps_pr_t *pr);

/* A deletion ended: `deleted` when the store no longer has the
 * subscription (deleted now or already gone). */
void ps_pr_write_done(ps_pr_write_t *w, bool deleted);

/* Runs one turn by hand (what the check watcher does) at clock `now`
 * (seconds); returns the units of work done. */
size_t ps_pr_turn(ps_pr_t *pr, double now);

typedef struct {
    size_t inflight;      /* deletions started, not completed */
    uint64_t started;     /* deletions started since creation */
    uint64_t deleted;     /* completed with the subscription gone */
    uint64_t failed;      /* completed with an error (retried later) */
    uint64_t turns;       /* turns that did some work */
    size_t max_turn_work; /* most units done in one turn */
} ps_pr_stats_t;

void ps_pr_stats(const ps_pr_t *pr, ps_pr_stats_t *out);

#endif
