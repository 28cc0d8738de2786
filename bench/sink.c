/* sink: a component that swallows messages sent to its virtual JIDs
 * u1@DOMAIN ... uN@DOMAIN and counts them, so a benchmark can have N
 * "subscribers" without N client connections. Built on the framework like
 * any other component (router handler on ROUTE_MESSAGE, ns NULL).
 *
 *     sink --port P --secret S [--domain sink.localhost] [--users N]
 *          [--count M] [--expect-per-jid K] [--idle SEC] [--wait SEC]
 *          [--ready-file PATH] [--timeline] [--links K]
 *
 * It exits when M messages arrived (exit 0), or when no message came for
 * --idle seconds after the first one or none at all within --wait seconds
 * (exit 0 if no target was given, 1 if the target was missed). The last
 * line on stdout is a machine-readable summary of key=value pairs:
 *
 *     sink: count=.. seconds=.. msgs_s=.. first=.. last=.. peak_1s=..
 *           jids=.. dups=.. missing=.. other=.. cpu_s=.. cpu_us_per_msg=..
 *
 * With --links K the sink opens K connections for its domain (ejabberd
 * balances deliveries over them), so that the server's side of the sink is
 * not what a multi-link benchmark measures; --ready-file is written once
 * all K are up.
 *
 * first/last are wall-clock epoch seconds (comparable with blast's
 * start=), seconds = last - first. Duplicates: with --expect-per-jid K,
 * every JID beyond K messages counts as duplicates and below K as missing;
 * in addition, ids of the form b<seq> (blast's) are checked against a
 * bitmap of --count bits, so a duplicate is seen even when K is not known.
 * The per-message work is an array increment: the cost measured is the
 * framework's receive path (libstrophe parse + router dispatch).
 *
 * Pubsub client mode (issue 4 benchmarks (a), (c), (d)): the sink also
 * speaks XEP-0060 to a pubsub service, so one process stands for a node
 * owner and N subscribers without any client connection:
 *
 *     --service D --node NODE [--owner JID] [--create] [--subscribe]
 *     [--window W] [--publish] [--publish-rate R --publish-secs S]
 *
 * Once its links are up it runs, in order: --create (the owner, default
 * pub@DOMAIN, creates NODE; any error ends the run), --subscribe (u1..uN
 * each send their own <subscribe/> from their own JID, W requests in
 * flight; the real subscribe path of the service), then --publish: one
 * ~700-byte Atom entry published by the owner, or with --publish-rate R
 * items at R per second for S seconds, item ids d<seq>. Notifications are
 * counted as above; for d<seq> items the time from sending the publish to
 * the notification's arrival (same process, monotonic clock) is recorded,
 * and in a rate run --count M is reached by M such notifications (other
 * messages still count in count=).
 * Extra summary lines, printed before the `sink: count=` line:
 *
 *     sink-subscribe: ok=.. errors=.. seconds=.. subs_s=.. first_error=..
 *     sink-publish: sent=.. acked=.. errors=.. seconds=.. rate_s=..
 *                   published=.. lat_n=.. lat_p50_ms=.. lat_p99_ms=..
 *                   lat_max_ms=.. ack_p50_ms=.. ack_p99_ms=..
 *                   bytes_first=.. first_error=..
 *
 * published= is the wall-clock time of the first publish (comparable
 * with last=); bytes_first the serialized size of the first notification.
 * --subscribe without --publish exits when every subscription is
 * answered (exit 1 if any failed). */
#include <errno.h>
#include <ev.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "component/component.h"
#include "component/log.h"
#include "component/router.h"
#include "bench/bench_clock.h"

#define TIMELINE_MAX 3600 /* per-second buckets kept (one hour) */
#define IQ_TIMEOUT_MS 120000
#define NS_PUBSUB "http://jabber.org/protocol/pubsub"
#define PUB_MAX 1000000 /* publishes one rate run may send */

typedef enum { PH_NONE, PH_CREATE, PH_SUBSCRIBE, PH_PUBLISH, PH_COUNT } phase_t;

