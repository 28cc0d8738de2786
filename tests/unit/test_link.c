/* component/link against a scripted XEP-0114 peer in the same process and
 * loop: handshake then a stanza answered (libstrophe's component-mode crash
 * would kill this binary), refusals with backoff (no tight loop), drop and
 * reconnect with up/down notifications, keepalive ping and its timeout, the
 * handshake deadline, stopping in each state, and the low-fd reservation.
 * The real servers are exercised by the integration suite. */
#include <ev.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "component/link.h"
#include "component/log.h"
#include "tests/unit/unit.h"

#define DOMAIN "test.localhost"
#define MAX_CONNS 64

typedef enum {
    PEER_ACCEPT,      /* handshake ok, then sends an IQ get */
    PEER_NOT_AUTHORIZED,
    PEER_CONFLICT,
    PEER_SILENT,      /* accepts TCP, never says a word */
} peer_mode_t;

typedef struct peer peer_t;

typedef struct {
    peer_t *peer;
    int fd;
    ev_io io;
    char buf[16384];
    size_t len;
    int stage; /* 0: want stream header, 1: want handshake, 2: up */
} pconn_t;

struct peer {
    struct ev_loop *loop;
    int lfd, port;
    ev_io accept_io;
    peer_mode_t mode;
    int answer_pings;
    int drop_first; /* close the first session right after its IQ is answered */
    int sink;       /* once up: count bytes, parse nothing */
    size_t sunk;

    int n_conns, n_up, n_pings, n_replies, n_stream_close;
    ev_tstamp conn_at[MAX_CONNS];
    pconn_t *open[MAX_CONNS];
};

static void pconn_close(pconn_t *c)
{
    peer_t *p = c->peer;
    ev_io_stop(p->loop, &c->io);
    close(c->fd);
    for (int i = 0; i < MAX_CONNS; i++)
        if (p->open[i] == c)
            p->open[i] = NULL;
    free(c);
}

static void pconn_write(pconn_t *c, const char *s)
{
    size_t n = strlen(s);
    if (write(c->fd, s, n) != (ssize_t)n)
        fprintf(stderr, "peer: short write\n");
}

static void peer_stream_error(pconn_t *c, const char *cond)
{
    char out[256];
    snprintf(out, sizeof(out),
             "<stream:error><%s xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
             "</stream:error></stream:stream>", cond);
    pconn_write(c, out);
    pconn_close(c);
}

/* Consumes complete protocol steps from the buffer; returns 0 when the
 * connection was closed. */
static int pconn_process(pconn_t *c)
{
    peer_t *p = c->peer;
    char *end;
    if (c->stage == 0) {
        char *s = strstr(c->buf, "<stream:stream");
        if (!s || !(end = strchr(s, '>')))
            return 1;
        if (p->mode == PEER_SILENT)
            return 1;
        pconn_write(c, "<?xml version='1.0'?><stream:stream "
                       "xmlns:stream='http://etherx.jabber.org/streams' "
                       "xmlns='jabber:component:accept' id='abc123' from='"
                       DOMAIN "'>");
        c->stage = 1;
    }
    if (c->stage == 1) {
        if (!strstr(c->buf, "</handshake>"))
            return 1;
        if (p->mode == PEER_NOT_AUTHORIZED) {
            peer_stream_error(c, "not-authorized");
            return 0;
        }
        if (p->mode == PEER_CONFLICT) {
            peer_stream_error(c, "conflict");
            return 0;
        }
        p->n_up++;
        pconn_write(c, "<handshake/><iq type='get' id='t1' from='u@localhost/r' "
                       "to='" DOMAIN "'><ping xmlns='urn:xmpp:ping'/></iq>");
        c->stage = 2;
        c->len = 0;
        c->buf[0] = '\0';
        return 1;
    }
    /* stage 2: scan whole stanzas the link sent */
    char *s;
    while ((s = strstr(c->buf, "<iq"))) {
        char *gt = strchr(s, '>');
        if (!gt)
            break;
        if (gt[-1] == '/')
            end = gt + 1; /* <iq .../> */
        else if ((end = strstr(gt, "</iq>")))
            end += 5;
        else
            break;
        char save = *end;
        *end = '\0';
        if (strstr(s, "id=\"t1\"") && strstr(s, "type=\"result\"")) {
            p->n_replies++;
        } else if (strstr(s, "herald-ping-")) {
            p->n_pings++;
            char *id = strstr(s, "herald-ping-");
            char *q = strchr(id, '"');
            if (p->answer_pings && q) {
                char out[256];
                snprintf(out, sizeof(out),
                         "<iq type='result' id='%.*s' from='localhost' to='"
                         DOMAIN "'/>", (int)(q - id), id);
                pconn_write(c, out);
            }
        }
        *end = save;
        memmove(c->buf, end, c->len - (size_t)(end - c->buf) + 1);
        c->len -= (size_t)(end - c->buf);
    }
    if (strstr(c->buf, "</stream:stream>")) {
        p->n_stream_close++;
        pconn_write(c, "</stream:stream>");
        pconn_close(c);
        return 0;
    }
    if (p->drop_first && p->n_replies >= 1 && p->n_conns == 1) {
        pconn_close(c);
        return 0;
    }
    return 1;
}

