#include "pubsub/notify.h"

#include <stdlib.h>
#include <string.h>

#include "component/ns.h"

/* ---- payload serialization ----------------------------------------- */

struct frame {
    xmpp_stanza_t *el;
    xmpp_stanza_t *next; /* next child to render */
};

/* libstrophe 0.12's parser keeps only the local name of a namespaced
 * attribute (xml:lang arrives as lang). On Atom elements the original is
 * recoverable: RFC 4287 allows no unqualified attributes there but those
 * it defines (§6.4, undefinedAttribute excludes local:*), and it defines
 * neither `lang` nor `base`, so those can only have been xml:lang and
 * xml:base. The same argument puts `count` and `updated` on atom:link in
 * RFC 4685's thread namespace, the extension XEP-0277 uses for reply
 * counts. Everything else keeps the name libstrophe gave it. */
#define NS_XML_PREFIXED "xml:"
#define NS_ATOM_THREAD "http://purl.org/syndication/thread/1.0"

static const char *restored_attr_prefix(const char *el_ns, const char *el_name,
                                        const char *attr)
{
    if (!el_ns || strcmp(el_ns, NS_ATOM) != 0)
        return NULL;
    if (strcmp(attr, "lang") == 0 || strcmp(attr, "base") == 0)
        return NS_XML_PREFIXED;
    if (strcmp(el_name, "link") == 0 && (strcmp(attr, "count") == 0 || strcmp(attr, "updated") == 0))
        return "thr:";
    return NULL;
}

static int append_open_tag(ps_buf_t *out, xmpp_stanza_t *el, const char *parent_ns)
{
    const char *name = xmpp_stanza_get_name(el);
    const char *ns = xmpp_stanza_get_ns(el);
    if (!name)
        return -1;
    if (ps_buf_append(out, "<", 1) < 0 || ps_buf_append_str(out, name) < 0)
        return -1;
    if (ns && (!parent_ns || strcmp(ns, parent_ns) != 0)) {
        if (ps_buf_append_str(out, " xmlns='") < 0 || ps_buf_append_attr(out, ns, strlen(ns)) < 0 ||
            ps_buf_append(out, "'", 1) < 0)
            return -1;
    } else if (!ns && parent_ns) {
        /* An element in no namespace (xmlns='') under one that has a
         * default namespace, or as the root, which is spliced into an
         * <item/>: without undeclaring, it would take the parent's. */
        if (ps_buf_append_str(out, " xmlns=''") < 0)
            return -1;
    }
    int count = xmpp_stanza_get_attribute_count(el);
    if (count > 0) {
        const char *small[32];
        const char **attrs = small;
        int cap = count * 2;
        if (cap > (int)(sizeof small / sizeof small[0]) &&
            !(attrs = malloc((size_t)cap * sizeof *attrs)))
            return -1;
        int got = xmpp_stanza_get_attributes(el, attrs, cap);
        int rc = 0, thr_declared = 0;
        for (int i = 0; i + 1 < got && rc == 0; i += 2) {
            if (strcmp(attrs[i], "xmlns") == 0)
                continue;
            const char *prefix = restored_attr_prefix(ns, name, attrs[i]);
            if (prefix && prefix[0] == 't' && !thr_declared++)
                rc = ps_buf_append_attribute(out, "xmlns:", "thr", NS_ATOM_THREAD);
            if (rc == 0)
                rc = ps_buf_append_attribute(out, prefix, attrs[i], attrs[i + 1]);
        }
        if (attrs != small)
            free(attrs);
        if (rc < 0)
            return -1;
    }
    return xmpp_stanza_get_children(el) ? ps_buf_append(out, ">", 1) : ps_buf_append(out, "/>", 2);
}

static int append_close_tag(ps_buf_t *out, xmpp_stanza_t *el)
{
    return ps_buf_append(out, "</", 2) < 0 ||
                   ps_buf_append_str(out, xmpp_stanza_get_name(el)) < 0 ||
                   ps_buf_append(out, ">", 1) < 0
               ? -1
               : 0;
}

