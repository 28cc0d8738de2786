/* One XEP-0114 link: libstrophe's component connection on a libev loop.
 *
 * libstrophe 0.12.2 facts this file is built around (see DESIGN.md):
 *  - xmpp_connect_component() never allocates the stream-management state
 *    that the stanza and disconnect paths dereference, so a component
 *    connection crashes on its first stanza. We borrow one from a
 *    throwaway client connection that never gets a socket.
 *  - There is no fd accessor: the sockopt callback (no userdata) is the
 *    only place the socket shows up, so links sit in a registry keyed by
 *    their conn.
 *  - xmpp_send*() only queues; xmpp_run_once(ctx, 0) writes the queue,
 *    fires libstrophe's timers, then select()s and reads <= 4 KB per conn.
 *    select() aborts on fds >= FD_SETSIZE, hence the reserved low fd.
 *
 * Invariants:
 *  - xmpp_run_once() is only called from our libev callbacks (io, prepare,
 *    tick), never from inside a libstrophe handler.
 *  - Reconnecting and user notifications never happen inside libstrophe's
 *    handlers: the handlers only record what happened and arm timers.
 *  - A link is freed only by its owner, never by code running inside
 *    xmpp_run_once().
 *  - libstrophe's timed handlers run only while connecting and closing (the
 *    tick); Herald registers none of its own, so nothing needs them UP. */
#include "component/link.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "component/log.h"
#include "component/ns.h"

#define SUBJ "link"

#define container_of(ptr, type, member)                                        \
    ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/* Each xmpp_run_once() reads at most 4 KB per connection: run it a few
 * times per read wakeup while the kernel still holds data, so a busy link
 * is not throttled to 4 KB per loop turn, but bounded so one link cannot
 * hold the loop (libev calls us again next turn if data remains). */
#define READ_ROUNDS_MAX 16
/* See prepare_cb. */
#define PREPARE_ROUNDS_MAX 2
/* libstrophe's own timers (connect timeout, disconnect cleanup) only need
 * coarse service. */
#define TICK_S 0.1
/* Keepalive ping ids: "herald-ping-<link serial>-<seq>". Replies may come
 * back on another link of the domain (ejabberd balances), so the serial
 * finds the link that asked. */
#define PING_ID_PREFIX "herald-ping-"

struct link {
    struct ev_loop *loop;
    xmpp_ctx_t *ctx;
    xmpp_conn_t *conn;
    int index;
    unsigned serial;
    link_config_t cfg; /* strings owned */
    char *ping_to;
    link_callbacks_t cb;
    link_state_t state;

    int fd;         /* the connection's socket, -1 when none */
    int reserve_fd; /* /dev/null keeping a low fd free for the next socket */
    int io_events;  /* what `io` currently watches (0 = stopped) */

    ev_io io;
    ev_prepare prepare;     /* flushes what was queued during a loop turn */
    ev_timer tick;          /* libstrophe's timers */
    ev_timer state_timer;   /* BACKOFF delay, handshake deadline, CLOSING grace */
    ev_timer ping;          /* keepalive while UP */
    ev_timer notify;        /* delivers up/down/closed outside libstrophe */

    int dirty;      /* something may sit in libstrophe's queue */
    int batch_open; /* user data queued since the last end marker */
    unsigned attempts; /* failed attempts since the last UP: backoff exponent */
    int connect_errno; /* why the TCP connect failed, if known */
    char kill_reason[160]; /* why we shut the socket ourselves, or "" */

    int stopping;
    int grace_forced;
    unsigned grace_ms;
    int freeing;

    ev_tstamp last_rx;
    ev_tstamp ping_sent_at;
    int ping_outstanding;
    unsigned ping_seq;

    unsigned up_gen;        /* incremented on each UP */
    unsigned announced_gen; /* up_gen of the last `up` delivered */
    int announced_up;
    int closed_notified;

    link_t *next; /* registry */
};

static link_t *registry;
static unsigned next_serial;
static uint64_t rng_state;

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

/* ------------------------------------------------------------ helpers */

static uint32_t rng_next(void)
{
    if (rng_state == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        rng_state = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^
                    ((uint64_t)getpid() << 40) ^ 0x9e3779b97f4a7c15ULL;
    }
    /* xorshift64*: jitter only needs to desynchronize reconnecting peers */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 0x2545F4914F6CDD1DULL) >> 32);
}