static void pconn_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    pconn_t *c = (pconn_t *)((char *)w - offsetof(pconn_t, io));
    ssize_t n = read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
    if (n <= 0) {
        pconn_close(c);
        return;
    }
    if (c->stage == 2 && c->peer->sink) {
        c->peer->sunk += (size_t)n;
        return;
    }
    c->len += (size_t)n;
    c->buf[c->len] = '\0';
    pconn_process(c);
}

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)revents;
    peer_t *p = (peer_t *)((char *)w - offsetof(peer_t, accept_io));
    int fd = accept(p->lfd, NULL, NULL);
    if (fd < 0)
        return;
    pconn_t *c = calloc(1, sizeof(*c));
    c->peer = p;
    c->fd = fd;
    if (p->n_conns < MAX_CONNS)
        p->conn_at[p->n_conns] = ev_time();
    p->n_conns++;
    for (int i = 0; i < MAX_CONNS; i++)
        if (!p->open[i]) {
            p->open[i] = c;
            break;
        }
    ev_io_init(&c->io, pconn_cb, fd, EV_READ);
    ev_io_start(loop, &c->io);
}

static void peer_init(peer_t *p, struct ev_loop *loop, peer_mode_t mode)
{
    memset(p, 0, sizeof(*p));
    p->loop = loop;
    p->mode = mode;
    p->answer_pings = 1;
    p->lfd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(p->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    if (bind(p->lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        listen(p->lfd, 16) != 0 ||
        getsockname(p->lfd, (struct sockaddr *)&sa, &len) != 0) {
        perror("peer");
        exit(2);
    }
    p->port = ntohs(sa.sin_port);
    ev_io_init(&p->accept_io, accept_cb, p->lfd, EV_READ);
    ev_io_start(loop, &p->accept_io);
}

static void peer_fini(peer_t *p)
{
    for (int i = 0; i < MAX_CONNS; i++)
        if (p->open[i])
            pconn_close(p->open[i]);
    ev_io_stop(p->loop, &p->accept_io);
    if (p->lfd >= 0)
        close(p->lfd);
}

/* ------------------------------------------------------------ the link side */

typedef struct {
    int up, down, closed, stanzas;
    char order[32]; /* 'U' / 'D' / 'C' in delivery order */
} events_t;

static void ev_push(events_t *e, char c)
{
    size_t n = strlen(e->order);
    if (n + 1 < sizeof(e->order))
        e->order[n] = c;
}

static void on_stanza(link_t *l, xmpp_stanza_t *st, void *ud)
{
    events_t *e = ud;
    e->stanzas++;
    const char *type = xmpp_stanza_get_type(st);
    if (strcmp(xmpp_stanza_get_name(st), "iq") == 0 && type &&
        strcmp(type, "get") == 0) {
        xmpp_stanza_t *r = xmpp_stanza_reply(st);
        xmpp_stanza_set_type(r, "result");
        link_send(l, r);
        xmpp_stanza_release(r);
    }
}
static void on_up(link_t *l, void *ud) { (void)l; ((events_t *)ud)->up++; ev_push(ud, 'U'); }
static void on_down(link_t *l, void *ud) { (void)l; ((events_t *)ud)->down++; ev_push(ud, 'D'); }
static void on_closed(link_t *l, void *ud) { (void)l; ((events_t *)ud)->closed++; ev_push(ud, 'C'); }

static struct ev_loop *loop;
static xmpp_ctx_t *ctx;

static link_t *make_link(peer_t *p, events_t *e, unsigned bmin, unsigned bmax,
                         unsigned ping_iv, unsigned ping_to)
{
    memset(e, 0, sizeof(*e));
    link_config_t cfg = {
        .host = "127.0.0.1", .port = p->port, .domain = DOMAIN, .secret = "s",
        .backoff_min_ms = bmin, .backoff_max_ms = bmax,
        .ping_interval_ms = ping_iv, .ping_timeout_ms = ping_to,
    };
    link_callbacks_t cb = {on_stanza, on_up, on_down, on_closed, e};
    return link_new(loop, ctx, 0, &cfg, &cb);
}

static int flag_expired;
static void expire_cb(struct ev_loop *l, ev_timer *w, int revents)
{
    (void)l, (void)w, (void)revents;
    flag_expired = 1;
}

/* Runs the loop until cond holds or `seconds` pass; returns cond. */
#define RUN_UNTIL(cond, seconds)                                               \
    ({                                                                         \
        ev_timer t_;                                                           \
        flag_expired = 0;                                                      \
        ev_timer_init(&t_, expire_cb, (seconds), 0.);                          \
        ev_timer_start(loop, &t_);                                             \
        while (!(cond) && !flag_expired)                                       \
            ev_run(loop, EVRUN_ONCE);                                          \
        ev_timer_stop(loop, &t_);                                              \
        (cond);                                                                \
    })

static void stop_and_free(link_t *l, events_t *e)
{
    link_stop(l, 300);
    CHECK(RUN_UNTIL(e->closed == 1, 2.0));
    link_free(l);
}

/* ------------------------------------------------------------ tests */

static void test_handshake_then_answer(void)
{
    peer_t p;
    events_t e;
    peer_init(&p, loop, PEER_ACCEPT);
    link_t *l = make_link(&p, &e, 50, 200, 5000, 1000);
    CHECK(l != NULL);
    CHECK(link_state(l) == LINK_IDLE);
    CHECK(link_start(l) == 0);
    /* The first stanza after the handshake is where stock libstrophe
     * crashes in component mode. */
    CHECK(RUN_UNTIL(p.n_replies == 1, 2.0));
    CHECK(link_is_up(l));
    CHECK(e.stanzas == 1);
    CHECK(RUN_UNTIL(e.up == 1, 1.0));
    CHECK(link_queue_len(l) == 0);
    link_stop(l, 1000);
    CHECK(link_state(l) == LINK_CLOSING);
    CHECK(e.closed == 0); /* never from inside link_stop */
    CHECK(RUN_UNTIL(e.closed == 1, 2.0));
    CHECK(p.n_stream_close == 1); /* closed with </stream:stream> */
    CHECK(link_state(l) == LINK_CLOSED);
    CHECK_STR(e.order, "UDC");
    link_free(l);
    peer_fini(&p);
}

static void test_refusal_backs_off(peer_mode_t mode)
{
    peer_t p;
    events_t e;
    peer_init(&p, loop, mode);
    link_t *l = make_link(&p, &e, 100, 400, 5000, 1000);
    link_start(l);
    RUN_UNTIL(0, 1.5);
    /* 100, 100..200, 200..400, then 200..400: 4..8 attempts in 1.5 s,
     * nowhere near a tight loop. */
    CHECK(p.n_conns >= 3 && p.n_conns <= 9);
    CHECK(e.up == 0);
    int spaced = 1;
    for (int i = 1; i < p.n_conns && i < MAX_CONNS; i++)
        if (p.conn_at[i] - p.conn_at[i - 1] < 0.095)
            spaced = 0;
    CHECK(spaced);
    CHECK(link_state(l) == LINK_BACKOFF || link_state(l) == LINK_CONNECTING ||
          link_state(l) == LINK_HANDSHAKING);
    stop_and_free(l, &e);
    peer_fini(&p);
}

static void test_wrong_secret(void) { test_refusal_backs_off(PEER_NOT_AUTHORIZED); }
static void test_conflict(void) { test_refusal_backs_off(PEER_CONFLICT); }

static void test_refused_tcp(void)
{
    peer_t p;
    events_t e;
    peer_init(&p, loop, PEER_ACCEPT);
    ev_io_stop(loop, &p.accept_io);
    close(p.lfd); /* nothing listens on p.port any more */
    p.lfd = -1;
    link_t *l = make_link(&p, &e, 100, 200, 5000, 1000);
    link_start(l);
    RUN_UNTIL(0, 0.5);
    CHECK(link_state(l) == LINK_BACKOFF || link_state(l) == LINK_CONNECTING);
    CHECK(e.up == 0);
    stop_and_free(l, &e);
    peer_fini(&p);
}

static void test_drop_and_reconnect(void)
{
    peer_t p;
    events_t e;
    peer_init(&p, loop, PEER_ACCEPT);
    p.drop_first = 1;
    link_t *l = make_link(&p, &e, 50, 200, 5000, 1000);
    link_start(l);
    CHECK(RUN_UNTIL(p.n_replies == 2 && e.up == 2, 3.0));
    CHECK(p.n_conns == 2);
    CHECK(e.down == 1);
    CHECK_STR(e.order, "UDU");
    CHECK(link_is_up(l));
    stop_and_free(l, &e);
    peer_fini(&p);
}

static void test_keepalive(void)
{
    peer_t p;
    events_t e;
    peer_init(&p, loop, PEER_ACCEPT);
    link_t *l = make_link(&p, &e, 50, 200, 150, 100);
    link_start(l);
    RUN_UNTIL(0, 1.0);
    CHECK(p.n_pings >= 3);  /* idle link pinged every ~150 ms */
    CHECK(p.n_conns == 1);  /* answered pings keep it */
    CHECK(link_is_up(l));

    p.answer_pings = 0;     /* now the peer looks dead */
    CHECK(RUN_UNTIL(p.n_conns >= 2, 2.0));
    CHECK(e.down >= 1);
    p.answer_pings = 1;
    CHECK(RUN_UNTIL(link_is_up(l), 2.0));
    stop_and_free(l, &e);
    peer_fini(&p);
}

static void test_handshake_deadline(void)
{
    peer_t p;
    events_t e;
    peer_init(&p, loop, PEER_SILENT);
    link_t *l = make_link(&p, &e, 50, 100, 5000, 200);
    link_start(l);
    CHECK(RUN_UNTIL(p.n_conns >= 3, 2.0));
    CHECK(e.up == 0);
    /* Stop while the handshake hangs: bounded by the grace period. */
    RUN_UNTIL(link_state(l) == LINK_HANDSHAKING, 1.0);
    CHECK(link_state(l) == LINK_HANDSHAKING);
    ev_tstamp t0 = ev_time();
    link_stop(l, 200);
    CHECK(RUN_UNTIL(e.closed == 1, 2.0));
    CHECK(ev_time() - t0 < 0.6);
    link_free(l);
    peer_fini(&p);
}

/* Which of our fds is connected to the peer's port (-1 if none). */
static int client_fd_of(int port, int max_fd)
{
    for (int fd = 0; fd < max_fd; fd++) {
        struct sockaddr_in sa;
        socklen_t len = sizeof(sa);
        if (getpeername(fd, (struct sockaddr *)&sa, &len) == 0 &&
            sa.sin_family == AF_INET && ntohs(sa.sin_port) == port)
            return fd;
    }
    return -1;
}

static void test_low_fd_reserved(void)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < 2048) {
        rl.rlim_cur = rl.rlim_max < 2048 ? rl.rlim_max : 2048;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur < 1200) {
        fprintf(stderr, "  (fd limit %lu: low-fd test skipped)\n",
                (unsigned long)rl.rlim_cur);
        return;
    }
    peer_t p;
    events_t e;
    peer_init(&p, loop, PEER_ACCEPT);
    p.drop_first = 1;
    link_t *l = make_link(&p, &e, 50, 200, 5000, 1000);
    /* The process fills every low fd after the link was created. */
    static int filler[1200];
    int n = 0;
    for (;;) {
        int fd = open("/dev/null", O_RDONLY);
        if (fd < 0)
            break;
        filler[n++] = fd;
        if (fd >= 1100 || n == 1200)
            break;
    }
    CHECK(n > 0 && filler[n - 1] >= 1100);
    link_start(l);
    /* Up twice: the fd is reserved again after a disconnect. */
    CHECK(RUN_UNTIL(p.n_replies == 2 && e.up == 2, 3.0));
    int fd = client_fd_of(p.port, 1200);
    CHECK(fd >= 0 && fd < FD_SETSIZE);
    stop_and_free(l, &e);
    for (int i = 0; i < n; i++)
        close(filler[i]);
    peer_fini(&p);
}

