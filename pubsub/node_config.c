/* One table describes every pubsub#node_config field Herald knows; the
 * form parser, the precondition check and the form renderer all walk it,
 * so a field cannot be honoured by one and forgotten by another. */
#include "pubsub/node_config.h"

#include <stdlib.h>
#include <string.h>

#include "pubsub/errors.h"
#include "pubsub/xdata.h"

static const char *const access_names[] = {"open", "whitelist", "presence", "roster", "authorize"};
static const char *const publish_names[] = {"publishers", "open", "subscribers"};
static const char *const send_last_names[] = {"never", "on_sub", "on_sub_and_presence"};
static const char *const notif_type_names[] = {"headline", "normal"};
#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* How many leading entries of each name table this version implements. */
#define ACCESS_SUPPORTED 2
#define PUBLISH_SUPPORTED 2
#define SEND_LAST_SUPPORTED 2
#define NOTIF_TYPE_SUPPORTED 2

typedef enum {
    F_TITLE,
    F_DESCRIPTION,
    F_TYPE,
    F_MAX_ITEMS,
    F_MAX_PAYLOAD,
    F_PERSIST,
    F_DELIVER_PAYLOADS,
    F_DELIVER_NOTIFICATIONS,
    F_NOTIFY_RETRACT,
    F_NOTIFY_DELETE,
    F_SEND_LAST,
    F_ACCESS,
    F_PUBLISH,
    F_NOTIF_TYPE,
    F_FIXED_BOOL, /* registered, behaviour fixed to `fixed` */
    F_NODE_TYPE,  /* registered, fixed to leaf */
} field_id_t;

typedef enum { K_TEXT, K_BOOL, K_UINT, K_LIST } kind_t;

struct field {
    const char *var;
    field_id_t id;
    kind_t kind;
    const char *form_type;    /* XEP-0004 field type when rendered */
    const char *label;        /* NULL: not rendered */
    const char *bad;          /* not-acceptable text for a bad value */
    const char *const *names; /* K_LIST */
    int n_names, n_supported;
    bool fixed; /* F_FIXED_BOOL */
};

static const struct field fields[] = {
    {"pubsub#title", F_TITLE, K_TEXT, "text-single", "Node title",
     "pubsub#title: one value expected", NULL, 0, 0, false},
    {"pubsub#description", F_DESCRIPTION, K_TEXT, "text-single", "Node description",
     "pubsub#description: one value expected", NULL, 0, 0, false},
    {"pubsub#type", F_TYPE, K_TEXT, "text-single", "Payload namespace (empty: any)",
     "pubsub#type: one value expected", NULL, 0, 0, false},
    {"pubsub#max_items", F_MAX_ITEMS, K_UINT, "text-single",
     "Items kept (a number, or max for the service limit)",
     "pubsub#max_items: must be max or an integer from 1 to the service "
     "limit",
     NULL, 0, 0, false},
    {"pubsub#max_payload_size", F_MAX_PAYLOAD, K_UINT, "text-single",
     "Largest payload accepted, in bytes",
     "pubsub#max_payload_size: must be an integer from 1 to the service "
     "limit",
     NULL, 0, 0, false},
    {"pubsub#persist_items", F_PERSIST, K_BOOL, "boolean", "Store published items",
     "pubsub#persist_items: must be a boolean", NULL, 0, 0, false},
    {"pubsub#deliver_payloads", F_DELIVER_PAYLOADS, K_BOOL, "boolean",
     "Include payloads in notifications", "pubsub#deliver_payloads: must be a boolean", NULL, 0, 0,
     false},
    {"pubsub#deliver_notifications", F_DELIVER_NOTIFICATIONS, K_BOOL, "boolean",
     "Send notifications", "pubsub#deliver_notifications: must be a boolean", NULL, 0, 0, false},
    {"pubsub#notify_retract", F_NOTIFY_RETRACT, K_BOOL, "boolean",
     "Notify subscribers of retracted items and purges", "pubsub#notify_retract: must be a boolean",
     NULL, 0, 0, false},
    {"pubsub#notify_delete", F_NOTIFY_DELETE, K_BOOL, "boolean",
     "Notify subscribers when the node is deleted", "pubsub#notify_delete: must be a boolean", NULL,
     0, 0, false},
    {"pubsub#send_last_published_item", F_SEND_LAST, K_LIST, "list-single",
     "Send the last item to new subscribers",
     "pubsub#send_last_published_item: only never and on_sub are supported", send_last_names,
     COUNT(send_last_names), SEND_LAST_SUPPORTED, false},
    {"pubsub#access_model", F_ACCESS, K_LIST, "list-single", "Who may subscribe and retrieve items",
     "pubsub#access_model: only open and whitelist are supported", access_names,
     COUNT(access_names), ACCESS_SUPPORTED, false},
    {"pubsub#publish_model", F_PUBLISH, K_LIST, "list-single", "Who may publish",
     "pubsub#publish_model: only publishers and open are supported", publish_names,
     COUNT(publish_names), PUBLISH_SUPPORTED, false},
    {"pubsub#notification_type", F_NOTIF_TYPE, K_LIST, "list-single",
     "Message type of notifications", "pubsub#notification_type: must be normal or headline",
     notif_type_names, COUNT(notif_type_names), NOTIF_TYPE_SUPPORTED, false},
    {"pubsub#notify_config", F_FIXED_BOOL, K_BOOL, NULL, NULL,
     "pubsub#notify_config: only false is supported", NULL, 0, 0, false},
    {"pubsub#notify_sub", F_FIXED_BOOL, K_BOOL, NULL, NULL,
     "pubsub#notify_sub: only false is supported", NULL, 0, 0, false},
    {"pubsub#presence_based_delivery", F_FIXED_BOOL, K_BOOL, NULL, NULL,
     "pubsub#presence_based_delivery: only false is supported", NULL, 0, 0, false},
    {"pubsub#purge_offline", F_FIXED_BOOL, K_BOOL, NULL, NULL,
     "pubsub#purge_offline: only false is supported", NULL, 0, 0, false},
    {"pubsub#tempsub", F_FIXED_BOOL, K_BOOL, NULL, NULL, "pubsub#tempsub: only false is supported",
     NULL, 0, 0, false},
    {"pubsub#subscribe", F_FIXED_BOOL, K_BOOL, NULL, NULL,
     "pubsub#subscribe: only true is supported", NULL, 0, 0, true},
    {"pubsub#node_type", F_NODE_TYPE, K_TEXT, NULL, NULL,
     "pubsub#node_type: must be leaf or collection", NULL, 0, 0, false},
};

