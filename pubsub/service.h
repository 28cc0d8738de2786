/* The XEP-0060 publish-subscribe service of the component's domain: the
 * wiring between the router (IQs in), the in-memory model (who may do
 * what), the store (what is durable) and the fan-out engine
 * (notifications out).
 *
 * Life cycle, as pubsub/main.c drives it:
 *
 *     svc = ps_service_new(comp, store, cfg, err, sizeof err);  // after component_new
 *     ps_service_start(svc);              // loads the model, returns at once
 *     component_start(comp); ev_run(loop, 0);
 *     ...SIGTERM: ps_service_shutdown(svc, drained_cb, ud);
 *                 drained_cb: component_stop(comp, on_stopped, …)
 *     after ev_run returns:
 *     store_free(store); ps_service_free(svc); component_free(comp);
 *
 * Start-up: the model (nodes, configurations, affiliations, subscriptions)
 * is loaded from the store in pages, on the loop. Until it is complete,
 * pubsub IQs (and node disco queries) wait in a bounded queue and are
 * answered once it is; an IQ that waited longer than the store's queue
 * timeout, or that finds the queue full, gets wait/resource-constraint. A
 * load that fails (database unreachable) is retried with backoff.
 *
 * Consistency: the model is changed only in the store's write callbacks,
 * which fire in commit order, so it always mirrors committed state;
 * checks run against it before a write and the store settles races
 * (e.g. two creations of one node: the second gets conflict). Every IQ
 * gets exactly one reply: a result only after COMMIT, or the error its
 * failure maps to (storage/store.h table). */
#ifndef HERALD_PS_SERVICE_H
#define HERALD_PS_SERVICE_H

#include <stddef.h>
#include <stdint.h>

#include "component/component.h"
#include "config/config.h"
#include "storage/store.h"

typedef struct ps_service ps_service_t;

/* Registers the pubsub handlers on the component's router and the
 * service's identity (pubsub/service) and features on its disco. Reads
 * cfg->pubsub (defaults and limits; a zero numeric value takes the
 * built-in default). Neither `comp`, `store` nor `cfg` is owned; `cfg`
 * is not kept. Returns NULL with one line in err on failure. */
ps_service_t *ps_service_new(component_t *comp, store_t *store, const herald_config_t *cfg,
                             char *err, size_t errlen);

/* Starts loading the model from the store; returns at once. */
void ps_service_start(ps_service_t *svc);

/* Clean stop, step 1: new pubsub IQs are refused with
 * wait/resource-constraint, and `done` is called (from the loop, never
 * inside this call) once every request in flight has been answered and
 * queued notifications have been handed to the link, or after
 * `grace_ms` (0: 2000), whichever comes first. */
typedef void (*ps_service_drained_fn)(ps_service_t *svc, void *ud);
void ps_service_shutdown(ps_service_t *svc, unsigned grace_ms, ps_service_drained_fn done,
                         void *ud);

/* Frees the service. Call it after store_free() (whose callbacks still
 * answer IQs through the service) and before component_free(). If the
 * store is still open, requests in flight are orphaned: their callbacks
 * only release memory later (the component must then outlive them). */
void ps_service_free(ps_service_t *svc);

/* 1 once the model is loaded. */
int ps_service_ready(const ps_service_t *svc);

typedef struct {
    size_t nodes;
    size_t requests_in_flight;
    size_t fanout_jobs;
    uint64_t notifications_sent;
    uint64_t fanout_pauses;
} ps_service_stats_t;

void ps_service_stats(const ps_service_t *svc, ps_service_stats_t *out);

#endif
