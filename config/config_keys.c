/* The one table of configuration keys, and the conversions it drives.
 * Adding a key means one row here, one field in config.h and one commented
 * entry in herald.example.yaml (test_config checks that the example names
 * every key of this table). */
#include "config/config_keys.h"

#include <ctype.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libpq-fe.h>

#include "component/log.h"

#define FIELD(f) offsetof(herald_config_t, f)

static int validate_host(const char *v, char *msg, size_t msglen);
static int validate_domain(const char *v, char *msg, size_t msglen);
static int validate_conninfo(const char *v, char *msg, size_t msglen);
static int validate_access_model(const char *v, char *msg, size_t msglen);
static int validate_publish_model(const char *v, char *msg, size_t msglen);
static int validate_send_last(const char *v, char *msg, size_t msglen);

/* Bounds are the operational envelope, not C type limits: a value outside
 * them is almost certainly a typo (a port of 0, a 10-hour ping timeout). */
const config_key_t config_keys[] = {
    /* name, type, field, min, max, default string, default number, flags, validator */
    {"server.host", CK_STRING, FIELD(server.host), 1, 255, "127.0.0.1", 0, 0, validate_host},
    {"server.port", CK_INT, FIELD(server.port), 1, 65535, NULL, 5347, 0, NULL},
    {"server.domain", CK_STRING, FIELD(server.domain), 1, 1023, NULL, 0, CK_REQUIRED, validate_domain},
    /* Exactly one of secret / secret_file is required: checked in config.c. */
    {"server.secret", CK_STRING, FIELD(server.secret), 1, 4096, NULL, 0, CK_SECRET, NULL},
    {"server.secret_file", CK_PATH, FIELD(server.secret_file), 1, 4095, NULL, 0, 0, NULL},
    {"server.links", CK_INT, FIELD(server.links), 1, 32, NULL, 1, 0, NULL},
    {"server.reconnect_min_ms", CK_MS, FIELD(server.reconnect_min_ms), 10, 600000, NULL, 500, 0, NULL},
    {"server.reconnect_max_ms", CK_MS, FIELD(server.reconnect_max_ms), 10, 3600000, NULL, 30000, 0, NULL},
    {"server.ping_interval_ms", CK_MS, FIELD(server.ping_interval_ms), 1000, 3600000, NULL, 30000, 0, NULL},
    {"server.ping_timeout_ms", CK_MS, FIELD(server.ping_timeout_ms), 100, 3600000, NULL, 10000, 0, NULL},
    {"server.max_stanza_size", CK_SIZE, FIELD(server.max_stanza_size), 1024, 67108864, NULL, 524288, 0, NULL},
    {"storage.postgres", CK_STRING, FIELD(storage.postgres), 1, 8192, NULL, 0, CK_REQUIRED | CK_SECRET, validate_conninfo},
    {"storage.pool_size", CK_INT, FIELD(storage.pool_size), 1, 64, NULL, 2, 0, NULL},
    {"storage.statement_timeout_ms", CK_MS, FIELD(storage.statement_timeout_ms), 100, 3600000, NULL, 5000, 0, NULL},
    {"storage.connect_timeout_ms", CK_MS, FIELD(storage.connect_timeout_ms), 100, 600000, NULL, 5000, 0, NULL},
    /* reconnect_min_ms <= reconnect_max_ms: checked in config.c. */
    {"storage.reconnect_min_ms", CK_MS, FIELD(storage.reconnect_min_ms), 10, 60000, NULL, 200, 0, NULL},
    {"storage.reconnect_max_ms", CK_MS, FIELD(storage.reconnect_max_ms), 100, 600000, NULL, 10000, 0, NULL},
    {"storage.queue_max", CK_UINT, FIELD(storage.queue_max), 1, 10000000, NULL, 65536, 0, NULL},
    {"storage.queue_timeout_ms", CK_MS, FIELD(storage.queue_timeout_ms), 100, 600000, NULL, 10000, 0, NULL},
    {"storage.batch_max", CK_UINT, FIELD(storage.batch_max), 1, 65536, NULL, 1024, 0, NULL},
    /* Enums stay strings (0..255 bytes so that even "" gets the "one of"
     * message). default_max_items <= max_items_limit and
     * default_max_payload_size <= max_payload_size_limit <=
     * server.max_stanza_size: checked, and defaults lowered, in config.c. */
    {"pubsub.default_max_items", CK_UINT, FIELD(pubsub.default_max_items), 1, 10000000, NULL, 256, 0, NULL},
    {"pubsub.max_items_limit", CK_UINT, FIELD(pubsub.max_items_limit), 1, 10000000, NULL, 10000, 0, NULL},
    {"pubsub.default_max_payload_size", CK_SIZE, FIELD(pubsub.default_max_payload_size), 1024, 67108864, NULL, 65536, 0, NULL},
    {"pubsub.max_payload_size_limit", CK_SIZE, FIELD(pubsub.max_payload_size_limit), 1024, 67108864, NULL, 262144, 0, NULL},
    {"pubsub.default_access_model", CK_STRING, FIELD(pubsub.default_access_model), 0, 255, "open", 0, 0, validate_access_model},
    {"pubsub.default_publish_model", CK_STRING, FIELD(pubsub.default_publish_model), 0, 255, "publishers", 0, 0, validate_publish_model},
    {"pubsub.default_send_last_published_item", CK_STRING, FIELD(pubsub.default_send_last_published_item), 0, 255, "on_sub", 0, 0, validate_send_last},
    {"pubsub.default_persist_items", CK_BOOL, FIELD(pubsub.default_persist_items), 0, 0, NULL, 1, 0, NULL},
    {"pubsub.default_deliver_payloads", CK_BOOL, FIELD(pubsub.default_deliver_payloads), 0, 0, NULL, 1, 0, NULL},
    {"pubsub.default_notify_retract", CK_BOOL, FIELD(pubsub.default_notify_retract), 0, 0, NULL, 1, 0, NULL},
    {"pubsub.default_notify_delete", CK_BOOL, FIELD(pubsub.default_notify_delete), 0, 0, NULL, 1, 0, NULL},
    {"pubsub.autocreate_on_publish", CK_BOOL, FIELD(pubsub.autocreate_on_publish), 0, 0, NULL, 1, 0, NULL},
    {"pubsub.max_nodes_per_owner", CK_UINT, FIELD(pubsub.max_nodes_per_owner), 1, 10000000, NULL, 1000, 0, NULL},
    {"pubsub.rate_per_jid", CK_UINT, FIELD(pubsub.rate_per_jid), 0, 1000000, NULL, 100, 0, NULL},
    {"pubsub.rate_burst", CK_UINT, FIELD(pubsub.rate_burst), 1, 1000000, NULL, 200, 0, NULL},
    {"pubsub.fanout_slice", CK_UINT, FIELD(pubsub.fanout_slice), 1, 100000, NULL, 1000, 0, NULL},
    /* send_queue_low < send_queue_high: checked in config.c. */
    {"pubsub.send_queue_high", CK_UINT, FIELD(pubsub.send_queue_high), 1, 1000000, NULL, 4096, 0, NULL},
    {"pubsub.send_queue_low", CK_UINT, FIELD(pubsub.send_queue_low), 0, 1000000, NULL, 1024, 0, NULL},
    {"presence.max_resources_per_contact", CK_UINT, FIELD(presence.max_resources_per_contact), 1, 65535, NULL, 256, 0, NULL},
    {"presence.caps_cache_max", CK_UINT, FIELD(presence.caps_cache_max), 16, 10000000, NULL, 4096, 0, NULL},
    {"presence.caps_query_timeout_ms", CK_MS, FIELD(presence.caps_query_timeout_ms), 100, 600000, NULL, 30000, 0, NULL},
    {"log.level", CK_LOGLEVEL, FIELD(log.level), 0, 0, NULL, HLOG_INFO, CK_RELOAD, NULL},
    {"log.xmpp_debug", CK_BOOL, FIELD(log.xmpp_debug), 0, 0, NULL, 0, 0, NULL},
};

