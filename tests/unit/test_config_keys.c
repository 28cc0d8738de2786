/* config/: the keys added after the first ones (storage reconnect, queue
 * and batch; pubsub defaults and limits; presence limits): their defaults,
 * both ends of their bounds, the error for each bad value, their cross-key
 * rules, and that a change to any of them needs a restart. */
#include "tests/unit/unit.h"
#include "tests/unit/config_fixture.h"

static void test_new_defaults(void)
{
    char err[512] = "";
    herald_config_t *cfg = load(MIN_YAML, err, sizeof(err));
    CHECK(cfg != NULL);
    CHECK_STR(err, "");
    if (!cfg)
        return;
    CHECK(cfg->storage.reconnect_min_ms == 200);
    CHECK(cfg->storage.reconnect_max_ms == 10000);
    CHECK(cfg->storage.queue_max == 65536);
    CHECK(cfg->storage.queue_timeout_ms == 10000);
    CHECK(cfg->storage.batch_max == 1024);
    CHECK(cfg->pubsub.default_max_items == 256);
    CHECK(cfg->pubsub.max_items_limit == 10000);
    CHECK(cfg->pubsub.default_max_payload_size == 65536);
    CHECK(cfg->pubsub.max_payload_size_limit == 262144);
    CHECK_STR(cfg->pubsub.default_access_model, "open");
    CHECK_STR(cfg->pubsub.default_publish_model, "publishers");
    CHECK_STR(cfg->pubsub.default_send_last_published_item, "on_sub");
    CHECK(cfg->pubsub.default_persist_items == true);
    CHECK(cfg->pubsub.default_deliver_payloads == true);
    CHECK(cfg->pubsub.default_notify_retract == true);
    CHECK(cfg->pubsub.default_notify_delete == true);
    CHECK(cfg->pubsub.autocreate_on_publish == true);
    CHECK(cfg->pubsub.max_nodes_per_owner == 1000);
    CHECK(cfg->pubsub.rate_per_jid == 100);
    CHECK(cfg->pubsub.rate_burst == 200);
    CHECK(cfg->pubsub.fanout_slice == 1000);
    CHECK(cfg->pubsub.send_queue_high == 4096);
    CHECK(cfg->pubsub.send_queue_low == 1024);
    CHECK(cfg->presence.max_resources_per_contact == 256);
    CHECK(cfg->presence.caps_cache_max == 4096);
    CHECK(cfg->presence.caps_query_timeout_ms == 30000);
    config_free(cfg);

    /* Empty sections take the defaults too. */
    cfg = load(MIN_YAML "pubsub:\npresence: ~\n", err, sizeof(err));
    CHECK(cfg != NULL);
    if (cfg) {
        CHECK(cfg->pubsub.max_items_limit == 10000);
        CHECK(cfg->presence.caps_cache_max == 4096);
    }
    config_free(cfg);
}

/* Every new key at the low, then the high end of its bounds (and the
 * other enum values), consistent with the cross-key rules. */
