/* blast: a component that pushes pre-serialized messages to a sink's
 * virtual JIDs as fast as the server takes them. It measures the ceiling
 * every fan-out through an external component is bounded by: the server
 * routing component -> component (issue 4, benchmark (b)).
 *
 *     blast --port P --secret S [--domain pubsub.localhost]
 *           [--to-domain sink.localhost] [--users N] [--count M]
 *           [--mode atom|short] [--batch B] [--high H] [--low L]
 *           [--links K] [--wait SEC]
 *
 * Message i goes to u(i % N + 1)@to-domain with id b<i>. In atom mode it
 * is an ~850-byte XEP-0060 notification carrying an Atom entry, in short
 * mode a one-word <body/>. Messages are written by memcpy of constant
 * segments plus two decimal numbers, B per component_send_raw() call, and
 * production pauses while the component's send queue holds more than H
 * items per link, resuming below L per link: the same backpressure a
 * fan-out engine needs. With --links K it waits until K links are up and
 * spreads the batches over them.
 *
 * The last line on stdout:
 *     blast: sent=.. seconds=.. msgs_s=.. bytes=.. avg_bytes=.. links=..
 *            start=.. cpu_s=.. cpu_us_per_msg=..
 * seconds runs from the first send to the moment libstrophe's queue is
 * empty (everything handed to the kernel); start is wall-clock epoch
 * seconds, comparable with sink's last=. Exit 0 when everything was
 * sent, 1 otherwise. */
#include <ev.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "component/component.h"
#include "component/log.h"
#include "bench/bench_clock.h"

#define MSG_MAX 2048 /* bytes one message may take in the batch buffer */

typedef struct {
    const char *data;
    size_t len;
} seg_t;

typedef struct {
    component_t *comp;
    struct ev_loop *loop;
    int links;

    /* message = seg[0] <to index> seg[1] <seq> seg[2] <seq> seg[3] */
    seg_t seg[4];
    char *owned[4];
    char *buf;

    unsigned long users, count, batch;
    size_t high, low; /* already multiplied by links */
    double wait_s;

    unsigned long sent;
    unsigned long long bytes;
    double t_start, t_end, wall_start;
    int running, draining, failed, stopping;

    ev_idle fill;
    ev_check resume;
    ev_timer deadline; /* links not up in time */
    ev_timer watchdog; /* no progress for wait_s once running */
    unsigned long wd_sent;
    size_t wd_queue;
    double wd_since;
    ev_signal sigint, sigterm;
} blast_t;

/* Decimal digits of v at p; returns the length. */
static size_t put_ulong(char *p, unsigned long v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        p[i] = tmp[n - 1 - i];
    return n;
}

/* a + b + c in a new string (malloc'd), or NULL. */
static char *concat3(const char *a, const char *b, const char *c)
{
    size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
    char *s = malloc(la + lb + lc + 1);
    if (s) {
        memcpy(s, a, la);
        memcpy(s + la, b, lb);
        memcpy(s + la + lb, c, lc + 1);
    }
    return s;
}

/* An Atom entry of the size a feed reader typically publishes (title,
 * ids, dates, author, link, a few sentences of HTML summary). */
static const char atom_tail[] =
    "'><entry xmlns='http://www.w3.org/2005/Atom'>"
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
    "</entry></item></items></event></message>";

static int build_segments(blast_t *b, const char *mode, const char *from,
                          const char *to_domain)
{
    b->owned[0] = concat3("<message from='", from, "' to='u");
    b->owned[1] = concat3("@", to_domain, "' id='b");
    if (!b->owned[0] || !b->owned[1])
        return -1;
    b->seg[0] = (seg_t){b->owned[0], strlen(b->owned[0])};
    b->seg[1] = (seg_t){b->owned[1], strlen(b->owned[1])};
    if (strcmp(mode, "atom") == 0) {
        static const char mid[] =
            "'><event xmlns='http://jabber.org/protocol/pubsub#event'>"
            "<items node='bench'><item id='i";
        b->seg[2] = (seg_t){mid, sizeof(mid) - 1};
        b->seg[3] = (seg_t){atom_tail, sizeof(atom_tail) - 1};
    } else if (strcmp(mode, "short") == 0) {
        /* The second number lands in the body. */
        static const char mid[] = "'><body>m";
        static const char tail[] = "</body></message>";
        b->seg[2] = (seg_t){mid, sizeof(mid) - 1};
        b->seg[3] = (seg_t){tail, sizeof(tail) - 1};
    } else {
        return -1;
    }
    size_t fixed = 0;
    for (int i = 0; i < 4; i++)
        fixed += b->seg[i].len;
    return fixed + 3 * 20 < MSG_MAX ? 0 : -1;
}

