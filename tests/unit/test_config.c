/* config/: every error kind yields one line naming the file, the exact line
 * and the key; defaults, the example file and secret_file behave as
 * documented. Fixtures are written into a mkdtemp directory. */
#include <ctype.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "config/config_keys.h" /* white-box: the example must document every table key */
#include "tests/unit/unit.h"

static char tmpdir[64];

#define MIN_SERVER "server:\n  domain: pubsub.example.org\n  secret: s3cret\n"
#define MIN_STORAGE "storage:\n  postgres: \"host=127.0.0.1 dbname=herald\"\n"
#define MIN_YAML MIN_SERVER MIN_STORAGE

static const char *fixture_path(const char *name)
{
    static char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    return path;
}

static void write_fixture(const char *name, const char *text)
{
    FILE *f = fopen(fixture_path(name), "w");
    if (!f) {
        perror(name);
        exit(1);
    }
    fputs(text, f);
    fclose(f);
}

/* Loads `yaml` from t.yaml; the config is returned (or NULL), err filled. */
static herald_config_t *load(const char *yaml, char *err, size_t errlen)
{
    write_fixture("t.yaml", yaml);
    herald_config_t *cfg = (herald_config_t *)1;
    int rc = config_load(fixture_path("t.yaml"), &cfg, err, errlen);
    if ((rc == 0) != (cfg != NULL)) {
        fprintf(stderr, "config_load returned %d with cfg %p\n", rc, (void *)cfg);
        unit_failed++;
    }
    return cfg;
}

/* True when loading fails with exactly "DIR/t.yaml:LINE: KEY: ...part...". */
static bool fails_with(const char *yaml, unsigned line, const char *key, const char *part)
{
    char err[512], prefix[PATH_MAX + 128];
    herald_config_t *cfg = load(yaml, err, sizeof(err));
    snprintf(prefix, sizeof(prefix), "%s:%u: %s: ", fixture_path("t.yaml"), line, key);
    if (getenv("SHOW_ERRORS"))
        fprintf(stderr, "    %s\n", err);
    bool ok = cfg == NULL && strncmp(err, prefix, strlen(prefix)) == 0 &&
              strstr(err + strlen(prefix), part) != NULL && !strchr(err, '\n');
    if (!ok)
        fprintf(stderr, "  yaml:\n%s  got:  %s\n  want: %s...%s...\n", yaml,
                cfg ? "(loaded)" : err, prefix, part);
    config_free(cfg);
    return ok;
}

#define FAILS(yaml, line, key, part) CHECK(fails_with((yaml), (line), (key), (part)))

static void test_minimal_and_defaults(void)
{
    char err[512] = "";
    herald_config_t *cfg = load(MIN_YAML, err, sizeof(err));
    CHECK(cfg != NULL);
    CHECK_STR(err, "");
    if (!cfg)
        return;
    CHECK_STR(cfg->server.host, "127.0.0.1");
    CHECK(cfg->server.port == 5347);
    CHECK_STR(cfg->server.domain, "pubsub.example.org");
    CHECK_STR(cfg->server.secret, "s3cret");
    CHECK(cfg->server.secret_file == NULL);
    CHECK(cfg->server.links == 1);
    CHECK(cfg->server.reconnect_min_ms == 500);
    CHECK(cfg->server.reconnect_max_ms == 30000);
    CHECK(cfg->server.ping_interval_ms == 30000);
    CHECK(cfg->server.ping_timeout_ms == 10000);
    CHECK(cfg->server.max_stanza_size == 524288);
    CHECK_STR(cfg->storage.postgres, "host=127.0.0.1 dbname=herald");
    CHECK(cfg->storage.pool_size == 2);
    CHECK(cfg->storage.statement_timeout_ms == 5000);
    CHECK(cfg->storage.connect_timeout_ms == 5000);
    CHECK(cfg->log.level == HLOG_INFO);
    CHECK(cfg->log.xmpp_debug == false);
    config_free(cfg);
}