static const struct field *find_field(const char *var)
{
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (strcmp(fields[i].var, var) == 0)
            return &fields[i];
    return NULL;
}

/* ---- names ---------------------------------------------------------- */

static const char *name_of(const char *const *t, int n, int v)
{
    return v >= 0 && v < n ? t[v] : NULL;
}

const char *ps_access_model_name(ps_access_model_t m)
{
    return name_of(access_names, COUNT(access_names), (int)m);
}

const char *ps_publish_model_name(ps_publish_model_t m)
{
    return name_of(publish_names, COUNT(publish_names), (int)m);
}

const char *ps_send_last_name(ps_send_last_t s)
{
    return name_of(send_last_names, COUNT(send_last_names), (int)s);
}

const char *ps_notification_type_name(ps_notification_type_t t)
{
    return name_of(notif_type_names, COUNT(notif_type_names), (int)t);
}

const char *ps_access_model_feature(ps_access_model_t m)
{
    static const char *const features[] = {"access-open", "access-whitelist", "access-presence",
                                           "access-roster", "access-authorize"};
    return name_of(features, COUNT(features), (int)m);
}

/* ---- lifetime ------------------------------------------------------- */

void ps_config_clear(ps_node_config_t *cfg)
{
    free(cfg->title);
    free(cfg->description);
    free(cfg->type);
    cfg->title = cfg->description = cfg->type = NULL;
}

static char *dup_or_empty(const char *s)
{
    return strdup(s ? s : "");
}

int ps_config_copy(ps_node_config_t *dst, const ps_node_config_t *src)
{
    *dst = *src;
    dst->title = dup_or_empty(src->title);
    dst->description = dup_or_empty(src->description);
    dst->type = dup_or_empty(src->type);
    if (!dst->title || !dst->description || !dst->type) {
        ps_config_clear(dst);
        return -1;
    }
    return 0;
}

