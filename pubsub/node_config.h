/* XEP-0060 node configuration (§8.2, FORM_TYPE pubsub#node_config): the
 * options Herald honours, the service defaults and limits, and the
 * conversions to and from data forms: submitted configuration (§8.1.3
 * create-and-configure, §8.2.4 configure), the configuration form (§8.2.2,
 * §8.3 default), node metadata (§5.4), and publish-options preconditions
 * (§7.1.5). No I/O: stanzas in, stanzas or errors out.
 *
 * Submitted-form rules (XEP-0004 §3.3 says a form-processing entity MUST
 * ignore fields it does not understand; XEP-0060 §8.2.5.2 says a change
 * that cannot be processed is not-acceptable):
 *   - fields outside the table below are ignored;
 *   - a value that is malformed, out of range, or asks for something
 *     Herald does not implement is not-acceptable, with a text naming the
 *     field; an access model Herald does not implement also carries
 *     pubsub#errors <unsupported-access-model/> (§8.1.2);
 *   - registered fields whose behaviour is fixed here (notify_config,
 *     notify_sub, presence_based_delivery, purge_offline, tempsub,
 *     subscribe, node_type) are accepted when they ask for that fixed
 *     behaviour and refused otherwise (node_type=collection is
 *     feature-not-implemented + unsupported 'collections', XEP-0248);
 *   - the form is applied all or nothing.
 * Publish-options (§7.1.5) are stricter: every field is a precondition
 * compared with the node's configuration, and an unknown field fails it. */
#ifndef HERALD_PS_NODE_CONFIG_H
#define HERALD_PS_NODE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <strophe.h>

#include "component/xmpp_error.h"

#define PS_NS_NODE_CONFIG "http://jabber.org/protocol/pubsub#node_config"
#define PS_NS_PUBLISH_OPTIONS "http://jabber.org/protocol/pubsub#publish-options"
/* XEP-0060 §5.4 and its registered FORM_TYPE (as of version 1.30.0). */
#define PS_NS_METADATA "http://jabber.org/protocol/pubsub#meta-data"

/* pubsub#max_items = "max": no limit but the service's (limits below). */
#define PS_MAX_ITEMS_MAX UINT32_MAX

/* Values of the enumerations are the order of the *_name() tables. */
typedef enum {
    PS_ACCESS_OPEN = 0,
    PS_ACCESS_WHITELIST,
    /* Known to the protocol, refused by this version (access-control
     * issue): presence, roster, authorize. */
    PS_ACCESS_PRESENCE,
    PS_ACCESS_ROSTER,
    PS_ACCESS_AUTHORIZE,
} ps_access_model_t;

typedef enum {
    PS_PUBLISH_PUBLISHERS = 0,
    PS_PUBLISH_OPEN,
    PS_PUBLISH_SUBSCRIBERS, /* known, refused for now */
} ps_publish_model_t;

typedef enum {
    PS_SEND_LAST_NEVER = 0,
    PS_SEND_LAST_ON_SUB,
    PS_SEND_LAST_ON_SUB_AND_PRESENCE, /* known, refused for now */
} ps_send_last_t;

typedef enum {
    PS_NOTIF_HEADLINE = 0,
    PS_NOTIF_NORMAL,
} ps_notification_type_t;

/* A node's configuration. Strings are owned (malloc'd) and never NULL
 * once the struct went through ps_config_copy/ps_config_defaults_init;
 * "" means unset. */
typedef struct {
    char *title;                              /* pubsub#title */
    char *description;                        /* pubsub#description */
    char *type;                               /* pubsub#type: payload namespace */
    uint32_t max_items;                       /* pubsub#max_items, PS_MAX_ITEMS_MAX = "max" */
    uint32_t max_payload_size;                /* pubsub#max_payload_size, bytes */
    bool persist_items;                       /* pubsub#persist_items */
    bool deliver_payloads;                    /* pubsub#deliver_payloads */
    bool deliver_notifications;               /* pubsub#deliver_notifications */
    bool notify_retract;                      /* pubsub#notify_retract (also purge) */
    bool notify_delete;                       /* pubsub#notify_delete */
    ps_send_last_t send_last;                 /* pubsub#send_last_published_item */
    ps_access_model_t access;                 /* pubsub#access_model */
    ps_publish_model_t publish;               /* pubsub#publish_model */
    ps_notification_type_t notification_type; /* pubsub#notification_type */
} ps_node_config_t;

/* Service-wide defaults for new nodes and the bounds every node obeys
 * (to be filled from the YAML configuration). */
typedef struct {
    ps_node_config_t node;      /* configuration of a node created without a form */
    uint32_t max_items_limit;   /* what "max" means; numbers above are refused */
    uint32_t max_payload_limit; /* ceiling for pubsub#max_payload_size */
} ps_config_defaults_t;