static void test_full(void)
{
    const char *yaml =
        "# every key, none at its default\n"
        "server:\n"
        "  host: xmpp.internal\n"
        "  port: 15347\n"
        "  domain: Pubsub.Example.org\n"
        "  secret: 'with spaces: and # hash'\n"
        "  links: 4\n"
        "  reconnect_min_ms: 10\n"
        "  reconnect_max_ms: 3600000\n"
        "  ping_interval_ms: 1000\n"
        "  ping_timeout_ms: 999\n"
        "  max_stanza_size: 1m\n"
        "storage:\n"
        "  postgres: postgresql://herald@127.0.0.1:5432/herald\n"
        "  pool_size: 64\n"
        "  statement_timeout_ms: 100\n"
        "  connect_timeout_ms: 600000\n"
        "log:\n"
        "  level: DEBUG\n"
        "  xmpp_debug: yes\n";
    char err[512] = "";
    herald_config_t *cfg = load(yaml, err, sizeof(err));
    CHECK(cfg != NULL);
    CHECK_STR(err, "");
    if (!cfg)
        return;
    CHECK_STR(cfg->server.host, "xmpp.internal");
    CHECK(cfg->server.port == 15347);
    CHECK_STR(cfg->server.domain, "Pubsub.Example.org");
    CHECK_STR(cfg->server.secret, "with spaces: and # hash");
    CHECK(cfg->server.links == 4);
    CHECK(cfg->server.reconnect_min_ms == 10);
    CHECK(cfg->server.reconnect_max_ms == 3600000);
    CHECK(cfg->server.ping_interval_ms == 1000);
    CHECK(cfg->server.ping_timeout_ms == 999);
    CHECK(cfg->server.max_stanza_size == 1048576);
    CHECK_STR(cfg->storage.postgres, "postgresql://herald@127.0.0.1:5432/herald");
    CHECK(cfg->storage.pool_size == 64);
    CHECK(cfg->storage.statement_timeout_ms == 100);
    CHECK(cfg->storage.connect_timeout_ms == 600000);
    CHECK(cfg->log.level == HLOG_DEBUG);
    CHECK(cfg->log.xmpp_debug == true);
    config_free(cfg);

    /* Flow style, quoted numbers and the other spellings are YAML too. */
    cfg = load("server: {domain: d.example, secret: \"x\", port: \"6000\", max_stanza_size: 2K}\n"
               "storage: {postgres: \"dbname=h\"}\n"
               "log: {level: warn, xmpp_debug: Off}\n",
               err, sizeof(err));
    CHECK(cfg != NULL);
    if (cfg) {
        CHECK(cfg->server.port == 6000);
        CHECK(cfg->server.max_stanza_size == 2048);
        CHECK(cfg->log.level == HLOG_WARN);
        CHECK(cfg->log.xmpp_debug == false);
    }
    config_free(cfg);

    /* A section left empty (everything commented out) takes the defaults. */
    cfg = load(MIN_YAML "log:\n  # level: debug\n", err, sizeof(err));
    CHECK(cfg != NULL);
    if (cfg)
        CHECK(cfg->log.level == HLOG_INFO);
    config_free(cfg);
}

/* The example sits next to config.c; tests run from the source root. */
static char *example_path(void)
{
    static char path[PATH_MAX];
    const char *self = __FILE__; /* ".../tests/unit/test_config.c" */
    const char *tail = strstr(self, "tests/unit/test_config.c");
    snprintf(path, sizeof(path), "%.*sconfig/herald.example.yaml",
             tail ? (int)(tail - self) : 0, self);
    return path;
}

