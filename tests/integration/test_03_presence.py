"""Roster-less presence: probe, subscribe, unsubscribe for the domain and
JIDs at it, the component's own XEP-0115 caps, and caps tracking of
contacts (one disco#info query per `ver`, not per contact)."""
import asyncio
import re
import time
import uuid

import pytest

from conftest import (DOMAIN, NS_CAPS, NS_DISCO_INFO, caps_ver_from_query,
                      child_query, run)


def from_is(jid, type_=None):
    def pred(p):
        return p["from"] == jid and (type_ is None or p["type"] == type_)
    return pred


def caps_of(pres):
    c = pres.xml.find(f"{{{NS_CAPS}}}c")
    assert c is not None, f"presence without caps:\n{pres}"
    return c


def send_presence(client, to, ptype=None):
    p = client.xmpp.Presence()
    p["to"] = to
    if ptype:
        p["type"] = ptype
    p.send()


def wait_presence(client, jid, ptype, timeout=5):
    # 'available' presence has no type attribute; slixmpp reports "available".
    return run(client.loop, client.wait_for(from_is(jid, ptype), client.presences,
                                            timeout=timeout, what=f"{ptype} presence from {jid}"),
               timeout=timeout + 1)


@pytest.fixture(scope="module")
def herald(module_components):
    # libstrophe's own log shows what herald sent that the server then
    # swallowed (an `unsubscribed` after the user's `unsubscribe` is
    # dropped by the user's server: there is nothing left to cancel).
    return module_components.herald(log_keys={"xmpp_debug": True})


def sent(herald, ptype, to, frm):
    """Number of <presence type=ptype/> herald sent from `frm` to `to`."""
    rx = re.compile(r"SENT: <presence\b[^>]*")
    n = 0
    for line in herald.lines(r"SENT: <presence"):
        tag = rx.search(line).group(0)
        if (f'type="{ptype}"' in tag and re.search(rf'to="{re.escape(to)}[/"]', tag)
                and f'from="{frm}"' in tag):
            n += 1
    return n


def wait_sent(herald, ptype, to, frm, count, timeout=3):
    deadline = time.monotonic() + timeout
    while sent(herald, ptype, to, frm) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sent(herald, ptype, to, frm) >= count, \
        f"herald did not send {ptype} from {frm} to {to}:\n{herald.tail()}"


def test_probe_answered_with_caps(server, herald, alice, aloop):
    alice.presences.clear()
    send_presence(alice, DOMAIN, "probe")
    pres = wait_presence(alice, DOMAIN, "available")
    c = caps_of(pres)
    assert c.get("hash") == "sha-1"
    assert c.get("node"), str(pres)
    ver = c.get("ver")
    # The ver must be the XEP-0115 §5.1 hash of what disco#info says.
    r = run(aloop, alice.query(DOMAIN, NS_DISCO_INFO))
    assert r["type"] == "result", str(r)
    assert caps_ver_from_query(child_query(r, NS_DISCO_INFO)) == ver, \
        f"advertised ver {ver} does not match disco#info:\n{r}"
    # XEP-0115 §6.2: the node#ver query is answered with the same info.
    r2 = run(aloop, alice.query(DOMAIN, NS_DISCO_INFO, node=f"{c.get('node')}#{ver}"))
    assert r2["type"] == "result", str(r2)
    q2 = child_query(r2, NS_DISCO_INFO)
    assert q2.get("node") == f"{c.get('node')}#{ver}", str(r2)
    assert caps_ver_from_query(q2) == ver


def clean_slate(alice, aloop, jid):
    run(aloop, alice.forget(jid))
    run(aloop, asyncio.sleep(0.3))  # let herald's answers to the removal pass
    alice.presences.clear()


def subscribe_cycle(herald, alice, aloop, jid):
    me = alice.xmpp.boundjid.bare
    send_presence(alice, jid, "subscribe")
    wait_presence(alice, jid, "subscribed")
    caps_of(wait_presence(alice, jid, "available"))
    assert alice.xmpp.client_roster[jid]["subscription"] in ("to", "both")
    before = sent(herald, "unsubscribed", me, jid)
    send_presence(alice, jid, "unsubscribe")
    # RFC 6121 §3.3.3: unavailable presence follows the unsubscribed, which
    # the user's server consumes (nothing is left to cancel by then).
    wait_presence(alice, jid, "unavailable")
    wait_sent(herald, "unsubscribed", me, jid, before + 1)


def test_subscribe_and_unsubscribe(server, herald, alice, aloop):
    clean_slate(alice, aloop, DOMAIN)
    subscribe_cycle(herald, alice, aloop, DOMAIN)


def test_presence_to_jid_at_domain(server, herald, alice, aloop):
    someone = f"someone-{uuid.uuid4().hex[:8]}@{DOMAIN}"
    alice.presences.clear()
    send_presence(alice, someone, "probe")
    c = caps_of(wait_presence(alice, someone, "available"))
    # Contacts verify caps by asking the JID that sent them (XEP-0115 §6.2).
    node = f"{c.get('node')}#{c.get('ver')}"
    r = run(aloop, alice.query(someone, NS_DISCO_INFO, node=node))
    assert r["type"] == "result" and r["from"] == someone, str(r)
    assert caps_ver_from_query(child_query(r, NS_DISCO_INFO)) == c.get("ver")
    subscribe_cycle(herald, alice, aloop, someone)
    # Nothing came from the bare domain on someone's behalf.
    assert not [p for p in alice.presences if p["from"] == DOMAIN], \
        [str(p) for p in alice.presences]
    run(aloop, alice.forget(someone))


def test_caps_resolved_once_per_ver(server, herald, client_factory, aloop):
    """alice and bob advertise the same (fresh) caps ver to the component:
    herald asks disco#info once for that ver, not once per contact."""
    feature = f"urn:herald:itest:{uuid.uuid4().hex}"  # a ver no test used before
    a = client_factory("alice", caps=True, features=[feature])
    b = client_factory("bob", caps=True, features=[feature])
    ver_a = run(aloop, a.xmpp["xep_0115"].get_verstring(a.xmpp.boundjid.full))
    ver_b = run(aloop, b.xmpp["xep_0115"].get_verstring(b.xmpp.boundjid.full))
    assert ver_a and ver_a == ver_b, (ver_a, ver_b)

    def queries():
        return [q for c in (a, b) for q in c.disco_queries
                if q["from"].bare == DOMAIN and q["disco_info"]["node"].endswith("#" + ver_a)]

    # Both at once: a query still in flight must not be repeated either.
    send_presence(a, DOMAIN)
    send_presence(b, DOMAIN)
    run(aloop, a.wait_for(lambda q: True, queries, timeout=5,
                          what="disco#info query from herald"))
    run(aloop, asyncio.sleep(1.5))
    assert len(queries()) == 1, [str(q) for q in queries()]
    # A different ver is a new query: the counter above can see one.
    c = client_factory("carol", caps=True, features=[feature + "-other"])
    send_presence(c, DOMAIN)
    run(aloop, c.wait_for(lambda q: q["from"].bare == DOMAIN, c.disco_queries, timeout=5,
                          what="disco#info query from herald"))
    assert len(queries()) == 1
