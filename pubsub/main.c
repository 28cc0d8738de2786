/* herald: the PubSub/PEP component.
 *
 *     herald --config FILE [--check] [--migrate] [--version] [--help]
 *
 * Exit status: 0 on a clean stop (SIGTERM/SIGINT) or a valid --check,
 * 1 on a run-time failure, 2 on a usage or configuration error. */
#include <ev.h>
#include <getopt.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "component/component.h"
#include "component/log.h"
#include "config/config.h"
#include "pubsub/service.h"
#include "storage/store.h"

#define SUBJ "herald"

#ifndef HERALD_VERSION
#define HERALD_VERSION "0.1.0"
#endif

typedef struct {
    const char *config_path;
    herald_config_t *cfg; /* the running configuration */
    component_t *comp;
    store_t *store;
    ps_service_t *svc;
    int stopping;
} app_t;

static app_t app;

/* glibc gives memory freed at the top of the heap back to the OS as soon
 * as more than M_TRIM_THRESHOLD of it is free there; the threshold adapts
 * to the largest freed block, so after a big node is released or a large
 * array is reallocated, the next free() next to the top can return tens
 * of MB to the OS in one call, on the loop thread. Measured over the
 * model's life cycle of three 1M-subscriber nodes: the worst single
 * free() cost 7-16 ms of CPU with glibc's defaults, ~1 ms with a fixed
 * 64 MiB threshold (blocks of 128 KiB and more are then mmapped and
 * released one block at a time). The price is up to 64 MiB of freed
 * memory kept mapped for reuse. */
static void tune_malloc(void)
{
#ifdef __GLIBC__
    if (mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024) != 1)
        hlog_debug(SUBJ, "mallopt(M_TRIM_THRESHOLD) refused (another allocator?)");
#endif
}

static void usage(FILE *out, const char *prog)
{
    fprintf(out,
            "usage: %s --config FILE [--check] [--migrate]\n"
            "       %s --version | --help\n"
            "  --config FILE  YAML configuration (see config/herald.example.yaml)\n"
            "  --check        validate FILE, print \"FILE: OK\" and exit\n"
            "  --migrate      apply pending database migrations and exit\n"
            "  --version      print the version and exit\n"
            "Signals: TERM/INT stop cleanly, HUP re-reads log.level.\n",
            prog, prog);
}

static void on_stopped(component_t *comp, void *ud)
{
    (void)ud;
    ev_break(component_loop(comp), EVBREAK_ALL);
}

/* Pubsub first refuses new requests and lets fan-out drain (bounded), then
 * the streams are closed. */
static void on_drained(ps_service_t *svc, void *ud)
{
    (void)svc;
    (void)ud;
    component_stop(app.comp, on_stopped, NULL);
}

static void on_stop_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void)loop;
    (void)revents;
    if (app.stopping) /* stopping is bounded; a second signal adds nothing */
        return;
    app.stopping = 1;
    hlog_info(SUBJ, "%s received: stopping",
              w->signum == SIGINT ? "SIGINT" : "SIGTERM");
    ps_service_shutdown(app.svc, 1000, on_drained, NULL);
}

static void on_hup(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void)loop;
    (void)w;
    (void)revents;
    herald_config_t *fresh = NULL;
    char err[1024];
    if (config_load(app.config_path, &fresh, err, sizeof(err)) != 0) {
        hlog_error(SUBJ, "reload failed, keeping the running configuration: %s",
                   err);
        return;
    }
    hlog_set_level(fresh->log.level);
    hlog_info(SUBJ, "reload: log.level is %s (other keys need a restart)",
              hlog_level_name(fresh->log.level));
    const char *key = config_restart_needed(app.cfg, fresh);
    if (key)
        hlog_warn(SUBJ, "reload: %s (and maybe more) changed: not applied, needs a restart",
                  key);
    app.cfg->log.level = fresh->log.level;
    config_free(fresh);
}

/* Presence subscriptions are remembered so that a later session (and
 * PEP) knows who asked for our presence; the answer to the contact does
 * not wait for the write. */
static void on_presence_written(void *ctx, store_err_t err, int64_t value)
{
    (void)value;
    if (err != STORE_OK)
        hlog_warn(SUBJ, "presence subscription of %s not stored: %s", (const char *)ctx,
                  store_strerror(err));
    free(ctx);
}

static void presence_subscribed(void *ud, const char *local_jid, const char *contact)
{
    store_presence_add(ud, local_jid, contact, on_presence_written, strdup(contact));
}

static void presence_unsubscribed(void *ud, const char *local_jid, const char *contact)
{
    store_presence_remove(ud, local_jid, contact, on_presence_written, strdup(contact));
}

static store_t *open_store(struct ev_loop *loop, const herald_config_t *cfg)
{
    store_opts_t so = {
        .conninfo = cfg->storage.postgres,
        .pool_size = cfg->storage.pool_size,
        .statement_timeout_ms = cfg->storage.statement_timeout_ms,
        .connect_timeout_ms = cfg->storage.connect_timeout_ms,
        .reconnect_min_ms = cfg->storage.reconnect_min_ms,
        .reconnect_max_ms = cfg->storage.reconnect_max_ms,
        .queue_max = cfg->storage.queue_max,
        .queue_timeout_ms = cfg->storage.queue_timeout_ms,
        .batch_max = cfg->storage.batch_max,
    };
    char err[1024];
    store_t *st = store_open(loop, &so, err, sizeof(err));
    if (!st)
        hlog_error(SUBJ, "storage: %s", err);
    return st;
}

