"""The node process: ``run_daemon`` runs one node in the foreground until SIGINT/SIGTERM.

``meshnet up`` builds a ``DaemonOptions`` (the state directory and the validated config
with the command-line flags applied) and runs it. The run has four phases:

1. **prepare**: the state directory (created 0700), the identity (created on the first
   start, mode 0600), the message store (``messages.db``, SQLite WAL; a damaged file is
   an error naming it and the way to recover), the ``Node`` and its ``NodeDriver``.
   Nothing is reachable yet.
2. **start**: listen on ``listen.endpoints`` (a port in use is a ``StartError``: one
   line, exit status 2), LAN discovery, then dial ``peers.bootstrap``; report Started.
3. **serve**: report every node event until SIGINT or SIGTERM.
4. **stop**, in reverse order, also after a failure in an earlier phase: discovery; the
   driver (no new links, a goodbye on every link, sockets closed); the message store
   last, so every message the node accepted is on disk and the database is consistent;
   report Stopped. A clean stop returns 0.

Each phase is one method of ``_Daemon``; a component with a lifetime (the local API
server, for instance) starts at the end of ``start`` and stops at the top of ``stop``.
Reports are log lines (``runtime/eventlog.py``), or JSON lines with ``json_events``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import json
import logging
import signal
import sys
import time
from dataclasses import dataclass, field
from typing import TextIO

from meshnet.crypto.entropy import SystemEntropy
from meshnet.crypto.identity import Identity, NodeId, SignatureVerifier
from meshnet.errors import LocalError
from meshnet.link.config import LinkConfig
from meshnet.node.config import NodeConfig
from meshnet.node.node import Node
from meshnet.runtime.apiserver import ApiServer, start_api
from meshnet.runtime.config import Config
from meshnet.runtime.discovery import Discovery, config_for_listeners
from meshnet.runtime.driver import NodeDriver
from meshnet.runtime.endpoints import parse_peer_address
from meshnet.runtime.eventlog import LOGGER, describe_event, event_level, json_line, setup_logging
from meshnet.runtime.home import Home
from meshnet.runtime.keyfile import load_identity, save_identity
from meshnet.runtime.knownpeers import KnownPeers
from meshnet.runtime.msgstore import SqliteMessageStore
from meshnet.runtime.subscriptions import Subscription
from meshnet.services.messaging import MessagingConfig

__all__ = ["DaemonOptions", "StartError", "load_or_create_identity", "node_config", "run_daemon"]

log = logging.getLogger(__name__)

_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_CHECK_LISTEN = "check --listen or [listen] endpoints in config.toml"
_IN_USE = f"is another node running? {_CHECK_LISTEN}"


class StartError(LocalError):
    """The node cannot start (a port in use, an address not on this host ...)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DaemonOptions:
    home: Home
    """The state directory (identity, config, message store, API socket)."""
    config: Config = field(default_factory=Config)
    """The validated config, command-line flags applied (``config.with_overrides``)."""
    json_events: bool = False
    """Report events as JSON lines on the output instead of log lines."""


def load_or_create_identity(home: Home) -> Identity:
    """The identity in ``home.identity_key``, created (mode 0600) on the first start."""
    path = home.identity_key
    if path.exists() or path.is_symlink():
        return load_identity(path)
    identity = Identity.generate(SystemEntropy(), created=int(time.time()))
    save_identity(path, identity)
    log.info("created a new identity %s in %s", identity.node_id.short(), path)
    return identity


def node_config(config: Config) -> NodeConfig:
    """The ``NodeConfig`` the settings in ``config`` call for."""
    messaging = MessagingConfig(
        expires_in=config.messaging.default_expiry,
        mailbox_owners=config.messaging.mailbox_owners,
        mailbox_items=config.messaging.mailbox_items,
        mailbox_max_age=config.messaging.mailbox_max_age,
    )
    return NodeConfig(link=LinkConfig(hybrid=config.node.hybrid), messaging=messaging)


async def run_daemon(options: DaemonOptions, *, out: TextIO = sys.stdout) -> int:
    """Run the node until SIGINT/SIGTERM; return the exit status (0 after a clean stop).

    Raises:
        LocalError: the node cannot start (identity, message store, a port in use);
            whatever was started is stopped first.
    """
    handler = setup_logging(
        options.config.logging.level, sys.stderr if options.json_events else out
    )
    daemon = _Daemon(options, out)
    try:
        daemon.prepare()
        await daemon.start()
        await daemon.serve()
    finally:
        await daemon.stop()
        logging.getLogger(LOGGER).removeHandler(handler)
    return 0