/* Built-in defaults: open, publishers, persistent with payloads, 256
 * items (limit 10000), 64 KiB payloads (limit 256 KiB), notify on retract
 * and delete, last item sent on subscribe, headline notifications.
 * Returns 0, or -1 on OOM. Free with ps_config_defaults_clear. */
int ps_config_defaults_init(ps_config_defaults_t *d);
void ps_config_defaults_clear(ps_config_defaults_t *d);

/* Deep copy into `dst` (which must not hold strings, or was cleared).
 * Returns 0, or -1 on OOM (dst then holds nothing to free). */
int ps_config_copy(ps_node_config_t *dst, const ps_node_config_t *src);
/* Frees the strings; the struct can be reused with ps_config_copy. */
void ps_config_clear(ps_node_config_t *cfg);

/* The item limit in effect: max_items, or the service limit for "max". */
uint32_t ps_config_item_limit(const ps_node_config_t *cfg, const ps_config_defaults_t *limits);

const char *ps_access_model_name(ps_access_model_t m);
const char *ps_publish_model_name(ps_publish_model_t m);
const char *ps_send_last_name(ps_send_last_t s);
const char *ps_notification_type_name(ps_notification_type_t t);
/* The pubsub#errors <unsupported feature=…/> name of an access model,
 * e.g. "access-presence". */
const char *ps_access_model_feature(ps_access_model_t m);

/* Applies a submitted pubsub#node_config form (the <x/> element; NULL is
 * a no-op) to *cfg, all or nothing. type='cancel' is a no-op success
 * (§8.2.4: the existing configuration applies). Returns 0, or an xerr_t
 * with *err filled:
 *   bad-request      <x/> type is not submit/cancel, or FORM_TYPE is not
 *                    pubsub#node_config (a missing FORM_TYPE is accepted);
 *   not-acceptable   a bad or unsupported value (see the top comment),
 *                    + unsupported-access-model for access models;
 *   feature-not-implemented + unsupported 'collections' for node_type
 *                    collection;
 *   internal-server-error  on OOM. */
int ps_config_apply_form(ps_node_config_t *cfg, const ps_config_defaults_t *limits,
                         xmpp_stanza_t *x, xerr_spec_t *err);

/* Publish-options (§7.1.5) of a publish to an existing node: each field
 * is compared with `cfg` after normalization (booleans 1/true/0/false,
 * integers by value, "max"). Returns 0 when every precondition holds, or:
 *   bad-request      form type not submit, or FORM_TYPE not
 *                    pubsub#publish-options (missing is accepted);
 *   conflict + precondition-not-met  a field differs or is unknown
 *                    (the text names the field). `x` may be NULL. */
int ps_config_check_preconditions(const ps_node_config_t *cfg, const ps_config_defaults_t *limits,
                                  xmpp_stanza_t *x, xerr_spec_t *err);

/* Publish-options of a publish that auto-creates its node (§7.1.5 rule
 * 3): the node gets the defaults except what the preconditions name.
 * Applies `x` to *cfg like ps_config_apply_form, but with the
 * publish-options FORM_TYPE and unknown fields refused with conflict +
 * precondition-not-met. */
int ps_config_apply_publish_options(ps_node_config_t *cfg, const ps_config_defaults_t *limits,
                                    xmpp_stanza_t *x, xerr_spec_t *err);

/* §7.1.3.6 / §4.3: whether a publish fits the node's event type.
 * `has_item`: the request had an <item/>; `has_payload`: that item had a
 * payload element. Returns 0 or bad-request with item-required,
 * payload-required or item-forbidden. */
int ps_config_check_publish(const ps_node_config_t *cfg, bool has_item, bool has_payload,
                            xerr_spec_t *err);

/* <x xmlns='jabber:x:data' type=`type`> (usually "form": §8.2.2
 * configure, §8.3 default) with FORM_TYPE pubsub#node_config and one
 * field per honoured option, current values filled in, and for list
 * fields only the options this version accepts. New stanza owned by the
 * caller, NULL on OOM. */
xmpp_stanza_t *ps_config_to_form(xmpp_ctx_t *ctx, const ps_node_config_t *cfg, const char *type);

/* Node facts for the metadata form that are not configuration. */
typedef struct {
    const char *creator;       /* bare JID, or NULL */
    const char *creation_date; /* XEP-0082 DateTime, or NULL */
    const char *const *owners; /* bare JIDs */
    size_t n_owners;
    const char *const *publishers;
    size_t n_publishers;
    size_t num_subscribers;
} ps_node_meta_t;

/* The §5.4 <x type='result'/> with FORM_TYPE pubsub#meta-data, for
 * disco#info on a node. New stanza, NULL on OOM. */
xmpp_stanza_t *ps_config_to_metadata(xmpp_ctx_t *ctx, const ps_node_config_t *cfg,
                                     const ps_node_meta_t *meta);

#endif
