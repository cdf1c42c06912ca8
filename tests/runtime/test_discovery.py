"""LAN discovery on loopback multicast: the beacon codec, zero-configuration links, forgeries."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.runtime.support import identity, run, started

from meshnet.crypto.identity import NodeId
from meshnet.errors import ConfigError, DecodeError
from meshnet.node.events import PeerConnected, PeerDialFailed
from meshnet.runtime.discovery import (
    BEACON_MAGIC,
    MAX_BEACON,
    MAX_BEACON_ENDPOINTS,
    Beacon,
    BeaconEndpoint,
    Discovery,
    DiscoveryConfig,
    config_for_listeners,
    decode_beacon,
    encode_beacon,
)
from meshnet.runtime.driver import NodeDriver
from meshnet.runtime.endpoints import Scheme

WAIT = 20.0

node_ids = st.binary(min_size=32, max_size=32).map(NodeId)
endpoints = st.builds(BeaconEndpoint, st.sampled_from(Scheme), st.integers(1, 0xFFFF))
beacons = st.builds(Beacon, node_ids, st.lists(endpoints, max_size=MAX_BEACON_ENDPOINTS).map(tuple))


# -- codec ----------------------------------------------------------------------------


@given(beacons)
def test_beacon_round_trips(beacon: Beacon) -> None:
    data = encode_beacon(beacon)
    assert len(data) <= MAX_BEACON
    assert decode_beacon(data) == beacon


@settings(max_examples=300)
@given(st.binary(max_size=2 * MAX_BEACON))
def test_decoder_accepts_only_what_it_would_write(data: bytes) -> None:
    try:
        beacon = decode_beacon(data)
    except DecodeError:
        return
    assert encode_beacon(beacon) == data


@settings(max_examples=300)
@given(beacons, st.integers(0, MAX_BEACON), st.integers(0, 255))
def test_decoder_refuses_or_reencodes_a_mutated_beacon(
    beacon: Beacon, position: int, value: int
) -> None:
    data = bytearray(encode_beacon(beacon))
    data[position % len(data)] = value
    try:
        decoded = decode_beacon(bytes(data))
    except DecodeError:
        return
    assert encode_beacon(decoded) == bytes(data)


def test_decoder_limits() -> None:
    good = encode_beacon(Beacon(identity(1, "a").node_id, (BeaconEndpoint(Scheme.TCP, 4100),)))
    with pytest.raises(DecodeError, match="over"):
        decode_beacon(good + bytes(MAX_BEACON))
    with pytest.raises(DecodeError, match="trailing"):
        decode_beacon(good + b"\0")
    with pytest.raises(DecodeError, match="not a MeshNet beacon"):
        decode_beacon(b"XXXX" + good[4:])
    with pytest.raises(DecodeError, match="version"):
        decode_beacon(BEACON_MAGIC + b"\x02" + good[5:])
    with pytest.raises(DecodeError, match="truncated"):
        decode_beacon(good[:-1])
    with pytest.raises(DecodeError, match="port"):
        decode_beacon(good[:-2] + b"\0\0")
    with pytest.raises(DecodeError, match="endpoints"):
        decode_beacon(good[:37] + bytes([MAX_BEACON_ENDPOINTS + 1]))
    too_many = (BeaconEndpoint(Scheme.UDP, 1),) * (MAX_BEACON_ENDPOINTS + 1)
    with pytest.raises(ConfigError):
        encode_beacon(Beacon(identity(1, "a").node_id, too_many))


# -- on loopback ------------------------------------------------------------------------


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def discovering(driver: NodeDriver, port: int, **overrides: Any) -> Discovery:
    config = DiscoveryConfig.loopback(port=port)
    if overrides:
        config = DiscoveryConfig(
            port=port, interfaces_v4=("127.0.0.1",), ipv6=False, interval=0.2, **overrides
        )
    discovery = Discovery(driver, config=config)
    await discovery.start()
    return discovery


def test_two_nodes_link_with_zero_configuration() -> None:
    async def scenario() -> None:
        port = free_udp_port()
        a, b = await started("a"), await started("b")
        events_a, events_b = a.subscribe(kinds=[PeerConnected]), b.subscribe(kinds=[PeerConnected])
        found = [await discovering(a, port), await discovering(b, port)]
        try:
            up_a = await asyncio.wait_for(events_a.wait_for(PeerConnected), WAIT)
            up_b = await asyncio.wait_for(events_b.wait_for(PeerConnected), WAIT)
            assert up_a.peer == b.node.node_id and up_b.peer == a.node.node_id
            assert not up_a.first_contact and not up_b.first_contact
            dialler = found[0] if a.node.node_id < b.node.node_id else found[1]
            assert dialler.status().dials == 1
            assert sum(d.status().dials for d in found) == 1  # only the lower NodeId dials
            for discovery in found:
                status = discovery.status()
                assert status.beacons_sent >= 1 and status.beacons_received >= 1
                assert dict(status.dropped).get("own", 0) >= 1  # loopback hears itself
        finally:
            for discovery in found:
                await discovery.stop()
            await a.stop()
            await b.stop()

    run(scenario())


def _higher_identity(than: NodeId) -> NodeId:
    for seed in range(100):
        candidate = identity(seed, "forged").node_id
        if candidate > than:
            return candidate
    raise AssertionError("no higher NodeId in 100 seeds")


def test_a_forged_beacon_makes_the_dial_fail_and_trusts_nothing() -> None:
    async def scenario() -> None:
        port = free_udp_port()
        a, b = await started("a"), await started("b")
        forged = _higher_identity(a.node.node_id)  # a would dial it
        b_port = int(b.listening[0].rsplit(":", 1)[1])
        beacon = encode_beacon(Beacon(forged, (BeaconEndpoint(Scheme.TCP, b_port),)))
        events = a.subscribe(kinds=[PeerConnected, PeerDialFailed])
        discovery = await discovering(a, port)
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sender.setsockopt(
                socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1")
            )
            sender.sendto(beacon, ("239.255.77.77", port))
            failed = await asyncio.wait_for(events.wait_for(PeerDialFailed), WAIT)
            assert failed.endpoint == f"tcp:127.0.0.1:{b_port}"
            assert "expected peer" in failed.reason and str(forged) in failed.reason
            for _ in range(100):  # the watcher withdraws the dial on the same loop
                if not a.node.peers.entries():
                    break
                await asyncio.sleep(0)
            assert a.node.peers.entries() == []  # no redial of a forged endpoint
            assert a.status().node.links.links == () and events.get_nowait() is None
            assert dict(discovery.status().dropped)["dial_failed"] == 1
            sender.sendto(beacon, ("239.255.77.77", port))  # the same forgery again
            for _ in range(1000):
                if "cooldown" in dict(discovery.status().dropped):
                    break
                await asyncio.sleep(0.01)  # bounded: at most 10 s
            assert dict(discovery.status().dropped)["cooldown"] == 1
            assert discovery.status().dials == 1
        finally:
            sender.close()
            await discovery.stop()
            await a.stop()
            await b.stop()

    run(scenario())


def test_beacons_are_rate_limited_per_source() -> None:
    async def scenario() -> None:
        a = await started("a")
        discovery = await discovering(a, free_udp_port(), per_source_rate=0.0, per_source_burst=3.0)
        try:
            beacon = encode_beacon(Beacon(a.node.node_id, ()))
            for _ in range(10):
                discovery.beacon_received(beacon, "127.0.0.2")
            discovery.beacon_received(b"garbage", "127.0.0.3")
            dropped = dict(discovery.status().dropped)
            assert dropped["rate_limited"] == 7
            assert dropped["own"] >= 3 and dropped["malformed"] == 1
        finally:
            await discovery.stop()
            await a.stop()

    run(scenario())


def test_beacons_go_where_the_node_listens() -> None:
    assert config_for_listeners(["tcp:127.0.0.1:4100", "udp:[::1]:4100"]) is None
    wildcard = config_for_listeners(["tcp:0.0.0.0:4100", "tcp:10.0.0.7:4100", "udp:0.0.0.0:1"])
    assert wildcard is not None
    assert wildcard.interfaces_v4 == ("0.0.0.0",) and not wildcard.ipv6
    lan = config_for_listeners(["tcp:10.0.0.7:4100", "tcp:[::]:4100", "tcp:127.0.0.1:1"])
    assert lan is not None and lan.interfaces_v4 == ("10.0.0.7",) and lan.ipv6


def test_the_heard_table_is_bounded_and_an_evicted_dial_is_withdrawn() -> None:
    async def scenario() -> None:
        a = await started("a")
        discovery = await discovering(a, free_udp_port(), max_heard=2)
        try:
            peers: list[NodeId] = []
            for seed in range(200):
                candidate = identity(seed, "lan").node_id
                if candidate > a.node.node_id:
                    peers.append(candidate)
                if len(peers) == 3:
                    break
            assert len(peers) == 3
            for i, peer in enumerate(peers):
                beacon = encode_beacon(Beacon(peer, (BeaconEndpoint(Scheme.TCP, 9),)))
                discovery.beacon_received(beacon, f"127.0.0.{i + 2}")
            assert discovery.status().dials == 3 and discovery.status().heard == 2
            configured = {entry.endpoint: entry.expected for entry in a.node.peers.entries()}
            assert configured == {"tcp:127.0.0.3:9": peers[1], "tcp:127.0.0.4:9": peers[2]}
        finally:
            await discovery.stop()
            await a.stop()

    run(scenario())
