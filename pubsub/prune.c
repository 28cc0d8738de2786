/* Invariants:
 *   - every started deletion is in pr->writes until its completion, and
 *     pr->inflight counts them;
 *   - a write's `node` is NULL once forgotten, its `pr` NULL once the
 *     engine is freed: a completion then only frees the record. */
#include "pubsub/prune.h"

#include <ev.h>
#include <stdlib.h>
#include <string.h>

#include "component/log.h"

#define SUBJ "prune"
#define DEFAULT_SLICE 4096
#define DEFAULT_INFLIGHT 1024

#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

struct ps_pr_write {
    ps_pr_write_t *prev, *next;
    ps_pr_t *pr;
    ps_node_t *node;
    char jid[]; /* for the model when it completes */
};

struct ps_pr {
    struct ev_loop *loop;
    ps_pr_opts_t opts;
    ps_pr_io_t io;
    ps_model_t *model;
    ps_pr_write_t *writes;
    size_t inflight;
    bool stopped;
    uint64_t failed_logged;
    ps_pr_stats_t stats;

    ev_check check;
    ev_idle idle;
    ev_timer retry;
};

/* ---- watchers --------------------------------------------------------- */

/* Starts the turn watchers; the next turn decides whether they stay. */
static void kick(ps_pr_t *pr)
{
    if (!pr->loop)
        return;
    ev_check_start(pr->loop, &pr->check);
    ev_idle_start(pr->loop, &pr->idle);
}

static void wake_cb(void *ud)
{
    kick(ud);
}

static void update_watchers(ps_pr_t *pr)
{
    if (!pr->loop)
        return;
    double now = ev_now(pr->loop), wake_at = 0;
    ps_prune_state_t st = PS_PRUNE_IDLE;
    if (pr->model && !pr->stopped)
        st = ps_model_prune_state(pr->model, now, pr->inflight < pr->opts.max_inflight, &wake_at);
    if (st == PS_PRUNE_RUN || (pr->model && ps_model_has_chores(pr->model))) {
        kick(pr);
        return;
    }
    ev_check_stop(pr->loop, &pr->check);
    ev_idle_stop(pr->loop, &pr->idle);
    ev_timer_stop(pr->loop, &pr->retry);
    if (st == PS_PRUNE_WAIT && wake_at > 0) {
        ev_timer_set(&pr->retry, wake_at > now ? wake_at - now : 0., 0.);
        ev_timer_start(pr->loop, &pr->retry);
    }
}

static void check_cb(struct ev_loop *loop, ev_check *w, int revents)
{
    (void)revents;
    ps_pr_t *pr = container_of(w, ps_pr_t, check);
    ps_pr_turn(pr, ev_now(loop));
    update_watchers(pr);
}

/* Only keeps the loop from blocking: the work is done in check_cb. */
static void idle_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
    (void)loop;
    (void)w;
    (void)revents;
}

static void retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    kick(container_of(w, ps_pr_t, retry));
}

/* ---- deletions -------------------------------------------------------- */

static int emit(void *ud, ps_node_t *node, const char *jid)
{
    ps_pr_t *pr = ud;
    size_t len = strlen(jid);
    ps_pr_write_t *w = malloc(sizeof *w + len + 1);
    if (!w)
        return -1;
    memcpy(w->jid, jid, len + 1);
    w->pr = pr;
    w->node = node;
    w->prev = NULL;
    w->next = pr->writes;
    if (pr->writes)
        pr->writes->prev = w;
    pr->writes = w;
    pr->inflight++;
    pr->stats.started++;
    if (pr->io.del(pr->io.ud, node, jid, w) < 0) {
        pr->writes = w->next;
        if (w->next)
            w->next->prev = NULL;
        pr->inflight--;
        pr->stats.started--;
        free(w);
        return -1;
    }
    return 0;
}