int ps_config_defaults_init(ps_config_defaults_t *d)
{
    ps_node_config_t base = {
        .max_items = 256,
        .max_payload_size = 64 * 1024,
        .persist_items = true,
        .deliver_payloads = true,
        .deliver_notifications = true,
        .notify_retract = true,
        .notify_delete = true,
        .send_last = PS_SEND_LAST_ON_SUB,
        .access = PS_ACCESS_OPEN,
        .publish = PS_PUBLISH_PUBLISHERS,
        .notification_type = PS_NOTIF_HEADLINE,
    };
    d->max_items_limit = 10000;
    d->max_payload_limit = 256 * 1024;
    return ps_config_copy(&d->node, &base);
}

void ps_config_defaults_clear(ps_config_defaults_t *d)
{
    ps_config_clear(&d->node);
}

uint32_t ps_config_item_limit(const ps_node_config_t *cfg, const ps_config_defaults_t *limits)
{
    return cfg->max_items == PS_MAX_ITEMS_MAX ? limits->max_items_limit : cfg->max_items;
}

/* ---- values --------------------------------------------------------- */

/* A field value after normalization, so that "1" and "true" compare
 * equal and "010" equals 10. */
typedef struct {
    bool b;
    uint32_t u;
    int e;
    const char *s;
} fval_t;

/* xs:boolean, xs:integer and list values collapse surrounding
 * whitespace (XML Schema whiteSpace facet); text values are kept as is. */
static void trim(const char **s, size_t *n)
{
    while (*n && strchr(" \t\r\n", (*s)[0])) {
        (*s)++;
        (*n)--;
    }
    while (*n && strchr(" \t\r\n", (*s)[*n - 1]))
        (*n)--;
}

static int token_is(const char *s, size_t n, const char *t)
{
    return strlen(t) == n && memcmp(s, t, n) == 0;
}

static int parse_bool(const char *s, size_t n, bool *out)
{
    if (token_is(s, n, "1") || token_is(s, n, "true"))
        *out = true;
    else if (token_is(s, n, "0") || token_is(s, n, "false"))
        *out = false;
    else
        return -1;
    return 0;
}

