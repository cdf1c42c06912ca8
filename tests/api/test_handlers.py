"""The API handlers over real node snapshots (a simulated line of three nodes).

Node 0 is linked to node 1 and learns node 2 from the link-state database, so the
peers, routes and names have something real to show.
"""

from __future__ import annotations

import pytest
from tests.api.simcontrol import SimControl
from tests.helpers.simnet import build_network

from meshnet.api.errors import ApiError
from meshnet.api.handlers import ApiHandlers, Request
from meshnet.api.schema import DisconnectResult, PeerView
from meshnet.crypto.identity import NodeId
from meshnet.sim.simulation import Simulation


@pytest.fixture(scope="module")
def sim() -> Simulation:
    sim = build_network(n=3, topology="line", seed=5)
    sim.run_for(5.0)
    return sim


def ids(sim: Simulation) -> list[NodeId]:
    return [sim.node(i).node_id for i in range(3)]


def handlers(sim: Simulation, petnames: dict[str, NodeId] | None = None) -> ApiHandlers:
    return ApiHandlers(SimControl(sim), petnames=lambda: petnames or {})


def body(**values: object) -> Request:
    return Request(values=values)


def test_identity_names_the_node_and_its_mesh_address(sim: Simulation) -> None:
    view = handlers(sim).identity(Request())
    me = ids(sim)[0]
    assert view.node_id == me
    assert view.short == me.short()
    assert view.mesh_address == str(me.mesh_address)
    assert len(bytes.fromhex(view.static_public)) == 32


def test_status_counts_links_known_nodes_and_driver_counters(sim: Simulation) -> None:
    view = handlers(sim).status(Request())
    assert view.links == 1
    assert view.known_nodes == 2
    assert dict(view.counters) == {"dial_failed": 2}
    assert view.listening == ("tcp:127.0.0.1:4100",)


def test_peers_show_the_neighbour_linked_and_the_far_node_routed(sim: Simulation) -> None:
    _, one, two = ids(sim)
    view = handlers(sim, {"bob": two}).peers(Request())
    by_id: dict[NodeId | None, PeerView] = {p.node_id: p for p in view.peers}
    assert set(by_id) == {one, two}
    assert by_id[one].linked and by_id[one].link is not None
    assert by_id[one].route == (one,)
    assert not by_id[two].linked and by_id[two].known
    assert by_id[two].route == (one, two)
    assert by_id[two].petname == "bob"


def test_routes_list_a_path_to_every_known_node(sim: Simulation) -> None:
    _, one, two = ids(sim)
    view = handlers(sim, {"carol": one}).routes(Request())
    paths = {r.destination: (r.path, r.hops, r.petname) for r in view.routes}
    assert paths == {one: ((one,), 1, "carol"), two: ((one, two), 2, None)}
    assert [n.peer for n in view.neighbours] == [one]


def test_links_and_sessions_are_the_node_snapshots(sim: Simulation) -> None:
    links = handlers(sim).links(Request())
    assert [link.peer for link in links.links] == [str(ids(sim)[1])]
    assert handlers(sim).sessions(Request()).sessions == ()


def test_names_resolve_by_petname_prefix_or_full_id(sim: Simulation) -> None:
    _, one, two = ids(sim)
    names = handlers(sim, {"alice": one}).names()
    assert names.resolve("alice") == one
    assert names.resolve(str(two)[:10].upper()) == two
    assert names.resolve(str(two)) == two
    stranger = NodeId(bytes(32))
    assert names.resolve(str(stranger)) == stranger  # a full id needs no introduction


@pytest.mark.parametrize(
    ("name", "status", "code"),
    [
        ("zzzzzzzz", 404, "unknown_peer"),
        ("not-a-name!", 400, "bad_peer_name"),
        ("", 400, "bad_peer_name"),
        ("a" * 60, 400, "bad_peer_name"),
    ],
)
def test_bad_names_are_refused_with_what_is_wrong(
    sim: Simulation, name: str, status: int, code: str
) -> None:
    with pytest.raises(ApiError) as caught:
        handlers(sim).names().resolve(name)
    assert (caught.value.status, caught.value.code) == (status, code)


