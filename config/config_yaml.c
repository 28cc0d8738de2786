/* Walks libyaml's event stream for the one shape Herald accepts:
 *
 *     section:            (a mapping of sections...)
 *       key: scalar       (...each a mapping of scalars)
 *
 * Events rather than libyaml's document API because events carry the mark
 * of every key, and because the walk can stop at the first problem without
 * building a tree. The first problem becomes the one error line; errors
 * about a key carry the line of that key. */
#include "config/config_keys.h"

#include <stdio.h>
#include <string.h>
#include <yaml.h>

typedef struct {
    config_build_t *b;
    yaml_parser_t parser;
    const char *text;
    size_t len;
} walker_t;

/* Key placeholders for errors that belong to no key. */
#define KEY_YAML "(yaml)"
#define KEY_DOCUMENT "(document)"

static unsigned mark_line(const yaml_mark_t *m) { return (unsigned)m->line + 1; }

/* Reader errors (bad UTF-8, control characters) carry a byte offset but
 * no mark; the line is recovered from the text we handed to libyaml. */
static unsigned offset_line(const walker_t *w, size_t off)
{
    unsigned line = 1;
    for (size_t i = 0; i < off && i < w->len; i++)
        line += w->text[i] == '\n';
    return line;
}

static void syntax_error(walker_t *w)
{
    const yaml_parser_t *p = &w->parser;
    const char *problem = p->problem ? p->problem : "unknown error";
    switch (p->error) {
    case YAML_MEMORY_ERROR:
        config_error(w->b, 0, KEY_YAML, "out of memory while parsing");
        break;
    case YAML_READER_ERROR:
        if (p->problem_value != -1)
            config_error(w->b, offset_line(w, p->problem_offset), KEY_YAML,
                         "YAML syntax error: %s (#%X at byte %zu)", problem,
                         (unsigned)p->problem_value, p->problem_offset);
        else
            config_error(w->b, offset_line(w, p->problem_offset), KEY_YAML,
                         "YAML syntax error: %s (at byte %zu)", problem,
                         p->problem_offset);
        break;
    default:
        if (p->context)
            config_error(w->b, mark_line(&p->problem_mark), KEY_YAML,
                         "YAML syntax error: %s %s (line %u column %u)", problem,
                         p->context, mark_line(&p->context_mark),
                         (unsigned)p->context_mark.column + 1);
        else
            config_error(w->b, mark_line(&p->problem_mark), KEY_YAML,
                         "YAML syntax error: %s (column %u)", problem,
                         (unsigned)p->problem_mark.column + 1);
        break;
    }
}

static int next(walker_t *w, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&w->parser, ev)) {
        syntax_error(w);
        return -1;
    }
    return 0;
}

static const char *scalar(const yaml_event_t *ev) { return (const char *)ev->data.scalar.value; }

/* YAML 1.1 null: an empty or "~"/"null" plain scalar. */
static bool is_null(const yaml_event_t *ev)
{
    if (ev->type != YAML_SCALAR_EVENT || ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *s = scalar(ev);
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
           !strcmp(s, "NULL");
}

static const char *what(const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_MAPPING_START_EVENT: return "a mapping";
    case YAML_SEQUENCE_START_EVENT: return "a list";
    case YAML_ALIAS_EVENT: return "an alias (anchors and aliases are not supported)";
    case YAML_SCALAR_EVENT: return is_null(ev) ? "nothing" : "a scalar";
    default: return "something else";
    }
}

static void unknown_key(walker_t *w, unsigned line, const char *name, bool section)
{
    size_t slen = 0;
    const char *s = config_suggest(name, section, &slen);
    /* An empty section name ("": x) would leave the KEY field empty. */
    if (!*name)
        name = "\"\"";
    if (s)
        config_error(w->b, line, name, "unknown key (did you mean %.*s?)", (int)slen, s);
    else
        config_error(w->b, line, name, "unknown key");
}

/* One "key: value" inside section `sec` (the key event already read). */
static int walk_key(walker_t *w, const char *sec, const yaml_event_t *kev)
{
    config_build_t *b = w->b;
    unsigned line = mark_line(&kev->start_mark);
    char name[208]; /* section (<= 103) "." key (<= 100) */
    snprintf(name, sizeof(name), "%s.%.100s", sec, scalar(kev));

    int ki = config_key_find(name, strlen(name));
    if (ki < 0 || strlen(scalar(kev)) != kev->data.scalar.length) {
        unknown_key(w, line, name, false);
        return -1;
    }
    if (b->key_line[ki]) {
        config_error(b, line, name, "duplicate key (first given at line %u)", b->key_line[ki]);
        return -1;
    }
    b->key_line[ki] = line;

    yaml_event_t ev;
    if (next(w, &ev) != 0)
        return -1;
    int rc = -1;
    char expect[96];
    if (ev.type != YAML_SCALAR_EVENT || is_null(&ev)) {
        config_key_expect((size_t)ki, expect, sizeof(expect));
        config_error(b, line, name, "must be %s, got %s", expect, what(&ev));
    } else if (strlen(scalar(&ev)) != ev.data.scalar.length) {
        config_error(b, line, name, "must not contain NUL bytes");
    } else {
        rc = config_key_apply(b, (size_t)ki, scalar(&ev), line);
    }
    yaml_event_delete(&ev);
    return rc;
}