static void test_example_file(void)
{
    const char *path = example_path();
    char err[512] = "";
    herald_config_t *ex = NULL;
    CHECK(config_load(path, &ex, err, sizeof(err)) == 0);
    CHECK_STR(err, "");
    if (!ex)
        return;

    /* Every key of the table is documented in the example. */
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    static char text[65536];
    size_t n = f ? fread(text, 1, sizeof(text) - 1, f) : 0;
    text[n] = '\0';
    if (f)
        fclose(f);
    static const char *const keys[] = {
        "server:", "host:", "port:", "domain:", "secret:", "secret_file:", "links:",
        "reconnect_min_ms:", "reconnect_max_ms:", "ping_interval_ms:", "ping_timeout_ms:",
        "max_stanza_size:", "storage:", "postgres:", "pool_size:", "statement_timeout_ms:",
        "connect_timeout_ms:", "log:", "level:", "xmpp_debug:"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        bool found = strstr(text, keys[i]) != NULL;
        if (!found)
            fprintf(stderr, "  example lacks %s\n", keys[i]);
        CHECK(found);
    }

    /* The example spells out the defaults: with the same required keys, a
     * minimal file yields the very same config. */
    char minimal[512];
    snprintf(minimal, sizeof(minimal),
             "server: {domain: '%s', secret: '%s'}\nstorage: {postgres: '%s'}\n",
             ex->server.domain, ex->server.secret, ex->storage.postgres);
    herald_config_t *def = load(minimal, err, sizeof(err));
    CHECK(def != NULL);
    if (def) {
        CHECK(config_restart_needed(def, ex) == NULL);
        CHECK(def->log.level == ex->log.level);
    }
    config_free(def);
    config_free(ex);
}

static void test_unknown_keys(void)
{
    FAILS(MIN_YAML "log:\n  level: info\n  colour: true\n", 8, "log.colour", "unknown key");
    FAILS("server:\n  domain: d\n  prot: 5\n", 3, "server.prot",
          "unknown key (did you mean server.port?)");
    FAILS(MIN_YAML "serverr:\n  port: 1\n", 6, "serverr", "unknown key (did you mean server?)");
    FAILS("\n\nfrobnicate: 1\n" MIN_YAML, 3, "frobnicate", "unknown key");
    /* A dotted name at the top level is not a shortcut for nesting. */
    FAILS(MIN_YAML "log.level: debug\n", 6, "log.level", "unknown key");
    /* A key with a newline in it must not break the one-line rule. */
    FAILS(MIN_YAML "log:\n  \"le\\nvel\": info\n", 7, "log.le?vel", "unknown key");
}

static void test_wrong_types(void)
{
    FAILS(MIN_YAML "log:\n  level:\n    a: 1\n", 7, "log.level",
          "must be one of error, warn, info, debug, got a mapping");
    FAILS("server:\n  domain: d\n  port: [1, 2]\n", 3, "server.port",
          "must be an integer in 1..65535, got a list");
    FAILS("server:\n  domain: d\n  port: abc\n", 3, "server.port",
          "must be an integer in 1..65535, got \"abc\"");
    FAILS("server:\n  port: 53.47\n", 2, "server.port", "got \"53.47\"");
    FAILS("server:\n  port: 0x14\n", 2, "server.port", "got \"0x14\"");
    FAILS("server:\n  reconnect_min_ms: 1s\n", 2, "server.reconnect_min_ms",
          "must be a number of milliseconds in 10..600000, got \"1s\"");
    FAILS("server:\n  max_stanza_size: 12t\n", 2, "server.max_stanza_size", "got \"12t\"");
    FAILS("server:\n  domain:\n    - a\n", 2, "server.domain", "got a list");
    FAILS("server:\n  domain: d\n  port:\n", 3, "server.port", "got nothing");
    FAILS("server:\n  domain: ~\n", 2, "server.domain", "got nothing");
    FAILS("server: 5\n", 1, "server", "must be a mapping of keys, got a scalar");
    FAILS("# comment\nstorage:\n  - postgres\n", 2, "storage", "must be a mapping of keys, got a list");
    FAILS("- server\n- storage\n", 1, "(document)", "must be a mapping of sections");
    FAILS("just a string\n", 1, "(document)", "got a scalar");
    FAILS("server:\n  domain: &d pubsub.example.org\n  host: *d\n", 3, "server.host",
          "got an alias");
    FAILS("server:\n  ? [a, b]\n  : 1\n", 2, "server", "keys must be plain names, got a list");
    FAILS("{[a]: 1}\n", 1, "(document)", "section names must be plain names");
}

