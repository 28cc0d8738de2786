/* The service's skeleton: construction from the configuration, the router
 * entry points (IQs queued while the model loads, rate limiting, parsing,
 * dispatch by verb), start-up and the clean stop. Bookkeeping shared by
 * the verbs is in service_util.c, the verbs themselves in handle_*.c. */
#include "pubsub/service_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "component/jid.h"
#include "component/log.h"
#include "component/ns.h"
#include "pubsub/errors.h"

#define SUBJ PS_SUBJ
#define WAIT_MAX 4096
#define RL_SWEEP_S 10.0
#define DRAIN_POLL_S 0.05
#define DEFAULT_GRACE_MS 2000

struct ps_wait {
    struct ps_wait *next;
    xmpp_stanza_t *iq; /* a reference */
    double since;
    int kind; /* WAIT_* */
};

enum { WAIT_PUBSUB, WAIT_DISCO_INFO, WAIT_DISCO_ITEMS };

#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* ---- fan-out I/O ------------------------------------------------------ */

static void fo_send(void *ud, const char *to, const char *data, size_t len)
{
    ps_service_t *svc = ud;
    if (to)
        component_send_raw_to(svc->comp, to, data, len);
    else
        component_send_raw(svc->comp, data, len);
}

static size_t fo_queue_len(void *ud)
{
    return component_send_queue_len(((ps_service_t *)ud)->comp);
}

static int fo_links_up(void *ud)
{
    return component_links_up(((ps_service_t *)ud)->comp);
}

/* ---- prune I/O -------------------------------------------------------- */

static void pr_deleted(void *ctx, store_err_t e, int64_t value)
{
    (void)value;
    /* Not found: already gone, which is what the prune wanted. */
    ps_pr_write_done(ctx, e == STORE_OK || e == STORE_ENOTFOUND);
}

static int pr_del(void *ud, ps_node_t *node, const char *jid, ps_pr_write_t *w)
{
    ps_service_t *svc = ud;
    ps_nodex_t *nx = ps_svc_nodex(svc, node);
    if (!nx)
        return -1;
    store_sub_delete(svc->store, nx->id, jid, NULL, pr_deleted, w);
    return 0;
}

/* ---- dispatch --------------------------------------------------------- */

typedef int (*verb_fn)(ps_service_t *, ps_request_t *, xerr_spec_t *);

static verb_fn verb_handler(ps_verb_t v)
{
    switch (v) {
    case PS_REQ_CREATE:
        return ps_h_create;
    case PS_REQ_SUBSCRIBE:
        return ps_h_subscribe;
    case PS_REQ_UNSUBSCRIBE:
        return ps_h_unsubscribe;
    case PS_REQ_PUBLISH:
        return ps_h_publish;
    case PS_REQ_RETRACT:
        return ps_h_retract;
    case PS_REQ_ITEMS:
        return ps_h_items;
    case PS_REQ_SUBSCRIPTIONS:
        return ps_h_subscriptions;
    case PS_REQ_AFFILIATIONS:
        return ps_h_affiliations;
    case PS_REQ_CONFIGURE_GET:
        return ps_h_configure_get;
    case PS_REQ_CONFIGURE_SET:
        return ps_h_configure_set;
    case PS_REQ_DEFAULT:
        return ps_h_default;
    case PS_REQ_DELETE:
        return ps_h_delete;
    case PS_REQ_PURGE:
        return ps_h_purge;
    case PS_REQ_OWNER_SUBSCRIPTIONS_GET:
        return ps_h_owner_subs_get;
    case PS_REQ_OWNER_SUBSCRIPTIONS_SET:
        return ps_h_owner_subs_set;
    case PS_REQ_OWNER_AFFILIATIONS_GET:
        return ps_h_owner_affs_get;
    case PS_REQ_OWNER_AFFILIATIONS_SET:
        return ps_h_owner_affs_set;
    case PS_REQ_NONE:
        break;
    }
    return NULL;
}