static void test_new_bounds_accepted(void)
{
    const char *low =
        MIN_SERVER
        "storage:\n"
        "  postgres: dbname=h\n"
        "  reconnect_min_ms: 10\n"
        "  reconnect_max_ms: 100\n"
        "  queue_max: 1\n"
        "  queue_timeout_ms: 100\n"
        "  batch_max: 1\n"
        "pubsub:\n"
        "  default_max_items: 1\n"
        "  max_items_limit: 1\n"
        "  default_max_payload_size: 1024\n"
        "  max_payload_size_limit: 1k\n"
        "  default_access_model: whitelist\n"
        "  default_publish_model: open\n"
        "  default_send_last_published_item: never\n"
        "  default_persist_items: false\n"
        "  default_deliver_payloads: no\n"
        "  default_notify_retract: off\n"
        "  default_notify_delete: False\n"
        "  autocreate_on_publish: false\n"
        "  max_nodes_per_owner: 1\n"
        "  rate_per_jid: 0\n"
        "  rate_burst: 1\n"
        "  fanout_slice: 1\n"
        "  send_queue_high: 1\n"
        "  send_queue_low: 0\n"
        "presence:\n"
        "  max_resources_per_contact: 1\n"
        "  caps_cache_max: 16\n"
        "  caps_query_timeout_ms: 100\n";
    char err[512] = "";
    herald_config_t *cfg = load(low, err, sizeof(err));
    CHECK(cfg != NULL);
    CHECK_STR(err, "");
    if (cfg) {
        CHECK(cfg->storage.reconnect_min_ms == 10);
        CHECK(cfg->storage.reconnect_max_ms == 100);
        CHECK(cfg->storage.queue_max == 1);
        CHECK(cfg->storage.queue_timeout_ms == 100);
        CHECK(cfg->storage.batch_max == 1);
        CHECK(cfg->pubsub.default_max_items == 1);
        CHECK(cfg->pubsub.max_items_limit == 1);
        CHECK(cfg->pubsub.default_max_payload_size == 1024);
        CHECK(cfg->pubsub.max_payload_size_limit == 1024);
        CHECK_STR(cfg->pubsub.default_access_model, "whitelist");
        CHECK_STR(cfg->pubsub.default_publish_model, "open");
        CHECK_STR(cfg->pubsub.default_send_last_published_item, "never");
        CHECK(cfg->pubsub.default_persist_items == false);
        CHECK(cfg->pubsub.default_deliver_payloads == false);
        CHECK(cfg->pubsub.default_notify_retract == false);
        CHECK(cfg->pubsub.default_notify_delete == false);
        CHECK(cfg->pubsub.autocreate_on_publish == false);
        CHECK(cfg->pubsub.max_nodes_per_owner == 1);
        CHECK(cfg->pubsub.rate_per_jid == 0);
        CHECK(cfg->pubsub.rate_burst == 1);
        CHECK(cfg->pubsub.fanout_slice == 1);
        CHECK(cfg->pubsub.send_queue_high == 1);
        CHECK(cfg->pubsub.send_queue_low == 0);
        CHECK(cfg->presence.max_resources_per_contact == 1);
        CHECK(cfg->presence.caps_cache_max == 16);
        CHECK(cfg->presence.caps_query_timeout_ms == 100);
    }
    config_free(cfg);

    const char *high =
        "server: {domain: d, secret: s, max_stanza_size: 64m}\n"
        "storage: {postgres: dbname=h, reconnect_min_ms: 60000, reconnect_max_ms: 600000,"
        " queue_max: 10000000, queue_timeout_ms: 600000, batch_max: 65536}\n"
        "pubsub: {default_max_items: 10000000, max_items_limit: 10000000,"
        " default_max_payload_size: 64m, max_payload_size_limit: 67108864,"
        " default_access_model: open, default_publish_model: publishers,"
        " default_send_last_published_item: on_sub, default_persist_items: yes,"
        " max_nodes_per_owner: 10000000, rate_per_jid: 1000000, rate_burst: 1000000,"
        " fanout_slice: 100000, send_queue_high: 1000000, send_queue_low: 999999}\n"
        "presence: {max_resources_per_contact: 65535, caps_cache_max: 10000000,"
        " caps_query_timeout_ms: 600000}\n";
    cfg = load(high, err, sizeof(err));
    CHECK(cfg != NULL);
    CHECK_STR(err, "");
    if (cfg) {
        CHECK(cfg->storage.reconnect_min_ms == 60000);
        CHECK(cfg->storage.reconnect_max_ms == 600000);
        CHECK(cfg->storage.queue_max == 10000000);
        CHECK(cfg->storage.queue_timeout_ms == 600000);
        CHECK(cfg->storage.batch_max == 65536);
        CHECK(cfg->pubsub.default_max_items == 10000000);
        CHECK(cfg->pubsub.max_items_limit == 10000000);
        CHECK(cfg->pubsub.default_max_payload_size == 67108864);
        CHECK(cfg->pubsub.max_payload_size_limit == 67108864);
        CHECK(cfg->pubsub.max_nodes_per_owner == 10000000);
        CHECK(cfg->pubsub.rate_per_jid == 1000000);
        CHECK(cfg->pubsub.rate_burst == 1000000);
        CHECK(cfg->pubsub.fanout_slice == 100000);
        CHECK(cfg->pubsub.send_queue_high == 1000000);
        CHECK(cfg->pubsub.send_queue_low == 999999);
        CHECK(cfg->presence.max_resources_per_contact == 65535);
        CHECK(cfg->presence.caps_cache_max == 10000000);
        CHECK(cfg->presence.caps_query_timeout_ms == 600000);
    }
    config_free(cfg);
}