static void reserve_fd(link_t *l)
{
    if (l->reserve_fd < 0)
        l->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static void release_reserved_fd(link_t *l)
{
    if (l->reserve_fd >= 0) {
        close(l->reserve_fd);
        l->reserve_fd = -1;
    }
}

static link_t *link_by_conn(const xmpp_conn_t *conn)
{
    for (link_t *l = registry; l; l = l->next)
        if (l->conn == conn)
            return l;
    return NULL;
}

static link_t *link_by_serial(unsigned serial)
{
    for (link_t *l = registry; l; l = l->next)
        if (l->serial == serial)
            return l;
    return NULL;
}

static void timer_arm(link_t *l, ev_timer *t, double seconds)
{
    ev_timer_stop(l->loop, t);
    ev_timer_set(t, seconds > 0 ? seconds : 0., 0.);
    ev_timer_start(l->loop, t);
}

static void schedule_notify(link_t *l)
{
    if (!ev_is_active(&l->notify))
        timer_arm(l, &l->notify, 0.);
}

/* Next reconnect delay: min * 2^attempts capped at max, then "equal
 * jitter" (a random point in the upper half), never below min. */
static unsigned next_backoff(link_t *l)
{
    uint64_t base = l->cfg.backoff_min_ms;
    for (unsigned i = 0; i < l->attempts && base < l->cfg.backoff_max_ms; i++)
        base *= 2;
    if (base > l->cfg.backoff_max_ms)
        base = l->cfg.backoff_max_ms;
    uint64_t half = base / 2;
    uint64_t delay = half + (half ? rng_next() % (half + 1) : 0);
    if (delay < l->cfg.backoff_min_ms)
        delay = l->cfg.backoff_min_ms;
    if (l->attempts < 64)
        l->attempts++;
    return (unsigned)delay;
}

/* ------------------------------------------------------------ watchers */

/* EV_WRITE is needed while connecting (completion) and while libstrophe
 * holds unsent data. xmpp_conn_send_queue_len() leaves out a partly
 * written head item, so a lone half-written stanza would read as "empty"
 * and stall; the end marker (see mark_batch_end) keeps the count honest. */
static void update_io(link_t *l)
{
    int want = 0;
    if (l->fd >= 0) {
        switch (l->state) {
        case LINK_CONNECTING:
            want = EV_WRITE;
            break;
        case LINK_HANDSHAKING:
        case LINK_UP:
        case LINK_CLOSING:
            want = EV_READ;
            if (xmpp_conn_send_queue_len(l->conn) > 0)
                want |= EV_WRITE;
            break;
        default:
            break;
        }
    }
    if (want == l->io_events)
        return;
    ev_io_stop(l->loop, &l->io);
    l->io_events = want;
    if (want) {
        /* ev_io_set every time: the number may belong to a new socket
         * (libstrophe closes sockets behind libev's back). */
        ev_io_set(&l->io, l->fd, want);
        ev_io_start(l->loop, &l->io);
    }
}

static void set_state(link_t *l, link_state_t next)
{
    link_state_t prev = l->state;
    if (prev == next)
        return;
    l->state = next;
    hlog_debug(SUBJ, "link %d: %s -> %s", l->index, link_state_name(prev),
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
            ev_timer_set(&l->tick, TICK_S, TICK_S);
            ev_timer_start(l->loop, &l->tick);
        }
    } else {
        ev_timer_stop(l->loop, &l->tick);
    }

    if (next == LINK_UP) {
        l->last_rx = ev_now(l->loop);
        l->ping_outstanding = 0;
        timer_arm(l, &l->ping, l->cfg.ping_interval_ms / 1000.);
    } else {
        ev_timer_stop(l->loop, &l->ping);
    }

    switch (next) {
    case LINK_CONNECTING:
        /* One deadline covers TCP connect and handshake: libstrophe has
         * none for a server that accepts TCP but never opens the stream. */
        timer_arm(l, &l->state_timer, l->cfg.ping_timeout_ms / 1000.);
        break;
    case LINK_HANDSHAKING:
        break; /* keeps the CONNECTING deadline */
    case LINK_CLOSING:
        timer_arm(l, &l->state_timer, l->grace_ms / 1000.);
        break;
    default:
        ev_timer_stop(l->loop, &l->state_timer);
        break;
    }

    update_io(l);
}