typedef struct {
    component_t *comp;
    struct ev_loop *loop;
    const char *domain;
    size_t domain_len;
    const char *ready_file;
    int timeline;
    int links;

    unsigned long users;      /* virtual JIDs u1..uN counted individually */
    uint32_t *per_jid;        /* [users + 1], index 0 unused */
    unsigned long target;     /* exit after this many (0: only on idle) */
    unsigned long expect_per_jid;
    uint8_t *seen;            /* bitmap over blast ids b0..b(target-1) */

    unsigned long count;
    unsigned long other;      /* to a JID outside u1..uN */
    unsigned long id_dups;    /* b<seq> ids received twice */
    double first_mono, last_mono;
    double first_wall;
    uint32_t per_sec[TIMELINE_MAX];

    double idle_s, wait_s;
    ev_timer idle;

    /* pubsub client mode */
    const char *service, *node;
    char *owner;
    int do_create, do_subscribe, do_publish;
    phase_t phase;
    double ps_last; /* last pubsub reply (progress for the idle timer) */
    int sub_printed, failed;
    unsigned window;
    unsigned long sub_next, sub_ok, sub_err;
    double sub_t0, sub_t1;
    double pub_rate, pub_secs;
    unsigned long pub_total, pub_sent, pub_acked, pub_err, pub_refused;
    double pub_t0, pub_t1, pub_wall;
    double *pub_t;          /* [pub_total] send time (monotonic) per seq */
    double *lat, *ack_lat;  /* samples, seconds */
    unsigned long nlat, nack;
    size_t bytes_first;
    char first_error[160];
    ev_timer pub_timer;
    ev_signal sigint, sigterm;
    int stopping;
    int reached;
} sink_t;

static void print_subscribe(sink_t *s);
static void print_publish(sink_t *s);

/* "u123@domain[/res]" -> 123, or 0 when `to` is not one of ours. */
static unsigned long jid_index(const sink_t *s, const char *to)
{
    if (!to || to[0] != 'u')
        return 0;
    unsigned long n = 0;
    const char *p = to + 1;
    if (*p < '0' || *p > '9')
        return 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        n = n * 10 + (unsigned long)(*p - '0');
        if (n > s->users)
            return 0;
    }
    if (*p != '@' || strncmp(p + 1, s->domain, s->domain_len) != 0)
        return 0;
    char end = p[1 + s->domain_len];
    return end == '\0' || end == '/' ? n : 0;
}

static void check_id(sink_t *s, const char *id)
{
    if (!s->seen || !id || id[0] != 'b' || id[1] < '0' || id[1] > '9')
        return;
    unsigned long seq = 0;
    for (const char *p = id + 1; *p; p++) {
        if (*p < '0' || *p > '9')
            return;
        seq = seq * 10 + (unsigned long)(*p - '0');
        if (seq >= s->target)
            return;
    }
    uint8_t bit = (uint8_t)(1u << (seq & 7));
    if (s->seen[seq >> 3] & bit)
        s->id_dups++;
    s->seen[seq >> 3] |= bit;
}

static void sink_print_summary(sink_t *s)
{
    double secs = s->count > 1 ? s->last_mono - s->first_mono : 0;
    double cpu = cpu_seconds();
    unsigned long jids = 0, dups = 0, missing = 0;
    for (unsigned long i = 1; i <= s->users; i++) {
        uint32_t c = s->per_jid[i];
        jids += c > 0;
        if (s->expect_per_jid) {
            if (c > s->expect_per_jid)
                dups += c - s->expect_per_jid;
            else
                missing += s->expect_per_jid - c;
        }
    }
    dups += s->id_dups;
    if (s->do_subscribe)
        print_subscribe(s);
    if (s->do_publish)
        print_publish(s);
    uint32_t peak = 0;
    size_t nsec = s->count ? (size_t)(s->last_mono - s->first_mono) + 1 : 0;
    if (nsec > TIMELINE_MAX)
        nsec = TIMELINE_MAX;
    for (size_t i = 0; i < nsec; i++) {
        if (s->per_sec[i] > peak)
            peak = s->per_sec[i];
        if (s->timeline)
            fprintf(stderr, "sink: second %zu: %u\n", i, s->per_sec[i]);
    }
    printf("sink: count=%lu seconds=%.3f msgs_s=%.0f first=%.6f last=%.6f "
           "peak_1s=%u jids=%lu dups=%lu missing=%lu other=%lu cpu_s=%.3f "
           "cpu_us_per_msg=%.2f\n",
           s->count, secs, secs > 0 ? (s->count - 1) / secs : 0., s->first_wall,
           s->first_wall + (s->last_mono - s->first_mono), peak, jids, dups,
           missing, s->other, cpu, s->count ? cpu * 1e6 / s->count : 0.);
    fflush(stdout);
}

