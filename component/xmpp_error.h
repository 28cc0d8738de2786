/* Stanza errors (RFC 6120 §8.3): one table maps each defined condition to
 * its element name and default error type, and one builder makes every
 * error reply, so that "exactly one reply per IQ" has a single path. */
#ifndef HERALD_XMPP_ERROR_H
#define HERALD_XMPP_ERROR_H

#include <strophe.h>

/* RFC 6120 §8.3.3 conditions. 0 means "no error". Values are positive so
 * that a router handler can return one directly (see router.h). */
typedef enum {
    XERR_NONE = 0,
    XERR_BAD_REQUEST,
    XERR_CONFLICT,
    XERR_FEATURE_NOT_IMPLEMENTED,
    XERR_FORBIDDEN,
    XERR_GONE,
    XERR_INTERNAL_SERVER_ERROR,
    XERR_ITEM_NOT_FOUND,
    XERR_JID_MALFORMED,
    XERR_NOT_ACCEPTABLE,
    XERR_NOT_ALLOWED,
    XERR_NOT_AUTHORIZED,
    XERR_POLICY_VIOLATION,
    XERR_RECIPIENT_UNAVAILABLE,
    XERR_REDIRECT,
    XERR_REGISTRATION_REQUIRED,
    XERR_REMOTE_SERVER_NOT_FOUND,
    XERR_REMOTE_SERVER_TIMEOUT,
    XERR_RESOURCE_CONSTRAINT,
    XERR_SERVICE_UNAVAILABLE,
    XERR_SUBSCRIPTION_REQUIRED,
    XERR_UNDEFINED_CONDITION,
    XERR_UNEXPECTED_REQUEST,
    XERR_COUNT_
} xerr_t;

/* A full error description: the defined condition, plus optionally an
 * application-specific condition (e.g. pubsub#errors "invalid-jid", with
 * app_ns NS_PUBSUB_ERRORS), an optional human-readable text, and an
 * optional type override (NULL = the condition's default type). For
 * pubsub#errors "unsupported", app_feature names the feature attribute. */
typedef struct {
    xerr_t cond;
    const char *type;
    const char *app_cond;
    const char *app_ns;
    const char *app_feature;
    const char *text;
} xerr_spec_t;

/* Condition element name, e.g. "item-not-found"; NULL for XERR_NONE. */
const char *xerr_name(xerr_t cond);
/* RFC 6120 default type: "cancel", "modify", "auth" or "wait". */
const char *xerr_default_type(xerr_t cond);

/* Builds the error reply to `orig`: to/from swapped, same id, type='error',
 * the original IQ's child echoed, then <error type=…> with the condition.
 * Returns a new stanza owned by the caller, or NULL when `orig` must not be
 * answered (it is itself of type 'error', or is an IQ result). */
xmpp_stanza_t *xerr_reply(xmpp_ctx_t *ctx, xmpp_stanza_t *orig,
                          const xerr_spec_t *spec);

/* Shorthand for a bare defined condition. */
xmpp_stanza_t *xerr_reply_cond(xmpp_ctx_t *ctx, xmpp_stanza_t *orig,
                               xerr_t cond);

#endif
