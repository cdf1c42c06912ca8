"""``config.toml``: the node's settings, read with ``tomllib`` and validated whole on load.

The file has one table per concern; ``Config`` is a tree of frozen dataclasses with the
same shape, every key with a default (a missing key or section takes it, and a node
without a config file runs on the defaults). Each field's metadata holds its value kind
(``runtime/configvalues.py``) and its one-line description, so the validation, the
commented default file ``meshnet init`` writes and the key
list in ``docs/config.md`` (checked by a test) come from one place
(``runtime/configtext.py``).

Anything wrong is a ``ConfigError`` naming the file, the dotted key and what is
expected, for example::

    config.toml: listen.endpoints[1]: expected "tcp:HOST:PORT" or "udp:HOST:PORT", got "foo"

An unknown section or key is an error too (a typo must not silently leave a default in
force); the whole file is checked before anything starts. ``with_overrides`` applies
the command-line flags of ``meshnet up`` through the same checks.
"""

from __future__ import annotations

import dataclasses
import json
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any

from meshnet.crypto.identity import NodeId
from meshnet.errors import ConfigError
from meshnet.runtime.configvalues import (
    Bool,
    Choice,
    Duration,
    EndpointList,
    Int,
    Kind,
    LoopbackAddress,
    PathValue,
    PeerList,
    Petnames,
    Text,
    ValueProblemError,
    is_petname,
    kind_of,
    shown,
)

__all__ = [
    "DEFAULT_PORT",
    "ApiSection",
    "Config",
    "DiscoverySection",
    "ListenSection",
    "LoggingSection",
    "MessagingSection",
    "NodeSection",
    "PeersSection",
    "SECTIONS",
    "load_config",
    "parse_config",
    "with_overrides",
]

DEFAULT_PORT = 4100
"""The port ``meshnet up`` listens on (TCP and UDP) unless told otherwise."""

_MAX_FILE = 1024 * 1024
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _meta(kind: Kind[Any], doc: str) -> dict[str, object]:
    """A field's metadata: its value kind and its one-line description."""
    return {"kind": kind, "doc": doc}


