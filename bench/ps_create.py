#!/usr/bin/python3
"""ps_create.py: a user of the private server creates a pubsub node that
anyone may subscribe and publish to, for the fan-out benchmark (issue 4
(c)). ejabberd lets only its local users create nodes on its own pubsub
(access rule pubsub_createnode), so the bench sink (a component JID)
cannot do it itself; with publish_model open the sink's owner JID then
publishes.

    ps_create.py --env DIR/ejabberd.env --service serverpubsub.localhost
                 --node NAME [--user alice] [--timeout SEC]

Prints "ps_create: created NODE" and exits 0, or one error line and 1.
Bounded by --timeout (connect, login and the request together)."""

import argparse
import asyncio
import logging
import shlex
import sys
from pathlib import Path

import slixmpp
from slixmpp.exceptions import IqError, IqTimeout


def read_env(path):
    env = {}
    for line in Path(path).read_text().splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and not key.startswith("#"):
            words = shlex.split(value)
            env[key] = words[0] if words else ""
    return env


class Creator(slixmpp.ClientXMPP):
    def __init__(self, jid, password, service, node, timeout):
        super().__init__(jid, password)
        self.service, self.node, self.timeout = service, node, timeout
        self.result = None
        self.done = asyncio.Event()
        self.register_plugin("xep_0004")
        self.register_plugin("xep_0060")
        self.add_event_handler("session_start", self.on_start)
        self.add_event_handler("failed_auth", lambda _: self.finish("login refused"))
        self.add_event_handler("connection_failed", lambda e: self.finish(f"cannot connect: {e}"))
        self.add_event_handler("disconnected", lambda _: self.done.set())

    def finish(self, result):
        if self.result is None:
            self.result = result
        self.abort()
        self.done.set()

    async def on_start(self, _):
        form = self["xep_0004"].make_form(ftype="submit")
        form.add_field(var="FORM_TYPE", ftype="hidden",
                       value="http://jabber.org/protocol/pubsub#node_config")
        form.add_field(var="pubsub#access_model", value="open")
        form.add_field(var="pubsub#publish_model", value="open")
        form.add_field(var="pubsub#send_last_published_item", value="never")
        # Items beyond max_items are dropped silently, as herald and
        # Prosody do, not announced with a retraction to every subscriber.
        form.add_field(var="pubsub#notify_retract", value="0")
        try:
            await self["xep_0060"].create_node(self.service, self.node, config=form,
                                               timeout=self.timeout)
        except IqError as e:
            err = e.iq["error"]
            self.finish(f"create refused: {err['type']}/{err['condition']} {err['text'] or ''}")
            return
        except IqTimeout:
            self.finish("create: no answer")
            return
        self.result = "ok"
        self.disconnect()


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--env", required=True)
    ap.add_argument("--service", required=True)
    ap.add_argument("--node", required=True)
    ap.add_argument("--user", default="alice")
    ap.add_argument("--timeout", type=float, default=20)
    args = ap.parse_args()
    logging.basicConfig(level=logging.CRITICAL)
    env = read_env(args.env)
    c = Creator(f"{args.user}@{env['XMPP_DOMAIN']}/bench", env["XMPP_USER_PASSWORD"],
                args.service, args.node, args.timeout)
    c.connect(("127.0.0.1", int(env["XMPP_C2S_PORT"])), force_starttls=False,
              disable_starttls=True)
    try:
        await asyncio.wait_for(c.done.wait(), args.timeout + 5)
    except asyncio.TimeoutError:
        c.abort()
        c.result = c.result or "timed out"
    if c.result == "ok":
        print(f"ps_create: created {args.node}")
        return 0
    print(f"ps_create: {args.node}: {c.result}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
