"""Every error case the pubsub service implements (pubsub/request.c,
model.c, node_config.c, atom.c, handle_*.c, disco_nodes.c), each sent
through a real server by a real client and checked exactly: error type,
RFC 6120 condition, and the pubsub#errors condition (with its 'feature'
for <unsupported/>), read from the raw XML.

The limits that need their own herald configuration (payload size,
request rate, nodes per owner, auto-create off) are in
test_10_pubsub_limits.py."""
from types import SimpleNamespace

import pytest

from conftest import (DOMAIN, NS_ATOM, NS_DISCO_INFO, NS_DISCO_ITEMS, NS_PUBLISH_OPTIONS,
                      NS_PUBSUB_OWNER, data_form, pubsub_error, run, unique_node,
                      wait_pubsub_ready)

ENTRY = f'<entry xmlns="{NS_ATOM}"><title>t</title></entry>'
OTHER = '<other xmlns="urn:example:other">x</other>'

BAD = ("modify", "bad-request", None, None)
NOT_FOUND = ("cancel", "item-not-found", None, None)
FORBIDDEN = ("auth", "forbidden", None, None)
CLOSED = ("cancel", "not-allowed", "closed-node", None)
NODEID_REQUIRED = ("modify", "bad-request", "nodeid-required", None)
JID_REQUIRED = ("modify", "bad-request", "jid-required", None)
INVALID_JID = ("modify", "bad-request", "invalid-jid", None)
INVALID_PAYLOAD = ("modify", "bad-request", "invalid-payload", None)
ITEM_REQUIRED = ("modify", "bad-request", "item-required", None)
PAYLOAD_REQUIRED = ("modify", "bad-request", "payload-required", None)
ITEM_FORBIDDEN = ("modify", "bad-request", "item-forbidden", None)
NOT_SUBSCRIBED = ("cancel", "unexpected-request", "not-subscribed", None)
PRECONDITION = ("cancel", "conflict", "precondition-not-met", None)
CONFLICT = ("cancel", "conflict", None, None)
NOT_ACCEPTABLE = ("modify", "not-acceptable", None, None)
UNSUPPORTED_ACCESS = ("modify", "not-acceptable", "unsupported-access-model", None)


def unsupported(feature):
    return ("cancel", "feature-not-implemented", "unsupported", feature)


def create_with(n, fields, form_type="http://jabber.org/protocol/pubsub#node_config",
                type="submit"):
    return (f"<create node='{n.fresh}'/><configure>"
            f"{data_form(fields, form_type, type)}</configure>")


def publish_with(node, fields, type="submit"):
    return (f"<publish node='{node}'><item>{ENTRY}</item></publish>"
            f"<publish-options>{data_form(fields, NS_PUBLISH_OPTIONS, type)}</publish-options>")


