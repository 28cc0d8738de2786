/* The model's deferred work: prune passes (removing the subscriptions a
 * node's rules no longer allow) and the release and compaction of large
 * subscriber sets, each done a budget at a time by the caller's loop
 * (pubsub/prune.h drives them).
 *
 * A pass, per node:
 *   examine  the cursor moves down the set; each subscription in scope
 *            the rules refuse is marked REFUSED|QUEUED and its JID id
 *            queued (with a strtab reference, so the id cannot be reused
 *            for another JID meanwhile); one allowed again loses a mark;
 *   delete   queued ids are taken in order: one still QUEUED and still
 *            refused is handed to `emit` (SENDING); one the rules allow
 *            again is unmarked instead;
 *   done     a deletion that succeeded removes the entry; one that failed
 *            leaves it REFUSED and makes the pass start over after a
 *            delay.
 * Fan-out reads the marks for free: a flagged entry is not SUBSCRIBED.
 * Entries the cursor has not reached are examined when a walk (or the
 * publish check) meets them, so the guard holds from ps_node_prune on; a
 * walk only marks them REFUSED, the cursor queues them when it gets there.
 *
 * Marks only exist while a pass does: a REFUSED-only entry is below the
 * cursor (marked by a walk) or counted as a failure of its pass (which
 * then cannot end); QUEUED ones are taken and SENDING ones done before
 * the pass ends. */
#include <stdlib.h>
#include <string.h>

#include "pubsub/model_int.h"

#define RETRY_MIN_S 1.0
#define RETRY_MAX_S 60.0
/* Units a started deletion costs in a step's budget: it makes a store
 * request, worth many examinations. */
#define EMIT_COST 8
/* Least budget a pruning node gets per step when many share it. */
#define MIN_SHARE 256

void ps_model_on_work(ps_model_t *m, ps_model_wake_fn fn, void *ud)
{
    m->wake = fn;
    m->wake_ud = ud;
}

void ps_model_wake(ps_model_t *m)
{
    if (m->wake)
        m->wake(m->wake_ud);
}

/* ---- the rules on a stored JID ------------------------------------------- */

/* Subscribed JIDs are normalized (model.h), so the bare JID is the part
 * before the first '/', and the affiliation is looked up in place. */
static bool allowed(const ps_node_t *n, const char *jid, size_t len)
{
    const char *slash = memchr(jid, '/', len);
    size_t bare = slash ? (size_t)(slash - jid) : len;
    return ps_access_allows(n, (ps_affiliation_t)(uintptr_t)ps_strmap_get(n->affs, jid, bare));
}

static bool in_scope(const struct ps_prune_pass *p, const char *jid, size_t len)
{
    if (!p->only_bare)
        return true;
    return len >= p->only_len && memcmp(jid, p->only_bare, p->only_len) == 0 &&
           (len == p->only_len || jid[p->only_len] == '/');
}

/* ---- passes -------------------------------------------------------------- */

static int push(struct ps_prune_pass *p, uint32_t id)
{
    if (p->q_head && p->q_len == p->q_cap) {
        memmove(p->queue, p->queue + p->q_head, (p->q_len - p->q_head) * sizeof *p->queue);
        p->q_len -= p->q_head;
        p->q_head = 0;
    }
    if (p->q_len == p->q_cap) {
        size_t cap = p->q_cap ? p->q_cap * 2 : 64;
        uint32_t *q = realloc(p->queue, cap * sizeof *q);
        if (!q)
            return -1;
        p->queue = q;
        p->q_cap = cap;
    }
    p->queue[p->q_len++] = id;
    return 0;
}

/* `queue`: the pass's own examination. A walk only marks, with the
 * pass's phase (the pass's cursor has yet to reach the entry, and queues
 * it then). */
static void examine(ps_node_t *n, struct ps_prune_pass *p, uint32_t pos, bool queue)
{
    const struct ps_sub_ent *e = ps_subset_at(&n->subs, pos);
    uint32_t st = e->state, base = st & PS_SUBSET_STATE_MASK;
    if (st == PS_SUB_NONE || (st & (PS_SUBF_QUEUED | PS_SUBF_SENDING)))
        return;
    strtab_t *t = n->model->jids;
    const char *jid = strtab_str(t, e->jid);
    size_t len = strtab_strlen(t, e->jid);
    if (!in_scope(p, jid, len))
        return;
    if (allowed(n, jid, len)) {
        if (st != base)
            ps_subset_set_state(&n->subs, pos, base);
        return;
    }
    if (!queue) {
        ps_subset_set_state(&n->subs, pos, base | PS_SUBF_REFUSED | p->phase);
        return;
    }
    if (push(p, e->jid) == 0) {
        strtab_ref(t, e->jid);
        ps_subset_set_state(&n->subs, pos, base | PS_SUBF_REFUSED | PS_SUBF_QUEUED);
    } else {
        /* No memory to queue it: never delivered to, tried again. */
        ps_subset_set_state(&n->subs, pos, base | PS_SUBF_REFUSED);
        p->failed++;
    }
}