static void sink_stopped(component_t *comp, void *ud)
{
    (void)ud;
    ev_break(component_loop(comp), EVBREAK_ALL);
}

static void sink_finish(sink_t *s)
{
    if (s->stopping)
        return;
    s->stopping = 1;
    ev_timer_stop(s->loop, &s->idle);
    /* The summary first: the stream close may take the server a while. */
    sink_print_summary(s);
    component_stop(s->comp, sink_stopped, s);
}

/* ---- pubsub client mode ------------------------------------------------ */

/* IQ callbacks carry a sequence number as userdata; the one sink is here. */
static sink_t *the_sink;

/* The same Atom entry as blast's notifications, so that the server routes
 * notifications of about the ceiling's size (~850 bytes). */
static const char atom_entry[] =
    "<entry xmlns='http://www.w3.org/2005/Atom'>"
    "<title type='text'>Herald benchmark entry: routing pre-serialized "
    "notifications</title>"
    "<id>tag:herald.example,2024:bench/entry</id>"
    "<published>2024-05-01T12:00:00Z</published>"
    "<updated>2024-05-01T12:00:00Z</updated>"
    "<author><name>Bench Publisher</name><uri>xmpp:publisher@localhost</uri>"
    "</author>"
    "<link rel='alternate' type='text/html' "
    "href='https://herald.example/blog/2024/05/routing-notifications'/>"
    "<summary type='html'>&lt;p&gt;A notification the size of a typical "
    "feed entry. The server parses and re-serializes each one, which is "
    "what bounds a fan-out done by an external component.&lt;/p&gt;"
    "</summary>"
    "</entry>";

/* Remembers the first failure as one token (no spaces: summary value). */
static void note_error(sink_t *s, const char *what, xmpp_stanza_t *reply)
{
    if (s->first_error[0])
        return;
    const char *cond = "timeout";
    if (reply) {
        cond = "error-without-condition";
        xmpp_stanza_t *e = xmpp_stanza_get_child_by_name(reply, "error");
        for (xmpp_stanza_t *c = e ? xmpp_stanza_get_children(e) : NULL; c;
             c = xmpp_stanza_get_next(c))
            if (xmpp_stanza_is_tag(c) && strcmp(xmpp_stanza_get_name(c), "text") != 0) {
                cond = xmpp_stanza_get_name(c);
                break;
            }
    }
    snprintf(s->first_error, sizeof s->first_error, "%s:%s", what, cond);
}

static int is_result(xmpp_stanza_t *reply)
{
    const char *t = reply ? xmpp_stanza_get_type(reply) : NULL;
    return t && strcmp(t, "result") == 0;
}

/* Sends an IQ given as XML text (the router sets its id). */
static int ps_send_xml(sink_t *s, const char *xml, router_iq_cb cb, void *ud)
{
    xmpp_stanza_t *iq = xmpp_stanza_new_from_string(component_xmpp_ctx(s->comp), xml);
    if (!iq)
        return -1;
    int rc = router_send_iq(component_router(s->comp), iq, IQ_TIMEOUT_MS, cb, ud);
    xmpp_stanza_release(iq);
    return rc;
}

static void print_subscribe(sink_t *s)
{
    if (s->sub_printed)
        return;
    s->sub_printed = 1;
    double end = s->sub_t1 ? s->sub_t1 : now_mono();
    double secs = s->sub_t0 ? end - s->sub_t0 : 0;
    printf("sink-subscribe: ok=%lu errors=%lu seconds=%.3f subs_s=%.0f first_error=%s\n",
           s->sub_ok, s->sub_err, secs, secs > 0 ? s->sub_ok / secs : 0.,
           s->first_error[0] ? s->first_error : "none");
    fflush(stdout);
}

static void ps_next_phase(sink_t *s);
static void sub_cb(router_t *r, xmpp_stanza_t *reply, void *ud);

/* Keeps `window` subscribe requests in flight, one per virtual JID; built
 * with the stanza API (cheaper than parsing text for a million IQs). */