void ps_pr_write_done(ps_pr_write_t *w, bool deleted)
{
    ps_pr_t *pr = w->pr;
    if (pr) {
        if (w->prev)
            w->prev->next = w->next;
        else
            pr->writes = w->next;
        if (w->next)
            w->next->prev = w->prev;
        pr->inflight--;
        if (deleted)
            pr->stats.deleted++;
        else
            pr->stats.failed++;
        /* The next turn starts more (never from here) and ends passes. */
        kick(pr);
    }
    if (w->node)
        ps_node_prune_done(w->node, w->jid, deleted);
    free(w);
}

size_t ps_pr_turn(ps_pr_t *pr, double now)
{
    if (!pr->model)
        return 0;
    size_t budget = pr->opts.slice;
    size_t used = ps_model_chores(pr->model, budget);
    if (!pr->stopped && used < budget) {
        size_t room =
            pr->inflight < pr->opts.max_inflight ? pr->opts.max_inflight - pr->inflight : 0;
        used += ps_model_prune_step(pr->model, now, budget - used, room, emit, pr);
    }
    if (used) {
        pr->stats.turns++;
        if (used > pr->stats.max_turn_work)
            pr->stats.max_turn_work = used;
    }
    if (pr->stats.failed > pr->failed_logged) {
        /* One line per turn, not per subscription, when the store fails. */
        hlog_warn(SUBJ,
                  "%llu subscription deletions failed: still never delivered to, retried later",
                  (unsigned long long)(pr->stats.failed - pr->failed_logged));
        pr->failed_logged = pr->stats.failed;
    }
    return used;
}

/* ---- life cycle ------------------------------------------------------- */

ps_pr_t *ps_pr_new(struct ev_loop *loop, const ps_pr_opts_t *opts, const ps_pr_io_t *io)
{
    ps_pr_t *pr = calloc(1, sizeof *pr);
    if (!pr)
        return NULL;
    pr->loop = loop;
    pr->opts = *opts;
    pr->io = *io;
    if (!pr->opts.slice)
        pr->opts.slice = DEFAULT_SLICE;
    if (!pr->opts.max_inflight)
        pr->opts.max_inflight = DEFAULT_INFLIGHT;
    ev_check_init(&pr->check, check_cb);
    ev_idle_init(&pr->idle, idle_cb);
    ev_timer_init(&pr->retry, retry_cb, 0., 0.);
    return pr;
}

void ps_pr_forget(ps_pr_t *pr, const ps_node_t *node)
{
    for (ps_pr_write_t *w = pr->writes; w; w = w->next)
        if (w->node == node)
            w->node = NULL;
}

void ps_pr_attach(ps_pr_t *pr, ps_model_t *m)
{
    if (pr->model)
        ps_model_on_work(pr->model, NULL, NULL);
    for (ps_pr_write_t *w = pr->writes; w; w = w->next)
        w->node = NULL;
    pr->model = m;
    if (m) {
        ps_model_on_work(m, wake_cb, pr);
        kick(pr);
    }
}

void ps_pr_stop(ps_pr_t *pr)
{
    pr->stopped = true;
    if (pr->loop)
        ev_timer_stop(pr->loop, &pr->retry);
}

void ps_pr_free(ps_pr_t *pr)
{
    if (!pr)
        return;
    if (pr->loop) {
        ev_check_stop(pr->loop, &pr->check);
        ev_idle_stop(pr->loop, &pr->idle);
        ev_timer_stop(pr->loop, &pr->retry);
    }
    if (pr->model)
        ps_model_on_work(pr->model, NULL, NULL);
    if (pr->inflight)
        hlog_info(SUBJ, "%zu subscription deletion%s still in flight at exit", pr->inflight,
                  pr->inflight == 1 ? "" : "s");
    for (ps_pr_write_t *w = pr->writes; w; w = w->next) {
        w->pr = NULL;
        w->node = NULL;
    }
    free(pr);
}

void ps_pr_stats(const ps_pr_t *pr, ps_pr_stats_t *out)
{
    *out = pr->stats;
    out->inflight = pr->inflight;
}
