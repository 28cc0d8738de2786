/* Parsing of pubsub IQs (XEP-0060 §5–§8) into a typed request, with every
 * syntactic error mapped to the condition the XEP's "Error Cases" give.
 * Checks that need a node, its configuration or its affiliations are not
 * made here (see model.h, node_config.h, atom.h): this is only what the
 * stanza itself can tell.
 *
 * A parsed request borrows strings and elements from the IQ: keep the
 * stanza alive (xmpp_stanza_clone) as long as the request is used, e.g.
 * across a storage round trip. Normalized JIDs and arrays are owned by
 * the request; ps_request_clear frees them. */
#ifndef HERALD_PS_REQUEST_H
#define HERALD_PS_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <strophe.h>

#include "component/xmpp_error.h"
#include "pubsub/model.h"

typedef enum {
    PS_REQ_NONE = 0,
    /* http://jabber.org/protocol/pubsub */
    PS_REQ_CREATE,        /* set: node (NULL = instant node), form */
    PS_REQ_SUBSCRIBE,     /* set: node, jid */
    PS_REQ_UNSUBSCRIBE,   /* set: node, jid, subid */
    PS_REQ_PUBLISH,       /* set: node, item, item_id, payload, form */
    PS_REQ_RETRACT,       /* set: node, notify, item_ids */
    PS_REQ_ITEMS,         /* get: node, max_items, item_ids, subid */
    PS_REQ_SUBSCRIPTIONS, /* get: node (NULL = all nodes) §5.6 */
    PS_REQ_AFFILIATIONS,  /* get: node (NULL = all nodes) §5.7 */
    /* http://jabber.org/protocol/pubsub#owner */
    PS_REQ_CONFIGURE_GET,           /* get: node */
    PS_REQ_CONFIGURE_SET,           /* set: node, form (type submit or cancel) */
    PS_REQ_DEFAULT,                 /* get §8.3 */
    PS_REQ_DELETE,                  /* set: node, redirect_uri */
    PS_REQ_PURGE,                   /* set: node */
    PS_REQ_OWNER_SUBSCRIPTIONS_GET, /* get: node */
    PS_REQ_OWNER_SUBSCRIPTIONS_SET, /* set: node, sub_changes */
    PS_REQ_OWNER_AFFILIATIONS_GET,  /* get: node */
    PS_REQ_OWNER_AFFILIATIONS_SET,  /* set: node, aff_changes */
} ps_verb_t;

/* One <affiliation jid affiliation/> of an owner's modification (§8.9.2). */
typedef struct {
    char *jid; /* normalized bare JID (owned) */
    ps_affiliation_t affiliation;
} ps_aff_change_t;

/* One <subscription jid subscription subid/> of an owner's modification
 * (§8.8.2). has_state false: the attribute was absent ("MUST NOT be
 * changed"). */
typedef struct {
    char *jid; /* normalized JID as given, bare or full (owned) */
    ps_sub_state_t state;
    bool has_state;
    const char *subid; /* or NULL */
} ps_sub_change_t;

typedef struct {
    ps_verb_t verb;
    xmpp_stanza_t *iq; /* the request (borrowed) */
    const char *from;  /* full JID as received */
    char *from_bare;   /* normalized bare JID of the requester (owned) */
    const char *node;  /* NodeID, NULL when absent */

    /* create (<configure/>), configure set, publish (<publish-options/>):
     * the <x xmlns='jabber:x:data'/> element, or NULL. */
    xmpp_stanza_t *form;

    /* subscribe / unsubscribe */
    char *jid;         /* normalized subscriber JID (owned) */
    const char *subid; /* unsubscribe, items: or NULL */

    /* publish */
    xmpp_stanza_t *item;    /* the <item/>, or NULL when the publish has none */
    const char *item_id;    /* its id, NULL when absent or empty */
    xmpp_stanza_t *payload; /* its one payload element, or NULL */

    /* retract */
    bool notify; /* notify='true'/'1' */

    /* retract (>= 1) and items (0 = all): item ids, borrowed strings */
    const char **item_ids;
    size_t n_item_ids;

    /* items: max_items attribute, 0 when absent */
    uint32_t max_items;

    /* delete */
    const char *redirect_uri;

    /* owner modifications */
    ps_aff_change_t *aff_changes;
    size_t n_aff_changes;
    ps_sub_change_t *sub_changes;
    size_t n_sub_changes;
} ps_request_t;

/* Parses `iq` (type get or set, first element child <pubsub/> in the
 * pubsub or pubsub#owner namespace) into *req, which must not hold a
 * previous request. Returns 0, or an xerr_t with *err filled; *req then
 * holds nothing to free (clearing it is still allowed). Errors:
 *   bad-request   malformed or missing 'from', no/unknown/extra verb
 *                 element, verb sent with the wrong IQ type, bad
 *                 attribute values, <configure/> not right after
 *                 <create/> or carrying a node (§8.1.3);
 *   bad-request + nodeid-required   publish, retract, items, subscribe,
 *                 unsubscribe, configure, delete, purge and the owner
 *                 lists without a node (§7.2.3.3, §8.2.3.3);
 *   bad-request + jid-required      subscribe/unsubscribe without jid;
 *   bad-request + invalid-jid       subscribe jid whose bare JID is not
 *                 the sender's, or malformed (§6.1.3.1);
 *   bad-request + invalid-payload   publish with more than one <item/>
 *                 (batch publishing was removed in 1.13) or an item with
 *                 more than one payload element (§7.1.3.5);
 *   bad-request + item-required     retract without an item id
 *                 (§7.2.3.4);
 *   feature-not-implemented + unsupported 'subscription-options' for
 *                 <options/> (§6.3.4), 'retrieve-default-sub' for
 *                 <default/> in the pubsub namespace (§6.4.3). */
int ps_request_parse(xmpp_stanza_t *iq, ps_request_t *req, xerr_spec_t *err);

void ps_request_clear(ps_request_t *req);

/* Short English name ("publish", "owner-affiliations-set"…) for logs. */
const char *ps_verb_name(ps_verb_t verb);

#endif
