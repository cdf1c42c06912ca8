"""Server-sent events framing: what the server writes, the client's parser reads back."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshnet.api.errors import ApiError
from meshnet.api.events import EVENT_KINDS, parse_kinds
from meshnet.api.sse import MAX_EVENT, SseParser, format_comment, format_event

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10,
)


def parse(stream: bytes) -> list[tuple[str, object, str | None]]:
    parser = SseParser()
    out = []
    for line in stream.splitlines(keepends=True):
        event = parser.feed_line(line)
        if event is not None:
            out.append((event.kind, json.loads(event.data), event.event_id))
    return out


@given(st.lists(st.tuples(st.sampled_from(sorted(EVENT_KINDS)), json_values), max_size=5))
def test_events_round_trip_through_the_parser(events: list[tuple[str, object]]) -> None:
    stream = format_comment("keepalive")
    for number, (kind, data) in enumerate(events):
        stream += format_event(kind, data, event_id=number) + format_comment("keepalive")
    assert parse(stream) == [(k, d, str(n)) for n, (k, d) in enumerate(events)]


def test_crlf_line_endings_and_events_without_a_name_parse() -> None:
    assert parse(b"data: 1\r\n\r\nevent: x\r\ndata: [2]\r\n\r\n") == [
        ("message", 1, None),
        ("x", [2], None),
    ]


def test_an_endless_event_is_refused() -> None:
    parser = SseParser()
    with pytest.raises(ValueError, match="over"):
        for _ in range(3):
            parser.feed_line(b"data: " + b"x" * (MAX_EVENT // 2) + b"\n")


def test_kinds_are_event_class_names() -> None:
    assert parse_kinds(None) is None
    assert parse_kinds(" ") is None
    kinds = parse_kinds("PeerConnected, MessageReceived")
    assert kinds is not None
    assert [k.__name__ for k in kinds] == ["PeerConnected", "MessageReceived"]
    with pytest.raises(ApiError, match="unknown event kind 'Nope'") as caught:
        parse_kinds("PeerConnected,Nope")
    assert caught.value.status == 400