int ps_payload_serialize(xmpp_stanza_t *payload, ps_buf_t *out)
{
    if (!payload || !xmpp_stanza_is_tag(payload))
        return -1;
    struct frame small[16], *stack = small;
    size_t depth = 0, cap = sizeof small / sizeof small[0];
    int rc = -1;

    /* "": the root's parent (the <item/> it is spliced into) always has
     * a namespace of its own. */
    if (append_open_tag(out, payload, "") < 0)
        goto done;
    if (!xmpp_stanza_get_children(payload)) {
        rc = 0;
        goto done;
    }
    stack[depth++] = (struct frame){payload, xmpp_stanza_get_children(payload)};
    while (depth) {
        struct frame *top = &stack[depth - 1];
        xmpp_stanza_t *c = top->next;
        if (!c) {
            if (append_close_tag(out, top->el) < 0)
                goto done;
            depth--;
            continue;
        }
        top->next = xmpp_stanza_get_next(c);
        if (xmpp_stanza_is_text(c)) {
            const char *t = xmpp_stanza_get_text_ptr(c);
            if (t && ps_buf_append_text(out, t, strlen(t)) < 0)
                goto done;
            continue;
        }
        if (!xmpp_stanza_is_tag(c))
            continue;
        if (append_open_tag(out, c, xmpp_stanza_get_ns(top->el)) < 0)
            goto done;
        if (!xmpp_stanza_get_children(c))
            continue;
        if (depth == cap) {
            size_t ncap = cap * 2;
            struct frame *s = malloc(ncap * sizeof *s);
            if (!s)
                goto done;
            memcpy(s, stack, depth * sizeof *s);
            if (stack != small)
                free(stack);
            stack = s;
            cap = ncap;
        }
        stack[depth++] = (struct frame){c, xmpp_stanza_get_children(c)};
    }
    rc = 0;
done:
    if (stack != small)
        free(stack);
    return rc;
}

void ps_delay_stamp(time_t t, char out[21])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- templates ------------------------------------------------------ */

/* text = head | mid | tail, each NUL-free; see notify.h. */
struct ps_notif {
    unsigned refs;
    size_t head_len, mid_len, tail_len;
    char text[];
};

/* Builds the template around an already written <event/> body. */
static ps_notif_t *assemble(const ps_notif_opts_t *opts, const ps_buf_t *body,
                            const char *delay_stamp)
{
    ps_buf_t head = {0}, mid = {0}, tail = {0};
    ps_notif_t *n = NULL;
    if (ps_buf_append_str(&head, "<message") < 0 ||
        ps_buf_append_attribute(&head, NULL, "from", opts->service) < 0 ||
        (opts->msg_type && ps_buf_append_attribute(&head, NULL, "type", opts->msg_type) < 0) ||
        ps_buf_append_str(&head, " to='") < 0)
        goto done;
    if (ps_buf_append_str(&mid, "' id='") < 0 ||
        ps_buf_append_attr(&mid, opts->id_prefix, strlen(opts->id_prefix)) < 0)
        goto done;
    if (ps_buf_append_str(&tail, "'>") < 0 || ps_buf_append(&tail, body->data, body->len) < 0)
        goto done;
    if (delay_stamp && (ps_buf_append_str(&tail, "<delay xmlns='" NS_DELAY "'") < 0 ||
                        ps_buf_append_attribute(&tail, NULL, "stamp", delay_stamp) < 0 ||
                        ps_buf_append_str(&tail, "/>") < 0))
        goto done;
    if (ps_buf_append_str(&tail, "</message>") < 0)
        goto done;
    n = malloc(sizeof *n + head.len + mid.len + tail.len + 1);
    if (!n)
        goto done;
    n->refs = 1;
    n->head_len = head.len;
    n->mid_len = mid.len;
    n->tail_len = tail.len;
    memcpy(n->text, head.data, head.len);
    memcpy(n->text + head.len, mid.data, mid.len);
    memcpy(n->text + head.len + mid.len, tail.data, tail.len);
    n->text[head.len + mid.len + tail.len] = '\0';
done:
    ps_buf_free(&head);
    ps_buf_free(&mid);
    ps_buf_free(&tail);
    return n;
}

static int open_event(ps_buf_t *b)
{
    return ps_buf_append_str(b, "<event xmlns='" NS_PUBSUB_EVENT "'>");
}

