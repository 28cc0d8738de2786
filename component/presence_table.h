/* The compact table of contacts' available resources behind presence.c.
 *
 * One heap record per bare JID holds the bare JID string and all of its
 * entries; an entry is (local id, caps id, resource), the local id naming
 * the JID at our domain the presence was addressed to (see strtab.h), the
 * caps id naming the contact's XEP-0115 feature set (see caps_cache.h).
 * Records live in an open-addressing index of pointers. A tracked full JID
 * costs its strings plus ~8 bytes of ids, the record header and malloc
 * overhead shared by the bare JID's resources, and an index slot.
 *
 * Invariants: all entries of one full JID carry the same caps id (a client
 * resource has one set of capabilities, whoever it sends presence to), and
 * they are contiguous in the record, so distinct full JIDs can be counted
 * and listed without extra state.
 *
 * Keys are given already normalized (jid_bare / jid_normalize). */
#ifndef HERALD_PRESENCE_TABLE_H
#define HERALD_PRESENCE_TABLE_H

#include <stddef.h>
#include <stdint.h>

typedef struct ptab ptab_t;

/* Views into a record, valid only during the callback. `res` is "" (not
 * NULL) for presence sent from a bare JID. */
typedef struct {
    const char *bare;
    size_t bare_len;
    const char *res;
    size_t res_len;
    uint32_t local_id;
    uint32_t caps_id;
} ptab_entry_t;
/* Callbacks must not modify the table. */
typedef void (*ptab_entry_fn)(const ptab_entry_t *e, void *ud);

/* `max_entries` bounds the (resource, local) entries of one bare JID. */
ptab_t *ptab_new(unsigned max_entries);
void ptab_set_max_entries(ptab_t *t, unsigned max_entries);
/* Frees the table; ids held by entries are not released (use ptab_clear
 * first when they hold references). */
void ptab_free(ptab_t *t);
/* Removes every entry, calling fn (may be NULL) for each. */
void ptab_clear(ptab_t *t, ptab_entry_fn fn, void *ud);

#define PTAB_UPDATED 0
#define PTAB_ADDED 1
#define PTAB_ENOMEM (-1)
#define PTAB_ELIMIT (-2)

/* Adds the entry (bare/res, local_id) or finds it, and sets caps_id on it
 * and on every other entry of the same full JID. *prev_caps gets the caps
 * id the full JID had before (0 if it was not tracked or had none);
 * *changed the number of pre-existing entries whose caps id changed (each
 * holds one reference the caller may want to move). Returns PTAB_ADDED,
 * PTAB_UPDATED, or a negative PTAB_E* without any change. */
int ptab_upsert(ptab_t *t, const char *bare, size_t bare_len, const char *res,
                size_t res_len, uint32_t local_id, uint32_t caps_id,
                uint32_t *prev_caps, uint32_t *changed);

/* Removes the entries of `bare` with resource `res` (NULL: any) and local
 * `local_id` (0: any), calling fn (may be NULL) for each just before it
 * goes. Returns how many were removed. */
size_t ptab_remove(ptab_t *t, const char *bare, size_t bare_len,
                   const char *res, size_t res_len, uint32_t local_id,
                   ptab_entry_fn fn, void *ud);

/* Calls fn for each entry of `bare` with resource `res` (NULL: any). */
size_t ptab_each(const ptab_t *t, const char *bare, size_t bare_len,
                 const char *res, size_t res_len, ptab_entry_fn fn, void *ud);
/* Calls fn once per distinct full JID of `bare` (with its first entry). */
size_t ptab_each_full(const ptab_t *t, const char *bare, size_t bare_len,
                      ptab_entry_fn fn, void *ud);

/* 1 if the full JID is tracked (its caps id in *caps_id), else 0. */
int ptab_find_full(const ptab_t *t, const char *bare, size_t bare_len,
                   const char *res, size_t res_len, uint32_t *caps_id);
int ptab_has_bare(const ptab_t *t, const char *bare, size_t bare_len);

size_t ptab_count_full(const ptab_t *t);
size_t ptab_count_bare(const ptab_t *t);
/* Bytes requested from malloc for the index and records. */
size_t ptab_bytes(const ptab_t *t);

#endif