bool ps_prune_deliverable(ps_node_t *n, uint32_t pos)
{
    struct ps_prune_pass *p = n->prune;
    if (p && pos < p->cursor) {
        /* Found refused by a walk since the rules last changed: the next
         * walks skip it at no cost. (A mark of an older phase is looked
         * at again: the entry may be allowed now.) */
        uint32_t flags = ps_subset_at(&n->subs, pos)->state & PS_SUBF_ANY;
        if (flags == (PS_SUBF_REFUSED | p->phase))
            return false;
        examine(n, p, pos, false);
    }
    return ps_subset_at(&n->subs, pos)->state == PS_SUB_SUBSCRIBED;
}

bool ps_prune_deliverable_const(const ps_node_t *n, uint32_t pos)
{
    const struct ps_prune_pass *p = n->prune;
    uint32_t st = ps_subset_at(&n->subs, pos)->state;
    if (!p || pos >= p->cursor || (st & (PS_SUBF_QUEUED | PS_SUBF_SENDING)) ||
        (st & PS_SUBSET_STATE_MASK) != PS_SUB_SUBSCRIBED)
        return st == PS_SUB_SUBSCRIBED;
    const strtab_t *t = n->model->jids;
    uint32_t id = ps_subset_at(&n->subs, pos)->jid;
    const char *jid = strtab_str(t, id);
    size_t len = strtab_strlen(t, id);
    if (!in_scope(p, jid, len))
        return st == PS_SUB_SUBSCRIBED;
    return allowed(n, jid, len);
}

static void unlink_pass(ps_model_t *m, ps_node_t *n)
{
    struct ps_prune_pass *p = n->prune;
    if (p->prev)
        p->prev->prune->next = p->next;
    else if (m->pruning == n)
        m->pruning = p->next;
    else
        return; /* not linked (detached) */
    if (p->next)
        p->next->prune->prev = p->prev;
    else
        m->pruning_tail = p->prev;
    p->prev = p->next = NULL;
    m->n_pruning--;
}

static void link_tail(ps_model_t *m, ps_node_t *n)
{
    struct ps_prune_pass *p = n->prune;
    p->next = NULL;
    p->prev = m->pruning_tail;
    if (m->pruning_tail)
        m->pruning_tail->prune->next = n;
    else
        m->pruning = n;
    m->pruning_tail = n;
    m->n_pruning++;
}

int ps_node_prune(ps_node_t *n, const char *only_bare)
{
    ps_model_t *m = n->model;
    struct ps_prune_pass *p = n->prune;
    if (n->removed)
        return 0;
    if (!p) {
        /* No pass, so no marks: with nobody refused, nothing to do. */
        if (!ps_subset_count(&n->subs) || !ps_node_may_refuse(n))
            return 0;
        p = calloc(1, sizeof *p);
        if (!p || (only_bare && !(p->only_bare = strdup(only_bare)))) {
            free(p);
            return -1;
        }
        p->only_len = only_bare ? strlen(only_bare) : 0;
        n->prune = p;
        link_tail(m, n);
    } else if (p->only_bare && (!only_bare || strcmp(p->only_bare, only_bare) != 0)) {
        /* Two scopes: every subscription. */
        free(p->only_bare);
        p->only_bare = NULL;
        p->only_len = 0;
    }
    /* From the top again: a change behind the cursor is seen too. */
    p->cursor = n->subs.n;
    p->phase ^= PS_SUBF_PHASE;
    p->not_before = 0;
    ps_model_wake(m);
    return 0;
}

bool ps_node_pruning(const ps_node_t *n)
{
    return n->prune != NULL;
}

/* Takes the next queued id: starts its deletion, or drops it when it
 * changed meanwhile. Returns whether a deletion was started. */
