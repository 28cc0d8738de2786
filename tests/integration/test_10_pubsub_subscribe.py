"""XEP-0060 §6.1 subscribe, §6.2 unsubscribe, §5.6 the subscriber's own
subscriptions: what is delivered to whom, and that an unsubscribed or
removed subscriber gets nothing more.

"bob got nothing" is checked against a marker: carol subscribes to the
same node, and once carol has the notification of a later publish, bob
would have had his by then (same service, same server, sent first)."""
import subprocess
import time

import pytest

from conftest import (NS_ATOM, NS_PUBSUB, NS_PUBSUB_OWNER, SINK_DOMAIN, RawComponent,
                      event_items, unique_node, wait_pubsub_ready)


def entry(n):
    return f'<entry xmlns="{NS_ATOM}"><title>entry {n}</title></entry>'


@pytest.fixture(scope="module", autouse=True)
def ready(herald, ps_alice):
    wait_pubsub_ready(ps_alice)


def ids_of(ps, node):
    return [i for _, c in ps.events(node, "items") for i, _ in event_items(c)]


def sync(ps_alice, marker_ps, node, item):
    """Publishes `item` and waits until marker_ps has it."""
    ps_alice.publish(node, entry(item), item_id=item)
    marker_ps.wait_event(node, lambda m, c: item in [i for i, _ in event_items(c)])


def test_subscribe_result(server, ps_alice, ps_bob):
    node = ps_alice.create(unique_node("sub"))
    sub = ps_bob.subscribe(node)
    # §6.1.2: the subscription, for the bare JID, with no SubID (one
    # subscription per JID on this service).
    assert sub.get("node") == node and sub.get("jid") == ps_bob.bare, sub.attrib
    assert sub.get("subid") is None, sub.attrib


def test_subscribe_twice_delivers_once(server, ps_alice, ps_bob, ps_carol):
    node = ps_alice.create(unique_node("twice"))
    ps_bob.subscribe(node)
    again = ps_bob.subscribe(node)  # §6.1.6: the current state again
    assert again.get("subscription") == "subscribed"
    ps_carol.subscribe(node)
    ps_alice.publish(node, entry(1), item_id="one")
    sync(ps_alice, ps_carol, node, "marker")
    ps_bob.wait_event(node, lambda m, c: "marker" in [i for i, _ in event_items(c)])
    assert ids_of(ps_bob, node) == ["one", "marker"]


def test_unsubscribe_stops_delivery(server, ps_alice, ps_bob, ps_carol):
    node = ps_alice.create(unique_node("unsub"))
    ps_bob.subscribe(node)
    ps_carol.subscribe(node)
    sync(ps_alice, ps_bob, node, "before")
    r = ps_bob.unsubscribe(node)
    assert r["type"] == "result"
    sync(ps_alice, ps_carol, node, "after")
    assert ids_of(ps_bob, node) == ["before"], "delivered after unsubscribe"
    # Not listed any more, and subscribing again works.
    r = ps_bob.ok("get", ps_bob.pubsub(f"<subscriptions node='{node}'/>"))
    assert r.xml.findall(f".//{{{NS_PUBSUB}}}subscription") == [], str(r)
    ps_bob.subscribe(node)
    sync(ps_alice, ps_carol, node, "again")
    ps_bob.wait_event(node, lambda m, c: "again" in [i for i, _ in event_items(c)])


def test_own_subscriptions(server, ps_alice, ps_bob):
    """§5.6: all of bob's subscriptions, and filtered by node."""
    n1 = ps_alice.create(unique_node("subs-a"))
    n2 = ps_alice.create(unique_node("subs-b"))
    ps_bob.subscribe(n1)
    ps_bob.subscribe(n2)
    r = ps_bob.ok("get", ps_bob.pubsub("<subscriptions/>"))
    subs = {(s.get("node"), s.get("jid"), s.get("subscription"))
            for s in r.xml.findall(f".//{{{NS_PUBSUB}}}subscription")}
    assert {(n1, ps_bob.bare, "subscribed"), (n2, ps_bob.bare, "subscribed")} <= subs, str(r)
    assert all(s.get("subid") is None for s in r.xml.findall(f".//{{{NS_PUBSUB}}}subscription"))
    r = ps_bob.ok("get", ps_bob.pubsub(f"<subscriptions node='{n1}'/>"))
    subs = [(s.get("node"), s.get("subscription"))
            for s in r.xml.findall(f".//{{{NS_PUBSUB}}}subscription")]
    assert subs == [(n1, "subscribed")], str(r)
    # alice has none on these nodes (owning is not subscribing).
    r = ps_alice.ok("get", ps_alice.pubsub(f"<subscriptions node='{n1}'/>"))
    assert r.xml.findall(f".//{{{NS_PUBSUB}}}subscription") == [], str(r)


