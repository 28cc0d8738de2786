/* Payload validation against a node's configuration (XEP-0060 §7.1.3.4
 * payload too big, §7.1.3.5 bad payload), with the Atom rule of this
 * service: on a node whose pubsub#type is the Atom namespace, the payload
 * must be one Atom <entry/> (RFC 4287 §4.1.2; XEP-0277 entries are Atom
 * entries too). */
#ifndef HERALD_PS_ATOM_H
#define HERALD_PS_ATOM_H

#include <stddef.h>
#include <strophe.h>

#include "component/xmpp_error.h"
#include "pubsub/node_config.h"

/* 1 if `el` is <entry xmlns='http://www.w3.org/2005/Atom'/>. */
int ps_atom_is_entry(xmpp_stanza_t *el);

/* Checks the payload element of a publish (NULL: none, always fine
 * here; whether one is required is ps_config_check_publish's business)
 * whose serialized form is `serialized_len` bytes. Returns 0 or:
 *   bad-request + invalid-payload   cfg->type is set and the payload's
 *       namespace differs, or cfg->type is Atom and it is not an entry;
 *   not-acceptable + payload-too-big   serialized_len > max_payload_size. */
int ps_payload_check(const ps_node_config_t *cfg, xmpp_stanza_t *payload, size_t serialized_len,
                     xerr_spec_t *err);

#endif
