/* Internals shared by the files of the XEP-0114 link; not for other
 * modules (they use component/link.h).
 *
 * Pieces:
 *   link.c            lifecycle, the state machine (set_state arms every
 *                     watcher), deadlines and grace, up/down/closed
 *                     notifications
 *   link_connect.c    connecting, backoff with jitter, what libstrophe
 *                     reports about the connection, reconnecting
 *   link_io.c         driving libstrophe from libev (io/prepare/tick),
 *                     the conn -> link registry and the sockopt callback,
 *                     the low-fd reservation, the send queue, received
 *                     stanzas
 *   link_keepalive.c  keepalive pings and their replies
 *
 * libstrophe 0.12.2 facts these files are built around (see DESIGN.md):
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
#ifndef HERALD_LINK_INT_H
#define HERALD_LINK_INT_H

#include <stddef.h>

#include <ev.h>
#include <strophe.h>

#include "component/link.h"

#define LINK_SUBJ "link"

#define container_of(ptr, type, member)                                        \
    ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/* libstrophe's own timers (connect timeout, disconnect cleanup) only need
 * coarse service. */
#define LINK_TICK_S 0.1

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

/* ---- state machine (link.c) ---- */

/* Moves to `next`, logs the change and arms or stops every watcher to
 * suit the new state. */
void link_set_state(link_t *l, link_state_t next);
/* (Re)starts the one-shot timer `t` of `l`; a delay <= 0 fires on the next
 * loop iteration. */
void link_timer_arm(link_t *l, ev_timer *t, double seconds);
/* Has notify_cb deliver up/down/closed on the next loop turn. */
void link_schedule_notify(link_t *l);

/* ---- connecting (link_connect.c) ---- */

/* Starts a TCP connect and the handshake: CONNECTING, or BACKOFF with the
 * reconnect timer armed when the connect fails at once. */
void link_connect(link_t *l);

/* ---- libstrophe on libev (link_io.c) ---- */

/* Initializes the io, prepare and tick watchers (none started). */
void link_io_init(link_t *l);
void link_registry_add(link_t *l);
void link_registry_remove(link_t *l);
/* The registered link with this serial, or NULL. */
link_t *link_by_serial(unsigned serial);
/* Holds / gives back the low fd kept free for the next socket. */
void link_reserve_fd(link_t *l);
void link_release_reserved_fd(link_t *l);
/* Sets what `io` watches from the state and libstrophe's queue. */
void link_update_io(link_t *l);
/* Shuts the socket down (no-op without one); `reason` (may be NULL) is
 * logged by the disconnect that follows. */
void link_force_close(link_t *l, const char *reason);
/* Frees what libstrophe still queues; returns how many writes were lost. */
int link_drop_queue(link_t *l);
/* libstrophe callbacks, installed by link_new. */
int link_sockopt_cb(xmpp_conn_t *conn, void *sock);
int link_stanza_handler(xmpp_conn_t *conn, xmpp_stanza_t *st, void *userdata);

/* ---- keepalive (link_keepalive.c) ---- */

/* Initializes the ping timer (not started: set_state arms it when UP). */
void link_keepalive_init(link_t *l);
/* Whom to ping for `domain`; malloc'd (caller frees), NULL on OOM. */
char *link_ping_target(const char *domain);
/* Returns 1 if `st` answers one of our keepalive pings (of any link). */
int link_take_ping_reply(link_t *via, xmpp_stanza_t *st);

#endif