static bool take(ps_node_t *n, struct ps_prune_pass *p, ps_prune_emit_fn emit, void *ud)
{
    strtab_t *t = n->model->jids;
    uint32_t id = p->queue[p->q_head++];
    uint32_t pos1 = ps_subset_find_id(&n->subs, id);
    bool started = false;
    if (pos1 && (ps_subset_at(&n->subs, pos1 - 1)->state & PS_SUBF_QUEUED)) {
        uint32_t base = ps_subset_at(&n->subs, pos1 - 1)->state & PS_SUBSET_STATE_MASK;
        const char *jid = strtab_str(t, id);
        if (allowed(n, jid, strtab_strlen(t, id))) {
            ps_subset_set_state(&n->subs, pos1 - 1, base);
        } else if (emit(ud, n, jid) == 0) {
            ps_subset_set_state(&n->subs, pos1 - 1, base | PS_SUBF_REFUSED | PS_SUBF_SENDING);
            p->sending++;
            started = true;
        } else {
            ps_subset_set_state(&n->subs, pos1 - 1, base | PS_SUBF_REFUSED);
            p->failed++;
        }
    }
    /* Only now: the reference kept `jid` valid during emit. */
    strtab_unref(t, id);
    if (p->q_head == p->q_len)
        p->q_head = p->q_len = 0;
    return started;
}

static void pass_free(ps_node_t *n)
{
    struct ps_prune_pass *p = n->prune;
    for (size_t i = p->q_head; i < p->q_len; i++)
        strtab_unref(n->model->jids, p->queue[i]);
    free(p->queue);
    free(p->only_bare);
    free(p);
    n->prune = NULL;
}

static void pass_end(ps_model_t *m, ps_node_t *n, double now)
{
    struct ps_prune_pass *p = n->prune;
    if (p->failed) {
        /* Refused entries stay marked (skipped by fan-out) until a later
         * pass deletes them. */
        p->failed = 0;
        p->cursor = n->subs.n;
        p->backoff = p->backoff ? p->backoff * 2 : RETRY_MIN_S;
        if (p->backoff > RETRY_MAX_S)
            p->backoff = RETRY_MAX_S;
        p->not_before = now + p->backoff;
        return;
    }
    unlink_pass(m, n);
    pass_free(n);
}

size_t ps_model_prune_step(ps_model_t *m, double now, size_t budget, size_t max_emit,
                           ps_prune_emit_fn emit, void *ud)
{
    size_t used = 0, emitted = 0;
    for (size_t turns = m->n_pruning; turns > 0 && used < budget && m->pruning; turns--) {
        ps_node_t *n = m->pruning;
        struct ps_prune_pass *p = n->prune;
        /* Round robin: the head goes to the back whatever happens. */
        unlink_pass(m, n);
        link_tail(m, n);
        if (p->not_before > now)
            continue;
        size_t share = (budget - used) / turns;
        if (share < MIN_SHARE)
            share = MIN_SHARE;
        size_t limit = budget - used < share ? budget : used + share;
        while (used < limit && p->q_head < p->q_len && emitted < max_emit) {
            bool started = take(n, p, emit, ud);
            emitted += started;
            used += started ? EMIT_COST : 1;
        }
        while (used < limit && p->cursor) {
            if (p->cursor > n->subs.n)
                p->cursor = n->subs.n;
            if (!p->cursor)
                break;
            examine(n, p, --p->cursor, true);
            used++;
        }
        if (!p->cursor && p->q_head == p->q_len && !p->sending)
            pass_end(m, n, now);
    }
    return used;
}

ps_prune_state_t ps_model_prune_state(const ps_model_t *m, double now, bool can_emit,
                                      double *wake_at)
{
    *wake_at = 0;
    if (!m->pruning)
        return PS_PRUNE_IDLE;
    for (const ps_node_t *n = m->pruning; n; n = n->prune->next) {
        const struct ps_prune_pass *p = n->prune;
        if (p->not_before > now) {
            if (!*wake_at || p->not_before < *wake_at)
                *wake_at = p->not_before;
            continue;
        }
        bool queued = p->q_head < p->q_len;
        if (p->cursor || (queued && can_emit) || (!queued && !p->sending))
            return PS_PRUNE_RUN;
    }
    return PS_PRUNE_WAIT;
}