static void sub_fill(sink_t *s)
{
    xmpp_ctx_t *ctx = component_xmpp_ctx(s->comp);
    char jid[64];
    while (!s->stopping && s->sub_next <= s->users &&
           s->sub_next - 1 - (s->sub_ok + s->sub_err) < s->window) {
        snprintf(jid, sizeof jid, "u%lu@%s", s->sub_next, s->domain);
        xmpp_stanza_t *iq = xmpp_iq_new(ctx, "set", NULL);
        xmpp_stanza_t *ps = xmpp_stanza_new(ctx);
        xmpp_stanza_t *sub = xmpp_stanza_new(ctx);
        int bad = !iq || !ps || !sub;
        if (!bad) {
            xmpp_stanza_set_from(iq, jid);
            xmpp_stanza_set_to(iq, s->service);
            xmpp_stanza_set_name(ps, "pubsub");
            xmpp_stanza_set_ns(ps, NS_PUBSUB);
            xmpp_stanza_set_name(sub, "subscribe");
            xmpp_stanza_set_attribute(sub, "node", s->node);
            xmpp_stanza_set_attribute(sub, "jid", jid);
            xmpp_stanza_add_child(ps, sub);
            xmpp_stanza_add_child(iq, ps);
            bad = router_send_iq(component_router(s->comp), iq, IQ_TIMEOUT_MS, sub_cb,
                                 (void *)(uintptr_t)s->sub_next) != 0;
        }
        if (sub)
            xmpp_stanza_release(sub);
        if (ps)
            xmpp_stanza_release(ps);
        if (iq)
            xmpp_stanza_release(iq);
        if (bad) {
            fprintf(stderr, "sink: cannot send subscribe %lu (out of memory)\n", s->sub_next);
            s->failed = 1;
            sink_finish(s);
            return;
        }
        s->sub_next++;
    }
    if (s->sub_ok + s->sub_err >= s->users) {
        s->sub_t1 = now_mono();
        print_subscribe(s);
        if (s->sub_err)
            s->failed = 1;
        ps_next_phase(s);
    }
}

static void sub_cb(router_t *r, xmpp_stanza_t *reply, void *ud)
{
    (void)r;
    (void)ud;
    sink_t *s = the_sink;
    if (s->stopping) /* cancelled at exit */
        return;
    s->ps_last = now_mono();
    if (is_result(reply)) {
        s->sub_ok++;
    } else {
        s->sub_err++;
        note_error(s, "subscribe", reply);
    }
    sub_fill(s);
}

static void create_cb(router_t *r, xmpp_stanza_t *reply, void *ud)
{
    (void)r;
    (void)ud;
    sink_t *s = the_sink;
    if (s->stopping)
        return;
    s->ps_last = now_mono();
    if (!is_result(reply)) {
        note_error(s, "create", reply);
        fprintf(stderr, "sink: creating node %s at %s failed: %s\n", s->node, s->service,
                s->first_error);
        s->failed = 1;
        sink_finish(s);
        return;
    }
    ps_next_phase(s);
}

static void pub_cb(router_t *r, xmpp_stanza_t *reply, void *ud)
{
    (void)r;
    sink_t *s = the_sink;
    if (s->stopping)
        return;
    unsigned long seq = (unsigned long)(uintptr_t)ud;
    double t = now_mono();
    s->ps_last = t;
    if (is_result(reply)) {
        s->pub_acked++;
        if (seq < s->pub_sent)
            s->ack_lat[s->nack++] = t - s->pub_t[seq];
    } else {
        s->pub_err++;
        if (reply)
            s->pub_refused++;
        note_error(s, "publish", reply);
    }
    /* Every publish refused: no notification will ever come. A timeout is
     * no refusal: Prosody's own pubsub answers only after it has built
     * every notification (minutes for a million). */
    if (s->pub_refused && s->pub_acked == 0 && s->pub_refused >= s->pub_total) {
        fprintf(stderr, "sink: publishing to %s at %s failed: %s\n", s->node, s->service,
                s->first_error);
        s->failed = 1;
        sink_finish(s);
    }
}

