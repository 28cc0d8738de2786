"""Publications survive a herald restart: after SIGTERM (clean stop) and
after SIGKILL (no chance to flush anything: what was confirmed must have
been committed), a new herald on the same database serves the items,
keeps the subscriptions, and sends the last published item, with its
XEP-0203 <delay/>, to a new subscriber.

Each test starts its own heralds one after the other (never two at once
for pubsub.localhost), so no module-wide herald is used."""
import asyncio
import signal
import subprocess
import time
import xml.etree.ElementTree as ET
from datetime import datetime, timezone

import pytest

from conftest import (DOMAIN, NS_ATOM, NS_DELAY, PubSubUser, canonical, event_items, run,
                      unique_node, wait_pubsub_ready)


def entry(n):
    return (f'<entry xmlns="{NS_ATOM}"><title>persisted {n} &amp; kept</title>'
            f'<id>tag:herald.test,2024:restart-{n}</id>'
            f'<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>{n}</p></div>'
            '</content></entry>')


@pytest.fixture
def users(alice, bob, carol, aloop):
    return PubSubUser(alice, aloop), PubSubUser(bob, aloop), PubSubUser(carol, aloop)


def test_publish_survives_sigterm(server, components, users):
    ps_alice, ps_bob, ps_carol = users
    h1 = components.herald()
    wait_pubsub_ready(ps_alice)
    node = ps_alice.create(unique_node("restart"), {"pubsub#type": NS_ATOM,
                                                    "pubsub#max_items": "3",
                                                    "pubsub#title": "Survivor"})
    ps_bob.subscribe(node)
    for n in range(4):
        ps_alice.publish(node, entry(n), item_id=f"e{n}")
    before = time.time()
    ps_alice.publish(node, entry(4), item_id="e4")
    after = time.time()
    assert [i for i, _ in ps_bob.items(node)] == ["e2", "e3", "e4"]

    assert h1.signal(signal.SIGTERM) == 0, h1.tail()

    h2 = components.herald()
    wait_pubsub_ready(ps_alice)
    # Items, payloads intact, and the configuration.
    got = ps_bob.items(node)
    assert [i for i, _ in got] == ["e2", "e3", "e4"]
    for (_, payload), n in zip(got, (2, 3, 4)):
        assert canonical(payload) == canonical(entry(n))
    cfg = ps_alice.get_config(node)
    assert cfg["pubsub#max_items"] == ["3"] and cfg["pubsub#title"] == ["Survivor"], cfg
    # carol subscribes: the last published item, with <delay/> at its
    # publication time (before the restart).
    ps_carol.subscribe(node)
    msg, items = ps_carol.wait_event(node, kind="items")
    last = event_items(items)
    assert [i for i, _ in last] == ["e4"] and canonical(last[0][1]) == canonical(entry(4))
    delay = msg.xml.find(f"{{{NS_DELAY}}}delay")
    assert delay is not None, f"no <delay/> on the last published item:\n{msg}"
    stamp = datetime.strptime(delay.get("stamp"), "%Y-%m-%dT%H:%M:%SZ") \
        .replace(tzinfo=timezone.utc).timestamp()
    assert before - 2 <= stamp <= after + 2, delay.get("stamp")
    assert delay.get("from") in (None, DOMAIN), delay.attrib
    # bob's subscription survived too: a new publish reaches him.
    ps_alice.publish(node, entry(5), item_id="e5")
    ps_bob.wait_event(node, lambda m, c: [i for i, _ in event_items(c)] == ["e5"])
    assert [i for i, _ in ps_bob.items(node)] == ["e3", "e4", "e5"]
    assert h2.alive()


def test_confirmed_publishes_survive_sigkill(server, components, users, aloop):
    """A publish is confirmed only after COMMIT: 20 publishes sent at once,
    herald killed (SIGKILL) as soon as the last result arrived, and every
    confirmed item is there after the restart."""
    ps_alice, ps_bob, _ = users
    h1 = components.herald()
    wait_pubsub_ready(ps_alice)
    node = ps_alice.create(unique_node("kill"), {"pubsub#max_items": "100"})

    async def burst():
        iqs = [ps_alice.c.iq(DOMAIN, "set", [ET.fromstring(ps_alice.pubsub(
            f"<publish node='{node}'><item id='k{i}'>{entry(i)}</item></publish>"))])
            for i in range(20)]
        return await asyncio.gather(*(ps_alice.c.send_iq(iq, timeout=10) for iq in iqs))

    replies = run(aloop, burst(), timeout=15)
    h1.signal(signal.SIGKILL)
    components.procs.remove(h1)  # killed on purpose: no clean exit to check
    h1.log_file.close()
    assert h1.sanitizer_report() is None, h1.sanitizer_report()
    confirmed = [f"k{i}" for i, r in enumerate(replies) if r["type"] == "result"]
    assert len(confirmed) == 20, [str(r) for r in replies if r["type"] != "result"][:2]

    components.herald()
    wait_pubsub_ready(ps_alice)
    got = ps_bob.items(node)
    assert sorted(i for i, _ in got) == sorted(confirmed)
    for item_id, payload in got:
        assert canonical(payload) == canonical(entry(int(item_id[1:])))


def test_affiliations_beyond_one_load_page(server, components, users, pg_env):
    """Herald loads a node's affiliations in pages of 10,000 at start-up:
    with 25,002 on one whitelist node, the rows of the third page (the
    owner's and carol's, which sort after 'a00001@…'..'a25000@…') are in
    force after a restart, and nobody else gained access."""
    ps_alice, ps_bob, ps_carol = users
    h1 = components.herald()
    wait_pubsub_ready(ps_alice)
    node = ps_alice.create(unique_node("affpages"), {"pubsub#access_model": "whitelist"})
    assert h1.signal(signal.SIGTERM) == 0, h1.tail()
    # Written behind herald's back while none runs: read at the next load.
    out = subprocess.run(
        [f"{pg_env['PG_BIN']}/psql", pg_env["PG_CONNINFO"], "-v", "ON_ERROR_STOP=1", "-tAc",
         "INSERT INTO affiliations (node_id, jid, affiliation)"
         " SELECT n.id, 'a' || lpad(g::text, 5, '0') || '@example.org', 'member'"
         f" FROM nodes n, generate_series(1, 25000) g WHERE n.name = '{node}';"
         " INSERT INTO affiliations (node_id, jid, affiliation)"
         f" SELECT id, '{ps_carol.bare}', 'member' FROM nodes WHERE name = '{node}';"
         " SELECT count(*) FROM affiliations a JOIN nodes n ON n.id = a.node_id"
         f" WHERE n.name = '{node}'"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=30)
    assert out.returncode == 0, out.stdout
    assert out.stdout.split()[-1] == "25002", out.stdout

    h2 = components.herald()
    wait_pubsub_ready(ps_alice, timeout=30)
    ps_carol.subscribe(node)  # a member: the whitelist lets her in
    assert ps_bob.error("set", ps_bob.pubsub(
        f"<subscribe node='{node}' jid='{ps_bob.bare}'/>")) == \
        ("cancel", "not-allowed", "closed-node", None)
    # alice is still the owner: she may read the configuration.
    assert ps_alice.get_config(node)["pubsub#access_model"] == ["whitelist"]
    assert h2.alive()
