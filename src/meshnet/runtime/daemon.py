"""The node process: identity from the state directory, a driver, signals, event logs.

``run_daemon`` is what ``meshnet up`` runs: it loads the node's identity from its state
directory (creating one on first start), starts a ``NodeDriver`` listening where asked,
dials the configured peers, and reports what happens, one line per event, as readable
text or as JSON lines (``--json``: the form scripts and the demo read). SIGINT and
SIGTERM stop it cleanly: links are closed with a goodbye and sockets are shut.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from meshnet.api.schema import event_to_json
from meshnet.crypto.entropy import SystemEntropy
from meshnet.crypto.identity import Identity, SignatureVerifier
from meshnet.link.config import LinkConfig
from meshnet.node.config import NodeConfig
from meshnet.node.events import (
    NeighbourDataReceived,
    NodeEvent,
    PeerConnected,
    PeerDialFailed,
    PeerDisconnected,
)
from meshnet.node.node import Node
from meshnet.runtime.discovery import Discovery, config_for_listeners
from meshnet.runtime.driver import NodeDriver
from meshnet.runtime.endpoints import parse_peer_address
from meshnet.runtime.keyfile import load_identity, save_identity

__all__ = ["DaemonOptions", "describe_event", "load_or_create_identity", "run_daemon"]

log = logging.getLogger(__name__)

DEFAULT_LISTEN = ("tcp:0.0.0.0:4100", "udp:0.0.0.0:4100")


@dataclass(frozen=True, slots=True, kw_only=True)
class DaemonOptions:
    home: Path
    """The state directory (identity, later config and database)."""
    listen: Sequence[str] = DEFAULT_LISTEN
    """Endpoints to listen on (port 0 picks a free port)."""
    connect: Sequence[str] = ()
    """Peers to stay linked to, as ``[NODE@]ENDPOINT``."""
    json_events: bool = False
    """Report events as JSON lines instead of text."""
    hybrid: bool = True
    """Use the hybrid post-quantum handshake."""
    discovery: bool = True
    """Beacon on the LAN and link to the nodes heard there (``runtime/discovery.py``)."""
    link: LinkConfig = field(default_factory=LinkConfig)


def load_or_create_identity(home: Path, out: TextIO) -> Identity:
    """The identity in ``home/identity.key``, created (mode 0600) on first start."""
    path = home / "identity.key"
    if path.exists():
        return load_identity(path)
    identity = Identity.generate(SystemEntropy(), created=int(time.time()))
    save_identity(path, identity)
    print(f"created a new identity {identity.node_id} in {path}", file=out, flush=True)
    return identity


def describe_event(event: NodeEvent) -> str:
    """One readable line for a node event."""
    if isinstance(event, PeerConnected):
        how = "dialled" if event.outbound else "accepted"
        tofu = " (first contact: identity recorded)" if event.first_contact else ""
        return f"link up: {event.peer} via {event.endpoint} ({how}){tofu}"
    if isinstance(event, PeerDisconnected):
        who = "peer" if event.by_peer else "we"
        return f"link down: {event.peer} ({event.reason}, closed by {who})"
    if isinstance(event, PeerDialFailed):
        retry = f", retrying in {event.retry_in:.1f}s" if event.retry_in is not None else ""
        return f"dial {event.endpoint} failed: {event.reason}{retry}"
    if isinstance(event, NeighbourDataReceived):
        return f"from {event.peer.short()}: {event.payload.decode('utf-8', 'replace')}"
    return repr(event)


async def run_daemon(options: DaemonOptions, *, out: TextIO = sys.stdout) -> int:
    """Run the node until SIGINT/SIGTERM; return the process exit status."""
    identity = load_or_create_identity(options.home, out)
    config = NodeConfig(link=dataclasses.replace(options.link, hybrid=options.hybrid))
    node = Node(
        identity=identity, entropy=SystemEntropy(), verifier=SignatureVerifier(), config=config
    )
    driver = NodeDriver(node)
    peers = [parse_peer_address(text) for text in options.connect]
    await driver.start(options.listen)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    subscription = driver.subscribe()
    discovery = await _start_discovery(driver) if options.discovery else None
    _report(
        out,
        options.json_events,
        "started",
        node_id=str(identity.node_id),
        listening=list(driver.listening),
        discovery=discovery is not None,
    )
    for expected, endpoint in peers:
        driver.connect(str(endpoint), expected_peer=expected)
    waiter = asyncio.ensure_future(stop.wait())
    try:
        while not stop.is_set():
            getter = asyncio.ensure_future(subscription.get())
            done, _ = await asyncio.wait({getter, waiter}, return_when=asyncio.FIRST_COMPLETED)
            if getter in done:
                event = getter.result()
                if options.json_events:
                    print(json.dumps(event_to_json(event)), file=out, flush=True)
                else:
                    print(describe_event(event), file=out, flush=True)
            else:
                getter.cancel()
    finally:
        waiter.cancel()
        if discovery is not None:
            await discovery.stop()
        await driver.stop()
        _report(out, options.json_events, "stopped", node_id=str(identity.node_id))
    return 0


async def _start_discovery(driver: NodeDriver) -> Discovery | None:
    """LAN discovery where the driver listens; None on loopback only or without sockets."""
    config = config_for_listeners(driver.listening)
    if config is None:
        return None
    discovery = Discovery(driver, config=config)
    try:
        await discovery.start()
    except OSError as exc:
        log.warning("LAN discovery is off: %s", exc)
        return None
    return discovery


def _report(out: TextIO, as_json: bool, what: str, **fields: object) -> None:
    if as_json:
        print(json.dumps({"event": what.capitalize(), **fields}), file=out, flush=True)
    else:
        details = " ".join(f"{k}={v}" for k, v in fields.items())
        print(f"node {what}: {details}", file=out, flush=True)
