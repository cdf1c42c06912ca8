"""Choosing the node factory a simulation runs: the real node, or one named by path.

``resolve_node_factory(spec)`` takes what a scenario file or ``--node`` says:

* ``None`` or ``"meshnet"``: the real ``meshnet.node.node.Node``, imported only now
  (``meshnet.sim`` may import the node layer; the node never imports the simulator).
  Each node gets an ``Identity`` generated from its identity stream (creation time 0:
  no wall clock), and one ``SignatureVerifier`` and one ``AnnouncementDecoder``
  (both pure functions behind bounded caches) shared by all nodes of the run.
* ``"package.module:attribute"``: any callable with the ``NodeFactory`` signature,
  e.g. a test's toy node, or an instrumented build of the real one.

If the real node cannot be imported yet, or does not offer every verb of the driver
contract, the error says exactly that, so ``meshnet sim run`` can tell the user.
"""

from __future__ import annotations

import importlib
from typing import Any, cast

from meshnet.crypto.entropy import SeededEntropy
from meshnet.errors import ConfigError
from meshnet.sim.harness import DrivenNode, NodeFactory

__all__ = ["DRIVER_VERBS", "meshnet_node_factory", "resolve_node_factory"]

REAL_NODE = "meshnet"
REAL_NODE_MODULE = "meshnet.node.node"

DRIVER_VERBS = (
    "transport_opened",
    "transport_closed",
    "receive_datagram",
    "datagrams_to_send",
    "transport_commands",
    "get_timer",
    "handle_timer",
    "next_event",
    "send_datagram",
)
"""Methods a node class must have to be driven by the simulator (``DrivenNode``)."""


def resolve_node_factory(spec: str | None) -> NodeFactory:
    """The factory ``spec`` names.

    Raises:
        ConfigError: the module or attribute does not exist, is not callable, or the
            real node is not ready; the message says which and what to do.
    """
    if spec is None or spec == REAL_NODE:
        return meshnet_node_factory()
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise ConfigError(
            f"node factory {spec!r}: expected 'meshnet' or 'package.module:attribute'"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"node factory {spec!r}: cannot import {module_name}: {exc}") from None
    factory = getattr(module, attribute, None)
    if factory is None or not callable(factory):
        raise ConfigError(f"node factory {spec!r}: {module_name} has no callable {attribute!r}")
    return cast(NodeFactory, factory)


def meshnet_node_factory() -> NodeFactory:
    """A factory for the real node.

    Raises:
        ConfigError: ``meshnet.node`` cannot be imported or its ``Node`` lacks a verb.
    """
    try:
        module = importlib.import_module(REAL_NODE_MODULE)
    except ImportError as exc:
        raise ConfigError(
            f"the real node is not available: importing {REAL_NODE_MODULE} failed ({exc}). "
            "Run with --node package.module:factory to simulate another node."
        ) from None
    node_class = getattr(module, "Node", None)
    if node_class is None:
        raise ConfigError(f"{REAL_NODE_MODULE} has no Node class yet")
    missing = [verb for verb in DRIVER_VERBS if not callable(getattr(node_class, verb, None))]
    if missing:
        raise ConfigError(
            f"{REAL_NODE_MODULE}.Node does not implement the simulator's driver contract "
            f"yet: missing {', '.join(missing)}"
        )
    identity_module = importlib.import_module("meshnet.crypto.identity")
    verifier = identity_module.SignatureVerifier()
    decoder = importlib.import_module("meshnet.routing.decoder").AnnouncementDecoder()

    def factory(
        *, index: int, identity_entropy: SeededEntropy, entropy: SeededEntropy
    ) -> DrivenNode:
        identity = identity_module.Identity.generate(identity_entropy, created=0)
        node: Any = node_class(
            identity=identity, entropy=entropy, verifier=verifier, decoder=decoder
        )
        return cast(DrivenNode, node)

    return factory
