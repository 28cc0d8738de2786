/* Loading the model at start-up, and the conversions between the
 * store's node rows and the model's configuration.
 *
 * The load pages through every node (store_node_list_all), then loads
 * each node's affiliations and subscriptions, both in pages (AFF_PAGE,
 * SUB_PAGE rows), with a bounded number of nodes in flight, so neither
 * the loop nor the store's queue is ever flooded and no callback applies
 * more than one page (a million affiliations of one node in one result
 * took ~400 ms in one loop iteration; a page of 10,000 takes ~15 ms).
 * Nothing is answered from the model until the load completes
 * (service.c queues the IQs), and no write runs meanwhile, so the loaded
 * model is exactly the committed state. A failure clears the model and
 * the load starts over after a backoff.
 *
 * How pubsub#max_items = "max" is stored: the column holds the service's
 * max_items_limit, so that the store trims to it in the publish
 * transaction, and extra["pubsub#max_items"] = "max" remembers that the
 * owner asked for "max". When the operator changes the limit, such nodes
 * are re-stored with the new one during the load. */
#include "pubsub/service_int.h"

#include <stdlib.h>
#include <string.h>

#include "component/log.h"

#define SUBJ PS_SUBJ
#define NODE_PAGE 500
#define SUB_PAGE 10000
#define AFF_PAGE 10000
#define NODES_IN_FLIGHT 16

#define EXTRA_MAX_ITEMS "pubsub#max_items"

/* Subscription states cross between the store and the model by value. */
_Static_assert((int)STORE_SUB_NONE == (int)PS_SUB_NONE &&
                   (int)STORE_SUB_PENDING == (int)PS_SUB_PENDING &&
                   (int)STORE_SUB_UNCONFIGURED == (int)PS_SUB_UNCONFIGURED &&
                   (int)STORE_SUB_SUBSCRIBED == (int)PS_SUB_SUBSCRIBED,
               "subscription states of store.h and model.h");

/* ---- conversions ------------------------------------------------------ */

int ps_enum_of(const char *v, const char *(*name_at)(int), int n, int dflt)
{
    for (int i = 0; i < n; i++)
        if (v && name_at(i) && strcmp(v, name_at(i)) == 0)
            return i;
    return dflt;
}

const char *ps_access_name_at(int i)
{
    return ps_access_model_name((ps_access_model_t)i);
}
const char *ps_publish_name_at(int i)
{
    return ps_publish_model_name((ps_publish_model_t)i);
}
const char *ps_send_last_name_at(int i)
{
    return ps_send_last_name((ps_send_last_t)i);
}
static const char *notif_type_name_at(int i)
{
    return ps_notification_type_name((ps_notification_type_t)i);
}

static bool extra_says_max(const store_node_config_t *s)
{
    for (size_t i = 0; i + 1 < s->nextra; i += 2)
        if (strcmp(s->extra[i], EXTRA_MAX_ITEMS) == 0 && strcmp(s->extra[i + 1], "max") == 0)
            return true;
    return false;
}

int ps_cfg_from_store(ps_service_t *svc, const store_node_config_t *s, ps_node_config_t *out)
{
    ps_node_config_t c = {
        .title = (char *)s->title,
        .description = (char *)s->description,
        .type = (char *)s->type,
        .max_items = s->max_items,
        .max_payload_size =
            s->max_payload_size ? s->max_payload_size : svc->defaults.max_payload_limit,
        .persist_items = s->persist_items,
        .deliver_payloads = s->deliver_payloads,
        .deliver_notifications = s->deliver_notifications,
        .notify_retract = s->notify_retract,
        .notify_delete = s->notify_delete,
        .send_last =
            (ps_send_last_t)ps_enum_of(s->send_last_published_item, ps_send_last_name_at, 3, 0),
        .access = (ps_access_model_t)ps_enum_of(s->access_model, ps_access_name_at, 5, 0),
        .publish = (ps_publish_model_t)ps_enum_of(s->publish_model, ps_publish_name_at, 3, 0),
        .notification_type =
            (ps_notification_type_t)ps_enum_of(s->notification_type, notif_type_name_at, 2, 0),
    };
    if (s->max_items == STORE_MAX_ITEMS_MAX || extra_says_max(s))
        c.max_items = PS_MAX_ITEMS_MAX;
    /* ps_config_copy duplicates the borrowed strings. */
    return ps_config_copy(out, &c);
}

