/* Private to config/: the declarative key table and the state shared by
 * the YAML walker (config_yaml.c) and the checks that follow it
 * (config.c). Nothing outside config/ includes this, except its unit test
 * (which walks the table to check that the example file documents every
 * key). */
#ifndef HERALD_CONFIG_KEYS_H
#define HERALD_CONFIG_KEYS_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"

/* Upper bound on the table size, so per-key bookkeeping lives on the
 * stack; config_keys.c asserts the table fits at compile time. */
#define CONFIG_KEYS_MAX 64

typedef enum {
    CK_STRING,   /* char *, bounds are the byte length */
    CK_PATH,     /* char *, a file name; bounds are the byte length */
    CK_INT,      /* int */
    CK_UINT,     /* unsigned, a count */
    CK_MS,       /* unsigned, milliseconds */
    CK_SIZE,     /* size_t, bytes; k/m/g suffixes (powers of 1024) */
    CK_BOOL,     /* bool */
    CK_LOGLEVEL, /* hlog_level_t */
} config_type_t;

enum {
    CK_REQUIRED = 1u << 0, /* no default: the file must give it */
    CK_RELOAD = 1u << 1,   /* may change on SIGHUP without a restart */
    CK_SECRET = 1u << 2,   /* never echoed in messages */
};

/* Extra check on a string value after the type and length checks. Writes
 * the reason ("must be ...") into msg and returns -1 when the value is bad.
 * Called with value NULL, a validator that narrows the string to a few
 * words (an enum) writes what it accepts ("one of open, whitelist") into
 * msg and returns 1, so that messages quote that instead of the byte
 * length; the others return 0. */
typedef int (*config_validator_t)(const char *value, char *msg, size_t msglen);

typedef struct {
    const char *name;   /* dotted: "section.key" */
    config_type_t type;
    size_t offset;      /* of the field in herald_config_t */
    long long min, max; /* value bounds; byte length for strings */
    const char *def_str; /* default of string keys (NULL: none) */
    long long def_num;   /* default of the other types */
    unsigned flags;      /* CK_* */
    config_validator_t validate; /* NULL: none */
} config_key_t;

extern const config_key_t config_keys[];
extern const size_t config_nkeys;

/* Index of the key named "section.key" (name_len bytes), or -1. */
int config_key_find(const char *name, size_t name_len);
/* Index of the first key of section `name` (which identifies the section),
 * or -1 if no key lives under that section. */
int config_section_find(const char *name, size_t name_len);
/* The section index (as config_section_find) of key `ki`. */
int config_key_section(size_t ki);
/* Closest key (or section when `section_only`) to `name` within edit
 * distance 2, for "did you mean" hints; NULL if none is close. Returns a
 * pointer into the table; *len gets the length of the suggested name. */
const char *config_suggest(const char *name, bool section_only, size_t *len);

/* Everything a load accumulates besides the config itself. Lines are
 * 1-based; 0 means "not in the file". */
typedef struct {
    herald_config_t *cfg;
    const char *path;        /* as given, for messages */
    unsigned key_line[CONFIG_KEYS_MAX];
    unsigned section_line[CONFIG_KEYS_MAX]; /* indexed by config_section_find */
    char *err;
    size_t errlen;
    bool failed;             /* the first error wins; later ones are dropped */
} config_build_t;

/* Records the one error line "PATH:LINE: KEY: MESSAGE" unless an error was
 * already recorded. Control characters are replaced so it stays one line. */
void config_error(config_build_t *b, unsigned line, const char *key,
                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Converts scalar `value` for key index `ki`, checks bounds and validator,
 * stores it into b->cfg (owning a copy for strings). On a bad value records
 * an error at `line` and returns -1. */
int config_key_apply(config_build_t *b, size_t ki, const char *value,
                     unsigned line);
/* Describes what key `ki` accepts, e.g. "an integer in 1..64". */
void config_key_expect(size_t ki, char *buf, size_t buflen);
/* Stores the default of key `ki` (copying strings). 0, or -1 on OOM. */
int config_key_set_default(herald_config_t *cfg, size_t ki);
/* Reads / writes the field of numeric key `k` (bool as 0 or 1) in cfg,
 * whatever its C type; bounds are not checked. 0 / no-op for strings. */
long long config_key_num(const herald_config_t *cfg, const config_key_t *k);
void config_key_store_num(herald_config_t *cfg, const config_key_t *k, long long v);

/* Walks the YAML document in text[0..len) and applies every key it holds.
 * Returns 0, or -1 with the error recorded in b. */
int config_yaml_parse(config_build_t *b, const char *text, size_t len);

#endif
