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
 * framework's receive path (libstrophe parse + router dispatch). */
#include <errno.h>
#include <ev.h>
#include <getopt.h>
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

#define TIMELINE_MAX 3600 /* per-second buckets kept (one hour) */

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
    ev_signal sigint, sigterm;
    int stopping;
    int reached;
} sink_t;

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double now_wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

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
    unsigned long n = jid_index(s, xmpp_stanza_get_to(msg));
    if (n)
        s->per_jid[n]++;
    else
        s->other++;
    check_id(s, xmpp_stanza_get_id(msg));
    if (s->target && s->count >= s->target) {
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
    if (!up || !s->ready_file || component_links_up(comp) < s->links)
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
            "       [--log LEVEL]\n",
            argv0);
}

int main(int argc, char **argv)
{
    static sink_t s;
    component_options_t o = {
        .host = "127.0.0.1", .domain = "sink.localhost", .links = 1,
        .backoff_min_ms = 200, .backoff_max_ms = 2000,
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
        rc = s.target && !s.reached ? 1 : 0;
    }
    ev_signal_stop(s.loop, &s.sigint);
    ev_signal_stop(s.loop, &s.sigterm);
    ev_timer_stop(s.loop, &s.idle);
    component_free(s.comp);
    free(s.per_jid);
    free(s.seen);
    ev_loop_destroy(s.loop);
    return rc;

usage:
    usage(argv[0]);
    return 2;
}
