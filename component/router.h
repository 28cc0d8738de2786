/* The stanza router: handlers keyed by stanza kind, child namespace and
 * (for IQs) type. The router owns the rules every XMPP entity must keep:
 * an IQ get/set gets exactly one reply, nobody answers a stanza of type
 * 'error', malformed stanzas get bad-request, unhandled IQs get
 * service-unavailable. It also tracks IQs we send and routes their
 * result/error (or a timeout) back to the sender's callback.
 *
 * The router does no I/O itself: it sends through the function given to
 * router_new, which keeps it unit-testable with stanza fixtures. */
#ifndef HERALD_ROUTER_H
#define HERALD_ROUTER_H

#include <strophe.h>

#include "component/xmpp_error.h"

struct ev_loop;
typedef struct router router_t;

typedef enum {
    ROUTE_IQ_GET = 1 << 0,
    ROUTE_IQ_SET = 1 << 1,
    ROUTE_IQ = ROUTE_IQ_GET | ROUTE_IQ_SET,
    ROUTE_MESSAGE = 1 << 2,
    ROUTE_PRESENCE = 1 << 3,
} route_kind_t;

/* What a handler returns:
 *   ROUTE_DONE  it took the stanza; for an IQ get/set it has replied or
 *               promises exactly one reply later (e.g. after a commit),
 *   ROUTE_PASS  not its business: the next matching handler is tried,
 *   any xerr_t  (> 0) the router replies with that bare condition. */
#define ROUTE_DONE 0
#define ROUTE_PASS (-1)
typedef int (*route_handler_fn)(router_t *router, xmpp_stanza_t *stanza,
                                void *userdata);

/* Sends one stanza (does not take ownership). */
typedef void (*router_send_fn)(xmpp_stanza_t *stanza, void *userdata);

/* `loop` may be NULL (unit tests): then IQ timeouts never fire. */
router_t *router_new(xmpp_ctx_t *ctx, struct ev_loop *loop,
                     router_send_fn send, void *send_ud);
/* Cancels pending IQs (callbacks with NULL), then runs cleanups. */
void router_free(router_t *router);
xmpp_ctx_t *router_ctx(router_t *router);

/* Registers a handler for stanzas of `kinds` whose child element (for
 * messages: any child element) has namespace `ns` (NULL matches every
 * stanza of those kinds). Handlers registered later are tried first, so a
 * module can take over part of what an earlier one handles and PASS the
 * rest (e.g. disco#info queries carrying a node attribute). */
int router_add(router_t *router, int kinds, const char *ns,
               route_handler_fn fn, void *userdata);

/* Like router_add, but tried only after every router_add handler passed,
 * whatever the registration order: for defaults such as "unknown node"
 * answers that must not shadow a module's handler (additive). */
int router_add_fallback(router_t *router, int kinds, const char *ns,
                        route_handler_fn fn, void *userdata);

/* Calls fn(userdata) from router_free, after pending IQs were cancelled,
 * newest first: for state owned by handlers registered on this router
 * (additive). Returns 0, or -1 on allocation failure. */
int router_add_cleanup(router_t *router, void (*fn)(void *userdata),
                       void *userdata);

/* Entry point for every stanza received from the server. */
void router_dispatch(router_t *router, xmpp_stanza_t *stanza);

/* Sends a stanza through the router's send function. */
void router_send(router_t *router, xmpp_stanza_t *stanza);

/* Replies to `orig` with an error (no-op for stanzas that must not be
 * answered). */
void router_reply_error(router_t *router, xmpp_stanza_t *orig,
                        const xerr_spec_t *spec);
void router_reply_cond(router_t *router, xmpp_stanza_t *orig, xerr_t cond);

/* Builds <iq type='result'/> for `orig` (to/from swapped, same id); the
 * caller adds a child if needed, sends it and releases it. */
xmpp_stanza_t *router_iq_result(router_t *router, xmpp_stanza_t *orig);

/* Sends an IQ get/set we originate. The router sets a unique id, and
 * calls `cb` exactly once: with the result or error stanza, or with NULL
 * after `timeout_ms`. `iq` is not taken over. A reply counts only if its
 * `from` equals the request's `to` (normalized). timeout_ms 0 means no
 * timeout (until router_cancel_pending). Returns 0, or -1 when nothing was
 * sent (not an <iq/>, out of memory): then `cb` is never called. The id is
 * set on the caller's `iq`. */
typedef void (*router_iq_cb)(router_t *router, xmpp_stanza_t *reply,
                             void *userdata);
int router_send_iq(router_t *router, xmpp_stanza_t *iq, unsigned timeout_ms,
                   router_iq_cb cb, void *userdata);

/* Fails every pending outgoing IQ (cb with NULL), e.g. on shutdown. */
void router_cancel_pending(router_t *router);

#endif
