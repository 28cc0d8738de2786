/* JID parsing and normalization (RFC 7622), without allocation. Herald
 * compares JIDs in normalized form: localpart and domainpart folded to
 * lower case (ASCII; full PRECIS folding is not applied to non-ASCII),
 * resourcepart kept as is. */
#ifndef HERALD_JID_H
#define HERALD_JID_H

#include <stddef.h>

#define JID_PART_MAX 1023

/* Views into a JID string; lengths exclude the separators. A part that is
 * absent has len 0 and ptr NULL. */
typedef struct {
    const char *local;
    size_t local_len;
    const char *domain;
    size_t domain_len;
    const char *resource;
    size_t resource_len;
} jid_parts_t;

/* Splits `jid`; returns 0 if it is well-formed (non-empty domain, parts
 * within 1023 bytes, no empty localpart before '@' or resource after '/',
 * no forbidden characters in the localpart), -1 otherwise. */
int jid_split(const char *jid, jid_parts_t *out);

/* Writes the normalized bare JID (local@domain or domain) into buf.
 * Returns its length, or -1 if malformed or it does not fit. */
int jid_bare(const char *jid, char *buf, size_t buflen);

/* Writes the normalized full JID into buf (resource kept as is). */
int jid_normalize(const char *jid, char *buf, size_t buflen);

/* 1 if the two JIDs are equal after normalization, 0 otherwise (also when
 * either is malformed). */
int jid_equal(const char *a, const char *b);
/* 1 if the bare JIDs of a and b are equal after normalization. */
int jid_bare_equal(const char *a, const char *b);

/* 1 if `jid`'s domainpart equals `domain` (case-insensitively). */
int jid_is_at_domain(const char *jid, const char *domain);

#endif
