/* A growable byte buffer for building XML text, with XML escaping. The
 * fan-out engine reuses one buffer for many notifications, so appends
 * never shrink it: ps_buf_reset keeps the allocation. */
#ifndef HERALD_PS_BUF_H
#define HERALD_PS_BUF_H

#include <stddef.h>

typedef struct {
    char *data; /* NUL-terminated after every successful append */
    size_t len;
    size_t cap;
} ps_buf_t;

/* A zeroed ps_buf_t is a valid empty buffer; ps_buf_init just zeroes. */
void ps_buf_init(ps_buf_t *b);
void ps_buf_free(ps_buf_t *b);
/* Empties the buffer, keeping its memory. */
void ps_buf_reset(ps_buf_t *b);
/* Makes room for `extra` more bytes (plus the NUL). 0 or -1 on OOM. */
int ps_buf_reserve(ps_buf_t *b, size_t extra);
/* Each append returns 0, or -1 on OOM (the buffer is then unchanged). */
int ps_buf_append(ps_buf_t *b, const void *p, size_t n);
int ps_buf_append_str(ps_buf_t *b, const char *s);
/* Appends `s` escaped for an attribute value quoted with either quote
 * character (& < > ' " become entities). */
int ps_buf_append_attr(ps_buf_t *b, const char *s, size_t n);
/* Appends ` prefix name='value'`, the value escaped as above; `prefix`
 * (e.g. "xmlns:", "thr:") may be NULL. */
int ps_buf_append_attribute(ps_buf_t *b, const char *prefix, const char *name, const char *value);
/* Appends `s` escaped as character data (& < > become entities; '>' so
 * that "]]>" can never appear). */
int ps_buf_append_text(ps_buf_t *b, const char *s, size_t n);
/* Appends the decimal digits of v. */
int ps_buf_append_u64(ps_buf_t *b, unsigned long long v);

/* Bytes `s` needs once escaped as an attribute value. */
size_t ps_buf_attr_len(const char *s, size_t n);

#endif
