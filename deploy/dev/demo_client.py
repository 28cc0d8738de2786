#!/usr/bin/python3
"""Demo client for `make demo`: logs in as a user of the private XMPP
server (slixmpp, Debian's python3-slixmpp) and talks to Herald through the
server: service discovery (XEP-0030), software version (XEP-0092) and ping
(XEP-0199). Prints what it sent and what came back, readably.

    demo_client.py --env DIR/prosody.env [--user alice] [--service pubsub.localhost]

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
from slixmpp.exceptions import IqError, IqTimeout


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
        for plugin in ("xep_0030", "xep_0092", "xep_0199"):
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


async def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--env", required=True, help="DIR/prosody.env or DIR/ejabberd.env")
    ap.add_argument("--user", default="alice")
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

    xmpp = Demo(f"{args.user}@{domain}/demo", password, args.service, args.timeout)
    # The private servers run without TLS on 127.0.0.1 only.
    xmpp.connect(("127.0.0.1", port), force_starttls=False, disable_starttls=True)
    total = 4 * args.timeout + 15
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
    say("demo: every request answered")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