/* One item larger than the socket buffers is written in many partial
 * writes; each must be resumed when the socket drains, with no other
 * traffic and no timer to nudge the link. */
static void test_large_write(void)
{
    peer_t p;
    events_t e;
    peer_init(&p, loop, PEER_ACCEPT);
    link_t *l = make_link(&p, &e, 50, 200, 60000, 1000);
    link_start(l);
    CHECK(RUN_UNTIL(p.n_replies == 1, 2.0));
    p.sink = 1;
    size_t len = 24u << 20;
    char *big = malloc(len + 1);
    memset(big, 'x', len);
    memcpy(big, "<message>", 9);
    memcpy(big + len - 10, "</message>", 10);
    big[len] = '\0';
    CHECK(link_send_raw(l, big, len) == 0);
    free(big);
    CHECK(RUN_UNTIL(p.sunk >= len, 5.0));
    CHECK(p.sunk == len);
    CHECK(RUN_UNTIL(link_queue_len(l) == 0, 1.0));
    stop_and_free(l, &e);
    peer_fini(&p);
}

/* The peer stops reading, the link backs up, then the peer goes away:
 * the backlog is dropped at once (and logged), not kept for the next
 * connection. */
static void test_backlog_dropped_on_disconnect(void)
{
    peer_t p;
    events_t e;
    peer_init(&p, loop, PEER_ACCEPT);
    link_t *l = make_link(&p, &e, 200, 400, 60000, 1000);
    link_start(l);
    CHECK(RUN_UNTIL(p.n_replies == 1, 2.0));
    pconn_t *c = NULL;
    for (int i = 0; i < MAX_CONNS && !c; i++)
        c = p.open[i];
    ev_io_stop(loop, &c->io); /* stop reading */
    static char chunk[65536];
    memset(chunk, 'x', sizeof(chunk) - 1);
    for (int i = 0; i < 400; i++) /* ~26 MB: more than the socket buffers */
        link_send_raw(l, chunk, sizeof(chunk) - 1);
    RUN_UNTIL(0, 0.3);
    CHECK(link_queue_len(l) > 0);
    pconn_close(c);
    CHECK(RUN_UNTIL(e.down == 1, 2.0));
    CHECK(link_state(l) == LINK_BACKOFF);
    CHECK(link_queue_len(l) == 0);
    stop_and_free(l, &e);
    peer_fini(&p);
}

