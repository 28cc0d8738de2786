/* The component: one domain, K links to the server, one router.
 *
 * Every link feeds the same router; outgoing stanzas go to a live link
 * chosen from the recipient's bare JID, so that one recipient's stanzas
 * keep their order (several links are several server sessions, which the
 * server processes independently). Raw sends without a recipient go
 * round-robin. */
#include "component/component.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

#include "component/basics.h"
#include "component/jid.h"
#include "component/link.h"
#include "component/log.h"

#define SUBJ "component"

/* How long component_stop waits for the server to close each stream
 * before shutting the socket; links guarantee CLOSED by 1.5x this, and the
 * component gives up waiting at 2x. Keeps SIGTERM-to-exit under 5 s. */
#define STOP_GRACE_MS 2000
#define LINKS_MAX 64

#define container_of(ptr, type, member)                                        \
    ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

typedef struct {
    component_link_fn fn;
    void *ud;
} listener_t;

struct component {
    struct ev_loop *loop;
    component_options_t opts; /* strings owned */
    xmpp_ctx_t *ctx;
    router_t *router;
    disco_t *disco;
    presence_t *presence;

    link_t **links;
    int n_links;
    unsigned rr;

    listener_t *listeners;
    size_t n_listeners;

    int started;
    int rest_started; /* links 1..K-1 (see component_start) */
    ev_timer rest_timer;
    int stopping;
    int done_called;
    int n_closed;
    component_stopped_fn done;
    void *done_ud;
    ev_timer stop_timer;

    size_t dropped; /* stanzas dropped since the last time a link was up */
};

/* xmpp_initialize/xmpp_shutdown are process-wide and not counted. */
static int strophe_users;

/* ------------------------------------------------------------ sending */

/* FNV-1a over the bare JID, ASCII case folded (JIDs compare that way). */
static uint32_t bare_hash(const char *jid)
{
    uint32_t h = 2166136261u;
    for (const char *p = jid; *p && *p != '/'; p++) {
        h ^= (uint32_t)(unsigned char)tolower((unsigned char)*p);
        h *= 16777619u;
    }
    return h;
}

static link_t *pick_link(component_t *c, const char *to)
{
    int up = 0;
    for (int i = 0; i < c->n_links; i++)
        up += link_is_up(c->links[i]);
    if (up == 0)
        return NULL;
    unsigned k = to ? bare_hash(to) % (unsigned)up : c->rr++ % (unsigned)up;
    for (int i = 0; i < c->n_links; i++)
        if (link_is_up(c->links[i]) && k-- == 0)
            return c->links[i];
    return NULL;
}

static void note_dropped(component_t *c, const char *to)
{
    if (c->stopping) /* expected while the streams close */
        return;
    /* One line per outage, not one per stanza: a fan-out during an outage
     * would flood the log. The total is logged when a link comes back. */
    if (c->dropped++ == 0)
        hlog_warn(SUBJ, "no link up: dropping outgoing stanzas until one "
                  "reconnects (first to %s)", to ? to : "?");
}

void component_send(component_t *c, xmpp_stanza_t *stanza)
{
    const char *to = xmpp_stanza_get_to(stanza);
    link_t *l = pick_link(c, to);
    if (!l || link_send(l, stanza) != 0)
        note_dropped(c, to);
}

void component_send_raw(component_t *c, const char *data, size_t len)
{
    link_t *l = pick_link(c, NULL);
    if (!l || link_send_raw(l, data, len) != 0)
        note_dropped(c, NULL);
}

void component_send_raw_to(component_t *c, const char *to, const char *data,
                           size_t len)
{
    link_t *l = pick_link(c, to);
    if (!l || link_send_raw(l, data, len) != 0)
        note_dropped(c, to);
}

size_t component_send_queue_len(component_t *c)
{
    size_t n = 0;
    for (int i = 0; i < c->n_links; i++)
        if (link_is_up(c->links[i]))
            n += link_queue_len(c->links[i]);
    return n;
}

static void router_send_cb(xmpp_stanza_t *stanza, void *ud)
{
    component_send(ud, stanza);
}

/* ------------------------------------------------------------ links */

static void on_link_stanza(link_t *l, xmpp_stanza_t *stanza, void *ud)
{
    (void)l;
    component_t *c = ud;
    router_dispatch(c->router, stanza);
}

static void notify_listeners(component_t *c, link_t *l, int up)
{
    for (size_t i = 0; i < c->n_listeners; i++)
        c->listeners[i].fn(c, link_index(l), up, c->listeners[i].ud);
}

static void start_rest(component_t *c)
{
    ev_timer_stop(c->loop, &c->rest_timer);
    if (c->rest_started || c->stopping)
        return;
    c->rest_started = 1;
    for (int i = 1; i < c->n_links; i++)
        link_start(c->links[i]);
}