/* Rate limiting is by the requester's bare JID; XEP-0060 defines no
 * error for it, so it is RFC 6120's policy-violation with type wait (as
 * XEP-0060 §6.1.3.9 does for its own quota), which clients read as
 * "retry later". */
static bool rate_ok(ps_service_t *svc, xmpp_stanza_t *iq)
{
    char bare[3 * JID_PART_MAX + 3];
    const char *from = xmpp_stanza_get_from(iq);
    if (!from || jid_bare(from, bare, sizeof bare) < 0)
        return true; /* the parser answers bad-request */
    return ps_rl_take(svc->rl, bare, ev_now(svc->loop)) != 0;
}

static void handle_pubsub(ps_service_t *svc, xmpp_stanza_t *iq)
{
    xerr_spec_t err = {0};
    if (!rate_ok(svc, iq)) {
        ps_err_typed(&err, XERR_POLICY_VIOLATION, "wait", NULL, "request rate limit exceeded");
        ps_reply_error(svc, iq, &err);
        return;
    }
    ps_request_t req;
    int rc = ps_request_parse(iq, &req, &err);
    if (rc == 0) {
        ps_verb_t verb = req.verb; /* the handler may move req away */
        verb_fn fn = verb_handler(verb);
        rc = fn ? fn(svc, &req, &err) : ps_err(&err, XERR_BAD_REQUEST, NULL, NULL);
        hlog_debug(SUBJ, "%s from %s: %s", ps_verb_name(verb),
                   xmpp_stanza_get_from(iq) ? xmpp_stanza_get_from(iq) : "?",
                   rc ? xerr_name((xerr_t)rc) : "ok");
    }
    if (rc)
        ps_reply_error(svc, iq, &err);
    ps_request_clear(&req);
}

static void handle_waited(ps_service_t *svc, xmpp_stanza_t *iq, int kind)
{
    xerr_spec_t err = {0};
    int rc = 0;
    switch (kind) {
    case WAIT_PUBSUB:
        handle_pubsub(svc, iq);
        return;
    case WAIT_DISCO_INFO:
        rc = ps_disco_info(svc, iq, &err);
        break;
    case WAIT_DISCO_ITEMS:
        rc = ps_disco_items(svc, iq, &err);
        break;
    }
    if (rc)
        ps_reply_error(svc, iq, &err);
}

static void unavailable(ps_service_t *svc, xmpp_stanza_t *iq, const char *why)
{
    xerr_spec_t err;
    ps_err(&err, XERR_RESOURCE_CONSTRAINT, NULL, why);
    ps_reply_error(svc, iq, &err);
}

static void wait_enqueue(ps_service_t *svc, xmpp_stanza_t *iq, int kind)
{
    struct ps_wait *w = svc->n_wait < WAIT_MAX ? calloc(1, sizeof *w) : NULL;
    if (!w) {
        unavailable(svc, iq, "service starting");
        return;
    }
    w->iq = xmpp_stanza_clone(iq);
    w->since = ev_now(svc->loop);
    w->kind = kind;
    if (svc->wait_tail)
        svc->wait_tail->next = w;
    else
        svc->wait_head = w;
    svc->wait_tail = w;
    svc->n_wait++;
    if (!ev_is_active(&svc->wait_timer))
        ev_timer_again(svc->loop, &svc->wait_timer);
}

/* Pops waiting IQs: all of them (`all`, answered with `reply`: 1 handle,
 * 0 refuse), or those older than the wait timeout (refused). */
static void wait_drain(ps_service_t *svc, bool all, bool handle)
{
    double limit = ev_now(svc->loop) - svc->wait_timeout_ms / 1000.0;
    while (svc->wait_head && (all || svc->wait_head->since <= limit)) {
        struct ps_wait *w = svc->wait_head;
        svc->wait_head = w->next;
        if (!svc->wait_head)
            svc->wait_tail = NULL;
        svc->n_wait--;
        if (handle)
            handle_waited(svc, w->iq, w->kind);
        else
            unavailable(svc, w->iq, "service starting");
        xmpp_stanza_release(w->iq);
        free(w);
    }
    if (!svc->wait_head)
        ev_timer_stop(svc->loop, &svc->wait_timer);
}

