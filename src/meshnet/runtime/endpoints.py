"""Endpoint strings: ``tcp:HOST:PORT`` and ``udp:HOST:PORT``, parsed and formatted.

An endpoint names one place a neighbour can be reached. It is what ``Node.connect`` and
``Dial`` carry, what ``PeerConnected.endpoint`` reports, and what ``NodeDriver.start``
listens on::

    tcp:127.0.0.1:4100          udp:192.0.2.7:4100
    tcp:[::1]:4100              udp:[fe80::1%eth0]:4100
    tcp:node.example.org:4100   udp:0.0.0.0:0        (port 0: the system picks one)

IPv6 addresses are always written in brackets, so the last colon separates the port.
IPv4-mapped IPv6 addresses (``::ffff:192.0.2.7``, seen on dual-stack sockets) are written
as the IPv4 address, so one peer has one spelling. ``NODE@ENDPOINT`` (a peer address,
``connect NODE@HOST:PORT``) adds the NodeId the endpoint must prove; without a scheme,
``HOST:PORT`` means TCP.
"""

from __future__ import annotations

import enum
import ipaddress
from dataclasses import dataclass

from meshnet.crypto.identity import NodeId
from meshnet.errors import ConfigError, InvalidNodeIdError

__all__ = ["Endpoint", "Scheme", "format_address", "parse_endpoint", "parse_peer_address"]

_MAX_HOST = 253  # DNS names are at most 253 characters


class Scheme(enum.Enum):
    """The transport an endpoint names."""

    TCP = "tcp"
    UDP = "udp"


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A parsed endpoint: scheme, host (a name or an address, no brackets) and port."""

    scheme: Scheme
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.scheme.value}:{_host_text(self.host)}:{self.port}"

    @property
    def is_literal(self) -> bool:
        """True when ``host`` is an IP address rather than a name to resolve."""
        return _literal(self.host) is not None


def _literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.partition("%")[0])
    except ValueError:
        return None


def _host_text(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def format_address(scheme: Scheme, host: str, port: int) -> str:
    """The endpoint text for a socket address (IPv4-mapped IPv6 written as IPv4).

    Args:
        scheme: TCP or UDP.
        host: the address as the socket reports it (``"::ffff:10.0.0.1"``, ``"::1"`` ...).
        port: the port number.
    """
    address = _literal(host)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        host = str(address.ipv4_mapped)
    return f"{scheme.value}:{_host_text(host)}:{port}"


def _parse_host(text: str, original: str) -> str:
    if text.startswith("["):
        if not text.endswith("]"):
            raise ConfigError(f"endpoint {original!r}: unclosed '[' around an IPv6 address")
        host = text[1:-1]
        address = _literal(host)
        if not isinstance(address, ipaddress.IPv6Address):
            raise ConfigError(f"endpoint {original!r}: {host!r} in brackets is not an IPv6 address")
        return host
    if ":" in text:
        raise ConfigError(f"endpoint {original!r}: write an IPv6 address in brackets, [{text}]")
    if not text or len(text) > _MAX_HOST:
        raise ConfigError(f"endpoint {original!r}: the host is empty or too long")
    if any(not (c.isalnum() or c in "-._") for c in text):
        raise ConfigError(f"endpoint {original!r}: {text!r} is not a host name or address")
    return text


def parse_endpoint(text: str, *, default_scheme: Scheme | None = None) -> Endpoint:
    """Parse ``tcp:HOST:PORT`` or ``udp:HOST:PORT``.

    Args:
        text: the endpoint text.
        default_scheme: the scheme assumed when ``text`` is a bare ``HOST:PORT``; None
            requires one.

    Returns:
        The parsed endpoint.

    Raises:
        ConfigError: the text is not an endpoint; the message says which part is wrong.
    """
    original = text
    text = text.strip()
    scheme_text, sep, rest = text.partition(":")
    try:
        scheme = Scheme(scheme_text.lower())
    except ValueError:
        if default_scheme is None:
            raise ConfigError(
                f"endpoint {original!r}: expected tcp:HOST:PORT or udp:HOST:PORT"
            ) from None
        scheme, rest, sep = default_scheme, text, ":"
    if not sep:
        raise ConfigError(f"endpoint {original!r}: expected tcp:HOST:PORT or udp:HOST:PORT")
    host_text, sep, port_text = rest.rpartition(":")
    if not sep or not port_text.isdigit() or not port_text.isascii():
        raise ConfigError(f"endpoint {original!r}: missing or malformed port")
    port = int(port_text)
    if port > 0xFFFF:
        raise ConfigError(f"endpoint {original!r}: port {port} is over 65535")
    return Endpoint(scheme, _parse_host(host_text, original), port)


def parse_peer_address(text: str) -> tuple[NodeId | None, Endpoint]:
    """Parse ``[NODE@]ENDPOINT`` (``connect NODE@HOST:PORT``); a bare ``HOST:PORT`` is TCP.

    Returns:
        The NodeId the endpoint must prove (None: trust on first use) and the endpoint.

    Raises:
        ConfigError: the endpoint part is malformed.
        InvalidNodeIdError: the part before ``@`` is not a full node id.
    """
    node_text, sep, endpoint_text = text.strip().rpartition("@")
    node: NodeId | None = None
    if sep:
        if not node_text:
            raise InvalidNodeIdError("empty node id before '@'")
        node = NodeId.from_text(node_text)
    return node, parse_endpoint(endpoint_text, default_scheme=Scheme.TCP)
