"""Formatting helpers and the text views built from API answers."""

from __future__ import annotations

import json

import pytest
from tests.cli.fakes import BOB, BOBBY, CAROL, FakeNode

from meshnet.cli.output import (
    dump_json,
    error_line,
    field,
    format_age,
    format_loss,
    format_rtt,
    table,
)
from meshnet.cli.render import (
    disconnected_text,
    message_line,
    message_text,
    render_inbox,
    render_peers,
    render_routes,
    render_status,
)


def test_dump_json_is_one_line_and_round_trips() -> None:
    value = {"b": [1, 2.5, None], "a": "héllo\nworld"}
    text = dump_json(value)
    assert "\n" not in text
    assert json.loads(text) == value


def test_field_takes_the_first_present_name_and_walks_dots() -> None:
    record = {"a": None, "b": 2, "nested": {"c": 3}}
    assert field(record, "a", "b") == 2
    assert field(record, "nested.c") == 3
    assert field(record, "missing", default="-") == "-"
    assert field(["not", "a", "mapping"], "a") is None


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.0042, "4.2 ms"), (0.25, "250 ms"), (None, "-"), (-1, "-"), (True, "-")],
)
def test_format_rtt(value: object, text: str) -> None:
    assert format_rtt(value) == text


def test_format_loss_and_age() -> None:
    assert format_loss(0.25) == "25%"
    assert format_loss(3.0) == "100%"
    assert format_loss(None) == "-"
    assert [format_age(s) for s in (5, 192, 7500, 90000)] == ["5s", "3m12s", "2h05m", "1d01h"]


def test_table_aligns_columns_and_says_when_empty() -> None:
    text = table(("name", "rtt"), [("bob", "4 ms"), ("carolina", None), ("x", True)])
    lines = text.splitlines()
    assert lines[0] == "NAME      RTT"
    assert lines[1] == "bob       4 ms"
    assert lines[2] == "carolina  -"
    assert lines[3] == "x         yes"
    assert table(("a",), [], empty="no peers") == "no peers"


def test_error_line_is_one_line() -> None:
    assert error_line(ValueError("bad\nthing  here")) == "bad thing here"
    assert error_line(KeyError()) == "KeyError"


def test_peers_table_names_states_and_quality() -> None:
    text = render_peers(FakeNode().peers())
    rows = [line.split() for line in text.splitlines()]
    assert rows[0] == ["NAME", "ID", "STATE", "ENDPOINT", "RELAYS", "RTT", "LOSS"]
    assert rows[1] == ["bob", BOB[:8], "linked", "tcp:127.0.0.1:4101", "0", "4.2", "ms", "0%"]
    assert rows[2] == ["-", CAROL[:8], "in", "mesh", "-", "1", "-", "-"]  # nearest first
    assert rows[3] == ["-", BOBBY[:8], "dialing", "tcp:127.0.0.1:4102", "-", "-", "-"]
    assert render_peers({"peers": []}) == "no peers"


def test_routes_view_shows_links_and_paths_with_names() -> None:
    text = render_routes(FakeNode().routes(), names={BOB: "bob"})
    assert "bob" in text and "4.0 ms" in text
    route = next(line for line in text.splitlines() if line.startswith(CAROL[:8]))
    assert route.split()[:4] == [CAROL[:8], "1", "bob", ">"]


def test_status_summary_counts() -> None:
    text = render_status(FakeNode().status())
    assert "uptime:      1m15s" in text
    assert "links: 1  known nodes: 2  routes in use: 1  sessions: 0" in text
    assert "listening:   tcp:127.0.0.1:4100" in text


def test_message_lines() -> None:
    incoming = {"id": "1", "peer": BOB, "text": "hi there", "created": 0}
    assert message_line(incoming, name="bob").endswith("] bob: hi there")
    outgoing = {"id": "2", "peer": BOB, "text": "yo", "state": "delivered"}
    assert message_line(outgoing, outgoing=True).endswith("you: yo  (delivered)")
    assert (
        message_text({"text": None, "body_base64": "AAAA", "size": 3}) == "<3 bytes of binary data>"
    )
    assert render_inbox({"messages": []}) == "no messages"
    assert render_inbox([incoming], names={BOB: "bob"}).endswith("bob: hi there")


@pytest.mark.parametrize(
    ("answer", "text"),
    [
        ({"disconnected": [], "link_closed": True}, "link closed (it dialled us and may dial"),
        ({"disconnected": ["tcp:h:1"], "link_closed": True}, "link closed, no longer redialled"),
        ({"disconnected": ["tcp:h:1"], "link_closed": False}, "bob: no longer redialled"),
        ({}, "bob: no longer redialled"),
    ],
)
def test_disconnect_line_says_what_was_closed(answer: object, text: str) -> None:
    assert text in disconnected_text("bob", answer)
