/* One XEP-0114 link: libstrophe's component connection on a libev loop.
 * This file holds the link's lifecycle and its state machine: one
 * set_state that arms every watcher for the new state, the state timer
 * (reconnect delay, handshake deadline, closing grace) and the up/down/
 * closed notifications. The libstrophe facts and the invariants the link
 * is built around are in link_int.h, which also lists the other pieces. */
#include "component/link_int.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>

#include "component/log.h"

static unsigned next_serial;

static const char *const state_names[] = {
    [LINK_IDLE] = "IDLE",           [LINK_CONNECTING] = "CONNECTING",
    [LINK_HANDSHAKING] = "HANDSHAKING", [LINK_UP] = "UP",
    [LINK_BACKOFF] = "BACKOFF",     [LINK_CLOSING] = "CLOSING",
    [LINK_CLOSED] = "CLOSED",
};

const char *link_state_name(link_state_t state)
{
    return (unsigned)state < sizeof(state_names) / sizeof(state_names[0])
               ? state_names[state]
               : "?";
}

/* ------------------------------------------------------------ state machine */

void link_timer_arm(link_t *l, ev_timer *t, double seconds)
{
    ev_timer_stop(l->loop, t);
    ev_timer_set(t, seconds > 0 ? seconds : 0., 0.);
    ev_timer_start(l->loop, t);
}

void link_schedule_notify(link_t *l)
{
    if (!ev_is_active(&l->notify))
        link_timer_arm(l, &l->notify, 0.);
}

void link_set_state(link_t *l, link_state_t next)
{
    link_state_t prev = l->state;
    if (prev == next)
        return;
    l->state = next;
    hlog_debug(LINK_SUBJ, "link %d: %s -> %s", l->index, link_state_name(prev),
               link_state_name(next));

    int active = next == LINK_CONNECTING || next == LINK_HANDSHAKING ||
                 next == LINK_UP || next == LINK_CLOSING;
    if (active && !ev_is_active(&l->prepare))
        ev_prepare_start(l->loop, &l->prepare);
    else if (!active)
        ev_prepare_stop(l->loop, &l->prepare);

    /* While UP we register no libstrophe timers, so the tick would only
     * wake the process for nothing. */
    if (next == LINK_CONNECTING || next == LINK_HANDSHAKING ||
        next == LINK_CLOSING) {
        if (!ev_is_active(&l->tick)) {
            ev_timer_set(&l->tick, LINK_TICK_S, LINK_TICK_S);
            ev_timer_start(l->loop, &l->tick);
        }
    } else {
        ev_timer_stop(l->loop, &l->tick);
    }

    if (next == LINK_UP) {
        l->last_rx = ev_now(l->loop);
        l->ping_outstanding = 0;
        link_timer_arm(l, &l->ping, l->cfg.ping_interval_ms / 1000.);
    } else {
        ev_timer_stop(l->loop, &l->ping);
    }

    switch (next) {
    case LINK_CONNECTING:
        /* One deadline covers TCP connect and handshake: libstrophe has
         * none for a server that accepts TCP but never opens the stream. */
        link_timer_arm(l, &l->state_timer, l->cfg.ping_timeout_ms / 1000.);
        break;
    case LINK_HANDSHAKING:
        break; /* keeps the CONNECTING deadline */
    case LINK_CLOSING:
        link_timer_arm(l, &l->state_timer, l->grace_ms / 1000.);
        break;
    default:
        ev_timer_stop(l->loop, &l->state_timer);
        break;
    }

    link_update_io(l);
}

