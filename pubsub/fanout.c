/* Invariants:
 *   - a key's queue exists exactly while it holds jobs, and then it is in
 *     the active FIFO (so freeing the FIFO frees every job);
 *   - only the head job of a queue delivers; a job's walk was opened when
 *     the job was queued and is ended when the job is freed;
 *   - nothing rendered stays in the buffer across turns (each turn ends
 *     with a flush), so a notification never waits for the next slice. */
#include "pubsub/fanout.h"

#include <ev.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "component/log.h"
#include "pubsub/buf.h"
#include "pubsub/strmap.h"

#define SUBJ "fanout"
#define DEFAULT_SLICE 1000
#define DEFAULT_HIGH 4096
#define DEFAULT_BATCH (32 * 1024)
#define WALK_CHUNK 64
/* While paused, how often the queue is polled when nothing else wakes
 * the loop (the link's own writes normally do). */
#define PAUSE_POLL_S 0.02

#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

struct job {
    struct job *next;
    ps_notif_t *notif;
    uint64_t seq; /* last message id suffix used */
    char *to;     /* one recipient, or NULL for a node walk */
    size_t to_len;
    ps_fanout_t walk; /* when !to */
};

struct queue {
    const void *key;
    struct job *head, *tail;
    struct queue *next_active;
};

struct ps_fo {
    struct ev_loop *loop;
    ps_fo_opts_t opts;
    ps_fo_io_t io;
    ps_strmap_t *queues; /* key bytes -> struct queue * */
    struct queue *active, *active_tail;
    size_t jobs;

    ps_buf_t buf;       /* rendered stanzas not yet handed over */
    size_t buf_count;   /* stanzas in buf */
    size_t per_item;    /* stanzas per send call, for the estimate */
    bool per_recipient; /* this turn sends one stanza per call */
    bool stop_turn;
    bool paused;
    bool oom_logged;

    uint64_t delivered, send_calls, pauses;

    ev_check check;
    ev_idle idle;
    ev_timer poll;
};

/* ---- jobs and queues ------------------------------------------------ */

static void job_free(struct job *j)
{
    if (!j->to)
        ps_fanout_end(&j->walk);
    ps_notif_unref(j->notif);
    free(j->to);
    free(j);
}

static void update_watchers(ps_fo_t *fo);

static int enqueue(ps_fo_t *fo, const void *key, struct job *j)
{
    struct queue *q = ps_strmap_get(fo->queues, (const char *)&key, sizeof key);
    if (!q) {
        q = calloc(1, sizeof *q);
        if (!q)
            return -1;
        q->key = key;
        if (ps_strmap_put(fo->queues, (const char *)&key, sizeof key, q) < 0) {
            free(q);
            return -1;
        }
        if (fo->active_tail)
            fo->active_tail->next_active = q;
        else
            fo->active = q;
        fo->active_tail = q;
    }
    if (q->tail)
        q->tail->next = j;
    else
        q->head = j;
    q->tail = j;
    fo->jobs++;
    update_watchers(fo);
    return 0;
}

int ps_fo_node(ps_fo_t *fo, const void *key, ps_node_t *node, ps_notif_t *notif)
{
    struct job *j = calloc(1, sizeof *j);
    if (!j)
        return -1;
    j->notif = ps_notif_ref(notif);
    ps_fanout_begin(&j->walk, node);
    if (enqueue(fo, key, j) < 0) {
        job_free(j);
        return -1;
    }
    return 0;
}

int ps_fo_one(ps_fo_t *fo, const void *key, const char *to, ps_notif_t *notif)
{
    struct job *j = calloc(1, sizeof *j);
    if (!j)
        return -1;
    j->to_len = strlen(to);
    j->to = malloc(j->to_len + 1);
    if (!j->to) {
        free(j);
        return -1;
    }
    memcpy(j->to, to, j->to_len + 1);
    j->notif = ps_notif_ref(notif);
    if (enqueue(fo, key, j) < 0) {
        job_free(j);
        return -1;
    }
    return 0;
}

/* ---- backpressure --------------------------------------------------- */

static void set_paused(ps_fo_t *fo, bool paused)
{
    if (paused == fo->paused)
        return;
    fo->paused = paused;
    if (paused)
        fo->pauses++;
    hlog_debug(SUBJ, "%s (%zu jobs, %zu items queued)", paused ? "paused" : "resumed", fo->jobs,
               fo->io.queue_len(fo->io.ud));
}