class _Daemon:
    """One run of the node, phase by phase (see the module docstring)."""

    def __init__(self, options: DaemonOptions, out: TextIO) -> None:
        self.options = options
        self.config = options.config
        self.home = options.home
        self.out = out
        self.stopping = asyncio.Event()
        self.identity: Identity | None = None
        self.store: SqliteMessageStore | None = None
        self.driver: NodeDriver | None = None
        self.events: Subscription | None = None
        self.discovery: Discovery | None = None
        self.api: ApiServer | None = None
        self.started = False
        self.loop = asyncio.get_running_loop()
        for sig in _SIGNALS:
            self.loop.add_signal_handler(sig, self.stopping.set)

    def prepare(self) -> None:
        try:
            self.home.create()
        except OSError as exc:
            raise StartError(
                f"{self.home.root}: cannot create the state directory ({exc})"
            ) from None
        self.identity = load_or_create_identity(self.home)
        self.store = SqliteMessageStore.open(self.home.messages_db)
        node = Node(
            identity=self.identity,
            entropy=SystemEntropy(),
            verifier=SignatureVerifier(),
            config=node_config(self.config),
            message_store=self.store,
            wall_offset=time.time() - self.loop.time(),
        )
        known = KnownPeers.load(self.home.known_peers)
        self.driver = NodeDriver(node, known_peers=known)
        self.events = self.driver.subscribe()

    async def start(self) -> None:
        assert self.driver is not None and self.identity is not None
        endpoints = self.config.listen.endpoints
        try:
            await self.driver.start(endpoints)
        except OSError as exc:
            hint = _IN_USE if exc.errno == errno.EADDRINUSE else _CHECK_LISTEN
            raise StartError(f"{exc.strerror or exc} ({hint})") from None
        if self.config.discovery.enabled:
            self.discovery = await self._start_discovery(self.driver)
        self.api = await start_api(self.driver, self.home, self.config)
        self.started = True
        self._report_started(self.identity.node_id, self.driver.listening)
        for text in self.config.peers.bootstrap:
            expected, endpoint = parse_peer_address(text)
            self.driver.connect(str(endpoint), expected_peer=expected)

    async def serve(self) -> None:
        assert self.events is not None
        stopping = asyncio.ensure_future(self.stopping.wait())
        try:
            while not self.stopping.is_set():
                getter = asyncio.ensure_future(self.events.get())
                await asyncio.wait({getter, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if not getter.done():
                    getter.cancel()
                    break
                event = getter.result()
                if self.options.json_events:
                    print(json_line(event), file=self.out, flush=True)
                else:
                    log.log(event_level(event), describe_event(event))
        finally:
            stopping.cancel()

    async def stop(self) -> None:
        if self.api is not None:
            await self.api.stop()
        if self.discovery is not None:
            await self.discovery.stop()
        if self.driver is not None:
            await self.driver.stop()
        if self.store is not None:
            self.store.close()
        for sig in _SIGNALS:
            self.loop.remove_signal_handler(sig)
        if self.started and self.identity is not None:
            node_id = self.identity.node_id
            self._report("Stopped", f"node {node_id.short()} stopped", node_id=str(node_id))

    async def _start_discovery(self, driver: NodeDriver) -> Discovery | None:
        """LAN discovery where the driver listens; None on loopback only or without sockets."""
        config = config_for_listeners(driver.listening)
        if config is None:
            log.info("LAN discovery is off: listening on loopback only")
            return None
        config = dataclasses.replace(config, interval=self.config.discovery.interval)
        discovery = Discovery(driver, config=config)
        try:
            await discovery.start()
        except OSError as exc:
            log.warning("LAN discovery is off: %s", exc)
            return None
        return discovery

    def _report_started(self, node_id: NodeId, listening: tuple[str, ...]) -> None:
        name = f" ({self.config.node.name})" if self.config.node.name else ""
        where = ", ".join(listening) or "nowhere (dialling only)"
        lan = "on" if self.discovery is not None else "off"
        self._report(
            "Started",
            f"node {node_id.short()}{name} started: listening on {where}; LAN discovery {lan}; "
            f"state in {self.home.root}",
            node_id=str(node_id),
            name=self.config.node.name,
            listening=list(listening),
            discovery=self.discovery is not None,
            home=str(self.home.root),
        )

    def _report(self, event: str, text: str, **fields: object) -> None:
        if self.options.json_events:
            print(json.dumps({"event": event, **fields}), file=self.out, flush=True)
        else:
            log.info(text)
