/* config/: defaults, every value read back as written (block and flow
 * style), secret_file, loading from memory and reload decisions, and the
 * example file, which must load, spell out the defaults and document every
 * key of the table with its default and bounds. Error cases are in
 * test_config_errors.c, the keys added for storage, pubsub and presence in
 * test_config_keys.c. */
#include <ctype.h>

#include "config/config_keys.h" /* white-box: the example must document every table key */
#include "tests/unit/unit.h"
#include "tests/unit/config_fixture.h"

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
    if (fixture_dir_create() != 0)
        return 1;
    UNIT_RUN(test_minimal_and_defaults);
    UNIT_RUN(test_full);
    UNIT_RUN(test_example_file);
    UNIT_RUN(test_secret_file);
    UNIT_RUN(test_load_string_and_reload);
    UNIT_RUN(test_example_documents_every_key);
    fixture_dir_remove();
    return UNIT_DONE();
}
