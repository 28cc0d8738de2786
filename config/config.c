/* Loading herald.yaml. Why it is built this way:
 *
 * - Every key lives in one table (config_keys.c) with its type, bounds,
 *   default and validator, so a key cannot be parsed in one place,
 *   defaulted in another and documented in a third. The YAML walk
 *   (config_yaml.c) only finds keys; this file applies what the table says
 *   about the keys the file did not give, then runs the checks that span
 *   several keys (Mosquitto's config__check() pattern).
 * - An operator sees exactly one line per failed load, "FILE:LINE: KEY:
 *   MESSAGE", the first problem found, so `herald --check` output can be
 *   read by a person and grepped by a script alike. Line 0 means the file
 *   itself could not be read; errors that belong to no key name a
 *   placeholder in parentheses: (file), (yaml), (document).
 * - A load builds a fresh struct and hands it over only when it is valid,
 *   so a reload (SIGHUP) can keep running on the old one after a typo.
 * - server.secret_file is resolved relative to the directory of the config
 *   file (systemd starts daemons in /), and read at load time so that
 *   --check reports an unreadable or empty secret before any connection.
 */
#include "config/config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config_keys.h"

/* Anything larger is not a hand-written config file. */
#define CONFIG_FILE_MAX (1024 * 1024)

void config_error(config_build_t *b, unsigned line, const char *key, const char *fmt, ...)
{
    if (b->failed)
        return;
    b->failed = true;
    if (!b->err || b->errlen == 0)
        return;
    int n = snprintf(b->err, b->errlen, "%s:%u: %s: ", b->path, line, key);
    if (n >= 0 && (size_t)n < b->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(b->err + n, b->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    /* Keys and values come from the file; keep the message one line. */
    for (unsigned char *p = (unsigned char *)b->err; *p; p++) {
        if (*p < ' ' || *p == 0x7f)
            *p = '?';
    }
}

static void wipe_free(void *p, size_t n)
{
    if (p) {
        explicit_bzero(p, n);
        free(p);
    }
}

/* Reads a whole file (a pipe works too) into a NUL-terminated buffer.
 * Returns 0, or an errno value; EFBIG when it holds more than `cap` bytes. */
static int read_all(const char *path, size_t cap, char **out, size_t *outlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return errno;
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        close(fd);
        return EISDIR;
    }
    size_t size = 4096, len = 0;
    char *buf = malloc(size);
    int rc = buf ? 0 : ENOMEM;
    while (rc == 0) {
        if (len == size - 1) {
            if (len > cap)
                break;
            char *nb = malloc(size * 2);
            if (!nb) {
                rc = ENOMEM;
                break;
            }
            memcpy(nb, buf, len);
            wipe_free(buf, size);
            buf = nb;
            size *= 2;
        }
        ssize_t r = read(fd, buf + len, size - 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            rc = errno;
        else if (r == 0)
            break;
        else
            len += (size_t)r;
    }
    close(fd);
    if (rc == 0 && len > cap)
        rc = EFBIG;
    if (rc != 0) {
        wipe_free(buf, size);
        return rc;
    }
    buf[len] = '\0';
    *out = buf;
    *outlen = len;
    return 0;
}

static int key_index(const char *name) { return config_key_find(name, strlen(name)); }

/* Where to point for a key the file did not give: its section, or line 1. */
static unsigned missing_line(const config_build_t *b, size_t ki)
{
    int si = config_key_section(ki);
    return si >= 0 && b->section_line[si] ? b->section_line[si] : 1;
}

static unsigned key_or_missing_line(const config_build_t *b, size_t ki)
{
    return b->key_line[ki] ? b->key_line[ki] : missing_line(b, ki);
}

/* The value of a numeric key (int keys are never negative: bounds). */
static unsigned long long num_value(const herald_config_t *cfg, size_t ki)
{
    return (unsigned long long)config_key_num(cfg, &config_keys[ki]);
}

/* lo <= hi (or lo < hi when strict). Blames the key the operator wrote, so
 * that a lone reconnect_min_ms above the default maximum points at itself. */
static int check_order(config_build_t *b, const char *lo, const char *hi, bool strict)
{
    int li = key_index(lo), hi_i = key_index(hi);
    unsigned long long lv = num_value(b->cfg, (size_t)li), hv = num_value(b->cfg, (size_t)hi_i);
    if (strict ? lv < hv : lv <= hv)
        return 0;
    if (b->key_line[li] || !b->key_line[hi_i])
        config_error(b, key_or_missing_line(b, (size_t)li), lo, "must be %s %s (%llu), got %llu",
                     strict ? "less than" : "at most", hi, hv, lv);
    else
        config_error(b, b->key_line[hi_i], hi, "must be %s %s (%llu), got %llu",
                     strict ? "greater than" : "at least", lo, lv, hv);
    return -1;
}

/* A pubsub default or limit the file does not give follows the limit
 * above it instead of contradicting it: lowering server.max_stanza_size
 * (valid down to 1k before pubsub.* existed) or a pubsub limit must not
 * make a file fail over a key it never mentions. A value the file does
 * give is checked as written. */
static void lower_default(config_build_t *b, const char *lo, const char *hi)
{
    int li = key_index(lo), hi_i = key_index(hi);
    if (b->key_line[li] || num_value(b->cfg, (size_t)li) <= num_value(b->cfg, (size_t)hi_i))
        return;
    const config_key_t *k = &config_keys[li];
    config_key_store_num(b->cfg, k, config_key_num(b->cfg, &config_keys[hi_i]));
}

/* Loads server.secret from server.secret_file. `base` is the config file's
 * path, whose directory anchors a relative secret_file. */
static int load_secret_file(config_build_t *b, const char *base)
{
    herald_config_t *cfg = b->cfg;
    int ki = key_index("server.secret_file");
    unsigned line = b->key_line[ki];
    const char *slash = base ? strrchr(base, '/') : NULL;
    char *path;
    if (cfg->server.secret_file[0] != '/' && slash) {
        size_t dirlen = (size_t)(slash - base), n = dirlen + 1 + strlen(cfg->server.secret_file) + 1;
        path = malloc(n);
        if (path)
            snprintf(path, n, "%.*s/%s", (int)dirlen, base, cfg->server.secret_file);
    } else {
        path = strdup(cfg->server.secret_file);
    }
    if (!path) {
        config_error(b, line, "server.secret_file", "out of memory");
        return -1;
    }

    size_t cap = (size_t)config_keys[key_index("server.secret")].max;
    char *buf = NULL;
    size_t len = 0;
    int e = read_all(path, cap + 2 /* room for "\r\n" */, &buf, &len);
    int rc = -1;
    if (e == EFBIG) {
        config_error(b, line, "server.secret_file", "%s: larger than %zu bytes", path, cap);
    } else if (e) {
        config_error(b, line, "server.secret_file", "cannot read %s: %s", path, strerror(e));
    } else {
        size_t n = len;
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
            n--;
        if (memchr(buf, '\0', n))
            config_error(b, line, "server.secret_file", "%s: contains a NUL byte", path);
        else if (n == 0)
            config_error(b, line, "server.secret_file", "%s: is empty", path);
        else if (n > cap)
            config_error(b, line, "server.secret_file", "%s: larger than %zu bytes", path, cap);
        else {
            buf[n] = '\0';
            cfg->server.secret = strdup(buf);
            if (cfg->server.secret)
                rc = 0;
            else
                config_error(b, line, "server.secret_file", "out of memory");
        }
        wipe_free(buf, len + 1);
    }
    free(path);
    return rc;
}

/* Everything that needs the whole file: defaults, required keys, rules
 * between keys, and the secret file. */
static int finish(config_build_t *b, const char *base)
{
    for (size_t i = 0; i < config_nkeys; i++) {
        if (!b->key_line[i] && config_key_set_default(b->cfg, i) != 0) {
            config_error(b, 0, config_keys[i].name, "out of memory");
            return -1;
        }
    }
    for (size_t i = 0; i < config_nkeys; i++) {
        if ((config_keys[i].flags & CK_REQUIRED) && !b->key_line[i]) {
            config_error(b, missing_line(b, i), config_keys[i].name, "required key missing");
            return -1;
        }
    }

    int s = key_index("server.secret"), sf = key_index("server.secret_file");
    if (!b->key_line[s] && !b->key_line[sf]) {
        config_error(b, missing_line(b, (size_t)s), "server.secret",
                     "required key missing (give server.secret or server.secret_file)");
        return -1;
    }
    if (b->key_line[s] && b->key_line[sf]) {
        bool file_later = b->key_line[sf] > b->key_line[s];
        config_error(b, file_later ? b->key_line[sf] : b->key_line[s],
                     file_later ? "server.secret_file" : "server.secret",
                     "conflicts with %s at line %u: give only one",
                     file_later ? "server.secret" : "server.secret_file",
                     file_later ? b->key_line[s] : b->key_line[sf]);
        return -1;
    }

    /* Top down, so that a lowered limit reaches the default below it. */
    lower_default(b, "pubsub.max_payload_size_limit", "server.max_stanza_size");
    lower_default(b, "pubsub.default_max_payload_size", "pubsub.max_payload_size_limit");
    lower_default(b, "pubsub.default_max_items", "pubsub.max_items_limit");

    if (check_order(b, "server.reconnect_min_ms", "server.reconnect_max_ms", false) != 0 ||
        check_order(b, "server.ping_timeout_ms", "server.ping_interval_ms", true) != 0 ||
        check_order(b, "storage.reconnect_min_ms", "storage.reconnect_max_ms", false) != 0 ||
        check_order(b, "pubsub.default_max_items", "pubsub.max_items_limit", false) != 0 ||
        check_order(b, "pubsub.default_max_payload_size", "pubsub.max_payload_size_limit",
                    false) != 0 ||
        check_order(b, "pubsub.max_payload_size_limit", "server.max_stanza_size", false) != 0 ||
        check_order(b, "pubsub.send_queue_low", "pubsub.send_queue_high", true) != 0)
        return -1;

    if (b->key_line[sf])
        return load_secret_file(b, base);
    return 0;
}

static int load_text(const char *name, const char *base, const char *text, size_t len,
                     herald_config_t **out, char *err, size_t errlen)
{
    config_build_t b = {.path = name, .err = err, .errlen = errlen};
    b.cfg = calloc(1, sizeof(*b.cfg));
    if (!b.cfg) {
        config_error(&b, 0, "(file)", "out of memory");
        return -1;
    }
    if (config_yaml_parse(&b, text, len) != 0 || finish(&b, base) != 0) {
        config_free(b.cfg);
        return -1;
    }
    *out = b.cfg;
    return 0;
}

int config_load(const char *path, herald_config_t **out, char *err, size_t errlen)
{
    *out = NULL;
    if (err && errlen)
        err[0] = '\0';
    char *text = NULL;
    size_t len = 0;
    int e = read_all(path, CONFIG_FILE_MAX, &text, &len);
    if (e) {
        config_build_t b = {.path = path, .err = err, .errlen = errlen};
        if (e == EFBIG)
            config_error(&b, 0, "(file)", "cannot read: larger than %d bytes", CONFIG_FILE_MAX);
        else
            config_error(&b, 0, "(file)", "cannot read: %s", strerror(e));
        return -1;
    }
    int rc = load_text(path, path, text, len, out, err, errlen);
    /* The text may hold the component secret or a database password. */
    wipe_free(text, len + 1);
    return rc;
}

int config_load_string(const char *name, const char *text, size_t len, herald_config_t **out,
                       char *err, size_t errlen)
{
    *out = NULL;
    if (err && errlen)
        err[0] = '\0';
    return load_text(name, NULL, text, len, out, err, errlen);
}

void config_free(herald_config_t *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < config_nkeys; i++) {
        const config_key_t *k = &config_keys[i];
        if (k->type != CK_STRING && k->type != CK_PATH)
            continue;
        char **f = (char **)((char *)cfg + k->offset);
        if (*f && (k->flags & CK_SECRET))
            explicit_bzero(*f, strlen(*f));
        free(*f);
        *f = NULL;
    }
    free(cfg);
}

static bool same_value(const herald_config_t *a, const herald_config_t *b, const config_key_t *k)
{
    const char *fa = (const char *)a + k->offset, *fb = (const char *)b + k->offset;
    switch (k->type) {
    case CK_STRING:
    case CK_PATH: {
        const char *sa = *(char *const *)fa, *sb = *(char *const *)fb;
        return sa == sb || (sa && sb && strcmp(sa, sb) == 0);
    }
    case CK_INT:
    case CK_UINT:
    case CK_MS:
    case CK_SIZE:
    case CK_BOOL:
    case CK_LOGLEVEL: return config_key_num(a, k) == config_key_num(b, k);
    }
    return false;
}

const char *config_restart_needed(const herald_config_t *running, const herald_config_t *fresh)
{
    for (size_t i = 0; i < config_nkeys; i++) {
        if (!(config_keys[i].flags & CK_RELOAD) && !same_value(running, fresh, &config_keys[i]))
            return config_keys[i].name;
    }
    return NULL;
}