static void pub_one(sink_t *s)
{
    static char xml[sizeof atom_entry + 1024];
    unsigned long seq = s->pub_sent;
    snprintf(xml, sizeof xml,
             "<iq type='set' from='%s' to='%s'><pubsub xmlns='" NS_PUBSUB "'>"
             "<publish node='%s'><item id='d%lu'>%s</item></publish></pubsub></iq>",
             s->owner, s->service, s->node, seq, atom_entry);
    s->pub_t[seq] = now_mono();
    if (seq == 0)
        s->pub_wall = now_wall();
    s->pub_sent++;
    s->pub_t1 = s->pub_t[seq];
    if (ps_send_xml(s, xml, pub_cb, (void *)(uintptr_t)seq) != 0) {
        s->pub_err++;
        note_error(s, "publish", NULL);
    }
}

/* Publishes what is due at pub_rate since pub_t0: an exact average rate
 * even when a tick comes late. */
static void pub_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    sink_t *s = w->data;
    if (s->stopping) {
        ev_timer_stop(loop, w);
        return;
    }
    unsigned long due = (unsigned long)((now_mono() - s->pub_t0) * s->pub_rate) + 1;
    if (due > s->pub_total)
        due = s->pub_total;
    while (s->pub_sent < due)
        pub_one(s);
    if (s->pub_sent >= s->pub_total)
        ev_timer_stop(loop, w);
}

static void ps_publish_start(sink_t *s)
{
    s->pub_t0 = now_mono();
    /* The wait for the first notification starts now. */
    ev_timer_stop(s->loop, &s->idle);
    ev_timer_set(&s->idle, s->wait_s, 0.);
    ev_timer_start(s->loop, &s->idle);
    if (s->pub_rate > 0) {
        ev_timer_init(&s->pub_timer, pub_timer_cb, 0., 0.001);
        s->pub_timer.data = s;
        ev_timer_start(s->loop, &s->pub_timer);
    } else {
        pub_one(s);
    }
}

/* create -> subscribe -> publish -> count, skipping what was not asked. */
static void ps_next_phase(sink_t *s)
{
    if (s->stopping)
        return;
    s->ps_last = now_mono();
    if (s->phase < PH_CREATE && s->do_create) {
        s->phase = PH_CREATE;
        char xml[1024];
        snprintf(xml, sizeof xml,
                 "<iq type='set' from='%s' to='%s'><pubsub xmlns='" NS_PUBSUB "'>"
                 "<create node='%s'/></pubsub></iq>",
                 s->owner, s->service, s->node);
        if (ps_send_xml(s, xml, create_cb, NULL) != 0) {
            fprintf(stderr, "sink: cannot send the create request\n");
            s->failed = 1;
            sink_finish(s);
        }
        return;
    }
    if (s->phase < PH_SUBSCRIBE && s->do_subscribe) {
        s->phase = PH_SUBSCRIBE;
        s->sub_t0 = now_mono();
        s->sub_next = 1;
        sub_fill(s);
        return;
    }
    if (s->phase < PH_PUBLISH && s->do_publish) {
        s->phase = PH_PUBLISH;
        ps_publish_start(s);
        return;
    }
    s->phase = PH_COUNT;
    if (!s->do_publish) /* subscribe/create only: done */
        sink_finish(s);
}