/* Shuts the socket down ourselves (dead peer, deadline, stop while
 * connecting): libstrophe then reads EOF and reports DISCONNECT through
 * its normal path, which keeps its state consistent. */
static void force_close(link_t *l, const char *reason)
{
    if (l->fd < 0)
        return;
    if (reason && !l->kill_reason[0])
        snprintf(l->kill_reason, sizeof(l->kill_reason), "%s", reason);
    shutdown(l->fd, SHUT_RDWR);
    l->dirty = 1;
    /* A shut-down socket is readable (EOF) and writable. */
    if (l->io_events != (EV_READ | EV_WRITE)) {
        ev_io_stop(l->loop, &l->io);
        l->io_events = EV_READ | EV_WRITE;
        ev_io_set(&l->io, l->fd, l->io_events);
        ev_io_start(l->loop, &l->io);
    }
}

static void capture_connect_error(link_t *l)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getpeername(l->fd, (struct sockaddr *)&ss, &len) == 0)
        return;
    /* libstrophe finds the failure through getpeername()/recv(), not
     * SO_ERROR, so reading (and clearing) SO_ERROR here is safe. */
    int err = 0;
    len = sizeof(err);
    if (getsockopt(l->fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err)
        l->connect_errno = err;
}

/* Appends a zero-length item after the data queued since the last run.
 * libstrophe writes it with a 0-byte send() once everything before it is
 * written, so while any byte of the batch is unsent the queue length
 * counts at least this marker: update_io() then keeps EV_WRITE armed. */
static void mark_batch_end(link_t *l)
{
    if (l->batch_open && (l->state == LINK_UP || l->state == LINK_CLOSING))
        xmpp_send_raw(l->conn, "", 0);
    l->batch_open = 0;
}

/* Runs libstrophe once for the whole context and brings every link of it
 * up to date: one call writes every connection's queue and reads every
 * readable connection. */
static void run_ctx(xmpp_ctx_t *ctx)
{
    /* Cleared before the run: what libstrophe's handlers queue during it
     * (replies from the router, our pings) sets the flag again. */
    for (link_t *x = registry; x; x = x->next) {
        if (x->ctx != ctx)
            continue;
        x->dirty = 0;
        mark_batch_end(x);
        if (x->state == LINK_CONNECTING && x->fd >= 0)
            capture_connect_error(x);
    }

    xmpp_run_once(ctx, 0);

    for (link_t *x = registry; x; x = x->next) {
        if (x->ctx != ctx)
            continue;
        if (x->state == LINK_CONNECTING && x->fd >= 0 &&
            xmpp_conn_is_connected(x->conn))
            set_state(x, LINK_HANDSHAKING);
        /* During the handshake libstrophe answers the server's stream
         * header from inside the read, with items we cannot see: flush
         * after every run until UP. */
        if (x->state == LINK_HANDSHAKING)
            x->dirty = 1;
        update_io(x);
    }
}


static void io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    link_t *l = container_of(w, link_t, io);

    if (revents & EV_READ)
        l->last_rx = ev_now(loop);

    for (int round = 0; round < READ_ROUNDS_MAX; round++) {
        run_ctx(l->ctx);
        if (!(revents & EV_READ) || l->fd < 0)
            break;
        int avail = 0;
        if (ioctl(l->fd, FIONREAD, &avail) != 0 || avail <= 0)
            break;
    }
}

static void prepare_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
    (void)loop;
    (void)revents;
    link_t *l = container_of(w, link_t, prepare);
    /* A run that reads may queue an answer (handshake, router replies)
     * that only the next run writes, and nothing would wake the loop for
     * it: run again, boundedly, while that is the case. */
    for (int round = 0; round < PREPARE_ROUNDS_MAX && l->dirty; round++)
        run_ctx(l->ctx);
}

static void tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    link_t *l = container_of(w, link_t, tick);
    run_ctx(l->ctx);
}

/* ------------------------------------------------------------ connect */

static void conn_handler(xmpp_conn_t *conn, xmpp_conn_event_t event, int error,
                         xmpp_stream_error_t *stream_error, void *userdata);

