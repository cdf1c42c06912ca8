"""What ``meshnet up`` prints per event: readable lines, and JSON lines equal to the API's."""

from __future__ import annotations

import json
import logging

from meshnet.api.events import node_event_json
from meshnet.crypto.nodeid import NodeId
from meshnet.ids import MessageId
from meshnet.node.events import MessageDelivered, MessageReceived, PeerDialFailed
from meshnet.runtime.eventlog import describe_event, event_level, json_line

PEER = NodeId(bytes(range(32)))
MESSAGE = MessageId(bytes(range(16)))


def test_json_lines_are_the_event_stream_objects() -> None:
    received = MessageReceived(id=MESSAGE, peer=PEER, seq=3, created=1.5, body=b"hello")
    line = json.loads(json_line(received))
    assert line == node_event_json(received)
    assert line["event"] == "MessageReceived"
    assert line["id"] == MESSAGE.hex()  # hex, as in /v1/messages and /v1/events
    assert line["peer"] == str(PEER)
    assert line["text"] == "hello"
    delivered = json.loads(json_line(MessageDelivered(id=MESSAGE, peer=PEER)))
    assert delivered == {"event": "MessageDelivered", "id": MESSAGE.hex(), "peer": str(PEER)}


def test_readable_lines_use_short_ids_and_levels() -> None:
    delivered = MessageDelivered(id=MESSAGE, peer=PEER)
    assert describe_event(delivered) == f"message {MESSAGE.hex()} to {PEER.short()} delivered"
    assert event_level(delivered) == logging.INFO
    failed = PeerDialFailed(endpoint="tcp:127.0.0.1:9", reason="refused", retry_in=2.0)
    assert describe_event(failed) == "dial tcp:127.0.0.1:9 failed: refused, retrying in 2.0s"
    assert event_level(failed) == logging.WARNING