/* A notification of item d<seq>: publish-to-arrival time. */
static void ps_note_notification(sink_t *s, xmpp_stanza_t *msg, double t)
{
    if (s->count == 1 && !s->bytes_first) {
        char *buf = NULL;
        size_t len = 0;
        if (xmpp_stanza_to_text(msg, &buf, &len) == XMPP_EOK) {
            s->bytes_first = len;
            /* On stderr, so that a report can show what each server sends. */
            fprintf(stderr, "sink: first notification (%zu bytes): %s\n", len, buf);
            xmpp_free(component_xmpp_ctx(s->comp), buf);
        }
    }
    if (!s->pub_t)
        return;
    xmpp_stanza_t *ev = xmpp_stanza_get_child_by_name(msg, "event");
    xmpp_stanza_t *items = ev ? xmpp_stanza_get_child_by_name(ev, "items") : NULL;
    xmpp_stanza_t *item = items ? xmpp_stanza_get_child_by_name(items, "item") : NULL;
    const char *id = item ? xmpp_stanza_get_id(item) : NULL;
    if (!id || id[0] != 'd' || id[1] < '0' || id[1] > '9')
        return;
    char *end;
    unsigned long seq = strtoul(id + 1, &end, 10);
    if (*end || seq >= s->pub_sent || s->nlat >= s->pub_total)
        return;
    s->lat[s->nlat++] = t - s->pub_t[seq];
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted v[n], in milliseconds. */
static double pct_ms(const double *v, unsigned long n, double p)
{
    if (!n)
        return 0;
    unsigned long k = (unsigned long)ceil(p * n);
    return v[k ? k - 1 : 0] * 1e3;
}

static void print_publish(sink_t *s)
{
    qsort(s->lat, s->nlat, sizeof *s->lat, cmp_double);
    qsort(s->ack_lat, s->nack, sizeof *s->ack_lat, cmp_double);
    double secs = s->pub_sent > 1 ? s->pub_t1 - s->pub_t0 : 0;
    printf("sink-publish: sent=%lu acked=%lu errors=%lu seconds=%.3f rate_s=%.1f "
           "published=%.6f lat_n=%lu lat_p50_ms=%.2f lat_p99_ms=%.2f lat_max_ms=%.2f "
           "ack_p50_ms=%.2f ack_p99_ms=%.2f bytes_first=%zu first_error=%s\n",
           s->pub_sent, s->pub_acked, s->pub_err, secs,
           secs > 0 ? (s->pub_sent - 1) / secs : 0., s->pub_wall, s->nlat,
           pct_ms(s->lat, s->nlat, 0.50), pct_ms(s->lat, s->nlat, 0.99),
           s->nlat ? s->lat[s->nlat - 1] * 1e3 : 0., pct_ms(s->ack_lat, s->nack, 0.50),
           pct_ms(s->ack_lat, s->nack, 0.99), s->bytes_first,
           s->first_error[0] ? s->first_error : "none");
}

static int sink_on_message(router_t *router, xmpp_stanza_t *msg, void *ud)
{
    (void)router;
    sink_t *s = ud;
    if (s->stopping)
        return ROUTE_DONE;
    double t = now_mono();
    if (s->count == 0) {
        s->first_mono = t;
        s->first_wall = now_wall();
        /* From now on the timer measures silence, not the start-up wait. */
        ev_timer_stop(s->loop, &s->idle);
        ev_timer_set(&s->idle, s->idle_s, 0.);
        ev_timer_start(s->loop, &s->idle);
    }
    s->last_mono = t;
    size_t sec = (size_t)(t - s->first_mono);
    if (sec < TIMELINE_MAX)
        s->per_sec[sec]++;
    s->count++;
    ps_note_notification(s, msg, t);
    unsigned long n = jid_index(s, xmpp_stanza_get_to(msg));
    if (n)
        s->per_jid[n]++;
    else
        s->other++;
    check_id(s, xmpp_stanza_get_id(msg));
    /* A rate run counts the notifications of its own items: a server may
     * send others (e.g. retractions of items beyond its max_items). */
    if (s->target && (s->pub_rate > 0 ? s->nlat : s->count) >= s->target) {
        s->reached = 1;
        sink_finish(s); /* only queues the stream close: safe in a handler */
    }
    return ROUTE_DONE;
}

/* Idle detection without re-arming per message (ev.pod's "be smart about
 * timeouts"): the timer fires, then looks at when the last message came. */
static void sink_idle_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    sink_t *s = w->data;
    double t = now_mono();
    if (s->phase == PH_CREATE || s->phase == PH_SUBSCRIBE) {
        /* No notification is due yet: what must not stall is the
         * stream of replies. */
        double quiet = t - s->ps_last;
        if (quiet >= s->wait_s) {
            fprintf(stderr, "sink: no pubsub reply for %.1f s (%lu of %lu subscribed)\n",
                    s->wait_s, s->sub_ok + s->sub_err, s->users);
            s->failed = 1;
            sink_finish(s);
            return;
        }
        ev_timer_set(w, s->wait_s - quiet, 0.);
        ev_timer_start(loop, w);
        return;
    }
    if (s->count == 0) {
        fprintf(stderr, "sink: no message within %.1f s\n", s->wait_s);
        sink_finish(s);
        return;
    }
    double quiet = t - s->last_mono;
    if (quiet >= s->idle_s) {
        if (s->target)
            fprintf(stderr, "sink: idle for %.1f s after %lu of %lu messages\n",
                    s->idle_s, s->count, s->target);
        sink_finish(s);
        return;
    }
    ev_timer_set(w, s->idle_s - quiet, 0.);
    ev_timer_start(loop, w);
}