static size_t queued_stanzas(ps_fo_t *fo)
{
    return fo->io.queue_len(fo->io.ud) * (fo->per_item ? fo->per_item : 1);
}

/* Decides whether this turn may deliver, updating the paused state. */
static bool may_run(ps_fo_t *fo)
{
    if (fo->io.links_up(fo->io.ud) <= 0) {
        set_paused(fo, true);
        return false;
    }
    size_t q = queued_stanzas(fo);
    if (fo->paused) {
        if (q > fo->opts.queue_low)
            return false;
        set_paused(fo, false);
    } else if (q > fo->opts.queue_high) {
        set_paused(fo, true);
        return false;
    }
    return true;
}

static void flush(ps_fo_t *fo)
{
    if (!fo->buf_count)
        return;
    fo->io.send(fo->io.ud, NULL, fo->buf.data, fo->buf.len);
    fo->send_calls++;
    fo->per_item = fo->buf_count;
    ps_buf_reset(&fo->buf);
    fo->buf_count = 0;
    if (queued_stanzas(fo) > fo->opts.queue_high) {
        set_paused(fo, true);
        fo->stop_turn = true;
    }
}

/* ---- delivery ------------------------------------------------------- */

static void emit(ps_fo_t *fo, struct job *j, const char *to, size_t to_len)
{
    if (ps_notif_render(j->notif, to, to_len, ++j->seq, &fo->buf) < 0) {
        if (!fo->oom_logged)
            hlog_error(SUBJ, "out of memory rendering a notification: recipients skipped");
        fo->oom_logged = true;
        return;
    }
    fo->delivered++;
    if (fo->per_recipient) {
        fo->io.send(fo->io.ud, to, fo->buf.data, fo->buf.len);
        fo->send_calls++;
        fo->per_item = 1;
        ps_buf_reset(&fo->buf);
        if (queued_stanzas(fo) > fo->opts.queue_high) {
            set_paused(fo, true);
            fo->stop_turn = true;
        }
        return;
    }
    fo->buf_count++;
    if (fo->buf.len >= fo->opts.batch_bytes)
        flush(fo);
}

/* Works on `j` for up to `budget` units; *done when it has no recipient
 * left. A unit is a recipient rendered or PS_FANOUT_SCAN_FACTOR entries
 * the walk examined, whichever is more, so a long run of skipped
 * subscribers (refused by a prune pass) takes several turns instead of
 * one long one: a walk that found nobody this time goes on next turn.
 * Returns the units used (at most `budget`: a call examines at most
 * PS_FANOUT_SCAN_FACTOR entries per slot it is given). */
static size_t run_job(ps_fo_t *fo, struct job *j, size_t budget, bool *done)
{
    if (j->to) {
        emit(fo, j, j->to, j->to_len);
        *done = true;
        return 1;
    }
    size_t used = 0;
    ps_recipient_t r[WALK_CHUNK];
    while (used < budget && !fo->stop_turn) {
        size_t want = budget - used < WALK_CHUNK ? budget - used : WALK_CHUNK;
        ps_fanout_step_t s = ps_fanout_next(&j->walk, r, want);
        for (size_t i = 0; i < s.n; i++)
            emit(fo, j, r[i].jid, r[i].len);
        size_t scan_cost = (s.scanned + PS_FANOUT_SCAN_FACTOR - 1) / PS_FANOUT_SCAN_FACTOR;
        used += s.n > scan_cost ? s.n : scan_cost;
        if (s.done) {
            *done = true;
            break;
        }
    }
    return used;
}

size_t ps_fo_turn(ps_fo_t *fo)
{
    if (!fo->active || !may_run(fo))
        return 0;
    fo->per_recipient = fo->io.links_up(fo->io.ud) > 1;
    fo->stop_turn = false;
    uint64_t before = fo->delivered;
    size_t budget = fo->opts.slice;
    while (budget && fo->active && !fo->stop_turn) {
        struct queue *q = fo->active;
        struct job *j = q->head;
        bool done = false;
        size_t n = run_job(fo, j, budget, &done);
        /* An empty job still costs one unit, so a turn stays bounded. */
        budget -= n ? (n < budget ? n : budget) : 1;
        /* Rotate: the queue leaves the front whether or not it is done. */
        fo->active = q->next_active;
        if (!fo->active)
            fo->active_tail = NULL;
        q->next_active = NULL;
        if (done) {
            q->head = j->next;
            if (!q->head)
                q->tail = NULL;
            job_free(j);
            fo->jobs--;
        }
        if (q->head) {
            if (fo->active_tail)
                fo->active_tail->next_active = q;
            else
                fo->active = q;
            fo->active_tail = q;
        } else {
            ps_strmap_del(fo->queues, (const char *)&q->key, sizeof q->key);
            free(q);
        }
    }
    flush(fo);
    return (size_t)(fo->delivered - before);
}