void ps_cfg_to_store(ps_service_t *svc, const ps_node_config_t *c, store_node_config_t *out,
                     const char *extra[2])
{
    memset(out, 0, sizeof *out);
    out->title = c->title;
    out->description = c->description;
    out->type = c->type;
    out->max_items = c->max_items;
    if (c->max_items == PS_MAX_ITEMS_MAX) {
        out->max_items = svc->defaults.max_items_limit;
        extra[0] = EXTRA_MAX_ITEMS;
        extra[1] = "max";
        out->extra = extra;
        out->nextra = 2;
    }
    out->max_payload_size = c->max_payload_size;
    out->persist_items = c->persist_items;
    out->deliver_payloads = c->deliver_payloads;
    out->deliver_notifications = c->deliver_notifications;
    out->notify_retract = c->notify_retract;
    out->notify_delete = c->notify_delete;
    out->send_last_published_item = ps_send_last_name(c->send_last);
    out->access_model = ps_access_model_name(c->access);
    out->publish_model = ps_publish_model_name(c->publish);
    out->notification_type = ps_notification_type_name(c->notification_type);
}

ps_affiliation_t ps_aff_from_store(store_aff_t a)
{
    switch (a) {
    case STORE_AFF_OWNER:
        return PS_AFF_OWNER;
    case STORE_AFF_PUBLISHER:
        return PS_AFF_PUBLISHER;
    case STORE_AFF_PUBLISH_ONLY:
        return PS_AFF_PUBLISH_ONLY;
    case STORE_AFF_MEMBER:
        return PS_AFF_MEMBER;
    case STORE_AFF_OUTCAST:
        return PS_AFF_OUTCAST;
    case STORE_AFF_NONE:
        break;
    }
    return PS_AFF_NONE;
}

store_aff_t ps_aff_to_store(ps_affiliation_t a)
{
    switch (a) {
    case PS_AFF_OWNER:
        return STORE_AFF_OWNER;
    case PS_AFF_PUBLISHER:
        return STORE_AFF_PUBLISHER;
    case PS_AFF_PUBLISH_ONLY:
        return STORE_AFF_PUBLISH_ONLY;
    case PS_AFF_MEMBER:
        return STORE_AFF_MEMBER;
    case PS_AFF_OUTCAST:
        return STORE_AFF_OUTCAST;
    case PS_AFF_NONE:
        break;
    }
    return STORE_AFF_NONE;
}

/* ---- the load --------------------------------------------------------- */

struct node_load {
    struct ps_load *ld;
    ps_nodex_t *nx; /* a reference */
    char *after_jid, *after_subid; /* subscriptions' cursor */
    char *after_aff;               /* affiliations' cursor (jid) */
    int parts; /* affiliations and subscriptions still loading */
};

struct ps_load {
    ps_service_t *svc; /* NULL once abandoned */
    int outstanding;   /* store requests not yet answered */
    bool nodes_done;
    ps_nodex_t **todo; /* loaded nodes whose lists are still to load (refs) */
    size_t n_todo, cap_todo, next_todo;
    int active; /* node loads in flight */
    size_t n_subs, n_affs;
};

static void load_free(struct ps_load *ld)
{
    for (size_t i = ld->next_todo; i < ld->n_todo; i++)
        ps_nx_unref(ld->todo[i]);
    free(ld->todo);
    free(ld);
}

/* After each callback of an abandoned load: frees it with the last one. */
static bool abandoned(struct ps_load *ld)
{
    if (ld->svc)
        return false;
    if (ld->outstanding == 0)
        load_free(ld);
    return true;
}

static void node_load_free(struct node_load *nl)
{
    ps_nx_unref(nl->nx);
    free(nl->after_jid);
    free(nl->after_subid);
    free(nl->after_aff);
    free(nl);
}

