"""Integration harness: real PostgreSQL, Prosody and ejabberd (started by
tests/integration/run into $HERALD_TEST_DIR), the real herald binary, and
real slixmpp clients talking to it through the server.

Nothing here is skipped: a missing server or binary is a test failure,
because integration is mandatory. Every wait is bounded so a broken
herald or server fails a test instead of hanging the suite."""

import asyncio
import atexit
import base64
import hashlib
import itertools
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import threading
import time
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from pathlib import Path

import pytest
import slixmpp
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import StanzaPath

ROOT = Path(__file__).resolve().parents[2]
SERVERS = ("prosody", "ejabberd")
DOMAIN = "pubsub.localhost"
SINK_DOMAIN = "sink.localhost"
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer")
NS_DISCO_INFO = "http://jabber.org/protocol/disco#info"
NS_DISCO_ITEMS = "http://jabber.org/protocol/disco#items"
NS_VERSION = "jabber:iq:version"
NS_PING = "urn:xmpp:ping"
NS_CAPS = "http://jabber.org/protocol/caps"
NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
NS_DATA = "jabber:x:data"
LINK_UP = "link 0 up"


def pytest_addoption(parser):
    parser.addoption("--herald-build", default="build",
                     help="build directory holding herald and examples/ (default: build)")


# ---------------------------------------------------------------- environment

def read_env(path):
    """Parses a sourceable KEY=value file (values may be shell-quoted)."""
    env = {}
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        if line.startswith("export "):
            line = line[len("export "):]
        key, _, value = line.partition("=")
        parts = shlex.split(value) if value else [""]
        env[key.strip()] = parts[0] if parts else ""
    return env


@pytest.fixture(scope="session")
def test_dir():
    d = os.environ.get("HERALD_TEST_DIR")
    if not d:
        pytest.fail("HERALD_TEST_DIR is not set: run `tests/integration/run BUILD` "
                    "(it starts PostgreSQL, Prosody and ejabberd and sets it)")
    return Path(d)


def _env_file(test_dir, name):
    path = test_dir / f"{name}.env"
    if not path.is_file():
        pytest.fail(f"{path} is missing: {name} was not started "
                    "(integration tests need every server; see tests/integration/run)")
    return read_env(path)


@pytest.fixture(scope="session")
def build_dir(request):
    b = Path(request.config.getoption("--herald-build"))
    if not b.is_absolute():
        b = ROOT / b
    if not (b / "herald").is_file():
        pytest.fail(f"{b}/herald does not exist: build it first (make BUILD={b})")
    return b


@pytest.fixture(scope="session")
def pg_env(test_dir):
    env = _env_file(test_dir, "pg")
    if not env.get("PG_CONNINFO"):
        pytest.fail(f"{test_dir}/pg.env has no PG_CONNINFO")
    return env