ps_notif_t *ps_notif_items(const ps_notif_opts_t *opts, const char *node, const char *item_id,
                           const char *payload, size_t payload_len, const char *delay_stamp)
{
    ps_buf_t b = {0};
    ps_notif_t *n = NULL;
    if (open_event(&b) < 0 || ps_buf_append_str(&b, "<items") < 0 ||
        ps_buf_append_attribute(&b, NULL, "node", node) < 0)
        goto done;
    if (!item_id) {
        if (ps_buf_append_str(&b, "/>") < 0)
            goto done;
    } else {
        if (ps_buf_append_str(&b, "><item") < 0 ||
            ps_buf_append_attribute(&b, NULL, "id", item_id) < 0)
            goto done;
        if (payload) {
            if (ps_buf_append(&b, ">", 1) < 0 || ps_buf_append(&b, payload, payload_len) < 0 ||
                ps_buf_append_str(&b, "</item>") < 0)
                goto done;
        } else if (ps_buf_append_str(&b, "/>") < 0) {
            goto done;
        }
        if (ps_buf_append_str(&b, "</items>") < 0)
            goto done;
    }
    if (ps_buf_append_str(&b, "</event>") < 0)
        goto done;
    n = assemble(opts, &b, delay_stamp);
done:
    ps_buf_free(&b);
    return n;
}

ps_notif_t *ps_notif_retract(const ps_notif_opts_t *opts, const char *node,
                             const char *const *item_ids, size_t count)
{
    ps_buf_t b = {0};
    ps_notif_t *n = NULL;
    if (count == 0 || open_event(&b) < 0 || ps_buf_append_str(&b, "<items") < 0 ||
        ps_buf_append_attribute(&b, NULL, "node", node) < 0 || ps_buf_append(&b, ">", 1) < 0)
        goto done;
    for (size_t i = 0; i < count; i++)
        if (ps_buf_append_str(&b, "<retract") < 0 ||
            ps_buf_append_attribute(&b, NULL, "id", item_ids[i]) < 0 ||
            ps_buf_append_str(&b, "/>") < 0)
            goto done;
    if (ps_buf_append_str(&b, "</items></event>") < 0)
        goto done;
    n = assemble(opts, &b, NULL);
done:
    ps_buf_free(&b);
    return n;
}

ps_notif_t *ps_notif_purge(const ps_notif_opts_t *opts, const char *node)
{
    ps_buf_t b = {0};
    ps_notif_t *n = NULL;
    if (open_event(&b) == 0 && ps_buf_append_str(&b, "<purge") == 0 &&
        ps_buf_append_attribute(&b, NULL, "node", node) == 0 &&
        ps_buf_append_str(&b, "/></event>") == 0)
        n = assemble(opts, &b, NULL);
    ps_buf_free(&b);
    return n;
}

ps_notif_t *ps_notif_delete(const ps_notif_opts_t *opts, const char *node, const char *redirect_uri)
{
    ps_buf_t b = {0};
    ps_notif_t *n = NULL;
    if (open_event(&b) < 0 || ps_buf_append_str(&b, "<delete") < 0 ||
        ps_buf_append_attribute(&b, NULL, "node", node) < 0)
        goto done;
    if (redirect_uri) {
        if (ps_buf_append_str(&b, "><redirect") < 0 ||
            ps_buf_append_attribute(&b, NULL, "uri", redirect_uri) < 0 ||
            ps_buf_append_str(&b, "/></delete>") < 0)
            goto done;
    } else if (ps_buf_append_str(&b, "/>") < 0) {
        goto done;
    }
    if (ps_buf_append_str(&b, "</event>") < 0)
        goto done;
    n = assemble(opts, &b, NULL);
done:
    ps_buf_free(&b);
    return n;
}

ps_notif_t *ps_notif_ref(ps_notif_t *n)
{
    n->refs++;
    return n;
}

void ps_notif_unref(ps_notif_t *n)
{
    if (n && --n->refs == 0)
        free(n);
}

size_t ps_notif_fixed_len(const ps_notif_t *n)
{
    return n->head_len + n->mid_len + n->tail_len;
}

int ps_notif_render(const ps_notif_t *n, const char *to, size_t to_len, uint64_t seq, ps_buf_t *out)
{
    size_t old = out->len;
    /* One reservation for the common case (no escaping, <= 20 digits)
     * keeps the appends below from reallocating. */
    if (ps_buf_reserve(out, ps_notif_fixed_len(n) + to_len + 20) < 0)
        return -1;
    const char *p = n->text;
    if (ps_buf_append(out, p, n->head_len) < 0 || ps_buf_append_attr(out, to, to_len) < 0 ||
        ps_buf_append(out, p + n->head_len, n->mid_len) < 0 || ps_buf_append_u64(out, seq) < 0 ||
        ps_buf_append(out, p + n->head_len + n->mid_len, n->tail_len) < 0) {
        out->len = old;
        out->data[old] = '\0';
        return -1;
    }
    return 0;
}