static void do_connect(link_t *l)
{
    l->fd = -1;
    l->connect_errno = 0;
    l->kill_reason[0] = '\0';
    /* The socket is created inside the call below and takes the lowest
     * free number, i.e. at most the one we held. */
    release_reserved_fd(l);
    errno = 0;
    int rc = xmpp_connect_component(l->conn, l->cfg.host,
                                    (unsigned short)l->cfg.port, conn_handler, l);
    int err = errno;
    if (rc != XMPP_EOK || l->fd < 0) {
        /* Loopback refusals fail right inside connect(); errno still holds
         * the reason since libstrophe only closes the socket after. */
        reserve_fd(l);
        unsigned delay = next_backoff(l);
        hlog_warn(SUBJ, "link %d: cannot connect to %s:%d: %s; retrying in %u ms",
                  l->index, l->cfg.host, l->cfg.port,
                  err ? strerror(err) : "address not resolvable or socket refused",
                  delay);
        set_state(l, LINK_BACKOFF);
        timer_arm(l, &l->state_timer, delay / 1000.);
        return;
    }
    set_state(l, LINK_CONNECTING);
}

static int sockopt_cb(xmpp_conn_t *conn, void *sock)
{
    link_t *l = link_by_conn(conn);
    int fd = *(int *)sock;
    if (!l)
        return -1;
    if (fd >= FD_SETSIZE) {
        /* libstrophe's select() would abort the process. */
        hlog_error(SUBJ, "link %d: socket got fd %d >= FD_SETSIZE (%d): too many "
                   "open files; not connecting", l->index, fd, FD_SETSIZE);
        return -1;
    }
    l->fd = fd;
    return 0;
}

/* ------------------------------------------------------------ events */

static const char *stream_error_name(const xmpp_stream_error_t *se)
{
    if (!se->stanza)
        return "undefined-condition";
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(se->stanza); c;
         c = xmpp_stanza_get_next(c)) {
        const char *name = xmpp_stanza_get_name(c);
        if (name && xmpp_stanza_is_tag(c) && strcmp(name, "text") != 0)
            return name;
    }
    return "undefined-condition";
}

static void log_stream_error(link_t *l, const xmpp_stream_error_t *se,
                             unsigned delay)
{
    const char *dom = l->cfg.domain;
    switch (se->type) {
    case XMPP_SE_NOT_AUTHORIZED:
        /* ejabberd also answers not-authorized for a domain it does not
         * serve, so the line names both causes. */
        hlog_error(SUBJ, "link %d: handshake refused: wrong secret for domain %s "
                   "(or the server does not accept %s as a component); "
                   "retrying in %u ms", l->index, dom, dom, delay);
        break;
    case XMPP_SE_CONFLICT:
        if (l->index > 0)
            hlog_error(SUBJ, "link %d: domain %s already connected to the server "
                       "(conflict): this server does not accept several "
                       "connections for one domain (server.links > 1); "
                       "retrying in %u ms", l->index, dom, delay);
        else
            hlog_error(SUBJ, "link %d: domain %s already connected to the server "
                       "(conflict); retrying in %u ms", l->index, dom, delay);
        break;
    case XMPP_SE_HOST_UNKNOWN:
        hlog_error(SUBJ, "link %d: server at %s:%d does not know domain %s "
                   "(host-unknown): check its component configuration; "
                   "retrying in %u ms", l->index, l->cfg.host, l->cfg.port,
                   dom, delay);
        break;
    case XMPP_SE_SYSTEM_SHUTDOWN:
        hlog_warn(SUBJ, "link %d: server is shutting down (system-shutdown); "
                  "reconnecting in %u ms", l->index, delay);
        break;
    default:
        hlog_warn(SUBJ, "link %d: stream error %s%s%s; reconnecting in %u ms",
                  l->index, stream_error_name(se), se->text ? ": " : "",
                  se->text ? se->text : "", delay);
        break;
    }
}

/* Returns how many queued writes (our end markers aside) never reached the
 * socket. A half-written head item is left to libstrophe, which frees it
 * at the next connect. */
static int drop_queue(link_t *l)
{
    int lost = 0;
    char *item;
    /* Freed now rather than at the next connect, so a long outage does
     * not hold the backlog. Recovery is the sender's business. */
    while ((item = xmpp_conn_send_queue_drop_element(l->conn, XMPP_QUEUE_OLDEST))) {
        if (item[0])
            lost++;
        xmpp_free(l->ctx, item);
    }
    return lost;
}

