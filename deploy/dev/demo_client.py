#!/usr/bin/python3
"""Demo client for `make demo`: logs in as a user of the private XMPP
server (slixmpp, Debian's python3-slixmpp) and talks to Herald through the
server: service discovery (XEP-0030), software version (XEP-0092) and ping
(XEP-0199); then publish-subscribe (XEP-0060): alice creates an Atom node,
bob (a second, real client) subscribes, alice publishes an Atom entry
(RFC 4287) and bob receives it. Prints what it sent and what came back.

    demo_client.py --env DIR/prosody.env [--user alice] [--subscriber bob]
                   [--service pubsub.localhost]

Every step is bounded by --timeout; exit status 0 only if every step got a
result (1 on an error reply or a timeout, 2 on bad arguments)."""

import argparse
import asyncio
import logging
import shlex
import sys
import time
from pathlib import Path

import slixmpp
import xml.etree.ElementTree as ET
ET.register_namespace("", "http://www.w3.org/2005/Atom")
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.xmlstream import ET as SET

ATOM = "http://www.w3.org/2005/Atom"
ENTRY = f"""<entry xmlns='{ATOM}'>
  <title type='text'>Herald is attached</title>
  <id>tag:example.org,2026:herald-demo-1</id>
  <updated>2026-11-21T12:00:00Z</updated>
  <author><name>Alice</name></author>
  <content type='text'>An Atom entry published by alice, delivered by Herald to bob.</content>
</entry>"""


def read_env(path):
    """KEY=value lines as written by deploy/dev/*-ctl (values may be quoted)."""
    env = {}
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        words = shlex.split(value)
        env[key] = words[0] if words else ""
    return env


def say(text=""):
    print(text, flush=True)


class Demo(slixmpp.ClientXMPP):
    def __init__(self, jid, password, service, step_timeout):
        super().__init__(jid, password)
        self.service = service
        self.step_timeout = step_timeout
        self.failures = 0
        self.logged_in = False
        self.done = asyncio.Event()
        for plugin in ("xep_0030", "xep_0060", "xep_0092", "xep_0199"):
            self.register_plugin(plugin)
        self.add_event_handler("session_start", self.on_session_start)
        self.add_event_handler("failed_auth", self.on_failed_auth)
        self.add_event_handler("disconnected", lambda _: self.done.set())
        self.add_event_handler("connection_failed", self.on_connection_failed)

    def on_connection_failed(self, error):
        # slixmpp would retry forever; the demo reports and stops instead.
        say(f"!! cannot connect to the XMPP server: {error}")
        self.failures += 1
        self.abort()
        self.done.set()

    def on_failed_auth(self, _):
        say(f"!! login as {self.boundjid.bare} refused")
        self.failures += 1
        self.disconnect()

    async def step(self, title, coro):
        say(f"--> {title}")
        start = time.monotonic()
        try:
            result = await asyncio.wait_for(coro, self.step_timeout)
        except IqError as e:
            err = e.iq["error"]
            say(f"<-- error: {err['type']}/{err['condition']} {err['text'] or ''}".rstrip())
        except (IqTimeout, asyncio.TimeoutError):
            say(f"<-- no answer within {self.step_timeout}s")
        else:
            say(f"    ({(time.monotonic() - start) * 1000:.1f} ms)")
            return result
        self.failures += 1
        return None

    async def on_session_start(self, _):
        self.logged_in = True
        try:
            await self.run_steps()
        finally:
            self.disconnect()

    async def run_steps(self):
        svc = self.service
        say(f"logged in as {self.boundjid.full}")
        say()
        info = await self.step(f"disco#info to {svc}",
                               self["xep_0030"].get_info(jid=svc, cached=False,
                                                         timeout=self.step_timeout))
        if info is not None:
            q = info["disco_info"]
            for cat, typ, _lang, name in q["identities"]:
                say(f"    identity  {cat}/{typ}" + (f"  \"{name}\"" if name else ""))
            for feature in sorted(q["features"]):
                say(f"    feature   {feature}")
        say()
        items = await self.step(f"disco#items to {svc}",
                                self["xep_0030"].get_items(jid=svc, timeout=self.step_timeout))
        if items is not None:
            found = items["disco_items"]["items"]
            if not found:
                say("    (no items)")
            for jid, node, name in found:
                say(f"    item      {jid}" + (f"  node={node}" if node else "")
                    + (f"  \"{name}\"" if name else ""))
        say()
        version = await self.step(f"software version of {svc}",
                                  self["xep_0092"].get_version(svc, timeout=self.step_timeout))
        if version is not None:
            v = version["software_version"]
            say(f"    {v['name']} {v['version']}" + (f" on {v['os']}" if v["os"] else ""))
        say()
        rtt = await self.step(f"ping {svc}",
                              self["xep_0199"].ping(jid=svc, timeout=self.step_timeout))
        if rtt is not None:
            say(f"    pong, round trip {rtt * 1000:.1f} ms")
        say()
        await run_pubsub(self, self.subscriber, svc, self.step_timeout)