def port_open(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class XmppServer:
    """One private Prosody or ejabberd, controlled through deploy/dev/xmpp-ctl."""

    def __init__(self, name, test_dir, env):
        self.name = name
        self.dir = test_dir
        self.env = env
        self.domain = env.get("XMPP_DOMAIN", "localhost")
        self.c2s_port = int(env["XMPP_C2S_PORT"])
        self.component_port = int(env["XMPP_COMPONENT_PORT"])
        self.secret = env["XMPP_COMPONENT_SECRET"]
        self.password = env["XMPP_USER_PASSWORD"]
        self.users = env.get("XMPP_USERS", "alice bob carol").split()
        self.components = env.get("XMPP_COMPONENTS", "").split()

    def ctl(self, verb, timeout=90):
        r = subprocess.run([str(ROOT / "deploy/dev/xmpp-ctl"), verb, self.name, str(self.dir)],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=timeout)
        assert r.returncode == 0, f"xmpp-ctl {verb} {self.name} failed:\n{r.stdout}"
        return r.stdout

    def ensure_up(self):
        if not (port_open(self.c2s_port) and port_open(self.component_port)):
            self.ctl("start")

    def __repr__(self):
        return self.name


@pytest.fixture(scope="module", params=SERVERS)
def server(request, test_dir):
    env = _env_file(test_dir, request.param)
    for key in ("XMPP_C2S_PORT", "XMPP_COMPONENT_PORT", "XMPP_COMPONENT_SECRET",
                "XMPP_USER_PASSWORD"):
        if not env.get(key):
            pytest.fail(f"{test_dir}/{request.param}.env has no {key}")
    srv = XmppServer(request.param, test_dir, env)
    # A previous module may have killed it and failed before restarting.
    srv.ensure_up()
    for svc in (DOMAIN, "echo.localhost"):
        if srv.components and svc not in srv.components:
            pytest.fail(f"{srv.name} does not accept component {svc}: {srv.components}")
    return srv


# ---------------------------------------------------------------- asyncio

@pytest.fixture(scope="session")
def aloop():
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield loop
    # slixmpp leaves a filter task per client waiting on its queue.
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for t in pending:
        t.cancel()
    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.close()


def run(loop, coro, timeout=10):
    """Runs a coroutine on the test loop, never longer than `timeout`."""
    return loop.run_until_complete(asyncio.wait_for(coro, timeout))


# ---------------------------------------------------------------- processes

_running = []


@atexit.register
def _kill_leftovers():
    # Only processes this harness started, e.g. after Ctrl-C mid-test.
    for proc in _running:
        if proc.poll() is None:
            proc.kill()


class Component:
    """A component process (herald or an example) with its stderr in a file.

    Log lines are read back from the file; the timestamps herald writes
    (UTC, milliseconds) let tests measure spacing between events."""

    def __init__(self, argv, log_path, name):
        self.argv = [str(a) for a in argv]
        self.log_path = Path(log_path)
        self.name = name
        self.proc = None
        self.stopped_rc = None

    def start(self, wait_up=True, timeout=10):
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        self.log_file = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                     stdout=self.log_file, stderr=subprocess.STDOUT,
                                     env=env, cwd=str(ROOT))
        _running.append(self.proc)
        self.started_at = time.monotonic()
        if wait_up:
            self.wait_log(LINK_UP, timeout=timeout)
        return self

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def lines(self, pattern=None):
        rx = re.compile(pattern) if pattern else None
        return [ln for ln in self.log().splitlines() if rx is None or rx.search(ln)]

    def count(self, pattern):
        return len(self.lines(pattern))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def wait_log(self, pattern, count=1, timeout=10):
        """Waits until `pattern` (a regex) matched `count` lines."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.count(pattern) >= count:
                return self.lines(pattern)
            if not self.alive():
                break
            time.sleep(0.02)
        if self.count(pattern) >= count:
            return self.lines(pattern)
        state = "running" if self.alive() else f"exited with {self.proc.returncode}"
        pytest.fail(f"{self.name}: no {count}x /{pattern}/ within {timeout}s ({state}); "
                    f"log tail:\n{self.tail()}")

    def tail(self, n=40):
        return "\n".join(self.log().splitlines()[-n:])

    def signal(self, sig=signal.SIGTERM, timeout=5):
        """Sends `sig` and returns the exit status (fails if it does not exit)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail(f"{self.name} did not exit within {timeout}s of {sig.name}; "
                        f"log tail:\n{self.tail()}")
        self.stopped_rc = rc
        return rc

    def sanitizer_report(self):
        text = self.log()
        for mark in SANITIZER_MARKS:
            i = text.find(mark)
            if i >= 0:
                return text[max(0, i - 200):i + 3000]
        return None

    def finish(self):
        """Teardown: SIGTERM, exit 0 within 5 s, no sanitizer output."""
        if self.proc is None:
            return
        already = self.proc.poll()
        rc = self.signal(signal.SIGTERM)
        self.log_file.close()
        report = self.sanitizer_report()
        assert report is None, f"{self.name}: sanitizer output:\n{report}"
        if already is not None and already != 0:
            pytest.fail(f"{self.name} died during the test with status {already}; "
                        f"log tail:\n{self.tail()}")
        assert rc == 0, f"{self.name} exited {rc} after SIGTERM; log tail:\n{self.tail()}"


def herald_config(server, pg_env, domain=DOMAIN, secret=None, log_keys=None, pubsub_keys=None,
                  **server_keys):
    """YAML text for a test herald. Strings are written JSON-quoted (valid
    YAML) so conninfo and secrets survive any character. `pubsub_keys`
    (a dict) becomes the `pubsub:` section (config/config.h)."""
    keys = {
        "host": "127.0.0.1",
        "port": server.component_port,
        "domain": domain,
        "secret": server.secret if secret is None else secret,
        "reconnect_min_ms": 200,
        "reconnect_max_ms": 2000,
    }
    keys.update(server_keys)
    out = ["server:"]
    out += [f"  {k}: {json.dumps(v)}" for k, v in keys.items()]
    logk = {"level": "debug"}
    logk.update(log_keys or {})
    out += ["storage:", f"  postgres: {json.dumps(pg_env['PG_CONNINFO'])}", "log:"]
    out += [f"  {k}: {json.dumps(v)}" for k, v in logk.items()]
    if pubsub_keys:
        out += ["pubsub:"] + [f"  {k}: {json.dumps(v)}" for k, v in pubsub_keys.items()]
    return "\n".join(out) + "\n"


_seq = itertools.count(1)