static void on_connected(link_t *l)
{
    if (l->stopping) {
        /* Stop was asked while the handshake was in flight: link_stop has
         * already closed the stream (or shut the socket). */
        return;
    }
    l->attempts = 0;
    set_state(l, LINK_UP);
    hlog_info(SUBJ, "link %d up (domain %s, %s:%d)", l->index, l->cfg.domain,
              l->cfg.host, l->cfg.port);
    l->up_gen++;
    schedule_notify(l);
}

static void on_disconnected(link_t *l, int error, xmpp_stream_error_t *se)
{
    link_state_t was = l->state;

    /* libstrophe has closed the socket already. */
    l->fd = -1;
    ev_io_stop(l->loop, &l->io);
    l->io_events = 0;
    l->batch_open = 0;
    reserve_fd(l);

    int lost = drop_queue(l);
    if (lost)
        hlog_warn(SUBJ, "link %d: %d queued write%s (stanzas or batches) lost "
                  "with the connection", l->index, lost, lost == 1 ? "" : "s");

    if (l->stopping) {
        if (se && se->type != XMPP_SE_SYSTEM_SHUTDOWN)
            hlog_info(SUBJ, "link %d closed (stream error %s)", l->index,
                      stream_error_name(se));
        else
            hlog_info(SUBJ, "link %d closed", l->index);
        set_state(l, LINK_CLOSED);
        schedule_notify(l);
        return;
    }

    unsigned delay = next_backoff(l);
    if (se) {
        log_stream_error(l, se, delay);
    } else if (l->kill_reason[0]) {
        hlog_warn(SUBJ, "link %d: %s; reconnecting in %u ms", l->index,
                  l->kill_reason, delay);
    } else if (was == LINK_CONNECTING) {
        int err = l->connect_errno ? l->connect_errno : error;
        hlog_warn(SUBJ, "link %d: cannot connect to %s:%d: %s; retrying in %u ms",
                  l->index, l->cfg.host, l->cfg.port,
                  err ? strerror(err) : "connection refused", delay);
    } else if (was == LINK_HANDSHAKING) {
        hlog_warn(SUBJ, "link %d: %s:%d closed the connection during the "
                  "handshake; retrying in %u ms", l->index, l->cfg.host,
                  l->cfg.port, delay);
    } else {
        /* libstrophe reports ECONNRESET for both EOF and a real reset; a
         * clean </stream:stream> comes with no error. */
        hlog_warn(SUBJ, "link %d: connection to %s:%d lost (%s); reconnecting "
                  "in %u ms", l->index, l->cfg.host, l->cfg.port,
                  error ? "closed or reset by the server"
                        : "server closed the stream",
                  delay);
    }
    set_state(l, LINK_BACKOFF);
    timer_arm(l, &l->state_timer, delay / 1000.);
    schedule_notify(l);
}

static void conn_handler(xmpp_conn_t *conn, xmpp_conn_event_t event, int error,
                         xmpp_stream_error_t *stream_error, void *userdata)
{
    (void)conn;
    link_t *l = userdata;
    if (l->freeing)
        return;
    l->dirty = 1;
    switch (event) {
    case XMPP_CONN_CONNECT:
        on_connected(l);
        break;
    case XMPP_CONN_DISCONNECT:
    case XMPP_CONN_FAIL:
        on_disconnected(l, error, stream_error);
        break;
    default:
        break;
    }
}

/* Returns 1 if `st` answers one of our keepalive pings (of any link). */
static int take_ping_reply(link_t *via, xmpp_stanza_t *st)
{
    const char *id = xmpp_stanza_get_id(st);
    const char *type = xmpp_stanza_get_type(st);
    if (!id || !type || strncmp(id, PING_ID_PREFIX, sizeof(PING_ID_PREFIX) - 1))
        return 0;
    if (strcmp(type, "result") != 0 && strcmp(type, "error") != 0)
        return 0;
    unsigned serial, seq;
    if (sscanf(id + sizeof(PING_ID_PREFIX) - 1, "%u-%u", &serial, &seq) != 2)
        return 1;
    link_t *l = link_by_serial(serial);
    if (l && l->ping_outstanding && l->ping_seq == seq) {
        l->ping_outstanding = 0;
        /* An error reply (e.g. a server without ping support) proves the
         * link alive as well as a result. */
        hlog_debug(SUBJ, "link %d: ping answered (%s) in %.0f ms (via link %d)",
                   l->index, type, (ev_now(l->loop) - l->ping_sent_at) * 1000.,
                   via->index);
    }
    return 1;
}

