"""XEP-0060 node life cycle and discovery: the service's disco#info
(identity, exactly the pubsub# features implemented), §8.1 create (named,
instant, with a configuration form), §8.2 configure, §8.3 default
configuration, §8.9 owner affiliations, §5.2 disco#items of the service,
§5.3/§5.4 disco#info of a node with its meta-data form."""
import pytest

from conftest import (DOMAIN, NS_ATOM, NS_DATA, NS_DISCO_INFO, NS_DISCO_ITEMS, NS_META_DATA,
                      NS_NODE_CONFIG, NS_PUBSUB, NS_PUBSUB_OWNER, child_query, data_form,
                      form_values, pubsub_error, run, unique_node, wait_pubsub_ready)

# Every pubsub# feature Herald implements (pubsub/service.c), each
# exercised by a test of the test_10_pubsub_* modules.
IMPLEMENTED = {
    "access-open", "access-whitelist", "auto-create", "config-node", "create-and-configure",
    "create-nodes", "delete-items", "delete-nodes", "instant-nodes", "item-ids",
    "manage-subscriptions", "member-affiliation", "meta-data", "modify-affiliations",
    "outcast-affiliation", "persistent-items", "publish", "publish-only-affiliation",
    "publish-options", "publisher-affiliation", "purge-nodes", "retract-items",
    "retrieve-affiliations", "retrieve-default", "retrieve-items", "retrieve-subscriptions",
    "subscribe",
}
# XEP-0060 features Herald does not implement: none may be announced
# (their requests get feature-not-implemented, see test_10_pubsub_errors).
NOT_IMPLEMENTED = {
    "access-authorize", "access-presence", "access-roster", "collections", "filtered-notifications",
    "last-published", "leased-subscription", "multi-collection", "multi-items",
    "multi-subscribe", "presence-notifications", "presence-subscribe", "get-pending",
    "retrieve-default-sub", "shim", "subscription-notifications", "subscription-options",
    "config-node-max", "purge-nodes-on-retract",
}


@pytest.fixture(scope="module", autouse=True)
def ready(herald, ps_alice):
    wait_pubsub_ready(ps_alice)


def disco_info(ps, node=None):
    kw = {"node": node} if node else {}
    return run(ps.loop, ps.c.query(DOMAIN, NS_DISCO_INFO, **kw))


def disco_items(ps, node=None):
    kw = {"node": node} if node else {}
    return run(ps.loop, ps.c.query(DOMAIN, NS_DISCO_ITEMS, **kw))


def test_service_disco_info(server, ps_bob):
    r = disco_info(ps_bob)
    assert r["type"] == "result", str(r)
    q = child_query(r, NS_DISCO_INFO)
    ids = {(i.get("category"), i.get("type")) for i in q.findall(f"{{{NS_DISCO_INFO}}}identity")}
    assert ("pubsub", "service") in ids, str(r)
    feats = {f.get("var") for f in q.findall(f"{{{NS_DISCO_INFO}}}feature")}
    assert NS_PUBSUB in feats
    pubsub = {f.split("#", 1)[1] for f in feats if f.startswith(NS_PUBSUB + "#")}
    assert pubsub == IMPLEMENTED, (f"announced but not in the tested list: "
                                   f"{sorted(pubsub - IMPLEMENTED)}; implemented but not "
                                   f"announced: {sorted(IMPLEMENTED - pubsub)}")
    assert not pubsub & NOT_IMPLEMENTED


def test_create_named_node(server, ps_alice, ps_bob):
    node = unique_node("named")
    r = ps_alice.ok("set", ps_alice.pubsub(f"<create node='{node}'/>"))
    # §8.1.1: the node got the NodeID asked for, so the result is empty.
    assert len(r.xml) == 0, f"expected an empty result:\n{r}"
    # It exists: listed by the service, with alice as its owner.
    items = child_query(disco_items(ps_bob), NS_DISCO_ITEMS)
    assert node in {i.get("node") for i in items.findall(f"{{{NS_DISCO_ITEMS}}}item")}
    r = ps_alice.ok("get", ps_alice.pubsub(f"<affiliations node='{node}'/>", owner=True))
    affs = [(a.get("jid"), a.get("affiliation"))
            for a in r.xml.findall(f".//{{{NS_PUBSUB_OWNER}}}affiliation")]
    assert affs == [(ps_alice.bare, "owner")], str(r)