static void wait_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    wait_drain(container_of(w, ps_service_t, wait_timer), false, false);
}

/* Only IQs to the service's bare domain: JIDs with a localpart are
 * someone's PEP service (a later issue). */
static bool to_service(ps_service_t *svc, xmpp_stanza_t *iq)
{
    const char *to = xmpp_stanza_get_to(iq);
    jid_parts_t p;
    return to && jid_split(to, &p) == 0 && !p.local && !p.resource &&
           jid_is_at_domain(to, svc->domain);
}

static int on_pubsub(router_t *r, xmpp_stanza_t *iq, void *ud)
{
    (void)r;
    ps_service_t *svc = ud;
    if (!to_service(svc, iq))
        return ROUTE_PASS;
    switch (svc->state) {
    case PS_STATE_LOADING:
        wait_enqueue(svc, iq, WAIT_PUBSUB);
        break;
    case PS_STATE_STOPPING:
        unavailable(svc, iq, "service shutting down");
        break;
    case PS_STATE_READY:
        handle_pubsub(svc, iq);
        break;
    }
    return ROUTE_DONE;
}

static bool is_caps_node(ps_service_t *svc, const char *node)
{
    const char *caps = disco_caps_node(component_disco(svc->comp));
    size_t n = strlen(caps);
    return strncmp(node, caps, n) == 0 && node[n] == '#';
}

static int on_disco(router_t *r, xmpp_stanza_t *iq, void *ud, bool info)
{
    (void)r;
    ps_service_t *svc = ud;
    xmpp_stanza_t *q =
        xmpp_stanza_get_child_by_name_and_ns(iq, "query", info ? NS_DISCO_INFO : NS_DISCO_ITEMS);
    if (!q || !to_service(svc, iq))
        return ROUTE_PASS;
    const char *node = xmpp_stanza_get_attribute(q, "node");
    /* disco#info of the service itself is disco.c's (features), and the
     * caps node too; disco#items of the service lists our nodes. */
    if (info && (!node || is_caps_node(svc, node)))
        return ROUTE_PASS;
    if (svc->state == PS_STATE_LOADING) {
        wait_enqueue(svc, iq, info ? WAIT_DISCO_INFO : WAIT_DISCO_ITEMS);
        return ROUTE_DONE;
    }
    xerr_spec_t err = {0};
    int rc = info ? ps_disco_info(svc, iq, &err) : ps_disco_items(svc, iq, &err);
    if (rc)
        ps_reply_error(svc, iq, &err);
    return ROUTE_DONE;
}

static int on_disco_info(router_t *r, xmpp_stanza_t *iq, void *ud)
{
    return on_disco(r, iq, ud, true);
}

static int on_disco_items(router_t *r, xmpp_stanza_t *iq, void *ud)
{
    return on_disco(r, iq, ud, false);
}

/* ---- start-up --------------------------------------------------------- */

void ps_svc_loaded(ps_service_t *svc)
{
    svc->load_backoff_ms = 0;
    hlog_info(SUBJ, "model loaded: %zu nodes", ps_model_node_count(svc->model));
    if (svc->state == PS_STATE_LOADING)
        svc->state = PS_STATE_READY;
    wait_drain(svc, true, svc->state == PS_STATE_READY);
}

static void load_retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    ps_load_start(container_of(w, ps_service_t, load_retry));
}

void ps_svc_load_failed(ps_service_t *svc, store_err_t err)
{
    svc->load_backoff_ms = svc->load_backoff_ms ? svc->load_backoff_ms * 2 : 500;
    if (svc->load_backoff_ms > 30000)
        svc->load_backoff_ms = 30000;
    hlog_warn(SUBJ, "loading the model failed (%s): retrying in %u ms", store_strerror(err),
              svc->load_backoff_ms);
    ev_timer_set(&svc->load_retry, svc->load_backoff_ms / 1000.0, 0.);
    ev_timer_start(svc->loop, &svc->load_retry);
}

static void rl_sweep_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    ps_service_t *svc = container_of(w, ps_service_t, rl_sweep);
    ps_rl_sweep(svc->rl, ev_now(loop));
}