static size_t put_message(blast_t *b, char *p, unsigned long seq)
{
    char *start = p;
    memcpy(p, b->seg[0].data, b->seg[0].len), p += b->seg[0].len;
    p += put_ulong(p, seq % b->users + 1);
    memcpy(p, b->seg[1].data, b->seg[1].len), p += b->seg[1].len;
    p += put_ulong(p, seq);
    memcpy(p, b->seg[2].data, b->seg[2].len), p += b->seg[2].len;
    p += put_ulong(p, seq);
    memcpy(p, b->seg[3].data, b->seg[3].len), p += b->seg[3].len;
    return (size_t)(p - start);
}

static void blast_stopped(component_t *comp, void *ud)
{
    (void)ud;
    ev_break(component_loop(comp), EVBREAK_ALL);
}

static void blast_finish(blast_t *b, int failed)
{
    if (b->stopping)
        return;
    b->stopping = 1;
    b->failed |= failed;
    ev_idle_stop(b->loop, &b->fill);
    ev_check_stop(b->loop, &b->resume);
    ev_timer_stop(b->loop, &b->deadline);
    ev_timer_stop(b->loop, &b->watchdog);
    if (!b->t_end)
        b->t_end = now_mono();
    double secs = b->t_start ? b->t_end - b->t_start : 0;
    double cpu = cpu_seconds();
    printf("blast: sent=%lu seconds=%.3f msgs_s=%.0f bytes=%llu avg_bytes=%.0f "
           "links=%d start=%.6f cpu_s=%.3f cpu_us_per_msg=%.2f\n",
           b->sent, secs, secs > 0 ? b->sent / secs : 0., b->bytes,
           b->sent ? (double)b->bytes / b->sent : 0., b->links, b->wall_start,
           cpu, b->sent ? cpu * 1e6 / b->sent : 0.);
    fflush(stdout);
    /* The stream close queues behind the data, so the server reads every
     * message before it sees </stream:stream>. */
    component_stop(b->comp, blast_stopped, b);
}

/* Production is driven by two watchers. `fill` (ev_idle) produces batches
 * while the queue is below the high-water mark; an active idle watcher
 * keeps the loop from blocking, which matters because the link's prepare
 * watcher may hand the whole queue to the kernel and then nothing else
 * would wake the loop: whether to pause is therefore decided one turn
 * after producing. Above the high-water mark `fill` stops and `resume`
 * (ev_check, run after every wakeup, e.g. the socket turning writable)
 * restarts it once the queue is back below the low-water mark. */
static int blast_links_ok(blast_t *b)
{
    if (component_links_up(b->comp) >= b->links)
        return 1;
    fprintf(stderr, "blast: a link went down after %lu messages\n", b->sent);
    blast_finish(b, 1);
    return 0;
}