def test_create_instant_node(server, ps_alice, ps_bob):
    """§8.1.2: no NodeID asked: the service makes one and returns it."""
    first = ps_alice.create(None)
    second = ps_alice.create(None)
    assert first != second
    r = disco_info(ps_bob, first)
    assert r["type"] == "result", str(r)
    ps_bob.subscribe(first)  # a node like any other
    assert ps_alice.get_config(first)["pubsub#access_model"] == ["open"]


def test_create_with_config(server, ps_alice, ps_bob):
    """§8.1.3 create-and-configure: every value asked for is in force."""
    node = ps_alice.create(unique_node("conf"), {
        "pubsub#title": "Herald & friends <news>",
        "pubsub#description": "A node made by the tests",
        "pubsub#max_items": "42",
        "pubsub#type": NS_ATOM,
        "pubsub#send_last_published_item": "never",
        "pubsub#notify_retract": "0",
        "pubsub#publish_model": "open",
    })
    cfg = ps_alice.get_config(node)
    assert cfg["FORM_TYPE"] == [NS_NODE_CONFIG]
    assert cfg["pubsub#title"] == ["Herald & friends <news>"]
    assert cfg["pubsub#description"] == ["A node made by the tests"]
    assert cfg["pubsub#max_items"] == ["42"]
    assert cfg["pubsub#type"] == [NS_ATOM]
    assert cfg["pubsub#send_last_published_item"] == ["never"]
    assert cfg["pubsub#notify_retract"] in (["0"], ["false"])
    assert cfg["pubsub#publish_model"] == ["open"]
    # publish_model open: bob, with no affiliation, may publish.
    assert ps_bob.publish(node, f'<entry xmlns="{NS_ATOM}"><title>bob</title></entry>',
                          item_id="b1") == "b1"
    # The title names the node in the service's disco#items.
    items = child_query(disco_items(ps_bob), NS_DISCO_ITEMS)
    named = {i.get("node"): i.get("name") for i in items.findall(f"{{{NS_DISCO_ITEMS}}}item")}
    assert named.get(node) == "Herald & friends <news>"


def test_configure_node(server, ps_alice):
    node = ps_alice.create(unique_node("reconf"))
    before = ps_alice.get_config(node)
    ps_alice.configure(node, {"pubsub#title": "New title", "pubsub#max_items": "9",
                              "pubsub#deliver_payloads": "false"})
    after = ps_alice.get_config(node)
    assert after["pubsub#title"] == ["New title"] and after["pubsub#max_items"] == ["9"]
    assert after["pubsub#deliver_payloads"] in (["0"], ["false"])
    # Fields not in the form keep their values.
    for var in ("pubsub#access_model", "pubsub#persist_items", "pubsub#send_last_published_item"):
        assert after[var] == before[var], var
    # §8.2.4: a cancelled form changes nothing.
    ps_alice.ok("set", ps_alice.pubsub(
        f"<configure node='{node}'>{data_form({'pubsub#title': 'ignored'}, type='cancel')}"
        "</configure>", owner=True))
    assert ps_alice.get_config(node)["pubsub#title"] == ["New title"]


def test_default_configuration(server, ps_alice):
    """§8.3: the default node configuration form (the YAML defaults)."""
    r = ps_alice.ok("get", ps_alice.pubsub("<default/>", owner=True))
    x = r.xml.find(f".//{{{NS_PUBSUB_OWNER}}}default/{{{NS_DATA}}}x")
    assert x is not None and x.get("type") == "form", str(r)
    cfg = form_values(x)
    assert cfg["FORM_TYPE"] == [NS_NODE_CONFIG]
    assert cfg["pubsub#max_items"] == ["256"]
    assert cfg["pubsub#access_model"] == ["open"]
    assert cfg["pubsub#publish_model"] == ["publishers"]
    assert cfg["pubsub#send_last_published_item"] == ["on_sub"]
    assert cfg["pubsub#persist_items"] in (["1"], ["true"])
    # A node created without a form has exactly these values.
    node = ps_alice.create(unique_node("defaults"))
    got = ps_alice.get_config(node)
    for var, vals in cfg.items():
        assert got.get(var) == vals, f"{var}: default {vals}, new node {got.get(var)}"


