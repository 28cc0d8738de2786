/* Fuzz target: config_load_string() on arbitrary bytes.
 *
 * Checked, abort() on violation:
 *   - it returns 0 with a config and no error text, or -1 with no config
 *     and exactly one line "NAME:LINE: KEY: MESSAGE" (LINE 1-based and
 *     within the text, KEY and MESSAGE non-empty, no control characters);
 *   - a config it accepts keeps the rules config.h documents (required
 *     keys set, bounds, orders between keys, enumerated values) and needs
 *     no restart against itself;
 *   - the same text gives the same answer again, also with an error buffer
 *     of a few bytes (exactly sized, so ASan sees any overrun) or none.
 * HERALD_FUZZ_VERBOSE=1 prints each answer. */
#define _GNU_SOURCE /* memmem */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"

#define NAME "fuzz.yaml"
#define ERRLEN 512
#define SMALL_ERRLEN 13

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "fuzz_config: invariant violated: " __VA_ARGS__);                          \
        fputc('\n', stderr);                                                                       \
        abort();                                                                                   \
    } while (0)

/* Upper bound on the lines libyaml can count in the text: it breaks lines
 * at LF, CR, NEL and LS/PS (in UTF-8 or UTF-16), so count every byte that
 * can be part of one. */
static unsigned max_line(const uint8_t *data, size_t size)
{
    unsigned n = 1;
    for (size_t i = 0; i < size; i++)
        n += data[i] == '\n' || data[i] == '\r' || data[i] == 0x85 || data[i] == 0x28 ||
             data[i] == 0x29;
    return n + 1;
}

static void check_error_line(const char *err, const uint8_t *data, size_t size)
{
    size_t nlen = strlen(NAME);
    if (strlen(err) >= ERRLEN - 1)
        FAIL("error text fills the buffer (truncated?): %s", err);
    for (const unsigned char *p = (const unsigned char *)err; *p; p++)
        if (*p < ' ' || *p == 0x7f)
            FAIL("control character 0x%02x in error text: %s", *p, err);
    if (strncmp(err, NAME ":", nlen + 1) != 0)
        FAIL("error text does not start with the name: %s", err);
    const char *p = err + nlen + 1;
    char *end;
    if (*p < '0' || *p > '9')
        FAIL("error text has no line number: %s", err);
    unsigned long line = strtoul(p, &end, 10);
    if (line < 1 || line > max_line(data, size))
        FAIL("line %lu out of 1..%u: %s", line, max_line(data, size), err);
    if (strncmp(end, ": ", 2) != 0)
        FAIL("no ': ' after the line number: %s", err);
    /* The key comes from the file and may itself hold ": ": it only has
     * to be non-empty. */
    const char *key = end + 2;
    const char *sep = *key ? strstr(key + 1, ": ") : NULL;
    if (!sep)
        FAIL("empty key, or no ': ' after it: %s", err);
    if (!sep[2])
        FAIL("empty message: %s", err);
}

static int nonempty(const char *s)
{
    return s && *s;
}

static const char *str_or(const char *s)
{
    return s ? s : "(null)";
}

static int one_of(const char *s, const char *a, const char *b)
{
    return s && (strcmp(s, a) == 0 || strcmp(s, b) == 0);
}

