"""A 10,000-subscriber fan-out through the real server: one publish reaches
u1..u10000@sink.localhost exactly once each, counted by bench/sink.

How the 10,000 subscriptions are made: through the real subscribe path.
A bare XEP-0114 connection for sink.localhost (conftest.RawComponent)
sends 10,000 ordinary §6.1 <subscribe/> IQs, each from its own JID
uN@sink.localhost (a component may speak for any JID of its domain), and
checks every reply; then it leaves and bench/sink takes the domain to
count the notifications. So each subscription goes through the server,
herald's parser, the access check, the store (group commit) and the
in-memory model exactly as a remote subscriber's would: no SQL
shortcut, no restart. (bench/sink cannot send IQs itself.)"""
import re
import time

from conftest import (NS_ATOM, NS_PUBSUB, SINK_DOMAIN, RawComponent, unique_node,
                      wait_pubsub_ready)

N = 10000

# An Atom entry of about the size the benchmark uses (~850 bytes with
# the notification around it).
ENTRY = (f'<entry xmlns="{NS_ATOM}"><title>Fan-out test entry</title>'
         '<id>tag:herald.test,2024:fanout</id><updated>2024-05-01T12:00:00Z</updated>'
         '<author><name>Alice</name></author>'
         '<link rel="alternate" href="https://example.org/fanout"/>'
         '<content type="text">' + "Lorem ipsum dolor sit amet. " * 12 + '</content></entry>')


def summary(sink):
    lines = sink.lines(r"^sink: count=")
    assert lines, f"{sink.name} printed no summary; log tail:\n{sink.tail()}"
    return {k: v for k, v in re.findall(r"(\w+)=([0-9.]+)", lines[-1])}


def test_fanout_10000_subscribers(server, herald, module_components, ps_alice):
    wait_pubsub_ready(ps_alice)
    t0 = time.monotonic()
    node = ps_alice.create(unique_node("fanout"))

    # 10,000 subscribe IQs, one per virtual JID, all answered.
    comp = RawComponent(server, SINK_DOMAIN).connect()
    try:
        replies = comp.subscribe_all(node, N)
    finally:
        comp.close()
    t_sub = time.monotonic() - t0
    assert len(replies) == N, f"{len(replies)} replies for {N} subscribe requests"
    bad = [r for r in replies if r.get("type") != "result"]
    assert not bad, f"{len(bad)} subscriptions refused, e.g. {bad[0].attrib} {list(bad[0])}"
    jids = set()
    for r in replies:
        sub = r.find(f"{{{NS_PUBSUB}}}pubsub/{{{NS_PUBSUB}}}subscription")
        assert sub is not None and sub.get("subscription") == "subscribed", r.attrib
        assert r.get("id") == "s" + sub.get("jid")[1:].split("@")[0], r.attrib
        jids.add(sub.get("jid"))
    assert len(jids) == N

    # The counting sink takes the domain over, then one publish.
    sink = module_components.sink(N, extra=["--expect-per-jid", "1", "--idle", "2",
                                            "--wait", "30"])
    t1 = time.monotonic()
    ps_alice.publish(node, ENTRY, item_id="fan1")
    deadline = time.monotonic() + 30
    while sink.alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not sink.alive(), f"sink still running after 30 s:\n{sink.tail()}"
    t_fan = time.monotonic() - t1
    s = summary(sink)
    print(f"\n{server}: {N} subscribes in {t_sub:.1f}s; fan-out delivered "
          f"{s['count']} in {s['seconds']}s ({s['msgs_s']} msg/s), total {t_fan:.1f}s "
          f"incl. the sink's 2 s idle wait")
    assert int(s["count"]) == N, s
    assert int(s["jids"]) == N and int(s["dups"]) == 0 and int(s["missing"]) == 0, s
    assert int(s["other"]) == 0, s
    assert herald.alive()

    # Clean up without 10,000 delete notifications to a sink that left.
    ps_alice.configure(node, {"pubsub#notify_delete": "0"})
    ps_alice.delete(node)