static void blast_fill_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
    (void)revents;
    blast_t *b = w->data;
    if (!blast_links_ok(b))
        return;
    size_t q = component_send_queue_len(b->comp);
    if (b->sent >= b->count) {
        /* Everything produced: done once libstrophe's queue is empty
         * (the head item may still be partly unwritten; the stream
         * close queues behind it, so nothing is lost). */
        if (q == 0) {
            b->t_end = now_mono();
            blast_finish(b, 0);
        } else {
            ev_idle_stop(loop, w);
        }
        return;
    }
    if (q >= b->high) {
        /* The queue is not empty, so the link watches for writability and
         * `resume` runs when it wakes. */
        ev_idle_stop(loop, w);
        return;
    }
    while (q < b->high && b->sent < b->count) {
        size_t len = 0;
        unsigned long n = b->count - b->sent;
        if (n > b->batch)
            n = b->batch;
        for (unsigned long i = 0; i < n; i++)
            len += put_message(b, b->buf + len, b->sent + i);
        component_send_raw(b->comp, b->buf, len);
        b->sent += n;
        b->bytes += len;
        q++;
    }
    /* Stays active: the mark is judged next turn, after the link's
     * prepare watcher has written what the kernel takes. */
}

static void blast_resume_cb(struct ev_loop *loop, ev_check *w, int revents)
{
    (void)revents;
    blast_t *b = w->data;
    if (ev_is_active(&b->fill) || !blast_links_ok(b))
        return;
    size_t q = component_send_queue_len(b->comp);
    if (b->sent < b->count ? q <= b->low : q == 0)
        ev_idle_start(loop, &b->fill);
}

static void blast_start(blast_t *b)
{
    b->running = 1;
    b->t_start = now_mono();
    b->wall_start = now_wall();
    /* From here the watchdog guards against a stuck server. */
    ev_timer_stop(b->loop, &b->deadline);
    ev_check_start(b->loop, &b->resume);
    ev_idle_start(b->loop, &b->fill);
    b->wd_since = ev_now(b->loop);
    ev_timer_start(b->loop, &b->watchdog);
}

static void blast_on_link(component_t *comp, int index, int up, void *ud)
{
    (void)index;
    blast_t *b = ud;
    if (up && !b->running && !b->stopping && component_links_up(comp) >= b->links)
        blast_start(b);
}

static void blast_deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop, (void)revents;
    blast_t *b = w->data;
    fprintf(stderr, "blast: only %d of %d links up after %.1f s%s\n",
            component_links_up(b->comp), b->links, b->wait_s,
            b->links > 1 ? " (does the server accept several connections "
                           "for one component domain?)"
                         : "");
    blast_finish(b, 1);
}

/* A server that stops reading must not hang the benchmark: progress is
 * anything sent or written since the last look. */
static void blast_watchdog_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    blast_t *b = w->data;
    size_t q = component_send_queue_len(b->comp);
    if (b->sent != b->wd_sent || q != b->wd_queue) {
        b->wd_sent = b->sent;
        b->wd_queue = q;
        b->wd_since = ev_now(loop);
    } else if (ev_now(loop) - b->wd_since >= b->wait_s) {
        fprintf(stderr, "blast: no progress for %.1f s (%lu sent, %zu queued)\n",
                b->wait_s, b->sent, q);
        blast_finish(b, 1);
    }
}

static void blast_on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void)loop, (void)revents;
    blast_finish(w->data, 1);
}

static void usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s --port P --secret S [--host 127.0.0.1] [--domain D]\n"
            "       [--to-domain D] [--users N] [--count M] [--mode atom|short]\n"
            "       [--batch B] [--high H] [--low L] [--links K] [--wait SEC]\n"
            "       [--log LEVEL]\n",
            argv0);
}