/* One new key set to `value` alone, in a file that is otherwise minimal:
 * the key sits on line 6 for storage (appended to MIN_YAML's storage
 * section) and on line 7 for the other sections. */
static const char *one_key_yaml(const char *section, const char *key, const char *value,
                                unsigned *line)
{
    static char yaml[1024];
    if (strcmp(section, "storage") == 0) {
        snprintf(yaml, sizeof(yaml), MIN_YAML "  %s: %s\n", key, value);
        *line = 6;
    } else {
        snprintf(yaml, sizeof(yaml), MIN_YAML "%s:\n  %s: %s\n", section, key, value);
        *line = 7;
    }
    return yaml;
}

static bool key_fails(const char *section, const char *key, const char *value, const char *part)
{
    unsigned line;
    const char *yaml = one_key_yaml(section, key, value, &line);
    char name[128];
    snprintf(name, sizeof(name), "%s.%s", section, key);
    return fails_with(yaml, line, name, part);
}

#define KEY_FAILS(section, key, value, part) CHECK(key_fails((section), (key), (value), (part)))

static const struct new_key {
    const char *section, *key;
    const char *below, *above; /* just outside the bounds (NULL: none below) */
    const char *expect;        /* "must be ..." text */
    const char *other;         /* a valid non-default value, alone */
} new_keys[] = {
    {"storage", "reconnect_min_ms", "9", "60001", "a number of milliseconds in 10..60000", "300"},
    {"storage", "reconnect_max_ms", "99", "600001", "a number of milliseconds in 100..600000", "20000"},
    {"storage", "queue_max", "0", "10000001", "an integer in 1..10000000", "100"},
    {"storage", "queue_timeout_ms", "99", "600001", "a number of milliseconds in 100..600000", "500"},
    {"storage", "batch_max", "0", "65537", "an integer in 1..65536", "1"},
    {"pubsub", "default_max_items", "0", "10000001", "an integer in 1..10000000", "10"},
    {"pubsub", "max_items_limit", "0", "10000001", "an integer in 1..10000000", "20000"},
    {"pubsub", "default_max_payload_size", "1023", "65m",
     "a size in bytes in 1024..67108864 (suffix k, m or g allowed)", "1k"},
    {"pubsub", "max_payload_size_limit", "1023", "67108865",
     "a size in bytes in 1024..67108864 (suffix k, m or g allowed)", "128k"},
    {"pubsub", "default_access_model", NULL, NULL, "one of open, whitelist", "whitelist"},
    {"pubsub", "default_publish_model", NULL, NULL, "one of publishers, open", "open"},
    {"pubsub", "default_send_last_published_item", NULL, NULL, "one of never, on_sub", "never"},
    {"pubsub", "default_persist_items", NULL, NULL, "true or false", "false"},
    {"pubsub", "default_deliver_payloads", NULL, NULL, "true or false", "false"},
    {"pubsub", "default_notify_retract", NULL, NULL, "true or false", "false"},
    {"pubsub", "default_notify_delete", NULL, NULL, "true or false", "false"},
    {"pubsub", "autocreate_on_publish", NULL, NULL, "true or false", "false"},
    {"pubsub", "max_nodes_per_owner", "0", "10000001", "an integer in 1..10000000", "5"},
    {"pubsub", "rate_per_jid", "-1", "1000001", "an integer in 0..1000000", "0"},
    {"pubsub", "rate_burst", "0", "1000001", "an integer in 1..1000000", "1"},
    {"pubsub", "fanout_slice", "0", "100001", "an integer in 1..100000", "64"},
    {"pubsub", "send_queue_high", "0", "1000001", "an integer in 1..1000000", "8192"},
    {"pubsub", "send_queue_low", "-1", "1000001", "an integer in 0..1000000", "0"},
    {"presence", "max_resources_per_contact", "0", "65536", "an integer in 1..65535", "8"},
    {"presence", "caps_cache_max", "15", "10000001", "an integer in 16..10000000", "16"},
    {"presence", "caps_query_timeout_ms", "99", "600001", "a number of milliseconds in 100..600000",
     "1000"},
};
#define N_NEW_KEYS (sizeof(new_keys) / sizeof(new_keys[0]))

