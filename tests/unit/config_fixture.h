/* Fixture for the config/ unit tests (test_config*.c): YAML written into a
 * mkdtemp directory and loaded from there, and FAILS(), which checks the
 * one-line error (file, exact line, key, message) a bad file yields.
 * Header-only; include after unit.h. */
#ifndef HERALD_CONFIG_FIXTURE_H
#define HERALD_CONFIG_FIXTURE_H

#include <dirent.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"

static char tmpdir[64];

#define MIN_SERVER "server:\n  domain: pubsub.example.org\n  secret: s3cret\n"
#define MIN_STORAGE "storage:\n  postgres: \"host=127.0.0.1 dbname=herald\"\n"
#define MIN_YAML MIN_SERVER MIN_STORAGE

static inline const char *fixture_path(const char *name)
{
    static char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    return path;
}

static inline void write_fixture(const char *name, const char *text)
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
static inline herald_config_t *load(const char *yaml, char *err, size_t errlen)
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
static inline bool fails_with(const char *yaml, unsigned line, const char *key, const char *part)
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

/* Creates the fixture directory; 0, or -1 (reported) on failure. */
static inline int fixture_dir_create(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/herald-test-config-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return -1;
    }
    return 0;
}

/* Removes the fixture directory and whatever the tests wrote into it. */
static inline void fixture_dir_remove(void)
{
    DIR *d = opendir(tmpdir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)))
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
                unlink(fixture_path(e->d_name));
        closedir(d);
    }
    rmdir(tmpdir);
}

#endif
