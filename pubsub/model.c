#include "pubsub/model.h"

#include <stdlib.h>
#include <string.h>

#include "component/jid.h"
#include "pubsub/errors.h"
#include "pubsub/model_int.h"

/* subset.c stores states as plain integers with these two values. */
_Static_assert(PS_SUB_NONE == 0 && PS_SUB_SUBSCRIBED == 3, "subset.c state constants");
_Static_assert((PS_SUBF_ANY & PS_SUBSET_STATE_MASK) == 0, "prune flags above the state");

/* ---- names ---------------------------------------------------------- */

static const char *const aff_names[] = {"none",         "outcast",   "member",
                                        "publish-only", "publisher", "owner"};
static const char *const sub_names[] = {"none", "pending", "unconfigured", "subscribed"};

const char *ps_affiliation_name(ps_affiliation_t a)
{
    return (unsigned)a <= PS_AFF_OWNER ? aff_names[a] : NULL;
}

int ps_affiliation_from_name(const char *name, ps_affiliation_t *out)
{
    for (int i = 0; i <= PS_AFF_OWNER; i++)
        if (name && strcmp(name, aff_names[i]) == 0) {
            *out = (ps_affiliation_t)i;
            return 0;
        }
    return -1;
}

const char *ps_sub_state_name(ps_sub_state_t s)
{
    return (unsigned)s <= PS_SUB_SUBSCRIBED ? sub_names[s] : NULL;
}

int ps_sub_state_from_name(const char *name, ps_sub_state_t *out)
{
    for (int i = 0; i <= PS_SUB_SUBSCRIBED; i++)
        if (name && strcmp(name, sub_names[i]) == 0) {
            *out = (ps_sub_state_t)i;
            return 0;
        }
    return -1;
}

void ps_subid_format(uint64_t subid, char out[PS_SUBID_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    for (int i = PS_SUBID_LEN - 1; i >= 0; i--, subid >>= 4)
        out[i] = hex[subid & 15];
    out[PS_SUBID_LEN] = '\0';
}

int ps_subid_parse(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (!s || strlen(s) != PS_SUBID_LEN)
        return -1;
    for (int i = 0; i < PS_SUBID_LEN; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            return -1;
        v = v << 4 | (uint64_t)d;
    }
    *out = v;
    return 0;
}

/* ---- model ---------------------------------------------------------- */

ps_model_t *ps_model_new(void)
{
    ps_model_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->nodes = ps_strmap_new();
    m->jids = strtab_new();
    if (!m->nodes || !m->jids) {
        ps_strmap_free(m->nodes);
        strtab_free(m->jids);
        free(m);
        return NULL;
    }
    return m;
}

void ps_model_node_free(ps_node_t *n)
{
    ps_prune_free(n);
    ps_subset_clear(&n->subs, n->model->jids);
    ps_strmap_free(n->affs);
    ps_config_clear(&n->cfg);
    free(n->scope);
    free(n->name);
    free(n->creator);
    free(n->creation_date);
    free(n);
}

void ps_model_free(ps_model_t *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < ps_strmap_count(m->nodes); i++) {
        void *v;
        ps_strmap_at(m->nodes, i, NULL, NULL, &v);
        ps_model_node_free(v);
    }
    while (m->dying) {
        ps_node_t *n = m->dying;
        m->dying = n->dying_next;
        ps_model_node_free(n);
    }
    ps_strmap_free(m->nodes);
    strtab_free(m->jids);
    free(m);
}

/* The map key "scope\0name" in buf (len returned), or NULL on OOM. */
static char *node_key(const char *scope, const char *name, char *small, size_t small_len,
                      size_t *len)
{
    size_t sl = strlen(scope), nl = strlen(name);
    *len = sl + 1 + nl;
    char *k = *len <= small_len ? small : malloc(*len);
    if (!k)
        return NULL;
    memcpy(k, scope, sl);
    k[sl] = '\0';
    memcpy(k + sl + 1, name, nl);
    return k;
}

ps_node_t *ps_model_find(const ps_model_t *m, const char *scope, const char *name)
{
    char small[256];
    size_t len;
    char *k = node_key(scope, name, small, sizeof small, &len);
    if (!k)
        return NULL;
    ps_node_t *n = ps_strmap_get(m->nodes, k, len);
    if (k != small)
        free(k);
    return n;
}

int ps_check_create(const ps_model_t *m, const char *scope, const char *name, xerr_spec_t *err)
{
    if (ps_model_find(m, scope, name))
        return ps_err(err, XERR_CONFLICT, NULL, NULL);
    return 0;
}

