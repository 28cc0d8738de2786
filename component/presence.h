/* Roster-less presence for the component's domain and every JID at it.
 *
 * Answers probes with available presence (with our XEP-0115 <c/>),
 * answers subscribe with subscribed + available presence, unsubscribe
 * with unsubscribed; tracks the available full JIDs of contacts with
 * their caps `ver`, resolving each unknown `ver` once (one disco#info per
 * ver, not per contact) and caching its feature set. Memory per tracked
 * contact is small: JIDs are stored once, caps entries are shared.
 *
 * Persisting presence subscriptions is delegated to an optional store
 * (see presence_set_store); without one, subscriptions are answered but
 * not remembered. */
#ifndef HERALD_PRESENCE_H
#define HERALD_PRESENCE_H

#include <stddef.h>

#include "component/disco.h"
#include "component/router.h"

typedef struct presence presence_t;

presence_t *presence_new(router_t *router, disco_t *disco, const char *domain);
void presence_free(presence_t *presence);

/* Is any resource of this bare JID available? */
int presence_is_online(presence_t *presence, const char *bare_jid);

/* Calls cb for each available full JID of `bare_jid`; returns the count.
 * The full_jid string is only valid during the call, and cb must not
 * change presence state (e.g. call presence_track). */
typedef void (*presence_resource_cb)(const char *full_jid, void *userdata);
size_t presence_each_resource(presence_t *presence, const char *bare_jid,
                              presence_resource_cb cb, void *userdata);

/* 1 if the caps of this full JID include `feature`, 0 if they do not,
 * -1 if unknown (no caps advertised, or not yet resolved). */
int presence_has_feature(presence_t *presence, const char *full_jid,
                         const char *feature);

/* Number of tracked available full JIDs. */
size_t presence_count(presence_t *presence);

/* Notified when a full JID becomes available, when its caps get resolved,
 * and when it becomes unavailable (PEP needs this for +notify and for
 * sending the last item when a contact comes online). `local_jid` is the
 * JID at our domain the presence was addressed to. */
typedef enum {
    PRESENCE_AVAILABLE,
    PRESENCE_CAPS_RESOLVED,
    PRESENCE_UNAVAILABLE,
} presence_event_t;
typedef void (*presence_watch_fn)(presence_event_t ev, const char *local_jid,
                                  const char *full_jid, void *userdata);
void presence_watch(presence_t *presence, presence_watch_fn fn, void *userdata);

/* Persistence of presence subscriptions (implemented by storage). Calls
 * are fire-and-forget from presence's point of view. */
typedef struct {
    void (*subscribed)(void *ud, const char *local_jid, const char *contact_bare);
    void (*unsubscribed)(void *ud, const char *local_jid, const char *contact_bare);
    void *ud;
} presence_store_t;
void presence_set_store(presence_t *presence, const presence_store_t *store);

/* Sends available presence from `local_jid` to `to` (used on start-up to
 * re-announce ourselves to known subscribers). */
void presence_send_available(presence_t *presence, const char *local_jid,
                             const char *to);

/* Bounds on what contacts can make us hold (0 in a field keeps the
 * current value). Defaults: 256 entries per contact (an entry is one
 * (resource, local JID) pair), 4096 cached caps `ver` values (entries in
 * use are never dropped, so this is exceeded only by what is in use), and
 * a 30 s timeout for disco#info queries resolving a `ver`. */
typedef struct {
    unsigned max_entries_per_contact;
    size_t caps_cache_max;
    unsigned caps_timeout_ms;
} presence_limits_t;
void presence_set_limits(presence_t *presence, const presence_limits_t *limits);

/* Test and bench hook: feeds a synthetic available/unavailable presence
 * without going through the router. `ver` may be NULL. */
void presence_track(presence_t *presence, const char *local_jid,
                    const char *full_jid, const char *caps_node,
                    const char *ver, int available);

#endif