void ps_node_prune_done(ps_node_t *n, const char *jid, bool deleted)
{
    struct ps_prune_pass *p = n->prune;
    strtab_t *t = n->model->jids;
    size_t len = strlen(jid);
    if (p && p->sending)
        p->sending--;
    if (deleted) {
        /* The store no longer has it, whatever happened meanwhile. */
        ps_subset_del(&n->subs, t, jid, len);
    } else {
        uint32_t pos1 = ps_subset_find_id(&n->subs, strtab_find(t, jid, len));
        uint32_t st = pos1 ? ps_subset_at(&n->subs, pos1 - 1)->state : 0;
        /* Not SENDING: re-set by its owner since; that stands. */
        if (st & PS_SUBF_SENDING) {
            ps_subset_set_state(&n->subs, pos1 - 1, (st & PS_SUBSET_STATE_MASK) | PS_SUBF_REFUSED);
            if (p)
                p->failed++;
        }
    }
    if (p)
        ps_model_wake(n->model);
}

void ps_prune_detach(ps_node_t *n)
{
    if (n->prune)
        unlink_pass(n->model, n);
}

void ps_prune_free(ps_node_t *n)
{
    if (!n->prune)
        return;
    unlink_pass(n->model, n);
    pass_free(n);
}

/* ---- releases and compaction --------------------------------------------- */

bool ps_model_release_now(const ps_node_t *n)
{
    size_t queued = n->prune ? n->prune->q_len - n->prune->q_head : 0;
    return n->subs.iterators == 0 &&
           n->subs.n + queued + ps_strmap_count(n->affs) <= PS_MODEL_RELEASE_NOW;
}

static void unlink_dying(ps_model_t *m, ps_node_t *n)
{
    if (n->dying_prev)
        n->dying_prev->dying_next = n->dying_next;
    else
        m->dying = n->dying_next;
    if (n->dying_next)
        n->dying_next->dying_prev = n->dying_prev;
}

static void unlink_chores(ps_model_t *m, ps_node_t *n)
{
    if (n->chore_prev)
        n->chore_prev->chore_next = n->chore_next;
    else
        m->chores = n->chore_next;
    if (n->chore_next)
        n->chore_next->chore_prev = n->chore_prev;
    n->chore_prev = n->chore_next = NULL;
    n->in_chores = false;
}

void ps_model_forget_chores(ps_node_t *n)
{
    if (n->in_chores)
        unlink_chores(n->model, n);
}

void ps_model_walk_ended(ps_node_t *n)
{
    ps_model_t *m = n->model;
    if (n->subs.iterators)
        return;
    if (n->removed) {
        if (ps_model_release_now(n)) {
            unlink_dying(m, n);
            ps_model_node_free(n);
        } else {
            ps_model_wake(m);
        }
        return;
    }
    if (!n->subs.compacting)
        return;
    if (!n->in_chores) {
        n->chore_prev = NULL;
        n->chore_next = m->chores;
        if (m->chores)
            m->chores->chore_prev = n;
        m->chores = n;
        n->in_chores = true;
    }
    ps_model_wake(m);
}

/* Drops queued ids of a removed node's pass, from the end. */
static size_t release_queue(ps_node_t *n, size_t budget)
{
    struct ps_prune_pass *p = n->prune;
    size_t used = 0;
    while (p && p->q_len > p->q_head && used < budget) {
        strtab_unref(n->model->jids, p->queue[--p->q_len]);
        used++;
    }
    return used;
}

size_t ps_model_chores(ps_model_t *m, size_t budget)
{
    size_t used = 0;
    ps_node_t *next;
    for (ps_node_t *n = m->dying; n && used < budget; n = next) {
        next = n->dying_next;
        if (n->subs.iterators)
            continue;
        used += release_queue(n, budget - used);
        used += ps_subset_release(&n->subs, m->jids, budget - used);
        size_t left = budget - used;
        size_t k = left ? ps_strmap_release(n->affs, left) : 0;
        used += k;
        if (!n->subs.n && (!n->prune || n->prune->q_len == n->prune->q_head) && k < left) {
            unlink_dying(m, n);
            ps_model_node_free(n);
        }
    }
    for (ps_node_t *n = m->chores; n && used < budget; n = next) {
        next = n->chore_next;
        if (n->subs.iterators)
            continue;
        used += ps_subset_compact(&n->subs, m->jids, budget - used);
        if (!n->subs.compacting)
            unlink_chores(m, n);
    }
    return used;
}

bool ps_model_has_chores(const ps_model_t *m)
{
    for (const ps_node_t *n = m->dying; n; n = n->dying_next)
        if (!n->subs.iterators)
            return true;
    for (const ps_node_t *n = m->chores; n; n = n->chore_next)
        if (!n->subs.iterators)
            return true;
    return false;
}