static void state_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    link_t *l = container_of(w, link_t, state_timer);
    switch (l->state) {
    case LINK_BACKOFF:
        link_connect(l);
        break;
    case LINK_CONNECTING:
    case LINK_HANDSHAKING: {
        char why[160];
        snprintf(why, sizeof(why), "no handshake with %s:%d within %u ms",
                 l->cfg.host, l->cfg.port, l->cfg.ping_timeout_ms);
        link_force_close(l, why);
        break;
    }
    case LINK_CLOSING:
        if (!l->grace_forced && l->fd >= 0) {
            l->grace_forced = 1;
            hlog_warn(LINK_SUBJ, "link %d: server did not close the stream within "
                      "%u ms; closing the socket", l->index, l->grace_ms);
            link_force_close(l, NULL);
            link_timer_arm(l, w, l->grace_ms / 2000.);
        } else {
            /* Nothing more will come: the conn is torn down by link_free. */
            hlog_warn(LINK_SUBJ, "link %d: closed without the server's consent",
                      l->index);
            link_set_state(l, LINK_CLOSED);
            link_schedule_notify(l);
        }
        break;
    default:
        break;
    }
}

static void notify_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    link_t *l = container_of(w, link_t, notify);

    /* A quick down+up between two turns still yields down then up, so
     * modules re-announce after every reconnect. */
    if (l->announced_up &&
        (l->state != LINK_UP || l->announced_gen != l->up_gen)) {
        l->announced_up = 0;
        if (l->cb.down)
            l->cb.down(l, l->cb.ud);
    }
    if (!l->announced_up && l->state == LINK_UP) {
        l->announced_up = 1;
        l->announced_gen = l->up_gen;
        if (l->cb.up)
            l->cb.up(l, l->cb.ud);
    }
    if (l->state == LINK_CLOSED && !l->closed_notified) {
        l->closed_notified = 1;
        if (l->cb.closed)
            l->cb.closed(l, l->cb.ud); /* may free l */
    }
}

/* ------------------------------------------------------------ lifecycle */

static int refuse_socket(xmpp_conn_t *conn, void *sock)
{
    (void)conn;
    (void)sock;
    return -1;
}

/* The workaround for libstrophe's component mode (DESIGN.md §1): a client
 * connect allocates the stream-management state even when the socket is
 * refused, and the state can be moved to another conn of the same ctx.
 * It survives reconnects (only freed with the conn). */
static int give_sm_state(xmpp_ctx_t *ctx, xmpp_conn_t *conn)
{
    xmpp_conn_t *tmp = xmpp_conn_new(ctx);
    if (!tmp)
        return -1;
    xmpp_conn_set_jid(tmp, "sm-state@workaround.invalid");
    xmpp_conn_set_sockopt_callback(tmp, refuse_socket);
    /* An IP literal as altdomain: no DNS, no SRV lookup. */
    (void)xmpp_connect_client(tmp, "127.0.0.1", 9, NULL, NULL);
    xmpp_sm_state_t *sm = xmpp_conn_get_sm_state(tmp);
    xmpp_conn_release(tmp);
    if (!sm)
        return -1;
    if (xmpp_conn_set_sm_state(conn, sm) != XMPP_EOK) {
        xmpp_free_sm_state(sm);
        return -1;
    }
    return 0;
}

static void ignore_sigpipe(void)
{
    /* libstrophe writes with send() without MSG_NOSIGNAL: a write to a
     * connection the server reset would kill the process. */
    struct sigaction sa;
    if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = SIG_IGN;
        sigaction(SIGPIPE, &sa, NULL);
    }
}

static void free_strings(link_t *l)
{
    free((char *)l->cfg.host);
    free((char *)l->cfg.domain);
    free((char *)l->cfg.secret);
    free(l->ping_to);
}