int main(int argc, char **argv)
{
    static blast_t b;
    component_options_t o = {
        .host = "127.0.0.1", .domain = "pubsub.localhost", .links = 1,
        .backoff_min_ms = 200, .backoff_max_ms = 2000,
        .software_name = "Herald bench blast", .software_version = "0.1",
        .identity_category = "component", .identity_type = "generic",
        .identity_name = "Bench blast",
    };
    const char *to_domain = "sink.localhost", *mode = "atom";
    unsigned long high = 64, low = 16;
    b.users = 1000;
    b.count = 100000;
    b.wait_s = 30;
    hlog_set_level(HLOG_WARN);

    static const struct option longopts[] = {
        {"host", required_argument, 0, 'h'},      {"port", required_argument, 0, 'p'},
        {"domain", required_argument, 0, 'd'},    {"secret", required_argument, 0, 's'},
        {"to-domain", required_argument, 0, 'T'}, {"users", required_argument, 0, 'n'},
        {"count", required_argument, 0, 'c'},     {"mode", required_argument, 0, 'm'},
        {"batch", required_argument, 0, 'b'},     {"high", required_argument, 0, 'H'},
        {"low", required_argument, 0, 'L'},       {"links", required_argument, 0, 'k'},
        {"wait", required_argument, 0, 'w'},      {"log", required_argument, 0, 'l'},
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
        case 'T': to_domain = optarg; break;
        case 'n': b.users = strtoul(optarg, NULL, 10); break;
        case 'c': b.count = strtoul(optarg, NULL, 10); break;
        case 'm': mode = optarg; break;
        case 'b': b.batch = strtoul(optarg, NULL, 10); break;
        case 'H': high = strtoul(optarg, NULL, 10); break;
        case 'L': low = strtoul(optarg, NULL, 10); break;
        case 'k': o.links = atoi(optarg); break;
        case 'w': b.wait_s = atof(optarg); break;
        case 'l':
            if (hlog_parse_level(optarg, &lvl) != 0)
                goto usage;
            hlog_set_level(lvl);
            break;
        default: goto usage;
        }
    }
    if (!b.batch)
        b.batch = strcmp(mode, "short") == 0 ? 256 : 32;
    if (!o.secret || o.port <= 0 || optind != argc || b.users < 1 || b.count < 1 ||
        b.batch > 4096 || high < 1 || low >= high || o.links < 1 || o.links > 64 ||
        b.wait_s <= 0 || strpbrk(to_domain, "'\"<>&") || strpbrk(o.domain, "'\"<>&"))
        goto usage;
    if (build_segments(&b, mode, o.domain, to_domain) != 0) {
        fprintf(stderr, "blast: unknown mode '%s' (atom|short)\n", mode);
        goto usage;
    }
    b.links = o.links;
    b.high = high * (size_t)o.links;
    b.low = low * (size_t)o.links;
    b.buf = malloc(b.batch * MSG_MAX);
    if (!b.buf) {
        fprintf(stderr, "blast: out of memory\n");
        return 1;
    }

    b.loop = EV_DEFAULT;
    b.comp = component_new(b.loop, &o);
    int rc = 1;
    if (!b.comp)
        goto out;
    component_on_link(b.comp, blast_on_link, &b);
    ev_idle_init(&b.fill, blast_fill_cb);
    b.fill.data = &b;
    ev_check_init(&b.resume, blast_resume_cb);
    b.resume.data = &b;
    ev_timer_init(&b.deadline, blast_deadline_cb, b.wait_s, 0.);
    b.deadline.data = &b;
    ev_timer_start(b.loop, &b.deadline);
    ev_timer_init(&b.watchdog, blast_watchdog_cb, 1., 1.);
    b.watchdog.data = &b;
    ev_signal_init(&b.sigint, blast_on_signal, SIGINT);
    ev_signal_init(&b.sigterm, blast_on_signal, SIGTERM);
    b.sigint.data = b.sigterm.data = &b;
    ev_signal_start(b.loop, &b.sigint);
    ev_signal_start(b.loop, &b.sigterm);

    if (component_start(b.comp) == 0) {
        ev_run(b.loop, 0);
        rc = b.failed || b.sent < b.count ? 1 : 0;
    }
    ev_idle_stop(b.loop, &b.fill);
    ev_check_stop(b.loop, &b.resume);
    ev_timer_stop(b.loop, &b.deadline);
    ev_timer_stop(b.loop, &b.watchdog);
    ev_signal_stop(b.loop, &b.sigint);
    ev_signal_stop(b.loop, &b.sigterm);
    component_free(b.comp);
    ev_loop_destroy(b.loop);
out:
    free(b.buf);
    for (int i = 0; i < 4; i++)
        free(b.owned[i]);
    return rc;

usage:
    usage(argv[0]);
    for (int i = 0; i < 4; i++)
        free(b.owned[i]);
    return 2;
}
