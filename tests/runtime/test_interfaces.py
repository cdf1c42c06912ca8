"""Announced endpoints: wildcard listeners expand to interface addresses, others stay."""

from __future__ import annotations

import ipaddress

from tests.runtime.support import run, started
from tests.runtime.test_streams import linked_pair, until, wait

from meshnet.node.events import PeerConnected
from meshnet.runtime.interfaces import MAX_ANNOUNCED, announceable_endpoints, host_addresses

ADDRESSES = [
    ipaddress.ip_address(a)
    for a in (
        "127.0.0.1",
        "192.168.1.12",
        "169.254.3.4",
        "::1",
        "fe80::1",
        "2001:db8::7",
        "10.0.0.5",
    )
]


def test_wildcards_expand_to_routable_addresses_of_their_family() -> None:
    got = announceable_endpoints(["tcp:0.0.0.0:4100", "udp:[::]:4100"], ADDRESSES)
    assert got == [
        "tcp:192.168.1.12:4100",
        "tcp:10.0.0.5:4100",
        "udp:[2001:db8::7]:4100",
    ]


def test_bound_addresses_and_names_are_announced_as_they_are_once() -> None:
    listening = ["tcp:127.0.0.1:5000", "udp:127.0.0.1:5000", "tcp:127.0.0.1:5000"]
    assert announceable_endpoints(listening, ADDRESSES) == listening[:2]
    assert announceable_endpoints(["tcp:mesh.example:1"], []) == ["tcp:mesh.example:1"]


def test_at_most_eight_are_announced() -> None:
    many = [ipaddress.ip_address(f"10.1.0.{i}") for i in range(1, 20)]
    assert len(announceable_endpoints(["tcp:0.0.0.0:1"], many)) == MAX_ANNOUNCED


def test_the_host_has_at_least_its_loopback_address() -> None:
    assert ipaddress.ip_address("127.0.0.1") in host_addresses()


def test_a_node_learned_through_a_relay_can_be_linked_to_directly() -> None:
    async def main() -> None:
        a, b = await linked_pair()
        c = await started("c")
        try:
            b.connect(c.listening[0], expected_peer=c.node.identity.node_id)
            far = c.node.identity.node_id
            await until(lambda: a.node.router.endpoints_of(far) != ())
            assert a.node.router.endpoints_of(far) == tuple(c.listening)
            linked = a.subscribe(kinds=[PeerConnected])
            assert a.connect_node(far) == c.listening[0]
            event = await wait(linked.wait_for(PeerConnected, lambda e: e.peer == far))
            assert event.outbound and not event.first_contact
            assert a.node.route_to(far) is not None
        finally:
            for driver in (a, b, c):
                await driver.stop()

    run(main())
