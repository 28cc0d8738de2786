"""The XEP-0114 link: handshake, wrong secret, life after the handshake,
a second herald on the same domain, signals (TERM/INT exit 0, HUP reloads
the log level), keepalive pings and a silent dead link, and a server
restart.

Second herald with the same domain (documented behaviour):
  * Prosody refuses the second connection with the stream error
    `conflict`; the second herald logs it (a line naming `conflict`) and
    keeps retrying with backoff, while the first keeps its link and
    keeps answering.
  * ejabberd accepts both connections and spreads the stanzas for the
    domain over them (chosen per stanza, seen in herald's debug log); both
    answer, and the first still answers alone once the second leaves.
"""
import asyncio
import re
import signal
import time

import pytest

from conftest import (DOMAIN, LINK_UP, NS_DISCO_INFO, NS_PING, NS_VERSION,
                      child_query, log_time, port_open, run)

LINK_DOWN = r"link 0: UP -> "
REFUSED = r"handshake refused"


async def ping_ok(client, to=DOMAIN, timeout=3):
    r = await client.query(to, NS_PING, name="ping", timeout=timeout)
    assert r["type"] == "result", f"ping {to}: {r}"
    assert r["from"] == to
    return r


# Every test starts its own herald: two at once on one domain would be the
# conflict case, which has its own test.

def test_handshake(server, components, alice, aloop):
    herald = components.herald()
    assert herald.count(LINK_UP) == 1
    r = run(aloop, alice.query(DOMAIN, NS_DISCO_INFO))
    assert r["type"] == "result", str(r)
    assert r["from"] == DOMAIN
    q = child_query(r, NS_DISCO_INFO)
    assert q is not None and q.find(f"{{{NS_DISCO_INFO}}}identity") is not None


def test_alive_after_handshake(server, components, alice, aloop):
    """Regression: stock libstrophe 0.12.2 crashes in component mode on the
    first stanza after the handshake. A fresh herald must answer a burst of
    stanzas right away and still be running afterwards."""
    h = components.herald()

    async def burst():
        kinds = [(NS_PING, "ping"), (NS_DISCO_INFO, "query"), (NS_VERSION, "query")]
        replies = await asyncio.gather(*(
            alice.query(DOMAIN, kinds[i % 3][0], name=kinds[i % 3][1], timeout=5)
            for i in range(15)))
        return replies

    replies = run(aloop, burst(), timeout=10)
    assert [r["type"] for r in replies] == ["result"] * 15, [str(r) for r in replies]
    time.sleep(0.2)
    assert h.alive(), f"herald died after the handshake:\n{h.tail()}"
    run(aloop, ping_ok(alice))
    assert h.alive()


def test_wrong_secret(server, components):
    """A refused handshake is logged clearly and retried with backoff."""
    h = components.herald(wait_up=False, secret="not-the-secret")
    h.wait_log(REFUSED, count=2, timeout=5)
    time.sleep(max(0.0, 2.2 - (time.monotonic() - h.started_at)))
    assert h.alive(), f"herald gave up or crashed on a wrong secret:\n{h.tail()}"
    refusals = h.lines(REFUSED)
    assert all((" error " in ln or " warn " in ln) for ln in refusals), refusals
    assert any("secret" in ln.lower() or "handshake" in ln.lower() for ln in refusals), \
        f"the refusal line should say the handshake/secret was refused: {refusals}"
    assert h.count(LINK_UP) == 0
    times = [log_time(ln) for ln in refusals]
    first = times[0]
    within = [t for t in times if t - first <= 2.0]
    assert len(within) >= 2
    # A handful at most: 200 ms doubling gives ~4 in 2 s; a tight loop gives hundreds.
    assert len(within) <= 6, f"{len(within)} attempts in 2 s:\n" + "\n".join(refusals)
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert min(gaps) >= 0.2 - 0.015, f"retries closer than reconnect_min_ms: {gaps}"