static void rest_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    start_rest(container_of(w, component_t, rest_timer));
}

static void on_link_up(link_t *l, void *ud)
{
    component_t *c = ud;
    if (link_index(l) == 0)
        start_rest(c);
    if (c->dropped) {
        hlog_warn(SUBJ, "%zu outgoing stanza%s dropped while no link was up",
                  c->dropped, c->dropped == 1 ? " was" : "s were");
        c->dropped = 0;
    }
    notify_listeners(c, l, 1);
}

static void on_link_down(link_t *l, void *ud)
{
    component_t *c = ud;
    notify_listeners(c, l, 0);
}

static void finish_stop(component_t *c)
{
    ev_timer_stop(c->loop, &c->stop_timer);
    if (c->done_called)
        return;
    c->done_called = 1;
    hlog_info(SUBJ, "stopped");
    if (c->done)
        c->done(c, c->done_ud); /* may free c */
}

static void on_link_closed(link_t *l, void *ud)
{
    (void)l;
    component_t *c = ud;
    if (++c->n_closed >= c->n_links)
        finish_stop(c);
}

static void stop_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    component_t *c = container_of(w, component_t, stop_timer);
    hlog_warn(SUBJ, "%d of %d links still open after %u ms; stopping anyway",
              c->n_links - c->n_closed, c->n_links, 2 * STOP_GRACE_MS);
    finish_stop(c);
}

/* ------------------------------------------------------------ lifecycle */

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

static void free_opts(component_options_t *o)
{
    free((char *)o->host);
    free((char *)o->domain);
    free((char *)o->secret);
    free((char *)o->software_name);
    free((char *)o->software_version);
    free((char *)o->identity_category);
    free((char *)o->identity_type);
    free((char *)o->identity_name);
}

static int check_opts(const component_options_t *o)
{
    jid_parts_t jp;
    if (!o->host || !*o->host) {
        hlog_error(SUBJ, "no server host given");
        return -1;
    }
    if (o->port <= 0 || o->port > 65535) {
        hlog_error(SUBJ, "server port %d out of range 1..65535", o->port);
        return -1;
    }
    if (!o->domain || jid_split(o->domain, &jp) != 0 || jp.local ||
        jp.resource || strpbrk(o->domain, "'\"<>&")) {
        hlog_error(SUBJ, "invalid component domain '%s'",
                   o->domain ? o->domain : "");
        return -1;
    }
    if (!o->secret || !*o->secret) {
        hlog_error(SUBJ, "no component secret given");
        return -1;
    }
    if (o->links < 1 || o->links > LINKS_MAX) {
        hlog_error(SUBJ, "links %d out of range 1..%d", o->links, LINKS_MAX);
        return -1;
    }
    return 0;
}

component_t *component_new(struct ev_loop *loop, const component_options_t *opts)
{
    if (!loop || !opts || check_opts(opts) != 0)
        return NULL;
    component_t *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->loop = loop;
    c->opts = *opts;
    c->opts.host = dup_or_null(opts->host);
    c->opts.domain = dup_or_null(opts->domain);
    c->opts.secret = dup_or_null(opts->secret);
    c->opts.software_name = dup_or_null(opts->software_name ? opts->software_name
                                                            : "Herald");
    c->opts.software_version = dup_or_null(
        opts->software_version ? opts->software_version : "0");
    c->opts.identity_category = dup_or_null(opts->identity_category);
    c->opts.identity_type = dup_or_null(opts->identity_type);
    c->opts.identity_name = dup_or_null(opts->identity_name);
    component_options_t *o = &c->opts;
    if (!o->backoff_min_ms)
        o->backoff_min_ms = 500;
    if (!o->backoff_max_ms)
        o->backoff_max_ms = 30000;
    if (o->backoff_max_ms < o->backoff_min_ms)
        o->backoff_max_ms = o->backoff_min_ms;
    if (!o->ping_interval_ms)
        o->ping_interval_ms = 30000;
    if (!o->ping_timeout_ms)
        o->ping_timeout_ms = 10000;
    ev_timer_init(&c->stop_timer, stop_timeout_cb, 0., 0.);
    ev_timer_init(&c->rest_timer, rest_timer_cb, 0., 0.);

    if (!o->host || !o->domain || !o->secret || !o->software_name ||
        !o->software_version)
        goto fail;

    if (strophe_users++ == 0)
        xmpp_initialize();
    c->ctx = xmpp_ctx_new(NULL, opts->xmpp_log);
    if (!c->ctx) {
        if (--strophe_users == 0)
            xmpp_shutdown();
        goto fail;
    }

    c->router = router_new(c->ctx, loop, router_send_cb, c);
    if (!c->router)
        goto fail;
    c->disco = disco_new(c->router, o->domain);
    if (!c->disco)
        goto fail;
    if (o->identity_category && o->identity_type)
        disco_add_identity(c->disco, o->identity_category, o->identity_type,
                           o->identity_name);
    if (basics_register(c->router, c->disco, o->software_name,
                        o->software_version) != 0)
        goto fail;
    c->presence = presence_new(c->router, c->disco, o->domain);
    if (!c->presence)
        goto fail;

    c->links = calloc((size_t)o->links, sizeof(*c->links));
    if (!c->links)
        goto fail;
    link_config_t lc = {
        .host = o->host,
        .port = o->port,
        .domain = o->domain,
        .secret = o->secret,
        .backoff_min_ms = o->backoff_min_ms,
        .backoff_max_ms = o->backoff_max_ms,
        .ping_interval_ms = o->ping_interval_ms,
        .ping_timeout_ms = o->ping_timeout_ms,
    };
    link_callbacks_t cb = {
        .stanza = on_link_stanza,
        .up = on_link_up,
        .down = on_link_down,
        .closed = on_link_closed,
        .ud = c,
    };
    for (int i = 0; i < o->links; i++) {
        c->links[i] = link_new(loop, c->ctx, i, &lc, &cb);
        if (!c->links[i])
            goto fail;
        c->n_links++;
    }
    return c;

fail:
    hlog_error(SUBJ, "cannot create the component for %s",
               opts->domain ? opts->domain : "?");
    component_free(c);
    return NULL;
}

