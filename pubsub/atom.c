#include "pubsub/atom.h"

#include <string.h>

#include "component/ns.h"
#include "pubsub/errors.h"

int ps_atom_is_entry(xmpp_stanza_t *el)
{
    const char *name, *ns;
    return el && xmpp_stanza_is_tag(el) && (name = xmpp_stanza_get_name(el)) &&
           strcmp(name, "entry") == 0 && (ns = xmpp_stanza_get_ns(el)) && strcmp(ns, NS_ATOM) == 0;
}

int ps_payload_check(const ps_node_config_t *cfg, xmpp_stanza_t *payload, size_t serialized_len,
                     xerr_spec_t *err)
{
    if (!payload)
        return 0;
    const char *type = cfg->type ? cfg->type : "";
    if (strcmp(type, NS_ATOM) == 0) {
        if (!ps_atom_is_entry(payload))
            return ps_err(err, XERR_BAD_REQUEST, PS_E_INVALID_PAYLOAD,
                          "payload must be one Atom entry");
    } else if (*type) {
        const char *ns = xmpp_stanza_get_ns(payload);
        if (!ns || strcmp(ns, type) != 0)
            return ps_err(err, XERR_BAD_REQUEST, PS_E_INVALID_PAYLOAD,
                          "payload namespace differs from pubsub#type");
    }
    if (serialized_len > cfg->max_payload_size)
        return ps_err(err, XERR_NOT_ACCEPTABLE, PS_E_PAYLOAD_TOO_BIG, NULL);
    return 0;
}