static void test_bad_values(void)
{
    FAILS("server:\n  port: 0\n", 2, "server.port", "must be an integer in 1..65535, got 0");
    FAILS("server:\n  port: 65536\n", 2, "server.port", "got 65536");
    FAILS("server:\n  port: -1\n", 2, "server.port", "got -1");
    FAILS("server:\n  port: 99999999999999999999999999\n", 2, "server.port",
          "got 99999999999999999999999999");
    FAILS("server:\n  links: 33\n", 2, "server.links", "must be an integer in 1..32, got 33");
    FAILS("server:\n  links: 0\n", 2, "server.links", "1..32");
    FAILS(MIN_SERVER "storage:\n  postgres: dbname=h\n  pool_size: 65\n", 6, "storage.pool_size",
          "must be an integer in 1..64, got 65");
    FAILS("storage:\n  pool_size: 0\n", 2, "storage.pool_size", "got 0");
    FAILS("server:\n  reconnect_min_ms: 9\n", 2, "server.reconnect_min_ms", "10..600000, got 9");
    FAILS("server:\n  ping_interval_ms: 999\n", 2, "server.ping_interval_ms", "1000..3600000");
    FAILS("server:\n  ping_interval_ms: 3600001\n", 2, "server.ping_interval_ms", "got 3600001");
    FAILS("server:\n  max_stanza_size: 1023\n", 2, "server.max_stanza_size",
          "1024..67108864 (suffix k, m or g allowed), got 1023");
    FAILS("server:\n  max_stanza_size: 65m\n", 2, "server.max_stanza_size", "got 65m");
    FAILS("server:\n  max_stanza_size: 99999999999g\n", 2, "server.max_stanza_size", "got 99999999999g");
    FAILS("storage:\n  statement_timeout_ms: 99\n", 2, "storage.statement_timeout_ms", "100..3600000");
    FAILS("storage:\n  connect_timeout_ms: 600001\n", 2, "storage.connect_timeout_ms", "100..600000");
    FAILS("log:\n  level: verbose\n", 2, "log.level",
          "must be one of error, warn, info, debug, got \"verbose\"");
    FAILS("log:\n  xmpp_debug: maybe\n", 2, "log.xmpp_debug", "must be true or false, got \"maybe\"");
    FAILS("log:\n  xmpp_debug: 2\n", 2, "log.xmpp_debug", "must be true or false");

    /* Domain: a JID domainpart. */
    FAILS("server:\n  domain: user@pubsub.example.org\n", 2, "server.domain",
          "must be a JID domain such as pubsub.example.org: must not contain '@' or '/'");
    FAILS("server:\n  domain: pubsub.example.org/res\n", 2, "server.domain", "'@' or '/'");
    FAILS("server:\n  domain: pub sub.example.org\n", 2, "server.domain", "spaces");
    FAILS("server:\n  domain: \"pubsub\\texample\"\n", 2, "server.domain", "spaces");
    FAILS("server:\n  domain: \"\"\n", 2, "server.domain", "must be a string of 1..1023 bytes, got an empty string");
    FAILS("server:\n  domain: a..b\n", 2, "server.domain", "empty labels");
    FAILS("server:\n  domain: .a\n", 2, "server.domain", "empty labels");
    FAILS("server:\n  domain: a.\n", 2, "server.domain", "must not end with '.'");
    static char long_domain[1200];
    snprintf(long_domain, sizeof(long_domain), "server:\n  domain: %01024d\n", 0);
    FAILS(long_domain, 2, "server.domain", "must be a string of 1..1023 bytes, got 1024 bytes");
    snprintf(long_domain, sizeof(long_domain), "server:\n  domain: %01023d\n  port: 0\n", 0);
    FAILS(long_domain, 3, "server.port", "got 0"); /* 1023 bytes is fine */

    FAILS("server:\n  host: \"\"\n", 2, "server.host", "1..255 bytes, got an empty string");
    FAILS("server:\n  host: \"a b\"\n", 2, "server.host", "without spaces");
    FAILS("server:\n  secret: \"\"\n", 2, "server.secret", "must be a string of 1..4096 bytes, got an empty string");
    FAILS("server:\n  secret: \"a\\0b\"\n", 2, "server.secret", "must not contain NUL bytes");
    FAILS(MIN_SERVER "storage:\n  postgres: \"host=x port\"\n", 5, "storage.postgres",
          "must be a libpq connection string: ");
    FAILS(MIN_SERVER "storage:\n  postgres: \"nosuchoption=1\"\n", 5, "storage.postgres",
          "must be a libpq connection string: ");
}