/* An enumerated default (*out is kept when `v` is absent). Only the
 * first two values of each, the ones this version implements. */
static int enum_default(const char *key, const char *v, const char *(*name_at)(int), int *out,
                        char *err, size_t errlen)
{
    int i = v ? ps_enum_of(v, name_at, 2, -1) : *out;
    if (i < 0) {
        snprintf(err, errlen, "pubsub.%s: %s is not supported", key, v);
        return -1;
    }
    *out = i;
    return 0;
}

/* cfg->pubsub -> defaults; zeros (keys the table does not know yet)
 * keep ps_config_defaults_init's values. */
static int set_defaults(ps_service_t *svc, const herald_config_t *cfg, char *err, size_t errlen)
{
    ps_config_defaults_t *d = &svc->defaults;
    if (ps_config_defaults_init(d) < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    const typeof(cfg->pubsub) *p = &cfg->pubsub;
    if (p->max_items_limit)
        d->max_items_limit = p->max_items_limit;
    if (p->max_payload_size_limit)
        d->max_payload_limit = p->max_payload_size_limit > UINT32_MAX
                                   ? UINT32_MAX
                                   : (uint32_t)p->max_payload_size_limit;
    if (p->default_max_items)
        d->node.max_items = p->default_max_items;
    if (d->node.max_items > d->max_items_limit)
        d->node.max_items = d->max_items_limit;
    if (p->default_max_payload_size)
        d->node.max_payload_size = p->default_max_payload_size > UINT32_MAX
                                       ? UINT32_MAX
                                       : (uint32_t)p->default_max_payload_size;
    if (d->node.max_payload_size > d->max_payload_limit)
        d->node.max_payload_size = d->max_payload_limit;
    int access = (int)d->node.access, publish = (int)d->node.publish;
    int send_last = (int)d->node.send_last;
    if (enum_default("default_access_model", p->default_access_model, ps_access_name_at, &access,
                     err, errlen) < 0 ||
        enum_default("default_publish_model", p->default_publish_model, ps_publish_name_at,
                     &publish, err, errlen) < 0 ||
        enum_default("default_send_last_published_item", p->default_send_last_published_item,
                     ps_send_last_name_at, &send_last, err, errlen) < 0)
        return -1;
    d->node.access = (ps_access_model_t)access;
    d->node.publish = (ps_publish_model_t)publish;
    d->node.send_last = (ps_send_last_t)send_last;
    /* The booleans have no "unset" value: before the YAML table knew them
     * they read false, so all-false means "not configured". */
    if (p->default_persist_items || p->default_deliver_payloads || p->default_notify_retract ||
        p->default_notify_delete) {
        d->node.persist_items = p->default_persist_items;
        d->node.deliver_payloads = p->default_deliver_payloads;
        d->node.notify_retract = p->default_notify_retract;
        d->node.notify_delete = p->default_notify_delete;
    }
    svc->autocreate = p->autocreate_on_publish;
    svc->max_nodes_per_owner = p->max_nodes_per_owner ? p->max_nodes_per_owner : 1000;
    svc->max_stanza = cfg->server.max_stanza_size ? cfg->server.max_stanza_size : 512 * 1024;
    svc->wait_timeout_ms = cfg->storage.queue_timeout_ms ? cfg->storage.queue_timeout_ms : 10000;
    return 0;
}

static void add_features(ps_service_t *svc)
{
    disco_t *d = component_disco(svc->comp);
    /* Each one is implemented by a handler here (see the report of the
     * pubsub issue); none is declared that is not. */
    static const char *const features[] = {
        "access-open",
        "access-whitelist",
        "config-node",
        "create-and-configure",
        "create-nodes",
        "delete-items",
        "delete-nodes",
        "instant-nodes",
        "item-ids",
        "manage-subscriptions",
        "member-affiliation",
        "meta-data",
        "modify-affiliations",
        "outcast-affiliation",
        "persistent-items",
        "publish",
        "publish-only-affiliation",
        "publish-options",
        "publisher-affiliation",
        "purge-nodes",
        "retract-items",
        "retrieve-affiliations",
        "retrieve-default",
        "retrieve-items",
        "retrieve-subscriptions",
        "subscribe",
    };
    char var[128];
    disco_add_identity(d, "pubsub", "service", NULL);
    disco_add_feature(d, NS_PUBSUB);
    for (size_t i = 0; i < sizeof features / sizeof features[0]; i++) {
        snprintf(var, sizeof var, "%s#%s", NS_PUBSUB, features[i]);
        disco_add_feature(d, var);
    }
    if (svc->autocreate)
        disco_add_feature(d, NS_PUBSUB "#auto-create");
}

ps_service_t *ps_service_new(component_t *comp, store_t *store, const herald_config_t *cfg,
                             char *err, size_t errlen)
{
    ps_service_t *svc = calloc(1, sizeof *svc);
    if (!svc) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    svc->comp = comp;
    svc->router = component_router(comp);
    svc->ctx = component_xmpp_ctx(comp);
    svc->store = store;
    svc->loop = component_loop(comp);
    svc->domain = strdup(component_domain(comp));
    ps_ids_init(&svc->ids);
    ev_timer_init(&svc->wait_timer, wait_timer_cb, 0., 1.0);
    ev_timer_init(&svc->load_retry, load_retry_cb, 0., 0.);
    ev_timer_init(&svc->rl_sweep, rl_sweep_cb, RL_SWEEP_S, RL_SWEEP_S);
    if (set_defaults(svc, cfg, err, errlen) < 0)
        goto fail;
    svc->model = ps_model_new();
    svc->nodex = ps_strmap_new();
    svc->owned = ps_strmap_new();
    svc->rl = ps_rl_new(cfg->pubsub.rate_per_jid, cfg->pubsub.rate_burst);
    ps_fo_opts_t fo = {
        .slice = cfg->pubsub.fanout_slice,
        .queue_high = cfg->pubsub.send_queue_high,
        .queue_low = cfg->pubsub.send_queue_low,
    };
    ps_fo_io_t io = {fo_send, fo_queue_len, fo_links_up, svc};
    svc->fo = ps_fo_new(svc->loop, &fo, &io);
    ps_pr_opts_t pro = {0};
    ps_pr_io_t prio = {pr_del, svc};
    svc->pr = ps_pr_new(svc->loop, &pro, &prio);
    if (!svc->domain || !svc->model || !svc->nodex || !svc->owned || !svc->rl || !svc->fo ||
        !svc->pr) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    ps_pr_attach(svc->pr, svc->model);
    router_t *r = svc->router;
    if (router_add(r, ROUTE_IQ, NS_PUBSUB, on_pubsub, svc) < 0 ||
        router_add(r, ROUTE_IQ, NS_PUBSUB_OWNER, on_pubsub, svc) < 0 ||
        router_add(r, ROUTE_IQ_GET, NS_DISCO_INFO, on_disco_info, svc) < 0 ||
        router_add(r, ROUTE_IQ_GET, NS_DISCO_ITEMS, on_disco_items, svc) < 0) {
        /* Handlers cannot be unregistered: the router would call into a
         * freed service, so this failure must end the process. */
        snprintf(err, errlen, "out of memory registering handlers");
        return NULL;
    }
    add_features(svc);
    return svc;
fail:
    ps_service_free(svc);
    return NULL;
}

void ps_service_start(ps_service_t *svc)
{
    ev_timer_start(svc->loop, &svc->rl_sweep);
    ps_load_start(svc);
}

int ps_service_ready(const ps_service_t *svc)
{
    return svc->state == PS_STATE_READY;
}

/* ---- stop --------------------------------------------------------------- */

static void drained(ps_service_t *svc)
{
    ev_timer_stop(svc->loop, &svc->drain_timer);
    ev_timer_stop(svc->loop, &svc->drain_poll);
    ps_service_drained_fn fn = svc->drained;
    svc->drained = NULL;
    if (fn)
        fn(svc, svc->drained_ud);
}

static void drain_poll_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    ps_service_t *svc = container_of(w, ps_service_t, drain_poll);
    ps_fo_stats_t st;
    ps_fo_stats(svc->fo, &st);
    ps_pr_stats_t pst;
    ps_pr_stats(svc->pr, &pst);
    if (svc->n_ops == 0 && st.jobs == 0 && pst.inflight == 0)
        drained(svc);
}

