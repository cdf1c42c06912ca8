"""A fake running node for CLI and shell unit tests: the ``NodeApi`` calls, in memory.

It answers with the same JSON shapes as the local API and records every command it
was given, so tests can assert what the shell asked the node to do.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from meshnet.errors import LocalError

ALICE = "a" * 52
BOB = "b" * 20 + "x" * 32
CAROL = "c" * 52
BOBBY = "b" * 20 + "y" * 32


def message_id(n: int) -> str:
    """A message id as the API shows it (32 hex digits), made from a counter."""
    return f"{n:02x}" + "5e" * 15


class FakeNode:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.peer_list: list[dict[str, Any]] = [
            {
                "node_id": BOB,
                "short": BOB[:8],
                "petname": "bob",
                "linked": True,
                "link": {"endpoint": "tcp:127.0.0.1:4101", "srtt": 0.0042, "loss": 0.0},
                "configured": [],
                "known": True,
                "route": [BOB],
            },
            {
                "node_id": BOBBY,
                "short": BOBBY[:8],
                "petname": None,
                "linked": False,
                "link": None,
                "configured": [{"endpoint": "tcp:127.0.0.1:4102", "dialing": True}],
                "known": False,
                "route": None,
            },
            {
                "node_id": CAROL,
                "short": CAROL[:8],
                "petname": None,
                "linked": False,
                "link": None,
                "configured": [],
                "known": True,
                "route": [BOB, CAROL],
            },
        ]
        self.inbox_messages: list[dict[str, Any]] = []
        self.outbox_messages: list[dict[str, Any]] = []
        self.next_id = 0
        self.route_answer: dict[str, Any] = {
            "policy": "etx",
            "neighbours": [{"peer": BOB, "rtt": 0.004, "loss": 0.0, "cost": 10, "samples": 7}],
            "routes": [
                {
                    "destination": BOB,
                    "petname": "bob",
                    "path": [BOB],
                    "hops": 1,
                    "in_use": False,
                    "cost": 10,
                    "age": None,
                },
                {
                    "destination": CAROL,
                    "petname": None,
                    "path": [BOB, CAROL],
                    "hops": 2,
                    "in_use": True,
                    "cost": 21,
                    "age": 3.0,
                },
            ],
        }

    def identity(self) -> Any:
        return {
            "node_id": ALICE,
            "short": ALICE[:8],
            "mesh_address": "fd00::1",
            "version": "0.1.0",
        }

    def status(self) -> Any:
        return {
            "node_id": ALICE,
            "uptime": 75,
            "links": 1,
            "known_nodes": 2,
            "routes_in_use": 1,
            "sessions": 0,
            "listening": ["tcp:127.0.0.1:4100"],
        }

    def peers(self) -> Any:
        return {"peers": self.peer_list}

    def connect(self, address: str) -> Any:
        self.calls.append(("connect", address))
        return {"endpoint": address}

    def disconnect(self, peer_or_endpoint: str) -> Any:
        self.calls.append(("disconnect", peer_or_endpoint))
        return {"disconnected": ["tcp:127.0.0.1:4101"], "link_closed": True}

    def links(self) -> Any:
        return {"links": [{"peer": BOB, "age": 3725.0, "endpoint": "tcp:127.0.0.1:4101"}]}

    def routes(self) -> Any:
        return self.route_answer

    def sessions(self) -> Any:
        return {"sessions": [{"peer": CAROL, "srtt": 0.0153, "state": "established"}]}

    def send_message(self, to: str, text: str, *, expires_in: float | None = None) -> Any:
        if to == "nobody":
            raise LocalError("no known node is called 'nobody'")
        self.calls.append(("send", (to, text)))
        self.next_id += 1
        message = {
            "id": message_id(self.next_id),
            "peer": BOB,
            "petname": "bob",
            "text": text,
            "size": len(text.encode()),
            "state": "pending",
            "created": 1_700_000_000.0 + self.next_id,
        }
        self.outbox_messages.append(message)
        return dict(message)

    def inbox(self, *, peer: str | None = None, unread: bool = False, limit: int = 100) -> Any:
        self.calls.append(("inbox", (peer, unread, limit)))
        found = [m for m in self.inbox_messages if not unread or m.get("read_at") is None]
        return {"messages": [dict(m) for m in found[-limit:]]}

    def outbox(self, *, peer: str | None = None, limit: int = 100) -> Any:
        return {"messages": [dict(m) for m in self.outbox_messages[-limit:]]}

    def mark_read(self, message_id: str) -> Any:
        self.calls.append(("mark_read", message_id))
        for message in self.inbox_messages:
            if message["id"] == message_id:
                message["read_at"] = 1_700_000_100.0
                message["read"] = True
        return {}

    def events(self, kinds: Iterable[str] | None = None) -> Iterator[dict[str, Any]]:
        return iter(())

    def receive(self, text: str, *, sender: str = BOB) -> None:
        self.next_id += 1
        self.inbox_messages.append(
            {
                "id": message_id(self.next_id),
                "peer": sender,
                "petname": "bob" if sender == BOB else None,
                "text": text,
                "size": len(text.encode()),
                "created": 1_700_000_000.0 + self.next_id,
                "read_at": None,
            }
        )