class Subscriber(slixmpp.ClientXMPP):
    """bob: logs in, and records the first pubsub notification he receives."""

    def __init__(self, jid, password):
        super().__init__(jid, password)
        self.register_plugin("xep_0060")
        self.ready = asyncio.Event()
        self.got = asyncio.Event()
        self.entry = None
        self.add_event_handler("session_start", self.on_session_start)
        self.add_event_handler("pubsub_publish", self.on_publish)

    def on_session_start(self, _):
        # Without available presence the server treats bob as offline and
        # does not deliver headline messages addressed to his bare JID.
        self.send_presence()
        self.ready.set()

    def on_publish(self, msg):
        item = msg["pubsub_event"]["items"]["item"]
        self.entry = item.xml.find(f"{{{ATOM}}}entry")
        self.got.set()


async def run_pubsub(alice, bob, svc, timeout):
    node = "demo-news"
    form = alice["xep_0004"].make_form(ftype="submit")
    form.add_field(var="FORM_TYPE", ftype="hidden",
                   value="http://jabber.org/protocol/pubsub#node_config")
    form.add_field(var="pubsub#type", value=ATOM)
    form.add_field(var="pubsub#title", value="Herald demo feed")
    await alice.step(f"alice creates Atom node '{node}' on {svc}",
                     alice["xep_0060"].create_node(svc, node, config=form, timeout=timeout))
    say()
    await alice.step(f"bob subscribes to '{node}'",
                     bob["xep_0060"].subscribe(svc, node, timeout=timeout))
    say()
    entry = SET.fromstring(ENTRY)
    res = await alice.step(f"alice publishes an Atom entry to '{node}'",
                           alice["xep_0060"].publish(svc, node, payload=entry, timeout=timeout))
    if res is not None:
        say(f"    committed as item {res['pubsub']['publish']['item']['id']}")
    say()
    say("--> bob waits for the notification")
    try:
        await asyncio.wait_for(bob.got.wait(), timeout)
    except asyncio.TimeoutError:
        say(f"<-- nothing within {timeout}s")
        alice.failures += 1
        return
    # C14N 2.0 with prefixes rewritten: the same infoset compares equal
    # whatever prefixes either side chose.
    received = ET.canonicalize(ET.tostring(bob.entry, encoding="unicode"),
                               strip_text=True, rewrite_prefixes=True)
    sent = ET.canonicalize(ENTRY, strip_text=True, rewrite_prefixes=True)
    say("<-- bob received:")
    for line in ET.tostring(bob.entry, encoding="unicode").splitlines():
        say(f"    {line}")
    if received == sent:
        say("    (identical to what alice published, compared canonically)")
    else:
        say("!! the entry differs from what alice published")
        alice.failures += 1
    await alice.step(f"alice deletes node '{node}'",
                     alice["xep_0060"].delete_node(svc, node, timeout=timeout))
    say()


async def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--env", required=True, help="DIR/prosody.env or DIR/ejabberd.env")
    ap.add_argument("--user", default="alice")
    ap.add_argument("--subscriber", default="bob")
    ap.add_argument("--service", default="pubsub.localhost")
    ap.add_argument("--timeout", type=float, default=10, help="seconds per step")
    ap.add_argument("--debug", action="store_true", help="show the XML stream")
    args = ap.parse_args()

    logging.basicConfig(level=logging.DEBUG if args.debug else logging.ERROR,
                        format="%(levelname)s %(message)s")
    try:
        env = read_env(args.env)
        domain, port = env["XMPP_DOMAIN"], int(env["XMPP_C2S_PORT"])
        password = env["XMPP_USER_PASSWORD"]
    except (OSError, KeyError, ValueError) as e:
        print(f"demo_client: cannot use {args.env}: {e!r}", file=sys.stderr)
        return 2

    bob = Subscriber(f"{args.subscriber}@{domain}/demo", password)
    bob.connect(("127.0.0.1", port), force_starttls=False, disable_starttls=True)
    try:
        await asyncio.wait_for(bob.ready.wait(), args.timeout)
    except asyncio.TimeoutError:
        say(f"!! {args.subscriber} could not log in within {args.timeout}s")
        bob.abort()
        return 1
    xmpp = Demo(f"{args.user}@{domain}/demo", password, args.service, args.timeout)
    xmpp.subscriber = bob
    # The private servers run without TLS on 127.0.0.1 only.
    xmpp.connect(("127.0.0.1", port), force_starttls=False, disable_starttls=True)
    total = 9 * args.timeout + 15
    try:
        await asyncio.wait_for(xmpp.done.wait(), total)
    except asyncio.TimeoutError:
        say(f"!! demo did not finish within {total:.0f}s (login stuck?)")
        xmpp.abort()
        return 1
    if not xmpp.logged_in:
        say("demo: never logged in")
        return 1
    if xmpp.failures:
        say(f"demo: {xmpp.failures} step(s) failed")
        return 1
    bob.disconnect()
    say("demo: every request answered; the Atom entry reached the subscriber")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