/* ---- watchers ------------------------------------------------------- */

static void update_watchers(ps_fo_t *fo)
{
    if (!fo->loop)
        return;
    if (!fo->jobs) {
        ev_check_stop(fo->loop, &fo->check);
        ev_idle_stop(fo->loop, &fo->idle);
        ev_timer_stop(fo->loop, &fo->poll);
        return;
    }
    ev_check_start(fo->loop, &fo->check);
    if (fo->paused) {
        ev_idle_stop(fo->loop, &fo->idle);
        if (!ev_is_active(&fo->poll)) {
            ev_timer_set(&fo->poll, PAUSE_POLL_S, PAUSE_POLL_S);
            ev_timer_start(fo->loop, &fo->poll);
        }
    } else {
        ev_timer_stop(fo->loop, &fo->poll);
        ev_idle_start(fo->loop, &fo->idle);
    }
}

static void check_cb(struct ev_loop *loop, ev_check *w, int revents)
{
    (void)loop;
    (void)revents;
    ps_fo_t *fo = container_of(w, ps_fo_t, check);
    ps_fo_turn(fo);
    update_watchers(fo);
}

/* Only keeps the loop from blocking: the work is done in check_cb. */
static void idle_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
    (void)loop;
    (void)w;
    (void)revents;
}

/* Wakes a blocked loop while paused; check_cb then re-evaluates. */
static void poll_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)w;
    (void)revents;
}

/* ---- life cycle ----------------------------------------------------- */

ps_fo_t *ps_fo_new(struct ev_loop *loop, const ps_fo_opts_t *opts, const ps_fo_io_t *io)
{
    ps_fo_t *fo = calloc(1, sizeof *fo);
    if (!fo)
        return NULL;
    fo->loop = loop;
    fo->opts = *opts;
    fo->io = *io;
    if (!fo->opts.slice)
        fo->opts.slice = DEFAULT_SLICE;
    if (!fo->opts.queue_high)
        fo->opts.queue_high = DEFAULT_HIGH;
    if (fo->opts.queue_low >= fo->opts.queue_high)
        fo->opts.queue_low = fo->opts.queue_high / 4;
    if (!fo->opts.batch_bytes)
        fo->opts.batch_bytes = DEFAULT_BATCH;
    fo->per_item = 1;
    fo->queues = ps_strmap_new();
    if (!fo->queues) {
        free(fo);
        return NULL;
    }
    ev_check_init(&fo->check, check_cb);
    ev_idle_init(&fo->idle, idle_cb);
    ev_timer_init(&fo->poll, poll_cb, PAUSE_POLL_S, PAUSE_POLL_S);
    return fo;
}

void ps_fo_free(ps_fo_t *fo)
{
    if (!fo)
        return;
    if (fo->loop) {
        ev_check_stop(fo->loop, &fo->check);
        ev_idle_stop(fo->loop, &fo->idle);
        ev_timer_stop(fo->loop, &fo->poll);
    }
    if (fo->jobs)
        hlog_warn(SUBJ, "%zu notification job%s dropped at shutdown", fo->jobs,
                  fo->jobs == 1 ? "" : "s");
    while (fo->active) {
        struct queue *q = fo->active;
        fo->active = q->next_active;
        while (q->head) {
            struct job *j = q->head;
            q->head = j->next;
            job_free(j);
        }
        free(q);
    }
    ps_strmap_free(fo->queues);
    ps_buf_free(&fo->buf);
    free(fo);
}

void ps_fo_stats(const ps_fo_t *fo, ps_fo_stats_t *out)
{
    out->jobs = fo->jobs;
    out->delivered = fo->delivered;
    out->send_calls = fo->send_calls;
    out->pauses = fo->pauses;
    out->paused = fo->paused;
}