class ComponentFactory:
    """Starts herald / example processes for one test (or module) and
    checks each of them at teardown."""

    def __init__(self, build, server, pg_env, tmp):
        self.build = build
        self.server = server
        self.pg_env = pg_env
        self.tmp = Path(tmp)
        self.procs = []

    def herald(self, wait_up=True, name=None, **cfg):
        n = next(_seq)
        name = name or f"herald{n}-{self.server.name}"
        conf = self.tmp / f"{name}.yaml"
        conf.write_text(herald_config(self.server, self.pg_env, **cfg))
        p = Component([self.build / "herald", "--config", conf], self.tmp / f"{name}.log", name)
        p.config_path = conf
        self.procs.append(p)
        return p.start(wait_up=wait_up)

    def echo(self, domain="echo.localhost", wait_up=True):
        exe = self.build / "examples/echo"
        if not exe.is_file():
            pytest.fail(f"{exe} does not exist: build it first")
        n = next(_seq)
        name = f"echo{n}-{self.server.name}"
        p = Component([exe, "--host", "127.0.0.1", "--port", self.server.component_port,
                       "--domain", domain, "--secret", self.server.secret],
                      self.tmp / f"{name}.log", name)
        self.procs.append(p)
        return p.start(wait_up=wait_up)

    def sink(self, users, wait_up=True, extra=()):
        """bench/sink serving sink.localhost: counts the messages each of
        u1..u<users>@sink.localhost receives; prints a summary line
        ("sink: count=.. jids=.. dups=.. missing=.. other=..") when it
        exits (target reached, idle, or SIGTERM)."""
        exe = self.build / "bench/sink"
        if not exe.is_file():
            pytest.fail(f"{exe} does not exist: build it first")
        n = next(_seq)
        name = f"sink{n}-{self.server.name}"
        p = Component([exe, "--host", "127.0.0.1", "--port", self.server.component_port,
                       "--secret", self.server.secret, "--domain", SINK_DOMAIN,
                       "--users", users, "--log", "info", *extra],
                      self.tmp / f"{name}.log", name)
        self.procs.append(p)
        return p.start(wait_up=wait_up)

    def finish(self):
        errors = []
        for p in self.procs:
            try:
                p.finish()
            except BaseException as e:  # check every process, report all
                errors.append(str(e))
        self.procs = []
        if errors:
            pytest.fail("\n\n".join(errors))


@pytest.fixture
def components(build_dir, server, pg_env, tmp_path):
    f = ComponentFactory(build_dir, server, pg_env, tmp_path)
    yield f
    f.finish()


@pytest.fixture(scope="module")
def module_components(build_dir, server, pg_env, tmp_path_factory):
    f = ComponentFactory(build_dir, server, pg_env,
                         tmp_path_factory.mktemp(f"herald-{server.name}"))
    yield f
    f.finish()


@pytest.fixture(scope="module")
def herald(module_components):
    """One herald shared by a module's tests (for one server)."""
    return module_components.herald()


class TcpProxy:
    """A TCP relay from 127.0.0.1:<port> to a target port, to make a link
    go silent without closing it: freeze() stops moving bytes on the
    connections open at that moment (a dead route or a hung peer: nothing
    arrives, nothing fails); connections opened later flow normally.
    thaw() closes the frozen ones on both sides. Threads, so that it keeps
    relaying while a test sleeps or waits on a log."""

    def __init__(self, target_port):
        self.target = target_port
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.lsock.settimeout(0.05)
        self.port = self.lsock.getsockname()[1]
        self.lock = threading.Lock()
        self.conns = []  # [client_sock, server_sock, frozen]
        self.stopping = False
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def _accept(self):
        while not self.stopping:
            try:
                a, _ = self.lsock.accept()
            except (socket.timeout, OSError):
                continue
            try:
                b = socket.create_connection(("127.0.0.1", self.target), timeout=2)
            except OSError:
                a.close()
                continue
            c = [a, b, False]
            with self.lock:
                self.conns.append(c)
            t = threading.Thread(target=self._pump, args=(c,), daemon=True)
            self.threads.append(t)
            t.start()

    def _pump(self, c):
        import select
        a, b = c[0], c[1]
        try:
            while not self.stopping:
                if c[2]:
                    time.sleep(0.02)
                    continue
                r, _, _ = select.select([a, b], [], [], 0.05)
                for src in r:
                    data = src.recv(65536)
                    if not data:
                        return
                    (b if src is a else a).sendall(data)
        except OSError:
            return
        finally:
            for sock in (a, b):
                try:
                    sock.close()
                except OSError:
                    pass
            with self.lock:
                if c in self.conns:
                    self.conns.remove(c)

    def freeze(self):
        with self.lock:
            for c in self.conns:
                c[2] = True
            return len(self.conns)

    def thaw(self):
        with self.lock:
            frozen = [c for c in self.conns if c[2]]
        for c in frozen:
            for sock in c[:2]:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            c[2] = False  # let the pump see the shutdown and clean up

    def close(self):
        self.stopping = True
        for t in self.threads:
            t.join(timeout=2)
        self.lsock.close()


@pytest.fixture
def tcp_proxy():
    proxies = []

    def make(target_port):
        p = TcpProxy(target_port)
        proxies.append(p)
        return p

    yield make
    for p in proxies:
        p.close()


# ---------------------------------------------------------------- clients

