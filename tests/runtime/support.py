"""Shared pieces of the loopback tests: running a coroutine with a bound, making nodes."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from meshnet.crypto.entropy import SeededEntropy
from meshnet.crypto.identity import Identity, SignatureVerifier
from meshnet.node.config import NodeConfig
from meshnet.node.node import Node
from meshnet.runtime.driver import NodeDriver
from meshnet.runtime.transports import RuntimeConfig

T = TypeVar("T")

BOUND = 60.0
"""The most any one loopback test may take before it is declared hung."""

VERIFIER = SignatureVerifier()


def run(coro: Coroutine[Any, Any, T], bound: float = BOUND) -> T:
    """Run ``coro`` on a fresh event loop, cancelled if it outlives ``bound`` seconds."""
    return asyncio.run(asyncio.wait_for(coro, bound))


def identity(seed: int, label: str) -> Identity:
    return Identity.generate(SeededEntropy(seed, label), created=1_700_000_000)


def make_node(label: str, *, seed: int = 11, config: NodeConfig | None = None) -> Node:
    return Node(
        identity=identity(seed, label),
        entropy=SeededEntropy(seed, f"node:{label}"),
        verifier=VERIFIER,
        config=config,
    )


async def started(
    label: str,
    listen: list[str] | None = None,
    *,
    seed: int = 11,
    config: NodeConfig | None = None,
    runtime: RuntimeConfig | None = None,
) -> NodeDriver:
    """A running driver for a new node listening on ``listen`` (default: loopback TCP)."""
    driver = NodeDriver(make_node(label, seed=seed, config=config), config=runtime)
    await driver.start(["tcp:127.0.0.1:0"] if listen is None else listen)
    return driver
