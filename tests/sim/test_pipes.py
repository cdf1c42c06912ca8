"""``PipeMesh``: framed messages between worker processes, and an exchange of messages
larger than a pipe holds in both directions at once (which must not deadlock)."""

from __future__ import annotations

import multiprocessing

import pytest

from meshnet.errors import StateError
from meshnet.sim.pipes import PipeMesh, Pipes, make_pipes

BIG = 3 << 20  # more than a pipe holds, even enlarged


def _peer(pipes: Pipes) -> None:
    mesh = PipeMesh(1, pipes)
    try:
        got = mesh.exchange({0: ("from 1", bytes(BIG))})
        tag, data = got[0]  # type: ignore[misc]
        mesh.exchange({0: (tag, len(data))})
        mesh.send(0, "small")
    finally:
        mesh.close()


def test_exchange_of_large_messages_both_ways_and_end_of_file() -> None:
    pipes = make_pipes(2)
    process = multiprocessing.get_context("fork").Process(target=_peer, args=(pipes,))
    process.start()
    mesh = PipeMesh(0, pipes)
    try:
        assert mesh.peers == [1]
        got = mesh.exchange({1: ("from 0", b"\x01" * BIG)})
        assert got == {1: ("from 1", bytes(BIG))}
        assert mesh.exchange({1: None}) == {1: ("from 0", BIG)}
        assert mesh.receive(1) == "small"
        with pytest.raises(StateError, match="worker 1 ended without an answer"):
            mesh.receive(1)  # it closed its pipes
    finally:
        mesh.close()
        process.join(timeout=10)
    assert process.exitcode == 0
