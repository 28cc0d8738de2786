"""Entity basics on pubsub.localhost, seen from a real client through the
server: disco#info/#items, version, ping, and the router's rules
(unknown namespace, malformed IQ, IQs to JIDs at the domain)."""
from conftest import (DOMAIN, NS_DISCO_INFO, NS_DISCO_ITEMS, NS_PING, NS_STANZAS,
                      NS_VERSION, child_query, el, iq_error, run)


def features_of(reply):
    q = child_query(reply, NS_DISCO_INFO)
    assert q is not None, str(reply)
    return {f.get("var") for f in q.findall(f"{{{NS_DISCO_INFO}}}feature")}


def test_disco_info(server, herald, alice, aloop):
    r = run(aloop, alice.query(DOMAIN, NS_DISCO_INFO))
    assert r["type"] == "result", str(r)
    assert r["from"] == DOMAIN
    q = child_query(r, NS_DISCO_INFO)
    ids = q.findall(f"{{{NS_DISCO_INFO}}}identity")
    assert ids, f"no identity:\n{r}"
    assert all(i.get("category") and i.get("type") for i in ids), str(r)
    feats = features_of(r)
    for ns in (NS_DISCO_INFO, NS_DISCO_ITEMS, NS_VERSION, NS_PING):
        assert ns in feats, f"{ns} missing from {sorted(feats)}"
    # Features are a set: each listed once (XEP-0030 §3.1).
    vars_ = [f.get("var") for f in q.findall(f"{{{NS_DISCO_INFO}}}feature")]
    assert len(vars_) == len(set(vars_)), vars_


def test_disco_items(server, herald, alice, aloop):
    r = run(aloop, alice.query(DOMAIN, NS_DISCO_ITEMS))
    assert r["type"] == "result", str(r)
    assert r["from"] == DOMAIN
    assert child_query(r, NS_DISCO_ITEMS) is not None, str(r)


def test_version(server, herald, alice, aloop):
    r = run(aloop, alice.query(DOMAIN, NS_VERSION))
    assert r["type"] == "result", str(r)
    q = child_query(r, NS_VERSION)
    assert q is not None, str(r)
    assert q.findtext(f"{{{NS_VERSION}}}name") == "Herald", str(r)
    assert q.findtext(f"{{{NS_VERSION}}}version"), str(r)


def test_ping(server, herald, alice, aloop):
    r = run(aloop, alice.query(DOMAIN, NS_PING, name="ping"))
    assert r["type"] == "result", str(r)
    assert r["from"] == DOMAIN
    assert r["id"]


def test_unknown_namespace_service_unavailable(server, herald, alice, aloop):
    iq = alice.iq(DOMAIN, "get", [el("urn:example:nothing-here", "query", probe="1")])
    r = run(aloop, alice.send_iq(iq))
    assert r["from"] == DOMAIN
    assert iq_error(r) == ("cancel", "service-unavailable")
    # A set is refused the same way.
    iq = alice.iq(DOMAIN, "set", [el("urn:example:nothing-here", "command")])
    assert iq_error(run(aloop, alice.send_iq(iq))) == ("cancel", "service-unavailable")


def test_iq_to_jid_at_domain_reaches_router(server, herald, alice, aloop):
    """x@pubsub.localhost and pubsub.localhost/res are ours too: the server
    forwards them and herald's router answers them (with `from` = the JID
    addressed). The replies are ones only herald gives: disco#info about a
    JID no module knows is item-not-found (XEP-0030 §3.1) -- a server
    bouncing for an absent component never says that."""
    for to in (f"x@{DOMAIN}", f"{DOMAIN}/some-resource", f"x@{DOMAIN}/r"):
        r = run(aloop, alice.query(to, NS_DISCO_INFO))
        assert r["from"] == to, f"reply must come from the addressed JID:\n{r}"
        assert iq_error(r) == ("cancel", "item-not-found")
        iq = alice.iq(to, "get", [el("urn:example:nothing-here", "query")])
        r = run(aloop, alice.send_iq(iq))
        assert r["from"] == to, str(r)
        assert iq_error(r) == ("cancel", "service-unavailable")
        # Ping is answered for every JID at the domain (a server bouncing
        # for an absent component answers with an error instead).
        r = run(aloop, alice.query(to, NS_PING, name="ping"))
        assert r["from"] == to, str(r)
        assert r["type"] == "result", str(r)


def test_malformed_iq_bad_request(server, herald, alice, aloop):
    """An IQ get must carry exactly one payload (RFC 6120 §8.2.3).
    ejabberd forwards malformed IQs, so there herald's router answers
    them. Prosody's c2s rejects them itself before routing ("Incorrect
    number of children for IQ stanza"): there the test checks what the
    client gets; herald's side is covered by the router's unit tests."""
    # Two payload children.
    iq = alice.iq(DOMAIN, "get", [el(NS_PING, "ping"), el(NS_VERSION)])
    assert iq_error(run(aloop, alice.send_iq(iq))) == ("modify", "bad-request")
    # No payload at all.
    iq = alice.iq(DOMAIN, "get", [])
    r = run(aloop, alice.send_iq(iq))
    assert iq_error(r) == ("modify", "bad-request")
    if server.name == "ejabberd":
        # Answered by herald: it addresses the reply to the sender, where
        # Prosody's own rejection carries a text and no `to`.
        assert r["to"] == alice.xmpp.boundjid, str(r)
        assert r.xml.find(f"{{{r.namespace}}}error/{{{NS_STANZAS}}}text") is None, str(r)
    assert herald.alive()
