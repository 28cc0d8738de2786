/* Serialize-once event notifications (XEP-0060 §7.1.2.1, §7.2.2.1, §8.4.2,
 * §8.5.2, last published item §6.1.7 with XEP-0203 <delay/>).
 *
 * A notification is built once per publish/retract/purge/delete as an
 * immutable, reference-counted template split around the two parts that
 * vary per recipient:
 *
 *   <message from='SERVICE' [type='T'] to='  ⟨JID⟩  ' id='PREFIX  ⟨SEQ⟩  '>
 *     <event xmlns='…#event'>…</event>[<delay/>]</message>
 *
 * Rendering for a recipient is three memcpy's, the recipient's JID escaped
 * for an attribute (resourceparts may hold ' & < > ") and SEQ in decimal,
 * appended to a caller-owned reusable buffer, so that many notifications
 * can be handed to the link in one raw write. The payload is serialized
 * exactly once, by ps_payload_serialize. */
#ifndef HERALD_PS_NOTIFY_H
#define HERALD_PS_NOTIFY_H

#include <stddef.h>
#include <stdint.h>
#include <strophe.h>
#include <time.h>

#include "pubsub/buf.h"

/* Appends the XML text of `payload` to `out`. Unlike
 * xmpp_stanza_to_text, the root element always carries its namespace
 * (libstrophe drops it when the parent <item/> has the same one, and
 * always for jabber:client), so the text means the same thing wherever
 * it is spliced; descendants declare a namespace only where it changes.
 * Iterative, so payload depth cannot exhaust the stack. Returns 0, or -1
 * on OOM or a malformed stanza (out then holds a partial text: reset). */
int ps_payload_serialize(xmpp_stanza_t *payload, ps_buf_t *out);

/* XEP-0082 DateTime of `t` in UTC ("2003-12-13T23:58:37Z") for
 * <delay stamp/>; writes 21 bytes including the NUL. */
void ps_delay_stamp(time_t t, char out[21]);

typedef struct ps_notif ps_notif_t;

typedef struct {
    const char *service;   /* from: the component's JID */
    const char *msg_type;  /* "headline", "normal", or NULL for none */
    const char *id_prefix; /* unique per notification (XEP-0060 §12.3:
                            * ids unique within the service); the id of
                            * a message is id_prefix followed by its seq */
} ps_notif_opts_t;

/* Items notification. item_id NULL: an empty <items node/> (transient
 * notification-only node, §4.3). payload NULL (payload_len ignored): an
 * <item id/> without payload (deliver_payloads false). `payload` is text
 * from ps_payload_serialize, copied into the template. delay_stamp: the
 * XEP-0203 stamp for a last-published-item delivery, or NULL. Every
 * string is copied and escaped where needed. Returns a template with one
 * reference, or NULL on OOM. */
ps_notif_t *ps_notif_items(const ps_notif_opts_t *opts, const char *node, const char *item_id,
                           const char *payload, size_t payload_len, const char *delay_stamp);

/* <items node><retract id/>…</items>: one <retract/> per id (n >= 1). */
ps_notif_t *ps_notif_retract(const ps_notif_opts_t *opts, const char *node,
                             const char *const *item_ids, size_t n);

/* <purge node/> */
ps_notif_t *ps_notif_purge(const ps_notif_opts_t *opts, const char *node);

/* <delete node>[<redirect uri/>]</delete>; redirect_uri may be NULL. */
ps_notif_t *ps_notif_delete(const ps_notif_opts_t *opts, const char *node,
                            const char *redirect_uri);

/* Takes one more reference (the fan-out job and the last-item cache
 * share a template); returns `n`. */
ps_notif_t *ps_notif_ref(ps_notif_t *n);
/* Drops one reference; the last one frees the template. NULL is a no-op. */
void ps_notif_unref(ps_notif_t *n);

/* Appends the message for recipient `to` (to_len bytes, unescaped, as
 * stored) with id prefix+`seq` to `out`. Returns 0, or -1 on OOM (out is
 * then as before the call). */
int ps_notif_render(const ps_notif_t *n, const char *to, size_t to_len, uint64_t seq,
                    ps_buf_t *out);

/* Bytes of one rendered message minus the escaped JID and the digits:
 * lets the fan-out engine size its slices. */
size_t ps_notif_fixed_len(const ps_notif_t *n);

#endif