static void fail(struct ps_load *ld, store_err_t err)
{
    ps_service_t *svc = ld->svc;
    ld->svc = NULL;
    svc->load = NULL;
    ps_svc_clear_model(svc);
    ps_svc_load_failed(svc, err);
    if (ld->outstanding == 0)
        load_free(ld);
}

static void pump(struct ps_load *ld);

/* Each node load has two parts (affiliations, subscriptions); the part
 * that ends last frees it. `live`: the load goes on (pump the next). */
static void part_end(struct node_load *nl, bool live)
{
    struct ps_load *ld = nl->ld;
    if (--nl->parts > 0)
        return;
    if (live)
        ps_svc_node_loaded(ld->svc, nl->nx);
    node_load_free(nl);
    if (live) {
        ld->active--;
        pump(ld);
    }
}

/* At the top of a part's callback: true when the load was abandoned
 * meanwhile (the part has then ended). */
static bool part_abandoned(struct node_load *nl)
{
    struct ps_load *ld = nl->ld;
    ld->outstanding--;
    if (ld->svc)
        return false;
    part_end(nl, false);
    abandoned(ld);
    return true;
}

/* A part's last page came (or an error, which fails the whole load). */
static void part_done(struct node_load *nl, store_err_t err)
{
    struct ps_load *ld = nl->ld;
    if (err) {
        part_end(nl, false);
        fail(ld, err);
        return;
    }
    part_end(nl, true);
}

static void subs_cb(void *ctx, store_err_t err, const store_sub_t *subs, size_t n);

static void request_subs(struct node_load *nl)
{
    store_sub_t after = {.jid = nl->after_jid, .subid = nl->after_subid};
    nl->ld->outstanding++;
    store_sub_list_node(nl->ld->svc->store, nl->nx->id, nl->after_jid ? &after : NULL, SUB_PAGE,
                        subs_cb, nl);
}

static void subs_cb(void *ctx, store_err_t err, const store_sub_t *subs, size_t n)
{
    struct node_load *nl = ctx;
    if (part_abandoned(nl))
        return;
    for (size_t i = 0; !err && i < n; i++) {
        uint64_t subid = 0;
        if (subs[i].state == STORE_SUB_NONE)
            continue;
        if (subs[i].subid && *subs[i].subid)
            ps_subid_parse(subs[i].subid, &subid);
        if (ps_node_subscribe(nl->nx->node, subs[i].jid, (ps_sub_state_t)subs[i].state, subid) < 0)
            err = STORE_EDB;
        nl->ld->n_subs++;
    }
    if (!err && n == SUB_PAGE) {
        char *j = strdup(subs[n - 1].jid), *s = strdup(subs[n - 1].subid ? subs[n - 1].subid : "");
        free(nl->after_jid);
        free(nl->after_subid);
        nl->after_jid = j;
        nl->after_subid = s;
        if (j && s) {
            request_subs(nl);
            return;
        }
        err = STORE_EDB;
    }
    part_done(nl, err);
}

static void affs_cb(void *ctx, store_err_t err, const store_aff_entry_t *affs, size_t n);

static void request_affs(struct node_load *nl)
{
    nl->ld->outstanding++;
    store_aff_list_node(nl->ld->svc->store, nl->nx->id, nl->after_aff, AFF_PAGE, affs_cb, nl);
}

static void affs_cb(void *ctx, store_err_t err, const store_aff_entry_t *affs, size_t n)
{
    struct node_load *nl = ctx;
    if (part_abandoned(nl))
        return;
    for (size_t i = 0; !err && i < n; i++) {
        ps_affiliation_t a = ps_aff_from_store(affs[i].aff);
        if (a != PS_AFF_NONE && ps_node_set_affiliation(nl->nx->node, affs[i].jid, a) < 0)
            err = STORE_EDB;
        nl->ld->n_affs++;
    }
    if (!err && n == AFF_PAGE) {
        char *j = strdup(affs[n - 1].jid);
        free(nl->after_aff);
        nl->after_aff = j;
        if (j) {
            request_affs(nl);
            return;
        }
        err = STORE_EDB;
    }
    part_done(nl, err);
}

