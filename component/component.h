/* The component: one XMPP domain served over one or more XEP-0114 links to
 * a server, with a router, service discovery, the entity basics (version,
 * ping) and roster-less presence. Another component is built by creating
 * one, registering handlers on its router, and starting it:
 *
 *     component_t *c = component_new(EV_DEFAULT, &opts);
 *     router_add(component_router(c), ROUTE_IQ_GET, "urn:example", fn, ud);
 *     disco_add_feature(component_disco(c), "urn:example");
 *     component_start(c);
 *     ev_run(EV_DEFAULT, 0);
 *
 * Everything runs on the caller's libev loop; nothing blocks. */
#ifndef HERALD_COMPONENT_H
#define HERALD_COMPONENT_H

#include <stddef.h>
#include <strophe.h>

#include "component/disco.h"
#include "component/presence.h"
#include "component/router.h"

struct ev_loop;
typedef struct component component_t;

typedef struct {
    const char *host;       /* server address, e.g. "127.0.0.1" */
    int port;               /* component port, e.g. 5347 */
    const char *domain;     /* our domain, e.g. "pubsub.example.org" */
    const char *secret;     /* shared handshake secret */
    int links;              /* parallel connections for the domain (>= 1) */
    unsigned backoff_min_ms;   /* first reconnect delay */
    unsigned backoff_max_ms;   /* cap of the exponential backoff */
    unsigned ping_interval_ms; /* idle time before a keepalive ping */
    unsigned ping_timeout_ms;  /* no answer within this: link is dead */
    const char *software_name;    /* XEP-0092 name */
    const char *software_version; /* XEP-0092 version */
    const char *identity_category; /* disco identity of the domain */
    const char *identity_type;
    const char *identity_name;
    /* libstrophe's own logging (e.g. xmpp_get_default_logger()); NULL keeps
     * it off, which also skips its formatting cost (additive). */
    const xmpp_log_t *xmpp_log;
} component_options_t;

/* Copies the options. Returns NULL on invalid options (logged). Zero
 * backoff/ping values take the defaults of config.h (500, 30000, 30000,
 * 10000 ms). */
component_t *component_new(struct ev_loop *loop, const component_options_t *opts);
void component_free(component_t *comp);

/* Starts connecting every link; returns at once. */
int component_start(component_t *comp);

/* Closes every stream cleanly; `done` is called once all links are closed
 * (or after a short grace period). */
typedef void (*component_stopped_fn)(component_t *comp, void *userdata);
void component_stop(component_t *comp, component_stopped_fn done, void *userdata);

router_t *component_router(component_t *comp);
disco_t *component_disco(component_t *comp);
presence_t *component_presence(component_t *comp);
xmpp_ctx_t *component_xmpp_ctx(component_t *comp);
const char *component_domain(component_t *comp);
struct ev_loop *component_loop(component_t *comp);

/* Number of links whose handshake has succeeded. */
int component_links_up(component_t *comp);

/* Sends a stanza on a live link (spread round-robin); does not take
 * ownership. Dropped with a warning when no link is up. */
void component_send(component_t *comp, xmpp_stanza_t *stanza);
/* Sends pre-serialized XML (one or more whole stanzas). */
void component_send_raw(component_t *comp, const char *data, size_t len);
/* Like component_send_raw, but the link is chosen from the bare JID `to`
 * (the recipient of every stanza in `data`), as component_send does from
 * the stanza's 'to': stanzas to one recipient keep their order even when
 * several links are up (additive). */
void component_send_raw_to(component_t *comp, const char *to, const char *data,
                           size_t len);
/* Sum of the live links' send queue lengths (in queued items). */
size_t component_send_queue_len(component_t *comp);

/* Called whenever a link completes its handshake (e.g. to re-announce
 * presence) or goes down; outside libstrophe's handlers. Each call adds a
 * listener (modules register independently). */
typedef void (*component_link_fn)(component_t *comp, int link_index, int up,
                                  void *userdata);
void component_on_link(component_t *comp, component_link_fn fn, void *userdata);

#endif
