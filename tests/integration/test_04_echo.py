"""The framework proof: component/examples/echo, a second component built
only on the framework's public headers, serving echo.localhost."""
import time
import uuid
from datetime import datetime, timezone

import pytest

from conftest import NS_DISCO_INFO, NS_PING, NS_VERSION, child_query, el, iq_error, run

ECHO = "echo.localhost"
NS_TIME = "urn:xmpp:time"


@pytest.fixture(scope="module")
def echo(module_components):
    return module_components.echo(domain=ECHO)


@pytest.mark.parametrize("mtype", ["chat", "normal"])
def test_message_echoed(server, echo, alice, aloop, mtype):
    body = f"hello {mtype} {uuid.uuid4().hex}"
    for to in (ECHO, f"bot@{ECHO}"):
        alice.xmpp.send_message(mto=to, mbody=body, mtype=mtype)
        m = run(aloop, alice.wait_for(lambda m: m["body"] == body and m["from"] == to,
                                      alice.messages, timeout=5, what=f"echo from {to}"))
        assert m["type"] == mtype
        assert m["to"] == alice.xmpp.boundjid


def test_headline_not_echoed(server, echo, alice, aloop):
    body = f"headline {uuid.uuid4().hex}"
    alice.xmpp.send_message(mto=ECHO, mbody=body, mtype="headline")
    # A chat sent after it comes back; the headline must not have.
    marker = f"after {uuid.uuid4().hex}"
    alice.xmpp.send_message(mto=ECHO, mbody=marker, mtype="chat")
    run(aloop, alice.wait_for(lambda m: m["body"] == marker, alice.messages, timeout=5))
    assert not [m for m in alice.messages if m["body"] == body]


def test_disco_and_entity_time(server, echo, alice, aloop):
    r = run(aloop, alice.query(ECHO, NS_DISCO_INFO))
    assert r["type"] == "result", str(r)
    q = child_query(r, NS_DISCO_INFO)
    feats = {f.get("var") for f in q.findall(f"{{{NS_DISCO_INFO}}}feature")}
    assert NS_TIME in feats, sorted(feats)
    assert NS_PING in feats and NS_VERSION in feats
    ids = [(i.get("category"), i.get("type")) for i in q.findall(f"{{{NS_DISCO_INFO}}}identity")]
    assert ("component", "generic") in ids, ids

    r = run(aloop, alice.query(ECHO, NS_TIME, name="time"))
    assert r["type"] == "result", str(r)
    t = r.xml.find(f"{{{NS_TIME}}}time")
    assert t is not None, str(r)
    utc = datetime.strptime(t.findtext(f"{{{NS_TIME}}}utc"), "%Y-%m-%dT%H:%M:%SZ")
    skew = abs(utc.replace(tzinfo=timezone.utc).timestamp() - time.time())
    assert skew < 5, f"entity time off by {skew}s: {r}"
    assert t.findtext(f"{{{NS_TIME}}}tzo")

    # The framework's rules hold for the example too.
    iq = alice.iq(ECHO, "get", [el("urn:example:nothing-here")])
    assert iq_error(run(aloop, alice.send_iq(iq))) == ("cancel", "service-unavailable")
    assert echo.alive()