def test_node_disco_info_meta_data(server, ps_alice, ps_bob):
    """§5.3/§5.4: identity pubsub/leaf and the meta-data form."""
    node = ps_alice.create(unique_node("meta"), {"pubsub#title": "Meta title",
                                                 "pubsub#description": "Meta description",
                                                 "pubsub#type": NS_ATOM})
    r = disco_info(ps_bob, node)
    assert r["type"] == "result", str(r)
    q = child_query(r, NS_DISCO_INFO)
    assert q.get("node") == node, str(r)
    ids = [(i.get("category"), i.get("type")) for i in q.findall(f"{{{NS_DISCO_INFO}}}identity")]
    assert ids == [("pubsub", "leaf")], str(r)
    feats = {f.get("var") for f in q.findall(f"{{{NS_DISCO_INFO}}}feature")}
    assert NS_PUBSUB in feats
    forms = q.findall(f"{{{NS_DATA}}}x")
    assert len(forms) == 1 and forms[0].get("type") == "result", str(r)
    meta = form_values(forms[0])
    assert meta["FORM_TYPE"] == [NS_META_DATA]
    assert meta["pubsub#title"] == ["Meta title"]
    assert meta["pubsub#description"] == ["Meta description"]
    assert meta["pubsub#type"] == [NS_ATOM]
    assert ps_alice.bare in meta.get("pubsub#owner", []), meta
    assert meta.get("pubsub#creation_date"), meta


def test_service_disco_items_lists_nodes(server, ps_alice, ps_bob):
    """§5.2: the nodes, each with the service's JID; a deleted node leaves
    the list."""
    a = ps_alice.create(unique_node("list-a"))
    b = ps_alice.create(unique_node("list-b"))
    r = disco_items(ps_bob)
    assert r["type"] == "result", str(r)
    items = child_query(r, NS_DISCO_ITEMS).findall(f"{{{NS_DISCO_ITEMS}}}item")
    nodes = {i.get("node") for i in items}
    assert {a, b} <= nodes
    assert {i.get("jid") for i in items} == {DOMAIN}
    ps_alice.delete(a)
    nodes = {i.get("node") for i in child_query(disco_items(ps_bob), NS_DISCO_ITEMS)
             .findall(f"{{{NS_DISCO_ITEMS}}}item")}
    assert a not in nodes and b in nodes
    r = disco_info(ps_bob, a)
    assert pubsub_error(r)[:2] == ("cancel", "item-not-found")


def test_modify_affiliations(server, ps_alice, ps_bob, ps_carol):
    """§8.9: owner lists and changes affiliations; a second owner may do
    owner things; publish-only may publish but not retrieve."""
    node = ps_alice.create(unique_node("affs"))
    ps_alice.ok("set", ps_alice.pubsub(
        f"<affiliations node='{node}'>"
        f"<affiliation jid='{ps_bob.bare}' affiliation='owner'/>"
        f"<affiliation jid='{ps_carol.bare}' affiliation='publish-only'/>"
        "</affiliations>", owner=True))
    r = ps_bob.ok("get", ps_bob.pubsub(f"<affiliations node='{node}'/>", owner=True))
    affs = {(a.get("jid"), a.get("affiliation"))
            for a in r.xml.findall(f".//{{{NS_PUBSUB_OWNER}}}affiliation")}
    assert affs == {(ps_alice.bare, "owner"), (ps_bob.bare, "owner"),
                    (ps_carol.bare, "publish-only")}, str(r)
    ps_bob.configure(node, {"pubsub#title": "bob was here"})
    assert ps_carol.publish(node, '<x xmlns="urn:example:x">1</x>', item_id="c1") == "c1"
    assert ps_carol.error("get", ps_carol.pubsub(f"<items node='{node}'/>"))[:2] == \
        ("auth", "forbidden")
    # alice steps down; bob stays owner.
    ps_alice.ok("set", ps_alice.pubsub(
        f"<affiliations node='{node}'><affiliation jid='{ps_alice.bare}' affiliation='none'/>"
        "</affiliations>", owner=True))
    assert ps_alice.error("get", ps_alice.pubsub(f"<configure node='{node}'/>", owner=True))[:2] \
        == ("auth", "forbidden")
    ps_bob.delete(node)