static void test_send_when_down(void)
{
    peer_t p;
    events_t e;
    peer_init(&p, loop, PEER_ACCEPT);
    link_t *l = make_link(&p, &e, 50, 200, 5000, 1000);
    CHECK(link_send_raw(l, "<message/>", 10) == -1); /* IDLE: dropped */
    link_start(l);
    CHECK(RUN_UNTIL(link_is_up(l), 2.0));
    CHECK(link_send_raw(l, "<message/>", 10) == 0);
    stop_and_free(l, &e);
    CHECK(strcmp(link_state_name(LINK_UP), "UP") == 0);
    peer_fini(&p);
}

int main(void)
{
    hlog_set_level(HLOG_ERROR); /* refusals are logged at error by design */
    signal(SIGPIPE, SIG_IGN);
    loop = EV_DEFAULT;
    xmpp_initialize();
    ctx = xmpp_ctx_new(NULL, NULL);

    UNIT_RUN(test_handshake_then_answer);
    UNIT_RUN(test_wrong_secret);
    UNIT_RUN(test_conflict);
    UNIT_RUN(test_refused_tcp);
    UNIT_RUN(test_drop_and_reconnect);
    UNIT_RUN(test_keepalive);
    UNIT_RUN(test_handshake_deadline);
    UNIT_RUN(test_low_fd_reserved);
    UNIT_RUN(test_large_write);
    UNIT_RUN(test_backlog_dropped_on_disconnect);
    UNIT_RUN(test_send_when_down);

    xmpp_ctx_free(ctx);
    xmpp_shutdown();
    ev_loop_destroy(loop);
    return UNIT_DONE();
}