static void test_new_bad_values(void)
{
    char part[256];
    for (size_t i = 0; i < N_NEW_KEYS; i++) {
        const struct new_key *k = &new_keys[i];
        if (k->below) {
            snprintf(part, sizeof(part), "must be %s, got %s", k->expect, k->below);
            KEY_FAILS(k->section, k->key, k->below, part);
        }
        if (k->above) {
            snprintf(part, sizeof(part), "must be %s, got %s", k->expect, k->above);
            KEY_FAILS(k->section, k->key, k->above, part);
        }
        /* Wrong YAML shape: the message says what the key accepts. */
        snprintf(part, sizeof(part), "must be %s, got a list", k->expect);
        KEY_FAILS(k->section, k->key, "[1, 2]", part);
        snprintf(part, sizeof(part), "must be %s, got nothing", k->expect);
        KEY_FAILS(k->section, k->key, "~", part);
    }
    KEY_FAILS("storage", "queue_max", "many", "must be an integer in 1..10000000, got \"many\"");
    KEY_FAILS("storage", "batch_max", "1k", "got \"1k\""); /* suffixes are for sizes only */
    KEY_FAILS("pubsub", "fanout_slice", "1.5", "got \"1.5\"");
    KEY_FAILS("pubsub", "autocreate_on_publish", "sometimes",
              "must be true or false, got \"sometimes\"");

    /* Enums: exact XEP-0060 spellings only (the pubsub module compares
     * with strcmp), and each bad value is quoted back. */
    KEY_FAILS("pubsub", "default_access_model", "presence",
              "must be one of open, whitelist, got \"presence\"");
    KEY_FAILS("pubsub", "default_access_model", "Open", "must be one of open, whitelist, got \"Open\"");
    KEY_FAILS("pubsub", "default_access_model", "\"\"", "must be one of open, whitelist, got \"\"");
    KEY_FAILS("pubsub", "default_access_model", "{a: 1}", "must be one of open, whitelist, got a mapping");
    KEY_FAILS("pubsub", "default_publish_model", "subscribers",
              "must be one of publishers, open, got \"subscribers\"");
    KEY_FAILS("pubsub", "default_publish_model", "\"open \"",
              "must be one of publishers, open, got \"open \"");
    KEY_FAILS("pubsub", "default_send_last_published_item", "on_sub_and_presence",
              "must be one of never, on_sub, got \"on_sub_and_presence\"");
    KEY_FAILS("pubsub", "default_send_last_published_item", "true",
              "must be one of never, on_sub, got \"true\"");
    static char longval[400];
    memset(longval, 'x', 300);
    longval[300] = '\0';
    KEY_FAILS("pubsub", "default_access_model", longval,
              "must be one of open, whitelist, got 300 bytes");

    /* Misspelled new keys and sections get a hint. */
    KEY_FAILS("pubsub", "max_item_limit", "5", "unknown key (did you mean pubsub.max_items_limit?)");
    KEY_FAILS("storage", "queue_maxx", "5", "unknown key (did you mean storage.queue_max?)");
    FAILS(MIN_YAML "pubsb:\n  fanout_slice: 5\n", 6, "pubsb", "unknown key (did you mean pubsub?)");
    FAILS(MIN_YAML "presense:\n  caps_cache_max: 16\n", 6, "presense",
          "unknown key (did you mean presence?)");
    FAILS(MIN_YAML "pubsub:\n  fanout_slice: 5\n  fanout_slice: 6\n", 8, "pubsub.fanout_slice",
          "duplicate key (first given at line 7)");
    FAILS(MIN_YAML "pubsub: 5\n", 6, "pubsub", "must be a mapping of keys, got a scalar");
}