int ps_model_create(ps_model_t *m, const char *scope, const char *name, const ps_node_config_t *cfg,
                    const char *owner, ps_node_t **out, xerr_spec_t *err)
{
    int rc = ps_check_create(m, scope, name, err);
    if (rc)
        return rc;
    ps_node_t *n = calloc(1, sizeof *n);
    if (!n)
        return ps_err(err, XERR_INTERNAL_SERVER_ERROR, NULL, NULL);
    n->model = m;
    n->scope = strdup(scope);
    n->name = strdup(name);
    n->affs = ps_strmap_new();
    /* ps_config_copy leaves nothing to free when it fails, so freeing
     * below is safe at every step. */
    bool ok = n->scope && n->name && n->affs && ps_config_copy(&n->cfg, cfg) == 0;
    if (ok && owner && ps_node_set_affiliation(n, owner, PS_AFF_OWNER) < 0)
        ok = false;
    char small[256];
    size_t len;
    char *k = ok ? node_key(scope, name, small, sizeof small, &len) : NULL;
    if (k && ps_strmap_put(m->nodes, k, len, n) < 0)
        ok = false;
    if (k && k != small)
        free(k);
    if (!ok || !k) {
        ps_model_node_free(n);
        return ps_err(err, XERR_INTERNAL_SERVER_ERROR, NULL, NULL);
    }
    *out = n;
    return 0;
}

void ps_model_remove(ps_model_t *m, ps_node_t *n)
{
    if (n->removed)
        return;
    char small[256];
    size_t len;
    char *k = node_key(n->scope, n->name, small, sizeof small, &len);
    if (k) {
        ps_strmap_del(m->nodes, k, len);
        if (k != small)
            free(k);
    } else {
        /* No memory for the key: find the entry by identity instead. */
        for (size_t i = 0; i < ps_strmap_count(m->nodes); i++) {
            const char *key;
            void *v;
            ps_strmap_at(m->nodes, i, &key, &len, &v);
            if (v == n) {
                ps_strmap_del(m->nodes, key, len);
                break;
            }
        }
    }
    n->removed = true;
    ps_prune_detach(n);
    /* Its set is released, not compacted. */
    ps_model_forget_chores(n);
    if (ps_model_release_now(n)) {
        ps_model_node_free(n);
        return;
    }
    n->dying_prev = NULL;
    n->dying_next = m->dying;
    if (m->dying)
        m->dying->dying_prev = n;
    m->dying = n;
    if (n->subs.iterators == 0)
        ps_model_wake(m);
}

size_t ps_model_node_count(const ps_model_t *m)
{
    return ps_strmap_count(m->nodes);
}

void ps_model_foreach(ps_model_t *m, const char *scope, ps_node_visit_fn fn, void *ud)
{
    for (size_t i = 0; i < ps_strmap_count(m->nodes); i++) {
        void *v;
        ps_strmap_at(m->nodes, i, NULL, NULL, &v);
        ps_node_t *n = v;
        if (scope && strcmp(scope, n->scope) != 0)
            continue;
        if (fn(n, ud))
            break;
    }
}

/* ---- node ----------------------------------------------------------- */

const char *ps_node_name(const ps_node_t *n)
{
    return n->name;
}
const char *ps_node_scope(const ps_node_t *n)
{
    return n->scope;
}
const ps_node_config_t *ps_node_config(const ps_node_t *n)
{
    return &n->cfg;
}

int ps_node_set_config(ps_node_t *n, const ps_node_config_t *cfg)
{
    ps_node_config_t copy;
    if (ps_config_copy(&copy, cfg) < 0)
        return -1;
    ps_config_clear(&n->cfg);
    n->cfg = copy;
    return 0;
}

int ps_node_set_created(ps_node_t *n, const char *creator, const char *creation_date)
{
    char *c = creator ? strdup(creator) : NULL;
    char *d = creation_date ? strdup(creation_date) : NULL;
    if ((creator && !c) || (creation_date && !d)) {
        free(c);
        free(d);
        return -1;
    }
    free(n->creator);
    free(n->creation_date);
    n->creator = c;
    n->creation_date = d;
    return 0;
}

const char *ps_node_creator(const ps_node_t *n)
{
    return n->creator;
}
const char *ps_node_creation_date(const ps_node_t *n)
{
    return n->creation_date;
}

/* ---- affiliations --------------------------------------------------- */

