"""Messaging across the simulated mesh: relays, crashes and restarts, floods, bad frames.

Every node keeps its ``MemoryMessageStore`` across crashes (``Stores``), like a real
node that reopens its database after a restart; what a crashed node had in memory only
(sessions, streams, timers) is gone.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, cast

from tests.helpers.simnet import build_network

from meshnet.crypto.entropy import SeededEntropy
from meshnet.crypto.identity import Identity, SignatureVerifier
from meshnet.ids import MessageId
from meshnet.node.config import NodeConfig
from meshnet.node.events import MessageDelivered, MessageReceived
from meshnet.node.node import Node
from meshnet.services.messaging import MESSAGING_SERVICE, MemoryMessageStore, MessagingConfig
from meshnet.sim.harness import DrivenNode
from meshnet.sim.simulation import Simulation


class Stores:
    """A node factory whose nodes keep one message store per index across restarts."""

    def __init__(self, config: NodeConfig | None = None) -> None:
        self.stores: dict[int, MemoryMessageStore] = {}
        self.config = config
        self.verifier = SignatureVerifier()

    def __call__(
        self, *, index: int, identity_entropy: SeededEntropy, entropy: SeededEntropy
    ) -> DrivenNode:
        identity = Identity.generate(identity_entropy, created=0)
        store = self.stores.setdefault(index, MemoryMessageStore())
        node = Node(
            identity=identity,
            entropy=entropy,
            verifier=self.verifier,
            config=self.config,
            message_store=store,
        )
        return cast(DrivenNode, node)


class Mail:
    """What the applications saw: messages received and delivery receipts, per node."""

    def __init__(self, sim: Simulation) -> None:
        self.received: dict[int, list[MessageReceived]] = defaultdict(list)
        self.delivered: dict[int, list[MessageId]] = defaultdict(list)
        previous = sim.network.app_event

        def app_event(sender: Any, event: object, now: float) -> None:
            if isinstance(event, MessageReceived):
                self.received[sender.index].append(event)
            elif isinstance(event, MessageDelivered):
                self.delivered[sender.index].append(event.id)
            previous(sender, event, now)

        sim.network.app_event = app_event  # type: ignore[method-assign]


def node(sim: Simulation, index: int) -> Node:
    return cast(Node, sim.node(index))


def app(sim: Simulation, index: int, call: Any) -> Any:
    """Run an application command on node ``index`` as its driver would: then pump it."""
    result = call(node(sim, index))
    sim.network.nodes[index].pump(sim.now)
    return result


def send(sim: Simulation, src: int, dst: int, body: bytes) -> MessageId:
    target = node(sim, dst).node_id
    message_id: MessageId = app(sim, src, lambda n: n.send_message(target, body, sim.now))
    return message_id


def test_messages_cross_three_relays_once_and_in_order() -> None:
    stores = Stores()
    sim = build_network(n=5, topology="line", seed=31, node_factory=stores)
    mail = Mail(sim)
    sim.run_for(3.0)
    bodies = [f"message {i}".encode() * (i + 1) for i in range(30)]
    ids = [send(sim, 0, 4, body) for body in bodies]
    assert sim.run_until(lambda: len(mail.delivered[0]) == 30, limit=60.0)
    sim.run_for(5.0)  # anything duplicated would show up now
    assert [m.body for m in mail.received[4]] == bodies
    assert [m.id for m in mail.received[4]] == ids
    assert all(m.peer == node(sim, 0).node_id for m in mail.received[4])
    assert sorted(mail.delivered[0]) == sorted(ids)
    assert [m.id for m in node(sim, 4).inbox()] == ids


def test_an_offline_receiver_gets_its_messages_once_when_it_comes_back() -> None:
    stores = Stores()
    sim = build_network(n=4, topology="line", seed=32, node_factory=stores)
    mail = Mail(sim)
    sim.run_for(3.0)
    first = send(sim, 0, 3, b"before the crash")
    assert sim.run_until(lambda: len(mail.delivered[0]) == 1, limit=20.0)
    sim.crash(3)
    later = [send(sim, 0, 3, f"while away {i}".encode()) for i in range(5)]
    sim.run_for(60.0)
    assert len(mail.received[3]) == 1
    assert node(sim, 0).status(sim.now).messaging.outbox_pending == 5
    sim.restart(3)
    assert sim.run_until(lambda: len(mail.delivered[0]) == 6, limit=sim.now + 400.0)
    sim.run_for(5.0)
    assert [m.id for m in mail.received[3]] == [first, *later]
    assert [m.id for m in node(sim, 3).inbox()] == [first, *later]


def test_a_crashed_sender_resends_after_its_restart() -> None:
    stores = Stores()
    sim = build_network(n=3, topology="line", seed=33, node_factory=stores)
    mail = Mail(sim)
    sim.run_for(3.0)
    sim.crash(2)
    ids = [send(sim, 0, 2, f"kept {i}".encode()) for i in range(3)]
    sim.crash(0)  # right after send returned: only the store remembers
    sim.restart(2)
    sim.run_for(5.0)
    sim.restart(0)
    assert sim.run_until(lambda: len(mail.received[2]) == 3, limit=sim.now + 120.0)
    sim.run_for(10.0)
    assert [m.id for m in mail.received[2]] == ids
    assert all(m.state.value == "delivered" for m in node(sim, 0).outbox())


def test_a_relay_crash_mid_transfer_loses_and_duplicates_nothing() -> None:
    stores = Stores()
    sim = build_network(n=6, topology="ring", seed=34, node_factory=stores)
    mail = Mail(sim)
    sim.run_for(3.0)
    route: Any = node(sim, 0).route_to(node(sim, 3).node_id)
    relay = next(i for i in range(6) if node(sim, i).node_id == route[0])
    bodies = [bytes([i]) * 20_000 for i in range(40)]
    ids = [send(sim, 0, 3, body) for body in bodies]
    sim.run_for(0.2)
    assert 0 < len(mail.received[3]) < 40  # the crash lands mid-transfer
    sim.crash(relay)
    assert sim.run_until(lambda: len(mail.delivered[0]) == 40, limit=sim.now + 300.0)
    sim.run_for(5.0)
    assert [m.id for m in mail.received[3]] == ids
    assert [m.body for m in mail.received[3]] == bodies


def test_a_flood_from_one_peer_is_refused_beyond_its_quota_and_others_get_through() -> None:
    config = NodeConfig(messaging=MessagingConfig(peer_rate=20.0, peer_burst=100))
    stores = Stores(config)
    sim = build_network(n=3, topology="star", seed=35, node_factory=stores)
    mail = Mail(sim)
    sim.run_for(3.0)
    hub = node(sim, 0).node_id
    for i in range(1000):
        node(sim, 1).send_message(hub, i.to_bytes(4, "big"), sim.now)
    sim.network.nodes[1].pump(sim.now)
    sim.run_for(2.0)
    honest = send(sim, 2, 0, b"not drowned")
    assert sim.run_until(lambda: honest in mail.delivered[2], limit=sim.now + 5.0)
    drops = dict(node(sim, 0).status(sim.now).messaging.drops)
    assert drops["quota"] > 0
    from_flooder = [m for m in mail.received[0] if m.peer == node(sim, 1).node_id]
    assert 100 <= len(from_flooder) < 1000
    # refused, not lost: the flooder's own node keeps retrying at the allowed pace
    assert [int.from_bytes(m.body, "big") for m in from_flooder] == list(range(len(from_flooder)))


def test_malformed_frames_are_counted_and_the_receiver_keeps_serving() -> None:
    stores = Stores()
    sim = build_network(n=3, topology="line", seed=36, node_factory=stores)
    mail = Mail(sim)
    sim.run_for(3.0)
    target = node(sim, 2).node_id
    stream = app(sim, 0, lambda n: n.open_stream(target, sim.now, service=MESSAGING_SERVICE))
    garbage = b"".join(len(r).to_bytes(4, "big") + r for r in (b"\x60junk", b"\x99", b"\x61"))
    app(sim, 0, lambda n: n.stream_send(stream, garbage, sim.now))
    sim.run_for(2.0)
    assert dict(node(sim, 2).status(sim.now).messaging.drops)["malformed"] == 3
    app(sim, 0, lambda n: n.stream_send(stream, (1 << 30).to_bytes(4, "big"), sim.now))
    sim.run_for(2.0)
    assert dict(node(sim, 2).status(sim.now).messaging.drops)["oversize_record"] == 1
    good = send(sim, 1, 2, b"still here")
    assert sim.run_until(lambda: good in mail.delivered[1], limit=sim.now + 10.0)
    assert [m.body for m in mail.received[2]] == [b"still here"]


def test_a_mailbox_carries_mail_between_two_nodes_never_online_together() -> None:
    stores = Stores()
    sim = build_network(n=4, topology="line", seed=37, node_factory=stores)
    mail = Mail(sim)
    sim.run_for(3.0)
    mailbox = node(sim, 1).node_id
    app(sim, 3, lambda n: n.use_mailbox(mailbox, sim.now))
    hello = send(sim, 3, 0, b"my mail goes to node 1")  # node 0 hears where to leave mail
    assert sim.run_until(lambda: hello in mail.delivered[3], limit=20.0)
    sim.crash(3)
    ids = [send(sim, 0, 3, f"sealed {i}".encode()) for i in range(3)]
    assert sim.run_until(
        lambda: node(sim, 1).status(sim.now).messaging.mailbox_held == 3, limit=sim.now + 200.0
    )
    sim.crash(0)
    sim.restart(3)
    app(sim, 3, lambda n: n.use_mailbox(mailbox, sim.now))
    assert sim.run_until(lambda: len(mail.received[3]) == 3, limit=sim.now + 60.0)
    assert [m.id for m in mail.received[3]] == ids
    assert all(m.peer == node(sim, 0).node_id for m in mail.received[3])
    assert sim.run_until(
        lambda: node(sim, 1).status(sim.now).messaging.mailbox_held == 0, limit=sim.now + 30.0
    )
    sim.restart(0)  # the sender's retries now meet the receiver: acknowledged, not redelivered
    assert sim.run_until(
        lambda: node(sim, 0).status(sim.now).messaging.outbox_pending == 0, limit=sim.now + 300.0
    )
    sim.run_for(5.0)
    assert [m.id for m in mail.received[3]] == ids