def _no_petnames() -> Mapping[str, NodeId]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeSection:
    """This node."""

    name: str = field(
        default="",
        metadata=_meta(Text(64), "A name for this node in logs (its identity is its key)."),
    )
    hybrid: bool = field(
        default=True,
        metadata=_meta(
            Bool(),
            "Hybrid post-quantum link handshakes (X25519 + ML-KEM-768); false only for very "
            "slow links (meshnet up --classic).",
        ),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class ListenSection:
    """Where neighbours can reach this node."""

    endpoints: tuple[str, ...] = field(
        default=(f"tcp:0.0.0.0:{DEFAULT_PORT}", f"udp:0.0.0.0:{DEFAULT_PORT}"),
        metadata=_meta(
            EndpointList(),
            "Addresses to listen on: tcp:HOST:PORT or udp:HOST:PORT (0.0.0.0: every IPv4 "
            "interface; [::]: every IPv6 one; port 0: any free port). An empty list listens "
            "nowhere (this node only dials). meshnet up --listen replaces the list.",
        ),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class DiscoverySection:
    """Finding nodes on the local network (UDP multicast beacons)."""

    enabled: bool = field(
        default=True,
        metadata=_meta(
            Bool(),
            "Beacon on the LAN and link to the nodes heard there (each link still proves "
            "the beaconed identity). meshnet up --no-discovery turns it off.",
        ),
    )
    interval: float = field(
        default=5.0, metadata=_meta(Duration(0.5, 3600.0), "Time between two beacons.")
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class PeersSection:
    """Nodes to stay linked to, and local names for nodes."""

    bootstrap: tuple[str, ...] = field(
        default=(),
        metadata=_meta(
            PeerList(),
            "Peers linked at start and redialled with backoff forever: NODE@tcp:HOST:PORT "
            "(the peer must prove that identity; NODE may be a petname) or tcp:HOST:PORT "
            "(trusted on first use). meshnet up --connect adds to the list.",
        ),
    )
    petnames: Mapping[str, NodeId] = field(
        default_factory=_no_petnames,
        metadata=_meta(
            Petnames(), 'Local names for nodes, NAME = "NODE_ID"; usable wherever a node is named.'
        ),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiSection:
    """The local control API (HTTP + JSON) that the CLI and other programs use."""

    socket: Path = field(
        default=Path("api.sock"),
        metadata=_meta(
            PathValue(),
            "The Unix socket the API listens on (mode 0600: only this user may drive the node).",
        ),
    )
    tcp: str = field(
        default="",
        metadata=_meta(
            LoopbackAddress(),
            'Also serve the API on TCP at this loopback address, e.g. "127.0.0.1:4180", '
            'requiring the token in token_file; "" turns it off.',
        ),
    )
    token_file: Path = field(
        default=Path("api.token"),
        metadata=_meta(
            PathValue(),
            "The file holding the bearer token for the API on TCP (created, mode 0600).",
        ),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class MessagingSection:
    """Messages: how long they are retried, and the mail held for other nodes."""

    default_expiry: float = field(
        default=7 * 86400.0,
        metadata=_meta(
            Duration(60.0, 365 * 86400.0),
            "How long an undelivered message is retried unless send says otherwise.",
        ),
    )
    mailbox_owners: int = field(
        default=64,
        metadata=_meta(
            Int(1, 65536), "Nodes this node holds mail for (as their mailbox), at most."
        ),
    )
    mailbox_items: int = field(
        default=1024,
        metadata=_meta(Int(1, 1_000_000), "Sealed messages held per mailbox owner, at most."),
    )
    mailbox_max_age: float = field(
        default=30 * 86400.0,
        metadata=_meta(
            Duration(3600.0, 3650 * 86400.0),
            "Sealed mail held for another node is deleted after this long.",
        ),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class LoggingSection:
    """What meshnet up reports."""

    level: str = field(
        default="info",
        metadata=_meta(
            Choice("debug", "info", "warning", "error"),
            "The least severe log lines shown (meshnet up --log-level).",
        ),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    """The whole validated configuration; ``Config()`` is the defaults."""

    node: NodeSection = field(default_factory=NodeSection)
    listen: ListenSection = field(default_factory=ListenSection)
    discovery: DiscoverySection = field(default_factory=DiscoverySection)
    peers: PeersSection = field(default_factory=PeersSection)
    api: ApiSection = field(default_factory=ApiSection)
    messaging: MessagingSection = field(default_factory=MessagingSection)
    logging: LoggingSection = field(default_factory=LoggingSection)
    source: str = field(default="", compare=False)
    """The file this was read from ("" for the defaults)."""


SECTIONS: dict[str, type[Any]] = {
    f.name: f.default_factory  # type: ignore[misc]
    for f in fields(Config)
    if f.name != "source"
}


def load_config(path: Path, *, missing_ok: bool = False) -> Config:
    """Read and validate a config file.

    Args:
        path: the file (``Home.config``).
        missing_ok: a missing file gives the defaults instead of an error.

    Raises:
        ConfigError: the file cannot be read or is not a valid config; the message
            names the file, the key and what is expected.
    """
    try:
        with path.open("rb") as handle:
            data = handle.read(_MAX_FILE + 1)
    except FileNotFoundError:
        if missing_ok:
            return Config()
        raise ConfigError(f"{path}: no such config file (meshnet init writes one)") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config ({exc.strerror or exc})") from None
    if len(data) > _MAX_FILE:
        raise ConfigError(f"{path}: too large for a config file (over {_MAX_FILE} bytes)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (bad byte at offset {exc.start})") from None
    return parse_config(text, source=str(path))


def parse_config(text: str, *, source: str = "config.toml") -> Config:
    """Validate the TOML document ``text``; ``source`` names it in error messages.

    Raises:
        ConfigError: the document is not TOML, or a section, key or value is wrong.
    """
    try:
        document = tomllib.loads(text)
    except (ValueError, RecursionError) as exc:  # TOMLDecodeError is a ValueError
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    for name, value in document.items():
        if name not in SECTIONS:
            what = "unknown section" if isinstance(value, dict) else "unknown key outside a section"
            raise ConfigError(
                f"{source}: {_dotted(name)}: {what} (known sections: {', '.join(SECTIONS)})"
            )
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: {name}: expected a table [{name}], got {shown(value)}")
    sections = {
        name: _section(cls, document.get(name, {}), name, source) for name, cls in SECTIONS.items()
    }
    config = Config(**sections, source=source)
    bootstrap = _resolve_peers(config.peers.bootstrap, config.peers.petnames, source)
    return dataclasses.replace(config, peers=dataclasses.replace(config.peers, bootstrap=bootstrap))


def _section(cls: type[Any], table: dict[str, Any], prefix: str, source: str) -> Any:
    known = {f.name: f for f in fields(cls)}
    for key in table:
        if key not in known:
            raise ConfigError(
                f"{source}: {prefix}.{_dotted(key)}: unknown key "
                f"(known in [{prefix}]: {', '.join(known)})"
            )
    values: dict[str, Any] = {}
    for name, item in known.items():
        if name in table:
            try:
                values[name] = kind_of(item.metadata).parse(table[name])
            except ValueProblemError as problem:
                raise ConfigError(f"{source}: {prefix}.{name}{problem.key}: {problem}") from None
    return cls(**values)


def _resolve_peers(
    peers: Sequence[str], petnames: Mapping[str, NodeId], where: str, key: str = "peers.bootstrap"
) -> tuple[str, ...]:
    """Peer addresses with petnames replaced by the node ids they stand for."""
    resolved: list[str] = []
    for index, text in enumerate(peers):
        name, at, endpoint = text.rpartition("@")
        if at and is_petname(name):
            if name not in petnames:
                raise ConfigError(
                    f"{where}: {key}[{index}]: {json.dumps(name)} is neither a node id nor a "
                    "name in [peers.petnames]"
                )
            resolved.append(f"{petnames[name]}@{endpoint}")
        else:
            resolved.append(text)
    return tuple(resolved)


def with_overrides(
    config: Config,
    *,
    listen: Sequence[str] | None = None,
    connect: Sequence[str] = (),
    discovery: bool | None = None,
    hybrid: bool | None = None,
    log_level: str | None = None,
) -> Config:
    """``config`` with command-line flags applied (None or empty: keep the file's value).

    Args:
        listen: replaces ``listen.endpoints`` (``--listen``, repeatable).
        connect: added to ``peers.bootstrap`` (``--connect``, repeatable).
        discovery: ``discovery.enabled`` (``--no-discovery``).
        hybrid: ``node.hybrid`` (``--classic``).
        log_level: ``logging.level`` (``--log-level``).

    Raises:
        ConfigError: a flag's value is invalid; the message names the flag.
    """
    replace = dataclasses.replace
    if listen is not None:
        endpoints = _flag("--listen", EndpointList().parse, list(listen))
        config = replace(config, listen=replace(config.listen, endpoints=endpoints))
    if connect:
        added = _flag("--connect", PeerList().parse, list(connect))
        added = _resolve_peers(added, config.peers.petnames, "--connect", "value")
        bootstrap = config.peers.bootstrap + tuple(
            a for a in added if a not in config.peers.bootstrap
        )
        config = replace(config, peers=replace(config.peers, bootstrap=bootstrap))
    if discovery is not None:
        config = replace(config, discovery=replace(config.discovery, enabled=discovery))
    if hybrid is not None:
        config = replace(config, node=replace(config.node, hybrid=hybrid))
    if log_level is not None:
        level = _flag("--log-level", _kind(LoggingSection, "level").parse, log_level)
        config = replace(config, logging=replace(config.logging, level=level))
    return config


def _flag(flag: str, parse: Any, value: object) -> Any:
    try:
        return parse(value)
    except ValueProblemError as problem:
        raise ConfigError(f"{flag}{problem.key}: {problem}") from None


def _kind(cls: type[Any], name: str) -> Any:
    return kind_of(next(f for f in fields(cls) if f.name == name).metadata)


def _dotted(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else json.dumps(key, ensure_ascii=False)