def test_full_jid_subscription_listed(server, ps_alice, ps_bob):
    """A subscription of bob's own full JID is listed for that resource."""
    node = ps_alice.create(unique_node("subs-full"))
    ps_bob.subscribe(node, jid=ps_bob.full)
    r = ps_bob.ok("get", ps_bob.pubsub(f"<subscriptions node='{node}'/>"))
    subs = [(s.get("jid"), s.get("subscription"))
            for s in r.xml.findall(f".//{{{NS_PUBSUB}}}subscription")]
    assert subs == [(ps_bob.full, "subscribed")], str(r)
    ps_bob.unsubscribe(node, jid=ps_bob.full)
    r = ps_bob.ok("get", ps_bob.pubsub(f"<subscriptions node='{node}'/>"))
    assert r.xml.findall(f".//{{{NS_PUBSUB}}}subscription") == [], str(r)


def test_owner_removes_subscription(server, ps_alice, ps_bob, ps_carol):
    """§8.8.2: the owner sets bob's subscription to none: no more
    notifications for bob; the owner's list follows."""
    node = ps_alice.create(unique_node("owner-subs"))
    ps_bob.subscribe(node)
    ps_carol.subscribe(node)
    r = ps_alice.ok("get", ps_alice.pubsub(f"<subscriptions node='{node}'/>", owner=True))
    listed = {(s.get("jid"), s.get("subscription"))
              for s in r.xml.findall(f".//{{{NS_PUBSUB_OWNER}}}subscription")}
    assert listed == {(ps_bob.bare, "subscribed"), (ps_carol.bare, "subscribed")}, str(r)
    ps_alice.ok("set", ps_alice.pubsub(
        f"<subscriptions node='{node}'><subscription jid='{ps_bob.bare}' subscription='none'/>"
        "</subscriptions>", owner=True))
    sync(ps_alice, ps_carol, node, "after")
    assert ids_of(ps_bob, node) == []
    r = ps_alice.ok("get", ps_alice.pubsub(f"<subscriptions node='{node}'/>", owner=True))
    listed = {s.get("jid") for s in r.xml.findall(f".//{{{NS_PUBSUB_OWNER}}}subscription")}
    assert listed == {ps_carol.bare}, str(r)


def test_owner_subscribes_someone(server, ps_alice, ps_bob):
    """§8.8.2: the owner may also create a subscription for a JID."""
    node = ps_alice.create(unique_node("owner-adds"))
    ps_alice.ok("set", ps_alice.pubsub(
        f"<subscriptions node='{node}'><subscription jid='{ps_bob.bare}' "
        "subscription='subscribed'/></subscriptions>", owner=True))
    ps_alice.publish(node, entry(1), item_id="o1")
    ps_bob.wait_event(node, lambda m, c: "o1" in [i for i, _ in event_items(c)])


def test_outcast_loses_subscription(server, ps_alice, ps_bob, ps_carol):
    """§8.9: making bob an outcast removes his subscription and bars him."""
    node = ps_alice.create(unique_node("outcast"))
    ps_bob.subscribe(node)
    ps_carol.subscribe(node)
    ps_alice.ok("set", ps_alice.pubsub(
        f"<affiliations node='{node}'><affiliation jid='{ps_bob.bare}' "
        "affiliation='outcast'/></affiliations>", owner=True))
    sync(ps_alice, ps_carol, node, "after")
    assert ids_of(ps_bob, node) == []
    assert ps_bob.error("set", ps_bob.pubsub(
        f"<subscribe node='{node}' jid='{ps_bob.bare}'/>"))[:3] == ("auth", "forbidden", None)


