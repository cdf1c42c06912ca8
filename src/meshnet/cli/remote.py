"""What the CLI needs from a running node, and how it names a peer's address.

``NodeApi`` is the part of ``meshnet.api.client.MeshClient`` the commands and the
shell call; typing against it lets the shell and the views run on a fake node in
unit tests. Every method returns plain JSON values (dicts, lists, strings, numbers).

``normalize_address`` turns the shell's ``connect`` argument (``peer123@192.168.1.12``:
a petname or id prefix, ``@``, a host, an optional port) into the endpoint form the
node understands (``peer123@tcp:192.168.1.12:4100``); the node resolves the name.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol, runtime_checkable

from meshnet.cli.output import field, short_id
from meshnet.cli.render import items
from meshnet.errors import LocalError, MeshnetError

__all__ = [
    "DEFAULT_PORT",
    "MessagingApi",
    "NodeApi",
    "messaging",
    "normalize_address",
    "peer_names",
]

DEFAULT_PORT = 4100
"""The port ``meshnet up`` listens on by default, and so the port ``connect`` assumes."""

_SCHEMES = ("tcp", "udp")


@runtime_checkable
class NodeApi(Protocol):
    """The local API calls the CLI makes about links, routes and sessions."""

    def identity(self) -> Any: ...
    def status(self) -> Any: ...
    def peers(self) -> Any: ...
    def connect(self, address: str) -> Any: ...
    def disconnect(self, peer_or_endpoint: str) -> Any: ...
    def links(self) -> Any: ...
    def routes(self) -> Any: ...
    def sessions(self) -> Any: ...
    def ping(self, peer: str, *, count: int = 3, timeout: float = 5.0) -> Any: ...
    def trace(self, peer: str, *, timeout: float = 5.0) -> Any: ...
    def events(self, kinds: Sequence[str] | None = None) -> Iterator[dict[str, Any]]: ...


@runtime_checkable
class MessagingApi(Protocol):
    """The local API calls about messages."""

    def send_message(self, to: str, text: str, *, expires_in: float | None = None) -> Any: ...
    def inbox(self, *, peer: str | None = None, unread: bool = False, limit: int = 100) -> Any: ...
    def outbox(self, *, peer: str | None = None, limit: int = 100) -> Any: ...
    def mark_read(self, message_id: str) -> Any: ...


def messaging(api: object) -> MessagingApi:
    """``api`` as a messaging client.

    Raises:
        MeshnetError: this client has no messaging calls (an older ``MeshClient``).
    """
    if isinstance(api, MessagingApi):
        return api
    raise MeshnetError("this version of the node's API client has no messaging calls")


def normalize_address(text: str) -> str:
    """``[NAME@][SCHEME:]HOST[:PORT]`` with TCP and port 4100 filled in when left out.

    Raises:
        LocalError: the text has no host, a bad port or an unknown scheme.
    """
    text = text.strip()
    name, at, rest = text.rpartition("@")
    if at and not name:
        raise LocalError(f"{text!r}: nothing before '@' (write NAME@HOST[:PORT])")
    scheme = "tcp"
    head, colon, tail = rest.partition(":")
    if colon and head.lower() in _SCHEMES:
        scheme, rest = head.lower(), tail
    host, port = _split_host_port(rest, text)
    endpoint = f"{scheme}:{host}:{port}"
    return f"{name}@{endpoint}" if at else endpoint


def _split_host_port(rest: str, text: str) -> tuple[str, int]:
    if rest.startswith("["):
        close = rest.find("]")
        if close < 0:
            raise LocalError(f"{text!r}: an IPv6 address needs a closing ']'")
        host, after = rest[: close + 1], rest[close + 1 :]
        if after and not after.startswith(":"):
            raise LocalError(f"{text!r}: expected ':PORT' after the IPv6 address")
        port_text = after[1:] if after else ""
    elif rest.count(":") > 1:
        host, port_text = f"[{rest}]", ""
    else:
        host, _, port_text = rest.partition(":")
    if not host or host == "[]":
        raise LocalError(f"{text!r}: no host (write NAME@HOST[:PORT], e.g. peer@192.168.1.12)")
    if not port_text:
        return host, DEFAULT_PORT
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise LocalError(f"{text!r}: the port must be a number from 1 to 65535")
    return host, int(port_text)


def peer_names(api: NodeApi) -> dict[str, str]:
    """Full node id -> petname (or short id) for the peers the node knows."""
    names = {}
    for peer in items(api.peers(), "peers"):
        node_id = field(peer, "node_id", "peer", "id")
        if isinstance(node_id, str):
            names[node_id] = field(peer, "petname", "name") or short_id(node_id)
    return names