static void sink_on_link(component_t *comp, int index, int up, void *ud)
{
    (void)index;
    sink_t *s = ud;
    if (!up || component_links_up(comp) < s->links)
        return;
    if (s->service && s->phase == PH_NONE)
        ps_next_phase(s); /* only queues requests: safe here */
    if (!s->ready_file)
        return;
    FILE *f = fopen(s->ready_file, "w");
    if (f) {
        fprintf(f, "up\n");
        fclose(f);
    } else {
        fprintf(stderr, "sink: cannot write %s: %s\n", s->ready_file,
                strerror(errno));
    }
    s->ready_file = NULL; /* once: a reconnect mid-run must not re-signal */
}

static void sink_on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void)loop, (void)revents;
    sink_finish(w->data);
}

static void usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s --port P --secret S [--host 127.0.0.1] [--domain D]\n"
            "       [--users N] [--count M] [--expect-per-jid K] [--idle SEC]\n"
            "       [--wait SEC] [--ready-file PATH] [--timeline] [--links K]\n"
            "       [--log LEVEL]\n"
            "       [--service D --node NODE [--owner JID] [--create] [--subscribe]\n"
            "        [--window W] [--publish] [--publish-rate R --publish-secs S]]\n",
            argv0);
}

int main(int argc, char **argv)
{
    static sink_t s;
    component_options_t o = {
        .host = "127.0.0.1", .domain = "sink.localhost", .links = 1,
        .backoff_min_ms = 200, .backoff_max_ms = 2000,
        /* A server building a million notifications of its own pubsub
         * answers nothing for minutes (Prosody: > 3 min); a keepalive that
         * declared the link dead would drop everything it then sends. */
        .ping_interval_ms = 600000, .ping_timeout_ms = 120000,
        .software_name = "Herald bench sink", .software_version = "0.1",
        .identity_category = "component", .identity_type = "generic",
        .identity_name = "Bench sink",
    };
    s.users = 1000000;
    s.idle_s = 5;
    s.wait_s = 60;
    hlog_set_level(HLOG_WARN);

    static const struct option longopts[] = {
        {"host", required_argument, 0, 'h'},   {"port", required_argument, 0, 'p'},
        {"domain", required_argument, 0, 'd'}, {"secret", required_argument, 0, 's'},
        {"users", required_argument, 0, 'n'},  {"count", required_argument, 0, 'c'},
        {"expect-per-jid", required_argument, 0, 'k'},
        {"idle", required_argument, 0, 'i'},   {"wait", required_argument, 0, 'w'},
        {"ready-file", required_argument, 0, 'r'},
        {"timeline", no_argument, 0, 't'},     {"log", required_argument, 0, 'l'},
        {"links", required_argument, 0, 'K'},
        {"service", required_argument, 0, 'S'}, {"node", required_argument, 0, 'N'},
        {"owner", required_argument, 0, 'O'},   {"create", no_argument, 0, 'C'},
        {"subscribe", no_argument, 0, 'U'},     {"window", required_argument, 0, 'W'},
        {"publish", no_argument, 0, 'P'},
        {"publish-rate", required_argument, 0, 'R'},
        {"publish-secs", required_argument, 0, 'T'},
        {0, 0, 0, 0},
    };
    int c;
    hlog_level_t lvl;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'h': o.host = optarg; break;
        case 'p': o.port = atoi(optarg); break;
        case 'd': o.domain = optarg; break;
        case 's': o.secret = optarg; break;
        case 'n': s.users = strtoul(optarg, NULL, 10); break;
        case 'c': s.target = strtoul(optarg, NULL, 10); break;
        case 'k': s.expect_per_jid = strtoul(optarg, NULL, 10); break;
        case 'i': s.idle_s = atof(optarg); break;
        case 'w': s.wait_s = atof(optarg); break;
        case 'r': s.ready_file = optarg; break;
        case 't': s.timeline = 1; break;
        case 'K': o.links = atoi(optarg); break;
        case 'S': s.service = optarg; break;
        case 'N': s.node = optarg; break;
        case 'O': s.owner = strdup(optarg); break;
        case 'C': s.do_create = 1; break;
        case 'U': s.do_subscribe = 1; break;
        case 'W': s.window = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'P': s.do_publish = 1; break;
        case 'R': s.pub_rate = atof(optarg); s.do_publish = 1; break;
        case 'T': s.pub_secs = atof(optarg); break;
        case 'l':
            if (hlog_parse_level(optarg, &lvl) != 0)
                goto usage;
            hlog_set_level(lvl);
            break;
        default: goto usage;
        }
    }
    if (!o.secret || o.port <= 0 || optind != argc || s.users < 1 ||
        s.users > 100000000 || s.idle_s <= 0 || s.wait_s <= 0 || o.links < 1 ||
        o.links > 64)
        goto usage;
    int ps_mode = s.do_create || s.do_subscribe || s.do_publish;
    if (ps_mode && (!s.service || !s.node))
        goto usage;
    if (!s.window)
        s.window = 1000;
    /* Names go into XML text unescaped: refuse what would need escaping. */
    if ((s.service && strpbrk(s.service, "'\"<>&")) || (s.node && strpbrk(s.node, "'\"<>&")) ||
        (s.owner && strpbrk(s.owner, "'\"<>&")) || strpbrk(o.domain, "'\"<>&"))
        goto usage;
    if (s.pub_rate > 0) {
        if (s.pub_secs <= 0 || s.pub_rate * s.pub_secs > PUB_MAX || s.pub_rate > 100000)
            goto usage;
        s.pub_total = (unsigned long)(s.pub_rate * s.pub_secs + 0.5);
    } else if (s.do_publish) {
        s.pub_total = 1;
    }
    if (ps_mode && !s.owner) {
        s.owner = malloc(strlen(o.domain) + 5);
        if (s.owner)
            sprintf(s.owner, "pub@%s", o.domain);
    }
    if (s.pub_total) {
        s.pub_t = calloc(s.pub_total, sizeof *s.pub_t);
        s.lat = calloc(s.pub_total, sizeof *s.lat);
        s.ack_lat = calloc(s.pub_total, sizeof *s.ack_lat);
    }
    if ((ps_mode && !s.owner) || (s.pub_total && (!s.pub_t || !s.lat || !s.ack_lat))) {
        fprintf(stderr, "sink: out of memory\n");
        return 1;
    }
    the_sink = &s;

    s.links = o.links;
    s.domain = o.domain;
    s.domain_len = strlen(o.domain);
    s.per_jid = calloc(s.users + 1, sizeof(*s.per_jid));
    if (s.target)
        s.seen = calloc((s.target + 7) / 8, 1);
    if (!s.per_jid || (s.target && !s.seen)) {
        fprintf(stderr, "sink: out of memory\n");
        return 1;
    }

    s.loop = EV_DEFAULT;
    s.comp = component_new(s.loop, &o);
    if (!s.comp)
        return 1;
    router_add(component_router(s.comp), ROUTE_MESSAGE, NULL, sink_on_message, &s);
    component_on_link(s.comp, sink_on_link, &s);

    ev_timer_init(&s.idle, sink_idle_cb, s.wait_s, 0.);
    s.idle.data = &s;
    ev_timer_start(s.loop, &s.idle);
    ev_signal_init(&s.sigint, sink_on_signal, SIGINT);
    ev_signal_init(&s.sigterm, sink_on_signal, SIGTERM);
    s.sigint.data = s.sigterm.data = &s;
    ev_signal_start(s.loop, &s.sigint);
    ev_signal_start(s.loop, &s.sigterm);

    int rc = 1;
    if (component_start(s.comp) == 0) {
        ev_run(s.loop, 0);
        rc = s.failed || (s.target && !s.reached) ? 1 : 0;
    }
    ev_signal_stop(s.loop, &s.sigint);
    ev_signal_stop(s.loop, &s.sigterm);
    ev_timer_stop(s.loop, &s.idle);
    if (ev_is_active(&s.pub_timer))
        ev_timer_stop(s.loop, &s.pub_timer);
    component_free(s.comp);
    free(s.per_jid);
    free(s.owner);
    free(s.pub_t);
    free(s.lat);
    free(s.ack_lat);
    free(s.seen);
    ev_loop_destroy(s.loop);
    return rc;

usage:
    usage(argv[0]);
    return 2;
}
