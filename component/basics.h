/* Entity basics every component answers: XEP-0092 software version (on
 * the bare domain) and XEP-0199 ping (on every JID at the domain), with
 * their features declared in disco. */
#ifndef HERALD_BASICS_H
#define HERALD_BASICS_H

#include "component/disco.h"
#include "component/router.h"

/* Registers the version and ping handlers on `router` and their features
 * on `disco`. `name` and `version` are copied; the copy is released by
 * router_free. Returns 0, or -1 on allocation failure. */
int basics_register(router_t *router, disco_t *disco, const char *name, const char *version);

#endif