const size_t config_nkeys = sizeof(config_keys) / sizeof(config_keys[0]);

_Static_assert(sizeof(config_keys) / sizeof(config_keys[0]) <= CONFIG_KEYS_MAX,
               "raise CONFIG_KEYS_MAX");

/* ---- validators ---- */

static int validate_host(const char *v, char *msg, size_t msglen)
{
    if (!v)
        return 0;
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if (*p <= ' ' || *p == 0x7f) {
            snprintf(msg, msglen, "must be a host name or IP address without spaces");
            return -1;
        }
    }
    return 0;
}

/* A JID domainpart (RFC 7622 §3.2) as a component can claim it: the
 * separators '@' and '/' would make it a different JID, and empty labels
 * or whitespace can never be routed by the server. Length is checked by
 * the table bounds (1..1023 bytes). */
static int validate_domain(const char *v, char *msg, size_t msglen)
{
    if (!v)
        return 0;
    const char *why = NULL;
    size_t label = 0;
    for (const unsigned char *p = (const unsigned char *)v; *p && !why; p++) {
        if (*p == '@' || *p == '/')
            why = "must not contain '@' or '/'";
        else if (*p <= ' ' || *p == 0x7f)
            why = "must not contain spaces or control characters";
        else if (*p == '.') {
            if (label == 0)
                why = "must not contain empty labels ('..' or a leading '.')";
            label = 0;
        } else
            label++;
    }
    if (!why && label == 0)
        why = "must not end with '.'";
    if (why) {
        snprintf(msg, msglen, "must be a JID domain such as pubsub.example.org: %s", why);
        return -1;
    }
    return 0;
}