ps_affiliation_t ps_node_affiliation(const ps_node_t *n, const char *bare)
{
    if (!n || !bare)
        return PS_AFF_NONE;
    return (ps_affiliation_t)(uintptr_t)ps_strmap_get(n->affs, bare, strlen(bare));
}

int ps_node_set_affiliation(ps_node_t *n, const char *bare, ps_affiliation_t a)
{
    if ((unsigned)a > PS_AFF_OWNER)
        return -1;
    size_t len = strlen(bare);
    ps_affiliation_t old = ps_node_affiliation(n, bare);
    if (a == PS_AFF_NONE) {
        ps_strmap_del(n->affs, bare, len);
    } else if (ps_strmap_put(n->affs, bare, len, (void *)(uintptr_t)a) < 0) {
        return -1;
    }
    n->aff_counts[old]--;
    n->aff_counts[a]++;
    return 0;
}

size_t ps_node_affiliation_count(const ps_node_t *n, ps_affiliation_t a)
{
    if ((unsigned)a > PS_AFF_OWNER || a == PS_AFF_NONE)
        return 0;
    return n->aff_counts[a];
}

void ps_node_foreach_affiliation(const ps_node_t *n, ps_aff_visit_fn fn, void *ud)
{
    for (size_t i = 0; i < ps_strmap_count(n->affs); i++) {
        const char *key;
        void *v;
        ps_strmap_at(n->affs, i, &key, NULL, &v);
        if (fn(key, (ps_affiliation_t)(uintptr_t)v, ud))
            break;
    }
}

struct meta_lists {
    const char **owners, **pubs;
    size_t n_owners, n_pubs;
};

static int collect(const char *bare, ps_affiliation_t a, void *ud)
{
    struct meta_lists *l = ud;
    if (a == PS_AFF_OWNER)
        l->owners[l->n_owners++] = bare;
    else if (a == PS_AFF_PUBLISHER)
        l->pubs[l->n_pubs++] = bare;
    return 0;
}

xmpp_stanza_t *ps_node_metadata_form(xmpp_ctx_t *ctx, const ps_node_t *n)
{
    struct meta_lists l = {0};
    xmpp_stanza_t *x = NULL;
    l.owners = malloc((n->aff_counts[PS_AFF_OWNER] + 1) * sizeof(char *));
    l.pubs = malloc((n->aff_counts[PS_AFF_PUBLISHER] + 1) * sizeof(char *));
    if (l.owners && l.pubs) {
        /* One walk over the affiliations, a dense array (~4 ms for a
         * million members). */
        ps_node_foreach_affiliation(n, collect, &l);
        ps_node_meta_t meta = {
            .creator = n->creator,
            .creation_date = n->creation_date,
            .owners = l.owners,
            .n_owners = l.n_owners,
            .publishers = l.pubs,
            .n_publishers = l.n_pubs,
            .num_subscribers = ps_subset_subscribed(&n->subs),
        };
        x = ps_config_to_metadata(ctx, &n->cfg, &meta);
    }
    free(l.owners);
    free(l.pubs);
    return x;
}

/* ---- subscriptions -------------------------------------------------- */

int ps_node_subscribe(ps_node_t *n, const char *jid, ps_sub_state_t state, uint64_t subid)
{
    if (state == PS_SUB_NONE || (unsigned)state > PS_SUB_SUBSCRIBED)
        return -1;
    return ps_subset_put(&n->subs, n->model->jids, jid, strlen(jid), (uint32_t)state, subid);
}

ps_sub_state_t ps_node_subscription(const ps_node_t *n, const char *jid, uint64_t *subid)
{
    const struct ps_sub_ent *e =
        jid ? ps_subset_get(&n->subs, n->model->jids, jid, strlen(jid)) : NULL;
    if (subid)
        *subid = e ? e->subid : 0;
    return e ? (ps_sub_state_t)(e->state & PS_SUBSET_STATE_MASK) : PS_SUB_NONE;
}

int ps_node_unsubscribe(ps_node_t *n, const char *jid)
{
    return ps_subset_del(&n->subs, n->model->jids, jid, strlen(jid));
}

size_t ps_node_subscriber_count(const ps_node_t *n)
{
    return ps_subset_subscribed(&n->subs);
}

size_t ps_node_subscription_count(const ps_node_t *n)
{
    return ps_subset_count(&n->subs);
}

