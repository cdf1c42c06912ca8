"""The trust-on-first-use record: round trips, bounds, damage is named, never dropped."""

from __future__ import annotations

import asyncio
import contextlib
import json
import stat
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meshnet.crypto.entropy import SeededEntropy
from meshnet.crypto.identity import Identity, NodeId
from meshnet.runtime import knownpeers
from meshnet.runtime.knownpeers import KnownPeers, KnownPeersError


def node(n: int) -> NodeId:
    return Identity.generate(SeededEntropy(n, "known"), created=1).node_id


def test_a_pin_survives_a_reload_and_the_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "state" / "known_peers.json"
    record = KnownPeers.load(path)
    assert len(record) == 0 and not path.exists()
    assert record.record("tcp:10.0.0.1:4100", node(1), 1000.0)
    assert not record.record("tcp:10.0.0.1:4100", node(1), 2000.0)  # already pinned
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = KnownPeers.load(path)
    assert again.expected("tcp:10.0.0.1:4100") == node(1)
    assert again.entries()["tcp:10.0.0.1:4100"].first_seen == 1000.0
    assert again.expected("tcp:10.0.0.2:4100") is None
    assert again.forget("tcp:10.0.0.1:4100") and not again.forget("tcp:10.0.0.1:4100")
    assert KnownPeers.load(path).expected("tcp:10.0.0.1:4100") is None


def test_the_record_is_bounded_and_the_oldest_pin_goes_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(knownpeers, "MAX_ENTRIES", 3)
    record = KnownPeers.load(tmp_path / "k.json")
    for i in range(5):
        record.record(f"tcp:10.0.0.{i}:1", node(i), 100.0 + i)
    kept = KnownPeers.load(tmp_path / "k.json").entries()
    assert sorted(kept) == ["tcp:10.0.0.2:1", "tcp:10.0.0.3:1", "tcp:10.0.0.4:1"]


@pytest.mark.parametrize(
    ("content", "complaint"),
    [
        (b"\x00garbage", "not valid JSON"),
        (b"[]", '"version": 1'),
        (b'{"version": 2, "peers": {}}', '"version": 1'),
        (b'{"version": 1, "peers": []}', '"peers" to be an object'),
        (b'{"version": 1, "peers": {"tcp:h:1": 5}}', "expected an object"),
        (b'{"version": 1, "peers": {"tcp:h:1": {"node": 5, "first_seen": 1}}}', "node id"),
        (b'{"version": 1, "peers": {"tcp:h:1": {"node": "zz", "first_seen": 1}}}', ".node:"),
        (
            b'{"version": 1, "peers": {"tcp:h:1": {"node": "%s", "first_seen": true}}}',
            "first_seen",
        ),
    ],
)
def test_a_damaged_file_names_itself_and_the_way_out(
    tmp_path: Path, content: bytes, complaint: str
) -> None:
    path = tmp_path / "known_peers.json"
    path.write_bytes(content.replace(b"%s", str(node(1)).encode()))
    with pytest.raises(KnownPeersError) as info:
        KnownPeers.load(path)
    message = str(info.value)
    assert str(path) in message and complaint in message and "move it aside" in message
    assert path.read_bytes() == content.replace(b"%s", str(node(1)).encode())  # untouched


def test_an_oversized_file_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    path = tmp_path / "known_peers.json"
    path.write_bytes(b" " * (3 * 1024 * 1024))
    with pytest.raises(KnownPeersError, match="larger than"):
        KnownPeers.load(path)


def test_an_unwritable_place_is_a_named_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    record = KnownPeers(blocker / "known_peers.json")
    with pytest.raises(KnownPeersError, match="cannot write"):
        record.record("tcp:h:1", node(1), 1.0)
    assert record.expected("tcp:h:1") == node(1)  # kept in memory for this run


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
        max_leaves=12,
    )
)
def test_any_json_document_loads_or_is_refused_cleanly(document: object) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "known_peers.json"
        path.write_text(json.dumps(document))
        with contextlib.suppress(KnownPeersError):
            KnownPeers.load(path)


def test_a_first_contact_is_pinned_and_a_new_key_at_that_address_is_refused_later(
    tmp_path: Path,
) -> None:
    from tests.runtime.support import make_node, run, started

    from meshnet.node.events import PeerConnected, PeerDialFailed
    from meshnet.runtime.driver import NodeDriver

    path = tmp_path / "known_peers.json"

    async def main() -> None:
        b = await started("b", ["tcp:127.0.0.1:0"])
        endpoint = b.listening[0]
        a = NodeDriver(make_node("a"), known_peers=KnownPeers.load(path))
        await a.start([])
        try:
            linked = a.subscribe(kinds=[PeerConnected])
            a.connect(endpoint)  # no node id: trust on first use
            first = await asyncio.wait_for(linked.wait_for(PeerConnected), 20)
            assert first.first_contact and first.peer == b.node.identity.node_id
        finally:
            await a.stop()
            await b.stop()
        assert KnownPeers.load(path).expected(endpoint) == b.node.identity.node_id
        # Another node now answers at that address; a restarted `a` must refuse it.
        port = endpoint.rsplit(":", 1)[1]
        impostor = await started("impostor", [f"tcp:127.0.0.1:{port}"])
        again = NodeDriver(make_node("a"), known_peers=KnownPeers.load(path))
        await again.start([])
        try:
            watch = again.subscribe(kinds=[PeerConnected, PeerDialFailed])
            again.connect(endpoint)
            failed = await asyncio.wait_for(watch.wait_for(PeerDialFailed), 20)
            assert failed.reason == (
                f"expected peer {b.node.identity.node_id} "
                f"but the peer proved {impostor.node.identity.node_id}"
            )
            assert again.node.link_to(impostor.node.identity.node_id) is None
        finally:
            await again.stop()
            await impostor.stop()

    run(main())
