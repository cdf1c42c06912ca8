"""LAN discovery: UDP multicast beacons, so nodes on one link find each other unconfigured.

Every ``interval`` seconds (with jitter) a node multicasts a *beacon* (see
``docs/protocol/discovery.md``): a magic, a version, its NodeId and the ports it listens
on, nothing else. IPv4 beacons go to ``239.255.77.77`` (TTL 1: they never leave the
link), IPv6 beacons to ``ff02::4d4e:1`` on every interface that has IPv6.

A node that hears a beacon from a NodeId it does not know (and is not linked to) dials
``tcp:SOURCE:PORT`` with ``expected_peer`` set to the beacon's NodeId: the beacon is a
hint, never a credential. The link handshake proves the NodeId, so a forged beacon (node
X's id with node Y's address) only makes a dial fail with a peer mismatch; that dial is
then withdrawn and the pair is ignored for ``cooldown`` seconds. Of two nodes, only the
one with the lower NodeId dials (the other waits to be dialled), so they do not cross.

Hostile traffic is bounded: beacons over the size limit or malformed are dropped and
counted; each source address has a token bucket; the tables of sources, heard nodes and
cooled-down pairs have hard sizes (oldest entries go first).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import ipaddress
import logging
import socket
import struct
from collections import Counter, OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from meshnet.crypto.entropy import Entropy, SystemEntropy
from meshnet.crypto.identity import NodeId
from meshnet.errors import ConfigError, DecodeError, StateError
from meshnet.node.events import PeerConnected, PeerDialFailed
from meshnet.runtime.driver import NodeDriver
from meshnet.runtime.endpoints import Scheme, format_address, parse_endpoint
from meshnet.runtime.subscriptions import Overflow, Subscription
from meshnet.wire.buffer import Reader, Writer

__all__ = [
    "BEACON_MAGIC",
    "BEACON_VERSION",
    "MAX_BEACON",
    "MAX_BEACON_ENDPOINTS",
    "Beacon",
    "BeaconEndpoint",
    "Discovery",
    "DiscoveryConfig",
    "DiscoveryStatus",
    "config_for_listeners",
    "decode_beacon",
    "encode_beacon",
]

log = logging.getLogger(__name__)

BEACON_MAGIC = b"MNDB"
BEACON_VERSION = 1
MAX_BEACON_ENDPOINTS = 8
MAX_BEACON = len(BEACON_MAGIC) + 1 + 32 + 1 + 3 * MAX_BEACON_ENDPOINTS
"""The largest valid beacon (70 bytes); anything longer is dropped unread."""

_SCHEME_CODES = {Scheme.TCP: 1, Scheme.UDP: 2}
_SCHEMES = {code: scheme for scheme, code in _SCHEME_CODES.items()}


# -- the beacon codec ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BeaconEndpoint:
    """One listening endpoint announced by a beacon: a scheme and a port (never a host)."""

    scheme: Scheme
    port: int


@dataclass(frozen=True, slots=True)
class Beacon:
    """What a beacon says: who is here and on which ports it listens."""

    node_id: NodeId
    endpoints: tuple[BeaconEndpoint, ...]


def encode_beacon(beacon: Beacon) -> bytes:
    """The wire form of ``beacon``.

    Raises:
        ConfigError: too many endpoints, or a port outside 1..65535.
    """
    if len(beacon.endpoints) > MAX_BEACON_ENDPOINTS:
        raise ConfigError(f"a beacon carries at most {MAX_BEACON_ENDPOINTS} endpoints")
    out = Writer().raw(BEACON_MAGIC).u8(BEACON_VERSION).raw(beacon.node_id.raw)
    out.u8(len(beacon.endpoints))
    for endpoint in beacon.endpoints:
        if not 0 < endpoint.port <= 0xFFFF:
            raise ConfigError(f"port {endpoint.port} cannot be announced")
        out.u8(_SCHEME_CODES[endpoint.scheme]).u16(endpoint.port)
    return bytes(out)


def decode_beacon(data: bytes) -> Beacon:
    """Parse a received beacon.

    Raises:
        DecodeError: the datagram is not a valid beacon of this version (too long,
            wrong magic or version, bad counts, schemes or ports, trailing bytes).
    """
    if len(data) > MAX_BEACON:
        raise DecodeError(f"beacon of {len(data)} bytes is over {MAX_BEACON}")
    reader = Reader(data)
    if reader.raw(len(BEACON_MAGIC)) != BEACON_MAGIC:
        raise DecodeError("not a MeshNet beacon")
    version = reader.u8()
    if version != BEACON_VERSION:
        raise DecodeError(f"beacon version {version} is not {BEACON_VERSION}")
    node_id = NodeId.from_raw(reader.raw(32))
    count = reader.u8()
    if count > MAX_BEACON_ENDPOINTS:
        raise DecodeError(f"{count} endpoints is over {MAX_BEACON_ENDPOINTS}")
    endpoints = []
    for _ in range(count):
        scheme = _SCHEMES.get(reader.u8())
        port = reader.u16()
        if scheme is None or port == 0:
            raise DecodeError("bad scheme or port in a beacon")
        endpoints.append(BeaconEndpoint(scheme, port))
    reader.finish()
    return Beacon(node_id, tuple(endpoints))


# -- configuration and status ----------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class DiscoveryConfig:
    """Where beacons go, how often, and the limits on what is heard."""

    group_v4: str = "239.255.77.77"
    group_v6: str = "ff02::4d4e:1"
    port: int = 4101
    interfaces_v4: tuple[str, ...] = ("0.0.0.0",)
    """Local IPv4 addresses to beacon from (``0.0.0.0``: the system's choice)."""
    ipv6: bool = True
    """Also beacon on every IPv6 interface except loopback (link-local scope)."""
    interval: float = 5.0
    jitter: float = 0.2
    """Each gap is ``interval`` times a random factor in ``1 +- jitter``."""
    per_source_rate: float = 1.0
    """Beacons a second accepted from one source address (token bucket)."""
    per_source_burst: float = 4.0
    max_sources: int = 256
    max_heard: int = 1024
    cooldown: float = 10.0
    """How long a (NodeId, endpoint) pair whose dial failed is ignored (a forged beacon
    costs one dial per pair per cooldown; a transient failure, such as an IPv6 address
    still in duplicate address detection, is retried after it)."""
    prefer: Scheme = Scheme.TCP

    @classmethod
    def loopback(cls, *, port: int, interval: float = 0.2) -> DiscoveryConfig:
        """Beacons on 127.0.0.1 only (loopback multicast): for tests and loopback nodes."""
        return cls(port=port, interfaces_v4=("127.0.0.1",), ipv6=False, interval=interval)


def config_for_listeners(listening: Sequence[str]) -> DiscoveryConfig | None:
    """Beacon where the node listens: on a wildcard, the LAN; loopback only, nowhere.

    Args:
        listening: the driver's bound endpoints (``NodeDriver.listening``).

    Returns:
        A config beaconing from the listeners' IPv4 addresses (``0.0.0.0`` for a
        wildcard) and on IPv6 when an IPv6 listener is not loopback; None when every
        listener is on loopback (there is no LAN to find anyone on).
    """
    interfaces: list[str] = []
    ipv6 = False
    for text in listening:
        host = parse_endpoint(text).host.partition("%")[0]
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            continue
        if address.is_loopback:
            continue
        if isinstance(address, ipaddress.IPv6Address):
            ipv6 = True
        elif str(address) not in interfaces:
            interfaces.append(str(address))
    if "0.0.0.0" in interfaces:
        interfaces = ["0.0.0.0"]
    if not interfaces and not ipv6:
        return None
    return DiscoveryConfig(interfaces_v4=tuple(interfaces), ipv6=ipv6)


@dataclass(frozen=True, slots=True, kw_only=True)
class DiscoveryStatus:
    """Counters of the discovery service."""

    beacons_sent: int
    beacons_received: int
    dials: int
    heard: int
    """NodeIds in the table of heard nodes."""
    dropped: tuple[tuple[str, int], ...]
    """Beacons dropped, by reason, sorted by reason."""


class _Heard(enum.Enum):
    DIALLING = "dialling"
    LINKED = "linked"
    NOT_OURS = "not_ours"  # the other node has the lower NodeId: it dials


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, owner: Discovery) -> None:
        self._owner = owner

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        host = str(addr[0])
        scope = addr[3] if len(addr) == 4 else 0
        if scope and "%" not in host:  # a link-local source is only usable with its scope
            try:
                host = f"{host}%{socket.if_indextoname(int(scope))}"
            except OSError:
                self._owner.count("unknown_scope")
                return
        self._owner.beacon_received(data, host)

    def error_received(self, exc: Exception) -> None:
        self._owner.count("socket_error")