static void test_new_cross_keys(void)
{
    char err[512] = "";
    herald_config_t *cfg;

    /* storage.reconnect_min_ms <= storage.reconnect_max_ms */
    FAILS(MIN_SERVER "storage:\n  postgres: dbname=h\n  reconnect_min_ms: 5000\n"
                     "  reconnect_max_ms: 1000\n",
          6, "storage.reconnect_min_ms", "must be at most storage.reconnect_max_ms (1000), got 5000");
    FAILS(MIN_SERVER "storage:\n  postgres: dbname=h\n  reconnect_max_ms: 1000\n"
                     "  reconnect_min_ms: 1001\n",
          7, "storage.reconnect_min_ms", "must be at most storage.reconnect_max_ms (1000), got 1001");
    KEY_FAILS("storage", "reconnect_min_ms", "20000",
              "must be at most storage.reconnect_max_ms (10000), got 20000");
    KEY_FAILS("storage", "reconnect_max_ms", "150",
              "must be at least storage.reconnect_min_ms (200), got 150");
    cfg = load(MIN_SERVER "storage: {postgres: dbname=h, reconnect_min_ms: 700, reconnect_max_ms: 700}\n",
               err, sizeof(err));
    CHECK(cfg != NULL);
    config_free(cfg);

    /* pubsub.default_max_items <= pubsub.max_items_limit */
    FAILS(MIN_YAML "pubsub:\n  default_max_items: 500\n  max_items_limit: 100\n", 7,
          "pubsub.default_max_items", "must be at most pubsub.max_items_limit (100), got 500");
    KEY_FAILS("pubsub", "default_max_items", "10001",
              "must be at most pubsub.max_items_limit (10000), got 10001");
    cfg = load(MIN_YAML "pubsub: {default_max_items: 100, max_items_limit: 100}\n", err, sizeof(err));
    CHECK(cfg != NULL);
    config_free(cfg);
    /* A default the file does not give follows a lower limit. */
    cfg = load(MIN_YAML "pubsub:\n  max_items_limit: 100\n", err, sizeof(err));
    CHECK(cfg != NULL);
    CHECK_STR(err, "");
    if (cfg) {
        CHECK(cfg->pubsub.max_items_limit == 100);
        CHECK(cfg->pubsub.default_max_items == 100);
    }
    config_free(cfg);

    /* pubsub.default_max_payload_size <= pubsub.max_payload_size_limit */
    FAILS(MIN_YAML "pubsub:\n  max_payload_size_limit: 64k\n  default_max_payload_size: 128k\n", 8,
          "pubsub.default_max_payload_size",
          "must be at most pubsub.max_payload_size_limit (65536), got 131072");
    KEY_FAILS("pubsub", "default_max_payload_size", "300k",
              "must be at most pubsub.max_payload_size_limit (262144), got 307200");
    cfg = load(MIN_YAML "pubsub:\n  max_payload_size_limit: 32k\n", err, sizeof(err));
    CHECK(cfg != NULL);
    if (cfg)
        CHECK(cfg->pubsub.default_max_payload_size == 32768); /* followed the limit */
    config_free(cfg);

    /* pubsub.max_payload_size_limit <= server.max_stanza_size */
    KEY_FAILS("pubsub", "max_payload_size_limit", "1m",
              "must be at most server.max_stanza_size (524288), got 1048576");
    FAILS(MIN_STORAGE "pubsub:\n  max_payload_size_limit: 256k\n"
                      "server:\n  domain: d\n  secret: s\n  max_stanza_size: 128k\n",
          4, "pubsub.max_payload_size_limit",
          "must be at most server.max_stanza_size (131072), got 262144");
    cfg = load(MIN_STORAGE "server: {domain: d, secret: s, max_stanza_size: 128k}\n"
                           "pubsub: {max_payload_size_limit: 128k, default_max_payload_size: 128k}\n",
               err, sizeof(err));
    CHECK(cfg != NULL); /* equal is fine all along the chain */
    config_free(cfg);
    /* A lower server.max_stanza_size, valid before pubsub.* existed, still
     * loads: the limit and the default the file does not give follow it. */
    cfg = load(MIN_STORAGE "server: {domain: d, secret: s, max_stanza_size: 2k}\n", err, sizeof(err));
    CHECK(cfg != NULL);
    CHECK_STR(err, "");
    if (cfg) {
        CHECK(cfg->pubsub.max_payload_size_limit == 2048);
        CHECK(cfg->pubsub.default_max_payload_size == 2048);
    }
    config_free(cfg);
    cfg = load(MIN_STORAGE "server: {domain: d, secret: s, max_stanza_size: 128k}\n", err, sizeof(err));
    CHECK(cfg != NULL);
    if (cfg) {
        CHECK(cfg->pubsub.max_payload_size_limit == 131072);
        CHECK(cfg->pubsub.default_max_payload_size == 65536); /* already below */
    }
    config_free(cfg);
    /* ...but a value the file gives is checked as written. */
    FAILS(MIN_STORAGE "server: {domain: d, secret: s, max_stanza_size: 32k}\n"
                      "pubsub:\n  default_max_payload_size: 64k\n",
          5, "pubsub.default_max_payload_size",
          "must be at most pubsub.max_payload_size_limit (32768), got 65536");

    /* pubsub.send_queue_low < pubsub.send_queue_high */
    FAILS(MIN_YAML "pubsub:\n  send_queue_high: 100\n  send_queue_low: 100\n", 8,
          "pubsub.send_queue_low", "must be less than pubsub.send_queue_high (100), got 100");
    KEY_FAILS("pubsub", "send_queue_low", "4096",
              "must be less than pubsub.send_queue_high (4096), got 4096");
    KEY_FAILS("pubsub", "send_queue_high", "1000",
              "must be greater than pubsub.send_queue_low (1024), got 1000");
    cfg = load(MIN_YAML "pubsub: {send_queue_high: 100, send_queue_low: 99}\n", err, sizeof(err));
    CHECK(cfg != NULL);
    config_free(cfg);
}