def test_whitelist_member_subscribes(server, ps_alice, ps_bob, ps_carol):
    """Whitelist node: refused until the owner makes carol a member; when
    her affiliation goes back to none, her subscription goes too."""
    node = ps_alice.create(unique_node("wl"), {"pubsub#access_model": "whitelist"})
    assert ps_carol.error("set", ps_carol.pubsub(
        f"<subscribe node='{node}' jid='{ps_carol.bare}'/>")) == \
        ("cancel", "not-allowed", "closed-node", None)
    ps_alice.ok("set", ps_alice.pubsub(
        f"<affiliations node='{node}'><affiliation jid='{ps_carol.bare}' affiliation='member'/>"
        f"<affiliation jid='{ps_bob.bare}' affiliation='member'/></affiliations>", owner=True))
    ps_carol.subscribe(node)
    ps_bob.subscribe(node)
    sync(ps_alice, ps_carol, node, "w1")
    ps_alice.ok("set", ps_alice.pubsub(
        f"<affiliations node='{node}'><affiliation jid='{ps_carol.bare}' affiliation='none'/>"
        "</affiliations>", owner=True))
    sync(ps_alice, ps_bob, node, "w2")
    assert ids_of(ps_carol, node) == ["w1"], "delivered to a removed member"
    # Switching the access model to whitelist prunes non-members too.
    open_node = ps_alice.create(unique_node("wl-switch"))
    ps_carol.subscribe(open_node)
    ps_bob.subscribe(open_node)
    ps_alice.ok("set", ps_alice.pubsub(
        f"<affiliations node='{open_node}'><affiliation jid='{ps_bob.bare}' "
        "affiliation='member'/></affiliations>", owner=True))
    ps_alice.configure(open_node, {"pubsub#access_model": "whitelist"})
    sync(ps_alice, ps_bob, open_node, "s1")
    assert ids_of(ps_carol, open_node) == [], "delivered to a non-member of a whitelist node"


def test_whitelist_switch_prunes_thousands(server, pg_env, ps_alice):
    """An open node with 3,000 subscribers (u1..u3000@sink.localhost, made
    through the real subscribe path by a raw component connection, which
    then stays to receive their notifications) switches to whitelist with
    ten members. Publishes sent right after the switch reach the ten
    members and nobody else, while the 2,990 others are removed in the
    background (more than two windows of 1,024 deletions in flight): from
    the store (checked in PostgreSQL) and from the model (the owner's
    subscriptions list). (The fan-out guard for subscribers not examined
    yet is unit-tested, test_ps_prune: 3,000 are examined in the engine's
    first loop turn, before a publish can commit.)"""
    n_subs, n_members = 3000, 10
    node = ps_alice.create(unique_node("wl-many"))
    members = {f"u{i}@{SINK_DOMAIN}" for i in range(1, n_members + 1)}

    def is_msg(s):
        return s.tag.endswith("}message")

    comp = RawComponent(server, SINK_DOMAIN).connect()
    try:
        assert all(r.get("type") == "result" for r in comp.subscribe_all(node, n_subs))
        affs = "".join(f"<affiliation jid='{j}' affiliation='member'/>" for j in sorted(members))
        ps_alice.ok("set", ps_alice.pubsub(
            f"<affiliations node='{node}'>{affs}</affiliations>", owner=True))

        ps_alice.configure(node, {"pubsub#access_model": "whitelist"})
        ps_alice.publish(node, entry("m1"), item_id="m1")
        ps_alice.publish(node, entry("m2"), item_id="m2")
        # Per-node order: once every member has m2, m1 went to everyone
        # it was going to; one more second for anything stray.
        comp.wait_stanzas(is_msg, 2 * n_members, timeout=15)
        with pytest.raises(AssertionError):
            comp.wait_stanzas(is_msg, 2 * n_members + 1, timeout=1)
        got = [s.get("to") for s in comp.stanzas if is_msg(s)]
        assert len(got) == 2 * n_members and set(got) == members, sorted(set(got) - members)[:5]
    finally:
        comp.close()

    def owner_list():
        r = ps_alice.ok("get", ps_alice.pubsub(f"<subscriptions node='{node}'/>", owner=True))
        subs = r.xml.findall(f".//{{{NS_PUBSUB_OWNER}}}subscription")
        return {s.get("jid") for s in subs}

    deadline = time.monotonic() + 30
    while owner_list() != members and time.monotonic() < deadline:
        time.sleep(0.2)
    assert owner_list() == members
    # The model follows commits, so the store has them gone already.
    out = subprocess.run(
        [f"{pg_env['PG_BIN']}/psql", pg_env["PG_CONNINFO"], "-tAc",
         "SELECT count(*) FROM subscriptions s JOIN nodes n ON n.id = s.node_id "
         f"WHERE n.name = '{node}'"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=30)
    assert out.returncode == 0, out.stdout
    assert int(out.stdout.strip()) == n_members, out.stdout