void ps_node_foreach_subscription(const ps_node_t *n, ps_sub_visit_fn fn, void *ud)
{
    for (uint32_t i = 0; i < n->subs.n; i++) {
        const struct ps_sub_ent *e = ps_subset_at(&n->subs, i);
        if (e->state == PS_SUB_NONE)
            continue;
        if (fn(strtab_str(n->model->jids, e->jid),
               (ps_sub_state_t)(e->state & PS_SUBSET_STATE_MASK), e->subid, ud))
            break;
    }
}

/* ---- fan-out -------------------------------------------------------- */

void ps_fanout_begin(ps_fanout_t *f, ps_node_t *node)
{
    ps_subset_iter_t it;
    f->node = node;
    ps_subset_iter_begin(&node->subs, &it);
    f->pos = it.pos;
    f->end = it.end;
}

ps_fanout_step_t ps_fanout_next(ps_fanout_t *f, ps_recipient_t *out, size_t max)
{
    ps_node_t *n = f->node;
    const strtab_t *t = n->model->jids;
    ps_fanout_step_t st = {0, 0, false};
    /* Positions are 32-bit: a larger scan bound means "to the end". */
    uint32_t left = f->end - f->pos;
    if (max <= left / PS_FANOUT_SCAN_FACTOR)
        left = (uint32_t)(max * PS_FANOUT_SCAN_FACTOR);
    uint32_t stop = f->pos + left;
    /* Positions below f->end stay put while the walk is open (subset.h),
     * so entries are read in place. */
    while (st.n < max && f->pos < stop) {
        uint32_t pos = f->pos++;
        const struct ps_sub_ent *e = ps_subset_at(&n->subs, pos);
        if ((e->state & PS_SUBSET_STATE_MASK) != PS_SUB_SUBSCRIBED || !ps_prune_deliverable(n, pos))
            continue;
        out[st.n].jid = strtab_str(t, e->jid);
        out[st.n].len = strtab_strlen(t, e->jid);
        st.n++;
    }
    st.scanned = left - (stop - f->pos);
    st.done = f->pos >= f->end;
    return st;
}

void ps_fanout_end(ps_fanout_t *f)
{
    ps_node_t *n = f->node;
    if (!n)
        return;
    ps_subset_iter_t it = {f->pos, f->end};
    ps_subset_iter_end(&n->subs, n->model->jids, &it);
    f->node = NULL;
    ps_model_walk_ended(n);
}

/* ---- authorization -------------------------------------------------- */

static int no_node(xerr_spec_t *err)
{
    return ps_err(err, XERR_ITEM_NOT_FOUND, NULL, NULL);
}

bool ps_is_owner(const ps_node_t *n, const char *bare)
{
    return ps_node_affiliation(n, bare) == PS_AFF_OWNER;
}

bool ps_access_allows(const ps_node_t *n, ps_affiliation_t a)
{
    if (a == PS_AFF_OUTCAST || a == PS_AFF_PUBLISH_ONLY)
        return false;
    if (a == PS_AFF_OWNER)
        return true;
    switch (n->cfg.access) {
    case PS_ACCESS_OPEN:
        return true;
    case PS_ACCESS_WHITELIST:
        return a == PS_AFF_PUBLISHER || a == PS_AFF_MEMBER;
    default:
        return false;
    }
}

bool ps_node_may_refuse(const ps_node_t *n)
{
    return n->cfg.access != PS_ACCESS_OPEN || n->aff_counts[PS_AFF_OUTCAST] ||
           n->aff_counts[PS_AFF_PUBLISH_ONLY];
}

/* The access-model gate shared by subscribe and items retrieval (§4.5,
 * §4.1 table): outcasts and publish-only entities are refused outright,
 * owners always pass. */
static int check_access(const ps_node_t *n, ps_affiliation_t a, xerr_spec_t *err)
{
    if (ps_access_allows(n, a))
        return 0;
    if (a == PS_AFF_OUTCAST || a == PS_AFF_PUBLISH_ONLY)
        return ps_err(err, XERR_FORBIDDEN, NULL, NULL);
    if (n->cfg.access == PS_ACCESS_WHITELIST)
        return ps_err(err, XERR_NOT_ALLOWED, PS_E_CLOSED_NODE, NULL);
    return ps_err_unsupported(err, ps_access_model_feature(n->cfg.access));
}

/* Subscribed and not refused by a prune pass (marked, or not reached yet
 * and refused by the rules). */
static bool is_subscribed(const ps_node_t *n, const char *jid)
{
    uint32_t p =
        jid ? ps_subset_find_id(&n->subs, strtab_find(n->model->jids, jid, strlen(jid))) : 0;
    return p && ps_prune_deliverable_const(n, p - 1);
}