# -- the service -----------------------------------------------------------------------


class Discovery:
    """Beacons this node on the LAN and dials the nodes it hears (owned by the daemon).

    Args:
        driver: the running driver whose node is announced and which dials.
        config: groups, port, interfaces, rates and table sizes.
        entropy: the jitter's randomness (``SystemEntropy`` by default).
    """

    def __init__(
        self,
        driver: NodeDriver,
        *,
        config: DiscoveryConfig | None = None,
        entropy: Entropy | None = None,
    ) -> None:
        self._driver = driver
        self._config = config or DiscoveryConfig()
        self._entropy = entropy or SystemEntropy()
        self._transports: list[asyncio.DatagramTransport] = []
        self._v6_scopes: list[int] = []
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._heard: OrderedDict[NodeId, _Heard] = OrderedDict()
        self._dialled: dict[str, NodeId] = {}
        self._cooling: OrderedDict[tuple[NodeId, str], float] = OrderedDict()
        self._counters: Counter[str] = Counter()
        self._tasks: list[asyncio.Task[None]] = []
        self._events: Subscription | None = None

    # -- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        """Open the multicast sockets and start beaconing (the driver must be running).

        Raises:
            OSError: no beacon socket could be opened at all.
        """
        loop = asyncio.get_running_loop()
        socks: list[socket.socket] = []
        for interface in self._config.interfaces_v4:
            try:
                socks.append(self._socket_v4(interface))
            except OSError as exc:
                log.warning("no IPv4 discovery on %s: %s", interface, exc)
        if self._config.ipv6 and socket.has_ipv6:
            with contextlib.suppress(OSError):
                socks.append(self._socket_v6())
        if not socks:
            raise OSError("discovery could not open any multicast socket")
        for sock in socks:
            transport, _ = await loop.create_datagram_endpoint(lambda: _Protocol(self), sock=sock)
            self._transports.append(transport)
        self._events = self._driver.subscribe(
            kinds=(PeerConnected, PeerDialFailed), limit=256, overflow=Overflow.DROP
        )
        self._tasks = [loop.create_task(self._beacon_loop()), loop.create_task(self._watch())]

    async def stop(self) -> None:
        """Stop beaconing and close the sockets (links already made stay up)."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._events is not None:
            self._events.close()
            self._events = None
        for transport in self._transports:
            transport.close()
        self._transports = []

    def _socket_v4(self, interface: str) -> socket.socket:
        group, port = self._config.group_v4, self._config.port
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((group, port))  # only the group's datagrams, on every node of the host
            local = socket.inet_aton(interface)
            sock.setsockopt(
                socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, socket.inet_aton(group) + local
            )
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, local)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        return sock

    def _socket_v6(self) -> socket.socket:
        group, port = self._config.group_v6, self._config.port
        sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(("::", port))
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 1)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 1)
            raw_group = socket.inet_pton(socket.AF_INET6, group)
            for index, name in socket.if_nameindex():
                if name == "lo":
                    continue
                mreq = raw_group + struct.pack("@I", index)
                with contextlib.suppress(OSError):  # no IPv6 on this interface
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq)
                    self._v6_scopes.append(index)
            if not self._v6_scopes:
                raise OSError("no IPv6 multicast interface")
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        return sock

    # -- sending ---------------------------------------------------------------------

    def beacon(self) -> bytes:
        """This node's current beacon: its NodeId and the ports its driver listens on."""
        endpoints: list[BeaconEndpoint] = []
        for text in self._driver.listening:
            endpoint = parse_endpoint(text)
            announced = BeaconEndpoint(endpoint.scheme, endpoint.port)
            if endpoint.port and announced not in endpoints:
                endpoints.append(announced)
        beacon = Beacon(self._driver.node.node_id, tuple(endpoints[:MAX_BEACON_ENDPOINTS]))
        return encode_beacon(beacon)

    def send_beacon(self) -> None:
        """Multicast one beacon now on every socket (errors are counted, not raised)."""
        payload = self.beacon()
        config = self._config
        for transport in self._transports:
            sock = transport.get_extra_info("socket")
            if sock.family == socket.AF_INET6:
                targets: list[tuple[str | int, ...]] = [
                    (config.group_v6, config.port, 0, scope) for scope in self._v6_scopes
                ]
            else:
                targets = [(config.group_v4, config.port)]
            for target in targets:
                try:
                    transport.sendto(payload, target)
                    self._counters["beacons_sent"] += 1
                except OSError:
                    self.count("send_error")

    async def _beacon_loop(self) -> None:
        config = self._config
        while True:
            self.send_beacon()
            factor = 1.0 + config.jitter * (2.0 * self._entropy.random_float() - 1.0)
            await asyncio.sleep(config.interval * factor)  # a beacon period, not a wait

    # -- receiving -------------------------------------------------------------------

    def count(self, reason: str) -> None:
        """Count a dropped beacon (or a socket error) under ``reason``."""
        self._counters[f"dropped_{reason}"] += 1

    def beacon_received(self, data: bytes, source: str) -> None:
        """A datagram arrived on a beacon socket from ``source`` (an address)."""
        self._counters["beacons_received"] += 1
        now = self._driver.now()
        if not self._take_token(source, now):
            self.count("rate_limited")
            return
        try:
            beacon = decode_beacon(data)
        except DecodeError:
            self.count("malformed")
            return
        self._consider(beacon, source, now)

    def _take_token(self, source: str, now: float) -> bool:
        config = self._config
        tokens, last = self._buckets.pop(source, (config.per_source_burst, now))
        tokens = min(config.per_source_burst, tokens + (now - last) * config.per_source_rate)
        allowed = tokens >= 1.0
        self._buckets[source] = (tokens - 1.0 if allowed else tokens, now)
        while len(self._buckets) > config.max_sources:
            self._buckets.popitem(last=False)
        return allowed

    def _consider(self, beacon: Beacon, source: str, now: float) -> None:
        node, peer = self._driver.node, beacon.node_id
        if peer == node.node_id:
            self.count("own")
            return
        if peer in self._heard:
            self._heard.move_to_end(peer)
            return
        if node.link_to(peer) is not None or node.peers.find(peer) is not None:
            self._remember(peer, _Heard.LINKED)
            return
        if node.node_id > peer:
            self._remember(peer, _Heard.NOT_OURS)
            return
        endpoint = self._endpoint(beacon, source)
        if endpoint is None:
            self.count("no_endpoint")
            return
        if any(entry.endpoint == endpoint for entry in node.peers.entries()):
            self.count("endpoint_in_use")  # never re-aim a configured peer
            return
        until = self._cooling.get((peer, endpoint))
        if until is not None and until > now:
            self.count("cooldown")
            return
        self._cooling.pop((peer, endpoint), None)
        self._remember(peer, _Heard.DIALLING)
        self._dialled[endpoint] = peer
        self._driver.connect(endpoint, expected_peer=peer)
        self._counters["dials"] += 1

    def _endpoint(self, beacon: Beacon, source: str) -> str | None:
        ranked = sorted(beacon.endpoints, key=lambda e: e.scheme is not self._config.prefer)
        if not ranked:
            return None
        text = format_address(ranked[0].scheme, source, ranked[0].port)
        try:
            return str(parse_endpoint(text))
        except ConfigError:
            return None

    def _remember(self, peer: NodeId, state: _Heard) -> None:
        self._heard[peer] = state
        while len(self._heard) > self._config.max_heard:
            old, old_state = self._heard.popitem(last=False)
            if old_state is _Heard.DIALLING:
                self._withdraw(old)

    def _withdraw(self, peer: NodeId) -> None:
        for endpoint, dialled in list(self._dialled.items()):
            if dialled == peer:
                del self._dialled[endpoint]
                with contextlib.suppress(LookupError, StateError):
                    self._driver.disconnect(endpoint)

    async def _watch(self) -> None:
        assert self._events is not None
        async for event in self._events:
            if isinstance(event, PeerConnected):
                if self._dialled.get(event.endpoint) == event.peer:
                    self._heard[event.peer] = _Heard.LINKED
                    del self._dialled[event.endpoint]
            elif (
                isinstance(event, PeerDialFailed)
                and (peer := self._dialled.get(event.endpoint)) is not None
            ):
                # A wrong identity (a forged beacon), refused or silent: withdraw the dial.
                self.count("dial_failed")
                self._withdraw(peer)
                if self._heard.get(peer) is _Heard.DIALLING:
                    del self._heard[peer]
                self._cooling[(peer, event.endpoint)] = self._driver.now() + self._config.cooldown
                while len(self._cooling) > self._config.max_heard:
                    self._cooling.popitem(last=False)

    def status(self) -> DiscoveryStatus:
        """A snapshot of the counters."""
        counters = self._counters
        dropped = sorted(
            (name.removeprefix("dropped_"), n)
            for name, n in counters.items()
            if name.startswith("dropped_")
        )
        return DiscoveryStatus(
            beacons_sent=counters["beacons_sent"],
            beacons_received=counters["beacons_received"],
            dials=counters["dials"],
            heard=len(self._heard),
            dropped=tuple(dropped),
        )