link_t *link_new(struct ev_loop *loop, xmpp_ctx_t *ctx, int index,
                 const link_config_t *cfg, const link_callbacks_t *cb)
{
    if (!loop || !ctx || !cfg || !cfg->host || !cfg->domain || !cfg->secret ||
        cfg->port <= 0 || cfg->port > 65535) {
        hlog_error(LINK_SUBJ, "link %d: invalid configuration", index);
        return NULL;
    }
    link_t *l = calloc(1, sizeof(*l));
    if (!l)
        return NULL;
    l->loop = loop;
    l->ctx = ctx;
    l->index = index;
    l->serial = ++next_serial;
    l->cfg = *cfg;
    l->cfg.host = strdup(cfg->host);
    l->cfg.domain = strdup(cfg->domain);
    l->cfg.secret = strdup(cfg->secret);
    l->ping_to = link_ping_target(cfg->domain);
    if (cb)
        l->cb = *cb;
    if (l->cfg.backoff_min_ms == 0)
        l->cfg.backoff_min_ms = 1;
    if (l->cfg.backoff_max_ms < l->cfg.backoff_min_ms)
        l->cfg.backoff_max_ms = l->cfg.backoff_min_ms;
    if (l->cfg.ping_interval_ms == 0)
        l->cfg.ping_interval_ms = 30000;
    if (l->cfg.ping_timeout_ms == 0)
        l->cfg.ping_timeout_ms = 10000;
    l->state = LINK_IDLE;
    l->fd = -1;
    l->reserve_fd = -1;

    if (!l->cfg.host || !l->cfg.domain || !l->cfg.secret || !l->ping_to)
        goto fail;

    l->conn = xmpp_conn_new(ctx);
    if (!l->conn)
        goto fail;
    if (give_sm_state(ctx, l->conn) != 0) {
        hlog_error(LINK_SUBJ, "link %d: cannot set up libstrophe's stream state "
                   "(component-mode workaround failed)", index);
        goto fail;
    }
    xmpp_conn_set_jid(l->conn, l->cfg.domain);
    xmpp_conn_set_pass(l->conn, l->cfg.secret);
    xmpp_conn_set_sockopt_callback(l->conn, link_sockopt_cb);
    /* User handlers survive reconnects (only system ones are reset). */
    xmpp_handler_add(l->conn, link_stanza_handler, NULL, NULL, NULL, l);

    link_reserve_fd(l);
    if (l->reserve_fd < 0 || l->reserve_fd >= FD_SETSIZE)
        hlog_warn(LINK_SUBJ, "link %d: could not reserve a file descriptor below %d",
                  index, FD_SETSIZE);

    link_io_init(l);
    ev_timer_init(&l->state_timer, state_timer_cb, 0., 0.);
    link_keepalive_init(l);
    ev_timer_init(&l->notify, notify_cb, 0., 0.);

    ignore_sigpipe();
    link_registry_add(l);
    return l;

fail:
    if (l->conn)
        xmpp_conn_release(l->conn);
    free_strings(l);
    free(l);
    return NULL;
}

void link_free(link_t *l)
{
    if (!l)
        return;
    l->freeing = 1;
    ev_io_stop(l->loop, &l->io);
    ev_prepare_stop(l->loop, &l->prepare);
    ev_timer_stop(l->loop, &l->tick);
    ev_timer_stop(l->loop, &l->state_timer);
    ev_timer_stop(l->loop, &l->ping);
    ev_timer_stop(l->loop, &l->notify);
    link_registry_remove(l);
    /* Tears down a live connection too (our handler ignores the event). */
    xmpp_conn_release(l->conn);
    link_release_reserved_fd(l);
    free_strings(l);
    free(l);
}

int link_start(link_t *l)
{
    if (l->state != LINK_IDLE)
        return -1;
    link_connect(l);
    return 0;
}

void link_stop(link_t *l, unsigned grace_ms)
{
    if (l->stopping)
        return;
    l->stopping = 1;
    l->grace_ms = grace_ms ? grace_ms : 1;
    switch (l->state) {
    case LINK_IDLE:
    case LINK_BACKOFF:
    case LINK_CLOSED:
        link_set_state(l, LINK_CLOSED);
        link_schedule_notify(l);
        break;
    case LINK_CONNECTING:
        /* No stream to close yet. */
        link_set_state(l, LINK_CLOSING);
        link_force_close(l, NULL);
        break;
    case LINK_HANDSHAKING:
    case LINK_UP:
        xmpp_disconnect(l->conn); /* queues </stream:stream> */
        l->dirty = 1;
        l->batch_open = 1; /* marker after it: see mark_batch_end */
        link_set_state(l, LINK_CLOSING);
        break;
    case LINK_CLOSING:
        break;
    }
}

link_state_t link_state(const link_t *l) { return l->state; }
int link_is_up(const link_t *l) { return l->state == LINK_UP; }
int link_index(const link_t *l) { return l->index; }