static int run(const herald_config_t *cfg)
{
    struct ev_loop *loop = EV_DEFAULT;
    component_options_t opts = {
        .host = cfg->server.host,
        .port = cfg->server.port,
        .domain = cfg->server.domain,
        .secret = cfg->server.secret,
        .links = cfg->server.links,
        .backoff_min_ms = cfg->server.reconnect_min_ms,
        .backoff_max_ms = cfg->server.reconnect_max_ms,
        .ping_interval_ms = cfg->server.ping_interval_ms,
        .ping_timeout_ms = cfg->server.ping_timeout_ms,
        .software_name = "Herald",
        .software_version = HERALD_VERSION,
        .identity_category = "pubsub",
        .identity_type = "service",
        .identity_name = "Herald publish-subscribe",
        /* libstrophe's default logger filters before formatting. */
        .xmpp_log = cfg->log.xmpp_debug ? xmpp_get_default_logger(XMPP_LEVEL_DEBUG)
                                        : NULL,
    };
    app.comp = component_new(loop, &opts);
    if (!app.comp)
        return 1;
    presence_limits_t limits = {
        .max_entries_per_contact = cfg->presence.max_resources_per_contact,
        .caps_cache_max = cfg->presence.caps_cache_max,
        .caps_timeout_ms = cfg->presence.caps_query_timeout_ms,
    };
    presence_set_limits(component_presence(app.comp), &limits);

    app.store = open_store(loop, cfg);
    char err[512];
    if (app.store)
        app.svc = ps_service_new(app.comp, app.store, cfg, err, sizeof(err));
    if (!app.svc) {
        if (app.store)
            hlog_error(SUBJ, "pubsub: %s", err);
        store_free(app.store);
        component_free(app.comp);
        return 1;
    }
    presence_store_t pstore = {presence_subscribed, presence_unsubscribed, app.store};
    presence_set_store(component_presence(app.comp), &pstore);
    ps_service_start(app.svc);

    ev_signal sigterm, sigint, sighup;
    ev_signal_init(&sigterm, on_stop_signal, SIGTERM);
    ev_signal_init(&sigint, on_stop_signal, SIGINT);
    ev_signal_init(&sighup, on_hup, SIGHUP);
    ev_signal_start(loop, &sigterm);
    ev_signal_start(loop, &sigint);
    ev_signal_start(loop, &sighup);

    hlog_info(SUBJ, "herald %s starting for %s", HERALD_VERSION,
              cfg->server.domain);
    int rc = component_start(app.comp) == 0 ? 0 : 1;
    if (rc == 0)
        ev_run(loop, 0);

    ev_signal_stop(loop, &sigterm);
    ev_signal_stop(loop, &sigint);
    ev_signal_stop(loop, &sighup);
    /* Order matters: the store's last callbacks still reach the service,
     * which still sends through the component. */
    store_free(app.store);
    ps_service_free(app.svc);
    component_free(app.comp);
    app.store = NULL;
    app.svc = NULL;
    app.comp = NULL;
    if (rc == 0)
        hlog_info(SUBJ, "exiting");
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"check", no_argument, NULL, 'k'},
        {"migrate", no_argument, NULL, 'm'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    tune_malloc();
    int check = 0, migrate = 0, opt;
    while ((opt = getopt_long(argc, argv, "c:hV", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            app.config_path = optarg;
            break;
        case 'k':
            check = 1;
            break;
        case 'm':
            migrate = 1;
            break;
        case 'V':
            printf("herald %s (built with libstrophe %d.%d)\n", HERALD_VERSION,
                   LIBXMPP_VERSION_MAJOR, LIBXMPP_VERSION_MINOR);
            return 0;
        case 'h':
            usage(stdout, argv[0]);
            return 0;
        default:
            usage(stderr, argv[0]);
            return 2;
        }
    }
    if (optind != argc || !app.config_path) {
        if (optind != argc)
            fprintf(stderr, "%s: unexpected argument '%s'\n", argv[0], argv[optind]);
        else
            fprintf(stderr, "%s: --config FILE is required\n", argv[0]);
        usage(stderr, argv[0]);
        return 2;
    }

    char err[1024];
    if (config_load(app.config_path, &app.cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    hlog_set_level(app.cfg->log.level);

    int rc;
    if (check) {
        printf("%s: OK\n", app.config_path);
        rc = 0;
    } else {
        /* Migrations are the one blocking database step, done before the
         * loop runs; a database we cannot reach or that is newer than
         * this binary stops us here with one line. */
        int version = 0;
        if (store_migrate_sync(app.cfg->storage.postgres, NULL,
                               app.cfg->storage.connect_timeout_ms, &version, err,
                               sizeof(err)) != 0) {
            fprintf(stderr, "%s: %s\n", argv[0], err);
            rc = 1;
        } else if (migrate) {
            printf("schema version %d\n", version);
            rc = 0;
        } else {
            rc = run(app.cfg);
        }
    }
    config_free(app.cfg);
    ev_loop_destroy(EV_DEFAULT);
    return rc;
}