/* Parsing the conninfo here lets --check catch a typo in it without
 * touching the network. */
static int validate_conninfo(const char *v, char *msg, size_t msglen)
{
    if (!v)
        return 0;
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(v, &perr);
    if (opts) {
        PQconninfoFree(opts);
        return 0;
    }
    if (perr) {
        size_t n = strlen(perr);
        while (n > 0 && isspace((unsigned char)perr[n - 1]))
            perr[--n] = '\0';
        snprintf(msg, msglen, "must be a libpq connection string: %s", perr);
        PQfreemem(perr);
    } else {
        snprintf(msg, msglen, "must be a libpq connection string (out of memory parsing it)");
    }
    return -1;
}

/* The value must be one of the NULL-terminated `choices`, spelled exactly
 * as XEP-0060 spells them: the pubsub module compares with strcmp. */
static int one_of(const char *v, const char *const *choices, char *msg, size_t msglen)
{
    char list[128];
    size_t n = 0;
    list[0] = '\0';
    for (size_t i = 0; choices[i]; i++) {
        if (v && strcmp(v, choices[i]) == 0)
            return 0;
        if (n < sizeof(list))
            n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s", i ? ", " : "", choices[i]);
    }
    if (!v) {
        snprintf(msg, msglen, "one of %s", list);
        return 1;
    }
    snprintf(msg, msglen, "must be one of %s, got \"%.40s\"", list, v);
    return -1;
}

static int validate_access_model(const char *v, char *msg, size_t msglen)
{
    static const char *const choices[] = {"open", "whitelist", NULL};
    return one_of(v, choices, msg, msglen);
}

static int validate_publish_model(const char *v, char *msg, size_t msglen)
{
    static const char *const choices[] = {"publishers", "open", NULL};
    return one_of(v, choices, msg, msglen);
}

static int validate_send_last(const char *v, char *msg, size_t msglen)
{
    static const char *const choices[] = {"never", "on_sub", NULL};
    return one_of(v, choices, msg, msglen);
}

/* ---- lookups ---- */

int config_key_find(const char *name, size_t name_len)
{
    for (size_t i = 0; i < config_nkeys; i++) {
        if (strlen(config_keys[i].name) == name_len &&
            memcmp(config_keys[i].name, name, name_len) == 0)
            return (int)i;
    }
    return -1;
}

