/* The fan-out engine: delivers event notifications (notify.h templates)
 * to a node's subscribers, a bounded slice per loop turn, with
 * backpressure on the link's send queue.
 *
 * Jobs and order
 *   A job is one notification and its audience: either every subscription
 *   in state subscribed when the job is queued (ps_fo_node: the walk of
 *   model.h is opened at once, so later subscribers are not included and
 *   the node stays allocated until the job ends, even when deleted), or
 *   one recipient (ps_fo_one: the last published item on subscribe).
 *   Jobs are queued under a key (the caller's per-node identity); the jobs
 *   of one key run strictly one after the other, in queueing order, so
 *   each subscriber receives a node's notifications in publish order.
 *   Keys take turns (round robin), so a million-recipient job does not
 *   hold back other nodes' notifications.
 *
 * Loop integration (ev.pod's idle + check trick)
 *   While work is runnable an ev_idle keeps the loop from blocking and an
 *   ev_check delivers up to `slice` recipients after every poll: other
 *   stanzas are served between two slices, and the link's ev_prepare
 *   flushes a slice right after it is produced. A turn also examines at
 *   most PS_FANOUT_SCAN_FACTOR x `slice` subscriptions (model.h), so a
 *   node whose subscribers are mostly skipped costs more turns, never a
 *   longer one.
 *
 * Backpressure
 *   Stanzas are rendered into one reusable buffer and handed to the link
 *   several at a time (batch_bytes per send call) when one link is up.
 *   With several links, each stanza is sent on its own so that the
 *   component keeps a recipient on one link (component_send_raw_to);
 *   with none, delivery pauses until a link is back. Before and during
 *   each slice the engine estimates the stanzas waiting in the link's
 *   queue (queued items x stanzas per item of its own last sends); above
 *   queue_high it pauses (the idle watcher stops, so the loop may block;
 *   a short timer polls as a backstop) and resumes at or below
 *   queue_low. Within a slice the mark is checked between chunks of 64
 *   recipients, so a pause may overshoot it by up to 63 stanzas.
 *   Memory is the jobs (one template + one walk each) and one render
 *   buffer, independent of the number of subscribers.
 *
 * Delivery is at most once: what sits in the link's queue when a link
 * drops is lost (components have no stream management). */
#ifndef HERALD_PS_FANOUT_H
#define HERALD_PS_FANOUT_H

#include <stddef.h>
#include <stdint.h>

#include "pubsub/model.h"
#include "pubsub/notify.h"

struct ev_loop;
typedef struct ps_fo ps_fo_t;

/* The link, behind function pointers so that tests can fake it. */
typedef struct {
    /* Hands `len` bytes of whole stanzas to the link. `to` is the
     * recipient of the (single) stanza in per-recipient mode, NULL for a
     * batch of stanzas to mixed recipients. */
    void (*send)(void *ud, const char *to, const char *data, size_t len);
    /* Items waiting in the links' send queues. */
    size_t (*queue_len)(void *ud);
    /* Links up: 0 pauses delivery, 1 allows batches, more sends one
     * stanza per call. */
    int (*links_up)(void *ud);
    void *ud;
} ps_fo_io_t;

typedef struct {
    unsigned slice;      /* recipients per loop turn (0: 1000) */
    unsigned queue_high; /* pause above this many queued stanzas (0: 4096) */
    unsigned queue_low;  /* resume below this many (must be < high) */
    size_t batch_bytes;  /* bytes per send call in batch mode (0: 32 KiB) */
} ps_fo_opts_t;

/* `loop` may be NULL (tests): then nothing runs by itself and the caller
 * drives the engine with ps_fo_turn. NULL on OOM. */
ps_fo_t *ps_fo_new(struct ev_loop *loop, const ps_fo_opts_t *opts, const ps_fo_io_t *io);
/* Drops every pending job (their walks are ended, templates unreferenced):
 * call it before freeing the model. NULL is a no-op. */
void ps_fo_free(ps_fo_t *fo);

/* Queues delivery of `notif` to the subscribers of `node` under `key`.
 * Takes a reference on `notif` (the caller keeps its own). Message ids are
 * the template's prefix + 1, 2, 3… Returns 0, or -1 on OOM (nothing
 * queued). */
int ps_fo_node(ps_fo_t *fo, const void *key, ps_node_t *node, ps_notif_t *notif);
/* Queues delivery of `notif` to one recipient `to` (copied) under `key`. */
int ps_fo_one(ps_fo_t *fo, const void *key, const char *to, ps_notif_t *notif);

/* Runs one turn by hand (what the check watcher does): returns the number
 * of stanzas rendered and handed to the link (0 when idle or paused). */
size_t ps_fo_turn(ps_fo_t *fo);

typedef struct {
    size_t jobs;         /* queued or running */
    uint64_t delivered;  /* stanzas handed to the link since start */
    uint64_t send_calls; /* send() calls since start */
    uint64_t pauses;     /* times backpressure (or no link) paused delivery */
    int paused;          /* currently paused */
} ps_fo_stats_t;

void ps_fo_stats(const ps_fo_t *fo, ps_fo_stats_t *out);

#endif