# (id, who, IQ type, owner namespace?, body(n) -> text, expected)
# n: the module's nodes and JIDs (see the `n` fixture).
CASES = [
    # ---- the request itself (request.c)
    ("publish-as-get", "alice", "get", False,
     lambda n: f"<publish node='{n.open}'><item>{ENTRY}</item></publish>", BAD),
    ("items-as-set", "alice", "set", False, lambda n: f"<items node='{n.open}'/>", BAD),
    ("empty-pubsub", "alice", "set", False, lambda n: "", BAD),
    ("unknown-verb", "alice", "set", False, lambda n: f"<frobnicate node='{n.open}'/>", BAD),
    ("two-verbs", "bob", "set", False,
     lambda n: f"<subscribe node='{n.open}' jid='{n.bob}'/><unsubscribe node='{n.open}' "
               f"jid='{n.bob}'/>", BAD),
    ("unknown-owner-verb", "alice", "set", True, lambda n: f"<frobnicate node='{n.open}'/>", BAD),
    ("owner-default-as-set", "alice", "set", True, lambda n: "<default/>", BAD),
    ("owner-delete-as-get", "alice", "get", True, lambda n: f"<delete node='{n.open}'/>", BAD),
    ("items-max-items-zero", "bob", "get", False,
     lambda n: f"<items node='{n.open}' max_items='0'/>", BAD),
    ("items-max-items-text", "bob", "get", False,
     lambda n: f"<items node='{n.open}' max_items='ten'/>", BAD),
    ("items-item-without-id", "bob", "get", False,
     lambda n: f"<items node='{n.open}'><item/></items>", BAD),
    ("create-configure-with-node", "alice", "set", False,
     lambda n: f"<create node='{n.fresh}'/><configure node='{n.fresh}'/>", BAD),
    ("delete-redirect-without-uri", "alice", "set", True,
     lambda n: f"<delete node='{n.open}'><redirect/></delete>", BAD),
    ("retract-bad-notify", "alice", "set", False,
     lambda n: f"<retract node='{n.open}' notify='maybe'><item id='i1'/></retract>", BAD),
    ("owner-affiliation-unknown", "alice", "set", True,
     lambda n: f"<affiliations node='{n.open}'><affiliation jid='{n.carol}' "
               "affiliation='king'/></affiliations>", BAD),
    ("owner-affiliation-twice", "alice", "set", True,
     lambda n: f"<affiliations node='{n.open}'><affiliation jid='{n.carol}' "
               f"affiliation='member'/><affiliation jid='{n.carol}' affiliation='publisher'/>"
               "</affiliations>", BAD),
    ("owner-subscription-unknown-state", "alice", "set", True,
     lambda n: f"<subscriptions node='{n.open}'><subscription jid='{n.carol}' "
               "subscription='sort-of'/></subscriptions>", BAD),
    ("configure-without-form", "alice", "set", True,
     lambda n: f"<configure node='{n.open}'/>", BAD),
    # nodeid-required (§6.1.3, §7.1.3, §7.2.3.3, §8.2.3.3 ...)
    ("publish-no-node", "alice", "set", False,
     lambda n: f"<publish><item>{ENTRY}</item></publish>", NODEID_REQUIRED),
    ("retract-no-node", "alice", "set", False,
     lambda n: "<retract><item id='i1'/></retract>", NODEID_REQUIRED),
    ("items-no-node", "bob", "get", False, lambda n: "<items/>", NODEID_REQUIRED),
    ("subscribe-no-node", "bob", "set", False,
     lambda n: f"<subscribe jid='{n.bob}'/>", NODEID_REQUIRED),
    ("unsubscribe-no-node", "bob", "set", False,
     lambda n: f"<unsubscribe jid='{n.bob}'/>", NODEID_REQUIRED),
    ("configure-no-node", "alice", "get", True, lambda n: "<configure/>", NODEID_REQUIRED),
    ("delete-no-node", "alice", "set", True, lambda n: "<delete/>", NODEID_REQUIRED),
    ("purge-no-node", "alice", "set", True, lambda n: "<purge/>", NODEID_REQUIRED),
    ("owner-subscriptions-no-node", "alice", "get", True,
     lambda n: "<subscriptions/>", NODEID_REQUIRED),
    ("owner-affiliations-no-node", "alice", "get", True,
     lambda n: "<affiliations/>", NODEID_REQUIRED),
    # jid-required, invalid-jid (§6.1.3.1, §6.2.3)
    ("subscribe-no-jid", "bob", "set", False,
     lambda n: f"<subscribe node='{n.open}'/>", JID_REQUIRED),
    ("unsubscribe-no-jid", "bob", "set", False,
     lambda n: f"<unsubscribe node='{n.open}'/>", JID_REQUIRED),
    ("subscribe-other-jid", "bob", "set", False,
     lambda n: f"<subscribe node='{n.open}' jid='{n.carol}'/>", INVALID_JID),
    ("subscribe-other-full-jid", "bob", "set", False,
     lambda n: f"<subscribe node='{n.open}' jid='{n.carol}/res'/>", INVALID_JID),
    ("subscribe-malformed-jid", "bob", "set", False,
     lambda n: f"<subscribe node='{n.open}' jid='@{DOMAIN}'/>", INVALID_JID),
    ("owner-affiliation-malformed-jid", "alice", "set", True,
     lambda n: f"<affiliations node='{n.open}'><affiliation jid='@{DOMAIN}' "
               "affiliation='member'/></affiliations>", INVALID_JID),
    ("owner-affiliation-no-jid", "alice", "set", True,
     lambda n: f"<affiliations node='{n.open}'><affiliation affiliation='member'/>"
               "</affiliations>", JID_REQUIRED),
    # invalid-payload from the request (§7.1.3.5)
    ("publish-two-items", "alice", "set", False,
     lambda n: f"<publish node='{n.open}'><item id='a'>{ENTRY}</item><item id='b'>{ENTRY}</item>"
               "</publish>", INVALID_PAYLOAD),
    ("publish-two-payloads", "alice", "set", False,
     lambda n: f"<publish node='{n.open}'><item id='a'>{ENTRY}{OTHER}</item></publish>",
     INVALID_PAYLOAD),
    # item-required for retract (§7.2.3.4)
    ("retract-no-item", "alice", "set", False,
     lambda n: f"<retract node='{n.open}'/>", ITEM_REQUIRED),
    ("retract-item-without-id", "alice", "set", False,
     lambda n: f"<retract node='{n.open}'><item/></retract>", ITEM_REQUIRED),
    # features not implemented (§6.3.4, §6.4.3)
    ("subscription-options", "bob", "get", False,
     lambda n: f"<options node='{n.open}' jid='{n.bob}'/>", unsupported("subscription-options")),
    ("subscribe-with-options", "bob", "set", False,
     lambda n: f"<subscribe node='{n.open}' jid='{n.bob}'/><options/>",
     unsupported("subscription-options")),
    ("default-subscription-options", "bob", "get", False,
     lambda n: "<default/>", unsupported("retrieve-default-sub")),

    # ---- the node does not exist (item-not-found, §6.1.3.12 ...)
    ("subscribe-missing", "bob", "set", False,
     lambda n: f"<subscribe node='{n.missing}' jid='{n.bob}'/>", NOT_FOUND),
    ("unsubscribe-missing", "bob", "set", False,
     lambda n: f"<unsubscribe node='{n.missing}' jid='{n.bob}'/>", NOT_FOUND),
    ("items-missing", "bob", "get", False, lambda n: f"<items node='{n.missing}'/>", NOT_FOUND),
    ("retract-missing-node", "alice", "set", False,
     lambda n: f"<retract node='{n.missing}'><item id='i1'/></retract>", NOT_FOUND),
    ("subscriptions-missing", "bob", "get", False,
     lambda n: f"<subscriptions node='{n.missing}'/>", NOT_FOUND),
    ("affiliations-missing", "bob", "get", False,
     lambda n: f"<affiliations node='{n.missing}'/>", NOT_FOUND),
    ("configure-get-missing", "alice", "get", True,
     lambda n: f"<configure node='{n.missing}'/>", NOT_FOUND),
    ("configure-set-missing", "alice", "set", True,
     lambda n: f"<configure node='{n.missing}'>{data_form({'pubsub#title': 'x'})}</configure>",
     NOT_FOUND),
    ("delete-missing", "alice", "set", True, lambda n: f"<delete node='{n.missing}'/>", NOT_FOUND),
    ("purge-missing", "alice", "set", True, lambda n: f"<purge node='{n.missing}'/>", NOT_FOUND),
    ("owner-subscriptions-missing", "alice", "get", True,
     lambda n: f"<subscriptions node='{n.missing}'/>", NOT_FOUND),
    ("owner-affiliations-missing", "alice", "get", True,
     lambda n: f"<affiliations node='{n.missing}'/>", NOT_FOUND),
    ("owner-affiliations-set-missing", "alice", "set", True,
     lambda n: f"<affiliations node='{n.missing}'><affiliation jid='{n.carol}' "
               "affiliation='member'/></affiliations>", NOT_FOUND),
    ("retract-missing-item", "alice", "set", False,
     lambda n: f"<retract node='{n.open}'><item id='no-such-item'/></retract>", NOT_FOUND),

    # ---- access model and affiliations (§4.1, §6.1.3, §7.1.3.1 ...)
    ("subscribe-whitelist", "carol", "set", False,
     lambda n: f"<subscribe node='{n.wl}' jid='{n.carol}'/>", CLOSED),
    ("items-whitelist", "carol", "get", False, lambda n: f"<items node='{n.wl}'/>", CLOSED),
    ("subscribe-outcast", "carol", "set", False,
     lambda n: f"<subscribe node='{n.outc}' jid='{n.carol}'/>", FORBIDDEN),
    ("items-outcast", "carol", "get", False, lambda n: f"<items node='{n.outc}'/>", FORBIDDEN),
    ("publish-outcast", "carol", "set", False,
     lambda n: f"<publish node='{n.outc}'><item>{ENTRY}</item></publish>", FORBIDDEN),
    ("publish-not-publisher", "bob", "set", False,
     lambda n: f"<publish node='{n.open}'><item>{ENTRY}</item></publish>", FORBIDDEN),
    ("retract-not-publisher", "bob", "set", False,
     lambda n: f"<retract node='{n.open}'><item id='i1'/></retract>", FORBIDDEN),
    ("unsubscribe-other-jid", "bob", "set", False,
     lambda n: f"<unsubscribe node='{n.open}' jid='{n.carol}'/>", FORBIDDEN),
    ("unsubscribe-not-subscribed", "carol", "set", False,
     lambda n: f"<unsubscribe node='{n.open}' jid='{n.carol}'/>", NOT_SUBSCRIBED),
    # owner-only (§8.*: forbidden for anyone else)
    ("configure-get-not-owner", "bob", "get", True,
     lambda n: f"<configure node='{n.open}'/>", FORBIDDEN),
    ("configure-set-not-owner", "bob", "set", True,
     lambda n: f"<configure node='{n.open}'>{data_form({'pubsub#title': 'x'})}</configure>",
     FORBIDDEN),
    ("delete-not-owner", "bob", "set", True, lambda n: f"<delete node='{n.open}'/>", FORBIDDEN),
    ("purge-not-owner", "bob", "set", True, lambda n: f"<purge node='{n.open}'/>", FORBIDDEN),
    ("owner-subscriptions-not-owner", "bob", "get", True,
     lambda n: f"<subscriptions node='{n.open}'/>", FORBIDDEN),
    ("owner-subscriptions-set-not-owner", "bob", "set", True,
     lambda n: f"<subscriptions node='{n.open}'><subscription jid='{n.carol}' "
               "subscription='subscribed'/></subscriptions>", FORBIDDEN),
    ("owner-affiliations-not-owner", "bob", "get", True,
     lambda n: f"<affiliations node='{n.open}'/>", FORBIDDEN),
    ("owner-affiliations-set-not-owner", "bob", "set", True,
     lambda n: f"<affiliations node='{n.open}'><affiliation jid='{n.bob}' "
               "affiliation='owner'/></affiliations>", FORBIDDEN),
    ("remove-last-owner", "alice", "set", True,
     lambda n: f"<affiliations node='{n.open}'><affiliation jid='{n.alice}' "
               "affiliation='publisher'/></affiliations>", NOT_ACCEPTABLE),

    # ---- publish against the node's configuration (§7.1.3)
    ("publish-no-item-persistent", "alice", "set", False,
     lambda n: f"<publish node='{n.open}'/>", ITEM_REQUIRED),
    ("publish-no-payload", "alice", "set", False,
     lambda n: f"<publish node='{n.open}'><item id='x'/></publish>", PAYLOAD_REQUIRED),
    ("publish-no-payload-transient", "alice", "set", False,
     lambda n: f"<publish node='{n.transient}'/>", PAYLOAD_REQUIRED),
    ("publish-item-notification-only", "alice", "set", False,
     lambda n: f"<publish node='{n.notif}'><item id='x'/></publish>", ITEM_FORBIDDEN),
    ("publish-non-entry-atom", "alice", "set", False,
     lambda n: f"<publish node='{n.atom}'><item>{OTHER}</item></publish>", INVALID_PAYLOAD),
    ("publish-atom-feed-not-entry", "alice", "set", False,
     lambda n: f"<publish node='{n.atom}'><item><feed xmlns='{NS_ATOM}'/></item></publish>",
     INVALID_PAYLOAD),
    ("publish-wrong-namespace-typed", "alice", "set", False,
     lambda n: f"<publish node='{n.typed}'><item>{ENTRY}</item></publish>", INVALID_PAYLOAD),
    # publish-options as preconditions (§7.1.5)
    ("precondition-access-model", "alice", "set", False,
     lambda n: publish_with(n.open, {"pubsub#access_model": "whitelist"}), PRECONDITION),
    ("precondition-max-items", "alice", "set", False,
     lambda n: publish_with(n.open, {"pubsub#max_items": "17"}), PRECONDITION),
    ("precondition-unknown-field", "alice", "set", False,
     lambda n: publish_with(n.open, {"pubsub#no_such_option": "1"}), PRECONDITION),
    ("precondition-persist", "alice", "set", False,
     lambda n: publish_with(n.open, {"pubsub#persist_items": "false"}), PRECONDITION),
    ("publish-options-not-submit", "alice", "set", False,
     lambda n: publish_with(n.open, {"pubsub#persist_items": "1"}, type="form"), BAD),
    # transient node: no items to retrieve, retract or purge
    ("items-transient", "bob", "get", False,
     lambda n: f"<items node='{n.transient}'/>", unsupported("persistent-items")),
    ("retract-transient", "alice", "set", False,
     lambda n: f"<retract node='{n.transient}'><item id='x'/></retract>",
     unsupported("persistent-items")),
    ("purge-transient", "alice", "set", True,
     lambda n: f"<purge node='{n.transient}'/>", unsupported("persistent-items")),

    # ---- create and configure (§8.1.3, §8.2.5)
    ("create-existing", "bob", "set", False, lambda n: f"<create node='{n.open}'/>", CONFLICT),
    ("create-access-presence", "alice", "set", False,
     lambda n: create_with(n, {"pubsub#access_model": "presence"}), UNSUPPORTED_ACCESS),
    ("create-access-roster", "alice", "set", False,
     lambda n: create_with(n, {"pubsub#access_model": "roster"}), UNSUPPORTED_ACCESS),
    ("create-access-authorize", "alice", "set", False,
     lambda n: create_with(n, {"pubsub#access_model": "authorize"}), UNSUPPORTED_ACCESS),
    ("create-access-unknown", "alice", "set", False,
     lambda n: create_with(n, {"pubsub#access_model": "everyone"}), UNSUPPORTED_ACCESS),
    ("create-collection", "alice", "set", False,
     lambda n: create_with(n, {"pubsub#node_type": "collection"}), unsupported("collections")),
    ("create-max-items-text", "alice", "set", False,
     lambda n: create_with(n, {"pubsub#max_items": "lots"}), NOT_ACCEPTABLE),
    ("create-max-items-zero", "alice", "set", False,
     lambda n: create_with(n, {"pubsub#max_items": "0"}), NOT_ACCEPTABLE),
    ("create-max-items-over-limit", "alice", "set", False,
     lambda n: create_with(n, {"pubsub#max_items": "10001"}), NOT_ACCEPTABLE),
    ("create-max-payload-over-limit", "alice", "set", False,
     lambda n: create_with(n, {"pubsub#max_payload_size": "262145"}), NOT_ACCEPTABLE),
    ("create-bad-boolean", "alice", "set", False,
     lambda n: create_with(n, {"pubsub#deliver_payloads": "maybe"}), NOT_ACCEPTABLE),
    ("create-unknown-publish-model", "alice", "set", False,
     lambda n: create_with(n, {"pubsub#publish_model": "anyone"}), NOT_ACCEPTABLE),
    ("create-two-values", "alice", "set", False,
     lambda n: create_with(n, {"pubsub#max_items": ["1", "2"]}), NOT_ACCEPTABLE),
    ("create-form-not-submit", "alice", "set", False,
     lambda n: create_with(n, {"pubsub#title": "x"}, type="form"), BAD),
    ("create-wrong-form-type", "alice", "set", False,
     lambda n: create_with(n, {"pubsub#title": "x"}, form_type="urn:example:not-pubsub"), BAD),
    ("configure-bad-value", "alice", "set", True,
     lambda n: f"<configure node='{n.open}'>{data_form({'pubsub#max_items': '-3'})}</configure>",
     NOT_ACCEPTABLE),
    ("configure-unsupported-access", "alice", "set", True,
     lambda n: f"<configure node='{n.open}'>{data_form({'pubsub#access_model': 'presence'})}"
               "</configure>", UNSUPPORTED_ACCESS),
]


