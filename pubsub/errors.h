/* XEP-0060 error descriptions. Every refusal the pubsub modules produce is
 * an xerr_spec_t (component/xmpp_error.h) built here, so that the defined
 * condition, the pubsub#errors element and the error type XEP-0060's
 * examples show stay together. All strings are static: a spec filled by
 * these functions may be kept for as long as the program runs. */
#ifndef HERALD_PS_ERRORS_H
#define HERALD_PS_ERRORS_H

#include "component/xmpp_error.h"

/* pubsub#errors element names (XEP-0060 §14 schema, the subset used). */
#define PS_E_CLOSED_NODE "closed-node"
#define PS_E_INVALID_JID "invalid-jid"
#define PS_E_INVALID_PAYLOAD "invalid-payload"
#define PS_E_INVALID_SUBID "invalid-subid"
#define PS_E_ITEM_FORBIDDEN "item-forbidden"
#define PS_E_ITEM_REQUIRED "item-required"
#define PS_E_JID_REQUIRED "jid-required"
#define PS_E_NODEID_REQUIRED "nodeid-required"
#define PS_E_NOT_SUBSCRIBED "not-subscribed"
#define PS_E_PAYLOAD_TOO_BIG "payload-too-big"
#define PS_E_PAYLOAD_REQUIRED "payload-required"
#define PS_E_PENDING_SUBSCRIPTION "pending-subscription"
#define PS_E_PRECONDITION_NOT_MET "precondition-not-met"
#define PS_E_SUBID_REQUIRED "subid-required"
#define PS_E_UNSUPPORTED_ACCESS_MODEL "unsupported-access-model"

/* Fills *err with `cond`, the pubsub#errors condition `app_cond` (or
 * NULL) and an optional English text; the type is the condition's RFC
 * 6120 default. Returns `cond`, so that a check can end with
 * `return ps_err(err, …);`. `err` may be NULL (the code is still
 * returned). */
int ps_err(xerr_spec_t *err, xerr_t cond, const char *app_cond, const char *text);

/* As ps_err, with an explicit error type where XEP-0060's example uses
 * one other than the RFC default (e.g. unexpected-request type cancel). */
int ps_err_typed(xerr_spec_t *err, xerr_t cond, const char *type, const char *app_cond,
                 const char *text);

/* feature-not-implemented + <unsupported feature='…'/> (XEP-0060 uses it
 * for every optional feature a service lacks, e.g. "subscription-options",
 * "collections", "access-presence"). */
int ps_err_unsupported(xerr_spec_t *err, const char *feature);

#endif