static void check_config(const herald_config_t *c)
{
    if (!nonempty(c->server.host) || !nonempty(c->server.domain) || !nonempty(c->server.secret) ||
        !nonempty(c->storage.postgres))
        FAIL("accepted config lacks host, domain, secret or postgres");
    if (c->server.port < 1 || c->server.port > 65535)
        FAIL("accepted server.port %d", c->server.port);
    if (c->server.links < 1 || c->server.links > 32)
        FAIL("accepted server.links %d", c->server.links);
    if (c->storage.pool_size < 1 || c->storage.pool_size > 64)
        FAIL("accepted storage.pool_size %d", c->storage.pool_size);
    if (c->server.reconnect_min_ms > c->server.reconnect_max_ms)
        FAIL("accepted reconnect_min_ms %u > reconnect_max_ms %u", c->server.reconnect_min_ms,
             c->server.reconnect_max_ms);
    if (c->server.ping_timeout_ms >= c->server.ping_interval_ms)
        FAIL("accepted ping_timeout_ms %u >= ping_interval_ms %u", c->server.ping_timeout_ms,
             c->server.ping_interval_ms);
    if (c->storage.reconnect_min_ms > c->storage.reconnect_max_ms)
        FAIL("accepted storage.reconnect_min_ms %u > reconnect_max_ms %u",
             c->storage.reconnect_min_ms, c->storage.reconnect_max_ms);
    if (c->pubsub.default_max_items > c->pubsub.max_items_limit)
        FAIL("accepted pubsub.default_max_items %u > max_items_limit %u",
             c->pubsub.default_max_items, c->pubsub.max_items_limit);
    if (c->pubsub.default_max_payload_size > c->pubsub.max_payload_size_limit ||
        c->pubsub.max_payload_size_limit > c->server.max_stanza_size)
        FAIL("accepted payload sizes %zu > %zu or > max_stanza_size %zu",
             c->pubsub.default_max_payload_size, c->pubsub.max_payload_size_limit,
             c->server.max_stanza_size);
    if (c->pubsub.send_queue_low >= c->pubsub.send_queue_high)
        FAIL("accepted pubsub.send_queue_low %u >= send_queue_high %u", c->pubsub.send_queue_low,
             c->pubsub.send_queue_high);
    if (!one_of(c->pubsub.default_access_model, "open", "whitelist") ||
        !one_of(c->pubsub.default_publish_model, "publishers", "open") ||
        !one_of(c->pubsub.default_send_last_published_item, "never", "on_sub"))
        FAIL("accepted pubsub defaults '%s', '%s', '%s'", str_or(c->pubsub.default_access_model),
             str_or(c->pubsub.default_publish_model),
             str_or(c->pubsub.default_send_last_published_item));
    if (c->log.level < HLOG_ERROR || c->log.level > HLOG_DEBUG)
        FAIL("accepted log.level %d", (int)c->log.level);
    if (strpbrk(c->server.domain, "@/ \t\r\n"))
        FAIL("accepted server.domain '%s'", c->server.domain);
    if (config_restart_needed(c, c) != NULL)
        FAIL("config needs a restart against itself (%s)", config_restart_needed(c, c));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* server.secret_file is read at load time: keep the fuzzer away from
     * device and kernel files, whose reads can block or never end. */
    if (memmem(data, size, "/dev", 4) || memmem(data, size, "/proc", 5) ||
        memmem(data, size, "/sys", 4))
        return 0;
    const char *text = (const char *)data;

    char err[ERRLEN];
    herald_config_t *cfg = (herald_config_t *)1;
    int rc = config_load_string(NAME, text, size, &cfg, err, sizeof(err));
    if (getenv("HERALD_FUZZ_VERBOSE"))
        fprintf(stderr, "config_load_string: %d %s\n", rc, rc ? err : "(ok)");
    if (rc == 0) {
        if (!cfg)
            FAIL("returned 0 without a config");
        if (err[0])
            FAIL("returned 0 with error text: %s", err);
        check_config(cfg);
        config_free(cfg);
    } else if (rc == -1) {
        if (cfg)
            FAIL("returned -1 and a config");
        check_error_line(err, data, size);
    } else {
        FAIL("returned %d", rc);
    }

    /* Same answer again, through an error buffer too small for it. */
    char *small = malloc(SMALL_ERRLEN);
    if (!small)
        abort();
    herald_config_t *cfg2 = NULL;
    int rc2 = config_load_string(NAME, text, size, &cfg2, small, SMALL_ERRLEN);
    if (rc2 != rc)
        FAIL("returned %d, then %d for the same text", rc, rc2);
    if (rc == -1 && (strlen(small) >= SMALL_ERRLEN || strncmp(small, err, strlen(small)) != 0))
        FAIL("short error buffer got '%s', full one '%s'", small, err);
    config_free(cfg2);
    free(small);

    herald_config_t *cfg3 = NULL;
    if (config_load_string(NAME, text, size, &cfg3, NULL, 0) != rc)
        FAIL("answer differs without an error buffer");
    config_free(cfg3);
    return 0;
}
