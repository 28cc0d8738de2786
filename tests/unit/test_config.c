/* config/: every error kind yields one line naming the file, the exact line
 * and the key; defaults, the example file and secret_file behave as
 * documented. Fixtures are written into a mkdtemp directory. */
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
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

    static const char *const files[] = {"t.yaml", "secret.txt", "abs.txt", "empty.txt",
                                        "newline.txt", "big.txt", "noperm.yaml"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
        unlink(fixture_path(files[i]));
    rmdir(tmpdir);
    return UNIT_DONE();
}