int ps_check_publish(const ps_node_t *n, const char *bare, const char *full, xerr_spec_t *err)
{
    if (!n)
        return no_node(err);
    ps_affiliation_t a = ps_node_affiliation(n, bare);
    if (a == PS_AFF_OUTCAST)
        return ps_err(err, XERR_FORBIDDEN, NULL, NULL);
    if (a >= PS_AFF_PUBLISH_ONLY)
        return 0;
    if (n->cfg.publish == PS_PUBLISH_OPEN)
        return 0;
    if (n->cfg.publish == PS_PUBLISH_SUBSCRIBERS &&
        (is_subscribed(n, full) || is_subscribed(n, bare)))
        return 0;
    return ps_err(err, XERR_FORBIDDEN, NULL, NULL);
}

int ps_check_subscribe(const ps_node_t *n, const char *bare, const char *jid, xerr_spec_t *err)
{
    if (!n)
        return no_node(err);
    int rc = check_access(n, ps_node_affiliation(n, bare), err);
    if (rc)
        return rc;
    if (ps_node_subscription(n, jid, NULL) == PS_SUB_PENDING)
        return ps_err(err, XERR_NOT_AUTHORIZED, PS_E_PENDING_SUBSCRIPTION, NULL);
    return 0;
}

/* A subid given for a subscription that has one must match it. */
static int check_subid(uint64_t have, const char *given, xerr_spec_t *err)
{
    uint64_t v;
    if (!given || have == 0)
        return 0;
    if (ps_subid_parse(given, &v) < 0 || v != have)
        return ps_err(err, XERR_NOT_ACCEPTABLE, PS_E_INVALID_SUBID, NULL);
    return 0;
}

int ps_check_unsubscribe(const ps_node_t *n, const char *bare, const char *jid, const char *subid,
                         xerr_spec_t *err)
{
    if (!n)
        return no_node(err);
    if (!jid_bare_equal(jid, bare))
        return ps_err(err, XERR_FORBIDDEN, NULL, NULL);
    uint64_t have;
    if (ps_node_subscription(n, jid, &have) == PS_SUB_NONE)
        return ps_err_typed(err, XERR_UNEXPECTED_REQUEST, "cancel", PS_E_NOT_SUBSCRIBED, NULL);
    return check_subid(have, subid, err);
}

int ps_check_items(const ps_node_t *n, const char *bare, const char *full, const char *subid,
                   xerr_spec_t *err)
{
    if (!n)
        return no_node(err);
    int rc = check_access(n, ps_node_affiliation(n, bare), err);
    if (rc)
        return rc;
    uint64_t have = 0;
    if (ps_node_subscription(n, full, &have) == PS_SUB_NONE)
        ps_node_subscription(n, bare, &have);
    rc = check_subid(have, subid, err);
    if (rc)
        return rc;
    if (!n->cfg.persist_items)
        return ps_err_unsupported(err, "persistent-items");
    return 0;
}

int ps_check_retract(const ps_node_t *n, const char *bare, const char *item_publisher,
                     xerr_spec_t *err)
{
    if (!n)
        return no_node(err);
    ps_affiliation_t a = ps_node_affiliation(n, bare);
    if (a < PS_AFF_PUBLISH_ONLY)
        return ps_err(err, XERR_FORBIDDEN, NULL, NULL);
    if (!n->cfg.persist_items)
        return ps_err_unsupported(err, "persistent-items");
    if (a == PS_AFF_PUBLISH_ONLY && item_publisher && strcmp(item_publisher, bare) != 0)
        return ps_err(err, XERR_FORBIDDEN, NULL, NULL);
    return 0;
}

int ps_check_purge(const ps_node_t *n, const char *bare, xerr_spec_t *err)
{
    if (!n)
        return no_node(err);
    ps_affiliation_t a = ps_node_affiliation(n, bare);
    if (a != PS_AFF_OWNER && a != PS_AFF_PUBLISHER)
        return ps_err(err, XERR_FORBIDDEN, NULL, NULL);
    if (!n->cfg.persist_items)
        return ps_err_unsupported(err, "persistent-items");
    return 0;
}

int ps_check_owner(const ps_node_t *n, const char *bare, xerr_spec_t *err)
{
    if (!n)
        return no_node(err);
    if (!ps_is_owner(n, bare))
        return ps_err(err, XERR_FORBIDDEN, NULL, NULL);
    return 0;
}