static void test_missing_required(void)
{
    FAILS("\n\nserver:\n  secret: s\n" MIN_STORAGE, 3, "server.domain", "required key missing");
    FAILS(MIN_SERVER, 1, "storage.postgres", "required key missing");
    FAILS(MIN_SERVER "storage:\n  pool_size: 2\n", 4, "storage.postgres", "required key missing");
    FAILS("log:\n  level: info\n", 1, "server.domain", "required key missing");
    FAILS("", 1, "server.domain", "required key missing");
    FAILS("# nothing but a comment\n", 1, "server.domain", "required key missing");
    FAILS("---\n", 1, "server.domain", "required key missing");
    FAILS("server: ~\n", 1, "server.domain", "required key missing");
    FAILS("server:\n  domain: d\n" MIN_STORAGE, 1, "server.secret",
          "required key missing (give server.secret or server.secret_file)");
    FAILS("server:\n  secret: s\n  domain: d\n  secret_file: /x\n" MIN_STORAGE, 4,
          "server.secret_file", "conflicts with server.secret at line 2: give only one");
    FAILS("server:\n  secret_file: /x\n  domain: d\n  secret: s\n" MIN_STORAGE, 4,
          "server.secret", "conflicts with server.secret_file at line 2");
}

static void test_syntax_errors(void)
{
    /* Lines are libyaml's problem marks, made 1-based. */
    FAILS("server:\n  domain: \"unterminated\n  port: 1\n", 4, "(yaml)",
          "YAML syntax error: found unexpected end of stream while scanning a quoted scalar (line 2");
    FAILS("server:\n  domain: d\n  port: 1: 2\n", 3, "(yaml)",
          "YAML syntax error: mapping values are not allowed in this context");
    FAILS("server:\n  domain: d\n port: 1\n", 3, "(yaml)", "YAML syntax error: ");
    FAILS("server:\n\tdomain: d\n", 2, "(yaml)", "YAML syntax error: found character that cannot start any token");
    FAILS(MIN_YAML "log: {level: info\n", 7, "(yaml)", "YAML syntax error: ");
    FAILS("server:\n  domain: \"\x01\"\n", 2, "(yaml)", "YAML syntax error: control characters are not allowed");
    FAILS("server:\n  domain: \"\xff\xfe\xfd\"\n", 2, "(yaml)", "YAML syntax error: invalid");
    FAILS(MIN_YAML "---\nlog: {level: info}\n", 6, "(document)", "only one YAML document is allowed");
}

static void test_duplicates(void)
{
    FAILS("server:\n  domain: a\n  secret: s\n  domain: b\n" MIN_STORAGE, 4, "server.domain",
          "duplicate key (first given at line 2)");
    FAILS(MIN_YAML "server:\n  port: 1\n", 6, "server", "duplicate key (first given at line 1)");
    FAILS("log: {level: info, level: debug}\n", 1, "log.level", "duplicate key (first given at line 1)");
}