static size_t section_len(const char *key)
{
    const char *dot = strchr(key, '.');
    return dot ? (size_t)(dot - key) : strlen(key);
}

int config_section_find(const char *name, size_t name_len)
{
    for (size_t i = 0; i < config_nkeys; i++) {
        if (section_len(config_keys[i].name) == name_len &&
            memcmp(config_keys[i].name, name, name_len) == 0)
            return (int)i;
    }
    return -1;
}

int config_key_section(size_t ki)
{
    const char *name = config_keys[ki].name;
    return config_section_find(name, section_len(name));
}

/* Levenshtein distance over short strings, capped: names longer than the
 * buffer are never "close" to a table key. */
static size_t edit_distance(const char *a, size_t la, const char *b, size_t lb)
{
    enum { N = 64 };
    if (la >= N || lb >= N)
        return SIZE_MAX;
    size_t row[N];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            if (up + 1 < best)
                best = up + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

const char *config_suggest(const char *name, bool section_only, size_t *len)
{
    const char *best = NULL;
    size_t best_d = 3, nl = strlen(name);
    for (size_t i = 0; i < config_nkeys; i++) {
        const char *cand = config_keys[i].name;
        size_t cl = section_only ? section_len(cand) : strlen(cand);
        size_t d = edit_distance(name, nl, cand, cl);
        if (d < best_d) {
            best_d = d;
            best = cand;
            *len = cl;
        }
    }
    return best;
}

/* ---- conversions ---- */

void config_key_expect(size_t ki, char *buf, size_t buflen)
{
    const config_key_t *k = &config_keys[ki];
    switch (k->type) {
    case CK_STRING:
        if (k->validate && k->validate(NULL, buf, buflen) == 1)
            break;
        snprintf(buf, buflen, "a string of %lld..%lld bytes", k->min, k->max);
        break;
    case CK_PATH:
        snprintf(buf, buflen, "a path of %lld..%lld bytes", k->min, k->max);
        break;
    case CK_INT:
    case CK_UINT:
        snprintf(buf, buflen, "an integer in %lld..%lld", k->min, k->max);
        break;
    case CK_MS:
        snprintf(buf, buflen, "a number of milliseconds in %lld..%lld", k->min, k->max);
        break;
    case CK_SIZE:
        snprintf(buf, buflen, "a size in bytes in %lld..%lld (suffix k, m or g allowed)",
                 k->min, k->max);
        break;
    case CK_BOOL:
        snprintf(buf, buflen, "true or false");
        break;
    case CK_LOGLEVEL:
        snprintf(buf, buflen, "one of error, warn, info, debug");
        break;
    }
}

/* Decimal integer with an optional sign and, for sizes, one binary suffix.
 * Saturates instead of overflowing: the table bounds then reject it. */
static int parse_number(const char *s, bool size_suffix, long long *out)
{
    const char *p = s;
    bool neg = false;
    if (*p == '+' || *p == '-')
        neg = (*p++ == '-');
    if (!isdigit((unsigned char)*p))
        return -1;
    unsigned long long v = 0;
    const unsigned long long cap = (unsigned long long)LLONG_MAX;
    for (; isdigit((unsigned char)*p); p++) {
        unsigned d = (unsigned)(*p - '0');
        v = (v > (cap - d) / 10) ? cap : v * 10 + d;
    }
    if (size_suffix && *p) {
        unsigned shift = 0;
        switch (*p) {
        case 'k': case 'K': shift = 10; break;
        case 'm': case 'M': shift = 20; break;
        case 'g': case 'G': shift = 30; break;
        default: return -1;
        }
        p++;
        v = (v > (cap >> shift)) ? cap : v << shift;
    }
    if (*p)
        return -1;
    *out = neg ? -(long long)v : (long long)v;
    return 0;
}

static int parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on"};
    static const char *const no[] = {"false", "no", "off"};
    for (size_t i = 0; i < 3; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -1;
}

static int parse_level(const char *s, hlog_level_t *out)
{
    char low[16];
    size_t n = strlen(s);
    if (n >= sizeof(low))
        return -1;
    for (size_t i = 0; i <= n; i++)
        low[i] = (char)tolower((unsigned char)s[i]);
    return hlog_parse_level(low, out);
}

long long config_key_num(const herald_config_t *cfg, const config_key_t *k)
{
    const char *f = (const char *)cfg + k->offset;
    switch (k->type) {
    case CK_INT: return *(const int *)f;
    case CK_UINT:
    case CK_MS: return *(const unsigned *)f;
    case CK_SIZE: return (long long)*(const size_t *)f;
    case CK_BOOL: return *(const bool *)f;
    case CK_LOGLEVEL: return *(const hlog_level_t *)f;
    case CK_STRING:
    case CK_PATH: break;
    }
    return 0;
}

void config_key_store_num(herald_config_t *cfg, const config_key_t *k, long long v)
{
    void *f = (char *)cfg + k->offset;
    switch (k->type) {
    case CK_INT: *(int *)f = (int)v; break;
    case CK_UINT:
    case CK_MS: *(unsigned *)f = (unsigned)v; break;
    case CK_SIZE: *(size_t *)f = (size_t)v; break;
    case CK_BOOL: *(bool *)f = v != 0; break;
    case CK_LOGLEVEL: *(hlog_level_t *)f = (hlog_level_t)v; break;
    case CK_STRING:
    case CK_PATH: break;
    }
}

static int store_str(herald_config_t *cfg, const config_key_t *k, const char *v)
{
    char **f = (char **)((char *)cfg + k->offset);
    char *copy = strdup(v);
    if (!copy)
        return -1;
    free(*f);
    *f = copy;
    return 0;
}

int config_key_apply(config_build_t *b, size_t ki, const char *value, unsigned line)
{
    const config_key_t *k = &config_keys[ki];
    char expect[96];
    config_key_expect(ki, expect, sizeof(expect));

    switch (k->type) {
    case CK_STRING:
    case CK_PATH: {
        long long n = (long long)strlen(value);
        if (n < k->min || n > k->max) {
            if (n == 0)
                config_error(b, line, k->name, "must be %s, got an empty string", expect);
            else
                config_error(b, line, k->name, "must be %s, got %lld bytes", expect, n);
            return -1;
        }
        char msg[256];
        if (k->validate && k->validate(value, msg, sizeof(msg)) != 0) {
            config_error(b, line, k->name, "%s", msg);
            return -1;
        }
        if (store_str(b->cfg, k, value) != 0) {
            config_error(b, line, k->name, "out of memory");
            return -1;
        }
        return 0;
    }
    case CK_INT:
    case CK_UINT:
    case CK_MS:
    case CK_SIZE: {
        long long v;
        if (parse_number(value, k->type == CK_SIZE, &v) != 0) {
            config_error(b, line, k->name, "must be %s, got \"%.40s\"", expect, value);
            return -1;
        }
        if (v < k->min || v > k->max) {
            config_error(b, line, k->name, "must be %s, got %.40s", expect, value);
            return -1;
        }
        config_key_store_num(b->cfg, k, v);
        return 0;
    }
    case CK_BOOL: {
        bool v;
        if (parse_bool(value, &v) != 0) {
            config_error(b, line, k->name, "must be %s, got \"%.40s\"", expect, value);
            return -1;
        }
        config_key_store_num(b->cfg, k, v);
        return 0;
    }
    case CK_LOGLEVEL: {
        hlog_level_t v;
        if (parse_level(value, &v) != 0) {
            config_error(b, line, k->name, "must be %s, got \"%.40s\"", expect, value);
            return -1;
        }
        config_key_store_num(b->cfg, k, v);
        return 0;
    }
    }
    return -1;
}

int config_key_set_default(herald_config_t *cfg, size_t ki)
{
    const config_key_t *k = &config_keys[ki];
    if (k->type == CK_STRING || k->type == CK_PATH)
        return k->def_str ? store_str(cfg, k, k->def_str) : 0;
    config_key_store_num(cfg, k, k->def_num);
    return 0;
}
