/* echo: the smallest useful component built on Herald's framework, to show
 * that the framework is not welded to pubsub. It serves one domain, echoes
 * chat/normal message bodies back to their sender and answers XEP-0202
 * entity time. Only the public headers are used.
 *
 *     echo --host 127.0.0.1 --port 5347 --domain echo.localhost --secret S */
#include <ev.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "component/component.h"
#include "component/disco.h"
#include "component/router.h"

#define NS_TIME "urn:xmpp:time"

static component_t *echo_comp;
static int echo_stopping;

/* Adds <name>text</name> to parent. */
static void echo_add_text_child(xmpp_ctx_t *ctx, xmpp_stanza_t *parent,
                                const char *name, const char *text)
{
    xmpp_stanza_t *el = xmpp_stanza_new(ctx), *tx = xmpp_stanza_new(ctx);
    xmpp_stanza_set_name(el, name);
    xmpp_stanza_set_text(tx, text);
    xmpp_stanza_add_child_ex(el, tx, 0);
    xmpp_stanza_add_child_ex(parent, el, 0);
}

static int echo_on_message(router_t *router, xmpp_stanza_t *msg, void *ud)
{
    (void)ud;
    const char *type = xmpp_stanza_get_type(msg), *from = xmpp_stanza_get_from(msg),
               *to = xmpp_stanza_get_to(msg);
    /* Only conversations are echoed: answering groupchat, headline or
     * error messages could start a loop between two automata. */
    if ((type && strcmp(type, "chat") != 0 && strcmp(type, "normal") != 0) || !from || !to)
        return ROUTE_DONE;
    xmpp_ctx_t *ctx = router_ctx(router);
    char *body = xmpp_message_get_body(msg);
    if (!body) /* chat states, receipts...: nothing to echo */
        return ROUTE_DONE;
    xmpp_stanza_t *reply = xmpp_message_new(ctx, type, from, xmpp_stanza_get_id(msg));
    xmpp_stanza_set_from(reply, to);
    xmpp_message_set_body(reply, body);
    router_send(router, reply);
    xmpp_stanza_release(reply);
    xmpp_free(ctx, body);
    return ROUTE_DONE;
}

static int echo_on_time(router_t *router, xmpp_stanza_t *iq, void *ud)
{
    (void)ud;
    xmpp_ctx_t *ctx = router_ctx(router);
    time_t now = time(NULL);
    struct tm utc, local;
    char utcs[32], tzo[16];
    gmtime_r(&now, &utc), localtime_r(&now, &local);
    strftime(utcs, sizeof utcs, "%Y-%m-%dT%H:%M:%SZ", &utc);
    int off = (int)(local.tm_gmtoff / 60) % (24 * 60); /* minutes, |off| < 1 day */
    snprintf(tzo, sizeof tzo, "%c%02d:%02d", off < 0 ? '-' : '+',
             abs(off) / 60, abs(off) % 60);
    xmpp_stanza_t *reply = router_iq_result(router, iq);
    xmpp_stanza_t *t = xmpp_stanza_new(ctx);
    xmpp_stanza_set_name(t, "time");
    xmpp_stanza_set_ns(t, NS_TIME);
    echo_add_text_child(ctx, t, "tzo", tzo);
    echo_add_text_child(ctx, t, "utc", utcs);
    xmpp_stanza_add_child_ex(reply, t, 0);
    router_send(router, reply);
    xmpp_stanza_release(reply);
    return ROUTE_DONE;
}

static void echo_stopped(component_t *comp, void *ud)
{
    (void)ud;
    ev_break(component_loop(comp), EVBREAK_ALL);
}

static void echo_on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void)loop, (void)w, (void)revents;
    if (echo_stopping) /* a second signal must not stop twice */
        return;
    echo_stopping = 1;
    component_stop(echo_comp, echo_stopped, NULL);
}

int main(int argc, char **argv)
{
    component_options_t o = {
        .host = "127.0.0.1", .port = 5347, .links = 1,
        .backoff_min_ms = 200, .backoff_max_ms = 5000,
        .ping_interval_ms = 30000, .ping_timeout_ms = 10000,
        .software_name = "Herald echo", .software_version = "0.1",
        .identity_category = "component", .identity_type = "generic",
        .identity_name = "Echo",
    };
    static const struct option longopts[] = {
        {"host", required_argument, 0, 'h'}, {"port", required_argument, 0, 'p'},
        {"domain", required_argument, 0, 'd'}, {"secret", required_argument, 0, 's'},
        {0, 0, 0, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "h:p:d:s:", longopts, NULL)) != -1) {
        switch (c) {
        case 'h': o.host = optarg; break;
        case 'p': o.port = atoi(optarg); break;
        case 'd': o.domain = optarg; break;
        case 's': o.secret = optarg; break;
        default: goto usage;
        }
    }
    if (!o.domain || !o.secret || o.port <= 0 || optind != argc)
        goto usage;

    struct ev_loop *loop = EV_DEFAULT;
    echo_comp = component_new(loop, &o);
    if (!echo_comp)
        return 1;
    router_add(component_router(echo_comp), ROUTE_MESSAGE, NULL, echo_on_message, NULL);
    router_add(component_router(echo_comp), ROUTE_IQ_GET, NS_TIME, echo_on_time, NULL);
    disco_add_feature(component_disco(echo_comp), NS_TIME);

    ev_signal sigs[2];
    for (int i = 0; i < 2; i++) {
        ev_signal_init(&sigs[i], echo_on_signal, i ? SIGTERM : SIGINT);
        ev_signal_start(loop, &sigs[i]);
    }
    if (component_start(echo_comp) != 0) {
        component_free(echo_comp);
        return 1;
    }
    ev_run(loop, 0);
    component_free(echo_comp);
    return 0;

usage:
    fprintf(stderr, "usage: %s --host H --port P --domain D --secret S\n", argv[0]);
    return 2;
}