/* Reads the value that must open a mapping. Returns 1 when it does, 0 when
 * it is null (nothing given), and -1 otherwise, with the error "KEY: must
 * be MUST, got ..." at `line`, or at the value's own line when `line` is 0. */
static int open_mapping(walker_t *w, unsigned line, const char *key, const char *must)
{
    yaml_event_t ev;
    if (next(w, &ev) != 0)
        return -1;
    int rc = 1;
    if (is_null(&ev)) {
        rc = 0;
    } else if (ev.type != YAML_MAPPING_START_EVENT) {
        config_error(w->b, line ? line : mark_line(&ev.start_mark), key, "must be %s, got %s",
                     must, what(&ev));
        rc = -1;
    }
    yaml_event_delete(&ev);
    return rc;
}

/* Reads the next key of an open mapping into *ev, which the caller then
 * deletes. Returns 1, 0 at the end of the mapping, -1 on a syntax error. */
static int next_key(walker_t *w, yaml_event_t *ev)
{
    if (next(w, ev) != 0)
        return -1;
    if (ev->type == YAML_MAPPING_END_EVENT) {
        yaml_event_delete(ev);
        return 0;
    }
    return 1;
}

/* The value of section `sec` (declared at `line`): a mapping of keys, or
 * nothing at all, which lets an operator comment out a whole section. */
static int walk_section(walker_t *w, const char *sec, unsigned line)
{
    int rc = open_mapping(w, line, sec, "a mapping of keys");
    if (rc <= 0)
        return rc;
    yaml_event_t ev;
    while ((rc = next_key(w, &ev)) > 0) {
        if (ev.type != YAML_SCALAR_EVENT) {
            config_error(w->b, mark_line(&ev.start_mark), sec,
                         "keys must be plain names, got %s", what(&ev));
            rc = -1;
        } else {
            rc = walk_key(w, sec, &ev);
        }
        yaml_event_delete(&ev);
        if (rc != 0)
            return -1;
    }
    return rc;
}

static int walk_root(walker_t *w)
{
    config_build_t *b = w->b;
    /* Null: "---" and nothing else. */
    int rc = open_mapping(w, 0, KEY_DOCUMENT,
                          "a mapping of sections (server, storage, pubsub, presence, log)");
    if (rc <= 0)
        return rc;
    yaml_event_t ev;
    while ((rc = next_key(w, &ev)) > 0) {
        unsigned line = mark_line(&ev.start_mark);
        if (ev.type != YAML_SCALAR_EVENT) {
            config_error(b, line, KEY_DOCUMENT, "section names must be plain names, got %s",
                         what(&ev));
            yaml_event_delete(&ev);
            return -1;
        }
        char sec[104];
        snprintf(sec, sizeof(sec), "%.100s", scalar(&ev));
        bool embedded_nul = strlen(scalar(&ev)) != ev.data.scalar.length;
        yaml_event_delete(&ev);

        int si = config_section_find(sec, strlen(sec));
        if (si < 0 || embedded_nul) {
            unknown_key(w, line, sec, true);
            return -1;
        }
        if (b->section_line[si]) {
            config_error(b, line, sec, "duplicate key (first given at line %u)",
                         b->section_line[si]);
            return -1;
        }
        b->section_line[si] = line;
        if (walk_section(w, sec, line) != 0)
            return -1;
    }
    return rc;
}

static int walk(walker_t *w)
{
    yaml_event_t ev;
    if (next(w, &ev) != 0) /* stream start */
        return -1;
    yaml_event_delete(&ev);
    if (next(w, &ev) != 0)
        return -1;
    bool empty = ev.type == YAML_STREAM_END_EVENT; /* only comments, or nothing */
    yaml_event_delete(&ev);
    if (empty)
        return 0;
    if (walk_root(w) != 0)
        return -1;
    if (next(w, &ev) != 0) /* document end */
        return -1;
    yaml_event_delete(&ev);
    if (next(w, &ev) != 0)
        return -1;
    int rc = 0;
    if (ev.type != YAML_STREAM_END_EVENT) {
        config_error(w->b, mark_line(&ev.start_mark), KEY_DOCUMENT,
                     "only one YAML document is allowed");
        rc = -1;
    }
    yaml_event_delete(&ev);
    return rc;
}

int config_yaml_parse(config_build_t *b, const char *text, size_t len)
{
    walker_t w = {.b = b, .text = text, .len = len};
    if (!yaml_parser_initialize(&w.parser)) {
        config_error(b, 0, KEY_YAML, "out of memory");
        return -1;
    }
    yaml_parser_set_input_string(&w.parser, (const unsigned char *)text, len);
    int rc = walk(&w);
    yaml_parser_delete(&w.parser);
    return rc;
}
