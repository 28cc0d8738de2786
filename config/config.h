/* Herald's configuration: a YAML file (libyaml) checked against one
 * declarative table of keys (name, type, bounds, default, validator).
 * Every error names the file, the line and the key:
 *     herald.yaml:12: storage.pool_size: must be an integer in 1..64
 */
#ifndef HERALD_CONFIG_H
#define HERALD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "component/log.h"

typedef struct {
    struct {
        char *host;               /* server.host, default 127.0.0.1 */
        int port;                 /* server.port, default 5347 */
        char *domain;             /* server.domain, required */
        char *secret;             /* server.secret, or read from server.secret_file */
        char *secret_file;        /* server.secret_file (path as given) */
        int links;                /* server.links, default 1, 1..32 */
        unsigned reconnect_min_ms; /* server.reconnect_min_ms, default 500 */
        unsigned reconnect_max_ms; /* server.reconnect_max_ms, default 30000 */
        unsigned ping_interval_ms; /* server.ping_interval_ms, default 30000 */
        unsigned ping_timeout_ms;  /* server.ping_timeout_ms, default 10000 */
        size_t max_stanza_size;    /* server.max_stanza_size, default 524288 */
    } server;
    struct {
        char *postgres;            /* storage.postgres conninfo, required */
        int pool_size;             /* storage.pool_size, default 2, 1..64 */
        unsigned statement_timeout_ms; /* storage.statement_timeout_ms, default 5000 */
        unsigned connect_timeout_ms;   /* storage.connect_timeout_ms, default 5000 */
        /* (storage/ extension: keys for the config table; 0 = the store's
         * default, so they work before the table has them) */
        unsigned reconnect_min_ms;     /* storage.reconnect_min_ms, default 200, 10..60000 */
        unsigned reconnect_max_ms;     /* storage.reconnect_max_ms, default 10000, 100..600000 */
        unsigned queue_max;            /* storage.queue_max, default 65536, 1..10000000 */
        unsigned queue_timeout_ms;     /* storage.queue_timeout_ms, default 10000, 100..600000 */
        unsigned batch_max;            /* storage.batch_max, default 1024, 1..65536 */
    } storage;
    struct {
        /* Defaults of a new node's configuration (XEP-0060 §8.3). */
        unsigned default_max_items;     /* pubsub.default_max_items, default 256, 1..max_items_limit */
        unsigned max_items_limit;       /* pubsub.max_items_limit, default 10000: the most a node may keep; "max" means this */
        size_t default_max_payload_size; /* pubsub.default_max_payload_size, default 65536 */
        size_t max_payload_size_limit;  /* pubsub.max_payload_size_limit, default 262144, <= server.max_stanza_size */
        char *default_access_model;     /* pubsub.default_access_model, open|whitelist, default open */
        char *default_publish_model;    /* pubsub.default_publish_model, publishers|open, default publishers */
        char *default_send_last_published_item; /* pubsub.default_send_last_published_item, never|on_sub, default on_sub */
        bool default_persist_items;     /* pubsub.default_persist_items, default true */
        bool default_deliver_payloads;  /* pubsub.default_deliver_payloads, default true */
        bool default_notify_retract;    /* pubsub.default_notify_retract, default true */
        bool default_notify_delete;     /* pubsub.default_notify_delete, default true */
        /* Service policy and limits. */
        bool autocreate_on_publish;     /* pubsub.autocreate_on_publish, default true (XEP-0060 §7.1.4) */
        unsigned max_nodes_per_owner;   /* pubsub.max_nodes_per_owner, default 1000, 1..10000000 */
        unsigned rate_per_jid;          /* pubsub.rate_per_jid: requests/s per bare JID, default 100, 0 = unlimited */
        unsigned rate_burst;            /* pubsub.rate_burst: token bucket depth, default 200, 1..1000000 */
        /* Fan-out engine. */
        unsigned fanout_slice;          /* pubsub.fanout_slice: recipients per loop turn, default 1000, 1..100000 */
        unsigned send_queue_high;       /* pubsub.send_queue_high: pause fan-out above (queued stanzas), default 4096 */
        unsigned send_queue_low;        /* pubsub.send_queue_low: resume below, default 1024, < send_queue_high */
    } pubsub;
    struct {
        unsigned max_resources_per_contact; /* presence.max_resources_per_contact, default 256, 1..65535 */
        unsigned caps_cache_max;        /* presence.caps_cache_max, default 4096, 16..10000000 */
        unsigned caps_query_timeout_ms; /* presence.caps_query_timeout_ms, default 30000, 100..600000 */
    } presence;
    struct {
        hlog_level_t level;        /* log.level, default info */
        bool xmpp_debug;           /* log.xmpp_debug: libstrophe's own log, default false */
    } log;
} herald_config_t;

/* Parses and validates `path`. On success returns 0 and *out (free with
 * config_free). On failure returns -1 and writes one line into err:
 * "FILE:LINE: KEY: MESSAGE" (LINE 1-based; for a missing required key,
 * the line of its parent section, or 1). */
/* (config/ extension) LINE is 0 when the file itself cannot be read; errors
 * that belong to no key name a placeholder: "(file)", "(yaml)" for syntax
 * errors, "(document)" for a document that is not a mapping of sections.
 * A relative server.secret_file is read relative to the directory of
 * `path`. *out is set to NULL on failure. */
int config_load(const char *path, herald_config_t **out, char *err, size_t errlen);
/* Frees cfg and every string it owns (secrets are wiped first). NULL is ok. */
void config_free(herald_config_t *cfg);

/* (config/ extension) Same as config_load on text[0..len) (need not be
 * NUL-terminated); `name` stands for the file name in messages, and a
 * relative server.secret_file is read relative to the working directory.
 * Meant for tests and fuzzing. */
int config_load_string(const char *name, const char *text, size_t len,
                       herald_config_t **out, char *err, size_t errlen);

/* (config/ extension) For SIGHUP: the name of the first key whose value
 * differs between the two configs and that cannot change without a restart
 * (every key except log.level), or NULL if `fresh` can be applied live.
 * Returns a static string. */
const char *config_restart_needed(const herald_config_t *running,
                                  const herald_config_t *fresh);

#endif