static int stanza_handler(xmpp_conn_t *conn, xmpp_stanza_t *st, void *userdata)
{
    (void)conn;
    link_t *l = userdata;
    if (l->freeing)
        return 1;
    l->last_rx = ev_now(l->loop);
    l->dirty = 1;

    const char *name = xmpp_stanza_get_name(st);
    if (!name || (strcmp(name, "iq") != 0 && strcmp(name, "message") != 0 &&
                  strcmp(name, "presence") != 0))
        return 1; /* handshake reply, stream errors: libstrophe's business */
    if (l->state != LINK_UP) {
        hlog_debug(SUBJ, "link %d: %s received while %s: ignored", l->index,
                   name, link_state_name(l->state));
        return 1;
    }
    if (strcmp(name, "iq") == 0 && take_ping_reply(l, st))
        return 1;
    hlog_debug(SUBJ, "link %d: %s from %s", l->index, name,
               xmpp_stanza_get_from(st) ? xmpp_stanza_get_from(st) : "?");
    if (l->cb.stanza)
        l->cb.stanza(l, st, l->cb.ud);
    return 1;
}

/* ------------------------------------------------------------ timers */

static void send_ping(link_t *l)
{
    char id[64];
    snprintf(id, sizeof(id), PING_ID_PREFIX "%u-%u", l->serial, ++l->ping_seq);
    xmpp_stanza_t *iq = xmpp_iq_new(l->ctx, "get", id);
    xmpp_stanza_t *ping = xmpp_stanza_new(l->ctx);
    if (!iq || !ping) {
        if (iq)
            xmpp_stanza_release(iq);
        if (ping)
            xmpp_stanza_release(ping);
        return;
    }
    xmpp_stanza_set_to(iq, l->ping_to);
    xmpp_stanza_set_from(iq, l->cfg.domain);
    xmpp_stanza_set_name(ping, "ping");
    xmpp_stanza_set_ns(ping, NS_PING);
    xmpp_stanza_add_child_ex(iq, ping, 0);
    xmpp_send(l->conn, iq);
    xmpp_stanza_release(iq);
    l->dirty = 1;
    l->batch_open = 1;
    l->ping_outstanding = 1;
    l->ping_sent_at = ev_now(l->loop);
    hlog_debug(SUBJ, "link %d: idle, pinging %s", l->index, l->ping_to);
}

/* One timer serves idle detection and the reply deadline: it is re-armed
 * for whichever comes next (ev.pod's "be smart about timeouts"), so
 * receiving data costs nothing but a timestamp. */
static void ping_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    link_t *l = container_of(w, link_t, ping);
    ev_tstamp now = ev_now(loop);
    double interval = l->cfg.ping_interval_ms / 1000.;
    double timeout = l->cfg.ping_timeout_ms / 1000.;

    if (l->state != LINK_UP)
        return;
    if (l->ping_outstanding) {
        if (l->last_rx > l->ping_sent_at) {
            l->ping_outstanding = 0; /* anything received proves the link */
        } else if (now - l->ping_sent_at >= timeout) {
            char why[96];
            snprintf(why, sizeof(why),
                     "no reply to keepalive ping within %u ms: link is dead",
                     l->cfg.ping_timeout_ms);
            force_close(l, why);
            return;
        } else {
            timer_arm(l, w, timeout - (now - l->ping_sent_at));
            return;
        }
    }
    double idle = now - l->last_rx;
    if (idle >= interval) {
        send_ping(l);
        timer_arm(l, w, timeout);
    } else {
        timer_arm(l, w, interval - idle);
    }
}

