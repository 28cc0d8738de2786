/* The link's I/O: libstrophe driven from libev, following ev.pod's
 * prepare/check integration. An ev_io on the socket, an ev_prepare that
 * flushes what a loop turn queued, and a tick for libstrophe's timers all
 * call xmpp_run_once(ctx, 0). Also here: the registry that finds a link
 * from its conn (the sockopt callback is the only place the socket shows
 * up), the low-fd reservation, the send queue and received stanzas. */
#include "component/link_int.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include "component/log.h"

/* Each xmpp_run_once() reads at most 4 KB per connection: run it a few
 * times per read wakeup while the kernel still holds data, so a busy link
 * is not throttled to 4 KB per loop turn, but bounded so one link cannot
 * hold the loop (libev calls us again next turn if data remains). */
#define READ_ROUNDS_MAX 16
/* See prepare_cb. */
#define PREPARE_ROUNDS_MAX 2

static link_t *registry;

/* ------------------------------------------------------------ registry */

void link_registry_add(link_t *l)
{
    l->next = registry;
    registry = l;
}

void link_registry_remove(link_t *l)
{
    for (link_t **pp = &registry; *pp; pp = &(*pp)->next) {
        if (*pp == l) {
            *pp = l->next;
            break;
        }
    }
}

static link_t *link_by_conn(const xmpp_conn_t *conn)
{
    for (link_t *l = registry; l; l = l->next)
        if (l->conn == conn)
            return l;
    return NULL;
}

link_t *link_by_serial(unsigned serial)
{
    for (link_t *l = registry; l; l = l->next)
        if (l->serial == serial)
            return l;
    return NULL;
}

int link_sockopt_cb(xmpp_conn_t *conn, void *sock)
{
    link_t *l = link_by_conn(conn);
    int fd = *(int *)sock;
    if (!l)
        return -1;
    if (fd >= FD_SETSIZE) {
        /* libstrophe's select() would abort the process. */
        hlog_error(LINK_SUBJ, "link %d: socket got fd %d >= FD_SETSIZE (%d): too many "
                   "open files; not connecting", l->index, fd, FD_SETSIZE);
        return -1;
    }
    l->fd = fd;
    return 0;
}

void link_reserve_fd(link_t *l)
{
    if (l->reserve_fd < 0)
        l->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

void link_release_reserved_fd(link_t *l)
{
    if (l->reserve_fd >= 0) {
        close(l->reserve_fd);
        l->reserve_fd = -1;
    }
}

/* ------------------------------------------------------------ watchers */

/* EV_WRITE is needed while connecting (completion) and while libstrophe
 * holds unsent data. xmpp_conn_send_queue_len() leaves out a partly
 * written head item, so a lone half-written stanza would read as "empty"
 * and stall; the end marker (see mark_batch_end) keeps the count honest. */
void link_update_io(link_t *l)
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

/* Shuts the socket down ourselves (dead peer, deadline, stop while
 * connecting): libstrophe then reads EOF and reports DISCONNECT through
 * its normal path, which keeps its state consistent. */
void link_force_close(link_t *l, const char *reason)
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
 * counts at least this marker: link_update_io() then keeps EV_WRITE armed. */
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
            link_set_state(x, LINK_HANDSHAKING);
        /* During the handshake libstrophe answers the server's stream
         * header from inside the read, with items we cannot see: flush
         * after every run until UP. */
        if (x->state == LINK_HANDSHAKING)
            x->dirty = 1;
        link_update_io(x);
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

void link_io_init(link_t *l)
{
    ev_io_init(&l->io, io_cb, -1, 0);
    ev_prepare_init(&l->prepare, prepare_cb);
    ev_timer_init(&l->tick, tick_cb, LINK_TICK_S, LINK_TICK_S);
}

/* ------------------------------------------------------------ stanzas */

int link_stanza_handler(xmpp_conn_t *conn, xmpp_stanza_t *st, void *userdata)
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
        hlog_debug(LINK_SUBJ, "link %d: %s received while %s: ignored", l->index,
                   name, link_state_name(l->state));
        return 1;
    }
    if (strcmp(name, "iq") == 0 && link_take_ping_reply(l, st))
        return 1;
    hlog_debug(LINK_SUBJ, "link %d: %s from %s", l->index, name,
               xmpp_stanza_get_from(st) ? xmpp_stanza_get_from(st) : "?");
    if (l->cb.stanza)
        l->cb.stanza(l, st, l->cb.ud);
    return 1;
}

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

/* Returns how many queued writes (our end markers aside) never reached the
 * socket. A half-written head item is left to libstrophe, which frees it
 * at the next connect. */
int link_drop_queue(link_t *l)
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