class Client:
    """A slixmpp client logged in through the server's c2s port, recording
    what it receives so tests can wait for it with bounded timeouts."""

    def __init__(self, loop, server, user, resource=None, caps=False, features=()):
        self.loop = loop
        self.server = server
        self.jid = f"{user}@{server.domain}/{resource or 'itest-' + str(next(_seq))}"
        x = slixmpp.ClientXMPP(self.jid, server.password)
        x.loop = loop
        for plugin in ("xep_0030", "xep_0092", "xep_0199"):
            x.register_plugin(plugin)
        if caps:
            x.register_plugin("xep_0115")
        self.features = features
        self.xmpp = x
        self.presences = []
        self.messages = []
        self.disco_queries = []
        self._waiters = []
        x.register_handler(Callback("itest-presence", StanzaPath("presence"), self._on_presence))
        x.register_handler(Callback("itest-message", StanzaPath("message"), self._on_message))
        # Alongside xep_0030's own handler, which still answers the query.
        x.register_handler(Callback("itest-disco", StanzaPath("iq@type=get/disco_info"),
                                    self._on_disco_info))

    def _notify(self):
        for fut in self._waiters:
            if not fut.done():
                fut.set_result(None)
        self._waiters = []

    def _on_presence(self, pres):
        self.presences.append(pres)
        self._notify()

    def _on_message(self, msg):
        self.messages.append(msg)
        self._notify()

    def _on_disco_info(self, iq):
        self.disco_queries.append(iq)
        self._notify()

    async def connect(self, timeout=10, presence=True):
        x = self.xmpp
        done = self.loop.create_future()

        def ok(_):
            if not done.done():
                done.set_result(True)

        def bad(ev):
            if not done.done():
                done.set_exception(AssertionError(f"{self.jid}: login failed: {ev}"))

        x.add_event_handler("session_start", ok)
        x.add_event_handler("failed_all_auth", bad)
        x.add_event_handler("connection_failed", bad)
        for f in self.features:
            x["xep_0030"].add_feature(f)
        x.connect(address=("127.0.0.1", self.server.c2s_port),
                  force_starttls=False, disable_starttls=True)
        await asyncio.wait_for(done, timeout)
        # Like a real client: without a roster request the server does not
        # deliver subscription state changes (`subscribed`) to this session.
        await x.get_roster(timeout=timeout)
        if presence:
            if "xep_0115" in x.plugin:
                await x["xep_0115"].update_caps(broadcast=False)
            x.send_presence()
        return self

    async def disconnect(self, timeout=3):
        try:
            await asyncio.wait_for(self.xmpp.disconnect(wait=1), timeout)
        except (asyncio.TimeoutError, Exception):
            self.xmpp.abort()

    async def forget(self, jid, timeout=5):
        """Removes `jid` from the roster (cancelling both subscriptions), so a
        test starts from no subscription whatever earlier runs left."""
        iq = self.xmpp.Iq()
        iq["type"] = "set"
        iq["roster"]["items"] = {jid: {"subscription": "remove"}}
        await self.send_iq(iq, timeout=timeout)

    async def wait_for(self, pred, source, timeout=5, what="stanza"):
        """Waits until pred(item) holds for an item of `source` (a list this
        client fills, or a callable returning a list); returns that item."""
        deadline = self.loop.time() + timeout
        while True:
            for item in list(source() if callable(source) else source):
                if pred(item):
                    return item
            left = deadline - self.loop.time()
            if left <= 0:
                raise AssertionError(f"{self.jid}: no matching {what} within {timeout}s")
            fut = self.loop.create_future()
            self._waiters.append(fut)
            try:
                # Woken by this client's stanzas; polls for other sources.
                await asyncio.wait_for(fut, min(left, 0.05))
            except asyncio.TimeoutError:
                pass

    def iq(self, to, type="get", payload=(), id=None):
        """Builds an IQ with raw ElementTree children (any number)."""
        iq = self.xmpp.Iq()
        iq["to"] = to
        iq["type"] = type
        iq["id"] = id or f"itest-{next(_seq)}"
        for el in payload:
            iq.append(el)
        return iq

    async def send_iq(self, iq, timeout=5):
        """Sends `iq` and returns the reply (result or error)."""
        try:
            return await iq.send(timeout=timeout)
        except IqError as e:
            return e.iq
        except IqTimeout:
            raise AssertionError(f"no reply to IQ {iq['id']} to {iq['to']} within {timeout}s")

    async def query(self, to, ns, type="get", name="query", timeout=5, **attrs):
        el = ET.Element(f"{{{ns}}}{name}", {k: str(v) for k, v in attrs.items()})
        return await self.send_iq(self.iq(to, type, [el]), timeout=timeout)


def el(ns, name="query", **attrs):
    return ET.Element(f"{{{ns}}}{name}", attrs)


def iq_error(reply):
    """(type, condition) of an IQ error reply, from the raw XML."""
    assert reply["type"] == "error", f"expected an error, got:\n{reply}"
    err = reply.xml.find(f"{{{reply.namespace}}}error")
    assert err is not None, f"error IQ without <error/>:\n{reply}"
    conds = [c.tag.split("}")[1] for c in err if c.tag.startswith(f"{{{NS_STANZAS}}}")
             and c.tag != f"{{{NS_STANZAS}}}text"]
    assert len(conds) == 1, f"expected one defined condition:\n{reply}"
    return err.get("type"), conds[0]


def child_query(stanza, ns, name="query"):
    return stanza.xml.find(f"{{{ns}}}{name}")