def test_second_herald_same_domain(server, alice, components, aloop):
    herald = components.herald()
    ups_before = herald.count(LINK_UP)
    downs_before = herald.count(LINK_DOWN)
    second = components.herald(wait_up=False, name=f"second-{server.name}")
    if server.name == "prosody":
        lines = second.wait_log(r"conflict", timeout=5)
        assert any(" error " in ln or " warn " in ln for ln in lines), lines
        assert second.count(LINK_UP) == 0
    else:
        second.wait_log(LINK_UP, timeout=5)
    iq_from = r"link 0: iq from " + re.escape(str(alice.xmpp.boundjid))
    seen = (herald.count(iq_from), second.count(iq_from))
    run(aloop, asyncio.gather(*(ping_ok(alice) for _ in range(20))))
    got = (herald.count(iq_from) - seen[0], second.count(iq_from) - seen[1])
    if server.name == "prosody":
        assert got == (20, 0), got
    else:
        # ejabberd picks a connection per stanza: 20 pings all landing on
        # one side would happen once in ~500,000 runs.
        assert got[0] > 0 and got[1] > 0 and sum(got) == 20, got
    assert second.alive()
    second.finish()
    components.procs.remove(second)
    for _ in range(3):
        run(aloop, ping_ok(alice))
    # The first herald's link was never disturbed.
    assert herald.count(LINK_UP) == ups_before
    assert herald.count(LINK_DOWN) == downs_before
    assert herald.alive()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_exits_cleanly(server, components, alice, aloop, sig):
    h = components.herald()
    run(aloop, ping_ok(alice))
    t0 = time.monotonic()
    assert h.signal(sig, timeout=5) == 0, h.tail()
    assert time.monotonic() - t0 < 5
    assert h.sanitizer_report() is None, h.sanitizer_report()
    # Its stream is gone: the server now answers for the domain itself.
    r = run(aloop, alice.query(DOMAIN, NS_PING, name="ping"))
    assert r["type"] == "error", str(r)


def test_sighup_rereads_log_level(server, components, alice, aloop):
    h = components.herald()
    run(aloop, ping_ok(alice))
    debug = r"Z debug "
    assert h.count(debug) > 0
    text = h.config_path.read_text()
    assert 'level: "debug"' in text
    h.config_path.write_text(text.replace('level: "debug"', 'level: "info"'))
    h.proc.send_signal(signal.SIGHUP)
    h.wait_log(r"log\.level is info", timeout=3)
    n = h.count(debug)
    for _ in range(3):
        run(aloop, ping_ok(alice))
    assert h.count(debug) == n, h.tail()
    assert h.alive()


def test_idle_ping_and_dead_link(server, components, tcp_proxy, alice, aloop):
    """XEP-0199 keepalive on the component link: while idle, herald pings
    the server and the answers keep the link up; when the link goes silent
    without being closed (here: a relay that stops moving bytes), herald
    notices within ping_interval + ping_timeout and reattaches."""
    interval, timeout = 1.0, 0.5
    proxy = tcp_proxy(server.component_port)
    h = components.herald(port=proxy.port, ping_interval_ms=int(interval * 1000),
                          ping_timeout_ms=int(timeout * 1000))
    h.wait_log(r"link 0: ping answered", count=2, timeout=interval * 2 + 2)
    assert h.count(LINK_DOWN) == 0, h.tail()
    assert proxy.freeze() == 1
    frozen_at = time.time()
    line = h.wait_log(r"link 0: no reply to keepalive ping", timeout=interval + timeout + 3)[0]
    took = log_time(line) - frozen_at
    assert took <= interval + timeout + 0.5, f"dead link noticed after {took:.2f}s"
    proxy.thaw()  # the server sees the old stream end, so no conflict
    h.wait_log(LINK_UP, count=2, timeout=5)
    run(aloop, ping_ok(alice))


def test_server_restart(server, components, client_factory, aloop):
    """Kill the XMPP server and start it again: herald reattaches and
    answers within 5 s of the server being back. Runs last in this module
    (it disconnects every client of this server)."""
    herald = components.herald()
    ups, downs = herald.count(LINK_UP), herald.count(LINK_DOWN)
    try:
        server.ctl("kill")
        herald.wait_log(LINK_DOWN, count=downs + 1, timeout=5)
        time.sleep(0.5)  # herald is retrying against a closed port now
        assert herald.alive()
    finally:
        server.ctl("start")
    back = time.monotonic()
    assert port_open(server.component_port) and port_open(server.c2s_port)

    async def answered():
        while True:
            c = client_factory(connect=False)
            try:
                await c.connect(timeout=3)
            except (AssertionError, asyncio.TimeoutError):
                await c.disconnect()
                await asyncio.sleep(0.1)
                continue
            while True:
                r = await c.query(DOMAIN, NS_PING, name="ping", timeout=2)
                if r["type"] == "result":
                    return time.monotonic()
                await asyncio.sleep(0.1)

    at = run(aloop, answered(), timeout=15)
    print(f"{server.name}: answering {at - back:.2f}s after the server was back")
    assert at - back < 5.0, f"answered {at - back:.2f}s after the server was back"
    assert herald.count(LINK_UP) == ups + 1
    assert herald.alive()
