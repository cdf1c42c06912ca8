"""``PipeMesh``: framed messages between worker processes; messages larger than a pipe
holds, posted or exchanged both ways at once (which must not deadlock), with the next
message sent right behind; a peer that ends."""

from __future__ import annotations

import multiprocessing

import pytest

from meshnet.errors import StateError
from meshnet.sim.pipes import PipeMesh, Pipes, make_pipes

BIG = 3 << 20  # more than a pipe holds, even enlarged


def _peer(pipes: Pipes) -> None:
    mesh = PipeMesh(1, pipes)
    try:
        mesh.post(0, ("from 1", bytes(BIG)))  # neither side reads before both posted
        tag, data = mesh.receive(0)  # type: ignore[misc]
        mesh.post(0, (1, tag, len(data)))
        got = mesh.exchange({0: ("exchanged", bytes(BIG))})
        mesh.post(0, got)  # sent at once after the exchange: kept apart from it
        mesh.post(0, "first")
        mesh.send(0, "second")
    finally:
        mesh.close()


def test_large_messages_both_ways_the_next_kept_apart_and_end_of_file() -> None:
    pipes = make_pipes(2)
    process = multiprocessing.get_context("fork").Process(target=_peer, args=(pipes,))
    process.start()
    mesh = PipeMesh(0, pipes)
    try:
        assert mesh.peers == [1]
        mesh.post(1, ("from 0", b"\x01" * BIG))
        assert mesh.receive(1) == ("from 1", bytes(BIG))
        assert mesh.receive(1) == (1, "from 0", BIG)
        assert mesh.exchange({1: ("exchanged", b"\x02" * BIG)}) == {1: ("exchanged", bytes(BIG))}
        assert mesh.receive(1) == {0: ("exchanged", b"\x02" * BIG)}
        assert mesh.receive(1) == "first"
        assert mesh.receive(1) == "second"
        with pytest.raises(StateError, match="worker 1 ended without an answer"):
            mesh.receive(1)  # it closed its pipes
    finally:
        mesh.close()
        process.join(timeout=10)
    assert process.exitcode == 0