@pytest.fixture
def client_factory(aloop, server):
    made = []

    def make(user="alice", connect=True, **kw):
        c = Client(aloop, server, user, **kw)
        made.append(c)
        if connect:
            run(aloop, c.connect())
        return c

    yield make
    for c in made:
        run(aloop, c.disconnect(), timeout=5)


@pytest.fixture(scope="module")
def alice(aloop, server):
    """alice, logged in once per server per module."""
    c = Client(aloop, server, "alice")
    run(aloop, c.connect())
    yield c
    run(aloop, c.disconnect(), timeout=5)


# ---------------------------------------------------------------- XEP-0115

def caps_ver_from_query(query):
    """XEP-0115 §5.1 verification string of a disco#info <query/> element."""
    xl = "{http://www.w3.org/XML/1998/namespace}lang"
    ids = sorted((i.get("category", ""), i.get("type", ""), i.get(xl, ""), i.get("name", ""))
                 for i in query.findall(f"{{{NS_DISCO_INFO}}}identity"))
    s = "".join("/".join(i) + "<" for i in ids)
    feats = sorted(f.get("var", "") for f in query.findall(f"{{{NS_DISCO_INFO}}}feature"))
    s += "".join(f + "<" for f in feats)
    forms = []
    for form in query.findall(f"{{{NS_DATA}}}x"):
        fields = {}
        ftype = None
        for field in form.findall(f"{{{NS_DATA}}}field"):
            values = sorted(v.text or "" for v in field.findall(f"{{{NS_DATA}}}value"))
            if field.get("var") == "FORM_TYPE":
                ftype = values[0] if values else ""
            else:
                fields[field.get("var", "")] = values
        if ftype is None:
            continue
        text = ftype + "<"
        for var in sorted(fields):
            text += var + "<" + "".join(v + "<" for v in fields[var])
        forms.append((ftype, text))
    s += "".join(t for _, t in sorted(forms))
    return base64.b64encode(hashlib.sha1(s.encode("utf-8")).digest()).decode()


def log_time(line):
    """Timestamp (seconds since epoch) at the start of a herald log line."""
    stamp = line.split(" ", 1)[0]
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=timezone.utc).timestamp()


# ---------------------------------------------------------------- pubsub (XEP-0060)
# Helpers for the test_10_pubsub_* modules: raw XML in, raw XML out, so that
# what is checked is what travelled, not what a client library made of it.

NS_PUBSUB = "http://jabber.org/protocol/pubsub"
NS_PUBSUB_OWNER = NS_PUBSUB + "#owner"
NS_PUBSUB_EVENT = NS_PUBSUB + "#event"
NS_PUBSUB_ERRORS = NS_PUBSUB + "#errors"
NS_NODE_CONFIG = NS_PUBSUB + "#node_config"
NS_PUBLISH_OPTIONS = NS_PUBSUB + "#publish-options"
NS_META_DATA = NS_PUBSUB + "#meta-data"
NS_ATOM = "http://www.w3.org/2005/Atom"
NS_DELAY = "urn:xmpp:delay"


def unique_node(prefix="n"):
    """A node name no other test (or earlier run on the same database) uses."""
    return f"{prefix}-{next(_seq)}-{os.getpid()}-{int(time.time() * 1000) % 100000000}"


