/* Connecting the link and reconnecting it: the TCP connect and handshake
 * through libstrophe, what libstrophe then reports (up, or down with one
 * log line naming the cause), and the exponential backoff with jitter
 * between attempts. */
#include "component/link_int.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "component/log.h"

static uint64_t rng_state;

/* ------------------------------------------------------------ backoff */

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

/* ------------------------------------------------------------ connect */

static void conn_handler(xmpp_conn_t *conn, xmpp_conn_event_t event, int error,
                         xmpp_stream_error_t *stream_error, void *userdata);

void link_connect(link_t *l)
{
    l->fd = -1;
    l->connect_errno = 0;
    l->kill_reason[0] = '\0';
    /* The socket is created inside the call below and takes the lowest
     * free number, i.e. at most the one we held. */
    link_release_reserved_fd(l);
    errno = 0;
    int rc = xmpp_connect_component(l->conn, l->cfg.host,
                                    (unsigned short)l->cfg.port, conn_handler, l);
    int err = errno;
    if (rc != XMPP_EOK || l->fd < 0) {
        /* Loopback refusals fail right inside connect(); errno still holds
         * the reason since libstrophe only closes the socket after. */
        link_reserve_fd(l);
        unsigned delay = next_backoff(l);
        hlog_warn(LINK_SUBJ, "link %d: cannot connect to %s:%d: %s; retrying in %u ms",
                  l->index, l->cfg.host, l->cfg.port,
                  err ? strerror(err) : "address not resolvable or socket refused",
                  delay);
        link_set_state(l, LINK_BACKOFF);
        link_timer_arm(l, &l->state_timer, delay / 1000.);
        return;
    }
    link_set_state(l, LINK_CONNECTING);
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
        hlog_error(LINK_SUBJ, "link %d: handshake refused: wrong secret for domain %s "
                   "(or the server does not accept %s as a component); "
                   "retrying in %u ms", l->index, dom, dom, delay);
        break;
    case XMPP_SE_CONFLICT:
        if (l->index > 0)
            hlog_error(LINK_SUBJ, "link %d: domain %s already connected to the server "
                       "(conflict): this server does not accept several "
                       "connections for one domain (server.links > 1); "
                       "retrying in %u ms", l->index, dom, delay);
        else
            hlog_error(LINK_SUBJ, "link %d: domain %s already connected to the server "
                       "(conflict); retrying in %u ms", l->index, dom, delay);
        break;
    case XMPP_SE_HOST_UNKNOWN:
        hlog_error(LINK_SUBJ, "link %d: server at %s:%d does not know domain %s "
                   "(host-unknown): check its component configuration; "
                   "retrying in %u ms", l->index, l->cfg.host, l->cfg.port,
                   dom, delay);
        break;
    case XMPP_SE_SYSTEM_SHUTDOWN:
        hlog_warn(LINK_SUBJ, "link %d: server is shutting down (system-shutdown); "
                  "reconnecting in %u ms", l->index, delay);
        break;
    default:
        hlog_warn(LINK_SUBJ, "link %d: stream error %s%s%s; reconnecting in %u ms",
                  l->index, stream_error_name(se), se->text ? ": " : "",
                  se->text ? se->text : "", delay);
        break;
    }
}

static void on_connected(link_t *l)
{
    if (l->stopping) {
        /* Stop was asked while the handshake was in flight: link_stop has
         * already closed the stream (or shut the socket). */
        return;
    }
    l->attempts = 0;
    link_set_state(l, LINK_UP);
    hlog_info(LINK_SUBJ, "link %d up (domain %s, %s:%d)", l->index, l->cfg.domain,
              l->cfg.host, l->cfg.port);
    l->up_gen++;
    link_schedule_notify(l);
}

static void on_disconnected(link_t *l, int error, xmpp_stream_error_t *se)
{
    link_state_t was = l->state;

    /* libstrophe has closed the socket already. */
    l->fd = -1;
    ev_io_stop(l->loop, &l->io);
    l->io_events = 0;
    l->batch_open = 0;
    link_reserve_fd(l);

    int lost = link_drop_queue(l);
    if (lost)
        hlog_warn(LINK_SUBJ, "link %d: %d queued write%s (stanzas or batches) lost "
                  "with the connection", l->index, lost, lost == 1 ? "" : "s");

    if (l->stopping) {
        if (se && se->type != XMPP_SE_SYSTEM_SHUTDOWN)
            hlog_info(LINK_SUBJ, "link %d closed (stream error %s)", l->index,
                      stream_error_name(se));
        else
            hlog_info(LINK_SUBJ, "link %d closed", l->index);
        link_set_state(l, LINK_CLOSED);
        link_schedule_notify(l);
        return;
    }

    unsigned delay = next_backoff(l);
    if (se) {
        log_stream_error(l, se, delay);
    } else if (l->kill_reason[0]) {
        hlog_warn(LINK_SUBJ, "link %d: %s; reconnecting in %u ms", l->index,
                  l->kill_reason, delay);
    } else if (was == LINK_CONNECTING) {
        int err = l->connect_errno ? l->connect_errno : error;
        hlog_warn(LINK_SUBJ, "link %d: cannot connect to %s:%d: %s; retrying in %u ms",
                  l->index, l->cfg.host, l->cfg.port,
                  err ? strerror(err) : "connection refused", delay);
    } else if (was == LINK_HANDSHAKING) {
        hlog_warn(LINK_SUBJ, "link %d: %s:%d closed the connection during the "
                  "handshake; retrying in %u ms", l->index, l->cfg.host,
                  l->cfg.port, delay);
    } else {
        /* libstrophe reports ECONNRESET for both EOF and a real reset; a
         * clean </stream:stream> comes with no error. */
        hlog_warn(LINK_SUBJ, "link %d: connection to %s:%d lost (%s); reconnecting "
                  "in %u ms", l->index, l->cfg.host, l->cfg.port,
                  error ? "closed or reset by the server"
                        : "server closed the stream",
                  delay);
    }
    link_set_state(l, LINK_BACKOFF);
    link_timer_arm(l, &l->state_timer, delay / 1000.);
    link_schedule_notify(l);
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