void component_free(component_t *c)
{
    if (!c)
        return;
    ev_timer_stop(c->loop, &c->stop_timer);
    ev_timer_stop(c->loop, &c->rest_timer);
    /* Pending IQ callbacks (e.g. presence's caps queries) must fail while
     * their owners still exist; what they send now is dropped. */
    if (c->router)
        router_cancel_pending(c->router);
    if (c->presence)
        presence_free(c->presence);
    if (c->disco)
        disco_free(c->disco);
    if (c->router)
        router_free(c->router);
    for (int i = 0; i < c->n_links; i++)
        link_free(c->links[i]);
    free(c->links);
    if (c->ctx) {
        xmpp_ctx_free(c->ctx);
        if (--strophe_users == 0)
            xmpp_shutdown();
    }
    free(c->listeners);
    free_opts(&c->opts);
    free(c);
}

int component_start(component_t *c)
{
    if (c->started)
        return -1;
    c->started = 1;
    hlog_info(SUBJ, "starting %s: %d link%s to %s:%d", c->opts.domain,
              c->n_links, c->n_links == 1 ? "" : "s", c->opts.host, c->opts.port);
    /* Link 0 goes first and the others follow once it is up (or after
     * one handshake deadline): on a server that accepts one connection
     * per domain (Prosody) link 0 is then the one that holds it, and the
     * conflict is reported, with its reason, on the extra links. */
    link_start(c->links[0]);
    if (c->n_links > 1) {
        ev_timer_set(&c->rest_timer, c->opts.ping_timeout_ms / 1000., 0.);
        ev_timer_start(c->loop, &c->rest_timer);
    }
    return 0;
}

void component_stop(component_t *c, component_stopped_fn done, void *userdata)
{
    if (c->stopping)
        return;
    c->stopping = 1;
    c->done = done;
    c->done_ud = userdata;
    ev_timer_stop(c->loop, &c->rest_timer);
    hlog_info(SUBJ, "stopping: closing %d link%s", c->n_links,
              c->n_links == 1 ? "" : "s");
    ev_timer_set(&c->stop_timer, 2 * STOP_GRACE_MS / 1000., 0.);
    ev_timer_start(c->loop, &c->stop_timer);
    /* Each link reports `closed` from a timer, never from inside this
     * call, so `done` cannot run before component_stop returns. */
    for (int i = 0; i < c->n_links; i++)
        link_stop(c->links[i], STOP_GRACE_MS);
}

void component_on_link(component_t *c, component_link_fn fn, void *userdata)
{
    if (!fn)
        return;
    listener_t *v = realloc(c->listeners, (c->n_listeners + 1) * sizeof(*v));
    if (!v) {
        hlog_error(SUBJ, "out of memory registering a link listener");
        return;
    }
    c->listeners = v;
    v[c->n_listeners].fn = fn;
    v[c->n_listeners].ud = userdata;
    c->n_listeners++;
}

int component_links_up(component_t *c)
{
    int up = 0;
    for (int i = 0; i < c->n_links; i++)
        up += link_is_up(c->links[i]);
    return up;
}

router_t *component_router(component_t *c) { return c->router; }
disco_t *component_disco(component_t *c) { return c->disco; }
presence_t *component_presence(component_t *c) { return c->presence; }
xmpp_ctx_t *component_xmpp_ctx(component_t *c) { return c->ctx; }
const char *component_domain(component_t *c) { return c->opts.domain; }
struct ev_loop *component_loop(component_t *c) { return c->loop; }