@pytest.fixture(scope="module")
def n(server, herald, ps_alice, ps_bob, ps_carol):
    """The nodes the error cases are sent to (alice owns them all)."""
    wait_pubsub_ready(ps_alice)
    ns = SimpleNamespace(alice=ps_alice.bare, bob=ps_bob.bare, carol=ps_carol.bare)
    ns.open = ps_alice.create(unique_node("err-open"))
    ps_alice.publish(ns.open, ENTRY, item_id="i1")
    ps_bob.subscribe(ns.open)
    ns.wl = ps_alice.create(unique_node("err-wl"), {"pubsub#access_model": "whitelist"})
    ns.outc = ps_alice.create(unique_node("err-outcast"))
    ps_alice.ok("set", ps_alice.pubsub(
        f"<affiliations node='{ns.outc}'><affiliation jid='{ns.carol}' affiliation='outcast'/>"
        "</affiliations>", owner=True))
    ns.atom = ps_alice.create(unique_node("err-atom"), {"pubsub#type": NS_ATOM})
    ns.typed = ps_alice.create(unique_node("err-typed"), {"pubsub#type": "urn:example:other"})
    ns.transient = ps_alice.create(unique_node("err-transient"), {"pubsub#persist_items": "0"})
    ns.notif = ps_alice.create(unique_node("err-notif"), {"pubsub#persist_items": "0",
                                                          "pubsub#deliver_payloads": "0"})
    ns.missing = unique_node("err-missing")  # never created
    ns.fresh = unique_node("err-fresh")      # creations that must fail leave it free
    return ns


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_error(server, n, ps_alice, ps_bob, ps_carol, case):
    _, who, iqtype, owner, body, expected = case
    ps = {"alice": ps_alice, "bob": ps_bob, "carol": ps_carol}[who]
    xml = ps.pubsub(body(n), owner=owner)
    r = ps.request(iqtype, xml)
    assert r["type"] == "error", f"expected {expected} for\n{xml}\ngot:\n{r}"
    assert r["from"] == DOMAIN
    got = pubsub_error(r)
    assert got == expected, f"for\n{xml}\nexpected {expected}, got {got}:\n{r}"