/* None of the new keys reloads: each change alone needs a restart. */
static void test_new_restart_needed(void)
{
    char err[512] = "";
    herald_config_t *base = load(MIN_YAML, err, sizeof(err));
    CHECK(base != NULL);
    if (!base)
        return;
    for (size_t i = 0; i < N_NEW_KEYS; i++) {
        const struct new_key *k = &new_keys[i];
        unsigned line;
        herald_config_t *fresh = load(one_key_yaml(k->section, k->key, k->other, &line), err,
                                      sizeof(err));
        CHECK(fresh != NULL);
        if (!fresh) {
            fprintf(stderr, "  %s.%s: %s\n", k->section, k->key, err);
            continue;
        }
        char name[128];
        snprintf(name, sizeof(name), "%s.%s", k->section, k->key);
        const char *got = config_restart_needed(base, fresh);
        CHECK_STR(got ? got : "(null)", name);
        CHECK_STR(config_restart_needed(fresh, base) ? config_restart_needed(fresh, base) : "(null)",
                  name);
        CHECK(config_restart_needed(fresh, fresh) == NULL);
        config_free(fresh);
    }
    config_free(base);
}

int main(void)
{
    if (fixture_dir_create() != 0)
        return 1;
    UNIT_RUN(test_new_defaults);
    UNIT_RUN(test_new_bounds_accepted);
    UNIT_RUN(test_new_bad_values);
    UNIT_RUN(test_new_cross_keys);
    UNIT_RUN(test_new_restart_needed);
    fixture_dir_remove();
    return UNIT_DONE();
}