static void drain_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    ps_service_t *svc = container_of(w, ps_service_t, drain_timer);
    ps_fo_stats_t st;
    ps_fo_stats(svc->fo, &st);
    ps_pr_stats_t pst;
    ps_pr_stats(svc->pr, &pst);
    hlog_warn(SUBJ,
              "stopping with %zu request%s in flight, %zu notification job%s queued and %zu "
              "subscription deletion%s in flight",
              svc->n_ops, svc->n_ops == 1 ? "" : "s", st.jobs, st.jobs == 1 ? "" : "s",
              pst.inflight, pst.inflight == 1 ? "" : "s");
    drained(svc);
}

void ps_service_shutdown(ps_service_t *svc, unsigned grace_ms, ps_service_drained_fn done, void *ud)
{
    if (svc->state == PS_STATE_STOPPING)
        return;
    svc->state = PS_STATE_STOPPING;
    wait_drain(svc, true, false);
    ps_load_abandon(svc);
    ev_timer_stop(svc->loop, &svc->load_retry);
    /* Unfinished prunes resume after the restart (ps_svc_node_loaded);
     * the deletions in flight are waited for like requests. */
    ps_pr_stop(svc->pr);
    svc->drained = done;
    svc->drained_ud = ud;
    /* Both timers fire from the loop, so `done` never runs inside this
     * call even when nothing is in flight. */
    ev_timer_init(&svc->drain_poll, drain_poll_cb, 0., DRAIN_POLL_S);
    ev_timer_init(&svc->drain_timer, drain_timer_cb,
                  (grace_ms ? grace_ms : DEFAULT_GRACE_MS) / 1000.0, 0.);
    ev_timer_start(svc->loop, &svc->drain_poll);
    ev_timer_start(svc->loop, &svc->drain_timer);
}

