/* Memory per tracked contact in presence, and lookup rates.
 *
 *   presence_mem [N]     (default 1000000)
 *
 * Tracks N synthetic contacts (userI@exampleI%1000.org/res) advertising
 * one of 20 caps `ver` values. The 20 vers are first resolved the real
 * way, through disco#info answers fed to the router, so the tracked state
 * is the steady state (no waiters pending). Memory is the growth of the
 * resident set and of malloc's in-use bytes across the N insertions. */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <strophe.h>

#include "component/disco.h"
#include "component/log.h"
#include "component/ns.h"
#include "component/presence.h"
#include "component/router.h"

#define DOMAIN "pubsub.example.org"
#define NODE "https://herald.example/bench"
#define N_VERS 20
#define N_FEATS 12

typedef struct {
    xmpp_stanza_t *iq[N_VERS * 2];
    int n;
} sent_t;

static void bench_send(xmpp_stanza_t *stanza, void *ud)
{
    sent_t *s = ud;
    if (s->n < N_VERS * 2 && !strcmp(xmpp_stanza_get_name(stanza), "iq"))
        s->iq[s->n++] = xmpp_stanza_copy(stanza);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static size_t rss_bytes(void)
{
    long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &size, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

/* In-use heap chunks plus mmap'd blocks (the big index arrays). */
static size_t malloc_bytes(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

static void cpu_model(char *out, size_t len)
{
    snprintf(out, len, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0) {
            char *v = strchr(line, ':');
            if (v) {
                v++;
                while (*v == ' ')
                    v++;
                v[strcspn(v, "\n")] = '\0';
                snprintf(out, len, "%s", v);
            }
            break;
        }
    }
    fclose(f);
}

static void feature_name(char *buf, size_t len, int ver, int k)
{
    /* Half the features are common to every client, half specific. */
    if (k < N_FEATS / 2)
        snprintf(buf, len, "urn:xmpp:common:%d", k);
    else
        snprintf(buf, len, "urn:xmpp:client%d:feature:%d", ver, k);
}

/* Makes the 20 vers known: one presence per ver, answered like a client. */
static int resolve_vers(router_t *router, presence_t *pres, sent_t *sent,
                        char vers[N_VERS][29])
{
    xmpp_ctx_t *ctx = router_ctx(router);
    for (int v = 0; v < N_VERS; v++) {
        char feats[N_FEATS][64], ident[64];
        const char *fp[N_FEATS];
        snprintf(ident, sizeof ident, "client/pc//Bench client %d", v);
        const char *ip[1] = {ident};
        for (int k = 0; k < N_FEATS; k++) {
            feature_name(feats[k], sizeof feats[k], v, k);
            fp[k] = feats[k];
        }
        if (caps_ver_compute(ip, 1, fp, N_FEATS, NULL, 0, vers[v]) != 0)
            return -1;
        char seed[64];
        snprintf(seed, sizeof seed, "seed%d@seed.example/res", v);
        presence_track(pres, DOMAIN, seed, NODE, vers[v], 1);
    }
    if (sent->n != N_VERS) {
        fprintf(stderr, "expected %d disco#info queries, got %d\n", N_VERS,
                sent->n);
        return -1;
    }
    for (int i = 0; i < sent->n; i++) {
        xmpp_stanza_t *q = sent->iq[i];
        const char *to = xmpp_stanza_get_to(q);
        int v = atoi(to + 4);
        xmpp_stanza_t *iq = xmpp_iq_new(ctx, "result", xmpp_stanza_get_id(q));
        xmpp_stanza_set_from(iq, to);
        xmpp_stanza_set_to(iq, xmpp_stanza_get_from(q));
        xmpp_stanza_t *query = xmpp_stanza_new(ctx);
        xmpp_stanza_set_name(query, "query");
        xmpp_stanza_set_ns(query, NS_DISCO_INFO);
        xmpp_stanza_t *id = xmpp_stanza_new(ctx);
        char name[64];
        snprintf(name, sizeof name, "Bench client %d", v);
        xmpp_stanza_set_name(id, "identity");
        xmpp_stanza_set_attribute(id, "category", "client");
        xmpp_stanza_set_attribute(id, "type", "pc");
        xmpp_stanza_set_attribute(id, "name", name);
        xmpp_stanza_add_child_ex(query, id, 0);
        for (int k = 0; k < N_FEATS; k++) {
            char f[64];
            feature_name(f, sizeof f, v, k);
            xmpp_stanza_t *fe = xmpp_stanza_new(ctx);
            xmpp_stanza_set_name(fe, "feature");
            xmpp_stanza_set_attribute(fe, "var", f);
            xmpp_stanza_add_child_ex(query, fe, 0);
        }
        xmpp_stanza_add_child_ex(iq, query, 0);
        router_dispatch(router, iq);
        xmpp_stanza_release(iq);
        xmpp_stanza_release(q);
    }
    sent->n = 0;
    for (int v = 0; v < N_VERS; v++) {
        char seed[64], feat[64];
        snprintf(seed, sizeof seed, "seed%d@seed.example/res", v);
        feature_name(feat, sizeof feat, v, N_FEATS - 1);
        if (presence_has_feature(pres, seed, feat) != 1) {
            fprintf(stderr, "ver %d did not resolve\n", v);
            return -1;
        }
        presence_track(pres, DOMAIN, seed, NULL, NULL, 0);
    }
    return 0;
}

static int full_jid(char *buf, size_t len, size_t i)
{
    return snprintf(buf, len, "user%zu@example%zu.org/res", i, i % 1000);
}

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static size_t rnd(size_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (size_t)(rng % n);
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
    if (n == 0) {
        fprintf(stderr, "usage: %s [N]\n", argv[0]);
        return 2;
    }
    hlog_set_level(HLOG_WARN);
    xmpp_ctx_t *ctx = xmpp_ctx_new(NULL, NULL);
    sent_t sent = {0};
    router_t *router = router_new(ctx, NULL, bench_send, &sent);
    presence_t *pres = presence_new(router, NULL, DOMAIN);
    char vers[N_VERS][29];
    if (!ctx || !router || !pres || resolve_vers(router, pres, &sent, vers)) {
        fprintf(stderr, "set-up failed\n");
        return 1;
    }

    char buf[128];
    size_t str_bytes = 0;
    size_t rss0 = rss_bytes(), mal0 = malloc_bytes();
    double t0 = now();
    for (size_t i = 0; i < n; i++) {
        str_bytes += (size_t)full_jid(buf, sizeof buf, i);
        presence_track(pres, DOMAIN, buf, NODE, vers[i % N_VERS], 1);
    }
    double t_track = now() - t0;
    size_t rss1 = rss_bytes(), mal1 = malloc_bytes();
    int ok = presence_count(pres) == n && sent.n == 0;

    /* Lookups on keys prepared outside the timed loop. */
    size_t m = n < (1u << 20) ? n : (1u << 20);
    char (*keys)[48] = malloc(m * sizeof *keys);
    size_t *idx = malloc(m * sizeof *idx);
    if (!keys || !idx)
        return 1;
    for (size_t k = 0; k < m; k++) {
        idx[k] = rnd(n);
        full_jid(keys[k], sizeof keys[k], idx[k]);
    }
    char feat[64];
    size_t hits = 0;
    t0 = now();
    for (size_t k = 0; k < m; k++)
        hits += (size_t)presence_is_online(pres, keys[k]);
    double t_online = now() - t0;
    t0 = now();
    for (size_t k = 0; k < m; k++) {
        feature_name(feat, sizeof feat, (int)(idx[k] % N_VERS), N_FEATS - 1);
        hits += (size_t)(presence_has_feature(pres, keys[k], feat) == 1);
    }
    double t_feat = now() - t0;
    ok = ok && hits == 2 * m;
    free(keys);
    free(idx);

    t0 = now();
    for (size_t i = 0; i < n; i++) {
        full_jid(buf, sizeof buf, i);
        presence_track(pres, DOMAIN, buf, NULL, NULL, 0);
    }
    double t_untrack = now() - t0;
    ok = ok && presence_count(pres) == 0;

    struct utsname u;
    char model[256];
    uname(&u);
    cpu_model(model, sizeof model);
    double per_rss = rss1 > rss0 ? (double)(rss1 - rss0) / (double)n : 0;
    double per_mal = mal1 > mal0 ? (double)(mal1 - mal0) / (double)n : 0;
    double per_str = (double)str_bytes / (double)n;
    printf("presence: %zu contacts, %.1f bytes/contact (RSS), machine: %s, "
           "%ld cpus, %s\n",
           n, per_rss, u.machine, sysconf(_SC_NPROCESSORS_ONLN), model);
    if (per_mal > 0)
        printf("presence: %.1f bytes/contact malloc'd, of which %.1f are the "
               "full JID's characters; %d caps vers shared\n",
               per_mal, per_str, N_VERS);
    else /* sanitizers replace malloc: mallinfo2 sees nothing */
        printf("presence: malloc'd bytes n/a; full JIDs average %.1f "
               "characters; %d caps vers shared\n",
               per_str, N_VERS);
    printf("presence: track %.0f/s, is_online %.0f/s, has_feature %.0f/s, "
           "untrack %.0f/s\n",
           n / t_track, m / t_online, m / t_feat, n / t_untrack);

    presence_free(pres);
    router_free(router);
    xmpp_ctx_free(ctx);
    if (!ok) {
        fprintf(stderr, "presence_mem: inconsistent results\n");
        return 1;
    }
    return 0;
}