static void test_unreadable_file(void)
{
    char err[512], want[PATH_MAX + 64];
    herald_config_t *cfg = (herald_config_t *)1;
    CHECK(config_load(fixture_path("absent.yaml"), &cfg, err, sizeof(err)) == -1);
    CHECK(cfg == NULL);
    snprintf(want, sizeof(want), "%s:0: (file): cannot read: No such file or directory",
             fixture_path("absent.yaml"));
    CHECK_STR(err, want);

    CHECK(config_load(tmpdir, &cfg, err, sizeof(err)) == -1);
    snprintf(want, sizeof(want), "%s:0: (file): cannot read: Is a directory", tmpdir);
    CHECK_STR(err, want);

    if (geteuid() != 0) { /* root reads through mode 000 */
        write_fixture("noperm.yaml", MIN_YAML);
        chmod(fixture_path("noperm.yaml"), 0);
        CHECK(config_load(fixture_path("noperm.yaml"), &cfg, err, sizeof(err)) == -1);
        CHECK(strstr(err, ":0: (file): cannot read: Permission denied") != NULL);
    }
}

static void test_secret_file(void)
{
    char err[512] = "", yaml[PATH_MAX + 256];
    /* Relative: next to the config file; CRLF and LF are trimmed, inner
     * whitespace kept. */
    write_fixture("secret.txt", " s3 cret\r\n\n");
    herald_config_t *cfg =
        load("server:\n  domain: d\n  secret_file: secret.txt\n" MIN_STORAGE, err, sizeof(err));
    CHECK(cfg != NULL);
    CHECK_STR(err, "");
    if (cfg) {
        CHECK_STR(cfg->server.secret, " s3 cret");
        CHECK_STR(cfg->server.secret_file, "secret.txt");
    }
    config_free(cfg);

    /* Absolute path, no trailing newline. */
    write_fixture("abs.txt", "topsecret");
    snprintf(yaml, sizeof(yaml), "server:\n  domain: d\n  secret_file: %s\n" MIN_STORAGE,
             fixture_path("abs.txt"));
    cfg = load(yaml, err, sizeof(err));
    CHECK(cfg != NULL);
    if (cfg)
        CHECK_STR(cfg->server.secret, "topsecret");
    config_free(cfg);

    FAILS("server:\n  domain: d\n  secret_file: nope.txt\n" MIN_STORAGE, 3, "server.secret_file",
          "nope.txt: No such file or directory");
    write_fixture("empty.txt", "");
    FAILS("server:\n  domain: d\n  secret_file: empty.txt\n" MIN_STORAGE, 3, "server.secret_file",
          "empty.txt: is empty");
    write_fixture("newline.txt", "\n");
    FAILS("server:\n\n  secret_file: newline.txt\n  domain: d\n" MIN_STORAGE, 3,
          "server.secret_file", "newline.txt: is empty");
    FAILS("server:\n  domain: d\n  secret_file: .\n" MIN_STORAGE, 3, "server.secret_file",
          "Is a directory");
    static char big[5000];
    memset(big, 'x', sizeof(big) - 1);
    write_fixture("big.txt", big);
    FAILS("server:\n  domain: d\n  secret_file: big.txt\n" MIN_STORAGE, 3, "server.secret_file",
          "big.txt: larger than 4096 bytes");
    FAILS("server:\n  domain: d\n  secret_file: \"\"\n" MIN_STORAGE, 3, "server.secret_file",
          "must be a path of 1..4095 bytes, got an empty string");
}