void ps_service_free(ps_service_t *svc)
{
    if (!svc)
        return;
    if (svc->loop) {
        ev_timer_stop(svc->loop, &svc->wait_timer);
        ev_timer_stop(svc->loop, &svc->load_retry);
        ev_timer_stop(svc->loop, &svc->rl_sweep);
        ev_timer_stop(svc->loop, &svc->drain_timer);
        ev_timer_stop(svc->loop, &svc->drain_poll);
    }
    while (svc->wait_head) {
        struct ps_wait *w = svc->wait_head;
        svc->wait_head = w->next;
        xmpp_stanza_release(w->iq);
        free(w);
    }
    ps_load_abandon(svc);
    /* Ops still waiting for the store keep their memory until their
     * callback; they must not reach back into the service. */
    for (ps_op_t *op = svc->ops; op; op = op->next)
        op->svc = NULL;
    if (svc->n_ops)
        hlog_warn(SUBJ, "%zu request%s still in flight at exit", svc->n_ops,
                  svc->n_ops == 1 ? "" : "s");
    /* Jobs pin nodes of the model: the engine goes first. Then the prune
     * engine, which ending walks may still have woken. */
    ps_fo_free(svc->fo);
    ps_pr_free(svc->pr);
    svc->pr = NULL;
    ps_svc_free_model(svc);
    ps_rl_free(svc->rl);
    ps_config_defaults_clear(&svc->defaults);
    free(svc->domain);
    free(svc);
}

void ps_service_stats(const ps_service_t *svc, ps_service_stats_t *out)
{
    ps_fo_stats_t st;
    ps_fo_stats(svc->fo, &st);
    out->nodes = ps_model_node_count(svc->model);
    out->requests_in_flight = svc->n_ops;
    out->fanout_jobs = st.jobs;
    out->notifications_sent = st.delivered;
    out->fanout_pauses = st.pauses;
}
