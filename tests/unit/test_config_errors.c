/* config/: every error kind yields one line naming the file, the exact
 * line and the key: unknown keys (with a hint), wrong YAML shapes, values
 * out of bounds, missing required keys, YAML syntax errors, duplicates,
 * unreadable files, cross-key rules and a short error buffer. */
#include <sys/stat.h>

#include "tests/unit/unit.h"
#include "tests/unit/config_fixture.h"

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
    if (fixture_dir_create() != 0)
        return 1;
    UNIT_RUN(test_unknown_keys);
    UNIT_RUN(test_wrong_types);
    UNIT_RUN(test_bad_values);
    UNIT_RUN(test_missing_required);
    UNIT_RUN(test_syntax_errors);
    UNIT_RUN(test_duplicates);
    UNIT_RUN(test_unreadable_file);
    UNIT_RUN(test_cross_keys);
    UNIT_RUN(test_small_error_buffer);
    fixture_dir_remove();
    return UNIT_DONE();
}
