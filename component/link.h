/* One XEP-0114 connection to the XMPP server: a libstrophe component
 * connection driven by the caller's libev loop (xmpp_run() is never used).
 * Internal to the component module; component.c owns one link per
 * `server.links`.
 *
 * A link keeps itself attached: it connects, handshakes, pings the server
 * when idle, and after any failure (refused TCP, wrong secret, conflict,
 * reset, dead peer) reconnects with exponential backoff and jitter. Each
 * failure gets one clear log line naming its cause.
 *
 * Several links may share one xmpp_ctx_t: xmpp_run_once() services every
 * connection of a context, so whichever link's watcher runs it flushes
 * and reads for all of them. */
#ifndef HERALD_LINK_H
#define HERALD_LINK_H

#include <stddef.h>
#include <strophe.h>

struct ev_loop;
typedef struct link link_t;

typedef enum {
    LINK_IDLE,        /* created, not started */
    LINK_CONNECTING,  /* TCP connect in progress */
    LINK_HANDSHAKING, /* TCP up, stream opened, handshake not yet accepted */
    LINK_UP,          /* handshake accepted: stanzas flow */
    LINK_BACKOFF,     /* down, waiting for the reconnect timer */
    LINK_CLOSING,     /* link_stop(): </stream:stream> sent, waiting */
    LINK_CLOSED,      /* stopped for good */
} link_state_t;

typedef struct {
    const char *host;       /* server address; an IP literal or an /etc/hosts
                               name (name resolution blocks the loop) */
    int port;
    const char *domain;     /* component domain, the stream's 'to' */
    const char *secret;
    unsigned backoff_min_ms; /* first reconnect delay (and jitter floor) */
    unsigned backoff_max_ms; /* cap of the exponential backoff */
    unsigned ping_interval_ms; /* idle time before a keepalive ping */
    unsigned ping_timeout_ms;  /* no reply within this: link is dead; also
                                  bounds the TCP connect + handshake */
} link_config_t;

/* Callbacks. `stanza` runs inside libstrophe's stanza handler: it may send
 * (sends only queue) but must not free the link nor run the loop. `up`,
 * `down` and `closed` are delivered from a libev timer, outside libstrophe,
 * in order (a `down` always follows an `up` it matches); `closed` may free
 * the link. Any may be NULL. */
typedef struct {
    void (*stanza)(link_t *link, xmpp_stanza_t *stanza, void *ud);
    void (*up)(link_t *link, void *ud);
    void (*down)(link_t *link, void *ud);
    void (*closed)(link_t *link, void *ud);
    void *ud;
} link_callbacks_t;

/* Creates a link on `ctx` (which must outlive it). Copies cfg's strings and
 * the callbacks. Reserves a low file descriptor for the socket (select()
 * in libstrophe aborts on fds >= FD_SETSIZE). Returns NULL on failure
 * (logged). `index` only names the link in log lines. */
link_t *link_new(struct ev_loop *loop, xmpp_ctx_t *ctx, int index,
                 const link_config_t *cfg, const link_callbacks_t *cb);
/* Releases everything at once, whatever the state (no stream close: use
 * link_stop first for a clean one). Never call from a link callback other
 * than `closed`. */
void link_free(link_t *link);

/* IDLE -> CONNECTING. Returns 0, or -1 if not IDLE. */
int link_start(link_t *link);
/* Closes the stream cleanly (</stream:stream>, waiting for the server's)
 * and ends in CLOSED; forces the socket shut after `grace_ms`. `closed`
 * is called once CLOSED is reached. Idempotent. */
void link_stop(link_t *link, unsigned grace_ms);

link_state_t link_state(const link_t *link);
const char *link_state_name(link_state_t state);
int link_is_up(const link_t *link);
int link_index(const link_t *link);

/* Queue a stanza / pre-serialized XML (whole stanzas) for sending; does
 * not take ownership. Only when UP; otherwise dropped (returns -1). */
int link_send(link_t *link, xmpp_stanza_t *stanza);
int link_send_raw(link_t *link, const char *data, size_t len);
/* Items queued in libstrophe and not yet written to the socket (this
 * includes the link's zero-length end-of-batch markers: at most one per
 * loop turn that queued something). */
size_t link_queue_len(const link_t *link);

#endif