static void nodes_cb(void *ctx, store_err_t err, const store_node_t *nodes, size_t n);

static void request_nodes(struct ps_load *ld, int64_t after_id)
{
    ld->outstanding++;
    store_node_list_all(ld->svc->store, after_id, NODE_PAGE, nodes_cb, ld);
}

static void max_synced(void *ctx, store_err_t err, const store_node_t *node)
{
    (void)ctx;
    if (err)
        hlog_warn(SUBJ, "could not store the new max_items limit of node %s: %s",
                  node ? node->name : "?", store_strerror(err));
}

static int add_todo(struct ps_load *ld, ps_nodex_t *nx)
{
    if (ld->n_todo == ld->cap_todo) {
        size_t cap = ld->cap_todo ? ld->cap_todo * 2 : 64;
        ps_nodex_t **v = realloc(ld->todo, cap * sizeof *v);
        if (!v)
            return -1;
        ld->todo = v;
        ld->cap_todo = cap;
    }
    ld->todo[ld->n_todo++] = ps_nx_ref(nx);
    return 0;
}

static void nodes_cb(void *ctx, store_err_t err, const store_node_t *nodes, size_t n)
{
    struct ps_load *ld = ctx;
    ld->outstanding--;
    if (abandoned(ld))
        return;
    if (err) {
        fail(ld, err);
        return;
    }
    ps_service_t *svc = ld->svc;
    for (size_t i = 0; i < n; i++) {
        const store_node_t *sn = &nodes[i];
        ps_node_config_t cfg;
        ps_nodex_t *nx = NULL;
        if (ps_cfg_from_store(svc, &sn->config, &cfg) == 0) {
            nx = ps_svc_add_node(svc, sn->owner, sn->name, sn->id, &cfg, NULL, sn->creator,
                                 sn->created_us);
            if (nx && cfg.max_items == PS_MAX_ITEMS_MAX &&
                sn->config.max_items != svc->defaults.max_items_limit) {
                store_node_config_t sc;
                const char *extra[2];
                ps_cfg_to_store(svc, &cfg, &sc, extra);
                store_node_configure(svc->store, sn->id, &sc, max_synced, NULL);
            }
            ps_config_clear(&cfg);
        }
        if (!nx || add_todo(ld, nx) < 0) {
            hlog_error(SUBJ, "cannot load node %s (out of memory or duplicate)", sn->name);
            fail(ld, STORE_EDB);
            return;
        }
        if (!*sn->owner)
            ps_svc_owned_add(svc, sn->creator, +1);
    }
    if (n == NODE_PAGE)
        request_nodes(ld, nodes[n - 1].id);
    else
        ld->nodes_done = true;
    pump(ld);
}

static void pump(struct ps_load *ld)
{
    ps_service_t *svc = ld->svc;
    while (ld->active < NODES_IN_FLIGHT && ld->next_todo < ld->n_todo) {
        struct node_load *nl = calloc(1, sizeof *nl);
        if (!nl) {
            fail(ld, STORE_EDB);
            return;
        }
        nl->ld = ld;
        nl->nx = ld->todo[ld->next_todo++]; /* takes the todo reference */
        nl->parts = 2;
        ld->active++;
        request_affs(nl);
        request_subs(nl);
    }
    if (ld->nodes_done && ld->active == 0 && ld->next_todo == ld->n_todo) {
        hlog_info(SUBJ, "loaded %zu affiliations and %zu subscriptions", ld->n_affs, ld->n_subs);
        svc->load = NULL;
        load_free(ld);
        ps_svc_loaded(svc);
    }
}

void ps_load_start(ps_service_t *svc)
{
    ps_load_abandon(svc);
    struct ps_load *ld = calloc(1, sizeof *ld);
    if (!ld) {
        ps_svc_load_failed(svc, STORE_EDB);
        return;
    }
    ld->svc = svc;
    svc->load = ld;
    request_nodes(ld, 0);
}

void ps_load_abandon(ps_service_t *svc)
{
    struct ps_load *ld = svc->load;
    if (!ld)
        return;
    svc->load = NULL;
    ld->svc = NULL;
    if (ld->outstanding == 0)
        load_free(ld);
}