def test_an_ambiguous_prefix_lists_the_candidates(sim: Simulation) -> None:
    _, one, _ = ids(sim)
    twin = NodeId(one.raw[:20] + bytes(12))  # shares a long prefix with ``one``
    names = ApiHandlers(SimControl(sim), petnames=lambda: {"twin": twin}).names()
    common = next(i for i, (a, b) in enumerate(zip(str(one), str(twin), strict=True)) if a != b)
    with pytest.raises(ApiError) as caught:
        names.resolve(str(one)[:common])
    assert (caught.value.status, caught.value.code) == (409, "ambiguous_peer")
    assert set(caught.value.candidates) == {str(one), str(twin)}
    assert names.resolve(str(one)[: common + 1]) == one


def test_connect_fills_in_tcp_and_the_default_port_and_resolves_the_node() -> None:
    sim = build_network(n=3, topology="line", seed=6)
    sim.run_for(5.0)
    _, _, two = ids(sim)
    api = handlers(sim, {"bob": two})
    result = api.connect(body(address="bob@192.0.2.7"))
    assert (result.endpoint, result.expected_peer) == ("tcp:192.0.2.7:4100", two)
    assert api.connect(body(address="udp:[2001:db8::1]:9")).endpoint == "udp:[2001:db8::1]:9"
    configured = {p.endpoint: p.expected for p in SimControl(sim).status().node.peers}
    assert configured == {"tcp:192.0.2.7:4100": str(two), "udp:[2001:db8::1]:9": None}
    # disconnect by name drops every endpoint configured for the node
    assert api.disconnect(body(peer="bob")).disconnected == ("tcp:192.0.2.7:4100",)
    assert api.disconnect(body(peer="udp:[2001:db8::1]:9")).disconnected == ("udp:[2001:db8::1]:9",)
    assert SimControl(sim).status().node.peers == ()


@pytest.mark.parametrize(
    ("address", "status", "code"),
    [
        ("tcp:host:99999", 400, "bad_address"),
        ("tcp:[::1:4100", 400, "bad_address"),
        ("@tcp:127.0.0.1:1", 400, "bad_address"),
        ("zzzzzz@tcp:127.0.0.1:1", 404, "unknown_peer"),
        ("bad name@tcp:127.0.0.1:1", 400, "bad_peer_name"),
    ],
)
def test_bad_addresses_are_400_and_unknown_nodes_404(
    sim: Simulation, address: str, status: int, code: str
) -> None:
    with pytest.raises(ApiError) as caught:
        handlers(sim).connect(body(address=address))
    assert (caught.value.status, caught.value.code) == (status, code)


def test_disconnecting_a_peer_that_dialled_us_closes_its_link() -> None:
    sim = build_network(n=3, topology="line", seed=5)
    sim.run_for(5.0)
    _, one, two = ids(sim)
    api = handlers(sim)
    assert api.disconnect(body(peer=str(one)[:12])) == DisconnectResult(
        disconnected=(), link_closed=True
    )
    assert sim.node(0).links.link_to(one) is None
    with pytest.raises(ApiError) as caught:  # neither configured nor linked (yet)
        api.disconnect(body(peer=str(one)[:12]))
    assert (caught.value.status, caught.value.code) == (404, "not_configured")
    assert "neither a configured peer nor linked" in caught.value.message
    with pytest.raises(ApiError) as caught:
        api.disconnect(body(peer=str(two)[:12]))  # known from announcements, never linked
    assert (caught.value.status, caught.value.code) == (404, "not_configured")


def test_disconnecting_an_endpoint_that_is_not_configured_is_404(sim: Simulation) -> None:
    with pytest.raises(ApiError) as caught:
        handlers(sim).disconnect(body(peer="tcp:127.0.0.1:9"))
    assert (caught.value.status, caught.value.code) == (404, "unknown_peer")