static int parse_u32(const char *s, size_t n, uint32_t *out)
{
    uint64_t v = 0;
    if (n == 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
        if (v > UINT32_MAX)
            return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

/* Parses `v` (NULL: the field had no <value/>) for field `f` into *out.
 * Returns 0 or an error code with *err filled. */
static int parse_value(const struct field *f, const char *v, const ps_config_defaults_t *limits,
                       fval_t *out, xerr_spec_t *err)
{
    const char *s = v ? v : "";
    size_t n = strlen(s);
    memset(out, 0, sizeof *out);
    if (f->kind == K_TEXT && f->id != F_NODE_TYPE) {
        out->s = s;
        return 0;
    }
    trim(&s, &n);
    switch (f->kind) {
    case K_BOOL:
        if (parse_bool(s, n, &out->b) < 0)
            return ps_err(err, XERR_NOT_ACCEPTABLE, NULL, f->bad);
        if (f->id == F_FIXED_BOOL && out->b != f->fixed)
            return ps_err(err, XERR_NOT_ACCEPTABLE, NULL, f->bad);
        return 0;
    case K_UINT:
        if (f->id == F_MAX_ITEMS && token_is(s, n, "max")) {
            out->u = PS_MAX_ITEMS_MAX;
            return 0;
        }
        if (parse_u32(s, n, &out->u) < 0 || out->u == 0 ||
            out->u > (f->id == F_MAX_ITEMS ? limits->max_items_limit : limits->max_payload_limit))
            return ps_err(err, XERR_NOT_ACCEPTABLE, NULL, f->bad);
        return 0;
    case K_LIST:
        for (int i = 0; i < f->n_names; i++) {
            if (!token_is(s, n, f->names[i]))
                continue;
            if (i >= f->n_supported)
                break;
            out->e = i;
            return 0;
        }
        /* §8.1.2: an access model the service lacks is not-acceptable +
         * unsupported-access-model, whether unknown or merely not yet
         * implemented. */
        return ps_err(err, XERR_NOT_ACCEPTABLE,
                      f->id == F_ACCESS ? PS_E_UNSUPPORTED_ACCESS_MODEL : NULL, f->bad);
    case K_TEXT: /* F_NODE_TYPE */
        if (token_is(s, n, "leaf"))
            return 0;
        if (token_is(s, n, "collection"))
            return ps_err_unsupported(err, "collections");
        return ps_err(err, XERR_NOT_ACCEPTABLE, NULL, f->bad);
    }
    return ps_err(err, XERR_INTERNAL_SERVER_ERROR, NULL, NULL);
}

static void get_value(const struct field *f, const ps_node_config_t *c, fval_t *out)
{
    memset(out, 0, sizeof *out);
    switch (f->id) {
    case F_TITLE:
        out->s = c->title ? c->title : "";
        break;
    case F_DESCRIPTION:
        out->s = c->description ? c->description : "";
        break;
    case F_TYPE:
        out->s = c->type ? c->type : "";
        break;
    case F_MAX_ITEMS:
        out->u = c->max_items;
        break;
    case F_MAX_PAYLOAD:
        out->u = c->max_payload_size;
        break;
    case F_PERSIST:
        out->b = c->persist_items;
        break;
    case F_DELIVER_PAYLOADS:
        out->b = c->deliver_payloads;
        break;
    case F_DELIVER_NOTIFICATIONS:
        out->b = c->deliver_notifications;
        break;
    case F_NOTIFY_RETRACT:
        out->b = c->notify_retract;
        break;
    case F_NOTIFY_DELETE:
        out->b = c->notify_delete;
        break;
    case F_SEND_LAST:
        out->e = (int)c->send_last;
        break;
    case F_ACCESS:
        out->e = (int)c->access;
        break;
    case F_PUBLISH:
        out->e = (int)c->publish;
        break;
    case F_NOTIF_TYPE:
        out->e = (int)c->notification_type;
        break;
    case F_FIXED_BOOL:
        out->b = f->fixed;
        break;
    case F_NODE_TYPE:
        break;
    }
}

static int replace_str(char **dst, const char *s)
{
    char *copy = strdup(s);
    if (!copy)
        return -1;
    free(*dst);
    *dst = copy;
    return 0;
}

/* Returns 0, or -1 on OOM. */
static int store_value(const struct field *f, ps_node_config_t *c, const fval_t *v)
{
    switch (f->id) {
    case F_TITLE:
        return replace_str(&c->title, v->s);
    case F_DESCRIPTION:
        return replace_str(&c->description, v->s);
    case F_TYPE:
        return replace_str(&c->type, v->s);
    case F_MAX_ITEMS:
        c->max_items = v->u;
        break;
    case F_MAX_PAYLOAD:
        c->max_payload_size = v->u;
        break;
    case F_PERSIST:
        c->persist_items = v->b;
        break;
    case F_DELIVER_PAYLOADS:
        c->deliver_payloads = v->b;
        break;
    case F_DELIVER_NOTIFICATIONS:
        c->deliver_notifications = v->b;
        break;
    case F_NOTIFY_RETRACT:
        c->notify_retract = v->b;
        break;
    case F_NOTIFY_DELETE:
        c->notify_delete = v->b;
        break;
    case F_SEND_LAST:
        c->send_last = (ps_send_last_t)v->e;
        break;
    case F_ACCESS:
        c->access = (ps_access_model_t)v->e;
        break;
    case F_PUBLISH:
        c->publish = (ps_publish_model_t)v->e;
        break;
    case F_NOTIF_TYPE:
        c->notification_type = (ps_notification_type_t)v->e;
        break;
    case F_FIXED_BOOL:
    case F_NODE_TYPE:
        break; /* validated by parse_value, nothing stored */
    }
    return 0;
}

static bool equal_value(const struct field *f, const fval_t *a, const fval_t *b)
{
    switch (f->kind) {
    case K_TEXT:
        return f->id == F_NODE_TYPE || strcmp(a->s, b->s) == 0;
    case K_BOOL:
        return a->b == b->b;
    case K_UINT:
        return a->u == b->u;
    case K_LIST:
        return a->e == b->e;
    }
    return false;
}

/* ---- submitted forms ------------------------------------------------ */

#define FORM_CANCELLED (-1)

/* Checks the form's type and FORM_TYPE. Returns 0 to go on,
 * FORM_CANCELLED, or an error code (> 0). */
static int check_form(xmpp_stanza_t *x, const char *want_form_type, xerr_spec_t *err)
{
    const char *type = ps_xdata_type(x);
    if (type && strcmp(type, "cancel") == 0)
        return FORM_CANCELLED;
    if (!type || strcmp(type, "submit") != 0)
        return ps_err(err, XERR_BAD_REQUEST, NULL, "data form type must be submit");
    char *ft;
    if (ps_xdata_form_type(x, &ft) < 0)
        return ps_err(err, XERR_INTERNAL_SERVER_ERROR, NULL, NULL);
    int bad = ft && strcmp(ft, want_form_type) != 0;
    free(ft);
    if (bad)
        return ps_err(err, XERR_BAD_REQUEST, NULL, "wrong FORM_TYPE");
    return 0;
}

/* Applies `x` to a copy of *cfg and swaps it in on success. `strict`:
 * publish-options, where an unknown field is a precondition that fails. */
static int apply(ps_node_config_t *cfg, const ps_config_defaults_t *limits, xmpp_stanza_t *x,
                 const char *form_type, bool strict, xerr_spec_t *err)
{
    if (!x)
        return 0;
    int rc = check_form(x, form_type, err);
    if (rc)
        return rc == FORM_CANCELLED ? 0 : rc;
    ps_node_config_t tmp;
    if (ps_config_copy(&tmp, cfg) < 0)
        return ps_err(err, XERR_INTERNAL_SERVER_ERROR, NULL, NULL);
    for (xmpp_stanza_t *fe = ps_xdata_first_field(x); fe && rc == 0; fe = ps_xdata_next_field(fe)) {
        const char *var = xmpp_stanza_get_attribute(fe, "var");
        if (!var || strcmp(var, "FORM_TYPE") == 0)
            continue;
        const struct field *f = find_field(var);
        if (!f) {
            if (strict)
                rc = ps_err(err, XERR_CONFLICT, PS_E_PRECONDITION_NOT_MET,
                            "publish-options: unknown field");
            continue;
        }
        if (ps_xdata_value_count(fe) > 1) {
            rc = ps_err(err, XERR_NOT_ACCEPTABLE, NULL, f->bad);
            break;
        }
        char *v;
        fval_t val;
        if (ps_xdata_first_value(fe, &v) < 0) {
            rc = ps_err(err, XERR_INTERNAL_SERVER_ERROR, NULL, NULL);
            break;
        }
        /* A value-less non-text field leaves the option as it was. */
        if (v || f->kind == K_TEXT) {
            rc = parse_value(f, v, limits, &val, err);
            if (rc == 0 && store_value(f, &tmp, &val) < 0)
                rc = ps_err(err, XERR_INTERNAL_SERVER_ERROR, NULL, NULL);
        }
        free(v);
    }
    if (rc) {
        ps_config_clear(&tmp);
        return rc;
    }
    ps_config_clear(cfg);
    *cfg = tmp;
    return 0;
}

int ps_config_apply_form(ps_node_config_t *cfg, const ps_config_defaults_t *limits,
                         xmpp_stanza_t *x, xerr_spec_t *err)
{
    return apply(cfg, limits, x, PS_NS_NODE_CONFIG, false, err);
}

int ps_config_apply_publish_options(ps_node_config_t *cfg, const ps_config_defaults_t *limits,
                                    xmpp_stanza_t *x, xerr_spec_t *err)
{
    return apply(cfg, limits, x, PS_NS_PUBLISH_OPTIONS, true, err);
}

int ps_config_check_preconditions(const ps_node_config_t *cfg, const ps_config_defaults_t *limits,
                                  xmpp_stanza_t *x, xerr_spec_t *err)
{
    if (!x)
        return 0;
    int rc = check_form(x, PS_NS_PUBLISH_OPTIONS, err);
    if (rc == FORM_CANCELLED)
        return ps_err(err, XERR_BAD_REQUEST, NULL, "data form type must be submit");
    if (rc)
        return rc;
    for (xmpp_stanza_t *fe = ps_xdata_first_field(x); fe && rc == 0; fe = ps_xdata_next_field(fe)) {
        const char *var = xmpp_stanza_get_attribute(fe, "var");
        if (!var || strcmp(var, "FORM_TYPE") == 0)
            continue;
        const struct field *f = find_field(var);
        if (!f)
            return ps_err(err, XERR_CONFLICT, PS_E_PRECONDITION_NOT_MET,
                          "publish-options: unknown field");
        char *v;
        if (ps_xdata_first_value(fe, &v) < 0)
            return ps_err(err, XERR_INTERNAL_SERVER_ERROR, NULL, NULL);
        fval_t want, have;
        xerr_spec_t ignored;
        /* A value this node could never have (malformed, unsupported,
         * several values) is a precondition that does not hold. */
        bool met = ps_xdata_value_count(fe) <= 1 && parse_value(f, v, limits, &want, &ignored) == 0;
        if (met) {
            get_value(f, cfg, &have);
            met = equal_value(f, &want, &have);
        }
        free(v);
        if (!met)
            rc = ps_err(err, XERR_CONFLICT, PS_E_PRECONDITION_NOT_MET, f->var);
    }
    return rc;
}

int ps_config_check_publish(const ps_node_config_t *cfg, bool has_item, bool has_payload,
                            xerr_spec_t *err)
{
    if (cfg->persist_items && !has_item)
        return ps_err(err, XERR_BAD_REQUEST, PS_E_ITEM_REQUIRED, NULL);
    if (cfg->deliver_payloads && !has_payload)
        return ps_err(err, XERR_BAD_REQUEST, PS_E_PAYLOAD_REQUIRED, NULL);
    if (!cfg->persist_items && !cfg->deliver_payloads && has_item)
        return ps_err(err, XERR_BAD_REQUEST, PS_E_ITEM_FORBIDDEN, NULL);
    return 0;
}

/* ---- rendering ------------------------------------------------------ */

static int add_value_field(xmpp_stanza_t *x, const struct field *f, const ps_node_config_t *cfg,
                           bool with_options)
{
    fval_t v;
    char num[16];
    const char *text = NULL;
    get_value(f, cfg, &v);
    switch (f->kind) {
    case K_TEXT:
        text = v.s;
        break;
    case K_BOOL:
        text = v.b ? "1" : "0";
        break;
    case K_UINT:
        if (f->id == F_MAX_ITEMS && v.u == PS_MAX_ITEMS_MAX) {
            text = "max";
        } else {
            int i = (int)sizeof num;
            num[--i] = '\0';
            do {
                num[--i] = (char)('0' + v.u % 10);
                v.u /= 10;
            } while (v.u);
            text = num + i;
        }
        break;
    case K_LIST:
        text = f->names[v.e];
        break;
    }
    return ps_xdata_add_field(x, f->var, f->form_type, f->label, &text, 1,
                              with_options ? f->names : NULL, with_options ? f->n_supported : 0);
}

xmpp_stanza_t *ps_config_to_form(xmpp_ctx_t *ctx, const ps_node_config_t *cfg, const char *type)
{
    xmpp_stanza_t *x = ps_xdata_new(ctx, type, PS_NS_NODE_CONFIG);
    if (!x)
        return NULL;
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        if (!fields[i].label)
            continue;
        if (add_value_field(x, &fields[i], cfg, true) < 0) {
            xmpp_stanza_release(x);
            return NULL;
        }
    }
    return x;
}

xmpp_stanza_t *ps_config_to_metadata(xmpp_ctx_t *ctx, const ps_node_config_t *cfg,
                                     const ps_node_meta_t *meta)
{
    static const char *const vars[] = {
        "pubsub#title",        "pubsub#description",   "pubsub#type",
        "pubsub#access_model", "pubsub#publish_model", "pubsub#max_items",
    };
    xmpp_stanza_t *x = ps_xdata_new(ctx, "result", PS_NS_METADATA);
    if (!x)
        return NULL;
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        if (add_value_field(x, find_field(vars[i]), cfg, false) < 0)
            goto fail;
    char num[24];
    int i = (int)sizeof num;
    size_t n = meta->num_subscribers;
    num[--i] = '\0';
    do {
        num[--i] = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    if ((meta->creator &&
         ps_xdata_add(x, "pubsub#creator", "jid-single", "Node creator", meta->creator) < 0) ||
        (meta->creation_date && ps_xdata_add(x, "pubsub#creation_date", "text-single",
                                             "Creation date", meta->creation_date) < 0) ||
        ps_xdata_add_field(x, "pubsub#owner", "jid-multi", "Node owners", meta->owners,
                           (int)meta->n_owners, NULL, 0) < 0 ||
        ps_xdata_add_field(x, "pubsub#publisher", "jid-multi", "Publishers", meta->publishers,
                           (int)meta->n_publishers, NULL, 0) < 0 ||
        ps_xdata_add(x, "pubsub#num_subscribers", "text-single", "Number of subscribers", num + i) <
            0)
        goto fail;
    return x;
fail:
    xmpp_stanza_release(x);
    return NULL;
}
