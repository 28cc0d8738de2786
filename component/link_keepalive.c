/* The link's keepalive: an XEP-0199 ping to the server when the link has
 * been idle for ping_interval_ms; no reply (nor anything else) within
 * ping_timeout_ms means the link is dead and its socket is shut, which
 * reconnects it. */
#include "component/link_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "component/log.h"
#include "component/ns.h"

/* Keepalive ping ids: "herald-ping-<link serial>-<seq>". Replies may come
 * back on another link of the domain (ejabberd balances), so the serial
 * finds the link that asked. */
#define PING_ID_PREFIX "herald-ping-"

char *link_ping_target(const char *domain)
{
    /* Keepalive target: the server's own domain, i.e. the parent of ours
     * (pubsub.example.org -> example.org); both Prosody and ejabberd
     * answer a ping there. A one-label domain pings itself through the
     * server, which still proves the round trip. */
    const char *dot = strchr(domain, '.');
    return strdup(dot && dot[1] ? dot + 1 : domain);
}

int link_take_ping_reply(link_t *via, xmpp_stanza_t *st)
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
        hlog_debug(LINK_SUBJ, "link %d: ping answered (%s) in %.0f ms (via link %d)",
                   l->index, type, (ev_now(l->loop) - l->ping_sent_at) * 1000.,
                   via->index);
    }
    return 1;
}

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
    hlog_debug(LINK_SUBJ, "link %d: idle, pinging %s", l->index, l->ping_to);
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
            link_force_close(l, why);
            return;
        } else {
            link_timer_arm(l, w, timeout - (now - l->ping_sent_at));
            return;
        }
    }
    double idle = now - l->last_rx;
    if (idle >= interval) {
        send_ping(l);
        link_timer_arm(l, w, timeout);
    } else {
        link_timer_arm(l, w, interval - idle);
    }
}

void link_keepalive_init(link_t *l)
{
    ev_timer_init(&l->ping, ping_cb, 0., 0.);
}