static void test_cross_keys(void)
{
    FAILS(MIN_STORAGE "server:\n  domain: d\n  secret: s\n  reconnect_min_ms: 2000\n"
                      "  reconnect_max_ms: 1000\n",
          6, "server.reconnect_min_ms",
          "must be at most server.reconnect_max_ms (1000), got 2000");
    /* Only the minimum given: it is the one above the default maximum. */
    FAILS(MIN_STORAGE "server:\n  domain: d\n  secret: s\n  reconnect_min_ms: 40000\n", 6,
          "server.reconnect_min_ms", "at most server.reconnect_max_ms (30000), got 40000");
    /* Only the maximum given: it is the one below the default minimum. */
    FAILS(MIN_STORAGE "server:\n  domain: d\n  secret: s\n  reconnect_max_ms: 100\n", 6,
          "server.reconnect_max_ms", "must be at least server.reconnect_min_ms (500), got 100");
    FAILS(MIN_STORAGE "server:\n  domain: d\n  secret: s\n  ping_interval_ms: 5000\n"
                      "  ping_timeout_ms: 5000\n",
          7, "server.ping_timeout_ms", "must be less than server.ping_interval_ms (5000), got 5000");
    FAILS(MIN_STORAGE "server:\n  domain: d\n  secret: s\n  ping_interval_ms: 5000\n", 6,
          "server.ping_interval_ms", "must be greater than server.ping_timeout_ms (10000), got 5000");

    char err[512];
    herald_config_t *cfg = load(MIN_STORAGE "server: {domain: d, secret: s, reconnect_min_ms: 700,"
                           " reconnect_max_ms: 700, ping_timeout_ms: 4999, ping_interval_ms: 5000}\n",
               err, sizeof(err));
    CHECK(cfg != NULL); /* the boundaries themselves are fine */
    config_free(cfg);
}

static void test_load_string_and_reload(void)
{
    char err[512] = "";
    herald_config_t *a = NULL, *b = NULL, *c = NULL;
    const char *base = MIN_YAML "log: {level: info}\n";
    CHECK(config_load_string("mem.yaml", base, strlen(base), &a, err, sizeof(err)) == 0);
    const char *more = MIN_YAML "log: {level: debug}\n";
    CHECK(config_load_string("mem.yaml", more, strlen(more), &b, err, sizeof(err)) == 0);
    const char *port = MIN_YAML "log: {level: debug}\nserver: {port: 1}\n";
    CHECK(config_load_string("mem.yaml", port, strlen(port), &c, err, sizeof(err)) == -1);
    CHECK(c == NULL);
    CHECK_STR(err, "mem.yaml:7: server: duplicate key (first given at line 1)");
    const char *port2 = "server: {port: 1, domain: d, secret: s}\n" MIN_STORAGE;
    CHECK(config_load_string("mem.yaml", port2, strlen(port2), &c, err, sizeof(err)) == 0);
    if (a && b && c) {
        CHECK(config_restart_needed(a, b) == NULL); /* log.level reloads */
        CHECK_STR(config_restart_needed(a, c), "server.port");
    }
    config_free(a);
    config_free(b);
    config_free(c);
    config_free(NULL);

    /* Not NUL-terminated: only len bytes count. */
    char buf[sizeof(MIN_YAML) + 8];
    memcpy(buf, MIN_YAML "port", sizeof(MIN_YAML) + 3);
    CHECK(config_load_string("mem.yaml", buf, strlen(MIN_YAML), &a, err, sizeof(err)) == 0);
    config_free(a);
}

static void test_small_error_buffer(void)
{
    char err[16];
    memset(err, 'Z', sizeof(err));
    herald_config_t *cfg = load("server:\n  port: 0\n", err, sizeof(err));
    CHECK(cfg == NULL);
    CHECK(memchr(err, '\0', sizeof(err)) != NULL);
    CHECK(load("server:\n  port: 0\n", NULL, 0) == NULL);
}

/* ---- the storage keys added later, pubsub and presence ---- */

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

/* The example documents every key of the table in its own section: a
 * "key:" line (or "# key:" for one shown commented out) preceded by
 * comment lines that give its default (or say it is required) and the
 * bounds the table enforces. */
