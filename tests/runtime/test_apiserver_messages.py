"""The message endpoints over real sockets: send, inbox, read receipts, cancel, errors.

Two drivers on loopback, each with its own API server; ``a`` dials ``b``.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from tests.runtime.support import run, started
from tests.runtime.test_apiserver import WAIT, call

from meshnet.api.client import ApiError, MeshClient
from meshnet.crypto.identity import NodeId
from meshnet.ids import MessageId
from meshnet.node.events import MessageDelivered, MessageRead, PeerConnected
from meshnet.runtime.apiserver import ApiServer
from meshnet.runtime.driver import NodeDriver
from meshnet.runtime.msgstore import MessageStoreError
from meshnet.services.messaging.messages import MAX_BODY


@asynccontextmanager
async def pair(
    directory: Path,
) -> AsyncIterator[tuple[NodeDriver, MeshClient, NodeDriver, MeshClient]]:
    a, b = await started("msg-a"), await started("msg-b")
    servers = [
        ApiServer(a, socket_path=directory / "a.sock"),
        ApiServer(b, socket_path=directory / "b.sock"),
    ]
    for server in servers:
        await server.start()
    try:
        linked = a.subscribe(kinds=[PeerConnected])
        a.connect(b.listening[0])
        await asyncio.wait_for(linked.get(), WAIT)
        yield (
            a,
            MeshClient(directory / "a.sock", timeout=WAIT),
            b,
            MeshClient(directory / "b.sock", timeout=WAIT),
        )
    finally:
        for server in servers:
            await server.stop()
        await a.stop()
        await b.stop()


def test_send_deliver_read_and_the_receipts_show_in_the_outbox(tmp_path: Path) -> None:
    async def main() -> None:
        async with pair(tmp_path) as (a, client_a, b, client_b):
            receipts = a.subscribe(kinds=[MessageDelivered, MessageRead])
            to = str(b.node.node_id)[:10]
            sent = await call(client_a.send_message, to, "hello world", expires_in=600)
            assert (sent["peer"], sent["text"], sent["state"]) == (
                str(b.node.node_id),
                "hello world",
                "pending",
            )
            assert len(sent["id"]) == 32
            assert sent["expires"] - sent["created"] == pytest.approx(600)
            assert isinstance(await asyncio.wait_for(receipts.get(), WAIT), MessageDelivered)
            inbox = (await call(client_b.inbox, unread=True))["messages"]
            assert [(m["id"], m["peer"], m["text"], m["read"]) for m in inbox] == [
                (sent["id"], str(a.node.node_id), "hello world", False)
            ]
            assert await call(client_b.mark_read, sent["id"]) == {"id": sent["id"], "state": "read"}
            assert isinstance(await asyncio.wait_for(receipts.get(), WAIT), MessageRead)
            assert (await call(client_b.inbox, unread=True))["messages"] == []
            assert len((await call(client_b.inbox, peer=str(a.node.node_id)))["messages"]) == 1
            outbox = (await call(client_a.outbox))["messages"]
            assert [(m["id"], m["state"]) for m in outbox] == [(sent["id"], "read")]
            assert outbox[0]["read_at"] is not None

    run(main())


def test_binary_bodies_and_the_message_event(tmp_path: Path) -> None:
    async def main() -> None:
        async with pair(tmp_path) as (a, client_a, b, client_b):
            loop = asyncio.get_running_loop()
            subscribed: asyncio.Future[None] = loop.create_future()

            def read() -> list[dict[str, Any]]:
                got = []
                for event in client_b.events(["MessageReceived"]):
                    if event["event"] == "Subscribed":
                        loop.call_soon_threadsafe(subscribed.set_result, None)
                        continue
                    got.append(event)
                    if len(got) == 2:
                        break
                return got

            reader = asyncio.ensure_future(call(read))
            await asyncio.wait_for(subscribed, WAIT)
            to = str(b.node.node_id)
            first = await call(client_a.send_bytes, to, b"\xff\x00binary")
            second = await call(client_a.send_message, to, "caf\u00e9")
            events = await reader
            assert [(e["id"], e["text"]) for e in events] == [
                (first["id"], None),
                (second["id"], "caf\u00e9"),
            ]
            assert base64.b64decode(events[0]["body"]) == b"\xff\x00binary"
            assert events[0]["peer"] == str(a.node.node_id)
            assert first["text"] is None and first["size"] == 8

    run(main())


def test_cancel_and_the_errors_of_the_message_endpoints(tmp_path: Path) -> None:
    async def main() -> None:
        async with pair(tmp_path) as (_, client_a, b, _):
            nowhere = str(NodeId(bytes(32)))  # a node that never answers
            sent = await call(client_a.send_message, nowhere, "are you there?")
            assert await call(client_a.cancel_message, sent["id"]) == {
                "id": sent["id"],
                "state": "cancelled",
            }
            outbox = (await call(client_a.outbox, peer=nowhere))["messages"]
            assert [m["state"] for m in outbox] == ["cancelled"]
            to = str(b.node.node_id)
            cases = [
                (lambda: client_a.cancel_message(sent["id"]), 409, "bad_state"),
                (lambda: client_a.cancel_message("0" * 32), 404, "unknown_message"),
                (lambda: client_a.mark_read("0" * 32), 404, "unknown_message"),
                (lambda: client_a.cancel_message("xyz"), 400, "bad_message_id"),
                (lambda: client_a.send_message("zzzzzz", "hi"), 404, "unknown_peer"),
                (lambda: client_a.send_message(to, "x" * (MAX_BODY + 1)), 400, "too_long"),
                (lambda: client_a.send_message(to, "\u00e9" * MAX_BODY), 413, "too_large"),
                (lambda: client_a.send_message(to, "hi", expires_in=0), 400, "bad_value"),
                (lambda: client_a.inbox(limit=0), 400, "bad_value"),
                (lambda: client_a._call("POST", "/v1/messages", {"to": to}), 400, "bad_value"),
                (
                    lambda: client_a._call("POST", "/v1/messages", {"to": to, "body_base64": "!!"}),
                    400,
                    "bad_value",
                ),
            ]
            for request, status, code in cases:
                with pytest.raises(ApiError) as caught:
                    await call(request)
                assert (caught.value.status, caught.value.code) == (status, code)

    run(main())


class FailingStore:
    """A control whose message store cannot commit."""

    def __init__(self, driver: NodeDriver) -> None:
        self.driver = driver

    def __getattr__(self, name: str) -> Any:
        return getattr(self.driver, name)

    def send_message(
        self, peer: NodeId, body: bytes, *, expires_in: float | None = None
    ) -> MessageId:
        raise MessageStoreError("message database /x: disk I/O error")


def test_a_store_that_cannot_commit_is_a_503_and_nothing_is_accepted(tmp_path: Path) -> None:
    async def main() -> None:
        driver = await started("failing")
        server = ApiServer(driver, socket_path=tmp_path / "api.sock", control=FailingStore(driver))  # type: ignore[arg-type]
        await server.start()
        try:
            client = MeshClient(tmp_path / "api.sock", timeout=WAIT)
            with pytest.raises(Exception, match="disk I/O error") as caught:
                await call(client.send_message, str(NodeId(bytes(32))), "hi")
            assert not isinstance(caught.value, ApiError)  # a daemon failure, not a 4xx
        finally:
            await server.stop()
            await driver.stop()

    run(main())
