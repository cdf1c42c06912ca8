"""Which of our listening endpoints to announce to the mesh, from the host's interfaces.

A node announces where it can be reached (routing announcements carry up to eight
endpoints), so that nodes that learn of it through relays may open a direct link.
A listener bound to one address is announced as it is. A wildcard listener
(``0.0.0.0`` or ``::``) is announced once per address of that family on the host's
interfaces (read with ``psutil``), leaving out loopback and link-local addresses (a
link-local address means nothing without its interface, which only the local network
knows, and LAN discovery covers that case already).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Sequence

import psutil

from meshnet.runtime.endpoints import Endpoint, parse_endpoint

__all__ = ["MAX_ANNOUNCED", "announceable_endpoints", "host_addresses"]

MAX_ANNOUNCED = 8
"""At most this many endpoints travel in an announcement (routing.md)."""

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def host_addresses() -> list[Address]:
    """Every IPv4 and IPv6 address on this host's interfaces that are up."""
    stats = psutil.net_if_stats()
    found: list[Address] = []
    for name, entries in sorted(psutil.net_if_addrs().items()):
        if name in stats and not stats[name].isup:
            continue
        for entry in entries:
            if entry.family not in (socket.AF_INET, socket.AF_INET6):
                continue
            try:
                found.append(ipaddress.ip_address(entry.address.split("%", 1)[0]))
            except ValueError:
                continue
    return found


def _worth_announcing(address: Address) -> bool:
    return not (address.is_loopback or address.is_link_local or address.is_unspecified)


def _expand(endpoint: Endpoint, addresses: Iterable[Address]) -> list[str]:
    try:
        host = ipaddress.ip_address(endpoint.host)
    except ValueError:
        return [str(endpoint)]  # a name: announced as given
    if not host.is_unspecified:
        return [str(endpoint)]
    expanded = []
    for address in addresses:
        if address.version == host.version and _worth_announcing(address):
            expanded.append(str(Endpoint(endpoint.scheme, str(address), endpoint.port)))
    return expanded


def announceable_endpoints(
    listening: Sequence[str], addresses: Sequence[Address] | None = None
) -> list[str]:
    """The endpoints to announce for ``listening`` (canonical ``tcp:``/``udp:`` texts).

    Args:
        listening: the driver's bound endpoints, in preference order.
        addresses: the host's interface addresses (default: read them now).
    """
    known = host_addresses() if addresses is None else addresses
    chosen: list[str] = []
    for text in listening:
        for candidate in _expand(parse_endpoint(text), known):
            if candidate not in chosen and len(candidate.encode()) <= 128:
                chosen.append(candidate)
    return chosen[:MAX_ANNOUNCED]