def test_errors_changed_nothing(server, n, ps_alice, ps_bob, ps_carol):
    """After all the refused requests, the nodes are as they were."""
    assert [i for i, _ in ps_bob.items(n.open)] == ["i1"]
    cfg = ps_alice.get_config(n.open)
    assert cfg["pubsub#access_model"] == ["open"] and cfg["pubsub#max_items"] == ["256"], cfg
    r = ps_alice.ok("get", ps_alice.pubsub(f"<affiliations node='{n.open}'/>", owner=True))
    affs = {(a.get("jid"), a.get("affiliation"))
            for a in r.xml.findall(f".//{{{NS_PUBSUB_OWNER}}}affiliation")}
    assert affs == {(n.alice, "owner")}, str(r)
    r = ps_alice.ok("get", ps_alice.pubsub(f"<subscriptions node='{n.open}'/>", owner=True))
    subs = {(s.get("jid"), s.get("subscription"))
            for s in r.xml.findall(f".//{{{NS_PUBSUB_OWNER}}}subscription")}
    assert subs == {(n.bob, "subscribed")}, str(r)
    # No node was created by a refused creation.
    assert ps_alice.error("get", ps_alice.pubsub(f"<configure node='{n.fresh}'/>", owner=True)) \
        == NOT_FOUND


def test_disco_errors(server, n, ps_carol):
    """disco#info / disco#items of a node that does not exist, and the
    items of a whitelist node for a non-member (the items gate)."""
    loop = ps_carol.loop
    r = run(loop, ps_carol.c.query(DOMAIN, NS_DISCO_INFO, node=n.missing))
    assert pubsub_error(r) == NOT_FOUND
    r = run(loop, ps_carol.c.query(DOMAIN, NS_DISCO_ITEMS, node=n.missing))
    assert pubsub_error(r) == NOT_FOUND
    r = run(loop, ps_carol.c.query(DOMAIN, NS_DISCO_ITEMS, node=n.wl))
    assert pubsub_error(r) == CLOSED
