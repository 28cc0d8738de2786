/* The parts of XEP-0004 data forms pubsub needs: reading the fields of a
 * submitted form and building forms (type form/result) field by field. */
#ifndef HERALD_PS_XDATA_H
#define HERALD_PS_XDATA_H

#include <strophe.h>

/* The first <x xmlns='jabber:x:data'/> child of `parent`, or NULL. */
xmpp_stanza_t *ps_xdata_find(xmpp_stanza_t *parent);

/* The form's 'type' attribute ("form", "submit", "cancel", "result"). */
const char *ps_xdata_type(xmpp_stanza_t *x);

/* Iteration over <field/> children: first, then next after `field`. */
xmpp_stanza_t *ps_xdata_first_field(xmpp_stanza_t *x);
xmpp_stanza_t *ps_xdata_next_field(xmpp_stanza_t *field);

/* Number of <value/> children of a field. */
int ps_xdata_value_count(xmpp_stanza_t *field);
/* Text of the field's first <value/> (concatenated character data; ""
 * for an empty <value/>), or NULL if it has none, in *out: a malloc'd
 * string the caller frees. Returns 0, or -1 on OOM. */
int ps_xdata_first_value(xmpp_stanza_t *field, char **out);

/* Value of the hidden FORM_TYPE field, or NULL if absent. Same ownership
 * and return convention as ps_xdata_first_value. */
int ps_xdata_form_type(xmpp_stanza_t *x, char **out);

/* Builds <x xmlns='jabber:x:data' type=`type`/> with a hidden FORM_TYPE
 * field (when form_type is not NULL). New stanza owned by the caller;
 * NULL on OOM. */
xmpp_stanza_t *ps_xdata_new(xmpp_ctx_t *ctx, const char *type, const char *form_type);

/* Appends <field var type label>, its <option/>s and its <value/>s.
 * `label`, `type`, `options` may be NULL. Returns 0, or -1 on OOM (the
 * form is then incomplete and should be released). */
int ps_xdata_add_field(xmpp_stanza_t *x, const char *var, const char *type, const char *label,
                       const char *const *values, int n_values, const char *const *options,
                       int n_options);
/* Shorthand for a field with one value (or none when value is NULL). */
int ps_xdata_add(xmpp_stanza_t *x, const char *var, const char *type, const char *label,
                 const char *value);

#endif
