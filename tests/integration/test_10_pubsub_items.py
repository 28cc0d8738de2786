"""XEP-0060 §6.5 items retrieval (all, max_items, by id), the node's
pubsub#max_items (oldest dropped), §5.7 affiliations, and the items of a
node through disco (§5.5)."""
import pytest

from conftest import (DOMAIN, NS_ATOM, NS_DISCO_ITEMS, NS_PUBSUB, canonical, child_query,
                      run, unique_node, wait_pubsub_ready)


def entry(n):
    return (f'<entry xmlns="{NS_ATOM}"><title>entry {n}</title>'
            f'<id>tag:herald.test,2024:items-{n}</id></entry>')


@pytest.fixture(scope="module", autouse=True)
def ready(herald, ps_alice):
    wait_pubsub_ready(ps_alice)


@pytest.fixture(scope="module")
def five(server, ps_alice):
    """A node with items i0..i4 published in that order."""
    node = ps_alice.create(unique_node("items"))
    for n in range(5):
        ps_alice.publish(node, entry(n), item_id=f"i{n}")
    return node


def test_all_items(server, five, ps_bob):
    """Every item, payloads intact, oldest first (the order the service
    documents; the XEP leaves it open)."""
    got = ps_bob.items(five)
    assert [i for i, _ in got] == [f"i{n}" for n in range(5)]
    for n, (_, payload) in enumerate(got):
        assert canonical(payload) == canonical(entry(n))


def test_max_items(server, five, ps_bob):
    """§6.5.7: the newest N."""
    assert [i for i, _ in ps_bob.items(five, max_items=2)] == ["i3", "i4"]
    assert [i for i, _ in ps_bob.items(five, max_items=1)] == ["i4"]
    assert [i for i, _ in ps_bob.items(five, max_items=50)] == [f"i{n}" for n in range(5)]


def test_items_by_id(server, five, ps_bob):
    """§6.5.8: one or several ids; an id that does not exist is simply
    not returned."""
    got = ps_bob.items(five, ids=["i2"])
    assert [i for i, _ in got] == ["i2"] and canonical(got[0][1]) == canonical(entry(2))
    assert sorted(i for i, _ in ps_bob.items(five, ids=["i4", "i0"])) == ["i0", "i4"]
    assert ps_bob.items(five, ids=["nope"]) == []


def test_items_open_node_without_subscription(server, five, ps_carol):
    """Open access model: anyone may retrieve items, subscribed or not."""
    assert len(ps_carol.items(five)) == 5


def test_node_max_items_drops_oldest(server, ps_alice, ps_bob):
    node = ps_alice.create(unique_node("max3"), {"pubsub#max_items": "3"})
    for n in range(5):
        ps_alice.publish(node, entry(n), item_id=f"m{n}")
    assert [i for i, _ in ps_bob.items(node)] == ["m2", "m3", "m4"]
    # Lowered: only the newest that fit are returned (and stored, from the
    # next publish on); raised to "max": everything is kept from then on.
    ps_alice.configure(node, {"pubsub#max_items": "2"})
    assert [i for i, _ in ps_bob.items(node)] == ["m3", "m4"]
    ps_alice.publish(node, entry(5), item_id="m5")
    assert [i for i, _ in ps_bob.items(node)] == ["m4", "m5"]
    ps_alice.configure(node, {"pubsub#max_items": "max"})
    assert ps_alice.get_config(node)["pubsub#max_items"] == ["max"]
    for n in range(6, 10):
        ps_alice.publish(node, entry(n), item_id=f"m{n}")
    assert [i for i, _ in ps_bob.items(node)] == [f"m{n}" for n in range(4, 10)]


def test_republish_moves_item_to_newest(server, ps_alice, ps_bob):
    """Republishing an id replaces it; it is then the newest item."""
    node = ps_alice.create(unique_node("republish"))
    for n in range(3):
        ps_alice.publish(node, entry(n), item_id=f"r{n}")
    ps_alice.publish(node, entry("again"), item_id="r0")
    got = ps_bob.items(node)
    assert sorted(i for i, _ in got) == ["r0", "r1", "r2"]
    assert [i for i, _ in ps_bob.items(node, max_items=1)] == ["r0"]
    assert canonical(ps_bob.items(node, ids=["r0"])[0][1]) == canonical(entry("again"))


def test_empty_node(server, ps_alice, ps_bob):
    node = ps_alice.create(unique_node("empty"))
    assert ps_bob.items(node) == []


def test_items_without_payload_kept(server, ps_alice, ps_bob):
    """persist_items on, deliver_payloads off: an item may come without
    payload (§7.1.3.6 does not require one), and is listed as such."""
    node = ps_alice.create(unique_node("nopl"), {"pubsub#deliver_payloads": "0"})
    ps_alice.publish(node, None, item_id="bare")
    assert ps_bob.items(node) == [("bare", None)]


def test_own_affiliations(server, ps_alice, ps_bob, ps_carol):
    """§5.7: alice owns what she created; carol's publisher affiliation
    shows up in her own list; bob, with none, has no entry."""
    node = ps_alice.create(unique_node("affs"))
    ps_alice.ok("set", ps_alice.pubsub(
        f"<affiliations node='{node}'><affiliation jid='{ps_carol.bare}' "
        "affiliation='publisher'/></affiliations>", owner=True))
    r = ps_alice.ok("get", ps_alice.pubsub("<affiliations/>"))
    mine = {(a.get("node"), a.get("affiliation"))
            for a in r.xml.findall(f".//{{{NS_PUBSUB}}}affiliation")}
    assert (node, "owner") in mine, str(r)
    r = ps_carol.ok("get", ps_carol.pubsub(f"<affiliations node='{node}'/>"))
    got = [(a.get("node"), a.get("affiliation"))
           for a in r.xml.findall(f".//{{{NS_PUBSUB}}}affiliation")]
    assert got == [(node, "publisher")], str(r)
    r = ps_bob.ok("get", ps_bob.pubsub(f"<affiliations node='{node}'/>"))
    assert r.xml.findall(f".//{{{NS_PUBSUB}}}affiliation") == [], str(r)
    # The publisher may now publish; bob (none, publish_model publishers)
    # may not (that error is in test_10_pubsub_errors).
    ps_carol.publish(node, entry("carol"), item_id="c1")
    assert [i for i, _ in ps_bob.items(node)] == ["c1"]


def test_disco_items_of_node(server, five, ps_bob):
    """§5.5: disco#items on a node lists its items (name = item id)."""
    r = run(ps_bob.loop, ps_bob.c.query(DOMAIN, NS_DISCO_ITEMS, node=five))
    assert r["type"] == "result", str(r)
    q = child_query(r, NS_DISCO_ITEMS)
    assert q.get("node") == five, str(r)
    items = q.findall(f"{{{NS_DISCO_ITEMS}}}item")
    assert sorted(i.get("name") for i in items) == [f"i{n}" for n in range(5)], str(r)
    assert {i.get("jid") for i in items} == {DOMAIN}