def xml_escape(text):
    return (str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&apos;"))


def data_form(fields, form_type=NS_NODE_CONFIG, type="submit"):
    """<x xmlns='jabber:x:data'/> text; fields: {var: value or [values]}.
    form_type None leaves out FORM_TYPE."""
    out = [f"<x xmlns='{NS_DATA}' type='{type}'>"]
    if form_type:
        out.append(f"<field var='FORM_TYPE' type='hidden'><value>{form_type}</value></field>")
    for var, val in fields.items():
        vals = val if isinstance(val, (list, tuple)) else [val]
        out.append(f"<field var='{xml_escape(var)}'>"
                   + "".join(f"<value>{xml_escape(v)}</value>" for v in vals) + "</field>")
    out.append("</x>")
    return "".join(out)


def pubsub_error(reply):
    """(type, condition, pubsub#errors condition or None, unsupported
    feature or None) of an IQ error, read from the raw XML (slixmpp 1.8.3
    reports an empty condition for some, e.g. policy-violation)."""
    etype, cond = iq_error(reply)
    err = reply.xml.find(f"{{{reply.namespace}}}error")
    apps = [c for c in err if c.tag.startswith(f"{{{NS_PUBSUB_ERRORS}}}")]
    assert len(apps) <= 1, f"several pubsub#errors conditions:\n{reply}"
    app = apps[0].tag.split("}")[1] if apps else None
    feature = apps[0].get("feature") if apps else None
    return etype, cond, app, feature


def canonical(el):
    """XML canonical form (C14N 2.0) of an element and its subtree, with
    namespace prefixes rewritten, so that two serializations of one infoset
    (e.g. a default namespace vs. a prefix) compare equal, and any change
    of element, attribute, namespace or text does not."""
    text = el if isinstance(el, str) else ET.tostring(el, encoding="unicode")
    return ET.canonicalize(text, rewrite_prefixes=True)


class PubSubUser:
    """XEP-0060 requests of one logged-in client (a conftest Client) to the
    service, synchronous for the tests: every call is bounded."""

    def __init__(self, client, aloop, service=DOMAIN):
        self.c = client
        self.loop = aloop
        self.service = service

    @property
    def bare(self):
        return self.c.xmpp.boundjid.bare

    @property
    def full(self):
        return self.c.xmpp.boundjid.full

    def request(self, type, xml, timeout=5):
        """Sends an IQ of `type` carrying the element in `xml` (text);
        returns the reply, result or error."""
        iq = self.c.iq(self.service, type, [ET.fromstring(xml)])
        return run(self.loop, self.c.send_iq(iq, timeout=timeout), timeout=timeout + 2)

    def request_raw(self, type, xml, timeout=5):
        """As request(), but the IQ goes out as the exact text given,
        bypassing slixmpp's serializer (which, for one, drops xmlns='' on
        an element in no namespace)."""
        from slixmpp.xmlstream.matcher import MatcherId
        iq_id = f"raw-{next(_seq)}"
        fut = self.loop.create_future()

        def got(stanza):
            if not fut.done():
                fut.set_result(stanza)
        self.c.xmpp.register_handler(Callback(f"raw-reply-{iq_id}", MatcherId(iq_id), got,
                                              once=True))
        self.c.xmpp.send_raw(f"<iq type='{type}' id='{iq_id}' to='{xml_escape(self.service)}'>"
                             f"{xml}</iq>")
        try:
            return run(self.loop, asyncio.wait_for(fut, timeout), timeout=timeout + 2)
        except asyncio.TimeoutError:
            raise AssertionError(f"no reply to raw IQ {iq_id} within {timeout}s") from None
        finally:
            self.c.xmpp.remove_handler(f"raw-reply-{iq_id}")

    def ok(self, type, xml, timeout=5):
        r = self.request(type, xml, timeout)
        assert r["type"] == "result", f"expected a result for\n{xml}\ngot:\n{r}"
        return r

    def error(self, type, xml, timeout=5):
        r = self.request(type, xml, timeout)
        return pubsub_error(r)

    def pubsub(self, body, owner=False):
        return f"<pubsub xmlns='{NS_PUBSUB_OWNER if owner else NS_PUBSUB}'>{body}</pubsub>"

    # -- verbs
    def create(self, node=None, config=None):
        """Creates `node` (None: an instant node) with an optional config
        dict; returns the NodeID (the one the service returned for an
        instant node)."""
        create = f"<create node='{xml_escape(node)}'/>" if node else "<create/>"
        conf = f"<configure>{data_form(config)}</configure>" if config is not None else ""
        r = self.ok("set", self.pubsub(create + conf))
        got = r.xml.find(f"{{{NS_PUBSUB}}}pubsub/{{{NS_PUBSUB}}}create")
        if node is None:
            assert got is not None and got.get("node"), f"instant node without a NodeID:\n{r}"
            return got.get("node")
        return node

    def configure(self, node, config):
        return self.ok("set", self.pubsub(
            f"<configure node='{xml_escape(node)}'>{data_form(config)}</configure>", owner=True))

    def get_config(self, node):
        """{var: [values]} of the node's configuration form."""
        r = self.ok("get", self.pubsub(f"<configure node='{xml_escape(node)}'/>", owner=True))
        x = r.xml.find(f".//{{{NS_DATA}}}x")
        assert x is not None, str(r)
        return form_values(x)

    def delete(self, node, redirect=None):
        red = f"<redirect uri='{xml_escape(redirect)}'/>" if redirect else ""
        return self.ok("set", self.pubsub(
            f"<delete node='{xml_escape(node)}'>{red}</delete>", owner=True))

    def purge(self, node):
        return self.ok("set", self.pubsub(f"<purge node='{xml_escape(node)}'/>", owner=True))

    def subscribe(self, node, jid=None):
        r = self.ok("set", self.pubsub(
            f"<subscribe node='{xml_escape(node)}' jid='{xml_escape(jid or self.bare)}'/>"))
        sub = r.xml.find(f"{{{NS_PUBSUB}}}pubsub/{{{NS_PUBSUB}}}subscription")
        assert sub is not None and sub.get("subscription") == "subscribed", str(r)
        return sub

    def unsubscribe(self, node, jid=None):
        return self.ok("set", self.pubsub(
            f"<unsubscribe node='{xml_escape(node)}' jid='{xml_escape(jid or self.bare)}'/>"))

    def publish(self, node, payload, item_id=None, options=None):
        """Publishes `payload` (text, or None for an item without payload);
        returns the item id the result carries."""
        idattr = f" id='{xml_escape(item_id)}'" if item_id is not None else ""
        item = f"<item{idattr}>{payload or ''}</item>"
        opts = (f"<publish-options>{data_form(options, NS_PUBLISH_OPTIONS)}</publish-options>"
                if options is not None else "")
        r = self.ok("set", self.pubsub(f"<publish node='{xml_escape(node)}'>{item}</publish>"
                                       + opts))
        it = r.xml.find(f"{{{NS_PUBSUB}}}pubsub/{{{NS_PUBSUB}}}publish/{{{NS_PUBSUB}}}item")
        assert it is not None and it.get("id"), f"publish result without the item id:\n{r}"
        pub = r.xml.find(f"{{{NS_PUBSUB}}}pubsub/{{{NS_PUBSUB}}}publish")
        assert pub.get("node") == node, str(r)
        return it.get("id")

    def retract(self, node, item_ids, notify=None):
        ids = [item_ids] if isinstance(item_ids, str) else item_ids
        n = f" notify='{notify}'" if notify is not None else ""
        body = "".join(f"<item id='{xml_escape(i)}'/>" for i in ids)
        return self.ok("set", self.pubsub(
            f"<retract node='{xml_escape(node)}'{n}>{body}</retract>"))

    def items(self, node, max_items=None, ids=()):
        """[(item id, payload element or None)] in the order of the reply."""
        m = f" max_items='{max_items}'" if max_items is not None else ""
        body = "".join(f"<item id='{xml_escape(i)}'/>" for i in ids)
        r = self.ok("get", self.pubsub(f"<items node='{xml_escape(node)}'{m}>{body}</items>"))
        items = r.xml.find(f"{{{NS_PUBSUB}}}pubsub/{{{NS_PUBSUB}}}items")
        assert items is not None and items.get("node") == node, str(r)
        return [(i.get("id"), i[0] if len(i) else None)
                for i in items.findall(f"{{{NS_PUBSUB}}}item")]

    # -- notifications
    def events(self, node, kind=None):
        """[(message, child of <event/>)] received so far for `node`; kind
        filters on the child's name (items, purge, delete...)."""
        out = []
        for m in list(self.c.messages):
            ev = m.xml.find(f"{{{NS_PUBSUB_EVENT}}}event")
            if ev is None:
                continue
            for child in ev:
                if child.get("node") == node and (
                        kind is None or child.tag == f"{{{NS_PUBSUB_EVENT}}}{kind}"):
                    out.append((m, child))
        return out

    def wait_event(self, node, pred=lambda m, child: True, kind=None, timeout=5):
        """Waits (bounded) for a notification of `node` satisfying pred."""
        def find():
            return [e for e in self.events(node, kind) if pred(*e)]
        found = run(self.loop, self.c.wait_for(lambda e: True, find, timeout=timeout,
                                               what=f"event on {node}"), timeout=timeout + 2)
        return found

    def quiet(self, node, seconds=0.5):
        """Lets `seconds` pass on the loop (stanzas keep arriving)."""
        run(self.loop, asyncio.sleep(seconds), timeout=seconds + 2)


def form_values(x):
    return {f.get("var"): [v.text or "" for v in f.findall(f"{{{NS_DATA}}}value")]
            for f in x.findall(f"{{{NS_DATA}}}field")}


def event_items(child):
    """[(id, payload or None)] of an <items/> event child (retracts not
    included)."""
    return [(i.get("id"), i[0] if len(i) else None)
            for i in child.findall(f"{{{NS_PUBSUB_EVENT}}}item")]


@pytest.fixture(scope="module")
def bob(aloop, server):
    c = Client(aloop, server, "bob")
    run(aloop, c.connect())
    yield c
    run(aloop, c.disconnect(), timeout=5)


@pytest.fixture(scope="module")
def carol(aloop, server):
    c = Client(aloop, server, "carol")
    run(aloop, c.connect())
    yield c
    run(aloop, c.disconnect(), timeout=5)


@pytest.fixture(scope="module")
def ps_alice(alice, aloop):
    return PubSubUser(alice, aloop)


@pytest.fixture(scope="module")
def ps_bob(bob, aloop):
    return PubSubUser(bob, aloop)


@pytest.fixture(scope="module")
def ps_carol(carol, aloop):
    return PubSubUser(carol, aloop)


def wait_pubsub_ready(ps, timeout=10):
    """Waits until the service answers pubsub requests (its model is
    loaded): disco#items of the service is served by the pubsub module."""
    deadline = time.monotonic() + timeout
    while True:
        r = run(ps.loop, ps.c.query(ps.service, NS_DISCO_INFO, timeout=5), timeout=7)
        q = child_query(r, NS_DISCO_INFO)
        feats = {f.get("var") for f in q.findall(f"{{{NS_DISCO_INFO}}}feature")} \
            if r["type"] == "result" and q is not None else set()
        if NS_PUBSUB in feats:
            return feats
        if time.monotonic() > deadline:
            pytest.fail(f"{ps.service} does not announce {NS_PUBSUB}: herald does not "
                        f"serve pubsub (features: {sorted(feats)})")
        time.sleep(0.1)


class RawComponent:
    """A bare XEP-0114 component connection (plain sockets, no client
    library), for traffic no slixmpp client can send: stanzas from many
    JIDs of one component domain (u1@sink.localhost … uN@…), in bulk.
    Blocking, every wait bounded."""

    NS_STREAM = "http://etherx.jabber.org/streams"

    def __init__(self, server, domain=SINK_DOMAIN):
        self.server = server
        self.domain = domain
        self.sock = None
        self.stanzas = []  # depth-1 elements received, in order

    def connect(self, timeout=10):
        deadline = time.monotonic() + timeout
        last = None
        while True:
            try:
                self._open(deadline)
                return self
            except AssertionError as e:
                # Prosody refuses a domain whose previous connection it has
                # not torn down yet (conflict): retry until the deadline.
                last = e
                self.close(timeout=1)
                if time.monotonic() > deadline:
                    raise AssertionError(f"{self.domain}: no component session: {last}")
                time.sleep(0.2)

    def _open(self, deadline):
        self.sock = socket.create_connection(("127.0.0.1", self.server.component_port),
                                             timeout=5)
        self.parser = ET.XMLPullParser(events=("start", "end"))
        self.depth = 0
        self.root = None
        self.stream_id = None
        self.sock.sendall((f"<stream:stream xmlns='jabber:component:accept' "
                           f"xmlns:stream='{self.NS_STREAM}' to='{self.domain}'>").encode())
        self._read_until(lambda: self.stream_id is not None, deadline)
        digest = hashlib.sha1((self.stream_id + self.server.secret).encode()).hexdigest()
        self.sock.sendall(f"<handshake>{digest}</handshake>".encode())
        self._read_until(lambda: any(s.tag.endswith("handshake") or "error" in s.tag
                                     for s in self.stanzas), deadline)
        first = self.stanzas.pop(0)
        assert first.tag.endswith("handshake"), \
            f"handshake refused: {ET.tostring(first, encoding='unicode')}"

    def _feed(self, data):
        self.parser.feed(data)
        for event, elem in self.parser.read_events():
            if event == "start":
                self.depth += 1
                if self.depth == 1:
                    self.root = elem
                    self.stream_id = elem.get("id")
            else:
                self.depth -= 1
                if self.depth == 1:
                    self.stanzas.append(elem)
                    self.root.remove(elem)  # memory stays flat over many stanzas
                elif self.depth == 0:
                    self.closed_by_peer = True

    def _read_until(self, cond, deadline):
        import select
        while not cond():
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{self.domain}: timed out waiting on the component stream")
            r, _, _ = select.select([self.sock], [], [], min(left, 0.5))
            if r:
                data = self.sock.recv(1 << 16)
                if not data:
                    raise AssertionError(f"{self.domain}: the server closed the stream")
                self._feed(data)

    def send_many(self, chunks, timeout=30):
        """Sends the text chunks in order while reading what arrives (so
        that neither side's buffers fill up with the other blocked)."""
        import select
        deadline = time.monotonic() + timeout
        pending = b"".join(c.encode() for c in chunks)
        view = memoryview(pending)
        self.sock.setblocking(False)
        try:
            while view:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{self.domain}: could not send within {timeout}s")
                r, w, _ = select.select([self.sock], [self.sock], [], min(left, 0.5))
                if r:
                    data = self.sock.recv(1 << 16)
                    if not data:
                        raise AssertionError(f"{self.domain}: the server closed the stream")
                    self._feed(data)
                if w:
                    n = self.sock.send(view[:1 << 16])
                    view = view[n:]
        finally:
            self.sock.setblocking(True)
            self.sock.settimeout(5)

    def subscribe_all(self, node, count, timeout=60):
        """u1..u<count>@<domain> each subscribe to `node` through one
        ordinary §6.1 IQ (id sN from uN); returns the `count` IQ replies."""
        self.send_many(
            f"<iq type='set' id='s{i}' from='u{i}@{self.domain}' to='{DOMAIN}'>"
            f"<pubsub xmlns='{NS_PUBSUB}'><subscribe node='{node}' jid='u{i}@{self.domain}'/>"
            "</pubsub></iq>" for i in range(1, count + 1))
        return self.wait_stanzas(lambda s: s.tag.endswith("}iq"), count, timeout=timeout)

    def wait_stanzas(self, pred, count, timeout=30):
        """Reads until `count` received stanzas satisfy pred; returns them."""
        deadline = time.monotonic() + timeout

        def enough():
            return sum(1 for s in self.stanzas if pred(s)) >= count
        try:
            self._read_until(enough, deadline)
        except AssertionError as e:
            got = sum(1 for s in self.stanzas if pred(s))
            raise AssertionError(f"{e}: {got} of {count} expected stanzas") from None
        return [s for s in self.stanzas if pred(s)]

    def close(self, timeout=5):
        if self.sock is None:
            return
        try:
            self.sock.sendall(b"</stream:stream>")
            # Wait (bounded) for the server's own close, so that the domain
            # is free for the next component when this returns.
            self.closed_by_peer = False
            try:
                self._read_until(lambda: self.closed_by_peer, time.monotonic() + timeout)
            except AssertionError:
                pass
        except OSError:
            pass
        finally:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None