static void test_example_documents_every_key(void)
{
    const char *path = example_path();
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    if (!f)
        return;
    static char text[65536];
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    text[n] = '\0';
    fclose(f);
    CHECK(n < sizeof(text) - 1);

    static char *lines[2048];
    size_t nl = 0;
    for (char *p = text; *p && nl < 2048;) {
        lines[nl++] = p;
        char *e = strchr(p, '\n');
        if (!e)
            break;
        *e = '\0';
        p = e + 1;
    }

    for (size_t ki = 0; ki < config_nkeys; ki++) {
        const config_key_t *k = &config_keys[ki];
        const char *dot = strchr(k->name, '.');
        char sec[64], set[128], commented[128];
        snprintf(sec, sizeof(sec), "%.*s:", (int)(dot - k->name), k->name);
        snprintf(set, sizeof(set), "  %s:", dot + 1);
        snprintf(commented, sizeof(commented), "  # %s:", dot + 1);

        /* The section's lines: from "sec:" to the next top-level key. */
        size_t start = nl, end = nl;
        for (size_t i = 0; i < nl; i++) {
            if (start == nl && strcmp(lines[i], sec) == 0)
                start = i + 1;
            else if (start != nl && lines[i][0] && lines[i][0] != ' ' && lines[i][0] != '#') {
                end = i;
                break;
            }
        }
        size_t at = nl;
        for (size_t i = start; i < end && at == nl; i++)
            if (strncmp(lines[i], set, strlen(set)) == 0)
                at = i;
        for (size_t i = start; i < end && at == nl; i++)
            if (strncmp(lines[i], commented, strlen(commented)) == 0)
                at = i;
        if (at == nl) {
            fprintf(stderr, "  example lacks %s\n", k->name);
            CHECK(false);
            continue;
        }

        /* Its comment: the comment lines right above it. */
        char doc[2048] = "";
        size_t dl = 0;
        for (size_t i = at; i > start && lines[i - 1][strspn(lines[i - 1], " ")] == '#'; i--)
            dl += (size_t)snprintf(doc + dl, dl < sizeof(doc) ? sizeof(doc) - dl : 0, "%s\n",
                                   lines[i - 1]);
        for (char *p = doc; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        bool has_default = strstr(doc, "default") || strstr(doc, "required");
        char bounds[128] = "";
        if (k->type == CK_STRING && k->validate && k->validate(NULL, bounds, sizeof(bounds)) == 1)
            ; /* an enum: "one of a, b" */
        else if (k->type != CK_BOOL && k->type != CK_LOGLEVEL)
            snprintf(bounds, sizeof(bounds), "%lld..%lld", k->min, k->max);
        bool has_bounds = !bounds[0] || strstr(doc, bounds);
        if (!has_default || !has_bounds)
            fprintf(stderr, "  example: comment above %s lacks %s\n", k->name,
                    !has_default ? "its default" : bounds);
        CHECK(has_default);
        CHECK(has_bounds);
    }
}

int main(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/herald-test-config-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    UNIT_RUN(test_minimal_and_defaults);
    UNIT_RUN(test_full);
    UNIT_RUN(test_example_file);
    UNIT_RUN(test_unknown_keys);
    UNIT_RUN(test_wrong_types);
    UNIT_RUN(test_bad_values);
    UNIT_RUN(test_missing_required);
    UNIT_RUN(test_syntax_errors);
    UNIT_RUN(test_duplicates);
    UNIT_RUN(test_unreadable_file);
    UNIT_RUN(test_secret_file);
    UNIT_RUN(test_cross_keys);
    UNIT_RUN(test_load_string_and_reload);
    UNIT_RUN(test_small_error_buffer);
    UNIT_RUN(test_new_defaults);
    UNIT_RUN(test_new_bounds_accepted);
    UNIT_RUN(test_new_bad_values);
    UNIT_RUN(test_new_cross_keys);
    UNIT_RUN(test_new_restart_needed);
    UNIT_RUN(test_example_documents_every_key);

    static const char *const files[] = {"t.yaml", "secret.txt", "abs.txt", "empty.txt",
                                        "newline.txt", "big.txt", "noperm.yaml"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
        unlink(fixture_path(files[i]));
    rmdir(tmpdir);
    return UNIT_DONE();
}