static void state_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    link_t *l = container_of(w, link_t, state_timer);
    switch (l->state) {
    case LINK_BACKOFF:
        do_connect(l);
        break;
    case LINK_CONNECTING:
    case LINK_HANDSHAKING: {
        char why[160];
        snprintf(why, sizeof(why), "no handshake with %s:%d within %u ms",
                 l->cfg.host, l->cfg.port, l->cfg.ping_timeout_ms);
        force_close(l, why);
        break;
    }
    case LINK_CLOSING:
        if (!l->grace_forced && l->fd >= 0) {
            l->grace_forced = 1;
            hlog_warn(SUBJ, "link %d: server did not close the stream within "
                      "%u ms; closing the socket", l->index, l->grace_ms);
            force_close(l, NULL);
            timer_arm(l, w, l->grace_ms / 2000.);
        } else {
            /* Nothing more will come: the conn is torn down by link_free. */
            hlog_warn(SUBJ, "link %d: closed without the server's consent",
                      l->index);
            set_state(l, LINK_CLOSED);
            schedule_notify(l);
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
        hlog_error(SUBJ, "link %d: invalid configuration", index);
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
    /* Keepalive target: the server's own domain, i.e. the parent of ours
     * (pubsub.example.org -> example.org); both Prosody and ejabberd
     * answer a ping there. A one-label domain pings itself through the
     * server, which still proves the round trip. */
    const char *dot = strchr(cfg->domain, '.');
    l->ping_to = strdup(dot && dot[1] ? dot + 1 : cfg->domain);
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
        hlog_error(SUBJ, "link %d: cannot set up libstrophe's stream state "
                   "(component-mode workaround failed)", index);
        goto fail;
    }
    xmpp_conn_set_jid(l->conn, l->cfg.domain);
    xmpp_conn_set_pass(l->conn, l->cfg.secret);
    xmpp_conn_set_sockopt_callback(l->conn, sockopt_cb);
    /* User handlers survive reconnects (only system ones are reset). */
    xmpp_handler_add(l->conn, stanza_handler, NULL, NULL, NULL, l);

    reserve_fd(l);
    if (l->reserve_fd < 0 || l->reserve_fd >= FD_SETSIZE)
        hlog_warn(SUBJ, "link %d: could not reserve a file descriptor below %d",
                  index, FD_SETSIZE);

    ev_io_init(&l->io, io_cb, -1, 0);
    ev_prepare_init(&l->prepare, prepare_cb);
    ev_timer_init(&l->tick, tick_cb, TICK_S, TICK_S);
    ev_timer_init(&l->state_timer, state_timer_cb, 0., 0.);
    ev_timer_init(&l->ping, ping_cb, 0., 0.);
    ev_timer_init(&l->notify, notify_cb, 0., 0.);

    ignore_sigpipe();
    l->next = registry;
    registry = l;
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
    for (link_t **pp = &registry; *pp; pp = &(*pp)->next) {
        if (*pp == l) {
            *pp = l->next;
            break;
        }
    }
    /* Tears down a live connection too (our handler ignores the event). */
    xmpp_conn_release(l->conn);
    release_reserved_fd(l);
    free_strings(l);
    free(l);
}

int link_start(link_t *l)
{
    if (l->state != LINK_IDLE)
        return -1;
    do_connect(l);
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
        set_state(l, LINK_CLOSED);
        schedule_notify(l);
        break;
    case LINK_CONNECTING:
        /* No stream to close yet. */
        set_state(l, LINK_CLOSING);
        force_close(l, NULL);
        break;
    case LINK_HANDSHAKING:
    case LINK_UP:
        xmpp_disconnect(l->conn); /* queues </stream:stream> */
        l->dirty = 1;
        l->batch_open = 1; /* marker after it: see mark_batch_end */
        set_state(l, LINK_CLOSING);
        break;
    case LINK_CLOSING:
        break;
    }
}

link_state_t link_state(const link_t *l) { return l->state; }
int link_is_up(const link_t *l) { return l->state == LINK_UP; }
int link_index(const link_t *l) { return l->index; }

int link_send(link_t *l, xmpp_stanza_t *stanza)
{
    if (l->state != LINK_UP)
        return -1;
    xmpp_send(l->conn, stanza);
    l->dirty = 1;
    l->batch_open = 1;
    return 0;
}

int link_send_raw(link_t *l, const char *data, size_t len)
{
    if (l->state != LINK_UP)
        return -1;
    xmpp_send_raw(l->conn, data, len);
    l->dirty = 1;
    l->batch_open = 1;
    return 0;
}

size_t link_queue_len(const link_t *l)
{
    int n = xmpp_conn_send_queue_len(l->conn);
    return n > 0 ? (size_t)n : 0;
}
